"""The samples that ship inside the package: the portrait, the example motion track and the
built-in face's greeting (files under vasa_bridge/assets/)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _asset(name: str) -> Path:
    return Path(str(resources.files("vasa_bridge") / "assets" / name))


def builtin_portrait() -> Path:
    """The sample portrait (NASA's public-domain astronaut photo, as in scikit-image)."""
    return _asset("portrait.jpg")


def example_track_path() -> Path:
    """The example track: 8 s of synthetic speech with motion."""
    return _asset("example_track.npz")


def greeting_path() -> Path:
    """The built-in face's hello, 16 kHz mono FLAC (scripts/make_greeting.py)."""
    return _asset("greeting.flac")


def phone_dictionary_path() -> Path:
    """A one-word pocketsphinx dictionary: the phone-loop search needs one but reads no words,
    and the full CMU dictionary costs 45 MB and 70 ms per decoder (model/phones.py)."""
    return _asset("phones.dict")


def acoustic_mouth_path() -> Path:
    """The live mouth's acoustic head, trained here (`vasa-bridge train-mouth`,
    model/acoustic_mouth.py)."""
    return _asset("model/acoustic_mouth.npz")
