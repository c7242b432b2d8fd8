"""The viseme teacher: phoneme timeline (+ the audio's prosody) -> ARKit-52 `MotionTrack`.

Mouth: each phoneme becomes one or more visemes (`visemes.py`); every viseme pulls the jaw, the
lips and the tongue towards its target with a *dominance* that decays away from its segment
(Cohen & Massaro 1993, "Modeling coarticulation in synthetic visual speech"): the output is the
dominance-weighted mean of the targets, per articulator group. The lips run `lip_lead` ahead of
the audio (they anticipate the next sound), bilabials are forced to a sealed mouth for at least one
frame, and a per-speaker articulation strength scales the result.

Face and head: blinks (Poisson at the speaker's rate plus extra ones at phrase ends), brow raises
on pitch accents and on questions, nods on accents, turns per phrase, slow drift, breathing,
gaze fixations with aversions, and a resting face in silence. Everything random is drawn from one
`numpy.random.Generator` seeded per clip, so a clip is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..audio.pcm import SAMPLE_RATE
from ..errors import DataError
from ..motion import MotionTrack
from ..motion.names import INDEX, NUM_BLENDSHAPES
from .phonemes import SILENCE, PhonemeTimeline
from .prosody import FrameProsody, frame_prosody
from .visemes import DOMINANCE, GROUPS, TARGETS, VISEME_INDEX, to_visemes

_GROUP_COLS = {g: np.array([INDEX[n] for n in names]) for g, names in GROUPS.items()}
_G = {"jaw": 0, "lips": 1, "tongue": 2}
_MOUTH_COLS = np.concatenate([_GROUP_COLS["jaw"], _GROUP_COLS["lips"], _GROUP_COLS["tongue"]])
_LEFT = np.array([i for n, i in INDEX.items() if n.endswith("Left") and n.startswith("mouth")])
_RIGHT = np.array([INDEX[n[:-4] + "Right"] for n, i in INDEX.items()
                   if n.endswith("Left") and n.startswith("mouth")])
_PP = VISEME_INDEX["PP"]
_SIL = VISEME_INDEX["sil"]
_TAU_BEFORE = 0.07  # s: dominance decay towards earlier times (anticipation reaches further)
_TAU_AFTER = 0.05  # s: decay towards later times (carry-over)
_REACH = 0.6  # s: beyond this a segment has no influence (exp(-0.6/0.05) ~ 6e-6)
_CLOSURE_TAPER = 0.025  # s: ramp into and out of a forced bilabial closure


@dataclass(frozen=True)
class TeacherConfig:
    fps: float = 25.0  # motion frames per second
    lip_lead_ms: float = 40.0  # lips anticipate the audio by this much
    jaw_lead_ms: float = 20.0  # the jaw anticipates less
    articulation: float = 1.0  # mouth/jaw amplitude (1 = the tables' targets)
    speaker_jitter: float = 1.0  # 0: every clip uses these values exactly; 1: full random style
    blink_rate_per_min: float = 17.0  # mean spontaneous blink rate
    nonverbal: float = 1.0  # 0: mouth only (no blinks, brows, head or gaze motion)

    def __post_init__(self) -> None:
        if not 1 <= self.fps <= 240:
            raise DataError(f"teacher fps is {self.fps!r}: expected 1..240")
        if not 0 <= self.speaker_jitter <= 1:
            raise DataError(f"speaker_jitter is {self.speaker_jitter!r}: expected 0..1")
        if not 0 < self.articulation <= 2:
            raise DataError(f"articulation is {self.articulation!r}: expected (0, 2]")


@dataclass(frozen=True)
class Speaker:
    """One clip's random style, drawn by `Speaker.draw` and stored in the clip's metadata."""

    articulation: float  # mouth amplitude multiplier
    lip_lead: float  # s
    jaw_lead: float  # s
    asymmetry: float  # left/right mouth imbalance, fraction
    blink_rate: float  # blinks per minute
    brow_gain: float  # brow raise multiplier
    head_gain: float  # head motion multiplier
    smile: float  # resting smile, blendshape units
    gaze_aversion: float  # probability that a fixation looks away from the camera

    @classmethod
    def draw(cls, rng: np.random.Generator, config: TeacherConfig = TeacherConfig()) -> "Speaker":
        j = config.speaker_jitter

        def vary(base: float, lo: float, hi: float) -> float:
            return float(base * (1 + j * rng.uniform(lo, hi)))

        return cls(articulation=vary(config.articulation, -0.2, 0.2),
                   lip_lead=vary(config.lip_lead_ms / 1000, -0.4, 0.4),
                   jaw_lead=vary(config.jaw_lead_ms / 1000, -0.4, 0.4),
                   asymmetry=float(j * rng.uniform(-0.08, 0.08)),
                   blink_rate=vary(config.blink_rate_per_min, -0.3, 0.3),
                   brow_gain=vary(1.0, -0.4, 0.4),
                   head_gain=vary(1.0, -0.4, 0.4),
                   smile=float(j * rng.uniform(0.0, 0.1)),
                   gaze_aversion=float(0.2 + j * rng.uniform(-0.1, 0.2)))

    def as_dict(self) -> dict:
        return {k: round(v, 5) for k, v in asdict(self).items()}


def teach(timeline: PhonemeTimeline, audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE,
          *, config: TeacherConfig = TeacherConfig(), seed: int = 0,
          speaker: Speaker | None = None, duration: float | None = None,
          question: bool | None = None) -> MotionTrack:
    """Motion for one clip. `audio` (clean speech) drives prosody; without it, stress marks and
    vowel lengths stand in. `question` adds the questioning brow/head gesture at the end (None:
    decided from a rising final pitch)."""
    rng = np.random.default_rng(seed)
    speaker = speaker or Speaker.draw(rng, config)
    if duration is None:
        duration = len(audio) / sample_rate if audio is not None else timeline.duration
    n = max(1, int(np.ceil(duration * config.fps - 1e-9)))
    times = np.arange(n) / config.fps  # (T,) frame i at i / fps
    shapes = mouth(timeline, times, speaker)
    rot = np.zeros((n, 3))
    trans = np.zeros((n, 3))
    if config.nonverbal > 0:
        pros = frame_prosody(audio, sample_rate, times) if audio is not None else None
        face, rot, trans = _nonverbal(timeline, times, pros, speaker, rng, question)
        shapes = _combine(shapes, face * config.nonverbal)
        rot *= config.nonverbal
        trans *= config.nonverbal
    shapes = np.clip(shapes, 0.0, 1.0)
    return MotionTrack(shapes.astype(np.float32), np.clip(rot, -60, 60).astype(np.float32),
                       np.clip(trans, -0.2, 0.2).astype(np.float32), config.fps)


# --- mouth -------------------------------------------------------------------------------------


def viseme_segments(timeline: PhonemeTimeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split phonemes into viseme segments: (viseme index (M,), start (M,), end (M,)).
    A two-viseme phoneme (a diphthong) gives 60% of its time to the first."""
    vis, starts, ends = [], [], []
    for label, s, e in zip(timeline.labels, timeline.starts, timeline.ends):
        seq = to_visemes(label, timeline.phoneset)
        if len(seq) == 1:
            bounds = [s, e]
        elif len(seq) == 2:
            bounds = [s, s + 0.6 * (e - s), e]
        else:
            bounds = list(np.linspace(s, e, len(seq) + 1))
        for k, v in enumerate(seq):
            vis.append(VISEME_INDEX[v])
            starts.append(bounds[k])
            ends.append(bounds[k + 1])
    return np.array(vis, np.int64), np.array(starts, np.float64), np.array(ends, np.float64)


