"""espeak-ng through ctypes: many languages and voice variants, phoneme events with exact
sample positions (~1000x real time).

The library and its data come from the `espeakng-loader` wheel (libespeak-ng 1.52 + data, no
system package needed). Phoneme events are requested in IPA (`espeakINITIALIZE_PHONEME_IPA`).
The library is process-global: one `EspeakEngine` per process. It is loaded afresh for each
utterance (`_unload`) and its noise generator seeded: its wave generator keeps state in static
variables that `espeak_Terminate` does not reset (a pitch flutter's phase, the wave's phase), so
the same text sounded different after whatever the process spoke before (by a few samples'
length and the waveform's phase), `espeak_Initialize` seeds the noise of breathy voices with
the time of day, and the speechPlayer voices (klatt 6) draw theirs from the C library's rand();
loaded afresh and both seeded, an utterance's audio depends on its text, voice and prosody
only (~1.3 ms per utterance).
"""

from __future__ import annotations

import ctypes
import _ctypes
import os
import threading

import numpy as np

from ...audio.pcm import from_s16
from ...errors import EngineUnavailable, DataError
from ..phonemes import PhonemeTimeline
from .base import Prosody, Utterance, Voice, to_16k

# espeak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_EV_LIST_TERMINATED, _EV_PHONEME = 0, 7
_P_RATE, _P_PITCH, _P_RANGE = 1, 3, 4

# Dataset language -> espeak voice (accent) names.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "en": ("en-us", "en", "en-gb-scotland", "en-029", "en-gb-x-rp"),
    "de": ("de",), "fr": ("fr", "fr-be"), "es": ("es", "es-419"), "it": ("it",),
    "pt": ("pt", "pt-br"), "nl": ("nl",),
}
# Human-sounding variants (files in espeak-ng-data/voices/!v); robots, whispers and effects left out.
VARIANTS: dict[str, str] = {
    **{f"m{i}": "male" for i in range(1, 8)}, **{f"f{i}": "female" for i in range(1, 6)},
    "Alex": "male", "Andy": "male", "adam": "male", "antonio": "male", "benjamin": "male",
    "caleb": "male", "david": "male", "ed": "male", "edward": "male", "gustave": "male",
    "ian": "male", "john": "male", "marcelo": "male", "max": "male", "michel": "male",
    "miguel": "male", "norbert": "male", "pablo": "male", "paul": "male", "pedro": "male",
    "quincy": "male", "rob": "male", "robert": "male", "travis": "male", "victor": "male",
    "zac": "male", "Alicia": "female", "Andrea": "female", "Annie": "female", "anika": "female",
    "aunty": "female", "belinda": "female", "linda": "female", "shelby": "female",
    "steph": "female", "grandma": "female",
}

