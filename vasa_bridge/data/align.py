"""Real speech with a transcript: pocketsphinx forced alignment (offline, en-us model shipped in
the wheel) -> ARPAbet phoneme timeline -> the same teacher -> dataset clips.

A user reads a script into their microphone, then
`vasa-bridge dataset aligned take1.wav script.txt --out my_voice`; further recordings append to
the same folder (a recording already there is skipped).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..audio.pcm import to_s16
from ..errors import DataError, not_a_file
from .dataset import (SAMPLE_RATE, check_one_split, open_for_append, write_clip, write_json,
                      write_manifest)
from .engines.base import to_16k
from .phonemes import SILENCE, PhonemeTimeline, normalise_label
from .teacher import Speaker, TeacherConfig, teach
from .visemes import to_visemes

FRAME_S = 0.01  # pocketsphinx frames are 10 ms
# Speech by level that the alignment leaves this long or longer outside every phone is speech
# the transcript has no words for. Right transcripts of the real recordings leave at most
# 0.15 s (goforward's trailing release), transcripts missing their second half 0.24-0.98 s
# (bench/bench_transcript.py, "words missing").
UNSPOKEN_MIN_S = 0.2
# Recordings longer than this are aligned in stretches of about STRETCH_S (`Aligner`).
LONG_S = 150.0
STRETCH_S = 20.0
# A transcript that does not fit as a whole is tried again in stretches of about this long.
RESCUE_STRETCH_S = 4.0

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """English words for 0 <= n < 10**9 ('42' -> 'forty two')."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return number_words(head) + " " + name + ("" if rest == 0 else
                                                      " " + number_words(rest))
    raise AssertionError(n)


def ordinal_words(n: int) -> str:
    """English ordinal words for 0 <= n < 10**9 ('21' -> 'twenty first')."""
    words = number_words(n).split()
    last = words[-1]
    words[-1] = _ORDINALS.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return " ".join(words)


_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
             "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_SYMBOLS = {"&": " and ", "%": " percent ", "@": " at ", "+": " plus "}
_MONEY = {"$": "dollars", "£": "pounds", "€": "euros"}


def normalise_text(text: str) -> list[str]:
    """Transcript -> lower-case dictionary words: numbers, ordinals ('2nd'), sums of money
    ('$5') and the symbols & % @ + spelled out, accents and punctuation dropped."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"([$£€])\s?(\d{1,9})\b", lambda m: f" {m.group(2)} "
                  f"{_MONEY[m.group(1)][:-1] if int(m.group(2)) == 1 else _MONEY[m.group(1)]} ",
                  text)
    text = re.sub(r"\b(\d{1,9})(st|nd|rd|th)\b", lambda m: " " + ordinal_words(int(m.group(1)))
                  + " ", text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))  # "café" -> "cafe"
    text = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " "
                  if len(m.group()) < 10 else " ".join(_ONES[int(d)] for d in m.group()), text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


@dataclass(frozen=True)
class AlignConfig:
    max_clip_s: float = 12.0  # recordings are cut at pauses into clips up to this long
    min_clip_s: float = 2.0  # shortest clip worth keeping
    min_pause_s: float = 0.15  # a silence at least this long may be a cut point
    min_fit: float = -25.0  # alignment score per speech frame under which the transcript is
    #   not what the recording says. Laxer than `bake --text`'s -18 (model/transcript.py
    #   MIN_FIT): right transcripts of real voices score -13 or above, of festival's diphone
    #   voices down to -18.1, words in the wrong order -40 and below; formant voices (espeak-ng)
    #   score about -40 even with the right words (use `dataset synth` for those, or lower it)


def _decoder():
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise DataError("pocketsphinx is not installed: expected it for alignment "
                        "(pip install pocketsphinx)") from None
    # Beams wider than the defaults (1e-48): forced alignment only has one path to follow, and
    # narrow beams lose it on accented or synthetic voices.
    return Decoder(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL", beam=1e-100,
                   pbeam=1e-100, wbeam=1e-80)


@dataclass(frozen=True)
class SpeechEdges:
    """Where a forced alignment's speech may start and end: pocketsphinx lets a phone next to a
    silence run on into it (the final /t/ of alsa-utils' "rear right" by 100 ms, the first phone
    of pocketsphinx's cards/001 takes 180 ms of room noise), and the teacher holds the mouth at
    that phone's shape over the silence. A phone that borders silence (the clip's ends or a
    `sil`) is cut back to the audio's own speech level."""

    frame_s: float = 0.01  # level frames, as pocketsphinx's
    window_s: float = 0.02  # RMS window around each frame's centre
    floor_percentile: float = 10.0  # the clip's quietest frames give its noise floor
    rise_db: float = 12.0  # speech rises at least this far above the noise floor
    range_db: float = 40.0  # and lies within this of the clip's peak (a gated studio
    #                         recording's floor is digital silence: its room tone is not speech)
    loud_db: float = 20.0  # within this of the peak is speech whatever the floor (a clip
    #                        with no silence has no floor)
    silence_db: float = -80.0  # dBFS: never speech (16-bit dither is ~ -100)
    hang_s: float = 0.03  # speech kept after the last loud frame (decay, release)
    onset_s: float = 0.04  # and before the first (a weak fricative onset in noise)
    min_phone_s: float = 0.03  # pocketsphinx's shortest phone (3 frames)


