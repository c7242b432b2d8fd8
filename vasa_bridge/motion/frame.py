"""The motion contract: what a face does at one instant (`MotionFrame`) and over time (`MotionTrack`).

Axes and signs are defined once, in docs/protocol.md ("Head pose"):
- blendshapes: 52 ARKit coefficients in [0, 1], canonical order (`names.ARKIT_NAMES`);
- head_rotation: (pitch, yaw, roll) in degrees; pitch > 0 looks down, yaw > 0 turns the face to
  the viewer's right, roll > 0 tilts the top of the head to the viewer's left;
- head_translation: (x, y, z) in metres from the rest pose; x to the viewer's right, y up,
  z towards the camera;
- time: media time in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..errors import MotionFormatError
from .names import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES

# Beyond these, a value is a unit mistake (radians vs degrees, millimetres vs metres), not motion.
MAX_ROTATION_DEG = 180.0
MAX_TRANSLATION_M = 10.0


def _check_finite(name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise MotionFormatError(f"{name} has a non-finite value {values[tuple(where)]!r} at index "
                                f"{where}: expected finite numbers")


def _check_range(name: str, values: np.ndarray, lo: float, hi: float, unit: str) -> None:
    bad = (values < lo) | (values > hi)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise MotionFormatError(f"{name} value {float(values[tuple(where)]):g} at index {where} is "
                                f"outside [{lo:g}, {hi:g}] {unit}".rstrip()
                                + ": expected every value in that range")


def check_names(names: Sequence[str]) -> None:
    """Refuse a name list that is not exactly the 52 ARKit names in canonical order."""
    names = [str(n) for n in names]
    if len(names) != NUM_BLENDSHAPES:
        raise MotionFormatError(f"names has {len(names)} entries: expected the "
                                f"{NUM_BLENDSHAPES} ARKit names")
    for i, (got, want) in enumerate(zip(names, ARKIT_NAMES)):
        if got != want:
            raise MotionFormatError(f"names[{i}] is {got!r}: expected {want!r} (ARKit canonical "
                                    f"order; reorder with MotionTrack.from_named)")


def validate_arrays(blendshapes: np.ndarray, head_rotation: np.ndarray,
                    head_translation: np.ndarray) -> None:
    """Shared checks for one frame ((52,), (3,), (3,)) or a track ((T,52), (T,3), (T,3))."""
    lead = blendshapes.shape[:-1]
    if blendshapes.shape[-1:] != (NUM_BLENDSHAPES,):
        raise MotionFormatError(f"blendshapes has shape {blendshapes.shape}: expected "
                                f"{lead + (NUM_BLENDSHAPES,)}")
    for name, arr in (("head_rotation", head_rotation), ("head_translation", head_translation)):
        if arr.shape != lead + (3,):
            raise MotionFormatError(f"{name} has shape {arr.shape}: expected {lead + (3,)}")
    _check_finite("blendshapes", blendshapes)
    _check_finite("head_rotation", head_rotation)
    _check_finite("head_translation", head_translation)
    _check_range("blendshapes", blendshapes, 0.0, 1.0, "")
    _check_range("head_rotation", head_rotation, -MAX_ROTATION_DEG, MAX_ROTATION_DEG, "degrees")
    _check_range("head_translation", head_translation, -MAX_TRANSLATION_M, MAX_TRANSLATION_M,
                 "metres")


@dataclass(frozen=True)
class MotionFrame:
    """One instant of facial motion. Arrays are float32 and read-only."""

    blendshapes: np.ndarray  # (52,) ARKit coefficients in [0, 1]
    head_rotation: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))  # degrees
    head_translation: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))  # m
    time: float = 0.0  # media time, seconds

    def __post_init__(self) -> None:
        for name in ("blendshapes", "head_rotation", "head_translation"):
            arr = np.array(getattr(self, name), dtype=np.float32)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        validate_arrays(self.blendshapes, self.head_rotation, self.head_translation)
        if not np.isfinite(self.time):
            raise MotionFormatError(f"time is {self.time!r}: expected a finite number of seconds")

    @classmethod
    def neutral(cls, time: float = 0.0) -> "MotionFrame":
        return cls(np.zeros(NUM_BLENDSHAPES, np.float32), time=time)

    @classmethod
    def from_named(cls, values: Mapping[str, float], *, head_rotation=(0.0, 0.0, 0.0),
                   head_translation=(0.0, 0.0, 0.0), time: float = 0.0) -> "MotionFrame":
        """Build from {name: value}; names not given are 0, unknown names are refused."""
        shapes = np.zeros(NUM_BLENDSHAPES, np.float32)
        for name, value in values.items():
            if name not in INDEX:
                raise MotionFormatError(f"unknown blendshape name {name!r}: expected one of the "
                                        f"52 ARKit names such as 'jawOpen'")
            shapes[INDEX[name]] = value
        return cls(shapes, head_rotation, head_translation, time)

    def __getitem__(self, name: str) -> float:
        return float(self.blendshapes[INDEX[name]])

    def as_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(ARKIT_NAMES, self.blendshapes)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MotionFrame):
            return NotImplemented
        return (self.time == other.time
                and np.array_equal(self.blendshapes, other.blendshapes)
                and np.array_equal(self.head_rotation, other.head_rotation)
                and np.array_equal(self.head_translation, other.head_translation))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class MotionTrack:
    """T motion frames at a fixed rate, optionally with the mono audio they go with.

    Frame i is at media time `start + i / fps`.
    """

    blendshapes: np.ndarray  # (T, 52) in [0, 1]
    head_rotation: np.ndarray  # (T, 3) degrees: pitch, yaw, roll
    head_translation: np.ndarray  # (T, 3) metres
    fps: float  # frames per second
    audio: np.ndarray | None = None  # (S,) float32 mono in [-1, 1]
    sample_rate: int | None = None  # Hz, required with audio
    start: float = 0.0  # media time of frame 0, seconds

    def __post_init__(self) -> None:
        for name in ("blendshapes", "head_rotation", "head_translation"):
            arr = np.array(getattr(self, name), dtype=np.float32)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.blendshapes.ndim != 2:
            raise MotionFormatError(f"blendshapes has shape {self.blendshapes.shape}: expected "
                                    f"(T, {NUM_BLENDSHAPES})")
        validate_arrays(self.blendshapes, self.head_rotation, self.head_translation)
        fps = float(self.fps)
        if not np.isfinite(fps) or not 0 < fps <= 1000:
            raise MotionFormatError(f"fps is {self.fps!r}: expected a number in (0, 1000]")
        object.__setattr__(self, "fps", fps)
        start = float(self.start)
        if not np.isfinite(start):
            raise MotionFormatError(f"start is {self.start!r}: expected a finite number of "
                                    f"seconds")
        object.__setattr__(self, "start", start)
        if self.audio is not None:
            audio = np.array(self.audio, dtype=np.float32)
            if audio.ndim != 1:
                raise MotionFormatError(f"audio has shape {audio.shape}: expected (S,) mono "
                                        f"samples")
            _check_finite("audio", audio)
            audio.setflags(write=False)
            object.__setattr__(self, "audio", audio)
            if self.sample_rate is None or not 1000 <= int(self.sample_rate) <= 384000:
                raise MotionFormatError(f"sample_rate is {self.sample_rate!r}: expected an "
                                        f"integer in [1000, 384000] Hz with audio")
            object.__setattr__(self, "sample_rate", int(self.sample_rate))
        elif self.sample_rate is not None:
            object.__setattr__(self, "sample_rate", int(self.sample_rate))

    def __len__(self) -> int:
        return self.blendshapes.shape[0]

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (T / fps)."""
        return len(self) / self.fps

    @property
    def times(self) -> np.ndarray:
        return (self.start + np.arange(len(self)) / self.fps).astype(np.float64)

    def frame(self, i: int) -> MotionFrame:
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame index {i} out of range for a track of {len(self)} frames")
        i %= len(self)
        return MotionFrame(self.blendshapes[i], self.head_rotation[i], self.head_translation[i],
                           float(self.start + i / self.fps))

    def __iter__(self) -> Iterator[MotionFrame]:
        return (self.frame(i) for i in range(len(self)))

    def audio_for_frame(self, i: int) -> np.ndarray:
        """The audio samples that play while frame i is shown: [i/fps, (i+1)/fps)."""
        if self.audio is None:
            return np.zeros(0, np.float32)
        a = int(round(i * self.sample_rate / self.fps))
        b = int(round((i + 1) * self.sample_rate / self.fps))
        return self.audio[a:b]

    @classmethod
    def from_frames(cls, frames: Sequence[MotionFrame], fps: float, **kw) -> "MotionTrack":
        if not frames:
            raise MotionFormatError("a track needs at least one frame: got 0")
        return cls(np.stack([f.blendshapes for f in frames]),
                   np.stack([f.head_rotation for f in frames]),
                   np.stack([f.head_translation for f in frames]), fps,
                   start=kw.pop("start", frames[0].time), **kw)

    @classmethod
    def from_named(cls, names: Sequence[str], blendshapes: np.ndarray, head_rotation,
                   head_translation, fps: float, **kw) -> "MotionTrack":
        """Build from columns in any order (mediapipe, Unity's alphabetical enum, …)."""
        blendshapes = np.asarray(blendshapes, np.float32)
        if blendshapes.ndim != 2 or blendshapes.shape[1] != len(names):
            raise MotionFormatError(f"blendshapes has shape {blendshapes.shape}: expected "
                                    f"(T, {len(names)}) to match the {len(names)} names")
        out = np.zeros((blendshapes.shape[0], NUM_BLENDSHAPES), np.float32)
        seen = set()
        for col, name in enumerate(names):
            if name not in INDEX:
                raise MotionFormatError(f"unknown blendshape name {name!r} in column {col}: "
                                        f"expected ARKit names such as 'jawOpen'")
            if name in seen:
                raise MotionFormatError(f"blendshape name {name!r} appears twice: expected each "
                                        f"name once")
            seen.add(name)
            out[:, INDEX[name]] = blendshapes[:, col]
        return cls(out, head_rotation, head_translation, fps, **kw)

    def with_audio(self, audio: np.ndarray, sample_rate: int) -> "MotionTrack":
        return MotionTrack(self.blendshapes, self.head_rotation, self.head_translation, self.fps,
                           audio, sample_rate, self.start)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MotionTrack):
            return NotImplemented
        same_audio = (self.audio is None and other.audio is None) or (
            self.audio is not None and other.audio is not None
            and np.array_equal(self.audio, other.audio))
        return (self.fps == other.fps and self.start == other.start
                and self.sample_rate == other.sample_rate and same_audio
                and np.array_equal(self.blendshapes, other.blendshapes)
                and np.array_equal(self.head_rotation, other.head_rotation)
                and np.array_equal(self.head_translation, other.head_translation))

    __hash__ = None  # type: ignore[assignment]