def mouth(timeline: PhonemeTimeline, times: np.ndarray, speaker: Speaker) -> np.ndarray:
    """(T, 52) jaw, lip and tongue shapes (everything else 0)."""
    vis, starts, ends = viseme_segments(timeline)
    out = np.zeros((len(times), NUM_BLENDSHAPES))
    leads = {"jaw": speaker.jaw_lead, "lips": speaker.lip_lead, "tongue": speaker.jaw_lead}
    for group, cols in _GROUP_COLS.items():
        t = times + leads[group]  # evaluate the articulation `lead` seconds ahead in the audio
        num = np.zeros((len(times), len(cols)))
        den = np.full(len(times), 1e-3)  # a faint pull to rest where nothing is defined
        lo = np.searchsorted(t, starts - _REACH)
        hi = np.searchsorted(t, ends + _REACH)
        for m in range(len(vis)):
            if hi[m] <= lo[m]:
                continue
            tt = t[lo[m]:hi[m]]
            centre, half = (starts[m] + ends[m]) / 2, (ends[m] - starts[m]) / 2
            dist = np.maximum(np.abs(tt - centre) - half, 0.0)
            tau = np.where(tt < centre, _TAU_BEFORE, _TAU_AFTER)
            d = DOMINANCE[vis[m], _G[group]] * np.exp(-dist / tau)  # (t,)
            num[lo[m]:hi[m]] += d[:, None] * TARGETS[vis[m], cols][None, :]
            den[lo[m]:hi[m]] += d
        out[:, cols] = num / den[:, None]
    out[:, _MOUTH_COLS] *= speaker.articulation
    out[:, _LEFT] *= 1 + speaker.asymmetry
    out[:, _RIGHT] *= 1 - speaker.asymmetry
    _force_bilabial_closure(out, times, vis, starts, ends, speaker)
    jaw = out[:, INDEX["jawOpen"]]
    out[:, INDEX["mouthClose"]] = np.minimum(out[:, INDEX["mouthClose"]], jaw)
    return out


