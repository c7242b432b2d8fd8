"""Exact lips when the words are known: forced alignment of the transcript drives the mouth.

`bake_audio(..., text=...)` (model/bake.py) and the runtime's `speak` with a `text` call this:

    transcript -> pocketsphinx forced alignment (data/align.py) -> ARPAbet phone timeline
               -> the viseme teacher's mouth (data/teacher.py `mouth`, the style the model was
                  trained to imitate, without random speaker variation)
               -> replaces the model's articulation channels; head, eyes, brows, cheeks and
                  expression stay the model's own.

Why the teacher for the mouth rather than the alignment as a model condition: the teacher is what
the model is trained to imitate, so on the alignment it is the target itself (bench/
bench_transcript.py measures both routes available without retraining; docs/model.md).

A transcript that does not fit its audio falls back to the audio-only motion with one warning.
"Fits" is measured: pocketsphinx scores every frame relative to the best-scoring state in that
frame, and the mean over the aligned speech frames of a right transcript of a real voice stays
above -14 where a wrong one scores -19 or less (`MIN_FIT`, calibrated in bench_transcript.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError, DataError
from ..motion import MotionTrack
from ..motion.names import INDEX, NUM_BLENDSHAPES

log = logging.getLogger(__name__)

ALIGNERS = {"en": "pocketsphinx en-us"}  # languages with a forced aligner here
MAX_TEXT_CHARS = 4000  # longest transcript accepted by default (the control channel's cap too)
MAX_FILE_TEXT_CHARS = 40000  # `bake --text/--text-file`: about 45 minutes of speech, aligned in
#                              stretches (data/align.py `Aligner`)
MIN_FIT = -18.0  # mean acoustic score per aligned speech frame below which text does not fit
# Around speech the transcript has no words for, the audio's mouth this much longer (lip lead and
# a phone's transition; chosen on festival's voices: bench_transcript.py --margin-sweep), then
# back to the transcript's over UNSPOKEN_RAMP_S.
UNSPOKEN_MARGIN_S = 0.12
UNSPOKEN_RAMP_S = 0.08
LATE_RAMP = 3  # frames over which a clip's mouth worked out while it plays takes over

# The articulation: every channel a viseme moves (data/visemes.py TARGETS), from the teacher.
# mouthSmile is also an expression (happy): the larger of the teacher's and the model's.
_TEACHER_NAMES = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft",
                  "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugUpper",
                  "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
                  "mouthUpperUpLeft", "mouthUpperUpRight", "tongueOut")
_SHARED_NAMES = ("mouthSmileLeft", "mouthSmileRight")
TEACHER_CHANNELS = np.array([INDEX[n] for n in _TEACHER_NAMES])
SHARED_CHANNELS = np.array([INDEX[n] for n in _SHARED_NAMES])
_MOVED = np.concatenate([TEACHER_CHANNELS, SHARED_CHANNELS])
MODEL_CHANNELS = np.array(sorted(set(range(NUM_BLENDSHAPES)) - set(TEACHER_CHANNELS)
                                 - set(SHARED_CHANNELS)))
_LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True)
class TranscriptConfig:
    language: str = "en"  # language of the transcript (only "en" has an aligner)
    min_fit: float = MIN_FIT  # pocketsphinx score per speech frame: below it, fall back
    max_chars: int = MAX_TEXT_CHARS  # longest transcript accepted

    def __post_init__(self) -> None:
        check_language(self.language)


@dataclass(frozen=True)
class TextOutcome:
    """What became of a transcript: `used` True when it drove the mouth, else the reason."""

    used: bool
    message: str  # one line: what happened (the warning text when not used)
    fit: float | None = None  # pocketsphinx score per speech frame (None: not aligned)
    unspoken: tuple = ()  # ((start s, end s), ...) of the clip: speech the transcript has no
    #                       words for (a sentence left out); the audio's own mouth there

    def as_dict(self) -> dict:
        return {"used": self.used, "message": self.message,
                "fit": None if self.fit is None else round(self.fit, 2),
                "unspoken": [[round(a, 2), round(b, 2)] for a, b in self.unspoken]}


def check_language(language: str) -> str:
    """A language code like 'en', 'de' or 'pt-BR'; anything else is a ConfigError."""
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise ConfigError(f"language {language!r} is not a language code: expected e.g. 'en', "
                          f"'de' or 'fr'")
    return language


def check_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if not isinstance(text, str):
        raise ConfigError(f"transcript is a {type(text).__name__}: expected text")
    if len(text) > limit:
        raise ConfigError(f"transcript is {len(text)} characters: the limit is {limit}")
    return text


def has_aligner(language: str) -> bool:
    return language.split("-")[0].split("_")[0].lower() in ALIGNERS


def teacher_mouth(timeline, n_frames: int, fps: float) -> np.ndarray:
    """(T, 52) the viseme teacher's jaw, lips and tongue on a phone timeline (other channels 0),
    frame i at i / fps, with the teacher's default style (no random speaker variation)."""
    return teacher_mouth_at(timeline, np.arange(n_frames) / fps)


