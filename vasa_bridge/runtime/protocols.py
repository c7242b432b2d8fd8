"""What the serve loop takes besides audio (audio/protocols.py has AudioSource and Pacer).

Structural types: `transport.Publisher`, the render backends, `provenance.stamp.Stamp` and the
VTuber outputs satisfy them without naming them, and tests pass small recording fakes.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..motion.frame import MotionFrame


class MotionPublisher(Protocol):
    """Where every stream's motion, audio and events go (transport.Publisher). Never blocks."""

    stats: Any  # .dropped: a Counter of messages dropped per kind

    def add_stream(self, stream: str) -> None: ...

    def motion(self, frame: MotionFrame, *, pts: int, stream: str,
               extra: dict | None = None) -> bool: ...

    def audio(self, samples: np.ndarray, *, pts: int, rate: int, stream: str) -> bool: ...

    def event(self, name: str, *, pts: int, stream: str, message: str | None = None,
              data: dict | None = None) -> bool: ...

    def frame(self, image: np.ndarray, *, pts: int, stream: str) -> bool: ...

    def hello(self, *, pts: int = 0, force: bool = False) -> bool: ...


class Portrait(Protocol):
    """A portrait prepared for a renderer (`renderer.prepare(image)`); its frame size."""

    size: tuple[int, int]  # (width, height), pixels


class Renderer(Protocol):
    def render(self, portrait: Any, motion: MotionFrame) -> np.ndarray:
        """One picture, (H, W, 3 or 4) uint8."""
        ...


class Stamp(Protocol):
    """Marks every picture (watermark, label) before it leaves; same shape out."""

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


class FrameSink(Protocol):
    """A picture output (a virtual webcam): the main face's pictures at full size."""

    def send(self, image: np.ndarray, pts: int) -> None: ...


class ClipBaker(Protocol):
    """Bakes an NPC line whole when it arrives (model_engine), instead of live windows; hears a
    live face's clip whole for its mouth."""

    fps: float

    def bake(self, audio: np.ndarray, emotion: str, seed: int, language: str = "en",
             hear: bool = True) -> list[MotionFrame]: ...  # hear: the phone layer

    # 16 kHz clip -> phone timeline of its recognised words, or None (not heard well enough)
    def hear_words(self, audio: np.ndarray, language: str = "en") -> Any: ...
