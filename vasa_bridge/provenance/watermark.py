"""Invisible watermark: a tiled spread-spectrum pattern in the low/mid frequencies of the luma.

Design (docs/responsible-use.md has the measured numbers):

* The 162 coded payload bits (payload.py) are spread over a 32x32 tile of "chips". Every chip
  carries one coded bit times a public pseudo-random sign; chips are assigned to bits by a fixed
  permutation, so each bit owns 6-7 chips per tile, scattered over the tile.
* A chip is `chip_px` pixels wide (4 at 512x512) and the chips are joined by linear
  interpolation, so the pattern's energy sits below about a quarter of the sampling rate: what
  H.264, JPEG and halving the size keep. The tile (128 px at 512x512) repeats over the frame.
* Embedding adds the same integer pattern to R, G and B (a luma change, chroma untouched) with
  saturating uint8 arithmetic. The pattern depends only on (payload, frame size), so it is built
  once per session; embedding a 512x512 frame is two saturating adds (~0.3 ms).
* Detection needs no original. The repetition of the tile makes the autocorrelation of the
  whitened luma peak on a square lattice whose pitch is the tile period, which gives the scale
  after resizing (Kutter's self-reference idea). The luma is resampled to 2 samples per chip, folded
  modulo the tile, and cross-correlated (FFT) with each bit's chip pattern: the cyclic shift with
  the strongest total correlation recovers the tile's phase after cropping, and the correlations
  at that shift are the soft bits for the Viterbi decoder. A payload is reported only when its
  CRC-16 matches and the decoded codeword agrees with the soft bits strongly enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import fft as sfft

from ..errors import ConfigError
from . import payload as pl
from .payload import Payload

TILE_CHIPS = 32  # chips per tile side
_REF_SPC = 2  # detector: samples per chip
_REF_TILE = TILE_CHIPS * _REF_SPC  # 64 samples per tile side at the detector
DEFAULT_KEY = 0x5B0A55A1  # seed of the public chip signs and bit permutation
# Codeword z-score: sum(soft * decoded signs) / |soft|. Soft bits of unmarked material, after the
# Viterbi decoder has picked the best-fitting codeword, give 6.92 +- 0.22 (3000 draws of Gaussian
# noise; max 7.84) and 7.0-7.5 on unmarked photos; a clean mark gives up to sqrt(162) = 12.7.
Z_NULL = 6.92
Z_MAX = float(np.sqrt(162))
MIN_ZSCORE = 8.0  # presence needs this AND a matching CRC-16
# Scales always tried besides the autocorrelation's 8 best guesses (text and dense textures can
# hide the lattice): same size, half, 10% crops stretched back, 720p/1080p re-scales.
COMMON_SCALES = (1.0, 0.5, 1 / 0.9, 0.9, 0.75, 1.25, 1.5, 2.0, 720 / 512, 1080 / 512)
_DECODE_HIGHPASS = 1.5  # detector high-pass sigma, in samples of the 2-samples-per-chip grid


@dataclass(frozen=True)
class WatermarkConfig:
    """Watermark settings. The payload is fixed for a session, so the pattern is precomputed."""

    payload: Payload = field(default_factory=lambda: Payload(pl.GENERATOR_VASA_BRIDGE, 0))
    strength: float = 2.0  # RMS of the luma pattern in 8-bit levels (~42 dB PSNR before clipping)
    chip_px: int = 4  # pattern cell size in pixels at the embedding resolution
    key: int = DEFAULT_KEY  # seed of the public pseudo-random pattern (detector must match)

    def __post_init__(self):
        if not 0.25 <= self.strength <= 16:
            raise ConfigError(f"strength must be in [0.25, 16] levels, got {self.strength}")
        if not 1 <= self.chip_px <= 32:
            raise ConfigError(f"chip_px must be in [1, 32], got {self.chip_px}")


@dataclass(frozen=True)
class Detection:
    """Result of looking for the mark in one image."""

    present: bool
    payload: Payload | None
    confidence: float  # 0 = looks like unmarked material, 1 = a clean mark (z-score rescaled)
    zscore: float = 0.0  # the same agreement as a z-score against unmarked material
    scale: float = 0.0  # estimated size of the image relative to the embedding size
    shift: tuple[int, int] = (0, 0)  # tile phase found (pixels at the embedding resolution)
    raw: int | None = None  # the 32 payload bits the decoder settled on, even if the CRC failed


def _chip_layout(key: int) -> tuple[np.ndarray, np.ndarray]:
    """Public chip signs (+-1) and the coded-bit index of every chip."""  # (32, 32) each
    rng = np.random.default_rng(key)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(TILE_CHIPS, TILE_CHIPS))
    order = rng.permutation(TILE_CHIPS * TILE_CHIPS)
    bit_of_chip = (order % pl.CODED_BITS).reshape(TILE_CHIPS, TILE_CHIPS)
    return signs, bit_of_chip


def _upsample_tile(chips: np.ndarray, spc: int) -> np.ndarray:
    """Chip values -> a smooth periodic tile with `spc` samples per chip (linear interpolation)."""
    n = chips.shape[-1] * spc
    nearest = np.repeat(np.repeat(chips, spc, axis=-2), spc, axis=-1)  # (..., n, n)
    if spc == 1:
        return nearest
    # a cyclic box of one chip width turns the nearest-neighbour tile into linear interpolation
    box = np.zeros(n)
    box[np.arange(-(spc // 2), spc - spc // 2) % n] = 1.0 / spc
    kernel = np.fft.rfft2(np.outer(box, box), s=(n, n))
    return np.fft.irfft2(np.fft.rfft2(nearest) * kernel, s=(n, n))


def _luma(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.float32)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = image[..., :3].astype(np.float32)
        return rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    raise ConfigError(f"image must be HxW, HxWx3 or HxWx4, got shape {image.shape}")


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ConfigError(f"frame must be a uint8 numpy array, got {getattr(frame, 'dtype', type(frame))}")
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ConfigError(f"frame must be HxWx3 or HxWx4, got shape {frame.shape}")
    if min(frame.shape[:2]) < 64:
        raise ConfigError(f"frame must be at least 64x64 pixels, got {frame.shape[1]}x{frame.shape[0]}")


class Watermarker:
    """Embeds the mark: `Watermarker(config).embed(frame)` returns a marked copy.

    Patterns are cached per frame size; the first frame of a new size costs a few milliseconds.
    """

    def __init__(self, config: WatermarkConfig = WatermarkConfig()):
        self.config = config
        signs, bit_of_chip = _chip_layout(config.key)
        coded = 2.0 * pl.encode(config.payload).astype(np.float64) - 1.0  # (162,) +-1
        chips = signs * coded[bit_of_chip]  # (32, 32)
        tile = _upsample_tile(chips, config.chip_px)  # (32*chip, 32*chip)
        tile *= config.strength / np.sqrt(np.mean(tile**2))
        self._tile = np.rint(tile).astype(np.int16)
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _planes(self, h: int, w: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        key = (h, w, c)
        if key not in self._cache:
            n = self._tile.shape[0]
            full = np.tile(self._tile, (-(-h // n), -(-w // n)))[:h, :w]  # (h, w)
            plus = np.clip(full, 0, 255).astype(np.uint8)
            minus = np.clip(-full, 0, 255).astype(np.uint8)
            planes = []
            for plane in (plus, minus):
                stacked = np.repeat(plane[:, :, None], c, axis=2)
                if c == 4:
                    stacked[..., 3] = 0  # alpha untouched
                planes.append(np.ascontiguousarray(stacked))
            self._cache[key] = (planes[0], planes[1])
        return self._cache[key]

    def embed(self, frame: np.ndarray) -> np.ndarray:
        """Marked copy of an HxWx3 (RGB) or HxWx4 (RGBA) uint8 frame; alpha is left as is."""
        _check_frame(frame)
        h, w, c = frame.shape
        plus, minus = self._planes(h, w, c)
        src = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
        out = cv2.add(src, plus)
        cv2.subtract(out, minus, dst=out)
        return out


class Detector:
    """Looks for the mark in images of any size (resized, cropped, re-encoded)."""

    def __init__(self, key: int = DEFAULT_KEY, min_zscore: float = MIN_ZSCORE):
        self.key = key
        self.min_zscore = min_zscore
        signs, bit_of_chip = _chip_layout(key)
        # one reference tile per coded bit: that bit's chips with their signs, others zero
        chips = np.zeros((pl.CODED_BITS, TILE_CHIPS, TILE_CHIPS))
        for b in range(pl.CODED_BITS):
            sel = bit_of_chip == b
            chips[b][sel] = signs[sel]
        refs = _upsample_tile(chips, _REF_SPC)  # (162, 64, 64)
        refs = _highpass_cyclic(refs, _DECODE_HIGHPASS)  # the detector's high-pass, applied to the tile
        self._ref_conj = np.conj(sfft.rfft2(refs)).astype(np.complex64)  # (162, 64, 33)

    # -- scale ---------------------------------------------------------------------------
    def tile_periods(self, luma: np.ndarray, top: int = 3) -> list[tuple[float, float]]:
        """Candidate tile periods (pixels) with their lattice z-scores, best first.

        The tile repeats, so the autocorrelation of the whitened luma has peaks at every lag
        (m * P, n * P). Each candidate P is scored by the sum of the autocorrelation over its
        lattice divided by the square root of the number of lattice points (a z-score), which
        prefers P over both P/2 and 2P.
        """
        h, w = luma.shape
        down = max(1, int(np.ceil(max(h, w) / 640)))  # keep the FFT small for big frames
        y = cv2.resize(luma, (w // down, h // down), interpolation=cv2.INTER_AREA) if down > 1 else luma
        r = _whiten(y, highpass=2.0, contrast=2.0, floor=1.0)
        r = r - r.mean()
        hh, ww = r.shape
        spec = sfft.rfft2(r, s=(2 * hh, 2 * ww), workers=1)
        ac = sfft.irfft2(np.abs(spec) ** 2, s=(2 * hh, 2 * ww), workers=1)  # cyclic lags, no wrap
        dy = np.minimum(np.arange(2 * hh), 2 * hh - np.arange(2 * hh))
        dx = np.minimum(np.arange(2 * ww), 2 * ww - np.arange(2 * ww))
        overlap = np.outer(np.maximum(hh - dy, 1), np.maximum(ww - dx, 1))
        if ac[0, 0] <= 1e-6 * hh * ww:
            return []  # a flat image: no texture, no mark
        ac = (ac / overlap / (ac[0, 0] / (hh * ww))).astype(np.float32)
        lim_y, lim_x = hh * 0.6, ww * 0.6
        periods = np.arange(40.0 / down, min(hh, ww) * 0.55, 0.25 / down)
        if periods.size == 0:
            return []  # too small for two tiles of the smallest period: the common scales only
        total = np.zeros_like(periods)
        count = np.zeros_like(periods)
        for m in range(0, int(lim_y / periods[0]) + 1):
            for n in range(-int(lim_x / periods[0]), int(lim_x / periods[0]) + 1):
                if m == 0 and n <= 0:
                    continue  # half plane: ac is symmetric
                ok = (m * periods <= lim_y) & (abs(n) * periods <= lim_x)
                if not ok.any():
                    continue
                p = periods[ok]
                total[ok] += _bilinear_wrap(ac, m * p, n * p)
                count[ok] += 1
        scores = np.where(count > 0, total / np.sqrt(np.maximum(count, 1)), -np.inf)
        return _top_peaks(periods * down, scores, top)

    def detect(self, image: np.ndarray) -> Detection:
        luma = _luma(image)
        if min(luma.shape) < 48:
            raise ConfigError(f"image must be at least 48x48 pixels, got {luma.shape[1]}x{luma.shape[0]}")
        return self.detect_luma(luma)

    def detect_luma(self, luma: np.ndarray, periods: list[float] | None = None) -> Detection:
        """Detect in a luma plane (float or uint8). `periods` overrides the scale search."""
        luma = luma.astype(np.float32, copy=False)
        if periods is None:
            found = [p for p, _ in self.tile_periods(luma, top=8)]
            periods = _unique(found + [128.0 * s for s in COMMON_SCALES])
        best = Detection(False, None, 0.0)
        for period in periods:
            det = self._detect_at(luma, period)
            if det.present:
                return det
            if det.zscore > best.zscore:
                best = det
        return best

    def soft_bits(self, luma: np.ndarray, period: float) -> tuple[np.ndarray, tuple[int, int]]:
        """Resample so a tile is 64 samples, fold, and find the tile phase. Returns soft bits."""
        f = _REF_TILE / period  # samples per input pixel
        y = cv2.resize(luma, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        r = _whiten(y, highpass=_DECODE_HIGHPASS, contrast=1.0, floor=1.0)
        hh, ww = r.shape
        ph, pw = -(-hh // _REF_TILE) * _REF_TILE, -(-ww // _REF_TILE) * _REF_TILE
        padded = np.zeros((ph, pw), np.float32)
        padded[:hh, :ww] = r
        folded = padded.reshape(ph // _REF_TILE, _REF_TILE, pw // _REF_TILE, _REF_TILE).sum(axis=(0, 2))
        spec = sfft.rfft2(folded)[None] * self._ref_conj  # (162, 64, 33)
        corr = sfft.irfft2(spec, s=(_REF_TILE, _REF_TILE), workers=1)  # (162, 64, 64)
        corr /= np.std(corr, axis=(1, 2), keepdims=True) + 1e-12
        energy = np.abs(corr).sum(axis=0)  # (64, 64)
        idx = int(np.argmax(energy))
        dy, dx = divmod(idx, _REF_TILE)
        return corr[:, dy, dx], (dy, dx)

    def _detect_at(self, luma: np.ndarray, period: float) -> Detection:
        soft, (dy, dx) = self.soft_bits(luma, period)
        decoded, recoded, raw = pl.decode(soft)
        signs = 2.0 * recoded.astype(np.float64) - 1.0
        z = float(np.sum(soft * signs) / (np.sqrt(np.sum(soft**2)) + 1e-12))
        present = decoded is not None and z >= self.min_zscore
        confidence = float(np.clip((z - Z_NULL) / (Z_MAX - Z_NULL), 0.0, 1.0))
        scale = period / 128.0
        return Detection(present, decoded if present else None, confidence, z, scale,
                         (int(round(dy * period / _REF_TILE)), int(round(dx * period / _REF_TILE))), raw)


def _highpass(y: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return y - cv2.GaussianBlur(y, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _highpass_cyclic(tiles: np.ndarray, sigma: float) -> np.ndarray:
    """`_highpass` for periodic tiles (..., n, n), computed in the Fourier domain."""
    n = tiles.shape[-1]
    k = np.fft.fftfreq(n)
    gauss = np.exp(-2 * (np.pi * sigma) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(tiles) * (1 - gauss))).astype(np.float32)


def _whiten(y: np.ndarray, highpass: float, contrast: float, floor: float) -> np.ndarray:
    """High-pass, then divide by the local contrast so edges and textures do not dominate.

    `highpass` and `contrast` are Gaussian sigmas in samples; `floor` (levels) keeps flat areas from
    being amplified. Tuned on H.264 B-frames and JPEG: the decoder's small `contrast` window
    (1 sample = half a chip) made 20/20 B-frames decode instead of 15/20 with 4 samples.
    """
    r = _highpass(y.astype(np.float32), highpass)
    local = cv2.GaussianBlur(r * r, (0, 0), contrast)
    r = r / np.sqrt(local + floor**2)
    return np.clip(r, -3.0, 3.0)


def _bilinear_wrap(a: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear samples of a cyclic array at fractional (y, x), negative indices wrapping."""
    y0 = np.floor(y).astype(int)
    x0 = np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    y0, x0 = y0 % a.shape[0], x0 % a.shape[1]
    y1, x1 = (y0 + 1) % a.shape[0], (x0 + 1) % a.shape[1]
    return ((1 - fy) * (1 - fx) * a[y0, x0] + (1 - fy) * fx * a[y0, x1]
            + fy * (1 - fx) * a[y1, x0] + fy * fx * a[y1, x1])


def _top_peaks(xs: np.ndarray, scores: np.ndarray, top: int) -> list[tuple[float, float]]:
    order = np.argsort(scores)[::-1]
    picked: list[tuple[float, float]] = []
    for i in order:
        if all(abs(xs[i] - p) > 0.04 * p for p, _ in picked):
            picked.append((float(xs[i]), float(scores[i])))
        if len(picked) == top:
            break
    return picked


def _unique(periods: list[float]) -> list[float]:
    out: list[float] = []
    for p in periods:
        if all(abs(p - q) > 0.004 * q for q in out):
            out.append(p)
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same shape."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
