"""Fidelity table: render sweeps on each test portrait, re-detect with mediapipe's face mesh,
recover with the geometric solver (calibrated on the rendered rest frame), compare.

    python bench/bench_fidelity.py [--steps 11] [--portraits astronaut biden ...]
                                   [--channels jawOpen pitch ...] [--no-mouth]

`--no-mouth` renders without the mouth layer (`RenderConfig(mouth=False)`): the lips still
part, over the photo's warped inside, so the layer's own effect on re-detection shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.portraits import PORTRAITS, load  # noqa: E402
from vasa_bridge.render import RenderConfig, get_backend  # noqa: E402
from vasa_bridge.render.fidelity import POSE_SWEEPS, SHAPE_SWEEPS, run_sweep  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=11)
    ap.add_argument("--portraits", nargs="+", default=list(PORTRAITS), choices=list(PORTRAITS))
    channels = list(SHAPE_SWEEPS) + list(POSE_SWEEPS)
    ap.add_argument("--channels", nargs="+", default=channels, choices=channels)
    ap.add_argument("--no-mouth", action="store_true", help="render without the mouth layer")
    args = ap.parse_args()
    backend = get_backend("cpu", RenderConfig(mouth=not args.no_mouth))
    for name in args.portraits:
        print(f"\n== {name}")
        table(backend, backend.prepare(load(name)), args.steps, args.channels)
    print("\nunits: blendshapes 0..1, pose in degrees (+-20 sweeps).")


def table(backend, state, steps: int, channels: list[str]) -> None:
    print(f"{'channel':16s} {'corr':>6s} {'max err':>8s} {'err |v|<=10':>11s} {'missed':>6s}  "
          f"recovered at commanded")
    for ch in channels:
        r = run_sweep(backend, state, ch, steps)
        near = np.abs(r.commanded) <= 10
        err10 = np.nanmax(np.abs(r.recovered - r.commanded)[near]) if ch in POSE_SWEEPS else np.nan
        pairs = " ".join(f"{c:g}:{g:.2f}" for c, g in zip(r.commanded, r.recovered))
        print(f"{ch:16s} {r.correlation:6.3f} {r.max_abs_error:8.2f} {err10:11.2f} "
              f"{r.missed:6d}  {pairs}", flush=True)


if __name__ == "__main__":
    main()