def _force_bilabial_closure(out: np.ndarray, times: np.ndarray, vis: np.ndarray,
                            starts: np.ndarray, ends: np.ndarray, speaker: Speaker) -> None:
    """Bilabials always close: around each /p b m/ the lips and jaw take the sealed target
    exactly, over a plateau at least one frame period wide so some frame lands on it."""
    if len(times) < 2:
        frame = 1.0
    else:
        frame = times[1] - times[0]
    cols = np.concatenate([_GROUP_COLS["jaw"], _GROUP_COLS["lips"]])
    target = TARGETS[_PP, cols].astype(np.float64) * min(speaker.articulation, 1.0)
    jaw_i = list(cols).index(INDEX["jawOpen"])
    close_i = list(cols).index(INDEX["mouthClose"])
    target[close_i] = target[jaw_i]
    t = times + speaker.lip_lead
    for m in np.flatnonzero(vis == _PP):
        centre = (starts[m] + ends[m]) / 2
        half = max((ends[m] - starts[m]) / 2, 0.55 * frame)
        half = max(half, float(np.min(np.abs(t - centre))))  # at clip edges: the nearest frame
        d = np.maximum(np.abs(t - centre) - half, 0.0)
        w = np.where(d < _CLOSURE_TAPER, 0.5 + 0.5 * np.cos(np.pi * d / _CLOSURE_TAPER), 0.0)
        sel = w > 0
        if sel.any():
            out[np.ix_(sel, cols)] = (out[np.ix_(sel, cols)] * (1 - w[sel, None])
                                      + target[None, :] * w[sel, None])


def _combine(mouth_shapes: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Add the non-verbal layer; smiles add to the mouth, eyes and brows are the face's own."""
    return mouth_shapes + face


# --- non-verbal --------------------------------------------------------------------------------


def _phrases(timeline: PhonemeTimeline, min_pause: float = 0.25) -> list[tuple[float, float]]:
    """Speech stretches separated by silences of at least `min_pause` seconds."""
    out: list[list[float]] = []
    for label, s, e in zip(timeline.labels, timeline.starts, timeline.ends):
        if label == SILENCE:
            continue
        if out and s - out[-1][1] < min_pause:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(a, b) for a, b in out]


def _pulse(times: np.ndarray, t0: float, tau: float) -> np.ndarray:
    """Gamma-like bump starting at t0, peaking (value 1) tau seconds later."""
    x = np.maximum(times - t0, 0.0) / tau
    return x * np.exp(1.0 - x)


def _lowpass(x: np.ndarray, fps: float, tau: float) -> np.ndarray:
    """First-order smoothing with time constant tau (seconds), forward then backward."""
    from scipy.signal import lfilter  # ~0.5 s to import: not at the CLI's start

    a = 1.0 - np.exp(-1.0 / (fps * tau))
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return x
    y = lfilter([a], [1.0, a - 1.0], x, zi=[x[0] * (1 - a)])[0]
    return lfilter([a], [1.0, a - 1.0], y[::-1], zi=[y[-1] * (1 - a)])[0][::-1]


