"""The audio contract between stages: one sample rate, and one conversion between 16-bit PCM and
float samples.

Every live source, clip, dataset, the teacher and the motion model's features work at
`SAMPLE_RATE`; audio at any other rate is resampled where it enters. A model trained at another
rate is refused when it loads (`model.onnx_runtime`).

Float audio is in [-1, 1]. `to_s16` scales by 32767 and rounds (so +1.0 and -1.0 both fit);
`from_s16` divides by 32768 (so -32768, the most negative code, is exactly -1.0).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000  # Hz: the one rate audio travels at between stages
# The rates audio may arrive at, wherever it enters (speech files, `serve --audio`, `speak` clips,
# the audio inlet, the web API): from 8 kHz, telephone speech, the lowest rate voice is recorded
# at (below it the 4 kHz band that tells one vowel from another is gone), to 192 kHz, the
# highest studio rate in use. A number outside is a mistake (samples or kHz passed as the rate),
# not a recording; one range for every entry point, so a clip one accepts the others accept too.
MIN_RATE = 8000  # Hz
MAX_RATE = 192000  # Hz
S16_SCALE_OUT = 32767.0  # float -> int16: full scale
S16_SCALE_IN = 32768.0  # int16 -> float: the most negative code maps to -1.0


def to_s16(samples) -> np.ndarray:
    """Float samples (any shape) -> int16, clipped to [-1, 1] and rounded to the nearest code."""
    x = np.asarray(samples)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return np.round(np.clip(x, -1.0, 1.0) * S16_SCALE_OUT).astype(np.int16)  # in x's precision


def from_s16(samples) -> np.ndarray:
    """int16 samples (any shape) -> float32 in [-1, 1)."""
    return np.asarray(samples).astype(np.float32) / S16_SCALE_IN
