"""Audio features for the motion model: numpy only, one vector per motion frame, causal.

Per motion frame j (default 25 fps, hop 40 ms at 16 kHz) the feature vector stacks the
`hop_ms / sub_hop_ms` log-mel frames (25 ms Hann windows every 10 ms) whose windows *end* inside
audio [j*hop, (j+1)*hop), plus one absolute level channel per mel frame:

    features[j] = concat_k( (logmel_k - mean_j) / std_j ,  level_k )      k = 4j .. 4j+3

The windows are causal (zero history before the clip), so a frame only needs audio up to the end
of its own hop: streaming adds no look-ahead beyond one hop.

Speaker normalisation: `mean_j`, `std_j` are running per-mel-channel statistics updated after
every frame that is louder than `speech_floor_db` and no more than `gate_std` deviations below the
running mean level (pauses and room noise do not drag them). They start from a
prior (`prior_mean_db`, `prior_std_db`) worth `prior_frames` frames; each speech frame then has
weight 1 / min(n + prior_frames, horizon_frames): a cumulative mean during the warm-up (the first
`horizon_frames - prior_frames` speech frames, ~9 s of speech by default), an exponential moving
average over ~`horizon_frames` frames after it. Statistics at frame j use speech up to frame j-1
only, so offline and streaming give the same numbers (`extract` runs `FeatureStream`).

Pitch and voicing are not included: the log-mel already carries harmonicity at the low bands, and
the model did not need them on our corpus (see docs/model.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import gcd

import numpy as np

from ..errors import AudioError
from .pcm import MAX_RATE, MIN_RATE, SAMPLE_RATE

MAX_FLOAT_PEAK = 4.0  # float audio is [-1, 1]; a few times that is clipping, 32767 is a unit slip


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = SAMPLE_RATE  # Hz: input audio is resampled to this
    hop_ms: int = 40  # audio per motion frame (25 fps)
    sub_hop_ms: int = 10  # mel hop; hop_ms / sub_hop_ms mel frames are stacked per motion frame
    win_ms: int = 25  # mel analysis window
    n_fft: int = 512  # FFT size, samples (>= window)
    n_mels: int = 40  # mel bands
    f_min: float = 60.0  # Hz, lowest mel band edge
    f_max: float = 7600.0  # Hz, highest mel band edge
    prior_mean_db: float = -62.0  # dB: prior mean log-mel of speech (measured on the corpus)
    prior_std_db: float = 14.0  # dB: prior spread of log-mel over time
    prior_frames: int = 10  # frames: pseudo-count of the prior (0.4 s)
    horizon_frames: int = 250  # frames: running statistics forget over ~10 s after warm-up
    speech_floor_db: float = -60.0  # dBFS: quieter frames do not update the running statistics
    gate_std: float = 1.0  # nor do frames this many std below the running mean level (pauses)

    def __post_init__(self) -> None:
        if self.sample_rate < 8000 or self.sample_rate % 1000:
            raise AudioError(f"feature sample_rate is {self.sample_rate}: expected a multiple of "
                             f"1000 Hz, >= 8000")
        if self.hop_ms % self.sub_hop_ms or self.hop_ms <= 0 or self.sub_hop_ms <= 0:
            raise AudioError(f"hop_ms {self.hop_ms} is not a positive multiple of sub_hop_ms "
                             f"{self.sub_hop_ms}")
        if self.win_samples > self.n_fft:
            raise AudioError(f"window {self.win_samples} samples exceeds n_fft {self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise AudioError(f"mel range {self.f_min}..{self.f_max} Hz: expected "
                             f"0 <= f_min < f_max <= {self.sample_rate / 2}")
        if not 1 <= self.prior_frames <= self.horizon_frames:
            raise AudioError(f"prior_frames {self.prior_frames}: expected 1..horizon_frames "
                             f"({self.horizon_frames})")

    @property
    def fps(self) -> float:
        return 1000.0 / self.hop_ms

    @property
    def hop_samples(self) -> int:
        return self.sample_rate * self.hop_ms // 1000

    @property
    def sub_hop_samples(self) -> int:
        return self.sample_rate * self.sub_hop_ms // 1000

    @property
    def win_samples(self) -> int:
        return self.sample_rate * self.win_ms // 1000

    @property
    def stack(self) -> int:
        return self.hop_ms // self.sub_hop_ms

    @property
    def dim(self) -> int:
        """Width of one feature vector: the motion model's audio width is derived from this."""
        return self.stack * (self.n_mels + 1)

    def as_dict(self) -> dict:
        return asdict(self)


# --- input checks and conversion ----------------------------------------------------------------


