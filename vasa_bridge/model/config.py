"""Frozen configuration of the motion model, and the motion space it works in.

`ModelConfig` is built once (by `train`, from the data), stored inside every checkpoint and as
metadata in every ONNX export, so a model file rebuilds itself. The audio width is derived from
the feature config; the motion normalisation (per-dimension mean and spread) from the corpus.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from ..audio.features import FeatureConfig
from ..audio.pcm import SAMPLE_RATE
from ..errors import ModelError
from ..motion.names import INDEX, NUM_BLENDSHAPES

EMOTIONS = ("neutral", "happy", "sad", "angry", "surprised")  # label i is embedding row i + 1
MOTION_DIM = NUM_BLENDSHAPES + 6  # 52 ARKit shapes, (pitch, yaw, roll) degrees, (x, y, z) metres
POSE = slice(NUM_BLENDSHAPES, NUM_BLENDSHAPES + 3)
TRANSLATION = slice(NUM_BLENDSHAPES + 3, MOTION_DIM)
MIN_STD = (0.02,) * NUM_BLENDSHAPES + (0.5,) * 3 + (0.002,) * 3  # spread floors per unit

# Slow dimensions (head pose, gaze, brows) are generated relative to the last context frame: a
# window then continues where the previous one ended by construction, and "hold still" is the
# easiest output instead of something the network must learn to copy through its layers.
JAW, CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
MOUTH = np.array([i for n, i in INDEX.items() if n.startswith(("jaw", "mouth"))])  # jaw + lips
SEAL_APERTURE = 0.1  # raw jawOpen - mouthClose below this counts as sealed lips

ANCHORED_NAMES = ("eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
                  "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
                  "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
                  "browOuterUpRight")
ANCHORED = tuple(sorted(INDEX[n] for n in ANCHORED_NAMES)) + tuple(range(NUM_BLENDSHAPES,
                                                                        NUM_BLENDSHAPES + 6))


@dataclass(frozen=True)
class DiffusionConfig:
    """EDM (Karras et al. 2022) noise levels, in units of normalised motion."""
    sigma_data: float = 1.0  # spread of the (standardised) clean motion
    sigma_min: float = 0.002  # smallest noise level sampled
    sigma_max: float = 20.0  # largest noise level (start of sampling)
    rho: float = 7.0  # Karras schedule curvature (EDM eq. 5)
    p_mean: float = -0.8  # training noise: ln(sigma) ~ N(p_mean, p_std^2) (EDM table 1)
    p_std: float = 1.4
    prediction: str = "x0"  # "x0": the network outputs clean motion; "edm": EDM's c_skip mix

    def __post_init__(self) -> None:
        if self.prediction not in ("x0", "edm"):
            raise ModelError(f"prediction {self.prediction!r}: expected 'x0' or 'edm'")


MAX_SIZE = 10_000  # any size in a model config (layers, width, frames of context, ...)


@dataclass(frozen=True)
class ModelConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    layers: int = 4  # transformer blocks
    width: int = 160  # token width
    heads: int = 4  # attention heads
    ff_mult: int = 4  # feed-forward width / token width
    context: int = 10  # frames of previous motion (and their audio) seen by every window
    max_window: int = 25  # frames: longest window of motion generated in one call
    lookahead: int = 1  # frames of audio after the window's last frame
    dropout: float = 0.0  # inside the transformer (training only)
    motion_mean: tuple = (0.0,) * MOTION_DIM  # per-dimension mean of the corpus motion
    motion_std: tuple = (1.0,) * MOTION_DIM  # per-dimension spread (floored by MIN_STD)
    intensity_ref: float = 10.0  # deg/s: head angular speed that the intensity condition calls 1
    seal: int = 0  # width of the lip-seal head (0 = none; see model.SealHead)
    seal_sharpness: float = 4.0  # at inference the seal weight is sigmoid(sharpness * (logit +
    seal_bias: float = 0.0  #   bias)): bias > 0 seals on weaker evidence (more recall)
    seal_jaw: float = 0.0  # jawOpen ceiling on sealed lips (from the corpus; 0 = no ceiling)

    def __post_init__(self) -> None:
        if isinstance(self.features, dict):
            object.__setattr__(self, "features", FeatureConfig(**self.features))
        if isinstance(self.diffusion, dict):
            object.__setattr__(self, "diffusion", DiffusionConfig(**self.diffusion))
        object.__setattr__(self, "motion_mean", tuple(float(v) for v in self.motion_mean))
        object.__setattr__(self, "motion_std", tuple(float(v) for v in self.motion_std))
        for name in ("features", "diffusion"):
            want = FeatureConfig if name == "features" else DiffusionConfig
            if not isinstance(getattr(self, name), want):
                raise ModelError(f"{name} is {getattr(self, name)!r}: expected a {want.__name__} "
                                 f"(a JSON object of its fields)")
        for name in ("layers", "width", "heads", "ff_mult", "context", "max_window", "lookahead",
                     "seal"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value > MAX_SIZE:
                raise ModelError(f"{name} is {value!r}: expected a whole number up to {MAX_SIZE}")
        for name in ("layers", "width", "heads", "max_window"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} is {getattr(self, name)}: expected >= 1")
        if not all(math.isfinite(v) for v in self.motion_mean + self.motion_std):
            raise ModelError("motion_mean/std hold a non-finite value: expected finite numbers")
        if len(self.motion_mean) != MOTION_DIM or len(self.motion_std) != MOTION_DIM:
            raise ModelError(f"motion_mean/std have {len(self.motion_mean)}/"
                             f"{len(self.motion_std)} entries: expected {MOTION_DIM}")
        if min(self.motion_std) <= 0:
            raise ModelError(f"motion_std has a value {min(self.motion_std)}: expected > 0")
        if self.width % self.heads:
            raise ModelError(f"width {self.width} is not divisible by heads {self.heads}")
        for name in ("layers", "width", "heads", "max_window"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} is {getattr(self, name)}: expected >= 1")
        if self.seal < 0 or self.seal_sharpness <= 0:
            raise ModelError(f"seal {self.seal} / seal_sharpness {self.seal_sharpness}: expected "
                             f">= 0 / > 0")
        if self.seal and self.lookahead < 1:
            raise ModelError(f"seal head needs lookahead >= 1 frame, got {self.lookahead}")
        if self.context < 1 or self.lookahead < 0:
            raise ModelError(f"context {self.context} / lookahead {self.lookahead}: expected >= 1 "
                             f"/ >= 0")

    @property
    def audio_dim(self) -> int:
        return self.features.dim

    @property
    def motion_dim(self) -> int:
        return MOTION_DIM

    @property
    def fps(self) -> float:
        return self.features.fps

    @property
    def max_tokens(self) -> int:
        return self.context + self.max_window + self.lookahead

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ModelError(f"model config has unknown fields {sorted(unknown)}: expected only "
                             f"{sorted(known)} (a newer vasa_bridge wrote it?)")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(json.loads(text))

    def with_motion_stats(self, mean: np.ndarray, std: np.ndarray) -> "ModelConfig":
        return replace(self, motion_mean=tuple(np.asarray(mean, float)),
                       motion_std=tuple(np.maximum(np.asarray(std, float), MIN_STD)))


# --- the motion space ---------------------------------------------------------------------------


def check_sample_rate(config: ModelConfig, source: str) -> None:
    """Refuse a model whose features were computed at another rate than every audio source
    delivers (`SAMPLE_RATE`): it would be fed audio it was never trained on."""
    rate = config.features.sample_rate
    if rate != SAMPLE_RATE:
        raise ModelError(f"{source} was trained on {rate} Hz audio: expected {SAMPLE_RATE} Hz, "
                         f"the rate vasa_bridge feeds every model")


def pack_motion(blendshapes: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(T,52), (T,3) deg, (T,3) m -> (T, 58) raw motion."""
    return np.concatenate([blendshapes, rotation, translation], axis=-1).astype(np.float32)


