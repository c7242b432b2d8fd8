"""Renderer speed as ratios to a plain cv2.remap of the same frame size (same process, one core).

    python bench/bench_render.py [--sizes 512 1024] [--repeat 60]

Reports per rig group: median ms per frame, ratio to cv2.remap (3-channel uint8, float maps,
bilinear) of the full frame, fps; prepare time; peak RSS and the state's array memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402

from vasa_bridge.face import PortraitConfig  # noqa: E402
from vasa_bridge.motion import MotionFrame  # noqa: E402
from vasa_bridge.render import RenderConfig, get_backend  # noqa: E402

CASES = {
    "jaw+blink+smile": MotionFrame.from_named({"jawOpen": 0.6, "eyeBlinkLeft": 0.5,
                                                "mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}),
    "speech (mixed)": MotionFrame.from_named({"jawOpen": 0.35, "mouthFunnel": 0.3,
                                               "browInnerUp": 0.3, "eyeLookInLeft": 0.4,
                                               "eyeLookOutRight": 0.4},
                                              head_rotation=(3, 6, -2)),
    "yaw 20": MotionFrame.from_named({}, head_rotation=(0, 20, 0)),
    "pitch 15 + roll 15": MotionFrame.from_named({"jawOpen": 0.3}, head_rotation=(15, 0, 15)),
}


def median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--repeat", type=int, default=60)
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    img = skimage.data.astronaut()
    print(f"backend={args.backend}, one core (cv2.setNumThreads(1)), median of {args.repeat}")
    for size in args.sizes:
        backend = get_backend(args.backend, RenderConfig())
        backend.prepare(img, PortraitConfig(size=size))  # warm mediapipe graphs
        t = time.perf_counter()
        state = backend.prepare(img, PortraitConfig(size=size))
        prep_s = time.perf_counter() - t
        frame = np.ascontiguousarray(state.portrait.image)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        mx, my = xs + 0.3, ys + 0.2
        base = median_ms(lambda: cv2.remap(frame, mx, my, cv2.INTER_LINEAR), args.repeat)
        print(f"\n{size}x{size}: prepare {prep_s:.2f} s; baseline cv2.remap {base:.2f} ms")
        print(f"  {'case':22s} {'ms':>7s} {'x remap':>8s} {'fps':>6s}")
        for name, f in CASES.items():
            ms = median_ms(lambda: backend.render(state, f), args.repeat)
            print(f"  {name:22s} {ms:7.2f} {ms / base:8.2f} {1000 / ms:6.0f}")
        cache = state.cache
        arrays = sum(v.nbytes for v in vars(cache).values() if isinstance(v, np.ndarray))
        print(f"  state arrays {arrays / 2**20:.1f} MiB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process {rss:.0f} MiB (includes mediapipe and, if loaded, torch)")


if __name__ == "__main__":
    main()
