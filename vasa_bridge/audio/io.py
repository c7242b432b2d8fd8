"""Reading speech files: WAV, FLAC, OGG (soundfile) and MP3 or anything else FFmpeg reads (PyAV).

`read_audio` returns float32 (samples,) or (samples, channels) and the file's rate, unchanged;
`load_speech` also mixes to mono and resamples for the feature extractor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AudioError
from .features import FeatureConfig, prepare_audio

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"}


def read_audio(path) -> tuple[np.ndarray, int]:
    """File -> (float32 samples (T,) or (T, C), sample rate). Refuses missing or empty files."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {str(path)!r} does not exist: expected a WAV, FLAC, OGG or "
                         f"MP3 file")
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        audio, rate = _read_soundfile(path)
    else:
        audio, rate = _read_av(path)
    if audio.shape[0] == 0:
        raise AudioError(f"audio file {str(path)!r} holds 0 samples: expected speech")
    return audio, rate


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as exc:  # LibsndfileError subclasses RuntimeError
        raise AudioError(f"cannot read {str(path)!r} as {path.suffix} audio: {exc}") from exc
    return np.asarray(audio, np.float32), int(rate)


def _read_av(path: Path) -> tuple[np.ndarray, int]:
    import av
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{str(path)!r} has no audio stream: expected a speech file")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            chunks = []
            for frame in container.decode(stream):
                a = frame.to_ndarray()  # planar: (C, n); packed: (1, n * C)
                if frame.format.is_planar:
                    chunks.append(a.T)
                else:
                    chunks.append(a.reshape(-1, len(frame.layout.channels)))
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode {str(path)!r}: {exc}") from exc
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
    return prepare_audio(audio, rate, config), config.sample_rate