def unpack_motion(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 58) raw motion -> blendshapes clipped to [0, 1], rotation deg, translation m."""
    shapes = np.clip(motion[..., :NUM_BLENDSHAPES], 0.0, 1.0)
    rot = np.clip(motion[..., POSE], -90.0, 90.0)
    trans = np.clip(motion[..., TRANSLATION], -1.0, 1.0)
    return shapes.astype(np.float32), rot.astype(np.float32), trans.astype(np.float32)


def normalise(motion: np.ndarray, config: ModelConfig) -> np.ndarray:
    return ((motion - np.asarray(config.motion_mean, np.float32))
            / np.asarray(config.motion_std, np.float32)).astype(np.float32)


def denormalise(motion: np.ndarray, config: ModelConfig) -> np.ndarray:
    return (motion * np.asarray(config.motion_std, np.float32)
            + np.asarray(config.motion_mean, np.float32)).astype(np.float32)


# --- conditions derived from motion (what the corpus calls gaze and intensity) -------------------

_LOOK = {k: INDEX[k] for k in ("eyeLookOutLeft", "eyeLookInRight", "eyeLookInLeft",
                               "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
                               "eyeLookDownLeft", "eyeLookDownRight")}


def gaze_of(blendshapes: np.ndarray) -> np.ndarray:
    """(..., 52) -> (..., 2) eye direction: x > 0 towards the viewer's right, y > 0 up, in [-1, 1].

    The subject's left eye looking out (eyeLookOutLeft) looks to the subject's left, which is the
    viewer's right."""
    b = blendshapes
    x = (b[..., _LOOK["eyeLookOutLeft"]] + b[..., _LOOK["eyeLookInRight"]]
         - b[..., _LOOK["eyeLookInLeft"]] - b[..., _LOOK["eyeLookOutRight"]]) / 2
    y = (b[..., _LOOK["eyeLookUpLeft"]] + b[..., _LOOK["eyeLookUpRight"]]
         - b[..., _LOOK["eyeLookDownLeft"]] - b[..., _LOOK["eyeLookDownRight"]]) / 2
    return np.stack([x, y], axis=-1).astype(np.float32)


def head_speed(rotation: np.ndarray, fps: float) -> float:
    """(T, 3) degrees -> mean angular speed in deg/s (VASA-1's Delta P, on Euler angles)."""
    if len(rotation) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(rotation, axis=0), axis=1).mean() * fps)
