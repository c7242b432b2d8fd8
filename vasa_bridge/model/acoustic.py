"""Phone evidence frame by frame from an acoustic model trained on real speech.

pocketsphinx's wheel ships an English acoustic model (`en-us`: 42 context-independent phones of
3 states each, phonetically tied mixtures of 128 Gaussians over 3 streams of 13 MFCCs, their
deltas and double deltas) trained on real recorded voices. Its search decides phones about 60 ms
behind the newest audio and holds the phone in progress (model/phones.py); this module scores
every phone on every 10 ms frame the moment the frame's audio is in, with the model's own
numbers, read from the wheel's files:

    16 kHz audio -> MFCC (the model's feat.params: 25 mel filters 130-6800 Hz, DCT, lifter 22)
                 -> cepstral mean normalisation (causal: the last 5 s of frames over -55 dBFS
                    and a prior; a pause holds it)
                 -> cepstra, deltas, double deltas (1s_c_d_dd: 30 ms of audio after the frame)
                 -> each CI phone state's mixture log-likelihood -> phone posteriors

The front end reproduces pocketsphinx's (its phone-loop search fed these cepstra through
`process_cep` recognises the same phones as fed the audio: tests/test_acoustic.py), without its
noise removal. Scoring costs about 1 ms of one core per 40 ms of audio (bench/bench_model.py).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import DataError

RATE = 16000  # Hz: the model's sample rate
HOP = 160  # samples per 10 ms frame
WINDOW = 410  # samples per analysis window (25.625 ms, sphinx's default)
NFFT = 512
NCEP = 13
DELTA_AHEAD = 3  # frames of cepstra after a frame that its deltas need
CMN_PRIOR = (40.0, 3.0, -1.0)  # sphinx's cmninit: the cepstral mean before any audio
CMN_PRIOR_FRAMES = 100.0  # weight of that prior, in frames
CMN_FRAMES = 500  # frames of past cepstra in the running mean (5 s of the voice)
CMN_GATE_DB = -55.0  # frames under this level (dBFS) are pauses: the mean holds through them
FRONT_END = 2  # version of what `PhoneScores` computes (2: the gated mean); a change that moves
#                posteriors moves it, so train-mouth --cache scores its datasets again


def _model_dir() -> str:
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        raise DataError("pocketsphinx is not installed: expected it for the acoustic model "
                        "(pip install pocketsphinx)") from None
    return os.path.join(get_model_path(), "en-us", "en-us")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise DataError(f"pocketsphinx's acoustic model file {path!r} cannot be read ({e}): "
                        f"expected the pocketsphinx wheel's en-us model") from None


def _read_gaussians(path: str) -> list[np.ndarray]:
    """An s3 means/variances file -> per stream (codebooks, densities, dims) float32."""
    data = _read(path)
    end = data.find(b"endhdr\n")
    if not data.startswith(b"s3") or end < 0:
        raise DataError(f"{path!r} is not an s3 Gaussian file: expected an 's3' header")
    off = end + len(b"endhdr\n")
    if struct.unpack_from("<I", data, off)[0] != 0x11223344:
        raise DataError(f"{path!r} has a byte order this reader does not take: expected "
                        f"little-endian")
    n_cb, n_stream, n_dens = struct.unpack_from("<3i", data, off + 4)
    lens = struct.unpack_from(f"<{n_stream}i", data, off + 16)
    off += 16 + 4 * n_stream + 4
    flat = np.frombuffer(data, "<f4", n_cb * n_dens * sum(lens), off).reshape(n_cb, -1)
    out, p = [], 0
    for v in lens:
        out.append(flat[:, p:p + n_dens * v].reshape(n_cb, n_dens, v))  # (codebooks, dens, v)
        p += n_dens * v
    return out


def _read_mdef(path: str) -> tuple[list[str], np.ndarray]:
    """A binary model definition -> (CI phone names, (phones, states) their senones)."""
    data = _read(path)
    if data[:4] != b"BMDF":
        raise DataError(f"{path!r} is not a binary model definition: expected 'BMDF'")
    off = 12 + struct.unpack_from("<i", data, 8)[0]
    (n_ci, n_phone, n_emit, _, _, _, _, _, n_tree, _) = struct.unpack_from("<10i", data, off)
    off += 40
    names, p = [], off
    for _ in range(n_ci):
        e = data.index(b"\0", p)
        names.append(data[p:e].decode())
        p = e + 1
    p = off + (((p - off) + 3) & ~3) + 8 * n_tree  # the padded names, then the CD tree
    phones = np.frombuffer(data, "<i4", 3 * n_phone, p).reshape(n_phone, 3)  # ssid, tmat, info
    p += 12 * n_phone
    size = struct.unpack_from("<i", data, p)[0]
    sseq = np.frombuffer(data, "<u2", size, p + 4).reshape(-1, n_emit)
    return names, sseq[phones[:n_ci, 0]].astype(np.int64)


def _read_mixture_weights(path: str, n_stream: int, n_dens: int) -> np.ndarray:
    """A sendump -> (streams, densities, senones) uint8 quantised -log weights."""
    data = _read(path)
    off = 0
    counts = {}
    for i in range(64):
        n = struct.unpack_from("<i", data, off)[0]
        off += 4
        if n == 0 and i >= 2:
            break
        text = data[off:off + n].rstrip(b"\0").decode(errors="replace")
        off += n
        key, _, value = text.partition(" ")
        counts[key] = value
    if int(counts.get("cluster_count", 0) or 0) or int(counts.get("cluster_bits", 8) or 8) != 8:
        raise DataError(f"{path!r} holds clustered mixture weights: expected 8-bit ones")
    rows, cols = struct.unpack_from("<2i", data, off)
    off += 8
    if rows != n_dens:
        raise DataError(f"{path!r} has {rows} densities: expected {n_dens}")
    return np.frombuffer(data, np.uint8, n_stream * rows * cols, off).reshape(n_stream, rows,
                                                                               cols)


@dataclass(frozen=True)
class AcousticModel:
    """pocketsphinx's en-us model, as this module scores it: the context-independent states."""
    names: tuple  # CI phone names, e.g. ("+NSN+", "+SPN+", "AA", ..., "SIL", ...)
    square: tuple  # per stream (v, codebooks * densities): -0.5 / variance
    linear: tuple  # per stream (v, codebooks * densities): mean / variance
    constant: tuple  # per stream (codebooks * densities,): the Gaussians' log normaliser
    weights: tuple  # per stream (phones * 3, densities): log mixture weight of each state
    lens: tuple  # stream widths (13, 13, 13)
    filters: np.ndarray  # (25, 257) mel filterbank
    dct: np.ndarray  # (13, 25) DCT with the lifter folded in
    window: np.ndarray  # (410,) Hamming

    @property
    def n_phones(self) -> int:
        return len(self.names)