_EVENT_ID = type("_ID", (ctypes.Union,), {"_fields_": [
    ("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]})


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EVENT_ID)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))
_LOCK = threading.Lock()  # the library is global state
_STATE: dict = {}


def _library():
    """Load and initialise libespeak-ng once per process."""
    if "lib" in _STATE:
        return _STATE["lib"], _STATE["rate"]
    try:
        import espeakng_loader
    except ImportError:
        raise EngineUnavailable("espeak-ng is not installed: expected the 'espeakng-loader' "
                                "wheel (pip install espeakng-loader)") from None
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    data_parent = os.path.dirname(espeakng_loader.get_data_path())
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(),
                                 _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
    if rate <= 0:
        raise EngineUnavailable(f"espeak_Initialize returned {rate}: expected a sample rate "
                                f"(data folder {data_parent!r})")
    # Initialize seeds the noise of breathy and Klatt voices with the time of day: a fixed seed
    # (the library is loaded afresh for each utterance: the noise starts from it every time)
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(0)
    _STATE["chunks"], _STATE["events"] = [], []

    def on_audio(wav, n, events):  # runs inside espeak_Synth
        if n > 0:
            _STATE["chunks"].append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            e = events[i]
            if e.type == _EV_PHONEME:
                _STATE["events"].append((e.sample, bytes(e.id.string).split(b"\0")[0]
                                         .decode("utf-8", "ignore")))
            i += 1
        return 0

    _STATE["callback"] = _CALLBACK(on_audio)  # keep a reference: ctypes does not
    lib.espeak_SetSynthCallback(_STATE["callback"])
    _STATE["lib"], _STATE["rate"] = lib, rate
    return lib, rate


def _unload() -> None:
    """Unload the library (with `_LOCK` held): the next `_library()` loads it afresh, with the
    static state of a process that has spoken nothing. Where the platform's ctypes cannot
    unload a library the loaded one is kept (an utterance then depends on the ones before)."""
    lib = _STATE.get("lib")
    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if lib is None or close is None:
        return
    lib.espeak_Terminate()
    close(lib._handle)
    _STATE.clear()


_LIBC: dict = {}  # the C library, once looked up (not the engine's state: kept across reloads)


def _seed_c_rand() -> None:
    """Seed the C library's rand(), which the speechPlayer voices (klatt 6: caleb, ...) draw
    their breath noise from (POSIX; elsewhere those voices keep their run-to-run noise)."""
    if "libc" not in _LIBC:
        try:
            _LIBC["libc"] = ctypes.CDLL(None) if os.name == "posix" else None
        except OSError:
            _LIBC["libc"] = None
    libc = _LIBC["libc"]
    if libc is not None and hasattr(libc, "srand"):
        libc.srand(0)


class EspeakEngine:
    name = "espeak"

    def __init__(self) -> None:
        with _LOCK:
            self._rate = _library()[1]

    def voices(self, language: str) -> list[Voice]:
        accents = LANGUAGES.get(language, ())
        # Speaker identity is the variant (its formants and pitch): the same variant speaking two
        # languages is one voice for the split.
        return [Voice(self.name, f"{accent}+{variant}", language, f"espeak:{variant}", gender)
                for accent in accents for variant, gender in VARIANTS.items()]

    def synth(self, text: str, voice: Voice, prosody: Prosody = Prosody()) -> Utterance:
        raw = text.encode("utf-8")
        with _LOCK:
            _unload()
            lib = _library()[0]
            _seed_c_rand()
            if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                raise EngineUnavailable(f"espeak-ng has no voice {voice.name!r}: expected "
                                        f"ACCENT+VARIANT such as 'en-us+m3'")
            lib.espeak_SetParameter(_P_RATE, int(round(175 * prosody.rate)), 0)
            lib.espeak_SetParameter(_P_PITCH, int(np.clip(50 * prosody.pitch, 0, 100)), 0)
            lib.espeak_SetParameter(_P_RANGE, int(np.clip(50 * prosody.range, 0, 100)), 0)
            _STATE["chunks"].clear()
            _STATE["events"].clear()
            err = lib.espeak_Synth(raw, len(raw) + 1, 0, 0, 0, _CHARS_UTF8 | _ENDPAUSE, None,
                                   None)
            lib.espeak_Synchronize()
            if err != 0:
                raise DataError(f"espeak_Synth returned {err} for text {text[:40]!r}: expected 0")
            chunks, events = list(_STATE["chunks"]), list(_STATE["events"])
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        n = len(pcm)
        audio = to_16k(from_s16(pcm), self._rate)
        # An event gives the sample where its phoneme starts; it ends where the next one starts.
        # Language-switch markers such as "(en)" are events, not sounds.
        events = [(s, lab) for s, lab in events if not (lab.startswith("(") and lab.endswith(")"))]
        segs = []
        for k, (sample, label) in enumerate(events):
            end = events[k + 1][0] if k + 1 < len(events) else n
            segs.append((label, sample / self._rate, min(end, n) / self._rate))
        if segs and segs[0][1] > 0:
            segs.insert(0, ("", 0.0, segs[0][1]))
        if segs and segs[-1][2] < n / self._rate:
            segs.append(("", segs[-1][2], n / self._rate))
        return Utterance(audio, PhonemeTimeline.from_segments(segs, "ipa"), voice, prosody, text)

    def close(self) -> None:
        pass  # the library stays loaded for the process (until the next utterance reloads it)
