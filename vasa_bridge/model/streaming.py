"""Window state for generating motion from a stream of audio features. Numpy only; it never sees
the network, only a `denoise_cond(x, sigma_batch, conditions)` callable (ONNX Runtime or torch).

Window k starts at frame s and generates N = hop + overlap frames; it sees the `context` frames
emitted before s (and their audio), the audio of its own frames and `lookahead` frames after them:

    audio:   [s-C ........ s ........ s+hop ... s+N ... s+N+L)
    motion:   emitted (context)  | new: hop frames emitted now | overlap kept for the next window

The first `overlap` frames of a window are cross-faded (linear ramp) with the previous window's
prediction of the same frames; the next window starts at s + hop. Offline generation is this same
loop over a whole clip, so offline and streaming differ only in these settings.

Start noise is drawn per window; with `frame_noise` once per frame instead, so a frame generated
by several windows starts from the same noise in each (live: otherwise every emitted frame comes
from an independent sample and jitters; offline the cross-fade of independent samples is an
average that scores better, so offline keeps per-window noise). `redo` frames before s (already emitted, final) are generated
again with each window and dropped: a live window of one new frame is then still a window of
redo + 1 frames conditioned on older context, the setting the model was trained on. Without it,
one-frame windows feed on their own last frame and the head pose runs away within seconds.

Latency of a frame in a window: hop + overlap + lookahead frames of audio after the window's first
new frame (audio features of frame j end at (j+1) hop_ms); redo frames are in the past and add
none. With hop=1, overlap=0, lookahead=1 at 25 fps that is 80 ms of look-ahead plus compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ..errors import ModelError
from .conditions import CONDITION_NAMES, Conditions
from .config import ANCHORED, EMOTIONS, MOUTH, ModelConfig, denormalise
from .sampling import SAMPLERS, guided, sample


@dataclass(frozen=True)
class StreamConfig:
    hop: int = 20  # frames emitted per window
    overlap: int = 5  # frames generated beyond the hop and cross-faded into the next window
    steps: int = 6  # sampler steps per window
    sampler: str = "euler"  # one of sampling.SAMPLERS
    guidance: tuple = ()  # ((condition name, scale), ...); scale 1 = as trained
    redo: int = 0  # frames already emitted that each window generates again (not re-emitted):
    # a short hop then still sees a long window, which is what the model was trained on
    temperature: float = 1.0  # start-noise scale: < 1 trades take-to-take variety for steadiness
    mouth_temperature: float | None = None  # the same for the jaw and lips (None: temperature);
    # low keeps the lips on the audio while head, eyes and brows still vary from take to take
    smooth: float = 0.0  # 0..1: per-frame low-pass of head pose, gaze and brows (short windows)
    frame_noise: bool = False  # one start-noise draw per frame instead of per window

    def __post_init__(self) -> None:
        if self.redo < 0:
            raise ModelError(f"redo is {self.redo}: expected >= 0")
        if self.hop < 1 or self.overlap < 0:
            raise ModelError(f"hop {self.hop} / overlap {self.overlap}: expected >= 1 / >= 0")
        if self.overlap > self.hop:
            raise ModelError(f"overlap {self.overlap} exceeds hop {self.hop}: a frame would be "
                             f"cross-faded twice")
        if self.mouth_temperature is not None and self.mouth_temperature < 0:
            raise ModelError(f"mouth_temperature {self.mouth_temperature}: expected >= 0")
        if not (0 <= self.smooth < 1 and self.temperature >= 0):
            raise ModelError(f"smooth {self.smooth} / temperature {self.temperature}: expected "
                             f"[0, 1) / >= 0")
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

    def lookahead_ms(self, model: ModelConfig) -> float:  # redo frames are past: no look-ahead
        """Audio needed after the first frame of a window, ms (the worst case in a window)."""
        return (self.window + model.lookahead) * model.features.hop_ms


# 80 ms look-ahead with the default model. One new frame per window, but each window regenerates
# the 8 frames before it (a 9-frame window, as trained) so it does not feed on a single frame of
# its own output; slow dimensions lightly smoothed. Settings measured in bench/bench_model.py.
LIVE = StreamConfig(hop=1, overlap=0, redo=8, smooth=0.6, temperature=0.7, mouth_temperature=0.0,
                    frame_noise=True)
# Offline the lips start from the mean (mouth temperature 0): they follow the audio the same way
# in every take (jawOpen r 0.79 vs 0.755 with full noise, docs/model.md), head, eyes and brows vary.
OFFLINE = StreamConfig(hop=20, overlap=5, mouth_temperature=0.0)


def _temperatures(st: StreamConfig, dim: int) -> np.ndarray:
    """(dim,) start-noise scale per motion dimension."""
    t = np.full(dim, st.temperature, np.float32)
    if st.mouth_temperature is not None:
        t[MOUTH] = st.mouth_temperature
    return t


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
        if stream.redo + stream.window > model.max_window:
            raise ModelError(f"window redo+hop+overlap = {stream.redo + stream.window} frames "
                             f"exceeds the model's max_window {model.max_window}")
        self.denoise_cond = denoise_cond
        self.model = model
        self.stream = stream
        self.steering = steering
        self.seed = seed
        self._anchored = np.array(ANCHORED)
        self.reset()

    def reset(self) -> None:
        c = self.model
        self._rng = np.random.default_rng(self.seed)
        r = self.stream.redo
        self._feats = np.zeros((c.context + r, c.audio_dim), np.float32)  # frames [s-R-C, ...)
        self._emitted = np.zeros((0, c.motion_dim), np.float32)  # normalised, last C+R kept
        self._pending = np.zeros((0, c.motion_dim), np.float32)  # overlap from the last window
        self._noise = np.zeros((0, c.motion_dim), np.float32)  # start noise per frame ...
        self._noise_start = -(self.stream.redo)  # ... from this frame index on
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
        return self.start + len(self._feats) - self.model.context - self.stream.redo

    def _run(self, final: bool) -> np.ndarray:
        c, st = self.model, self.stream
        out = []
        need = c.context + st.redo + st.window + c.lookahead  # feature rows a window reads
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
        r = st.redo
        n = r + st.window
        ctx = self._context()
        cond = self._conditions(feats[None], ctx[None], has_context=self.start - r > 0)
        if st.frame_noise:
            noise = self._frame_noise(self.start - r, n)
        else:
            noise = self._rng.standard_normal((1, n, c.motion_dim)).astype(np.float32)
        noise *= _temperatures(st, c.motion_dim)
        d = c.diffusion
        x = sample(guided(self.denoise_cond, cond, dict(st.guidance)), noise, steps=st.steps,
                   sigma_min=d.sigma_min, sigma_max=d.sigma_max, rho=d.rho,
                   sampler=st.sampler)[0]  # (N, 58)
        x = np.asarray(x, np.float32)[r:]  # the redone frames are final already: drop them
        k = min(len(self._pending), emit)
        if k:
            ramp = ((np.arange(k) + 1) / (k + 1))[:, None].astype(np.float32)
            x[:k] = (1 - ramp) * self._pending[:k] + ramp * x[:k]
        new = self._stabilise(x[:emit])
        self._pending = x[emit:emit + st.overlap]
        self._emitted = np.concatenate([self._emitted, new])[-max(c.context + r, 1):]
        self.start += emit
        self.windows += 1
        return new

    def _frame_noise(self, first: int, n: int) -> np.ndarray:
        """(1, n, 58) start noise of frames first..first+n-1, one draw per frame: a frame that
        several windows generate (overlap, redo) starts from the same noise in each of them."""
        end = first + n
        have_end = self._noise_start + len(self._noise)
        if end > have_end:
            more = self._rng.standard_normal((end - have_end, self.model.motion_dim))
            self._noise = np.concatenate([self._noise, more.astype(np.float32)])
        keep_from = max(first - self._noise_start, 0)
        self._noise = self._noise[keep_from:]
        self._noise_start += keep_from
        return self._noise[first - self._noise_start:end - self._noise_start][None].copy()

    def _stabilise(self, new: np.ndarray) -> np.ndarray:
        """`smooth` low-passes the slow (anchored) dimensions frame to frame: with one new frame
        per window, each frame comes from a different sample and would otherwise jitter."""
        st = self.stream
        if not st.smooth:
            return new
        new = new.copy()
        prev = self._emitted[-1, self._anchored] if len(self._emitted) else None
        for i in range(len(new)):
            v = new[i, self._anchored]
            if prev is not None:
                v = st.smooth * prev + (1 - st.smooth) * v
            new[i, self._anchored] = v
            prev = v
        return new

    def _context(self) -> np.ndarray:
        c, r = self.model, self.stream.redo
        e = self._emitted[:len(self._emitted) - r] if r else self._emitted
        e = e[-c.context:]
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
