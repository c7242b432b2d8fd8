"""Window state for generating motion from a stream of audio features. Numpy only; it never sees
the network, only a `denoise_cond(x, sigma_batch, conditions)` callable (ONNX Runtime or torch).

Window k starts at frame s and generates N = hop + overlap frames; it sees the `context` frames
emitted before s (and their audio), the audio of its own frames and `lookahead` frames after them:

    audio:   [s-C ........ s ........ s+hop ... s+N ... s+N+L)
    motion:   emitted (context)  | new: hop frames emitted now | overlap kept for the next window

The first `overlap` frames of a window are cross-faded (linear ramp) with the previous window's
prediction of the same frames; the next window starts at s + hop. Offline generation is this same
loop over a whole clip, so offline and streaming differ only in hop/overlap (and share statistics).

Latency of a frame in a window: hop + overlap + lookahead frames of audio after the window's first
frame (audio features of frame j end at (j+1) hop_ms). With hop=1, overlap=0, lookahead=1 at
25 fps that is 80 ms of look-ahead plus compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ..errors import ModelError
from .conditions import CONDITION_NAMES, Conditions
from .config import EMOTIONS, ModelConfig, denormalise
from .sampling import SAMPLERS, guided, sample


@dataclass(frozen=True)
class StreamConfig:
    hop: int = 20  # frames emitted per window
    overlap: int = 5  # frames generated beyond the hop and cross-faded into the next window
    steps: int = 6  # sampler steps per window
    sampler: str = "euler"  # one of sampling.SAMPLERS
    guidance: tuple = ()  # ((condition name, scale), ...); scale 1 = as trained
    temperature: float = 1.0  # start-noise scale: < 1 trades take-to-take variety for steadiness

    def __post_init__(self) -> None:
        if self.hop < 1 or self.overlap < 0:
            raise ModelError(f"hop {self.hop} / overlap {self.overlap}: expected >= 1 / >= 0")
        if self.overlap > self.hop:
            raise ModelError(f"overlap {self.overlap} exceeds hop {self.hop}: a frame would be "
                             f"cross-faded twice")
        if self.sampler not in SAMPLERS:
            raise ModelError(f"sampler {self.sampler!r}: expected one of {sorted(SAMPLERS)}")
        if self.steps < 1:
            raise ModelError(f"steps is {self.steps}: expected >= 1")
        if isinstance(self.guidance, Mapping):
            object.__setattr__(self, "guidance", tuple(sorted(self.guidance.items())))
        for name, _ in self.guidance:
            if name not in CONDITION_NAMES:
                raise ModelError(f"guidance for {name!r}: expected one of {CONDITION_NAMES}")

    @property
    def window(self) -> int:
        return self.hop + self.overlap

    def lookahead_ms(self, model: ModelConfig) -> float:
        """Audio needed after the first frame of a window, ms (the worst case in a window)."""
        return (self.window + model.lookahead) * model.features.hop_ms


LIVE = StreamConfig(hop=1, overlap=0)  # 80 ms look-ahead with the default model
OFFLINE = StreamConfig(hop=20, overlap=5)


@dataclass(frozen=True)
class Steering:
    """User conditions: None leaves a condition to the model (dropped, as in training)."""
    emotion: str | None = "neutral"  # one of config.EMOTIONS
    gaze: tuple | None = None  # (x, y) in [-1, 1]: x to the viewer's right, y up
    intensity: float | None = None  # head motion, 1 = the corpus average, 0 = still

    def __post_init__(self) -> None:
        if self.emotion is not None and self.emotion not in EMOTIONS:
            raise ModelError(f"emotion {self.emotion!r}: expected one of {EMOTIONS}")
        if self.gaze is not None:
            g = tuple(float(v) for v in self.gaze)
            if len(g) != 2 or not all(-1.0 <= v <= 1.0 for v in g):
                raise ModelError(f"gaze {self.gaze!r}: expected (x, y) with both in [-1, 1]")
            object.__setattr__(self, "gaze", g)
        if self.intensity is not None and not 0.0 <= float(self.intensity) <= 5.0:
            raise ModelError(f"intensity {self.intensity!r}: expected 0..5")


class MotionStream:
    """Feed audio features with `push`, receive finished raw motion frames (T, 58)."""

    def __init__(self, denoise_cond: Callable, model: ModelConfig,
                 stream: StreamConfig = OFFLINE, steering: Steering = Steering(),
                 seed: int = 0):
        if stream.window > model.max_window:
            raise ModelError(f"window hop+overlap = {stream.window} frames exceeds the model's "
                             f"max_window {model.max_window}")
        self.denoise_cond = denoise_cond
        self.model = model
        self.stream = stream
        self.steering = steering
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        c = self.model
        self._rng = np.random.default_rng(self.seed)
        self._feats = np.zeros((c.context, c.audio_dim), np.float32)  # frames [s-C, ...)
        self._emitted = np.zeros((0, c.motion_dim), np.float32)  # normalised, last C kept
        self._pending = np.zeros((0, c.motion_dim), np.float32)  # overlap from the last window
        self.start = 0  # first frame of the next window
        self.windows = 0
        self._finished = False

    def push(self, features: np.ndarray) -> np.ndarray:
        """(n, A) new feature frames -> (m, 58) raw motion frames that are now final."""
        if self._finished:
            raise ModelError("push after flush: call reset() to start a new clip")
        features = np.asarray(features, np.float32).reshape(-1, self.model.audio_dim)
        self._feats = np.concatenate([self._feats, features])
        return self._run(final=False)

    def flush(self) -> np.ndarray:
        """End of audio: generate the remaining frames (look-ahead padded with zero features)."""
        out = self._run(final=True)
        self._finished = True
        return out

    @property
    def available(self) -> int:
        """Frames of audio received so far."""
        return self.start + len(self._feats) - self.model.context

    def _run(self, final: bool) -> np.ndarray:
        c, st = self.model, self.stream
        out = []
        need = c.context + st.window + c.lookahead  # feature rows a window reads
        while True:
            have = len(self._feats)
            if have >= need:
                feats = self._feats[:need]
                emit = st.hop
            elif final and self.available > self.start:
                feats = np.concatenate([self._feats, np.zeros((need - have, c.audio_dim),
                                                              np.float32)])
                emit = min(st.hop, self.available - self.start)
            else:
                break
            out.append(self._window(feats, emit))
            self._feats = self._feats[emit:]
        if not out:
            return np.zeros((0, c.motion_dim), np.float32)
        return denormalise(np.concatenate(out), c)

    def _window(self, feats: np.ndarray, emit: int) -> np.ndarray:
        c, st = self.model, self.stream
        n = st.window
        ctx = self._context()
        cond = self._conditions(feats[None], ctx[None], has_context=self.start > 0)
        noise = self._rng.standard_normal((1, n, c.motion_dim)).astype(np.float32)
        noise *= np.float32(st.temperature)
        d = c.diffusion
        x = sample(guided(self.denoise_cond, cond, dict(st.guidance)), noise, steps=st.steps,
                   sigma_min=d.sigma_min, sigma_max=d.sigma_max, rho=d.rho,
                   sampler=st.sampler)[0]  # (N, 58)
        x = np.asarray(x, np.float32)
        k = min(len(self._pending), emit)
        if k:
            ramp = ((np.arange(k) + 1) / (k + 1))[:, None].astype(np.float32)
            x[:k] = (1 - ramp) * self._pending[:k] + ramp * x[:k]
        new = x[:emit]
        self._pending = x[emit:emit + st.overlap]
        self._emitted = np.concatenate([self._emitted, new])[-max(c.context, 1):]
        self.start += emit
        self.windows += 1
        return new

    def _context(self) -> np.ndarray:
        c = self.model
        e = self._emitted[-c.context:] if c.context else self._emitted[:0]
        if len(e) == c.context:
            return e
        if len(e) == 0:
            return np.zeros((c.context, c.motion_dim), np.float32)
        pad = np.repeat(e[:1], c.context - len(e), axis=0)  # the clip started from this frame
        return np.concatenate([pad, e])

    def _conditions(self, audio: np.ndarray, context: np.ndarray, has_context: bool):
        return make_conditions(self.model, audio, context, self.steering, has_context)


def make_conditions(model: ModelConfig, audio: np.ndarray, context: np.ndarray,
                    steering: Steering, has_context: bool) -> Conditions:
    """A batch of one window's conditions from user steering (numpy)."""
    b = audio.shape[0]
    s = steering
    keep = np.ones((b, len(CONDITION_NAMES)), np.float32)
    keep[:, CONDITION_NAMES.index("context")] = float(has_context)
    keep[:, CONDITION_NAMES.index("gaze")] = float(s.gaze is not None)
    keep[:, CONDITION_NAMES.index("intensity")] = float(s.intensity is not None)
    keep[:, CONDITION_NAMES.index("emotion")] = float(s.emotion is not None)
    emotion = np.full((b,), 0 if s.emotion is None else EMOTIONS.index(s.emotion) + 1, np.int64)
    gaze = np.tile(np.asarray(s.gaze or (0.0, 0.0), np.float32), (b, 1))
    intensity = np.full((b,), 0.0 if s.intensity is None else float(s.intensity), np.float32)
    return Conditions(audio.astype(np.float32), context.astype(np.float32), emotion, gaze,
                      intensity, keep)


def generate(denoise_cond: Callable, model: ModelConfig, features: np.ndarray,
             stream: StreamConfig = OFFLINE, steering: Steering = Steering(),
             seed: int = 0) -> np.ndarray:
    """Whole clip of features (T, A) -> raw motion (T, 58): the streaming loop in one call."""
    ms = MotionStream(denoise_cond, model, stream, steering, seed)
    out = np.concatenate([ms.push(features), ms.flush()])
    return out


__all__ = ["StreamConfig", "Steering", "MotionStream", "generate", "make_conditions", "LIVE",
           "OFFLINE"]
