"""A small seeded motion track with audio for the C# replay round trip.

    python make_track.py OUT.npz OUT.json

OUT.npz is what `vasa-bridge replay` publishes; OUT.json holds the same track as loaded back
from the file (what replay actually reads), for the C# test to compare what it receives.
"""

import json
import sys

import numpy as np

from vasa_bridge.motion.frame import MotionTrack
from vasa_bridge.motion.io import load, save


def main(npz: str, out: str) -> None:
    rng = np.random.default_rng(5)
    frames, fps, rate = 20, 25.0, 16000
    shapes = rng.uniform(0, 1, (frames, 52)).astype(np.float32)
    rot = rng.uniform(-25, 25, (frames, 3)).astype(np.float32)
    tr = rng.uniform(-0.03, 0.03, (frames, 3)).astype(np.float32)
    t = np.arange(int(frames / fps * rate)) / rate
    audio = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    save(MotionTrack(shapes, rot, tr, fps, audio=audio, sample_rate=rate), npz)
    track = load(npz)
    with open(out, "w") as f:
        json.dump({"fps": track.fps, "start": track.start, "sample_rate": track.sample_rate,
                   "blendshapes": track.blendshapes.tolist(),
                   "head_rotation": track.head_rotation.tolist(),
                   "head_translation": track.head_translation.tolist(),
                   "audio": track.audio.tolist(),
                   "pts": [int(round((track.start + i / track.fps) * 1e9))
                           for i in range(len(track))]}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
