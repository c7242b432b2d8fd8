"""Reading speech files: WAV, FLAC, OGG (soundfile) and MP3 or anything else FFmpeg reads (PyAV).

`read_audio` returns float32 (samples,) or (samples, channels) and the file's rate, unchanged;
`decode_audio` does the same for a file's bytes already in memory (batch workers receive bytes, so a
cluster needs no shared disk); `load_speech` also mixes to mono and resamples for the feature
extractor. Every file read here (bake, render, batch, serve --audio) passes the same checks: one
shorter than a motion frame is refused; a silent one, or one cut short of what its header promises
(a WAV's "data" size, an MP3's Xing/Info/VBRI frame count, an MP4's index), is read with one
logged warning.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from ..errors import AudioError, not_a_file
from .features import FeatureConfig, prepare_audio

log = logging.getLogger(__name__)

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"}
EXPECTED = "expected a WAV, FLAC, OGG or MP3 speech file"
# Samples (frames x channels) one file may decode to: 2 GiB of float32, over 3 hours of 48 kHz
# mono. Headers are not trusted for this (a FLAC header may claim 2^36 samples): decoding stops
# when the samples actually read pass the limit.
MAX_SAMPLES = 1 << 29
BLOCK_FRAMES = 1 << 16  # frames read at a time through libsndfile
FRAME_MS = FeatureConfig().hop_ms  # ms: one motion frame; a shorter file gives the face nothing
# dBFS: a file peaking below the features' speech floor has nothing the face can follow
SILENCE_DBFS = FeatureConfig().speech_floor_db
MAX_CHUNKS = 64  # RIFF chunks looked at before a WAV's "data" (fmt, fact, LIST, bext, JUNK, ...)
# A "data" size of 0, or of 2 GiB and over, is the placeholder of a recorder that streamed the file
# and never went back to fill the size in: no promise to compare with.
MAX_DATA_BYTES = 0x7FFFF000
# Containers whose duration PyAV reports from the file's own count of its samples. Others may get
# FFmpeg's guess from the file size and first bitrates (raw AAC, Matroska or MP3 without one),
# which a whole VBR file can miss by seconds: no promise to compare with.
COUNTED_FORMATS = {"mp3", "mov,mp4,m4a,3gp,3g2,mj2"}  # an MP3 only with its Xing/Info/VBRI tag
CUT_SLACK_S = 0.25  # s: codecs' delay and padding make decoded and declared lengths differ a little
MP3_SCAN = 4096  # bytes after an ID3v2 tag searched for the first MP3 frame


def read_audio(path) -> tuple[np.ndarray, int]:
    """File -> (float32 samples (T,) or (T, C), sample rate). Refuses missing or empty files."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {str(path)!r} {not_a_file(path)}: expected a WAV, FLAC, "
                         f"OGG or MP3 file")
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
    _check_speech(audio, rate, label)
    return audio, rate


def _check_speech(audio: np.ndarray, rate: int, label: str) -> None:
    """Refuse a file shorter than one motion frame; warn once about one with no sound above the
    speech floor (the face would stay at rest, and nothing else would say why)."""
    frames = audio.shape[0]
    if rate > 0 and frames * 1000 < rate * FRAME_MS:  # (a bad rate is refused by `speech_of`)
        raise AudioError(f"audio file {label!r} is {frames / rate:.4f} s long ({frames} "
                         f"sample{'s' if frames > 1 else ''} at {rate} Hz): expected at least "
                         f"one {FRAME_MS / 1000:g} s frame")
    peak = float(np.abs(audio).max())  # NaN or inf: not silence (and refused by `speech_of`)
    if peak < 10 ** (SILENCE_DBFS / 20):
        level = f"{20 * np.log10(peak):.1f} dBFS" if peak > 0 else "-inf dBFS (all zeros)"
        log.warning("audio file %r is silent: peak %s, expected speech above %g dBFS; the face "
                    "will stay at rest", label, level, SILENCE_DBFS)


def _too_long(label: str, samples: int) -> AudioError:
    return AudioError(f"audio file {label!r} decodes to more than {samples} samples: the limit "
                      f"is {MAX_SAMPLES} (frames x channels)")