@lru_cache(maxsize=1)
def load_acoustic() -> AcousticModel:
    """The wheel's en-us model (read once per process, ~0.1 s)."""
    folder = _model_dir()
    means = _read_gaussians(os.path.join(folder, "means"))
    variances = _read_gaussians(os.path.join(folder, "variances"))
    names, states = _read_mdef(os.path.join(folder, "mdef"))
    n_cb, n_dens, _ = means[0].shape
    if n_cb != len(names):
        raise DataError(f"the acoustic model has {n_cb} codebooks and {len(names)} phones: "
                        f"expected one codebook per phone (a PTM model)")
    mixw = _read_mixture_weights(os.path.join(folder, "sendump"), len(means), n_dens)
    # Mixture weights are -log in pocketsphinx's 8-bit log units: base 1.0001, shifted 10 bits.
    unit = 1024.0 * np.log(1.0001)
    square, linear, constant, weights = [], [], [], []
    for f, (mu, var) in enumerate(zip(means, variances)):
        iv = 1.0 / np.maximum(var.astype(np.float64), 1e-4)  # sphinx's variance floor
        mu = mu.astype(np.float64)
        v = mu.shape[2]
        square.append((-0.5 * iv).reshape(-1, v).T.copy())
        linear.append((mu * iv).reshape(-1, v).T.copy())
        constant.append((-0.5 * np.log(2 * np.pi / iv).sum(-1)
                         - 0.5 * (mu * mu * iv).sum(-1)).reshape(-1))
        w = -unit * mixw[f][:, states.reshape(-1)].astype(np.float64)  # (dens, phones * 3)
        weights.append(w.T.copy())
    filters, dct = _mel_filters(), _dct()
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(WINDOW) / (WINDOW - 1))
    return AcousticModel(tuple(names), tuple(square), tuple(linear), tuple(constant),
                         tuple(weights), tuple(m.shape[2] for m in means), filters, dct, window)


