"""Pronunciations for English words outside the CMU dictionary (names and coinages of game
dialogue: "Geralt", "Skyrim", "cyberpunk"), from espeak-ng's letter-to-sound rules, in the
ARPAbet phones of pocketsphinx's acoustic model.

espeak-ng (the `espeakng-loader` wheel, as the data engines load it) turns the word into its
en-us phones in IPA, one name per phone (`espeak_TextToPhonemes` with a separator: its own
segmentation, "aɪ", "dʒ", "ɚ"); each maps to one or two ARPAbet phones. Stress and length marks
carry nothing here. (Its phoneme events while speaking are no substitute: they fold a /l/ after
a vowel into the vowel.)
"""

from __future__ import annotations

import re
import threading

# espeak-ng's en-us IPA phones -> pocketsphinx ARPAbet (stress ˈˌ and length ː removed first).
IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels and diphthongs
    "æ": ("AE",), "a": ("AE",), "ɑ": ("AA",), "ɒ": ("AA",), "ɔ": ("AO",), "ʌ": ("AH",),
    "ə": ("AH",), "ɐ": ("AH",), "ɛ": ("EH",), "e": ("EH",), "ɪ": ("IH",), "ᵻ": ("IH",),
    "i": ("IY",), "ʊ": ("UH",), "u": ("UW",), "o": ("OW",), "ɜ": ("ER",), "ɚ": ("ER",),
    "ɝ": ("ER",), "eɪ": ("EY",), "aɪ": ("AY",), "aʊ": ("AW",), "oʊ": ("OW",), "əʊ": ("OW",),
    "ɔɪ": ("OY",), "aɪə": ("AY", "AH"), "aɪɚ": ("AY", "ER"), "aʊɚ": ("AW", "ER"),
    "ɪɹ": ("IH", "R"), "ɪə": ("IH", "R"), "ɛɹ": ("EH", "R"), "ɛə": ("EH", "R"),
    "ʊɹ": ("UH", "R"), "ʊə": ("UH", "R"), "ɔɹ": ("AO", "R"), "oɹ": ("AO", "R"),
    "ɑɹ": ("AA", "R"), "əl": ("AH", "L"), "n̩": ("AH", "N"), "m̩": ("AH", "M"),
    "l̩": ("AH", "L"),
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "ɡ": ("G",), "g": ("G",),
    "f": ("F",), "v": ("V",), "θ": ("TH",), "ð": ("DH",), "s": ("S",), "z": ("Z",),
    "ʃ": ("SH",), "ʒ": ("ZH",), "h": ("HH",), "x": ("HH",), "m": ("M",), "n": ("N",),
    "ŋ": ("NG",), "l": ("L",), "ɫ": ("L",), "ɹ": ("R",), "r": ("R",), "w": ("W",), "j": ("Y",),
    "tʃ": ("CH",), "dʒ": ("JH",), "ɾ": ("T",), "ʔ": ("T",), "ts": ("T", "S"), "dz": ("D", "Z"),
}
_MARKS = re.compile("[ˈˌːˑ.‿]")
_WORD = re.compile(r"^[a-z][a-z']{0,39}$")  # what data/align.normalise_text leaves of a word
_CHARS_UTF8 = 1  # espeak_TextToPhonemes: the text's encoding
_IPA, _SPACED = 0x02, ord(" ") << 8  # phonememode: IPA names, a space between phones
_LOCK = threading.Lock()
_CACHE: dict[str, str | None] = {}


def ipa_to_arpabet(phones) -> list[str] | None:
    """espeak-ng's IPA phones (one label each; "sil" and "" skipped) -> ARPAbet, or None when
    one of them has no ARPAbet phone here."""
    out: list[str] = []
    for label in phones:
        label = _MARKS.sub("", label)
        if label in ("", "sil"):
            continue
        arpa = IPA_TO_ARPABET.get(label) or _split(label)
        if arpa is None:
            return None
        out.extend(arpa)
    return out


def _split(label: str) -> tuple[str, ...] | None:
    """A label the table lacks as a whole: its longest known pieces, left to right."""
    out, i = [], 0
    while i < len(label):
        for j in range(len(label), i, -1):
            if label[i:j] in IPA_TO_ARPABET:
                out.extend(IPA_TO_ARPABET[label[i:j]])
                i = j
                break
        else:
            return None
    return tuple(out)


def pronounce(word: str) -> str | None:
    """A lower-case English word -> its ARPAbet pronunciation by espeak-ng's rules, such as
    "JH EH R AO L T" for "geralt"; None when espeak-ng is not installed or gives a phone with no
    ARPAbet counterpart. Cached per process."""
    if not _WORD.match(word):
        return None
    with _LOCK:
        if word in _CACHE:
            return _CACHE[word]
    names = _espeak_phones(word)
    phones = ipa_to_arpabet(names) if names else None
    result = None
    if phones:
        # espeak writes an r-coloured vowel and then the /r/ ("ɚ ɹ"): the CMU dictionary's ER
        # holds both
        result = " ".join(p for k, p in enumerate(phones)
                          if not (p == "R" and k and phones[k - 1] in ("ER", "R")))
    with _LOCK:
        _CACHE[word] = result
    return result


def _espeak_phones(word: str) -> list[str] | None:
    """espeak-ng's en-us IPA phone names for `word`, or None without espeak-ng."""
    import ctypes
    text = ctypes.create_string_buffer(word.encode("ascii"))
    pointer = ctypes.c_void_p(ctypes.addressof(text))
    from .engines.espeak import _LOCK as LIBRARY, _library
    with LIBRARY:  # the engine reloads the library for each utterance: take it under the lock
        try:
            lib, _ = _library()
        except Exception:  # EngineUnavailable: no espeak-ng here
            return None
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                                              ctypes.c_int]
        if lib.espeak_SetVoiceByName(b"en-us") != 0:
            return None
        out = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _IPA | _SPACED)
    return out.decode("utf-8", "replace").split() if out else None


__all__ = ["IPA_TO_ARPABET", "ipa_to_arpabet", "pronounce"]