def _read_soundfile(source, suffix: str, label: str) -> tuple[np.ndarray, int]:
    """Read in blocks: the frame count in the header is never used to size an array."""
    import soundfile as sf
    try:
        with sf.SoundFile(source) as f:
            rate, channels, container = f.samplerate, f.channels, f.format
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
    if container in ("WAV", "WAVEX"):
        _warn_if_cut_short(source, label, len(audio), rate)
    return (audio[:, 0] if channels == 1 else audio), int(rate)


def _warn_if_cut_short(source, label: str, frames: int, rate: int) -> None:
    """Warn once when a RIFF WAV's "data" chunk declares more bytes than the file holds: libsndfile
    quietly reads what is there (a copy or download cut off mid-way loses the end of the line)."""
    f = open(source, "rb") if isinstance(source, str) else source
    try:
        f.seek(0, io.SEEK_END)
        end = f.tell()
        f.seek(0)
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE" or rate <= 0:
            return  # RF64, RIFX: not looked into
        pos, byte_rate = 12, 0
        for _ in range(MAX_CHUNKS):
            f.seek(pos)
            chunk = f.read(20)  # id, size, and for "fmt ": format, channels, rate, bytes/s
            if len(chunk) < 8:
                return
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"fmt " and len(chunk) == 20:
                byte_rate = int.from_bytes(chunk[16:20], "little")
            elif chunk[:4] == b"data":
                held = end - pos - 8
                if byte_rate and 0 < size < MAX_DATA_BYTES and held < size:
                    _warn_cut_short(label, frames / rate, size / byte_rate)
                return
            pos += 8 + size + (size & 1)  # chunks are padded to an even size
    finally:
        if f is not source:
            f.close()


def _warn_cut_short(label: str, read_s: float, promised_s: float) -> None:
    log.warning("audio file %r is cut short: read %.3f s of the %.3f s its header promises "
                "(the rest of the data is missing)", label, read_s, promised_s)


def _mp3_counts_frames(source) -> bool:
    """Whether an MP3's first frame is a Xing, Info or VBRI tag with a frame count, the one length
    an MP3 declares (without it, FFmpeg's duration is a guess from the bitrate)."""
    f = open(source, "rb") if isinstance(source, str) else source
    try:
        f.seek(0)
        head = f.read(10)
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:  # ID3v2: a 28-bit size, 7 bits a byte
            start = 10 + sum((b & 0x7F) << 7 * (3 - i) for i, b in enumerate(head[6:10]))
            start += 10 if head[5] & 0x10 else 0  # a footer
        f.seek(start)
        data = f.read(MP3_SCAN + 64)
    finally:
        if f is not source:
            f.close()
    for i in range(min(MP3_SCAN, len(data) - 4)):
        if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0:  # the first frame's sync
            mpeg1, mono = (data[i + 1] >> 3) & 3 == 3, data[i + 3] >> 6 == 3
            at = i + 4 + ((17 if mono else 32) if mpeg1 else (9 if mono else 17))  # side info
            if data[at:at + 4] in (b"Xing", b"Info"):  # flags, then frames if flag 1 is set
                return bool(data[at + 7] & 1) and int.from_bytes(data[at + 8:at + 12], "big") > 0
            vbri = data[i + 36:i + 54]  # "VBRI", version, delay, quality, bytes, frames
            return vbri[:4] == b"VBRI" and int.from_bytes(vbri[14:18], "big") > 0
    return False


def _decoded(container, stream):
    """`stream`'s decoded frames. A last packet that does not decode is dropped: a file cut off
    mid-frame is read (and warned about), not refused; a bad packet with more after it is
    refused."""
    import av
    bad = None
    for packet in container.demux(stream):
        if bad is not None and packet.size:
            raise bad
        try:
            yield from packet.decode()
        except av.error.InvalidDataError as exc:
            bad = exc


def _read_av(source, label: str) -> tuple[np.ndarray, int]:
    import av
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise AudioError(f"{label!r} has no audio stream: {EXPECTED}")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate or 0
            mp3 = container.format.name == "mp3"
            declared = (float(stream.duration * stream.time_base)
                        if stream.duration and container.format.name in COUNTED_FORMATS else 0.0)
            chunks, total = [], 0
            for frame in _decoded(container, stream):
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
    if rate > 0 and len(audio) / rate < declared - CUT_SLACK_S and (
            not mp3 or _mp3_counts_frames(source)):
        _warn_cut_short(label, len(audio) / rate, declared)
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
