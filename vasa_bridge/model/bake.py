"""`vasa-bridge bake --audio SPEECH [--text "..."] -o TRACK.npz|.json|.vasatrack|.vasab|.csv`: speech file -> motion
track, through ONNX Runtime (no torch). For game dialogue and for the renderer. With the words
(`text`), the mouth follows their forced alignment (model/transcript.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..audio.features import extract
from ..audio.io import read_audio, speech_of
from ..motion import MotionTrack
from .config import unpack_motion
from .onnx_runtime import OnnxDenoiser
from .phones import PhoneConfig, PhoneRecognizer, apply_phones
from .streaming import OFFLINE, Steering, StreamConfig, generate
from .transcript import TextOutcome, TranscriptConfig, align_text, use_alignment

ALIGN_RATE = 16000  # Hz: pocketsphinx's en-us model


@dataclass(frozen=True)
class BakeConfig:
    model: str | None = None  # .onnx path; None = the model shipped in the package
    stream: StreamConfig = OFFLINE
    steering: Steering = Steering()
    seed: int = 0
    threads: int = 1  # ONNX Runtime intra-op threads
    keep_audio: bool = True  # store the (16 kHz mono) audio in the track
    transcript: TranscriptConfig = TranscriptConfig()  # language and fit floor for `text`
    phones: PhoneConfig | None = PhoneConfig()  # the heard phones steer the mouth (None: off)


def bake_audio(audio: np.ndarray, sample_rate: int, config: BakeConfig = BakeConfig(),
               denoiser: OnnxDenoiser | None = None, text: str | None = None) -> MotionTrack:
    """Any-rate PCM -> MotionTrack at the model's frame rate (frame i at i / fps). With `text`
    (what is said), the mouth follows its forced alignment; a transcript that does not fit, or a
    language without an aligner, falls back to the audio with one logged warning."""
    return bake_audio_text(audio, sample_rate, config, denoiser, text)[0]


def bake_audio_text(audio: np.ndarray, sample_rate: int, config: BakeConfig = BakeConfig(),
                    denoiser: OnnxDenoiser | None = None, text: str | None = None,
                    aligner=None, recognizer: PhoneRecognizer | None = None
                    ) -> tuple[MotionTrack, TextOutcome | None]:
    """`bake_audio`, plus what became of the transcript (None without one or with a blank one).
    `aligner`: a data.align.Aligner to reuse across calls; `recognizer`: a phones.PhoneRecognizer
    to reuse (the mouth follows the phones heard in the audio unless `config.phones` is None;
    a transcript that fits replaces that mouth with its own)."""
    from ..audio.features import prepare_audio
    if text is not None and not text.strip():
        text = None  # a blank transcript (an empty text box, a batch row without one): none
    den = denoiser or OnnxDenoiser(config.model, threads=config.threads)
    fc = den.config.features
    # Convert and resample once: `extract` of audio already at the feature rate resamples nothing.
    prepared = prepare_audio(audio, sample_rate, fc)
    feats = extract(prepared, fc.sample_rate, fc)
    raw = generate(den, den.config, feats, config.stream, config.steering, config.seed)
    shapes, rot, trans = unpack_motion(raw)
    speech = prepared if fc.sample_rate == ALIGN_RATE else \
        prepare_audio(audio, sample_rate, replace(fc, sample_rate=ALIGN_RATE))
    # A transcript that fits gives the mouth; the phones heard are only needed without one, or
    # where it has no words for some of the speech.
    aligned = align_text(speech, text, config.transcript, aligner) if text is not None else None
    if config.phones is not None and (aligned is None or aligned[0] is None
                                      or aligned[1].unspoken):
        shapes = apply_phones(shapes, speech, ALIGN_RATE, fc.fps, config.phones, recognizer)
    track = MotionTrack(shapes, rot, trans, fps=fc.fps,
                        audio=prepared if config.keep_audio else None,
                        sample_rate=fc.sample_rate if config.keep_audio else None)
    if aligned is None:
        return track, None
    return use_alignment(track, *aligned)


def bake_file_track(audio_path, config: BakeConfig = BakeConfig(),
                    text: str | None = None) -> MotionTrack:
    """Speech file (WAV/FLAC/OGG/MP3, any rate) -> track (with the audio the model heard)."""
    return bake_file_sound(audio_path, config, text)[0]


def bake_file_sound(audio_path, config: BakeConfig = BakeConfig(), text: str | None = None
                    ) -> tuple[MotionTrack, np.ndarray, int]:
    """Speech file -> (track, the file's own sound, its rate), reading the file once: for a
    video, which carries the voice as recorded while the model hears 16 kHz mono (a 48 kHz voice
    muxed at 16 kHz lost all above 8 kHz, a stereo one its stereo). The sound is float32 in
    [-1, 1], (S,) mono or (S, 2) stereo; it stays out of the track, whose audio is mono by
    contract (replay, the wire, .npz)."""
    den = OnnxDenoiser(config.model, threads=config.threads)
    original, rate = read_audio(audio_path)
    fc = den.config.features
    track = bake_audio(speech_of(original, rate, audio_path, fc), fc.sample_rate, config, den,
                       text=text)
    if original.ndim == 2 and original.shape[1] > 2:
        # More than two channels: mixed to mono, as the model hears them. Without the file's
        # channel layout a 5.1 master cannot be told from a multitrack recording, and a stereo
        # downmix by guess could put the voice on one side.
        original = original.mean(axis=1)  # (S, C) -> (S,)
    # (finite and a usable rate: `speech_of` refused the file otherwise)
    return track, np.clip(original, -1.0, 1.0), rate


def bake_file(audio_path, out_path, config: BakeConfig = BakeConfig(),
              text: str | None = None) -> MotionTrack:
    """Speech file (WAV/FLAC/OGG/MP3, any rate) -> track saved to `out_path`."""
    from ..motion.io import save
    track = bake_file_track(audio_path, config, text)
    save(track, Path(out_path))
    return track