def _mel_filters(n: int = 25, low: float = 130.0, high: float = 6800.0) -> np.ndarray:
    """(n, NFFT/2+1) sphinx's triangular mel filters: edges rounded to FFT bins, unit area."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    lo, width = mel(low), (mel(high) - mel(low)) / (n + 1)
    step = RATE / NFFT
    out = np.zeros((n, NFFT // 2 + 1))
    for i in range(n):
        f0, f1, f2 = (int(hz((i + j) * width + lo) / step + 0.5) * step for j in range(3))
        for j in range(NFFT // 2 + 1):
            f = j * step
            if f < f0:
                continue
            if f > f2 or j == NFFT // 2:
                break
            out[i, j] = min((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1)) * 2.0 / (f2 - f0)
    return out


def _dct(n_filters: int = 25, lifter: int = 22) -> np.ndarray:
    """(NCEP, n_filters) sphinx's unitary DCT-II ("-transform dct") times the lifter."""
    k = np.arange(NCEP)[:, None]
    out = np.cos(np.pi / n_filters * k * (np.arange(n_filters)[None] + 0.5)) * \
        np.sqrt(2.0 / n_filters)
    out[0] = np.sqrt(1.0 / n_filters)
    return out * (1.0 + lifter / 2.0 * np.sin(np.arange(NCEP) * np.pi / lifter))[:, None]


