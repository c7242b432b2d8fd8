"""Visible "AI-generated" label: a small, legible mark in one corner of a frame.

The renderer calls `label(frame)` on every frame when the label is on (default for `render`, the
`--label` flag for `serve`). The text is rasterised once per (text, frame size, corner) and blended
into a small region, so labelling a 512x512 frame costs a few tens of microseconds.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..errors import ConfigError

CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


@lru_cache(maxsize=32)
def _badge(text: str, height: int, width: int, corner: str) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Where the badge goes, its opacity (h, w, 1) and its colour (h, w, 3)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, min(height, width) / 1100)
    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = max(2, int(round(th * 0.35)))
    bh, bw = th + base + 2 * pad, tw + 2 * pad
    if bh > height or bw > width:
        raise ConfigError(f"label {text!r} needs {bw}x{bh} pixels, frame is {width}x{height}: "
                          f"expected a larger frame (--size), or no label (--no-label)")
    margin = max(2, min(height, width) // 64)
    top = margin if corner.startswith("top") else height - margin - bh
    left = margin if corner.endswith("left") else width - margin - bw
    ink = np.zeros((bh, bw), np.uint8)
    cv2.putText(ink, text, (pad, pad + th), font, scale, 255, thick, cv2.LINE_AA)
    ink_f = ink.astype(np.float32)[..., None] / 255.0  # (bh, bw, 1)
    alpha = 0.55 + 0.45 * ink_f  # a translucent dark box under opaque white text
    colour = np.repeat(255.0 * ink_f, 3, axis=2)  # (bh, bw, 3)
    return slice(top, top + bh), slice(left, left + bw), alpha, colour


def label(frame: np.ndarray, text: str = "AI-generated", corner: str = "bottom-right",
          inplace: bool = False) -> np.ndarray:
    """Draw `text` in a small box in `corner` of an HxWx3|4 uint8 frame (RGB or RGBA).

    Returns the labelled frame (a copy unless `inplace`). With RGBA, the box is made opaque so the
    label stays visible when the frame is composited over something else.
    """
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] not in (3, 4):
        raise ConfigError(f"frame must be an HxWx3|4 uint8 array, got "
                          f"{getattr(frame, 'shape', type(frame))} {getattr(frame, 'dtype', '')}")
    if corner not in CORNERS:
        raise ConfigError(f"corner must be one of {CORNERS}, got {corner!r}")
    if not text:
        raise ConfigError("label text must not be empty")
    out = frame if inplace else frame.copy()
    rows, cols, alpha, colour = _badge(text, frame.shape[0], frame.shape[1], corner)
    region = out[rows, cols, :3].astype(np.float32)
    out[rows, cols, :3] = (region * (1.0 - alpha) + colour * alpha + 0.5).astype(np.uint8)
    if frame.shape[2] == 4:
        out[rows, cols, 3] = 255
    return out
