"""Idle life: the motion of a face that is listening, not speaking — blinks, breathing, a slow
head drift and small gaze shifts — so the face is never frozen.

Pure and seeded: `IdleLife(seed).frame(i)` depends only on the seed and the frame index, so tests
are deterministic and every stream (NPC) can have its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..motion.frame import MotionFrame
from ..motion.names import INDEX, NUM_BLENDSHAPES


@dataclass(frozen=True)
class IdleConfig:
    fps: float = 25.0  # frames per second
    blink_interval_s: tuple[float, float] = (2.0, 6.0)  # uniform gap between blinks (~15/min)
    blink_duration_s: float = 0.16  # close + open
    breath_period_s: float = 4.2  # one breath
    breath_pitch_deg: float = 0.6  # nod amplitude of breathing
    drift_deg: tuple[float, float, float] = (1.5, 3.0, 1.0)  # pitch, yaw, roll amplitude
    gaze_shift_interval_s: tuple[float, float] = (1.5, 4.0)  # between small saccades
    gaze_amount: float = 0.15  # eyeLook* weight of a saccade


class IdleLife:
    def __init__(self, config: IdleConfig = IdleConfig(), seed: int = 0) -> None:
        self.config = config
        rng = np.random.default_rng(seed)
        self._phases = rng.uniform(0, 2 * np.pi, (3, 3))  # per axis, three incommensurate sines
        self._freqs = np.array([0.031, 0.067, 0.113])  # Hz: slow drift
        self._rng = rng
        self._blinks: list[float] = []  # start times (s), generated lazily
        self._gazes: list[tuple[float, float, float]] = []  # (time s, x, y)
        self._next_blink = rng.uniform(0.3, config.blink_interval_s[1])
        self._next_gaze = 0.0

    def _extend(self, t: float) -> None:
        c = self.config
        while self._next_blink <= t + c.blink_duration_s:
            self._blinks.append(self._next_blink)
            self._next_blink += self._rng.uniform(*c.blink_interval_s)
        while self._next_gaze <= t:
            x, y = self._rng.uniform(-1, 1, 2) * (self._rng.uniform() < 0.7)
            self._gazes.append((self._next_gaze, float(x), float(y)))
            self._next_gaze += self._rng.uniform(*c.gaze_shift_interval_s)

    def blink_weight(self, t: float) -> float:
        d = self.config.blink_duration_s
        for start in reversed(self._blinks):
            if start <= t < start + d:
                return float(np.sin(np.pi * (t - start) / d))
            if start + d < t - 10:
                break
        return 0.0

    def frame(self, index: int, time: float | None = None) -> MotionFrame:
        c = self.config
        t = index / c.fps
        self._extend(t)
        shapes = np.zeros(NUM_BLENDSHAPES, np.float32)
        blink = self.blink_weight(t)
        shapes[INDEX["eyeBlinkLeft"]] = shapes[INDEX["eyeBlinkRight"]] = blink
        gx, gy = 0.0, 0.0
        for start, x, y in reversed(self._gazes):
            if start <= t:
                gx, gy = x, y
                break
        g = c.gaze_amount
        # Subject's left is +x here: the left eye looks out, the right eye looks in.
        shapes[INDEX["eyeLookOutLeft"]] = shapes[INDEX["eyeLookInRight"]] = g * max(gx, 0)
        shapes[INDEX["eyeLookInLeft"]] = shapes[INDEX["eyeLookOutRight"]] = g * max(-gx, 0)
        shapes[INDEX["eyeLookUpLeft"]] = shapes[INDEX["eyeLookUpRight"]] = g * max(gy, 0)
        shapes[INDEX["eyeLookDownLeft"]] = shapes[INDEX["eyeLookDownRight"]] = g * max(-gy, 0)
        drift = (np.sin(2 * np.pi * self._freqs[None, :] * t + self._phases).mean(axis=1)
                 * np.array(c.drift_deg))
        breath = np.sin(2 * np.pi * t / c.breath_period_s)
        rotation = drift + np.array([c.breath_pitch_deg * breath, 0.0, 0.0])
        translation = np.array([0.0, 0.0015 * breath, 0.0])
        return MotionFrame(np.clip(shapes, 0, 1), rotation, translation,
                           t if time is None else time)