def teacher_mouth_at(timeline, times: np.ndarray) -> np.ndarray:
    """(T, 52) the same at evenly spaced `times` (seconds of the timeline)."""
    from ..data.teacher import Speaker, TeacherConfig, mouth
    style = Speaker.draw(np.random.default_rng(0), TeacherConfig(speaker_jitter=0.0))
    return np.clip(mouth(timeline, np.asarray(times, np.float64), style), 0.0, 1.0)


def clip_frames(start_sample: int, n_samples: int, rate: int, fps: float) -> tuple[int, int]:
    """(first, end) output frames of a clip at stream position `start_sample` (frame j at
    j / fps): the frames from its first sample to its last."""
    return (int(np.ceil(start_sample * fps / rate - 1e-9)),
            int(np.ceil((start_sample + n_samples) * fps / rate - 1e-9)))


@dataclass(frozen=True)
class MouthOverlay:
    """The teacher's mouth for one clip of a live stream, at the stream's output frames: the
    runtime lays it over whatever the engine makes while the clip plays."""

    first: int  # output frame index of shapes[0]
    shapes: np.ndarray  # (n, 52) teacher mouth at output frames first .. first + n - 1
    weights: np.ndarray | None = None  # (n,) the teacher's share (`text_weights`); None: all

    @classmethod
    def at(cls, timeline, start_sample: int, n_samples: int, rate: int,
           fps: float, unspoken=()) -> "MouthOverlay":
        """A clip whose first sample is at stream position `start_sample` (frame j at j / fps);
        `unspoken`: `TextOutcome.unspoken` (seconds of the clip), where the engine's mouth stays."""
        first, end = clip_frames(start_sample, n_samples, rate, fps)
        times = np.arange(first, max(end, first)) / fps - start_sample / rate
        return cls(first, teacher_mouth_at(timeline, times).astype(np.float32),
                   text_weights(unspoken, times))

    @property
    def end(self) -> int:
        return self.first + len(self.shapes)

    def apply(self, shapes: np.ndarray, index: int) -> np.ndarray:
        """(52,) one output frame's shapes -> with the clip's articulation (unchanged outside)."""
        if not self.first <= index < self.end:
            return shapes
        k = index - self.first
        return combine(shapes[None], self.shapes[k][None],
                       None if self.weights is None else self.weights[k:k + 1])[0]


class LateMouth:
    """A live stream's clip whose mouth is worked out while it plays (its words heard whole,
    `runtime.Runtime.queue_clip(heard=)`): the engine's mouth until `fill` brings the clip's
    phones, then theirs, eased in over LATE_RAMP frames, for the frames not yet played."""

    def __init__(self, start_sample: int, n_samples: int, rate: int, fps: float) -> None:
        self._at = (int(start_sample), int(n_samples), int(rate), float(fps))
        self.end = clip_frames(*self._at)[1]
        self.overlay: MouthOverlay | None = None  # set once, from the hearing thread
        self.done = False  # `fill` has been called (after `overlay`)
        self._since: int | None = None  # the first output frame that saw the overlay

    @property
    def seconds(self) -> float:
        """The clip's length."""
        return self._at[1] / self._at[2]

    def fill(self, timeline) -> None:
        """The clip's phone timeline (None: nothing heard; the engine's mouth stays)."""
        if timeline is not None:
            start, n, rate, fps = self._at
            self.overlay = MouthOverlay.at(timeline, start, n, rate, fps)
        self.done = True

    def apply(self, shapes: np.ndarray, index: int) -> np.ndarray:
        overlay = self.overlay
        if overlay is None:
            return shapes
        if self._since is None:
            self._since = index  # known before the clip starts: fully on by its first frame
        if not overlay.first <= index < overlay.end:
            return shapes
        k = index - overlay.first
        w = min(1.0, (index - self._since + 1) / (LATE_RAMP + 1))
        return combine(shapes[None], overlay.shapes[k][None], np.array([w], np.float32))[0]


class PhraseMouth(LateMouth):
    """A phrase of a live voice heard whole before it plays (`serve --mic --hear-ahead`):
    `fill` with the timeline of words trusted with the seals gives its mouth whole, as a clip's
    (`LateMouth`); with `phones.HeardPhones`, its recognised phones go to the stream's phone
    layer (`on_phones(overlay)`: `ModelEngine.hear_phrase`) in place of those it decides as the
    audio streams in."""

    def __init__(self, start_sample: int, n_samples: int, rate: int, fps: float,
                 on_phones) -> None:
        super().__init__(start_sample, n_samples, rate, fps)
        self._on_phones = on_phones

    def fill(self, timeline) -> None:
        from .phones import HeardPhones
        if isinstance(timeline, HeardPhones):
            try:
                self._on_phones(MouthOverlay.at(timeline.timeline, *self._at))
            except Exception as e:  # noqa: BLE001 - the phrase plays on with the live mouth
                log.warning("a phrase's phones did not reach the live mouth (%r): it stays the "
                            "phones heard as it streamed", e)
            timeline = None  # the engine's mouth, steered by these phones
        super().fill(timeline)