def _accents(timeline: PhonemeTimeline, times: np.ndarray,
             pros: FrameProsody | None) -> list[tuple[float, float]]:
    """Pitch accents as (time, strength >= 0): peaks of the clip's log-f0 z-score (and energy);
    without audio, stressed or long vowels."""
    out: list[tuple[float, float]] = []
    if pros is not None and pros.voiced.sum() >= 3:
        z = pros.f0_z()
        e = pros.energy_db - pros.energy_db.max()
        score = np.where(pros.voiced, z + 0.04 * (e + 20), -np.inf)
        for i in np.argsort(-score):
            if not np.isfinite(score[i]) or score[i] < 0.7:
                break
            if all(abs(times[i] - t) > 0.45 for t, _ in out):
                out.append((float(times[i]), float(min(score[i] - 0.4, 2.0))))
        return sorted(out)
    for label, s, e in zip(timeline.labels, timeline.starts, timeline.ends):
        vis = to_visemes(label, timeline.phoneset)
        stressed = "ˈ" in label
        vowel = any(v in ("aa", "E", "I", "O", "U") for v in vis)
        if vowel and (stressed or (timeline.phoneset == "arpabet" and e - s > 0.13)):
            if all(abs(s - t) > 0.45 for t, _ in out):
                out.append((float(s), 1.0))
    return out


def _is_question(phrases, times, pros: FrameProsody | None) -> bool:
    """A rising pitch over the last 0.5 s of speech."""
    if pros is None or not phrases:
        return False
    end = phrases[-1][1]
    sel = (times > end - 0.5) & (times <= end) & pros.voiced
    if sel.sum() < 4:
        return False
    slope = np.polyfit(times[sel], np.log(pros.f0[sel]), 1)[0]
    return bool(slope > 0.4)  # log-Hz per second: ~ +20% over the last half second


def _blinks(times: np.ndarray, phrases, speaker: Speaker, rng: np.random.Generator,
            fps: float) -> np.ndarray:
    """(T,) eyelid closure in [0, 1]."""
    duration = times[-1] + 1 / fps
    onsets: list[float] = []
    t = rng.exponential(60.0 / speaker.blink_rate) * 0.5
    while t < duration:
        onsets.append(t)
        t += 0.5 + rng.exponential(max(60.0 / speaker.blink_rate - 0.5, 0.3))
    for _, end in phrases:  # people blink as a phrase ends
        if rng.random() < 0.6:
            onsets.append(end + rng.uniform(0.0, 0.25))
    onsets.sort()
    kept: list[float] = []
    for o in onsets:
        if not kept or o - kept[-1] > 0.6:
            kept.append(o)
    close, hold, opening = 0.07, max(0.04, 1.05 / fps), 0.15
    lid = np.zeros(len(times))
    for o in kept:
        x = times - o
        v = np.where(x < 0, 0.0, np.where(x < close, x / close, np.where(
            x < close + hold, 1.0, np.clip(1 - (x - close - hold) / opening, 0, 1))))
        lid = np.maximum(lid, v)
    return lid


