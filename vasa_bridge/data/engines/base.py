"""The speech-engine interface. Adding an engine = one class with `voices()` and `synth()`,
registered in `engines/__init__.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

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


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono audio to SAMPLE_RATE (polyphase; exact for every common rate, odd rates
    such as 191999 Hz approximated as audio.features.resample_ratio explains: the exact ratio
    needed a filter of millions of taps and seconds per clip)."""
    from ...audio.features import resample
    audio = np.asarray(audio, np.float32)
    return resample(audio, int(rate), SAMPLE_RATE)