def combine(model_shapes: np.ndarray, teacher_shapes: np.ndarray,
            weights: np.ndarray | None = None) -> np.ndarray:
    """(T, 52) model + teacher -> articulation from the teacher, the rest from the model.
    `weights` (T,): the teacher's share per frame (None: 1 everywhere)."""
    out = np.array(model_shapes, np.float32, copy=True)
    out[:, TEACHER_CHANNELS] = teacher_shapes[:, TEACHER_CHANNELS]
    out[:, SHARED_CHANNELS] = np.maximum(model_shapes[:, SHARED_CHANNELS],
                                         teacher_shapes[:, SHARED_CHANNELS])
    if weights is not None:
        w = np.asarray(weights, np.float32)[:, None]
        out[:, _MOVED] = w * out[:, _MOVED] + (1.0 - w) * np.asarray(model_shapes)[:, _MOVED]
    return out


def align_text(audio_16k: np.ndarray, text: str, config: TranscriptConfig = TranscriptConfig(),
               aligner=None):
    """-> (phone timeline or None, TextOutcome). Never raises for a transcript that does not
    fit, a language without an aligner or a missing pocketsphinx: it says why instead."""
    check_text(text, config.max_chars)
    lang = config.language
    if not has_aligner(lang):
        return None, TextOutcome(False, f"no forced aligner for language {lang!r} (only "
                                        f"{', '.join(ALIGNERS)}: {', '.join(ALIGNERS.values())})"
                                        f": the mouth follows the audio only")
    from ..data.align import Aligner
    try:
        timeline, score = (aligner or Aligner()).align(audio_16k, text, config.min_fit)
    except DataError as e:
        return None, TextOutcome(False, f"transcript not used ({e}): the mouth follows the "
                                        f"audio only")
    if score.per_frame < config.min_fit:
        return None, TextOutcome(False, f"transcript {_brief(text)} does not fit the audio "
                                        f"(alignment score {score.per_frame:.1f} per frame, "
                                        f"expected >= {config.min_fit:g}): the mouth follows "
                                        f"the audio only", score.per_frame)
    stretches = score.stretches
    pieces = f", in {stretches} stretches" if stretches > 1 else ""
    if score.refused:
        pieces += f", {score.refused} of them not fitting their words"
    message = (f"transcript aligned ({score.words} words, {score.speech_s:.2f} s of speech, "
               f"score {score.per_frame:.1f} per frame{pieces})")
    if score.guessed:
        message += (f"; pronounced by espeak-ng's rules (not in the CMU dictionary): "
                    f"{', '.join(repr(w) for w in score.guessed[:10])}"
                    f"{' ...' if len(score.guessed) > 10 else ''}")
    if score.unspoken:
        missing = sum(b - a for a, b in score.unspoken)
        message += (f"; {missing:.2f} s of speech in {len(score.unspoken)} stretch"
                    f"{'es' if len(score.unspoken) > 1 else ''} has no words in it (first at "
                    f"{score.unspoken[0][0]:.2f} s): the mouth follows the audio there")
    return timeline, TextOutcome(True, message, score.per_frame, score.unspoken)


def use_alignment(track: MotionTrack, timeline, outcome: "TextOutcome"
                  ) -> tuple[MotionTrack, "TextOutcome"]:
    """A model track (frame i at i / fps) and `align_text`'s answer -> the track with the mouth
    from `timeline`, or (None: the transcript did not fit) unchanged, the reason logged as one
    warning."""
    if timeline is None:
        log.warning(outcome.message)
        return track, outcome
    (log.warning if outcome.unspoken else log.info)(outcome.message)
    teacher = teacher_mouth(timeline, len(track), track.fps)
    shapes = combine(track.blendshapes, teacher,
                     text_weights(outcome.unspoken, np.arange(len(track)) / track.fps))
    return replace(track, blendshapes=shapes), outcome


def text_weights(unspoken, times: np.ndarray, margin_s: float | None = None,
                 ramp_s: float | None = None) -> np.ndarray | None:
    """(T,) how much of the transcript's mouth to use at `times` (seconds of the clip): 0 in
    the stretches of speech it has no words for and `margin_s` around them (the lips move
    before the sound starts and after it stops), 1 elsewhere, ramping over `ramp_s` beyond
    that so the mouth does not jump; None when there is no such stretch."""
    if not unspoken:
        return None
    margin_s = UNSPOKEN_MARGIN_S if margin_s is None else margin_s
    ramp_s = UNSPOKEN_RAMP_S if ramp_s is None else ramp_s
    times = np.asarray(times, np.float64)
    w = np.ones(len(times))
    for a, b in unspoken:
        away = np.maximum(a - times, times - b) - margin_s  # <= 0 within the margin
        w = np.minimum(w, np.clip(away / max(ramp_s, 1e-9), 0.0, 1.0))
    return w


def _brief(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
