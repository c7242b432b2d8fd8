"""Fidelity check: render sweeps, re-detect the face mesh, recover the motion with the solver.

Used by tests/test_render_fidelity.py and bench/bench_fidelity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..face.detect import detect_faces
from ..face.solver import calibrate, solve
from ..motion.frame import MotionFrame
from ..motion.names import INDEX
from .base import Backend, PortraitState

# name -> (what the sweep drives, values). Shapes sweep 0..1; pose sweeps -20..20 degrees.
SHAPE_SWEEPS = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight",
                "browInnerUp", "mouthFunnel", "eyeLookOutLeft")
POSE_SWEEPS = {"pitch": 0, "yaw": 1, "roll": 2}


@dataclass(frozen=True)
class SweepResult:
    channel: str
    commanded: np.ndarray  # (T,)
    recovered: np.ndarray  # (T,) nan where no face was found
    missed: int  # frames where the face mesh found no face

    @property
    def correlation(self) -> float:
        ok = np.isfinite(self.recovered)
        if ok.sum() < 3 or np.std(self.recovered[ok]) < 1e-9:
            return 0.0
        return float(np.corrcoef(self.commanded[ok], self.recovered[ok])[0, 1])

    @property
    def max_abs_error(self) -> float:
        ok = np.isfinite(self.recovered)
        return float(np.max(np.abs(self.commanded[ok] - self.recovered[ok]))) if ok.any() else np.inf


def sweep_values(channel: str, steps: int) -> np.ndarray:
    if channel in POSE_SWEEPS:
        return np.linspace(-20.0, 20.0, steps)
    return np.linspace(0.0, 1.0, steps)


def frame_for(channel: str, value: float) -> MotionFrame:
    if channel in POSE_SWEEPS:
        rot = np.zeros(3)
        rot[POSE_SWEEPS[channel]] = value
        return MotionFrame.from_named({}, head_rotation=rot)
    return MotionFrame.from_named({channel: value})


def run_sweep(backend: Backend, state: PortraitState, channel: str, steps: int = 9,
              perturb: Callable[[np.ndarray], np.ndarray] | None = None) -> SweepResult:
    """Render `steps` frames of `channel`, re-detect each, solve against the rest frame.

    `perturb` (optional) changes every rendered (H, W, 3) uint8 frame, the rest frame included,
    before detection: an imperceptible change there measures the detector's own noise floor.
    """
    size = state.size
    keep = perturb or (lambda img: img)
    rest = keep(backend.render(state, MotionFrame.neutral())[..., :3])
    # The animated face: the one the portrait picked (a group photo has others beside it).
    centre = state.portrait.landmarks[:, :2].mean(0)
    ref = calibrate(_nearest(detect_faces(rest, max_faces=4), centre).landmarks, size)
    values = sweep_values(channel, steps)
    got = np.full(steps, np.nan)
    missed = 0
    for i, v in enumerate(values):
        img = keep(backend.render(state, frame_for(channel, float(v)))[..., :3])
        found = detect_faces(img, max_faces=4)
        if not found:
            missed += 1
            continue
        f = solve(_nearest(found, centre).landmarks, size, ref)
        got[i] = (f.head_rotation[POSE_SWEEPS[channel]] if channel in POSE_SWEEPS
                  else f.blendshapes[INDEX[channel]])
    return SweepResult(channel, values, got, missed)


def _nearest(faces, centre: np.ndarray):
    """The detected face whose landmarks' mean is nearest `centre` (pixels)."""
    return min(faces, key=lambda f: float(np.linalg.norm(f.landmarks[:, :2].mean(0) - centre)))


PERTURBATIONS = ("lsb", "shift")


def perturbation(kind: str, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """A seeded, imperceptible change to an (H, W, 3) uint8 frame, for `run_sweep(perturb=)`.

    "lsb": each value of each pixel moved by -1, 0 or +1 at random (clipped to 0..255);
    "shift": the whole frame moved by a random offset of up to 0.25 px each way (bilinear,
    borders replicated). Each call draws new values from the one generator, so a sweep's frames
    get different changes and the same seed gives the same sweep.
    """
    if kind not in PERTURBATIONS:
        raise ValueError(f"perturbation is {kind!r}: expected one of {PERTURBATIONS}")
    rng = np.random.default_rng(seed)

    def lsb(img: np.ndarray) -> np.ndarray:
        step = rng.integers(-1, 2, size=img.shape, dtype=np.int16)
        return np.clip(img.astype(np.int16) + step, 0, 255).astype(np.uint8)

    def shift(img: np.ndarray) -> np.ndarray:
        dx, dy = rng.uniform(-0.25, 0.25, size=2)
        m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        return cv2.warpAffine(np.ascontiguousarray(img), m, (img.shape[1], img.shape[0]),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return lsb if kind == "lsb" else shift