def to_float_mono(audio, sample_rate) -> np.ndarray:
    """Any PCM array -> float32 mono in [-1, 1]. (T,) or (T, C) with C <= 8 channels.

    Integers are scaled by their type's range (uint8 is centred on 128, as 8-bit WAV stores it).
    Empty, non-finite, over-range floats, odd shapes and rates are refused with the value found.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            and not (isinstance(sample_rate, float) and float(sample_rate).is_integer()):
        raise AudioError(f"sample rate is {sample_rate!r}: expected an integer number of Hz")
    sample_rate = int(sample_rate)
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AudioError(f"sample rate is {sample_rate} Hz: expected {MIN_RATE}..{MAX_RATE} Hz")
    a = np.asarray(audio)
    if a.ndim == 2:
        if a.shape[1] > 8 and a.shape[0] <= 8:
            raise AudioError(f"audio has shape {a.shape}: expected (samples, channels); "
                             f"transpose channel-first audio")
        if a.shape[1] > 8:
            raise AudioError(f"audio has {a.shape[1]} channels: expected 1..8")
    elif a.ndim != 1:
        raise AudioError(f"audio has shape {a.shape}: expected (samples,) or (samples, channels)")
    if a.shape[0] == 0 or a.size == 0:
        raise AudioError("audio is empty (0 samples): expected at least one sample")
    if a.dtype == np.uint8:
        a = (a.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(a.dtype, np.signedinteger):
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32, copy=False)
        bad = ~np.isfinite(a)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise AudioError(f"audio has a non-finite sample {a[tuple(where)]!r} at index {where}:"
                             f" expected finite numbers")
        peak = float(np.abs(a).max())
        if peak > MAX_FLOAT_PEAK:
            raise AudioError(f"float audio peaks at {peak:g}: expected samples in [-1, 1] "
                             f"(integer PCM stored as float? divide by 32768)")
    else:
        raise AudioError(f"audio dtype is {a.dtype}: expected float, int16/int32 or uint8 PCM")
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(a, dtype=np.float32)


MAX_RESAMPLE_TERM = 1000  # largest up/down factor resample uses (its filter grows with it)


def resample_ratio(sample_rate: int, target_rate: int) -> tuple[int, int]:
    """(up, down) for resample_poly. Exact when both terms are at most MAX_RESAMPLE_TERM (every
    common rate: 44100 -> 16000 is 160/441); otherwise the nearest ratio with terms that small
    (191999 -> 16000 becomes 1/12, a 5 ppm pitch change), because the exact 16000/191999 needs a
    filter of ~2 million taps and took seconds for a short clip."""
    g = gcd(int(sample_rate), int(target_rate))
    up, down = int(target_rate) // g, int(sample_rate) // g
    if max(up, down) <= MAX_RESAMPLE_TERM:
        return up, down
    from fractions import Fraction
    r = Fraction(up, down)
    limit = MAX_RESAMPLE_TERM
    while True:
        approx = r.limit_denominator(limit)
        if approx.numerator <= MAX_RESAMPLE_TERM:
            return approx.numerator, approx.denominator
        limit //= 2


def resample(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly) between any integer rates (odd ratios
    approximated, see resample_ratio)."""
    if sample_rate == target_rate:
        return audio
    from scipy.signal import resample_poly
    up, down = resample_ratio(sample_rate, target_rate)
    return resample_poly(audio, up, down).astype(np.float32)


