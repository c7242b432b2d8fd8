"""Rebuild vasa_bridge/assets/greeting.flac: the built-in face's hello (`serve` on the built-in
defaults says it once). espeak-ng through the project's engine, 16 kHz mono, ~2 s.

    PYTHONPATH=. .venv/bin/python scripts/make_greeting.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from vasa_bridge.data.engines.base import SAMPLE_RATE, Prosody, Voice
from vasa_bridge.data.engines.espeak import EspeakEngine

TEXT = "Hello! Talk to me, and I will move my lips."
OUT = Path(__file__).resolve().parent.parent / "vasa_bridge" / "assets" / "greeting.flac"


def main() -> None:
    voice = Voice("espeak", "en-us+f3", "en", "espeak:f3", "female")
    utt = EspeakEngine().synth(TEXT, voice, Prosody(rate=1.1))
    audio = utt.audio
    voiced = np.flatnonzero(np.abs(audio) > 0.01)  # trim the engine's silence, keep 50 ms
    pad = SAMPLE_RATE // 20
    audio = audio[max(voiced[0] - pad, 0):voiced[-1] + pad]
    audio = 0.7 * audio / max(float(np.abs(audio).max()), 1e-6)
    sf.write(str(OUT), audio, SAMPLE_RATE, subtype="PCM_16")
    print(f"{OUT}: {len(audio) / SAMPLE_RATE:.2f} s, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