def speech_frames(audio: np.ndarray, rate: int = SAMPLE_RATE,
                  edges: SpeechEdges = SpeechEdges()) -> np.ndarray:
    """(F,) bool: frame k (k * frame_s .. (k + 1) * frame_s) holds speech by level."""
    hop = int(round(edges.frame_s * rate))
    half = int(round(edges.window_s * rate)) // 2
    n = int(np.ceil(len(audio) / hop))
    if not n:
        return np.zeros(0, bool)
    x = np.pad(np.asarray(audio, np.float64), (half, 2 * half + hop))
    energy = np.concatenate([[0.0], np.cumsum(x ** 2)])
    centre = np.arange(n) * hop + hop // 2 + half  # (F,) in x
    power = (energy[centre + half] - energy[centre - half]) / (2 * half)
    db = 10 * np.log10(np.maximum(power, 0.0) + 1e-12)  # (F,)
    peak, floor = np.percentile(db, [99, edges.floor_percentile])
    level = min(max(floor + edges.rise_db, peak - edges.range_db), peak - edges.loud_db)
    return db > max(level, edges.silence_db)


def trim_to_speech(segments: list[tuple[str, float, float]], speech: np.ndarray,
                   edges: SpeechEdges = SpeechEdges()) -> list[tuple[str, float, float]]:
    """Cut phones that border silence back to the speech frames inside them.

    `segments`: (label, start s, end s) in order, silences labelled as `normalise_label` maps
    to SILENCE or absent (gaps); `speech`: `speech_frames` of the same audio. A phone keeps at
    least `min_phone_s`; a phone with no loud frame at all keeps that much at its speech side.
    What is cut becomes a gap (the caller fills gaps with silence)."""
    out = list(segments)
    loud = np.flatnonzero(speech)
    if not len(loud):
        return out
    f = edges.frame_s

    def silent(k: int) -> bool:
        return (k < 0 or k >= len(out)
                or normalise_label(out[k][0], "arpabet") == SILENCE)

    for k, (label, s, e) in enumerate(out):
        if silent(k):
            continue
        lo, hi = int(round(s / f)), int(round(e / f))
        inside = loud[(loud >= lo) & (loud < hi)]
        gap_before = silent(k - 1) or out[k - 1][2] < s - 1e-6
        gap_after = silent(k + 1) or out[k + 1][1] > e + 1e-6
        if gap_after:
            end = (inside[-1] + 1) * f + edges.hang_s if len(inside) else s + edges.min_phone_s
            e = min(e, max(end, s + edges.min_phone_s))
        if gap_before:
            start = inside[0] * f - edges.onset_s if len(inside) else e - edges.min_phone_s
            s = max(s, min(start, e - edges.min_phone_s))
        out[k] = (label, s, e)
    return out


