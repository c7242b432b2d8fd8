"""Seeded audio augmentation: gain, additive noise at a chosen SNR, synthetic room reverb, and
band-limiting like a cheap microphone, a telephone or a narrow-band voice codec.

`draw_augmentation(rng)` picks the parameters (a JSON-able dict stored in the clip metadata);
`apply_augmentation(audio, params)` is a pure function of the audio and those parameters (plus
the noise seed inside them), so any clip's audio can be regenerated exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

SAMPLE_RATE = 16000


def draw_augmentation(rng: np.random.Generator, strength: float = 1.0) -> dict:
    """Random augmentation parameters; strength 0 gives the clean signal (gain 0 dB)."""
    p: dict = {"gain_db": round(float(rng.uniform(-12, 3)) * strength, 2),
               "seed": int(rng.integers(0, 2**31 - 1))}
    if rng.random() < 0.6 * strength:
        p["noise"] = {"color": str(rng.choice(["white", "pink", "brown", "hum"])),
                      "snr_db": round(float(rng.uniform(5, 35)), 1)}
    if rng.random() < 0.4 * strength:
        p["reverb"] = {"rt60_s": round(float(rng.uniform(0.15, 0.8)), 3),
                       "wet": round(float(rng.uniform(0.1, 0.5)), 3)}
    if rng.random() < 0.4 * strength:
        band = str(rng.choice(["cheap_mic", "telephone", "codec"]))
        p["band"] = {"kind": band}
        if band == "cheap_mic":
            p["band"].update(low_hz=round(float(rng.uniform(100, 300))),
                             high_hz=round(float(rng.uniform(3500, 7000))),
                             drive=round(float(rng.uniform(1.0, 3.0)), 2))
    return p


def _noise(rng: np.random.Generator, n: int, color: str) -> np.ndarray:
    if color == "hum":  # mains hum and harmonics with a little hiss
        t = np.arange(n) / SAMPLE_RATE
        f = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5))
        return x + 0.1 * rng.standard_normal(n)
    white = rng.standard_normal(n)
    if color == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
    spec /= np.sqrt(f) if color == "pink" else f  # 1/f power (pink), 1/f^2 power (brown)
    return np.fft.irfft(spec, n)


def _room(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Impulse response: direct path, a few early reflections, exponentially decaying tail."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    h[: int(0.005 * SAMPLE_RATE)] = 0.0
    for _ in range(4):
        h[int(rng.uniform(0.003, 0.03) * SAMPLE_RATE)] += rng.uniform(0.2, 0.6)
    return h / np.sqrt(np.sum(h ** 2))


def apply_augmentation(audio: np.ndarray, params: dict) -> np.ndarray:
    """Augmented copy of 16 kHz mono audio; output peak stays below 1."""
    x = np.asarray(audio, np.float64)
    rng = np.random.default_rng(params.get("seed", 0))
    if "reverb" in params:
        h = _room(rng, params["reverb"]["rt60_s"])
        wet = fftconvolve(x, h)[: len(x)]
        wet *= np.sqrt(np.sum(x ** 2) / max(np.sum(wet ** 2), 1e-12))
        x = (1 - params["reverb"]["wet"]) * x + params["reverb"]["wet"] * wet
    band = params.get("band")
    if band:
        if band["kind"] == "telephone":
            x = sosfilt(butter(4, [300, 3400], "bandpass", fs=SAMPLE_RATE, output="sos"), x)
        elif band["kind"] == "codec":  # narrow-band codec: 8 kHz, 8-bit mu-law
            y = resample_poly(x, 1, 2)
            mu = 255.0
            peak = max(np.max(np.abs(y)), 1e-9)
            c = np.sign(y) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu)
            c = np.round(c * 127) / 127
            y = np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu * peak
            x = resample_poly(y, 2, 1)[: len(x)]
        else:
            sos = butter(2, [band["low_hz"], band["high_hz"]], "bandpass", fs=SAMPLE_RATE,
                         output="sos")
            x = sosfilt(sos, x)
            d = band["drive"]
            peak = max(np.max(np.abs(x)), 1e-9)
            x = np.tanh(d * x / peak) / np.tanh(d) * peak  # soft clipping of a cheap preamp
    if "noise" in params:
        nz = _noise(rng, len(x), params["noise"]["color"])
        p_sig = np.mean(x ** 2) if len(x) else 0.0
        p_nz = max(np.mean(nz ** 2), 1e-12)
        x = x + nz * np.sqrt(p_sig / p_nz / 10 ** (params["noise"]["snr_db"] / 10))
    x = x * 10 ** (params.get("gain_db", 0.0) / 20)
    peak = np.max(np.abs(x)) if len(x) else 0.0
    if peak > 0.99:
        x *= 0.99 / peak
    return x.astype(np.float32)
