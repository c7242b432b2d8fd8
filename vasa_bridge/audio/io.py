"""Reading speech files: WAV, FLAC, OGG (soundfile) and MP3 or anything else FFmpeg reads (PyAV).

`read_audio` returns float32 (samples,) or (samples, channels) and the file's rate, unchanged;
`decode_audio` does the same for a file's bytes already in memory (batch workers receive bytes, so a
cluster needs no shared disk); `load_speech` also mixes to mono and resamples for the feature
extractor.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import AudioError
from .features import FeatureConfig, prepare_audio

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"}
EXPECTED = "expected a WAV, FLAC, OGG or MP3 speech file"
# Samples (frames x channels) one file may decode to: 2 GiB of float32, over 3 hours of 48 kHz
# mono. Headers are not trusted for this (a FLAC header may claim 2^36 samples): decoding stops
# when the samples actually read pass the limit.
MAX_SAMPLES = 1 << 29
BLOCK_FRAMES = 1 << 16  # frames read at a time through libsndfile


def read_audio(path) -> tuple[np.ndarray, int]:
    """File -> (float32 samples (T,) or (T, C), sample rate). Refuses missing or empty files."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise AudioError(f"audio file {str(path)!r} {what}: expected a WAV, FLAC, OGG or MP3 "
                         f"file")
    return _decode(str(path), path.suffix, str(path))


def decode_audio(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """A speech file's bytes -> as `read_audio`; `name`'s suffix picks the decoder and names the
    file in errors."""
    return _decode(io.BytesIO(data), Path(name).suffix, name)


def _decode(source, suffix: str, label: str) -> tuple[np.ndarray, int]:
    if suffix.lower() in SOUNDFILE_SUFFIXES:
        audio, rate = _read_soundfile(source, suffix, label)
    else:
        audio, rate = _read_av(source, label)
    if audio.shape[0] == 0:
        raise AudioError(f"audio file {label!r} holds 0 samples: expected speech")
    return audio, rate


def _too_long(label: str, samples: int) -> AudioError:
    return AudioError(f"audio file {label!r} decodes to more than {samples} samples: the limit "
                      f"is {MAX_SAMPLES} (frames x channels)")


def _read_soundfile(source, suffix: str, label: str) -> tuple[np.ndarray, int]:
    """Read in blocks: the frame count in the header is never used to size an array."""
    import soundfile as sf
    try:
        with sf.SoundFile(source) as f:
            rate, channels = f.samplerate, f.channels
            if channels < 1:
                raise AudioError(f"audio file {label!r} has {channels} channels: expected 1..8")
            blocks, total = [], 0
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                blocks.append(block)
                total += block.size
                if total > MAX_SAMPLES:
                    raise _too_long(label, total)
                if len(block) < BLOCK_FRAMES:
                    break
    except (RuntimeError, sf.LibsndfileError) as exc:  # LibsndfileError subclasses RuntimeError
        reason = getattr(exc, "error_string", None) or exc  # without libsndfile's "Error opening"
        raise AudioError(f"cannot read {label!r} as {suffix} audio ({reason}): "
                         f"{EXPECTED}") from exc
    audio = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return (audio[:, 0] if channels == 1 else audio), int(rate)


def _read_av(source, label: str) -> tuple[np.ndarray, int]:
    import av
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise AudioError(f"{label!r} has no audio stream: {EXPECTED}")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate or 0
            chunks, total = [], 0
            for frame in container.decode(stream):
                channels = len(frame.layout.channels)
                if channels < 1:
                    raise AudioError(f"{label!r} has a frame of {channels} channels: expected "
                                     f"1..8")
                a = frame.to_ndarray()  # planar: (C, n); packed: (1, n * C)
                chunks.append(a.T if frame.format.is_planar else a.reshape(-1, channels))
                total += a.size
                if total > MAX_SAMPLES:
                    raise _too_long(label, total)
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:  # tags are decoded as UTF-8
        raise AudioError(f"cannot decode {label!r} ({exc}): {EXPECTED}") from exc
    if not chunks:
        return np.zeros((0,), np.float32), int(rate)
    audio = np.concatenate(chunks, axis=0)
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    audio = audio.astype(np.float32)
    return (audio[:, 0] if audio.shape[1] == 1 else audio), int(rate)


def load_speech(path, config: FeatureConfig = FeatureConfig()) -> tuple[np.ndarray, int]:
    """File -> (float32 mono at `config.sample_rate`, that rate)."""
    audio, rate = read_audio(path)
    return speech_of(audio, rate, path, config), config.sample_rate


def speech_of(audio: np.ndarray, rate: int, path, config: FeatureConfig = FeatureConfig()):
    """A file's samples as `read_audio` gives them -> float32 mono at `config.sample_rate`;
    a refusal names the file."""
    try:
        return prepare_audio(audio, rate, config)
    except AudioError as e:  # the rate, channels or samples: say which file
        raise AudioError(f"audio file {str(path)!r}: {e}") from None