@dataclass(frozen=True)
class AlignmentScore:
    """How well a transcript fits its recording. pocketsphinx scores each frame relative to the
    best-scoring state in that frame, so a phone that the audio does not support scores far
    below 0; the mean over speech frames separates right from wrong transcripts (see
    model/transcript.py for the calibration)."""

    per_frame: float  # mean acoustic score per aligned speech (non-silence) frame, <= 0
    speech_s: float  # seconds of aligned speech phones
    words: int  # transcript words aligned
    guessed: tuple = ()  # words outside the CMU dictionary, pronounced by espeak-ng's rules
    stretches: int = 1  # aligned in this many stretches (a long recording: `Aligner`)
    refused: int = 0  # of them, left to the audio: their words did not fit (`Aligner` min_fit)
    unspoken: tuple = ()  # ((start s, end s), ...): stretches of UNSPOKEN_MIN_S or more of
    #                       speech by level that no aligned phone covers (words the transcript
    #                       lacks), in order


def align(audio: np.ndarray, text: str,
          edges: SpeechEdges | None = SpeechEdges()) -> PhonemeTimeline:
    """Force-align 16 kHz mono speech to its transcript; ARPAbet phones, seconds (a long
    recording in stretches: `Aligner`)."""
    return Aligner(edges).align(audio, text)[0]


def align_scored(audio: np.ndarray, text: str, decoder=None,
                 edges: SpeechEdges | None = SpeechEdges()
                 ) -> tuple[PhonemeTimeline, AlignmentScore]:
    """`align`, plus how well the transcript fits. `decoder`: a pocketsphinx Decoder to reuse
    (loading one costs ~0.25 s); the caller serialises its use. `edges`: how phones next to
    silence are cut back to the speech level (None: pocketsphinx's boundaries as they come);
    the score is pocketsphinx's either way."""
    words = normalise_text(text)
    if not words:
        raise DataError(f"transcript {text[:40]!r} has no words: expected English text")
    dec = decoder or _decoder()
    missing = _add_pronunciations(dec, {w for w in words if dec.lookup_word(w) is None})
    guessed = tuple(sorted(set(words) & _PRONOUNCED))  # also those a reused decoder learnt
    if missing:
        raise DataError(f"transcript words {missing[:10]} are not in the CMU dictionary and "
                        f"espeak-ng gave no pronunciation: expected dictionary words (spell "
                        f"names and acronyms as they sound)")
    pcm = to_s16(np.asarray(audio, np.float32)).tobytes()
    dec.set_align_text(" ".join(words))
    # The cepstral mean adapts across utterances: reset the feature state, so a reused decoder
    # aligns exactly as a fresh one does.
    dec.reinit_feat()
    for first in (True, False):  # pass 1 finds words, pass 2 (set_alignment) their phones
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        if first:
            try:
                dec.set_alignment()
            except RuntimeError:
                raise DataError("pocketsphinx could not align the recording to its transcript: "
                                "expected speech that reads the text (check both files)") \
                    from None
    # Copy out while iterating: the phone objects do not outlive the alignment iterator.
    phones = [(phone.name, phone.start, phone.duration, phone.score)
              for word in dec.get_alignment() for phone in word]
    segs = [(name, start * FRAME_S, (start + dur) * FRAME_S) for name, start, dur, _ in phones]
    if not segs:
        raise DataError("pocketsphinx returned an empty alignment: expected speech that reads "
                        "the transcript")
    speech = [(dur, score) for name, _, dur, score in phones
              if normalise_label(name, "arpabet") != SILENCE]
    frames = sum(d for d, _ in speech)
    loud = speech_frames(audio, SAMPLE_RATE, edges or SpeechEdges())
    score = AlignmentScore(per_frame=sum(s for _, s in speech) / frames if frames else -1e9,
                           speech_s=frames * FRAME_S, words=len(words),
                           unspoken=_unspoken(loud, phones), guessed=guessed)
    if edges is not None:
        segs = trim_to_speech(segs, loud, edges)
    total = len(audio) / SAMPLE_RATE
    filled, t = [], 0.0
    for label, s, e in segs:
        if s > t + 1e-6:
            filled.append(("sil", t, s))
        filled.append((label, s, min(e, total)))
        t = e
    if t < total:
        filled.append(("sil", t, total))
    return PhonemeTimeline.from_segments(filled, "arpabet"), score


