"""`serve --virtualcam`: the rendered face as a webcam (Zoom, Discord, Meet) without OBS, through
pyvirtualcam (v4l2loopback on Linux, OBS's virtual camera on Windows and macOS)."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import VasaError

log = logging.getLogger(__name__)


class VirtualCameraError(VasaError):
    """No virtual camera device could be opened."""


class VirtualCamSink:
    """A frame sink: `send(image, pts)` with (H, W, 4) RGBA or (H, W, 3) RGB; alpha is dropped
    (webcams are opaque). Never blocks for long: pyvirtualcam copies and returns."""

    def __init__(self, width: int, height: int, fps: float, *, device: str | None = None,
                 backend: str | None = None) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise VirtualCameraError("--virtualcam needs pyvirtualcam: pip install pyvirtualcam") \
                from None
        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                            device=device, backend=backend)
        except RuntimeError as e:
            raise VirtualCameraError(
                f"no virtual camera could be opened ({e}). Linux: load v4l2loopback "
                f"(sudo modprobe v4l2loopback exclusive_caps=1); Windows/macOS: install OBS and "
                f"start its virtual camera once") from None
        self.device = self._cam.device
        self.frames = 0
        log.info("virtual camera: %s (%dx%d @ %g fps)", self.device, width, height, fps)

    def send(self, image: np.ndarray, pts: int | None = None) -> None:
        self._cam.send(np.ascontiguousarray(image[..., :3]))
        self.frames += 1

    def close(self) -> None:
        self._cam.close()
