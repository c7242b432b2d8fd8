"""The renderer interface every backend implements.

    backend = get_backend("cpu", RenderConfig())
    state = backend.prepare("portrait.jpg")          # once per photo (<= 1 s)
    rgb = backend.render(state, motion_frame)        # per frame, (H, W, 3) or (H, W, 4) uint8
    for img in backend.render_track(state, track):   # a whole MotionTrack
        ...

Contract for a new backend (e.g. a learned GPU renderer):
- `prepare(image, portrait_config) -> PortraitState`: `image` is a path, an (H, W[, C]) array,
  a `LoadedImage`, or a `face.Portrait` already analysed (e.g. by `face.cache`); call
  `face.analyse_portrait` for the crop, landmarks and person mask so every
  backend animates the same pixels, and keep anything backend-specific in `state.cache`.
- `render(state, frame) -> np.ndarray`: a `motion.MotionFrame` (52 ARKit values in canonical
  order, head rotation in degrees, translation in metres; signs as in `motion.frame`) ->
  uint8 RGB (H, W, 3), or RGBA (H, W, 4) with straight (not premultiplied) alpha when
  `config.alpha`. The size is `state.size`. Frames are independent: the same frame gives the same
  image, whatever came before (no flicker at rest by construction).
- Refuse a state prepared by another backend with RenderError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from ..errors import RenderError
from ..face.image import LoadedImage
from ..face.portrait import Portrait, PortraitConfig
from ..motion.frame import MotionFrame, MotionTrack


@dataclass(frozen=True)
class RenderConfig:
    alpha: bool = False  # RGBA output with the soft person alpha
    grid_step: int = 0  # pixels per warp-grid cell; 0 = size / 128, at least 4
    inverse_iterations: int = 6  # fixed-point steps inverting the warp
    inverse_relax: float = 0.6  # damping of each step (1 = none; < 1 avoids stripes on turns)
    eyes: bool = True  # draw eyeballs (gaze, lids that cover rather than squash the iris)
    mouth: bool = True  # draw the mouth interior when the lips part
    device: str = "cpu"  # torch backend only: "cpu" or "cuda"
    cache_dir: str | None = None  # folder that keeps warp grids between runs (None: not kept)

    def __post_init__(self) -> None:
        if self.grid_step not in (0, 2, 4, 8, 16):
            raise RenderError(f"grid_step is {self.grid_step}: expected 0 (auto), 2, 4, 8 or 16")
        if not 0 <= self.inverse_iterations <= 10:
            raise RenderError(f"inverse_iterations is {self.inverse_iterations}: expected 0..10")
        if not 0.1 <= self.inverse_relax <= 1.0:
            raise RenderError(f"inverse_relax is {self.inverse_relax}: expected 0.1..1")


@dataclass(frozen=True)
class PortraitState:
    backend: str  # name of the backend that prepared it
    portrait: Portrait  # crop, landmarks, person mask, rest measurements
    config: RenderConfig
    cache: object = field(repr=False)  # backend-specific precomputed data

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        h, w = self.portrait.image.shape[:2]
        return (w, h)


ImageInput = str | Path | np.ndarray | LoadedImage | Portrait


class Backend(Protocol):
    name: str
    config: RenderConfig

    def prepare(self, image: ImageInput,
                portrait_config: PortraitConfig = PortraitConfig()) -> PortraitState: ...

    def render(self, state: PortraitState, frame: MotionFrame) -> np.ndarray: ...


def render_track(backend: Backend, state: PortraitState, track: MotionTrack) -> Iterator[np.ndarray]:
    """Frames of a whole track, in order."""
    for frame in track:
        yield backend.render(state, frame)


def check_state(state: PortraitState, name: str) -> None:
    if not isinstance(state, PortraitState) or state.backend != name:
        got = getattr(state, "backend", type(state).__name__)
        raise RenderError(f"state was prepared by {got!r}: expected a state from the {name!r} "
                          f"backend's prepare()")


def get_backend(name: str, config: RenderConfig = RenderConfig()) -> Backend:
    """'cpu' (numpy + OpenCV) or 'torch' (the same warp in torch; CUDA when config.device)."""
    if name == "cpu":
        from .cpu import CpuBackend

        return CpuBackend(config)
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(config)
    raise RenderError(f"unknown render backend {name!r}: expected 'cpu' or 'torch'")
