"""Motion engines: what turns a stream's audio into motion frames, behind one small interface.

An engine takes 16 kHz mono audio in any chunk sizes and returns the motion frames that became
available, in order, frame k at media time k / fps from the stream's start. An engine with
look-ahead returns frame k only once it has heard audio past it (`lookahead_s`).

- `LoudnessEngine` is the baseline that PNGTuber apps use (mouth openness from loudness). It is
  what `serve --motion loudness` runs, and the comparison the model is measured against.
- The diffusion model's streaming engine (vasa_bridge.model) implements the same interface.

`FpsAdapter` resamples any engine's frames to the output frame rate (linear shapes, slerp pose).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..audio.pcm import SAMPLE_RATE as RATE
from ..motion.conversions import interpolate
from ..motion.frame import MotionFrame
from ..motion.names import INDEX, NUM_BLENDSHAPES


class MotionEngine(Protocol):
    fps: float  # frames per second of what push() returns
    lookahead_s: float  # audio the engine needs past a frame before it can emit it

    def push(self, audio: np.ndarray) -> list[MotionFrame]: ...

    def settle(self) -> None:
        """Work on audio already pushed that no frame out yet needed (the live loop calls it
        after the picture, off the sound-to-picture path); push() does it itself when a frame
        needs it, so the frames are the same either way."""

    def set_conditions(self, *, emotion: str | None = None, gaze: tuple | None = None,
                       head_motion: float | None = None) -> None: ...


@dataclass(frozen=True)
class LoudnessConfig:
    fps: float = 25.0  # frames per second
    floor_db: float = -50.0  # level at which the mouth starts to open, dBFS
    range_db: float = 32.0  # from floor to fully open
    max_jaw: float = 0.7  # jawOpen at full loudness
    attack: float = 0.6  # smoothing towards a louder value, per frame (1 = instant)
    release: float = 0.35  # smoothing towards a quieter value, per frame


class LoudnessEngine:
    """Mouth from loudness, no look-ahead: the baseline, not the model."""

    lookahead_s = 0.0

    def __init__(self, config: LoudnessConfig = LoudnessConfig()) -> None:
        self.config = config
        self.fps = config.fps
        self._pending = np.zeros(0, np.float32)
        self._consumed = 0  # samples turned into frames
        self._index = 0
        self._jaw = 0.0
        self.emotion = "neutral"

    def set_conditions(self, *, emotion=None, gaze=None, head_motion=None) -> None:
        if emotion is not None:
            self.emotion = emotion

    def settle(self) -> None:
        """Nothing is left for later: every frame is made in push()."""

    def push(self, audio: np.ndarray) -> list[MotionFrame]:
        c = self.config
        self._pending = np.concatenate([self._pending, np.asarray(audio, np.float32)])
        frames = []
        while True:
            end = int(round((self._index + 1) * RATE / c.fps))
            need = end - self._consumed
            if len(self._pending) < need:
                return frames
            hop, self._pending = self._pending[:need], self._pending[need:]
            self._consumed = end
            rms = float(np.sqrt(np.mean(np.square(hop, dtype=np.float64)))) if need else 0.0
            db = 20 * np.log10(max(rms, 1e-6))
            target = float(np.clip((db - c.floor_db) / c.range_db, 0, 1)) * c.max_jaw
            k = c.attack if target > self._jaw else c.release
            self._jaw += k * (target - self._jaw)
            shapes = np.zeros(NUM_BLENDSHAPES, np.float32)
            shapes[INDEX["jawOpen"]] = self._jaw
            shapes[INDEX["mouthLowerDownLeft"]] = shapes[INDEX["mouthLowerDownRight"]] = \
                0.3 * self._jaw
            if self.emotion == "happy":
                shapes[INDEX["mouthSmileLeft"]] = shapes[INDEX["mouthSmileRight"]] = 0.5
            frames.append(MotionFrame(shapes, time=self._index / c.fps))
            self._index += 1


class FpsAdapter:
    """Frames at `fps_in` -> frames at `fps_out`, interpolated. Output frame j (time j/fps_out)
    leaves once an input frame at or after its time has arrived. Pure, no clock."""

    def __init__(self, fps_in: float, fps_out: float) -> None:
        self.fps_in, self.fps_out = float(fps_in), float(fps_out)
        self._prev: MotionFrame | None = None
        self._prev_index = -1
        self._next_out = 0

    def push(self, frames: list[MotionFrame]) -> list[MotionFrame]:
        if self.fps_in == self.fps_out:
            return frames
        out = []
        for frame in frames:
            k = self._prev_index + 1
            while self._next_out / self.fps_out <= k / self.fps_in + 1e-9:
                t = self._next_out / self.fps_out
                if self._prev is None:
                    f = frame
                else:
                    w = (t - self._prev_index / self.fps_in) * self.fps_in
                    f = interpolate(self._prev, frame, float(np.clip(w, 0, 1)))
                out.append(MotionFrame(f.blendshapes, f.head_rotation, f.head_translation, t))
                self._next_out += 1
            self._prev, self._prev_index = frame, k
        return out


class PrebakedEngine:
    """Motion computed ahead for whole clips (NPC lines arrive whole, so the model can bake them
    with long offline windows — far cheaper than live windows — the moment they arrive). Frames
    are queued with their clip; `push` hands out one frame per frame-span of audio consumed, and
    neutral frames between clips (idle life shows then)."""

    lookahead_s = 0.0

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)
        self._frames: collections.deque = collections.deque()
        self._consumed = 0  # samples pushed
        self._index = 0  # frames handed out
        self.emotion = "neutral"

    def set_conditions(self, *, emotion=None, gaze=None, head_motion=None) -> None:
        if emotion is not None:
            self.emotion = emotion

    def enqueue(self, frames: list[MotionFrame]) -> None:
        self._frames.extend(frames)

    def settle(self) -> None:
        """Nothing is left for later: the clips were baked when they arrived."""

    def push(self, audio: np.ndarray) -> list[MotionFrame]:
        self._consumed += len(audio)
        out = []
        while int(round((self._index + 1) * RATE / self.fps)) <= self._consumed:
            f = self._frames.popleft() if self._frames else MotionFrame.neutral()
            out.append(MotionFrame(f.blendshapes, f.head_rotation, f.head_translation,
                                   self._index / self.fps))
            self._index += 1
        return out