def prepare_audio(audio, sample_rate, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Any PCM array at any rate -> float32 mono at `config.sample_rate`."""
    return resample(to_float_mono(audio, sample_rate), int(sample_rate), config.sample_rate)


# --- mel analysis ---------------------------------------------------------------------------------


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(config: FeatureConfig) -> np.ndarray:
    """Triangular HTK-mel filters, (n_fft // 2 + 1, n_mels), each normalised to unit area."""
    freqs = np.linspace(0.0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(config.f_min), _hz_to_mel(config.f_max),
                                   config.n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    tri /= np.maximum(tri.sum(axis=1, keepdims=True), 1e-12)
    return tri.T.astype(np.float32)


class _Analysis:
    """Frame-level constants shared by every stream with one config."""

    def __init__(self, config: FeatureConfig):
        self.config = config
        n = config.win_samples
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
        # Scale so a full-scale sine reads ~0 dB in its band: |X|^2 of a sine is (A * sum(w) / 2)^2.
        self.scale = np.float32(4.0 / float(self.window.sum()) ** 2)
        self.fbank = mel_filterbank(config)

    def frames(self, samples: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(count, n_mels) log-mel in dB and (count,) level in dBFS of the windows ending at
        win, win + sub_hop, ...  in `samples` (which holds win - sub_hop samples of history)."""
        c = self.config
        idx = np.arange(count)[:, None] * c.sub_hop_samples + np.arange(c.win_samples)[None, :]
        seg = samples[idx]  # (count, win)
        spec = np.fft.rfft(seg * self.window, n=c.n_fft, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32) * self.scale
        # (count, n_mels). Not `@`: BLAS splits a matmul by its thread count, so the same audio
        # gave features (and baked tracks) that differed by ~1e-6 between a 1-thread and a
        # 2-thread process; einsum's own loop sums in one order everywhere, at the same speed here.
        mel = np.einsum("cf,fm->cm", power, self.fbank)
        logmel = 10.0 * np.log10(np.maximum(mel, 1e-10))
        rms = np.sqrt(np.mean(seg.astype(np.float64) ** 2, axis=1) + 1e-12)
        level = 20.0 * np.log10(rms)
        return logmel.astype(np.float32), np.maximum(level, -100.0).astype(np.float32)


def level_channel(level_db: np.ndarray) -> np.ndarray:
    """dBFS -> a channel of order one: -70 dBFS (silence) is -1, -20 dBFS (loud speech) is +1."""
    return np.clip((level_db + 45.0) / 25.0, -2.0, 2.0)


class FeatureStream:
    """Streaming feature extractor. `push` any number of 16 kHz samples, get the finished frames.

    Holds: the last win - sub_hop samples (window history), the samples of an unfinished hop, and
    the running normalisation statistics. `flush` zero-pads the unfinished hop into a last frame.
    """

    def __init__(self, config: FeatureConfig = FeatureConfig()):
        self.config = config
        self._an = _Analysis(config)
        self.reset()

    def reset(self) -> None:
        c = self.config
        self._buf = np.zeros(c.win_samples - c.sub_hop_samples, np.float32)
        self._mean = np.full(c.n_mels, c.prior_mean_db, np.float64)
        self._var = np.full(c.n_mels, c.prior_std_db ** 2, np.float64)
        self._count = 0  # speech frames seen
        self.frames_out = 0

    @property
    def speech_frames(self) -> int:
        return self._count

    def push(self, audio: np.ndarray) -> np.ndarray:
        """float32 mono samples at `config.sample_rate` -> (n, dim) features of finished frames."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size and not np.isfinite(audio).all():
            raise AudioError("audio chunk has a non-finite sample: expected finite numbers")
        self._buf = np.concatenate([self._buf, audio])
        c = self.config
        hist = c.win_samples - c.sub_hop_samples
        n = (self._buf.size - hist) // c.hop_samples
        if n <= 0:
            return np.zeros((0, c.dim), np.float32)
        logmel, level = self._an.frames(self._buf, n * c.stack)
        self._buf = self._buf[n * c.hop_samples:].copy()
        return self._normalise(logmel.reshape(n, c.stack, c.n_mels), level.reshape(n, c.stack))

    def flush(self) -> np.ndarray:
        """Pad the unfinished hop (if any) with zeros and return its frame; then the stream is
        finished (call `reset` to start a new clip)."""
        c = self.config
        partial = self._buf.size - (c.win_samples - c.sub_hop_samples)
        if partial <= 0:
            return np.zeros((0, c.dim), np.float32)
        return self.push(np.zeros(c.hop_samples - partial, np.float32))

    def _normalise(self, logmel: np.ndarray, level: np.ndarray) -> np.ndarray:
        c = self.config
        out = np.empty((logmel.shape[0], c.dim), np.float32)
        loud_enough = level.max(axis=1) > c.speech_floor_db  # (n,)
        frame_mean = logmel.mean(axis=1, dtype=np.float64)  # (n, n_mels)
        frame_avg = frame_mean.mean(axis=1)  # (n,) average over bands
        frame_sq = (logmel.astype(np.float64) ** 2).mean(axis=1)
        lev = level_channel(level)  # (n, stack)
        for j in range(logmel.shape[0]):
            std = np.sqrt(np.maximum(self._var, 9.0))  # >= 3 dB: a flat channel is not amplified
            z = (logmel[j] - self._mean) / std  # (stack, n_mels)
            out[j] = np.concatenate([np.clip(z, -6.0, 6.0), lev[j][:, None]], axis=1).reshape(-1)
            # speech = above the absolute floor and not far below the speaker's running level
            if loud_enough[j] and frame_avg[j] > self._mean.mean() - c.gate_std * std.mean():
                w = 1.0 / min(self._count + c.prior_frames, c.horizon_frames)
                d = frame_mean[j] - self._mean
                self._mean += w * d
                # running E[(x - mean)^2] with the frame's own spread around its mean
                self._var += w * (frame_sq[j] - frame_mean[j] ** 2 + d * d * (1 - w) - self._var)
                self._count += 1
        self.frames_out += logmel.shape[0]
        return out


CHUNK_SECONDS = 30  # offline extraction runs the stream in chunks, so an hour costs bounded memory


def extract(audio, sample_rate, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Whole clip at any rate -> (ceil(duration * fps), dim) float32 features.

    Identical (same code path) to pushing the prepared audio through `FeatureStream` in any
    chunking and calling `flush`.
    """
    samples = prepare_audio(audio, sample_rate, config)
    stream = FeatureStream(config)
    step = CHUNK_SECONDS * config.sample_rate
    parts = [stream.push(samples[i:i + step]) for i in range(0, samples.size, step)]
    parts.append(stream.flush())
    return np.concatenate(parts, axis=0)


def num_frames(num_samples: int, config: FeatureConfig = FeatureConfig()) -> int:
    """Frames `extract` returns for `num_samples` samples at the feature rate."""
    return -(-num_samples // config.hop_samples)
