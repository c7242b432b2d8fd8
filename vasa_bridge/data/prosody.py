"""Frame-rate prosody from audio: energy (dB) and pitch (f0, Hz) by normalised autocorrelation.

Cheap on purpose (a few ms per minute of audio): the teacher needs where pitch peaks and where
energy swells, not a studio pitch track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F0_MIN, F0_MAX = 60.0, 400.0  # Hz
WINDOW_S = 0.04  # analysis window, seconds
VOICING_THRESHOLD = 0.45  # normalised autocorrelation peak


@dataclass(frozen=True)
class FrameProsody:
    energy_db: np.ndarray  # (T,) dB full scale, RMS over the window
    f0: np.ndarray  # (T,) Hz, 0 where unvoiced
    voiced: np.ndarray  # (T,) bool

    def f0_z(self) -> np.ndarray:
        """(T,) log-f0 z-score over the voiced frames of this clip; 0 where unvoiced."""
        z = np.zeros_like(self.f0)
        if self.voiced.sum() >= 3:
            lf = np.log(self.f0[self.voiced])
            z[self.voiced] = (lf - lf.mean()) / max(lf.std(), 1e-3)
        return z


def frame_prosody(audio: np.ndarray, sample_rate: int, times: np.ndarray) -> FrameProsody:
    """Energy and f0 of windows centred on `times` (seconds)."""
    audio = np.asarray(audio, np.float32)
    w = int(round(WINDOW_S * sample_rate))
    centres = np.round(np.asarray(times) * sample_rate).astype(np.int64)
    padded = np.pad(audio, (w, w))
    idx = centres[:, None] + np.arange(-w // 2, w - w // 2)[None, :] + w  # (T, W)
    idx = np.clip(idx, 0, len(padded) - 1)
    frames = padded[idx].astype(np.float64)  # (T, W)
    frames -= frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(frames ** 2, axis=1) + 1e-12)
    energy_db = 20 * np.log10(rms + 1e-9)
    win = np.hanning(w)
    x = frames * win
    n = 1 << int(np.ceil(np.log2(2 * w)))
    spec = np.fft.rfft(x, n=n, axis=1)
    acf = np.fft.irfft(np.abs(spec) ** 2, n=n, axis=1)[:, :w]  # (T, W)
    wacf = np.fft.irfft(np.abs(np.fft.rfft(win, n=n)) ** 2, n=n)[:w]
    acf = acf / np.maximum(wacf[None, :], 1e-9)  # undo the window's taper
    acf = acf / np.maximum(acf[:, :1], 1e-12)
    lo, hi = int(sample_rate / F0_MAX), min(int(sample_rate / F0_MIN), w - 1)
    lag = lo + np.argmax(acf[:, lo:hi], axis=1)
    peak = acf[np.arange(len(lag)), lag]
    loud = energy_db > max(energy_db.max() - 35.0, -55.0) if len(energy_db) else energy_db > 0
    voiced = (peak > VOICING_THRESHOLD) & loud
    f0 = np.where(voiced, sample_rate / lag, 0.0)
    return FrameProsody(energy_db.astype(np.float32), f0.astype(np.float32), voiced)
