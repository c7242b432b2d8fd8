"""Offline path end to end: speech -> bake (model, ONNX Runtime) -> render -> H.264 + AAC, against
the speech's own duration. Target: >= 2x faster than real time at 512².

    python bench/bench_offline_render.py SPEECH.wav [--size 512] [--repeat N]
(SPEECH is repeated N times to make a longer clip; default 6.)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("speech")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=6)
    args = ap.parse_args()

    import skimage.data
    from vasa_bridge.audio.io import load_speech
    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.model.bake import BakeConfig, bake_audio
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    from vasa_bridge.render.base import RenderConfig
    from vasa_bridge.render.video import render_file

    audio, rate = load_speech(args.speech)
    audio = np.tile(audio, args.repeat)
    seconds = len(audio) / rate
    out = Path(tempfile.mkdtemp()) / "out.mp4"
    t0 = time.perf_counter()
    track = bake_audio(audio, rate, BakeConfig())
    t1 = time.perf_counter()
    n = render_file(skimage.data.astronaut(), track, out,
                    portrait_config=PortraitConfig(size=args.size), render_config=RenderConfig(),
                    progress=False, stamp=Stamp(StampConfig(credentials=True)))
    t2 = time.perf_counter()
    total = t2 - t0
    print(f"{seconds:.1f} s of speech, {n} frames at {args.size}²")
    print(f"bake {t1 - t0:.2f} s (RTF {(t1 - t0) / seconds:.3f}), render + watermark + encode + "
          f"sign {t2 - t1:.2f} s (RTF {(t2 - t1) / seconds:.3f})")
    print(f"total {total:.2f} s: {seconds / total:.1f}x faster than real time")


if __name__ == "__main__":
    main()
