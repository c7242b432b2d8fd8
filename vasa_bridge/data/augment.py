"""Seeded audio augmentation: gain, additive noise at a chosen SNR, synthetic room reverb, and
band-limiting like a cheap microphone, a telephone or a narrow-band voice codec; and a fuller
capture chain (`draw_capture_chain`): microphone colouring (band limits and resonances), a room,
a lossy codec (MP3, AAC, Opus through PyAV), noise down to a few dB SNR, and a level change.

`draw_augmentation(rng)` picks the parameters (a JSON-able dict stored in the clip metadata);
`apply_augmentation(audio, params)` is a pure function of the audio and those parameters (plus
the noise seed inside them), so any clip's audio can be regenerated exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from ..audio.pcm import SAMPLE_RATE


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


CODECS = {"mp3": ("libmp3lame", "mp3", SAMPLE_RATE), "aac": ("aac", "adts", SAMPLE_RATE),
          "opus": ("libopus", "ogg", 48000)}  # name: (encoder, container, its sample rate)


def draw_capture_chain(rng: np.random.Generator) -> dict:
    """Parameters of a real capture chain: what a user's microphone, room and app do to a voice
    (for training on synthetic speech that has to hold on real recordings)."""
    p: dict = {"gain_db": round(float(rng.uniform(-20, 6)), 2),
               "seed": int(rng.integers(0, 2**31 - 1)),
               "eq": {"low_hz": round(float(rng.uniform(50, 300))),
                      "high_hz": round(float(rng.uniform(3000, 7800))),
                      "peaks": [[round(float(rng.uniform(200, 6000))),
                                 round(float(rng.uniform(-8, 8)), 1),
                                 round(float(rng.uniform(0.7, 3.0)), 2)] for _ in range(3)]}}
    if rng.random() < 0.6:
        p["reverb"] = {"rt60_s": round(float(rng.uniform(0.2, 0.9)), 3),
                       "wet": round(float(rng.uniform(0.15, 0.7)), 3)}
    if rng.random() < 0.5:
        p["codec"] = {"name": str(rng.choice(sorted(CODECS))),
                      "kbps": int(rng.choice([16, 24, 32, 48, 64]))}
    if rng.random() < 0.7:
        p["noise"] = {"color": str(rng.choice(["white", "pink", "brown", "hum"])),
                      "snr_db": round(float(rng.uniform(3, 30)), 1)}
    return p


def _peaking(x: np.ndarray, f0: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ peaking equaliser (one resonance of a microphone or its housing)."""
    from scipy.signal import lfilter
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / SAMPLE_RATE
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w), 1 - alpha / a])
    return lfilter(b / den[0], den / den[0], x)


def _eq(x: np.ndarray, eq: dict) -> np.ndarray:
    x = sosfilt(butter(2, [eq["low_hz"], eq["high_hz"]], "bandpass", fs=SAMPLE_RATE,
                       output="sos"), x)
    for f0, g, q in eq["peaks"]:
        x = _peaking(x, min(f0, 0.45 * SAMPLE_RATE), g, q)
    return x


def _codec(x: np.ndarray, name: str, kbps: int) -> np.ndarray:
    """Encode and decode through PyAV; the codec's delay is measured and removed, so the audio
    stays aligned with its motion."""
    import io

    import av
    encoder, container, rate = CODECS[name]
    peak = max(float(np.max(np.abs(x))), 1e-9)
    y = (x / peak * 0.9).astype(np.float32)
    if rate != SAMPLE_RATE:
        y = resample_poly(y, rate // SAMPLE_RATE, 1).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        st = out.add_stream(encoder, rate=rate)
        st.bit_rate = kbps * 1000
        st.layout = "mono"
        frame_size = 960 if name == "opus" else 1152 if name == "mp3" else 1024
        for i in range(0, len(y), frame_size):
            chunk = y[i:i + frame_size]
            if len(chunk) < frame_size:
                chunk = np.pad(chunk, (0, frame_size - len(chunk)))
            fr = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            fr.sample_rate = rate
            fr.pts = i
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    buf.seek(0)
    parts = []
    with av.open(buf, "r") as inp:
        for fr in inp.decode(audio=0):
            parts.append(fr.to_ndarray().reshape(-1, fr.samples).mean(axis=0))
    z = np.concatenate(parts).astype(np.float64) if parts else np.zeros(len(y))
    if rate != SAMPLE_RATE:
        z = resample_poly(z, 1, rate // SAMPLE_RATE)
    ref = x / peak * 0.9
    n = min(len(ref), len(z), 4 * SAMPLE_RATE)
    lags = np.arange(0, min(4000, len(z) - 1))
    spec = np.fft.irfft(np.fft.rfft(z[:n + lags[-1]], 2 * (n + lags[-1])) *
                        np.conj(np.fft.rfft(ref[:n], 2 * (n + lags[-1]))))
    delay = int(lags[np.argmax(spec[:len(lags)])])
    z = z[delay:delay + len(x)]
    z = np.pad(z, (0, len(x) - len(z)))
    return z / 0.9 * peak


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
    if "eq" in params:
        x = _eq(x, params["eq"])
    if "codec" in params:
        x = _codec(x, params["codec"]["name"], params["codec"]["kbps"])
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
