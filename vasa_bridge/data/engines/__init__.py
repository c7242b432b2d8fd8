"""Speech engines behind one small interface (`base.Engine`). Register new ones in ENGINES."""

from __future__ import annotations

from ...errors import DataError
from .base import SAMPLE_RATE, Engine, Prosody, Utterance, Voice, to_16k

ENGINES = ("espeak", "festival", "flite")
# What a corpus uses unless told: flite (issue 15's added speakers) only when named, so a seed
# makes the same corpus as before it was added.
DEFAULT_ENGINES = ("espeak", "festival")


def open_engine(name: str) -> Engine:
    """Instantiate an engine by registry name (imports lazily: each may need a system package)."""
    if name == "espeak":
        from .espeak import EspeakEngine
        return EspeakEngine()
    if name == "festival":
        from .festival import FestivalEngine
        return FestivalEngine()
    if name == "flite":
        from .flite import FliteEngine
        return FliteEngine()
    raise DataError(f"speech engine {name!r} is unknown: expected one of {ENGINES}")


__all__ = ["DEFAULT_ENGINES", "ENGINES", "SAMPLE_RATE", "Engine", "Prosody", "Utterance", "Voice",
           "open_engine", "to_16k"]