def cepstra(model: AcousticModel, audio: np.ndarray, previous: float = 0.0) -> np.ndarray:
    """(N,) float 16 kHz, whole frames' worth -> (frames, 13) MFCC as sphinx's front end makes
    them (pre-emphasis 0.97 with `previous` the sample before `audio`, Hamming, |FFT|^2, mel,
    log, DCT); frame j covers samples [j*HOP, j*HOP + WINDOW)."""
    x = np.asarray(audio, np.float64) * 32768.0  # sphinx works in 16-bit units
    x = np.concatenate([[x[0] - 0.97 * previous * 32768.0], x[1:] - 0.97 * x[:-1]])
    n = max(0, (len(x) - WINDOW) // HOP + 1)
    idx = np.arange(WINDOW)[None] + HOP * np.arange(n)[:, None]  # (frames, WINDOW)
    power = np.abs(np.fft.rfft(x[idx] * model.window, NFFT)) ** 2  # (frames, 257)
    return np.log(power @ model.filters.T + 1e-4) @ model.dct.T  # (frames, 13)


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """(N,) float 16 kHz, whole frames' worth -> (frames,) each analysis window's level, dBFS
    (frame j: samples [j*HOP, j*HOP + WINDOW), as `cepstra`)."""
    x = np.asarray(audio, np.float64)
    n = max(0, (len(x) - WINDOW) // HOP + 1)
    sq = np.concatenate([[0.0], np.cumsum(x * x)])
    start = HOP * np.arange(n)
    power = (sq[start + WINDOW] - sq[start]) / WINDOW
    return 10.0 * np.log10(np.maximum(power, 1e-12))


LIKELIHOOD_BLOCK = 256  # frames scored at once: (frames, 126 states, 128 Gaussians) float64
#                         is 33 MB a block; a whole 133 s clip at once took 5 GB


def log_likelihoods(model: AcousticModel, features: np.ndarray) -> np.ndarray:
    """(T, 39) normalised cepstra, deltas, double deltas -> (T, phones * 3) each CI state's
    log-likelihood (natural log): per stream, the log of its mixture over all 128 Gaussians of
    its phone's codebook (pocketsphinx sums the top 4), summed over the streams. Scored
    LIKELIHOOD_BLOCK frames at a time (each frame's numbers do not depend on the others), so
    memory stays bounded however long the clip."""
    if len(features) > LIKELIHOOD_BLOCK:
        return np.vstack([_log_likelihoods(model, features[i:i + LIKELIHOOD_BLOCK])
                          for i in range(0, len(features), LIKELIHOOD_BLOCK)])
    return _log_likelihoods(model, features)


def _log_likelihoods(model: AcousticModel, features: np.ndarray) -> np.ndarray:
    T = len(features)
    out = np.zeros((T, len(model.names) * 3))
    n_dens = model.weights[0].shape[1]
    codebook = np.repeat(np.arange(len(model.names)), 3)
    p = 0
    for f, v in enumerate(model.lens):
        x = features[:, p:p + v]
        p += v
        g = ((x * x) @ model.square[f] + x @ model.linear[f] + model.constant[f])
        g = g.reshape(T, len(model.names), n_dens)[:, codebook] + model.weights[f][None]
        top = g.max(-1, keepdims=True)  # (T, states, 1)
        out += top[..., 0] + np.log(np.exp(g - top).sum(-1))
    return out


class PhoneScores:
    """Phone posteriors of a stream, 10 ms frame by frame. `push` 16 kHz audio as it arrives;
    `posteriors` holds a row per frame scored so far: frame j (audio from j * 10 ms) is scored
    once its window and the 3 frames its deltas need are in (55.6 ms of audio after its start).
    `finish` scores the last frames, their deltas made with the last cepstrum repeated (as the
    first frames' with the first). A clip pushed whole and finished gives exactly what it gives
    pushed in any pieces. `keep`: rows of history kept (a live stream's memory stays bounded);
    None: all; `first` is the frame of `posteriors`' first row."""

    def __init__(self, model: AcousticModel | None = None, keep: int | None = None) -> None:
        if keep is not None and keep < 1:
            raise DataError(f"PhoneScores keep is {keep}: expected at least 1 row, or None")
        self.model = model or load_acoustic()
        self.keep = keep
        self.first = 0  # frame of the first row of `posteriors`
        self._samples = np.zeros(0, np.float32)  # audio not yet framed
        self._previous = 0.0  # the sample before `_samples` (pre-emphasis)
        self._raw = np.zeros((0, NCEP))  # the last CMN_FRAMES raw cepstra (the running mean)
        self._ceps = np.zeros((0, NCEP))  # normalised cepstra from frame `_ceps_first` on
        self._ceps_first = 0
        self._framed = 0  # frames cut
        self._scored = 0  # frames scored
        self._rows: list[np.ndarray] = []
        self.finished = False

    @property
    def frames(self) -> int:
        return self._scored

    def push(self, audio: np.ndarray) -> np.ndarray:
        """(N,) float 16 kHz -> the rows newly scored, (k, phones)."""
        if self.finished:
            raise DataError("PhoneScores.push after finish: expected a fresh PhoneScores")
        audio = np.asarray(audio, np.float32).ravel()
        if not np.isfinite(audio).all():  # one NaN would poison the running cepstral mean
            raise DataError(f"PhoneScores.push got {int(np.count_nonzero(~np.isfinite(audio)))} "
                            f"non-finite samples: expected finite audio")
        self._samples = np.concatenate([self._samples, audio])
        n = max(0, (len(self._samples) - WINDOW) // HOP + 1)
        if n:
            x = self._samples[:(n - 1) * HOP + WINDOW]
            raw = cepstra(self.model, x, self._previous)
            self._previous = float(self._samples[n * HOP - 1])
            self._samples = self._samples[n * HOP:]
            self._framed += n
            voiced = frame_levels(x) >= CMN_GATE_DB
            self._ceps = np.vstack([self._ceps, self._normalise(raw, voiced)])
        return self._score(final=False)

    def finish(self) -> np.ndarray:
        """Score the frames left (no more audio comes) -> the rows newly scored."""
        rows = self._score(final=True)
        self.finished = True
        return rows

    def _normalise(self, raw: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        """(n, 13) raw cepstra, (n,) bool: frames loud enough to be the voice -> minus the mean
        of the last CMN_FRAMES such frames (a voiced frame's own included) and the prior. A
        pause does not move it: a mean over silence took the voice after it for another."""
        every = np.vstack([self._raw, raw[voiced]])
        sums = np.vstack([np.zeros((1, NCEP)), np.cumsum(every, axis=0)])
        at = len(self._raw) + np.cumsum(voiced)  # voiced frames so far, each frame's own in
        first = np.maximum(0, at - CMN_FRAMES)
        prior = np.zeros(NCEP)
        prior[:len(CMN_PRIOR)] = CMN_PRIOR
        mean = (sums[at] - sums[first] + CMN_PRIOR_FRAMES * prior) / \
            (at - first + CMN_PRIOR_FRAMES)[:, None]
        self._raw = every[-CMN_FRAMES:]
        return raw - mean

    def _score(self, final: bool) -> np.ndarray:
        """Score the frames whose deltas are complete (all of them when `final`)."""
        start = self._scored
        ready = self._framed - start - (0 if final else DELTA_AHEAD)
        if ready <= 0:
            return np.zeros((0, self.model.n_phones), np.float32)
        # frames start-3 .. start+ready+2, the stream's first and (final) last repeated
        idx = np.clip(np.arange(start - DELTA_AHEAD, start + ready + DELTA_AHEAD), 0,
                      self._framed - 1) - self._ceps_first
        pad = self._ceps[idx]
        c = lambda k: pad[DELTA_AHEAD + k:DELTA_AHEAD + k + ready]  # noqa: E731
        feats = np.hstack([c(0), c(2) - c(-2), (c(3) - c(-1)) - (c(1) - c(-3))])  # (ready, 39)
        rows = posteriors_of(self.model, feats)
        self._scored += ready
        keep = max(0, self._scored - DELTA_AHEAD)  # the context the next frames need
        self._ceps = self._ceps[keep - self._ceps_first:]
        self._ceps_first = keep
        self._rows.append(rows)
        if self.keep is not None:  # bounded as it grows, whether or not anyone reads it
            self._rows = [self.posteriors[-self.keep:]]
            self.first = self._scored - len(self._rows[0])
        return rows

    @property
    def posteriors(self) -> np.ndarray:
        """(rows, phones) float32: frames `first` .. `frames` - 1."""
        if len(self._rows) > 1:
            self._rows = [np.vstack(self._rows)]
        return self._rows[0] if self._rows else np.zeros((0, self.model.n_phones), np.float32)


def posteriors_of(model: AcousticModel, features: np.ndarray) -> np.ndarray:
    """(T, 39) features -> (T, phones) float32 posteriors: each phone's best state, softmax over
    the phones (equal priors)."""
    ll = log_likelihoods(model, features).reshape(len(features), model.n_phones, 3).max(-1)
    ll -= ll.max(axis=1, keepdims=True)
    e = np.exp(ll)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def phone_posteriors(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """A whole clip, (N,) float 16 kHz mono -> (frames, phones) posteriors (`PhoneScores` pushed
    the clip and finished)."""
    if rate != RATE:
        raise DataError(f"the acoustic model needs {RATE} Hz audio: got {rate} Hz")
    scores = PhoneScores()
    scores.push(audio)
    scores.finish()
    return scores.posteriors