_PRONOUNCED: set[str] = set()  # words outside the CMU dictionary given to a decoder by rule


def _add_pronunciations(dec, unknown: set[str]) -> list[str]:
    """Words the decoder's dictionary lacks (names: "geralt") -> added with espeak-ng's
    pronunciation (data/pronounce.py) and remembered in _PRONOUNCED. Returns those that could
    not be, sorted. A decoder keeps what was added to it."""
    from .pronounce import pronounce
    missing = []
    for word in sorted(unknown):
        phones = pronounce(word)
        try:
            if phones is None:
                raise RuntimeError(word)
            dec.add_word(word, phones, True)
        except RuntimeError:
            missing.append(word)
        else:
            _PRONOUNCED.add(word)
    return missing


def _inside(n: int, phones) -> np.ndarray:
    """(n,) bool: frames inside aligned phones that are not silence. `phones`: (name, start
    frame, frames, score)."""
    inside = np.zeros(n, bool)
    for name, start, dur, _ in phones:
        if normalise_label(name, "arpabet") != SILENCE:
            inside[max(start, 0):start + dur] = True
    return inside


def _unspoken(loud: np.ndarray, phones) -> tuple:
    """((start s, end s), ...): runs of loud frames outside every aligned speech phone, each
    UNSPOKEN_MIN_S or longer (shorter ones are a breath, a click or an edge the search drew a
    little early)."""
    out = loud & ~_inside(len(loud), phones)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], out.astype(np.int8), [0]])))
    return tuple((a * FRAME_S, b * FRAME_S) for a, b in zip(edges[::2], edges[1::2])
                 if (b - a) * FRAME_S >= UNSPOKEN_MIN_S - 1e-9)


def decode_whole(dec, audio: np.ndarray) -> None:
    """One whole clip through a pocketsphinx search (the phone loop, the word search). The
    cepstral mean adapts across utterances: it is reset first, so a clip is heard the same
    whatever was heard before it (as `align_scored` does)."""
    dec.reinit_feat()
    dec.start_utt()
    dec.process_raw(to_s16(np.asarray(audio, np.float32)).tobytes(), full_utt=True)
    dec.end_utt()


