"""How many motion-only streams (game NPCs) run concurrently in real time.

For N = 1, 2, 4, ... every NPC stream speaks continuously (clips through the control handler's
`speak`, as a game would send them; with the model, each clip is baked whole on arrival, as
`serve` does; `--live-npcs` runs live windows per stream instead) while the runtime runs in real time with no pictures. The
loop is real time while it finishes each frame's work before the next frame is due: we report
the p95 of (work done - audio due) per frame against the frame period.

    python bench/bench_npc.py [--engine loudness|model] [--seconds 4] [--max 64]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

import numpy as np

from vasa_bridge.audio.sources import RATE
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.transport import Publisher, PublisherConfig


def engine_factory(name: str):
    return engines(name)[0]


def engines(name: str):
    """(live engine factory, clip baker or None) as `serve` builds them."""
    if name == "loudness":
        from vasa_bridge.runtime.engine import LoudnessEngine
        return LoudnessEngine, None
    from vasa_bridge.runtime.model_engine import load_model  # the shipped model
    return load_model()


def speech_like(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    env = (np.sin(2 * np.pi * rng.uniform(3, 5) * t) > 0).astype(np.float32)
    return (0.3 * env * np.sin(2 * np.pi * rng.uniform(120, 220) * t)).astype(np.float32)


def run(n: int, seconds: float, factory, baker, fps: float) -> tuple[float, float, float]:
    endpoint = "ipc://" + tempfile.mkdtemp() + "/npc"
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub:
        rt = Runtime(ServeConfig(frames=False, fps=fps, max_streams=n + 1), pub,
                     engine_factory=factory, clip_baker=baker)
        commands = Commands(rt)
        t_bake = time.perf_counter()
        for i in range(n):
            commands.speak(speech_like(seconds + 2, i), RATE, f"npc{i}")
        bake_rtf = (time.perf_counter() - t_bake) / (n * (seconds + 2))
        cpu0, t0 = time.process_time(), time.monotonic()
        timer = threading.Timer(seconds, rt.stop)
        timer.start()
        rt.run()
        cpu = (time.process_time() - cpu0) / (time.monotonic() - t0)
    lag = np.array(list(rt.stats.loop_lag_ms)[int(fps):])  # skip the first second (warm-up)
    return float(np.percentile(lag, 50)), float(np.percentile(lag, 95)), cpu, bake_rtf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="loudness", choices=("loudness", "model"))
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--max", type=int, default=64)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--live-npcs", action="store_true",
                    help="run live model windows per NPC instead of baking clips on arrival")
    args = ap.parse_args()
    factory, baker = engines(args.engine)
    if args.live_npcs:
        baker = None
    period = 1000 / args.fps
    print(f"engine={args.engine} npc motion={'live windows' if baker is None else 'baked clips'} "
          f"fps={args.fps:g} cores={os.cpu_count()} "
          f"frame period {period:.0f} ms")
    print("| NPC streams | lag p50 ms | lag p95 ms | loop CPU (cores) | speak cost (s per s of "
          "clip) | real time |")
    print("|---|---|---|---|---|---|")
    best = 0
    n = 1
    while n <= args.max:
        p50, p95, cpu, bake_rtf = run(n, args.seconds, factory, baker, args.fps)
        ok = p95 < period
        print(f"| {n} | {p50:.1f} | {p95:.1f} | {cpu:.2f} | {bake_rtf:.3f} | "
              f"{'yes' if ok else 'no'} |", flush=True)
        if not ok:
            break
        best = n
        n *= 2
    print(f"largest real-time count tried: {best}. Speaking continuously, N streams also cost "
          f"N x (speak cost) cores to bake their clips as they arrive (on the control thread).")


if __name__ == "__main__":
    main()
