"""What a window is conditioned on, as one record of arrays (numpy or torch alike; no torch import).

Shapes for a batch of B windows of N frames, C context frames, L look-ahead frames:
    audio      (B, C+N+L, A) float32  normalised features (`audio/features.py`)
    context    (B, C, 58)    float32  previous motion, normalised (`config.normalise`)
    emotion    (B,)          int64    0 = unspecified, 1 + index into config.EMOTIONS
    gaze       (B, 2)        float32  eye direction, x to the viewer's right, y up, in [-1, 1]
    intensity  (B,)          float32  head angular speed / config.intensity_ref
    keep       (B, 5)        float32  1 = use, 0 = null: audio, context, gaze, intensity, emotion
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

CONDITION_NAMES = ("audio", "context", "gaze", "intensity", "emotion")  # the order of `keep`


def _is_numpy(x) -> bool:
    return isinstance(x, np.ndarray)


def cat(arrays: list):
    """Concatenate along the batch axis, numpy or torch."""
    if _is_numpy(arrays[0]):
        return np.concatenate(arrays, axis=0)
    import torch  # only reached with torch tensors, i.e. in training and tests
    return torch.cat(arrays, dim=0)


@dataclass(frozen=True)
class Conditions:
    audio: object
    context: object
    emotion: object
    gaze: object
    intensity: object
    keep: object

    @property
    def batch(self) -> int:
        return int(self.audio.shape[0])

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    def without(self, name: str) -> "Conditions":
        """The same conditions with `name` (one of CONDITION_NAMES) switched off."""
        keep = self.keep.copy() if _is_numpy(self.keep) else self.keep.clone()
        keep[:, CONDITION_NAMES.index(name)] = 0
        return replace(self, keep=keep)

    @staticmethod
    def concat(items: list["Conditions"]) -> "Conditions":
        return Conditions(*(cat([getattr(c, f.name) for c in items]) for f in fields(Conditions)))

    def map(self, fn) -> "Conditions":
        return Conditions(*(fn(getattr(self, f.name)) for f in fields(self)))