def _nonverbal(timeline: PhonemeTimeline, times: np.ndarray, pros: FrameProsody | None,
               speaker: Speaker, rng: np.random.Generator, question: bool | None):
    n = len(times)
    fps = 1.0 / (times[1] - times[0]) if n > 1 else 25.0
    face = np.zeros((n, NUM_BLENDSHAPES))
    phrases = _phrases(timeline)
    speech = _lowpass(timeline.speech_mask(times).astype(float), fps, 0.3)

    # Eyes: blinks, slight squint with them, a per-speaker lid rest.
    lid = _blinks(times, phrases, speaker, rng, fps)
    rest_lid = rng.uniform(0.0, 0.08)
    face[:, INDEX["eyeBlinkLeft"]] = np.maximum(lid, rest_lid)
    face[:, INDEX["eyeBlinkRight"]] = np.maximum(lid * rng.uniform(0.93, 1.0), rest_lid)
    for side in ("Left", "Right"):
        face[:, INDEX["eyeSquint" + side]] = 0.12 * lid

    # Brows: raises on pitch accents; a held raise on questions.
    accents = _accents(timeline, times, pros)
    brow = np.zeros(n)
    for t0, strength in accents:
        brow += speaker.brow_gain * rng.uniform(0.12, 0.3) * strength * _pulse(times, t0 - 0.1,
                                                                               0.15)
    if question is None:
        question = _is_question(phrases, times, pros)
    roll_q = np.zeros(n)
    pitch_q = np.zeros(n)
    if question and phrases:
        end = phrases[-1][1]
        env = np.clip((times - (end - 0.7)) / 0.3, 0, 1) * np.clip(1 - (times - end - 0.4) / 0.5,
                                                                    0, 1)
        brow += speaker.brow_gain * rng.uniform(0.3, 0.5) * env
        roll_q = rng.choice([-1, 1]) * rng.uniform(2, 5) * env
        pitch_q = -rng.uniform(1, 3) * env  # chin up
    face[:, INDEX["browInnerUp"]] = brow
    face[:, INDEX["browOuterUpLeft"]] = 0.75 * brow
    face[:, INDEX["browOuterUpRight"]] = 0.7 * brow

    # Head: slow drift, a new pose per phrase, nods on accents, breathing.
    g = speaker.head_gain
    rot = np.zeros((n, 3))
    for axis, amp in enumerate((1.2, 2.0, 0.8)):  # pitch, yaw, roll (degrees)
        for _ in range(3):
            f = rng.uniform(0.03, 0.25)
            rot[:, axis] += g * amp / 3 * np.sin(2 * np.pi * f * times + rng.uniform(0, 2 * np.pi))
    pose = np.zeros((n, 3))
    for start, end in phrases:
        sel = times >= start - 0.2
        pose[sel] = rng.normal(0, 1, 3) * np.array([1.5, 4.0, 1.5]) * g
    rot += np.stack([_lowpass(pose[:, a], fps, 0.35) for a in range(3)], axis=1)
    for t0, strength in accents:
        rot[:, 0] += g * rng.uniform(1.0, 3.0) * strength * _pulse(times, t0 - 0.05, 0.18)
        rot[:, 1] += g * rng.normal(0, 0.8) * _pulse(times, t0 - 0.05, 0.25)
    rot *= (0.5 + 0.5 * speech)[:, None]  # moves more while talking
    rot[:, 0] += pitch_q
    rot[:, 2] += roll_q
    trans = np.zeros((n, 3))
    breath_f = rng.uniform(0.2, 0.3)
    trans[:, 1] = 0.0015 * np.sin(2 * np.pi * breath_f * times + rng.uniform(0, 2 * np.pi))
    for axis, amp in ((0, 0.004), (2, 0.005)):
        f = rng.uniform(0.02, 0.1)
        trans[:, axis] = g * amp * np.sin(2 * np.pi * f * times + rng.uniform(0, 2 * np.pi))
    trans[:, 2] -= 0.0004 * rot[:, 0]  # nodding down moves the face slightly back

    # Gaze: fixations; some look away (more often when a phrase starts), eyes counter the yaw.
    gx = np.zeros(n)
    gy = np.zeros(n)
    t = 0.0
    starts = np.array([s for s, _ in phrases])
    while t < times[-1] + 1e-9:
        near_start = len(starts) and np.min(np.abs(starts - t)) < 0.5
        away = rng.random() < speaker.gaze_aversion * (1.8 if near_start else 1.0)
        if away:
            x, y = rng.choice([-1, 1]) * rng.uniform(5, 12), rng.uniform(-7, 6)
        else:
            x, y = rng.normal(0, 1.5), rng.normal(0, 1.0)
        dur = rng.uniform(0.4, 1.2) if away else rng.uniform(0.8, 3.0)
        sel = (times >= t) & (times < t + dur)
        gx[sel], gy[sel] = x, y
        t += dur
    gx = gx - 0.7 * (rot[:, 1] - rot[:, 1].mean())
    gy = gy + 0.5 * (rot[:, 0] - rot[:, 0].mean()) - 6.0 * lid  # eyes roll down as they blink
    right, up = np.clip(gx / 30.0, -1, 1), np.clip(gy / 25.0, -1, 1)
    # Looking to the viewer's right = the subject's left: left eye out, right eye in.
    face[:, INDEX["eyeLookOutLeft"]] = np.maximum(right, 0)
    face[:, INDEX["eyeLookInRight"]] = np.maximum(right, 0)
    face[:, INDEX["eyeLookInLeft"]] = np.maximum(-right, 0)
    face[:, INDEX["eyeLookOutRight"]] = np.maximum(-right, 0)
    for side in ("Left", "Right"):
        face[:, INDEX["eyeLookUp" + side]] = np.maximum(up, 0)
        face[:, INDEX["eyeLookDown" + side]] = np.maximum(-up, 0)

    # Resting face: a faint smile that wanders, stronger in silence, cheeks follow.
    smile = speaker.smile * (0.7 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.02, 0.08) * times
                                                + rng.uniform(0, 6.3)))
    smile *= 1.0 - 0.5 * speech
    for side in ("Left", "Right"):
        face[:, INDEX["mouthSmile" + side]] = smile
        face[:, INDEX["cheekSquint" + side]] = 0.3 * smile
    return face, rot, trans
