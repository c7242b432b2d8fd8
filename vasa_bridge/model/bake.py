"""`vasa-bridge bake --audio SPEECH -o TRACK.npz|.json|.vasatrack|.vasab|.csv`: speech file -> motion track, through
ONNX Runtime (no torch). For game dialogue and for the renderer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.features import extract
from ..audio.io import load_speech
from ..motion import MotionTrack
from .config import unpack_motion
from .onnx_runtime import OnnxDenoiser
from .streaming import OFFLINE, Steering, StreamConfig, generate


@dataclass(frozen=True)
class BakeConfig:
    model: str | None = None  # .onnx path; None = the model shipped in the package
    stream: StreamConfig = OFFLINE
    steering: Steering = Steering()
    seed: int = 0
    threads: int = 1  # ONNX Runtime intra-op threads
    keep_audio: bool = True  # store the (16 kHz mono) audio in the track


def bake_audio(audio: np.ndarray, sample_rate: int, config: BakeConfig = BakeConfig(),
               denoiser: OnnxDenoiser | None = None) -> MotionTrack:
    """Any-rate PCM -> MotionTrack at the model's frame rate (frame i at i / fps)."""
    den = denoiser or OnnxDenoiser(config.model, threads=config.threads)
    fc = den.config.features
    feats = extract(audio, sample_rate, fc)
    raw = generate(den, den.config, feats, config.stream, config.steering, config.seed)
    shapes, rot, trans = unpack_motion(raw)
    track_audio = None
    if config.keep_audio:
        from ..audio.features import prepare_audio
        track_audio = prepare_audio(audio, sample_rate, fc)
    return MotionTrack(shapes, rot, trans, fps=fc.fps, audio=track_audio,
                       sample_rate=fc.sample_rate if track_audio is not None else None)


def bake_file_track(audio_path, config: BakeConfig = BakeConfig()) -> MotionTrack:
    """Speech file (WAV/FLAC/OGG/MP3, any rate) -> track (with the audio)."""
    den = OnnxDenoiser(config.model, threads=config.threads)
    audio, rate = load_speech(audio_path, den.config.features)
    return bake_audio(audio, rate, config, den)


def bake_file(audio_path, out_path, config: BakeConfig = BakeConfig()) -> MotionTrack:
    """Speech file (WAV/FLAC/OGG/MP3, any rate) -> track saved to `out_path`."""
    from ..motion.io import save
    track = bake_file_track(audio_path, config)
    save(track, Path(out_path))
    return track