def word_search():
    """pocketsphinx's word search with the English language model and dictionary in its wheel."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise DataError("pocketsphinx is not installed: expected it for word recognition "
                        "(pip install pocketsphinx)") from None
    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")


_SEARCHED: "OrderedDict[tuple, list]" = OrderedDict()  # audio -> its words, the last few
_SEARCH_LOCK = threading.Lock()  # one search at a time (pocketsphinx holds the GIL anyway)
_SEARCH = None  # the process's word search, loaded on first use (~90 MB)
SEARCHED_KEPT = 4


def searched_words(audio: np.ndarray) -> list[tuple[str, float, float]]:
    """`heard_words` of a whole 16 kHz clip through the process's one word search (`word_search`,
    loaded on first use; the phone layer and the aligner each loaded their own, ~90 MB apiece).
    The words of the last few clips are kept: the phone layer and the aligner, which both search
    a clip whose transcript did not fit (~0.2 x real time each), search it once. A search hears
    a clip afresh (`decode_whole`), so a kept answer is the same. Thread-safe."""
    global _SEARCH
    pcm = np.ascontiguousarray(audio, np.float32)
    key = (len(pcm), hashlib.blake2b(pcm.tobytes(), digest_size=16).digest())
    with _SEARCH_LOCK:
        if key in _SEARCHED:
            _SEARCHED.move_to_end(key)
            return list(_SEARCHED[key])
        if _SEARCH is None:
            _SEARCH = word_search()
        try:
            decode_whole(_SEARCH, pcm)
            words = heard_words(_SEARCH)
        except Exception:
            _SEARCH = None  # one stuck mid-utterance refuses the next: made afresh
            raise
        _SEARCHED[key] = words
        while len(_SEARCHED) > SEARCHED_KEPT:
            _SEARCHED.popitem(last=False)
        return list(words)


def forget_searched() -> None:
    """Forget the kept words of the last clips (`searched_words`), so the next search of any
    clip is a first one (benches timing a search)."""
    with _SEARCH_LOCK:
        _SEARCHED.clear()


def heard_words(dec) -> list[tuple[str, float, float]]:
    """The words a word search decoded last: [(word, start s, end s)], fillers and silences
    left out, alternative pronunciations ("read(2)") named by their word."""
    return [(seg.word.split("(")[0], seg.start_frame * FRAME_S, (seg.end_frame + 1) * FRAME_S)
            for seg in (dec.seg() or []) if seg.end_frame >= seg.start_frame
            and not seg.word.startswith(("<", "[", "+"))]


class Aligner:
    """One pocketsphinx decoder reused for many alignments, safe to share between threads.

    A recording longer than `long_s` is aligned in stretches of about `stretch_s` (aligned whole,
    memory grows much faster than the length: 5 minutes took 1.9 GB, 8 minutes 4 GB): pocketsphinx's
    word search (its wheel's English language model) hears the words with their times, the
    transcript is matched to them word by word, and the recording and the transcript are cut
    together in pauses between words heard as the transcript has them. Where too few words are
    heard as written to cut at, the recording is aligned whole.

    With `min_fit` (a floor on the score per speech frame), a transcript that does not fit
    as a whole is tried again in stretches of about RESCUE_STRETCH_S cut the same way: a sentence
    left out in the middle, or one said differently, spoils only its own stretch. The stretches
    that fit keep their words; one that does not is left to the audio (it becomes `unspoken`,
    whole) and counted in `AlignmentScore.refused`."""

    def __init__(self, edges: SpeechEdges | None = SpeechEdges(), long_s: float = LONG_S,
                 stretch_s: float = STRETCH_S) -> None:
        self._decoder = _decoder()
        self._lock = threading.Lock()
        self._edges = edges
        self._long_s, self._stretch_s = long_s, stretch_s

    def align(self, audio: np.ndarray, text: str, min_fit: float | None = None
              ) -> tuple[PhonemeTimeline, AlignmentScore]:
        with self._lock:
            duration = len(audio) / SAMPLE_RATE
            if duration > self._long_s:
                cuts = self._cuts(audio, text, self._stretch_s)
                if cuts:
                    return self._align_stretches(audio, normalise_text(text), cuts, min_fit)
            try:
                whole, failure = align_scored(audio, text, self._decoder, self._edges), None
            except DataError as e:
                self._decoder = _decoder()  # a failed alignment leaves the search unusable
                whole, failure = None, e
            if min_fit is not None and duration >= 2 * RESCUE_STRETCH_S \
                    and (whole is None or whole[1].per_frame < min_fit):
                cuts = self._cuts(audio, text, RESCUE_STRETCH_S)
                if cuts:
                    rescued = self._align_stretches(audio, normalise_text(text), cuts, min_fit)
                    if rescued[1].speech_s > 0:
                        return rescued
            if failure is not None:
                raise failure
            return whole

    def _cuts(self, audio: np.ndarray, text: str, stretch_s: float) -> list[tuple[float, int]]:
        """[(time s, transcript words before it)] to cut a recording at ([]: none)."""
        try:
            heard = searched_words(audio)
        except Exception:  # the search failed: align whole, as before
            return []
        return transcript_cuts(normalise_text(text), heard, stretch_s)

    def _align_stretches(self, audio: np.ndarray, words: list[str],
                         cuts: list[tuple[float, int]], min_fit: float | None = None
                         ) -> tuple[PhonemeTimeline, AlignmentScore]:
        """Each stretch with its own words. Without `min_fit` a stretch that cannot be aligned
        is a DataError; with it, such a stretch, or one scoring under it, is left to the audio:
        silence in the timeline, `unspoken` as a whole, its words not counted."""
        total = len(audio) / SAMPLE_RATE
        bounds = [(0.0, 0)] + cuts + [(total, len(words))]
        segs, scores, refused = [], [], []
        for (t0, w0), (t1, w1) in zip(bounds, bounds[1:]):
            first, last = int(round(t0 * SAMPLE_RATE)), int(round(t1 * SAMPLE_RATE))
            t0, t1 = first / SAMPLE_RATE, last / SAMPLE_RATE
            try:
                timeline, score = align_scored(audio[first:last], " ".join(words[w0:w1]),
                                               self._decoder, self._edges)
            except DataError as e:
                self._decoder = _decoder()
                if min_fit is None:
                    raise DataError(f"{t0:.1f}-{t1:.1f} s of the recording: {e}") from None
                score = None
            if score is None or (min_fit is not None and score.per_frame < min_fit):
                segs.append(("sil", t0, t1))
                refused.append((t0, t1, w1 - w0))
                continue
            segs += [(lab, t0 + a, t0 + b) for lab, a, b in
                     zip(timeline.labels, timeline.starts, timeline.ends)]
            scores.append((t0, t1, score))
        speech = sum(sc.speech_s for _, _, sc in scores)
        unspoken = [(a + x, a + y) for a, _, sc in scores for x, y in sc.unspoken]
        score = AlignmentScore(
            per_frame=sum(sc.per_frame * sc.speech_s for _, _, sc in scores) / speech
            if speech else -1e9,
            speech_s=speech, words=len(words) - sum(n for _, _, n in refused),
            guessed=tuple(sorted({w for _, _, sc in scores for w in sc.guessed})),
            unspoken=tuple(sorted(unspoken + [(a, b) for a, b, _ in refused])),
            stretches=len(scores) + len(refused), refused=len(refused))
        return PhonemeTimeline.from_segments(segs, "arpabet"), score


def transcript_cuts(words: list[str], heard: list[tuple[str, float, float]],
                    stretch_s: float, min_pause_s: float = 0.1) -> list[tuple[float, int]]:
    """Where to cut a long recording and its transcript together: `words` the transcript's
    (normalised), `heard` the word search's (word, start s, end s) in order. A cut lies in the
    middle of a pause of `min_pause_s` or more between two words heard one after the other
    exactly as the transcript has them, once `stretch_s` have passed since the last cut. The
    transcript is matched to the words heard one window at a time from the last cut (up to
    3 x `stretch_s` of words heard), by the fewest word edits: a text that repeats itself cannot
    pair a pause with the wrong repetition. Returns [(time s, transcript words before it)]."""
    ids: dict[str, int] = {}
    text = np.array([ids.setdefault(w, len(ids)) for w in words], np.int64)
    said = np.array([ids.setdefault(w, len(ids)) for w, _, _ in heard], np.int64)
    cuts, last, w0, j0 = [], 0.0, 0, 0
    while j0 < len(heard) and w0 < len(words):
        j1, limit = j0, max(last, heard[j0][1]) + 3 * stretch_s  # (a long silence: go past it)
        while j1 < len(heard) and heard[j1][1] < limit:
            j1 += 1
        j1 = min(j1 + 5, len(heard))  # and the words just after: a pause has two sides
        pairs = _matched(text[w0:w0 + 2 * (j1 - j0) + 20], said[j0:j1])
        matched = set(pairs)
        cut = None
        for i, j in pairs:
            if (i + 1, j + 1) not in matched:
                continue
            end, start = heard[j0 + j][2], heard[j0 + j + 1][1]
            if start - end >= min_pause_s and start - last >= stretch_s:
                cut = (0.5 * (end + start), w0 + i + 1, j0 + j + 1)
                break
        if cut is None:
            break
        last, w0, j0 = cut
        cuts.append((last, w0))
    return cuts


def _matched(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """The word pairs (i, j), a[i] == b[j], on a path of fewest edits (substitutions,
    insertions, deletions) from the start of both to the end of `b`; `a`'s tail is free."""
    n, m = len(a), len(b)
    if not n or not m:
        return []
    cols = np.arange(m + 1)
    d = np.empty((n + 1, m + 1), np.int64)
    d[0] = cols
    for i in range(1, n + 1):
        row = np.empty(m + 1, np.int64)
        row[0] = i
        row[1:] = np.minimum(d[i - 1, 1:] + 1, d[i - 1, :-1] + (b != a[i - 1]))
        d[i] = np.minimum.accumulate(row - cols) + cols  # words heard that the text lacks
    i, j = int(np.argmin(d[:, m])), m
    pairs = []
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1] and d[i, j] == d[i - 1, j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        elif d[i, j] == d[i, j - 1] + 1:
            j -= 1
        else:
            i, j = i - 1, j - 1
    return pairs[::-1]


def compare_timelines(reference: PhonemeTimeline, other: PhonemeTimeline) -> dict:
    """Match two timelines of the same speech by viseme class and compare phone start times.

    Returns matched (share of the reference's non-silent visemes matched), median_ms and p90_ms
    (absolute start-time differences), n (matched pairs)."""
    def seq(tl: PhonemeTimeline):
        out = []
        for lab, s in zip(tl.labels, tl.starts):
            if lab != SILENCE:
                out.append((to_visemes(lab, tl.phoneset)[0], float(s)))
        return out

    a, b = seq(reference), seq(other)
    sm = difflib.SequenceMatcher(a=[x[0] for x in a], b=[x[0] for x in b], autojunk=False)
    diffs = [abs(a[blk.a + k][1] - b[blk.b + k][1]) for blk in sm.get_matching_blocks()
             for k in range(blk.size)]
    if not diffs:
        return {"matched": 0.0, "median_ms": float("inf"), "p90_ms": float("inf"), "n": 0}
    d = np.array(diffs) * 1000
    return {"matched": len(diffs) / max(len(a), 1), "median_ms": float(np.median(d)),
            "p90_ms": float(np.percentile(d, 90)), "n": len(diffs)}


def cut_points(timeline: PhonemeTimeline, config: AlignConfig) -> list[float]:
    """Times (s) to cut a long recording at: middles of pauses, clips <= max_clip_s if possible."""
    total = timeline.duration
    pauses = [(s + e) / 2 for lab, s, e in zip(timeline.labels, timeline.starts, timeline.ends)
              if lab == SILENCE and e - s >= config.min_pause_s and 0 < s and e < total]
    cuts, start = [], 0.0
    for k, m in enumerate(pauses):
        nxt = pauses[k + 1] if k + 1 < len(pauses) else total
        if m - start >= config.min_clip_s and nxt - start > config.max_clip_s:
            cuts.append(m)
            start = m
    return cuts


def read_audio(path: str | Path) -> np.ndarray:
    """A speech file (wav, flac, ogg, mp3) -> 16 kHz mono float32. Read through audio.io (no
    header sizes an array; a size limit) and checked by to_float_mono (rate, NaN, range)."""
    from ..audio.features import to_float_mono
    from ..audio.io import read_audio as read_file
    from ..errors import AudioError
    try:
        audio, rate = read_file(path)
        mono = to_float_mono(audio, rate)
    except AudioError as e:
        raise DataError(f"audio file {str(path)!r} is not usable ({e})") from None
    return to_16k(mono, rate)


def read_transcript(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"transcript {str(path)!r} is not UTF-8 text ({e}): expected the words "
                        f"spoken, in UTF-8") from None


def build_aligned(audio_path: str | Path, text_path: str | Path, out: str | Path, *,
                  speaker: str = "user", split: str = "train", seed: int = 0,
                  teacher: TeacherConfig = TeacherConfig(),
                  config: AlignConfig = AlignConfig()) -> dict:
    """Align one recording and append its clips to the dataset at `out`."""
    if split not in ("train", "validation"):
        raise DataError(f"split {split!r} is unknown: expected 'train' or 'validation'")
    text_path = Path(text_path)
    if not text_path.is_file():
        raise DataError(f"transcript {str(text_path)!r} {not_a_file(text_path)}: expected a "
                        f"text file")
    text = read_transcript(text_path)
    if not normalise_text(text):
        raise DataError(f"transcript {str(text_path)!r} has no words: expected the English words "
                        f"said in {str(audio_path)!r}")
    audio = read_audio(audio_path)
    digest = hashlib.sha1(audio.tobytes()).hexdigest()[:16]
    out = Path(out)
    new = not out.exists()
    info, rows = open_for_append(out, "aligned", teacher.fps,
                                 {"teacher": asdict(teacher), "recordings": {}})
    if digest in info.get("recordings", {}):
        there = info["recordings"][digest]
        return {"clips": 0, "skipped": True, "seconds": 0.0, "speaker": there["speaker"],
                "split": there["split"]}
    check_one_split(info.get("recordings", {}).values(), speaker, speaker, split, out)
    try:
        try:
            timeline, score = Aligner().align(audio, text, config.min_fit)
        except DataError as e:  # name the files: the aligner knows only samples and words
            raise DataError(f"{str(audio_path)!r} with transcript {str(text_path)!r}: {e}") \
                from None
        if score.per_frame < config.min_fit:
            raise DataError(f"transcript {str(text_path)!r} does not fit {str(audio_path)!r} "
                            f"(alignment score {score.per_frame:.1f} per frame, expected >= "
                            f"{config.min_fit:g}): expected the words said in the recording")
    except DataError:
        if new:
            out.rmdir()  # made for this recording, still empty: a refusal leaves nothing
        raise
    bounds = [0.0] + cut_points(timeline, config) + [len(audio) / SAMPLE_RATE]
    index = max((r["index"] for r in rows), default=-1) + 1
    made, left_out = [], []
    for k, (t0, t1) in enumerate(zip(bounds[:-1], bounds[1:])):
        if any(a < t1 and b > t0 for a, b in score.unspoken):
            # speech the transcript has no words for: the teacher would keep the mouth shut
            # through it, and the model would learn to
            left_out.append((t0, t1))
            continue
        a = audio[int(round(t0 * SAMPLE_RATE)):int(round(t1 * SAMPLE_RATE))]
        tl = timeline.slice(t0, t1)
        clip_seed = int(np.random.default_rng([seed, index]).integers(0, 2**31 - 1))
        style = Speaker.draw(np.random.default_rng(clip_seed), teacher)
        motion = teach(tl, a, SAMPLE_RATE, config=teacher, seed=clip_seed, speaker=style)
        meta = {"engine": "recording", "voice": speaker, "speaker": f"recording:{speaker}",
                "gender": "unknown", "language": "en", "text": " ".join(
                    w for w in normalise_text(text)) if
                len(bounds) == 2 else None, "kind": None, "seed": seed, "index": index,
                "teacher_seed": clip_seed, "style": style.as_dict(), "augmentation": None,
                "split": split, "source": "aligned", "recording": str(audio_path),
                "recording_sha1": digest, "offset_s": round(t0, 4),
                "pronounced_by_rule": list(score.guessed)}
        made.append(write_clip(out, index, a, tl, motion, meta))
        index += 1
    info["recordings"][digest] = {"path": str(audio_path), "transcript": str(text_path),
                                  "speaker": speaker, "split": split, "clips": len(made)}
    write_json(out / "dataset.json", info)
    write_manifest(out, rows + made)
    return {"clips": len(made), "skipped": False,
            "seconds": sum(r["duration_s"] for r in made), "fit": score.per_frame,
            "guessed": list(score.guessed), "unspoken": [list(u) for u in score.unspoken],
            "left_out": [list(c) for c in left_out]}
