"""Sustained run: the runtime at 512², 25 fps with frames, motion and audio for N minutes.

A subscriber on the same machine counts every message; we report motion and audio lost (seq
gaps — the target is none), frames dropped by backpressure (target <= 1%), RSS at start and end
(memory flat), and CPU use.

    python bench/bench_soak.py [--minutes 10] [--size 512] [--engine loudness|model]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vasa_bridge.audio.sources import ArraySource
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.transport import Publisher, PublisherConfig, Subscriber, SubscriberConfig


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--engine", default="loudness", choices=("loudness", "model"))
    args = ap.parse_args()

    import skimage.data
    from vasa_bridge.cli import example_track_path
    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.motion import load
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    from vasa_bridge.render.base import RenderConfig, get_backend
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_npc import engine_factory

    seconds = args.minutes * 60
    speech = load(example_track_path()).audio
    audio = np.tile(speech, int(np.ceil(seconds * 16000 / len(speech))))[:int(seconds * 16000)]
    renderer = get_backend("cpu", RenderConfig())
    portrait = renderer.prepare(skimage.data.astronaut(), PortraitConfig(size=args.size))
    endpoint = "ipc://" + tempfile.mkdtemp() + "/soak"
    counts = {"motion": 0, "audio": 0, "frame": 0}
    with Publisher(PublisherConfig(endpoint=endpoint, latest_only_frames=True)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "audio", "frame"),
                                        rcvhwm=10000)) as sub:
        rt = Runtime(ServeConfig(stop_after_source=True, tail_s=0.2), pub,
                     engine_factory=engine_factory(args.engine), main_source=ArraySource(audio),
                     renderer=renderer, portrait=portrait,
                     stamp=Stamp(StampConfig(label=False, credentials=False)))
        stop = threading.Event()

        def receive():
            while not stop.is_set():
                m = sub.recv(timeout_ms=100)
                if m is not None:
                    counts[m.kind] += 1

        rx = threading.Thread(target=receive, daemon=True)
        rx.start()
        time.sleep(0.3)
        worker = threading.Thread(target=rt.run, daemon=True)
        rss = [rss_mb()]
        cpu0, t0 = time.process_time(), time.monotonic()
        worker.start()
        while worker.is_alive():
            worker.join(30)
            rss.append(rss_mb())
            print(f"[soak] {time.monotonic() - t0:6.0f} s  RSS {rss[-1]:.0f} MB  "
                  f"published {rt.stats.motion_published} motion, "
                  f"{rt.stats.frames_published} frames", flush=True)
        cpu = (time.process_time() - cpu0) / (time.monotonic() - t0)
        time.sleep(0.5)
        stop.set()
        rx.join()
        lost = dict(sub.stats.lost)
    s = rt.stats
    frames_total = s.frames_published + s.frames_dropped
    print(f"duration {seconds:.0f} s at {args.size}², 25 fps, engine {args.engine}")
    print(f"motion: published {s.motion_published}, received {counts['motion']}, "
          f"lost {lost.get('motion', 0)}")
    print(f"audio: published {s.audio_samples} samples in {counts['audio']} messages, "
          f"lost {lost.get('audio', 0)}")
    print(f"frames: published {s.frames_published}, dropped by backpressure {s.frames_dropped} "
          f"({100 * s.frames_dropped / max(frames_total, 1):.2f}%), received {counts['frame']}")
    print(f"RSS MB: start {rss[0]:.0f}, after warm-up {rss[1]:.0f}, end {rss[-1]:.0f}; "
          f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    print(f"CPU: {cpu:.2f} cores on average (process time / wall time)")
    lag = np.array(s.loop_lag_ms)
    print(f"loop lag ms: p50 {np.percentile(lag, 50):.1f}, p95 {np.percentile(lag, 95):.1f}")


if __name__ == "__main__":
    main()
