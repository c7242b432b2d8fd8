"""The speech-engine interface. Adding an engine = one class with `voices()` and `synth()`,
registered in `engines/__init__.py`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soundfile as sf

from ...audio.pcm import SAMPLE_RATE  # Hz, every clip in every dataset
from ..phonemes import PhonemeTimeline


@dataclass(frozen=True)
class Voice:
    engine: str  # registry name, e.g. "espeak"
    name: str  # the engine's own voice id, e.g. "en-us+m3" or "voice_kal_diphone"
    language: str  # dataset language code, e.g. "en"
    speaker: str  # identity used for the train/validation split ("espeak:m3")
    gender: str = "unknown"  # "male" | "female" | "unknown"


@dataclass(frozen=True)
class Prosody:
    rate: float = 1.0  # speaking-rate multiplier (1 = the voice's default)
    pitch: float = 1.0  # mean-pitch multiplier
    range: float = 1.0  # pitch-range multiplier (intonation liveliness)


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # (S,) float32 mono in [-1, 1] at SAMPLE_RATE
    phonemes: PhonemeTimeline  # engine timings, seconds from audio sample 0
    voice: Voice
    prosody: Prosody
    text: str

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


class Engine(Protocol):
    name: str

    def voices(self, language: str) -> list[Voice]:
        """Voices this engine offers for a dataset language (empty when it has none)."""

    def synth(self, text: str, voice: Voice, prosody: Prosody) -> Utterance:
        """Speak `text`; audio at SAMPLE_RATE with its phoneme timeline."""

    def close(self) -> None:
        """Release processes or libraries."""


def utterance_from_wav(path: str, segs: list[tuple[str, float, float]], voice: Voice,
                       prosody: Prosody, text: str, phoneset: str = "arpabet") -> Utterance:
    """An engine's RIFF file (any rate, mono or not; removed once read) and its phones
    (label in `phoneset`, start s, end s) -> the Utterance at SAMPLE_RATE: the phones clipped
    to the audio's length, a pause added to reach its end."""
    audio, rate = sf.read(path, dtype="float32")
    os.remove(path)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    audio = to_16k(audio, rate)
    n = len(audio) / SAMPLE_RATE
    segs = [(lab, min(a, n), min(b, n)) for lab, a, b in segs]
    if segs[-1][2] < n:
        segs.append(("pau" if phoneset == "arpabet" else "_", segs[-1][2], n))
    return Utterance(audio, PhonemeTimeline.from_segments(segs, phoneset), voice, prosody, text)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono audio to SAMPLE_RATE (polyphase; exact for every common rate, odd rates
    such as 191999 Hz approximated as audio.features.resample_ratio explains: the exact ratio
    needed a filter of millions of taps and seconds per clip)."""
    from ...audio.features import resample
    audio = np.asarray(audio, np.float32)
    return resample(audio, int(rate), SAMPLE_RATE)
