"""Training windows from a corpus (numpy): features + motion per clip -> batches of (x0, conditions).

Conditions are measured on the motion itself, as VASA-1 does with its extracted gaze and pose:
gaze is the window's mean eye direction, intensity the clip's mean head angular speed. Emotion
labels are synthetic: the corpus (viseme teacher over TTS speech) has no emotional speech, so a
label is drawn per window and its expression is laid over the teacher's motion (`EXPRESSIONS`,
strength drawn in 0.6..1). This teaches the model what the label means; it does not teach
emotional prosody (see docs/model.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.features import FeatureConfig, extract
from ..motion.names import INDEX
from .conditions import CONDITION_NAMES, Conditions
from .config import EMOTIONS, ModelConfig, gaze_of, head_speed, normalise, pack_motion

# Offsets added to the blendshapes (and head pitch, degrees) for each emotion label.
EXPRESSIONS = {
    "neutral": {},
    "happy": {"mouthSmileLeft": 0.45, "mouthSmileRight": 0.45, "cheekSquintLeft": 0.25,
              "cheekSquintRight": 0.25, "eyeSquintLeft": 0.1, "eyeSquintRight": 0.1,
              "pitch": -2.0},
    "sad": {"mouthFrownLeft": 0.35, "mouthFrownRight": 0.35, "browInnerUp": 0.45,
            "mouthPressLeft": 0.1, "mouthPressRight": 0.1, "pitch": 5.0},
    "angry": {"browDownLeft": 0.55, "browDownRight": 0.55, "noseSneerLeft": 0.25,
              "noseSneerRight": 0.25, "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2,
              "mouthPressLeft": 0.15, "mouthPressRight": 0.15, "pitch": 2.0},
    "surprised": {"browInnerUp": 0.5, "browOuterUpLeft": 0.5, "browOuterUpRight": 0.5,
                  "eyeWideLeft": 0.45, "eyeWideRight": 0.45, "jawOpen": 0.08, "pitch": -3.0},
}
_PITCH = 52  # column of pitch in the 58-dim motion


def expression_offset(emotion: str, strength: float = 1.0) -> np.ndarray:
    """(58,) raw offset of one emotion label."""
    off = np.zeros(58, np.float32)
    for name, v in EXPRESSIONS[emotion].items():
        off[_PITCH if name == "pitch" else INDEX[name]] = v * strength
    return off


def apply_expression(motion: np.ndarray, emotion: str, strength: float = 1.0) -> np.ndarray:
    """(T, 58) raw motion with the label's expression laid over it (shapes kept in [0, 1])."""
    out = motion + expression_offset(emotion, strength)
    out[:, :52] = np.clip(out[:, :52], 0.0, 1.0)
    return out


@dataclass
class ClipData:
    id: str
    features: np.ndarray  # (T, A)
    motion: np.ndarray  # (T, 58) raw
    speed: float  # deg/s, mean head angular speed of the clip
    speaker: str = ""


def clip_data(clip, features: FeatureConfig) -> ClipData:
    """A `vasa_bridge.data.Clip` -> aligned features and motion."""
    feats = extract(clip.audio, clip.sample_rate, features)
    m = clip.motion
    motion = pack_motion(m.blendshapes, m.head_rotation, m.head_translation)
    t = min(len(feats), len(motion))
    return ClipData(clip.id, feats[:t], motion[:t], head_speed(motion[:t, 52:55], features.fps),
                    clip.meta.get("speaker", ""))


def motion_stats(clips: list[ClipData]) -> tuple[np.ndarray, np.ndarray]:
    allm = np.concatenate([c.motion for c in clips])
    return allm.mean(axis=0), allm.std(axis=0)


@dataclass(frozen=True)
class DropoutConfig:
    """Probability that a condition is switched off in a training window (CFG needs both)."""
    audio: float = 0.1
    context: float = 0.15
    gaze: float = 0.5
    intensity: float = 0.5
    emotion: float = 0.2
    neutral: float = 0.4  # share of windows labelled neutral (the rest split over the others)


class WindowSampler:
    def __init__(self, clips: list[ClipData], config: ModelConfig,
                 dropout: DropoutConfig = DropoutConfig(), seed: int = 0):
        if not clips:
            raise ValueError("no clips to sample windows from")
        self.clips = clips
        self.config = config
        self.dropout = dropout
        self.rng = np.random.default_rng(seed)
        lengths = np.array([len(c.motion) for c in clips], float)
        self.p = lengths / lengths.sum()
        others = (1 - dropout.neutral) / (len(EMOTIONS) - 1)
        self.emotion_p = [dropout.neutral] + [others] * (len(EMOTIONS) - 1)

    def batch(self, b: int, n: int) -> tuple[np.ndarray, Conditions]:
        """b windows of n frames: x0 (b, n, 58) normalised, and their conditions."""
        cfg, rng, dp = self.config, self.rng, self.dropout
        c_len, la = cfg.context, cfg.lookahead
        x0 = np.zeros((b, n, 58), np.float32)
        audio = np.zeros((b, c_len + n + la, cfg.audio_dim), np.float32)
        context = np.zeros((b, c_len, 58), np.float32)
        emotion = np.zeros(b, np.int64)
        gaze = np.zeros((b, 2), np.float32)
        intensity = np.zeros(b, np.float32)
        keep = (rng.random((b, len(CONDITION_NAMES))) >= np.array(
            [dp.audio, dp.context, dp.gaze, dp.intensity, dp.emotion])).astype(np.float32)
        for i, ci in enumerate(rng.choice(len(self.clips), size=b, p=self.p)):
            clip = self.clips[ci]
            t = len(clip.motion)
            if t < n:
                ci = int(np.argmax([len(c.motion) for c in self.clips]))
                clip, t = self.clips[ci], len(self.clips[ci].motion)
            # start 0 with some probability, so the first window of a clip is trained for
            s = 0 if rng.random() < 0.05 else int(rng.integers(0, t - n + 1))
            e = int(rng.choice(len(EMOTIONS), p=self.emotion_p))
            lo = max(0, s - c_len)
            seg = apply_expression(clip.motion[lo:s + n], EMOTIONS[e], rng.uniform(0.6, 1.0))
            seg_n = normalise(seg, cfg)
            x0[i] = seg_n[s - lo:]
            if s == 0:
                keep[i, CONDITION_NAMES.index("context")] = 0.0
            else:
                ctx = seg_n[:s - lo]
                context[i] = np.concatenate([np.repeat(ctx[:1], c_len - len(ctx), 0), ctx])
            a0, a1 = s - c_len, s + n + la  # feature rows, zero outside the clip
            src = clip.features[max(a0, 0):min(a1, t)]
            audio[i, max(a0, 0) - a0:max(a0, 0) - a0 + len(src)] = src
            emotion[i] = e + 1
            gaze[i] = gaze_of(seg[s - lo:, :52]).mean(axis=0)
            intensity[i] = clip.speed / cfg.intensity_ref
        return x0, Conditions(audio, context, emotion, gaze, intensity, keep)
