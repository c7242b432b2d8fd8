"""Synthesise the example voice lines in voice/ with espeak-ng (pip install 'vasa-bridge[data]').

    python examples/dialogue/make_voice.py
    vasa-bridge bake --manifest examples/dialogue/lines.csv -o baked/ --formats npz,json
"""

from pathlib import Path

import soundfile as sf

from vasa_bridge.data.engines.base import SAMPLE_RATE
from vasa_bridge.data.engines.espeak import EspeakEngine

LINES = (("guard_halt", "en-us+m3", "Halt! Nobody passes the gate after dark."),
         ("guard_sorry", "en-us+m3", "Sorry, traveller. Orders are orders."),
         ("merchant_greet", "en-gb-x-rp+f2", "Welcome, welcome! Fresh apples, only two coins."))


def main() -> None:
    out = Path(__file__).resolve().parent / "voice"
    out.mkdir(exist_ok=True)
    engine = EspeakEngine()
    voices = {v.name: v for v in engine.voices("en")}
    for name, voice, text in LINES:
        utterance = engine.synth(text, voices[voice])
        sf.write(out / f"{name}.ogg", utterance.audio, SAMPLE_RATE, format="OGG",
                 subtype="VORBIS")
        print(f"{name}.ogg: {utterance.duration:.2f} s, {voice}: {text}")


if __name__ == "__main__":
    main()
