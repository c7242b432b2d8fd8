"""Phones heard in the voice: a phone recogniser trained on real speech steers the mouth.

The motion model learned from synthetic speech only, so on real recorded voices its lips follow
little more than loudness. pocketsphinx ships an English acoustic model trained on real speech
and a phone language model; its phone-loop ("allphone") search recognises the phones of any
voice, without a transcript, at ~0.03 x real time. The viseme teacher (data/teacher.py, what the
model is trained to imitate) turns those phones into a mouth, and that mouth is blended with the
model's:

    16 kHz audio -> pocketsphinx allphone -> ARPAbet phone timeline
                 -> teacher mouth (transcript.teacher_mouth_at)
                 -> lips, rounding and tongue from the phones (transcript.combine), and the lip
                    aperture (jawOpen, mouthClose) `teacher_weight` of the phones', the rest the
                    model's; head, eyes, brows and expression stay the model's own.

Offline (`bake`, `render`, NPC clips) the whole clip is recognised at once (`hear`): the phone
loop, and pocketsphinx's word search with its English language model and dictionary (as Rhubarb
Lip Sync does), whose words are force-aligned as a transcript is. The words' alignment gives the
phones; where it fits closely (`seal_min_fit`), their mouth is taken whole, seals and jaw too.
Live (`serve`), `LivePhones` is pushed the same audio as the model and asked for each frame the
model emits: the model emits frame k once it has its look-ahead (80 ms) of audio after it, the
phone layer holds it `hold_s` (40 ms) more, and the phone loop's phones decided by then (the
search reports phones up to ~60 ms behind the newest audio; the phone in progress is taken to go
on) drive that frame. (Words are offline only: a word search streamed this way guesses the word
in progress badly.) Live, part of the lip aperture (`acoustic_weight`) is also what the acoustic
model hears frame by frame, without a search, up to 60 ms after the frame (model/acoustic_mouth.py:
`LivePhones.aperture`, `with_heard_aperture`); where the blend seals the lips, they stay sealed.

Offline, only where the recogniser knows the voice: a clip whose phone loop's acoustic score per
phone frame (`hear`'s fit) is under `PhoneConfig.min_fit` (most espeak-ng voices, which an
acoustic model trained on real speech hears poorly), or whose recognised words do not fit as a
transcript must, keeps the model's mouth, its lip aperture mixed with the acoustic head's as
live (so does a clip whose words are blended, not taken whole). Live streams are not gated: the
live decoder's cepstral normalisation takes seconds to settle, and until then it scores real
voices as low as synthetic ones.

Measured in docs/model.md (`vasa-bridge eval --real`, `eval --data`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..audio.pcm import SAMPLE_RATE, to_s16
from ..errors import DataError
from ..motion.names import INDEX
from ..data.align import decode_whole, searched_words
from .config import SEAL_APERTURE
from .transcript import MIN_FIT, combine, teacher_mouth_at

PHONE_LANGUAGES = {"en": "pocketsphinx en-us"}  # languages with a phone recogniser here
FRAME_S = 0.01  # pocketsphinx frame period
PHONE_RATE = 16000  # Hz: the en-us acoustic model's rate
_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]


@dataclass(frozen=True)
class PhoneConfig:
    teacher_weight: float = 0.5  # share of the phones' mouth in the lip aperture (jaw, close)
    language_weight: float = 2.0  # pocketsphinx lw: the phone LM against the acoustics (its
    #                               default 6.5 lets the LM hold one phone for seconds)
    window_s: float = 1.0  # live: phone history the teacher sees around a frame
    restart_s: float = 20.0  # live: a new utterance at the next pause after this long
    pause_s: float = 0.3  # live: silence this long is a pause
    max_utterance_s: float = 60.0  # live: a new utterance after this long, pause or not
    silence_db: float = -55.0  # dBFS: a phone whose 10 ms frames all stay under this is silence
    #                            (the search names a phone even in digital silence)
    onset_db: float | None = -42.0  # live: where the newest decided phone is silence but a 10 ms
    #   frame of the audio after it reaches this (the speech gate's opening level, audio/gate.py),
    #   speech has begun that the search has not decided yet: the model's mouth there, not the
    #   silence's closed lips carried on (`LivePhones.mouth`). None: the silence carries on.
    min_fit: float = -11.0  # offline: acoustic score per phone frame (pocketsphinx's log
    #   units, base 1.0001) under which the recogniser is taken not to hear the clip's voice as
    #   speech it knows (many espeak-ng voices): the model's mouth alone then. Chosen on the
    #   synthetic training corpus: the lowest value at which gating leaves its clips no worse on
    #   average than the model alone (docs/model.md, "Phones heard in the voice").
    min_fit_s: float = 0.3  # offline: fewer phone frames than this give no fit to judge by (a
    #   mean over a handful of frames is noise): the model's mouth alone then
    words: bool = True  # offline: recognise words (pocketsphinx's English language model and
    #   dictionary, as Rhubarb Lip Sync does) and force-align them: the phones then follow the
    #   words' pronunciations. Live streams use the phone loop (whole words come too late).
    words_min_fit: float = MIN_FIT  # offline: the recognised words are used when their
    #   alignment fits as a given transcript must (`bake --text`'s rule); under it, or with no
    #   word heard, the model's mouth alone
    words_min_cover: float = 0.5  # offline: the recognised words are used only where their
    #   phones hold at least this share of the clip's voiced 10 ms frames (over `onset_db`): a
    #   search that hears a few words in a sentence (an espeak-ng voice's "Bob bought a map of
    #   Boston..." heard as "or are we", the phone loop hearing silence in most of it) aligns
    #   them closely and would shut the mouth over the rest. Not tuned on a measurement: half
    #   the voice left unexplained is not a transcript of it.
    align_chunk_s: float = 12.0  # offline: the recognised words are aligned in stretches of
    #   about this long, cut at pauses (a whole long clip at once costs gigabytes)
    acoustic_weight: float = 0.67  # share of the aperture heard frame by frame (jawOpen and
    #   mouthClose from the acoustic head, model/acoustic_mouth.py) in the mouth, live and offline
    #   where the words are not taken whole; the rest the phones' and model's blend (or the
    #   model's); where that blend seals the lips, the seal is kept (live, between sounds:
    #   `seal_between_db`). Chosen live on the
    #   synthetic validation voice (festival:slt, kept out of the head's training): the share
    #   with the best jawOpen r (docs/model.md). 0: off.
    hold_s: float = 0.04  # live: each of the model's frames is held this long past its own
    #   look-ahead (80 ms), so the acoustic head hears 60 ms after the frame (the teacher's lips
    #   lead the sound by 40 ms) and the phone loop decides a frame later. Sized to the latency
    #   budget (sound -> answering mouth p95 <= 150 ms, bench/bench_latency.py: 103 ms without
    #   it); it adds its 40 ms to that. 0: none (the head then hears fewer frames after).
    seal_between_db: float | None = 30.0  # live: where the blend seals the lips and the
    #   acoustic head hears them apart, the seal is kept only between sounds (a stop's or a
    #   nasal's closure): a 10 ms frame within `seal_between_s` before the frame and one within as
    #   long after it no more than this many dB under the loudest so far. At a voice's onset and
    #   end, the blend's thin opening (both its sources a frame late) sealed lips the teacher has
    #   0.1-0.2 apart, and the head parts them there. Chosen on festival slt: the largest share
    #   of false seals parted with no /p b m/ lost (docs/model.md, "Where the live false seals
    #   are"). None: every seal kept.
    seal_between_s: float = 0.08
    seal_min_fit: float | None = -14.0  # offline: where the words' alignment scores at least
    #   this, the words' mouth is taken whole (jaw and seals too: `transcript.combine`), not
    #   blended. Chosen on the synthetic training corpus: the lowest value at which that costs
    #   its clips nothing (bench/bench_phone_gate.py). None: never.

    def __post_init__(self) -> None:
        if not 0.0 <= self.teacher_weight <= 1.0:
            raise DataError(f"phones teacher_weight is {self.teacher_weight}: expected 0..1")
        if not 0.1 <= self.language_weight <= 20.0:
            raise DataError(f"phones language_weight is {self.language_weight}: expected 0.1..20")
        if not 0.2 <= self.window_s <= 5.0:
            raise DataError(f"phones window_s is {self.window_s}: expected 0.2..5 s")
        if not 0.0 <= self.acoustic_weight <= 1.0:
            raise DataError(f"phones acoustic_weight is {self.acoustic_weight}: expected 0..1")
        if not 0.0 <= self.words_min_cover <= 1.0:
            raise DataError(f"phones words_min_cover is {self.words_min_cover}: expected 0..1")
        if not 0.0 <= self.hold_s <= 0.2:
            raise DataError(f"phones hold_s is {self.hold_s}: expected 0..0.2 s")
        if self.seal_between_db is not None and not 1.0 <= self.seal_between_db <= 80.0:
            raise DataError(f"phones seal_between_db is {self.seal_between_db}: expected "
                            f"1..80 dB, or None")
        if not 0.01 <= self.seal_between_s <= 0.12:
            raise DataError(f"phones seal_between_s is {self.seal_between_s}: expected "
                            f"0.01..0.12 s (the sound a live frame has after it)")


def live_lookahead_s(model_lookahead_s: float, config: PhoneConfig | None) -> float:
    """Seconds of audio after a frame that a live stream waits for before the frame goes out:
    the model's own look-ahead and, with the phone layer, its hold (`PhoneConfig.hold_s`).
    `ModelEngine`, `live_track` and bench/bench_model.py all wait this long."""
    return model_lookahead_s + (config.hold_s if config is not None else 0.0)


def phones_for(language: str = "en", enabled: bool = True) -> PhoneConfig | None:
    """The phone layer for speech in `language` (a BCP-47 code), or None: off when asked, or
    when the language has no phone recogniser here (the model's mouth alone then; English phones
    heard in other languages' voices would misplace the lips)."""
    from .transcript import check_language
    check_language(language)
    base = language.split("-")[0].split("_")[0].lower()
    return PhoneConfig() if enabled and base in PHONE_LANGUAGES else None


def _decoder(config: PhoneConfig):
    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError:
        raise DataError("pocketsphinx is not installed: expected it for phone recognition "
                        "(pip install pocketsphinx)") from None
    lm = os.path.join(get_model_path(), "en-us", "en-us-phone.lm.bin")
    if not os.path.isfile(lm):
        raise DataError(f"pocketsphinx's phone language model is missing at {lm!r}: expected "
                        f"the pocketsphinx wheel's en-us-phone.lm.bin")
    from ..samples import phone_dictionary_path
    return Decoder(samprate=PHONE_RATE, loglevel="FATAL", allphone=lm, lw=config.language_weight,
                   beam=1e-20, pbeam=1e-20, dict=str(phone_dictionary_path()))


def _check_rate(rate: int) -> None:
    if rate != PHONE_RATE or SAMPLE_RATE != PHONE_RATE:
        raise DataError(f"phone recognition needs {PHONE_RATE} Hz audio: got {rate} Hz")


def _levels(audio: np.ndarray) -> np.ndarray:
    """(N // 160,) dBFS RMS of each 10 ms frame."""
    n = len(audio) // 160
    frames = np.asarray(audio[:n * 160], np.float64).reshape(n, 160)
    return 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def _silent(label: str) -> bool:
    """Whether a live segment's label is the search's silence (or `_hush`'s)."""
    return label.lower() in ("sil", "<sil>")


def _hush(segs, levels: np.ndarray, first: int, floor_db: float):
    """Segments (seconds on the stream's clock) whose frames all lie under `floor_db` become
    silence; `levels[i]` is frame `first + i`."""
    out = []
    for label, s, e in segs:
        a = max(int(round(s / FRAME_S)) - first, 0)
        b = min(int(round(e / FRAME_S)) - first, len(levels))
        if b > a and levels[a:b].max() < floor_db:
            label = "sil"
        out.append((label, s, e))
    return out


def _fit(decoder) -> tuple[float, int]:
    """(acoustic score summed over the decoder's current non-silent phones, their 10 ms
    frames), in pocketsphinx's log units; the mean is how well its acoustic model knows the
    voice (real voices score higher than most formant-synthesised ones). Silence and fillers
    (+SPN+, +NSN+) are left out, as in the alignment's score (data/align.py)."""
    from ..data.phonemes import SILENCE, normalise_label
    logmath = decoder.get_logmath()
    total, frames = 0.0, 0
    for s in decoder.seg() or []:
        if s.end_frame < s.start_frame or normalise_label(s.word, "arpabet") == SILENCE:
            continue
        total += float(logmath.log(max(float(s.ascore), 1e-300)))
        frames += s.end_frame - s.start_frame + 1
    return total, frames


def _segments(decoder, offset_s: float = 0.0) -> list[tuple[str, float, float]]:
    """The decoder's current phone segmentation, (label, start s, end s) on the stream's clock."""
    return [(s.word, offset_s + s.start_frame * FRAME_S, offset_s + (s.end_frame + 1) * FRAME_S)
            for s in (decoder.seg() or []) if s.end_frame >= s.start_frame]


class Heard(NamedTuple):
    """What `PhoneRecognizer.hear` made of a clip."""
    timeline: object  # ARPAbet PhonemeTimeline over the whole clip: the words' alignment, or
    #                   (no words asked for, heard or aligned) the phone loop's phones
    fit: float | None  # the phone loop's acoustic score per phone frame (None: too few phones)
    words: str | None = None  # the recognised words the timeline aligns
    words_fit: float | None = None  # their alignment's score per speech frame


class PhoneRecognizer:
    """pocketsphinx decoders for whole clips (not thread-safe: one per worker): the phone loop,
    and with `config.words` the word search and the aligner (loaded on first use)."""

    def __init__(self, config: PhoneConfig = PhoneConfig()) -> None:
        self.config = config
        self._decoder = _decoder(config)
        self._aligner = None

    def warm(self) -> None:
        """Load now what the first clip would otherwise wait for: with `config.words`, the word
        search and the aligner (~0.5 s)."""
        if self.config.words:
            from ..data.align import Aligner, searched_words
            searched_words(np.zeros(PHONE_RATE // 10, np.float32))
            if self._aligner is None:
                self._aligner = Aligner()

    def timeline(self, audio: np.ndarray, rate: int = PHONE_RATE):
        """(N,) float 16 kHz mono -> ARPAbet PhonemeTimeline covering the whole clip."""
        return self.hear(audio, rate)[0]

    def hear(self, audio: np.ndarray, rate: int = PHONE_RATE) -> Heard:
        """(N,) float 16 kHz mono -> `Heard`: the phone loop's fit (the acoustic score per phone
        frame, None when under `min_fit_s` of phones were heard, too few to judge by) and, with
        `config.words` and a fit of at least `min_fit`, the recognised words' alignment; else
        the loop's phones."""
        from ..data.phonemes import PhonemeTimeline
        _check_rate(rate)
        dec = self._decoder
        try:
            decode_whole(dec, audio)
        except Exception:
            self._decoder = _decoder(self.config)  # one stuck mid-utterance refuses the next
            raise
        total = len(audio) / rate
        levels = _levels(audio)
        segs = [(lab, s, min(e, total)) for lab, s, e in _segments(dec)]
        segs = _hush(segs, levels, 0, self.config.silence_db)
        score, frames = _fit(dec)
        fit = score / frames if frames * FRAME_S >= self.config.min_fit_s else None
        from ..data.phonemes import SILENCE, normalise_label
        sounded = sum(e - s for lab, s, e in segs if normalise_label(lab, "arpabet") != SILENCE)
        if self.config.words and fit is not None and fit >= self.config.min_fit \
                and sounded >= self.config.min_fit_s:  # the word search costs ~0.3 x real time
            aligned = self._aligned_words(audio)
            if aligned is not None and _covered(aligned[0], levels >= self._voice_db()) >= \
                    self.config.words_min_cover:
                return Heard(aligned[0], fit, aligned[2], aligned[1])
        return Heard(PhonemeTimeline.from_segments(_fill(segs, total), "arpabet"), fit)

    def _voice_db(self) -> float:
        """The level over which a 10 ms frame is taken for the voice: the speech gate's opening
        level (`onset_db`), or with none the silence level."""
        c = self.config
        return c.onset_db if c.onset_db is not None else c.silence_db

    def _aligned_words(self, audio: np.ndarray):
        """(timeline, score per speech frame, words): the clip's recognised words force-aligned
        as a transcript is (phones that border silence cut back to the speech level), or None:
        no word heard, or the words do not align."""
        from ..data.align import Aligner
        if self._aligner is None:
            self._aligner = Aligner()
        try:
            words = searched_words(audio)
            # Aligned whole, a long clip's words take memory and time that grow much faster
            # than its length (a 600 s clip: 6 GB) and fit worse: each stretch of up to
            # `align_chunk_s` between pauses is aligned on its own.
            chunks = _word_chunks(words, len(audio) / PHONE_RATE, self.config.align_chunk_s)
        except Exception:  # the search failed (it is made afresh for the next clip)
            return None
        if not chunks:
            return None
        segs, fits, speech = [], 0.0, 0.0
        for a, b, words in chunks:
            first = int(a * PHONE_RATE)
            a = first / PHONE_RATE  # the slice's own start, to the sample
            try:
                timeline, score = self._aligner.align(audio[first:int(b * PHONE_RATE)], words)
            except DataError:
                return None
            except Exception:  # not the aligner's own refusal: make it afresh, keep the phones
                self._aligner = Aligner()
                return None
            segs += [(lab, a + s0, a + s1) for lab, s0, s1 in
                     zip(timeline.labels, timeline.starts, timeline.ends)]
            fits += score.per_frame * score.speech_s
            speech += score.speech_s
        if not speech:
            return None
        from ..data.phonemes import PhonemeTimeline
        text = " ".join(words for _, _, words in chunks)  # exactly the words aligned
        return PhonemeTimeline.from_segments(segs, "arpabet"), fits / speech, text


def _covered(timeline, voiced: np.ndarray) -> float:
    """The share of a clip's voiced 10 ms frames (`voiced`, (frames,) bool) that the
    timeline's sounded phones hold (1.0 for a clip with none)."""
    from ..data.phonemes import SILENCE, normalise_label
    if not voiced.any():
        return 1.0
    held = np.zeros(len(voiced), bool)
    for lab, s, e in zip(timeline.labels, timeline.starts, timeline.ends):
        if normalise_label(lab, "arpabet") != SILENCE:
            held[int(round(s / FRAME_S)):int(round(e / FRAME_S))] = True
    return float(np.count_nonzero(voiced & held) / np.count_nonzero(voiced))


def _word_chunks(heard, total: float, chunk_s: float) -> list[tuple[float, float, str]]:
    """The word search's words (`searched_words`) in stretches of up to about `chunk_s`
    seconds, cut in the middle of the pauses between words: [(start s, end s, words)],
    covering 0..`total` (a stretch with no pause runs on to the next one)."""
    chunks, start, current, last_end = [], 0.0, [], 0.0
    for word, s, e in heard:
        if current and s - start > chunk_s and s - last_end >= 0.1:
            cut = 0.5 * (last_end + s)
            chunks.append((start, cut, " ".join(current)))
            start, current = cut, []
        current.append(word)
        last_end = e
    if current:
        chunks.append((start, total, " ".join(current)))
    return chunks


def pieces_at_pauses(audio: np.ndarray, piece_s: float = 10.0, slack_s: float = 3.0
                     ) -> list[tuple[int, int]]:
    """[(start, end) samples] covering 16 kHz `audio` in order: stretches of about `piece_s`
    seconds, each cut in the middle of the quietest 10 ms within `slack_s` of that (a pause
    between words where there is one), to hear a long recording piece by piece."""
    n, step = len(audio), int(PHONE_RATE * FRAME_S)
    levels = _levels(audio)
    cuts = [0]
    while n - cuts[-1] > (piece_s + slack_s) * PHONE_RATE:
        lo = (cuts[-1] + int((piece_s - slack_s) * PHONE_RATE)) // step
        hi = (cuts[-1] + int((piece_s + slack_s) * PHONE_RATE)) // step
        cuts.append((lo + int(np.argmin(levels[lo:hi]))) * step + step // 2)
    return list(zip(cuts, cuts[1:] + [n])) if n else []


def _fill(segs, total: float) -> list[tuple[str, float, float]]:
    """Segments with the gaps (and the tail up to `total`) filled by silence."""
    out, t = [], 0.0
    for label, s, e in segs:
        if s > t + 1e-6:
            out.append(("sil", t, s))
        if e > max(s, t):
            out.append((label, max(s, t), e))
            t = e
    if t < total - 1e-6:
        out.append(("sil", t, total))
    return out


def blend(model_shapes: np.ndarray, phone_shapes: np.ndarray,
          config: PhoneConfig = PhoneConfig(), known: np.ndarray | None = None) -> np.ndarray:
    """(T, 52) the model's shapes and the teacher's mouth on the heard phones -> the mouth:
    articulation from the phones, the lip aperture `teacher_weight` of theirs (jaw and the
    lips' seal move together, so a sealed /p b m/ in both stays sealed). `known` (T,) bool:
    frames with phones (the others keep the model's shapes); None: all. Phones that can be
    trusted with /p b m/ (recognised words that fit closely) are not blended: `apply_phones`
    takes their mouth whole (`transcript.combine`)."""
    w = config.teacher_weight
    out = combine(model_shapes, phone_shapes)
    for c in (_JAW, _CLOSE):
        out[:, c] = w * phone_shapes[:, c] + (1.0 - w) * model_shapes[:, c]
    if known is not None:
        out[~known] = model_shapes[~known]
    return out


def with_heard_aperture(shapes: np.ndarray, heard: np.ndarray, weight: float,
                        known: np.ndarray | None = None,
                        seal_between: np.ndarray | None = None) -> np.ndarray:
    """(T, 52) shapes, (T, 2) the acoustic head's jawOpen and mouthClose -> `weight` of the
    head's in both; where `shapes` seal the lips (aperture under SEAL_APERTURE: the phones' and
    the seal head's /p b m/), the lips are not parted wider than they were. `known` (T,) bool:
    frames the head has heard (None: all). `seal_between` (T,) bool: frames between sounds
    (`LivePhones.between_sounds`); elsewhere a seal is kept only where the head too hears the
    lips sealed (None: everywhere)."""
    out = np.array(shapes, dtype=np.float32, copy=True)
    rows = slice(None) if known is None else np.asarray(known, bool)
    jaw, close = out[rows, _JAW], out[rows, _CLOSE]
    gap = jaw - close
    jaw2 = (1.0 - weight) * jaw + weight * heard[rows, 0]
    close2 = (1.0 - weight) * close + weight * heard[rows, 1]
    sealed = gap < SEAL_APERTURE
    if seal_between is not None:
        sealed &= np.asarray(seal_between, bool)[rows] | (
            heard[rows, 0] - heard[rows, 1] < SEAL_APERTURE)
    close2 = np.where(sealed, np.maximum(close2, jaw2 - gap), close2)
    out[rows, _JAW], out[rows, _CLOSE] = jaw2, np.clip(close2, 0.0, 1.0)
    return out


def apply_phones(shapes: np.ndarray, audio: np.ndarray, rate: int, fps: float,
                 config: PhoneConfig = PhoneConfig(),
                 recognizer: PhoneRecognizer | None = None) -> np.ndarray:
    """A whole clip's model shapes (frame i at i / fps) -> with the mouth of its heard phones:
    recognised words that fit closely give it whole; words that fit as a transcript must (or,
    with `config.words` off, the phone loop's phones) are blended with the model's; the model's
    alone where the recogniser does not know the voice (fit under `config.min_fit`) or, with
    `config.words`, heard no words that fit (under `config.words_min_fit`). Where the words are
    not taken whole, `acoustic_weight` of the lip aperture is what the acoustic head hears
    (`with_heard_aperture`, as live), unless too few phones were heard to tell (a grunt, a hum,
    noise: the model's mouth alone, unchanged)."""
    heard, seal, mouth = _hear_mouth(audio, rate, len(shapes), fps, config, recognizer)
    if seal:
        # Words that fit closely: their mouth whole (lips, jaw and seals), as a clip played to
        # the live face gets it (`trusted_words`); the model keeps head, eyes, brows, expression.
        return combine(shapes, mouth)
    out = shapes if mouth is None else blend(shapes, mouth, config)
    if heard.fit is None or config.acoustic_weight <= 0:
        return out
    from .acoustic_mouth import heard_aperture
    return with_heard_aperture(out, heard_aperture(audio, rate, len(shapes), fps),
                               config.acoustic_weight)


def heard_mouth(audio: np.ndarray, rate: int, n_frames: int, fps: float,
                config: PhoneConfig = PhoneConfig(),
                recognizer: PhoneRecognizer | None = None) -> tuple[np.ndarray, bool] | None:
    """((n_frames, 52) the teacher's mouth on a whole clip's heard phones, whether they are
    trusted with the seals: words that fit closely, taken whole), as `apply_phones` uses it;
    None where the phones leave the model's mouth (`_decides`)."""
    _, seal, mouth = _hear_mouth(audio, rate, n_frames, fps, config, recognizer)
    return None if seal is None else (mouth, seal)


def _hear_mouth(audio, rate, n_frames, fps, config, recognizer):
    """A whole clip heard -> (`Heard`, `_decides`' verdict, the teacher's mouth on its phones
    at frames 0..n_frames-1, None where the verdict is None)."""
    heard = (recognizer or PhoneRecognizer(config)).hear(audio, rate)
    seal = _decides(heard, config)
    mouth = None if seal is None else teacher_mouth_at(heard.timeline,
                                                       np.arange(n_frames) / fps)
    return heard, seal, mouth


def trusted_words(heard: Heard, config: PhoneConfig = PhoneConfig()):
    """The phone timeline of a whole clip's recognised words where `heard_mouth` trusts them with
    the lips' seals (words that fit closely: `seal_min_fit`), else None. A live stream's clip,
    heard whole while it plays, takes its mouth from these (`runtime.model_engine.ClipBaker.
    hear_words`)."""
    return heard.timeline if heard.words is not None and _decides(heard, config) else None


class HeardPhones(NamedTuple):
    """A phrase heard whole whose words are not trusted with the lips' seals but whose voice the
    recogniser scores: its recognised phones (`phrase_phones`)."""
    timeline: object  # PhonemeTimeline, arpabet, on the phrase's clock


def phrase_phones(heard: Heard, config: PhoneConfig = PhoneConfig()):
    """A phrase of a live voice heard whole before it plays (`serve --mic --hear-ahead`) -> the
    phone timeline of its words where they are trusted with the seals (`trusted_words`: its
    mouth taken whole), else `HeardPhones` of its recognised phones where the recogniser scored
    the voice at all (they take the place of the streaming phone layer's guesses for its
    frames: `LivePhones.hear_phrase`), else None (a hum, noise: too few phones to judge).
    Chosen on festival slt against the words alone: docs/model.md, "Hear-ahead phrases"."""
    words = trusted_words(heard, config)
    if words is not None:
        return words
    return HeardPhones(heard.timeline) if heard.fit is not None else None


def _decides(heard: Heard, config: PhoneConfig) -> bool | None:
    """How a whole clip's heard phones steer its mouth: None, not at all (the recogniser does
    not know the voice, or with `config.words` no words that fit were heard); else whether they
    are trusted with the lips' seals (their mouth then taken whole)."""
    if heard.fit is None or heard.fit < config.min_fit:
        return None
    if not config.words:
        return False
    if heard.words is None or heard.words_fit < config.words_min_fit:
        return None
    return config.seal_min_fit is not None and heard.words_fit >= config.seal_min_fit


class LivePhones:
    """Streaming phone recognition for one live stream. `push` the stream's 16 kHz audio as it
    arrives; `mouth(k)` is the teacher's mouth for output frame k (time k / fps) from the phones
    decided so far, or None before any speech-or-silence was decided; `aperture(k)` the lip
    aperture the acoustic head hears there; `steer(shapes, k)` the model's frame with both."""

    def __init__(self, fps: float, config: PhoneConfig = PhoneConfig()) -> None:
        self.fps = float(fps)
        self.config = config
        self._decoder = _decoder(config)
        self._received = 0  # samples pushed
        self._utt_start = 0  # sample where the current utterance began
        self._in_utt = False
        self.utterances = 0  # utterances begun (a long stream is cut at pauses)
        self._done: list[tuple[str, float, float]] = []  # segments of finished utterances
        self._current: list[tuple[str, float, float]] = []  # the current utterance's, so far
        self._levels = np.zeros(0)  # dBFS per 10 ms frame, from frame `_levels_first` on
        self._levels_first = 0
        # the same frames: within `seal_between_db` of the loudest kept up to each of them
        self._loud = np.zeros(0, bool)
        self._tail = np.zeros(0, np.float32)  # samples short of a whole 10 ms frame
        # phrases heard whole before they play (`hear_phrase`): replaced, never changed in
        # place, so the hearing thread that adds them and the loop that reads them need no lock
        self._phrases: tuple = ()
        self._asked = 0  # the newest output frame `mouth` was asked for
        # the aperture heard frame by frame (model/acoustic_mouth.py): None when off
        self._scores = self._head = None
        if config.acoustic_weight > 0:
            from .acoustic import PhoneScores
            from .acoustic_mouth import shipped_mouth
            self._head = shipped_mouth()
            h = self._head.config
            self._scores = PhoneScores(keep=2 * (h.before + h.after + 1))

    @property
    def seconds(self) -> float:
        return self._received / PHONE_RATE

    def push(self, audio: np.ndarray) -> None:
        """(N,) float32 16 kHz mono, in stream order."""
        audio = np.asarray(audio, np.float32).reshape(-1)
        if not len(audio):
            return
        dec = self._decoder
        if not self._in_utt:
            dec.start_utt()
            self._in_utt = True
            self.utterances += 1
            self._utt_start = self._received
        dec.process_raw(to_s16(audio).tobytes(), full_utt=False)
        if self._scores is not None:
            self._scores.push(audio)
        self._received += len(audio)
        self._add_levels(audio)
        self._current = self._quiet(_segments(dec, self._utt_start / PHONE_RATE))
        self._maybe_restart()

    def _add_levels(self, audio: np.ndarray) -> None:
        joined = np.concatenate([self._tail, audio])
        whole = len(joined) // 160 * 160
        self._tail = joined[whole:]
        new = _levels(joined[:whole])
        if self.config.seal_between_db is not None and len(new):
            before = self._levels.max() if len(self._levels) else -np.inf
            peak = np.maximum.accumulate(np.concatenate([[before], new]))[1:]
            self._loud = np.concatenate([self._loud, new > peak - self.config.seal_between_db])
        self._levels = np.concatenate([self._levels, new])
        keep = int((2 * self.config.window_s + self.config.max_utterance_s) / FRAME_S)
        if len(self._levels) > 2 * keep:  # a long stream: forget what no segment can reach
            drop = len(self._levels) - keep
            self._levels = self._levels[drop:]
            self._loud = self._loud[drop:]
            self._levels_first += drop

    def _quiet(self, segs):
        return _hush(segs, self._levels, self._levels_first, self.config.silence_db)

    def _maybe_restart(self) -> None:
        """End the utterance at a pause once it is long (the search's history grows with it)."""
        c = self.config
        length = (self._received - self._utt_start) / PHONE_RATE
        if length < c.restart_s:
            return
        tail = self._current[-1] if self._current else None
        paused = tail is not None and _silent(tail[0]) and tail[2] - tail[1] >= c.pause_s
        if paused or length >= c.max_utterance_s:
            self._decoder.end_utt()
            self._done.extend(self._quiet(_segments(self._decoder,
                                                    self._utt_start / PHONE_RATE)))
            horizon = self.seconds - 2 * c.window_s
            self._done = [s for s in self._done if s[2] > horizon]
            self._current = []
            self._in_utt = False

    def hear_phrase(self, overlay) -> None:
        """A phrase of this stream heard whole before it plays (`serve --mic --hear-ahead`):
        its recognised phones' mouth (`transcript.MouthOverlay` at this stream's output frames)
        is the phones' mouth of its frames from now on, in place of the phones decided as the
        audio streams in. Any thread."""
        asked = self._asked
        self._phrases = tuple(p for p in self._phrases if p.end > asked) + (overlay,)

    def mouth(self, k: int) -> np.ndarray | None:
        """(52,) the phones' mouth at output frame k, or None when no phone is known yet or a
        voice has begun after the newest decided phone, a silence (`PhoneConfig.onset_db`).
        A phrase heard whole (`hear_phrase`) gives its frames' mouth."""
        self._asked = k
        for phrase in self._phrases:
            if phrase.first <= k < phrase.end:
                return phrase.shapes[k - phrase.first]
        t = k / self.fps
        now = self.seconds
        lo = t - self.config.window_s
        segs = [s for s in self._done + self._current if s[2] > lo]
        if not segs:
            return None
        label, s0, s1 = segs[-1]
        if _silent(label) and self._sounding_after(s1):
            return None  # a voice begun past the decided silence: not yet its phones
        segs[-1] = (label, s0, max(s1, now + 0.5))  # the phone in progress goes on
        from ..data.phonemes import PhonemeTimeline
        timeline = PhonemeTimeline.from_segments(_fill(segs, now + 0.5), "arpabet")
        # The teacher's closures need the frames around k on one grid (a lone frame would
        # widen every /p b m/ plateau to reach it): evaluate the window, keep frame k.
        first = max(0, int(np.floor(lo * self.fps)))
        times = np.arange(first, k + 2) / self.fps
        return teacher_mouth_at(timeline, times)[k - first].astype(np.float32)

    def aperture(self, k: int) -> np.ndarray | None:
        """(2,) jawOpen and mouthClose the acoustic head hears at output frame k, or None: off,
        or the frames after frame k it hears (60 ms) not yet scored."""
        if self._scores is None:
            return None
        from .acoustic_mouth import frame_of, inputs
        h = self._head.config
        if int(frame_of(k, self.fps)) + h.after >= self._scores.frames:
            return None
        x = inputs(self._scores.posteriors, np.array([k]), self.fps, h, self._scores.first)
        return self._head.predict(x)[0]

    def between_sounds(self, k: int) -> bool | None:
        """Whether output frame k lies between sounds, as a stop's or a nasal's closure does: a
        10 ms frame within `seal_between_s` before it and one within as long after it loud
        (`seal_between_db`); None: the rule is off, or nothing after frame k is heard yet."""
        c = self.config
        if c.seal_between_db is None:
            return None
        t = int(round(k / self.fps / FRAME_S)) - self._levels_first
        n = int(round(c.seal_between_s / FRAME_S))
        after = self._loud[max(t + 1, 0):max(t + n + 1, 0)]
        if not after.size:
            return None
        return bool(self._loud[max(t - n, 0):max(t, 0)].any() and after.any())

    def steer(self, shapes: np.ndarray, k: int) -> np.ndarray:
        """(52,) the model's output frame k -> with the mouth heard so far: the phones'
        (`blend`) and the aperture heard frame by frame (`with_heard_aperture`)."""
        mouth, heard = self.mouth(k), self.aperture(k)
        out = np.asarray(shapes, np.float32)[None]
        if mouth is not None:
            out = blend(out, mouth[None], self.config)
        if heard is not None:
            between = self.between_sounds(k)
            out = with_heard_aperture(out, heard[None], self.config.acoustic_weight,
                                      seal_between=None if between is None else [between])
        return out[0]

    def _sounding_after(self, t: float) -> bool:
        """Whether a 10 ms frame of the audio after stream time t reaches `onset_db`."""
        if self.config.onset_db is None:
            return False
        after = self._levels[max(int(round(t / FRAME_S)) - self._levels_first, 0):]
        return bool(after.size) and float(after.max()) >= self.config.onset_db

    def close(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()
            self._in_utt = False


class LiveTrack(NamedTuple):
    """What a live stream's phone layer gives a clip's frames (`live_track`)."""
    mouths: np.ndarray  # (T, 52) the phones' mouth
    known: np.ndarray  # (T,) bool: frames with phones (the others keep the model's mouth)
    heard: np.ndarray  # (T, 2) jawOpen, mouthClose heard frame by frame (acoustic head)
    heard_known: np.ndarray  # (T,) bool: frames the head had heard (False: off)
    between: np.ndarray | None = None  # (T,) bool: frames between sounds
    #   (`LivePhones.between_sounds`; True where it gave None); None: the rule off

    def steer(self, model_shapes: np.ndarray, config: "PhoneConfig") -> np.ndarray:
        """(T, 52) the model's shapes -> the live mouth (`LivePhones.steer`, frame by frame)."""
        return with_heard_aperture(blend(model_shapes, self.mouths, config, self.known),
                                   self.heard, config.acoustic_weight, self.heard_known,
                                   self.between)


def live_track(audio: np.ndarray, n_frames: int, fps: float, lookahead_s: float,
               config: PhoneConfig = PhoneConfig(), hop: int = 640,
               phrases=()) -> LiveTrack:
    """The phone layer's live mouth for a clip as a live stream makes it (`ModelEngine`):
    `audio` (16 kHz) pushed `hop` samples at a time, frame k asked for once the model's
    `lookahead_s` and the phone layer's `config.hold_s` of audio after it have arrived. For
    evaluations of the live path (`eval --real`):
    `live_track(...).steer(model_shapes, config)` is what `LivePhones.steer` gives.
    `phrases`: (sample, overlay) pairs, each phrase heard whole (`LivePhones.hear_phrase`) once
    that many samples have been pushed (`serve --hear-ahead`: `realvoice.heard_ahead`)."""
    live = LivePhones(fps, config)
    pending = sorted(phrases, key=lambda p: p[0])
    out = np.zeros((n_frames, 52), np.float32)
    known = np.zeros(n_frames, bool)
    heard = np.zeros((n_frames, 2), np.float32)
    heard_known = np.zeros(n_frames, bool)
    between = np.ones(n_frames, bool)
    k, pushed = 0, 0
    audio = np.asarray(audio, np.float32)
    lookahead_s = live_lookahead_s(lookahead_s, config)
    while k < n_frames:
        chunk = audio[pushed:pushed + hop]  # whole hops, silence after the end (as serve's)
        live.push(np.pad(chunk, (0, hop - len(chunk))) if len(chunk) < hop else chunk)
        pushed += hop
        while pending and pending[0][0] <= pushed:
            live.hear_phrase(pending.pop(0)[1])
        while k < n_frames and (k / fps + lookahead_s) * PHONE_RATE <= pushed + 1e-6:
            m = live.mouth(k)
            if m is not None:
                out[k], known[k] = m, True
            a = live.aperture(k)
            if a is not None:
                heard[k], heard_known[k] = a, True
                b = live.between_sounds(k)
                between[k] = True if b is None else b
            k += 1
    live.close()
    return LiveTrack(out, known, heard, heard_known,
                     between if config.seal_between_db is not None else None)


__all__ = ["live_track", "live_lookahead_s", "LiveTrack", "with_heard_aperture", "Heard",
           "HeardPhones", "PhoneConfig", "PhoneRecognizer", "LivePhones", "apply_phones", "blend",
           "heard_mouth", "phones_for", "phrase_phones", "pieces_at_pauses", "trusted_words",
           "PHONE_LANGUAGES"]
