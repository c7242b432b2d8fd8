"""Baked-track fixtures for the C# tests, written by the Python side as a studio would make them.

    python make_baked.py OUT_DIR

Writes a short synthetic voice line (OUT_DIR/line.wav), bakes it with the real command
(`vasa-bridge bake --audio line.wav -o line.vasatrack`, the shipped model), writes the same track
as line.json and line.vasab (compact binary) through vasa_bridge.motion.io, and reference.json: the track as Python reads it back
plus samples at arbitrary times (held at the ends, vasa_bridge.motion.conversions.interpolate
between frames) for the C# sampler to match.
"""

import json
import sys
import wave
from pathlib import Path

import numpy as np

from vasa_bridge.cli import main as cli_main
from vasa_bridge.motion.conversions import interpolate
from vasa_bridge.motion.io import load, save


def voice_line(seconds: float = 1.6, rate: int = 16000) -> np.ndarray:
    """Harmonics of a gliding pitch under a 4 Hz syllable envelope: voiced, with pauses."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.3 * voiced * envelope).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def sample(track, seconds: float):
    """The motion at `seconds` into the line: the end frames held outside, interpolated inside."""
    pos = seconds * track.fps
    if pos <= 0:
        return track.frame(0)
    if pos >= len(track) - 1:
        return track.frame(len(track) - 1)
    i = int(np.floor(pos))
    return interpolate(track.frame(i), track.frame(i + 1), pos - i)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wav = out / "line.wav"
    write_wav(wav, voice_line())
    baked = out / "line.vasatrack"
    if cli_main(["bake", "--audio", str(wav), "-o", str(baked)]) != 0:
        raise SystemExit("vasa-bridge bake failed")
    track = load(baked)
    save(track, out / "line.json")
    save(track, out / "line.vasab")
    rng = np.random.default_rng(3)
    times = [-0.5, 0.0, 0.013, track.duration, track.duration + 2.0] + rng.uniform(
        0, (len(track) - 1) / track.fps, 40).round(6).tolist()
    samples = []
    for s in times:
        f = sample(track, s)
        samples.append({"t": s, "shapes": f.blendshapes.tolist(), "rot": f.head_rotation.tolist(),
                        "tr": f.head_translation.tolist()})
    ref = {"fps": track.fps, "start": track.start, "frames": len(track),
           "blendshapes": track.blendshapes.tolist(), "head_rotation": track.head_rotation.tolist(),
           "head_translation": track.head_translation.tolist(), "samples": samples}
    (out / "reference.json").write_text(json.dumps(ref))


if __name__ == "__main__":
    main(sys.argv[1])
