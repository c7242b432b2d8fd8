"""Sustained run: the runtime at 512², 25 fps with frames, motion and audio for N minutes, and
an NPC line (3 s of speech) every `--clip-every` seconds.

A subscriber on the same machine counts every message; we report pictures per second and the
longest gap between pictures (target >= 24 fps, no gap over 0.2 s), motion and audio lost (seq
gaps, published vs received — the target is none) and the longest gap between motion messages,
frames without a picture by cause, RSS after warm-up and at the end (target: flat within 10 %),
and CPU use.

    python bench/bench_soak.py [--minutes 10] [--size 512] [--engine loudness|model]
                               [--clip-every 8]
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
from vasa_bridge.runtime.commands import Commands
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
    ap.add_argument("--clip-every", type=float, default=8.0,
                    help="seconds between NPC lines (0: none)")
    args = ap.parse_args()

    import skimage.data
    from vasa_bridge.samples import example_track_path
    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.motion import load
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    from vasa_bridge.render.base import RenderConfig, get_backend
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_npc import engines

    seconds = args.minutes * 60
    speech = load(example_track_path()).audio
    audio = np.tile(speech, int(np.ceil(seconds * 16000 / len(speech))))[:int(seconds * 16000)]
    renderer = get_backend("cpu", RenderConfig())
    config = PortraitConfig(size=args.size, open_mouth_ok=True)  # the astronaut: known rest pose
    image = skimage.data.astronaut()
    portrait = renderer.prepare(image, config)
    endpoint = "ipc://" + tempfile.mkdtemp() + "/soak"
    counts = {"motion": 0, "audio": 0, "frame": 0, "event": 0, "hello": 0}
    frame_times: list[float] = []
    motion_times: dict[str, list[float]] = {}
    audio_received = [0]
    factory, baker = engines(args.engine)
    import dataclasses
    with Publisher(PublisherConfig(endpoint=endpoint, latest_only_frames=True)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "audio", "frame"),
                                        rcvhwm=10000)) as sub:
        rt = Runtime(ServeConfig(stop_after_source=True, tail_s=0.2), pub,
                     engine_factory=factory, main_source=ArraySource(audio),
                     renderer=renderer, portrait=portrait, clip_baker=baker,
                     stamp=Stamp(StampConfig(label=False, credentials=False)),
                     prepare_at=lambda source, size: renderer.prepare(
                         source, dataclasses.replace(config, size=size)),
                     portrait_source=image)
        stop = threading.Event()

        def receive():
            while not stop.is_set():
                m = sub.recv(timeout_ms=100)
                if m is not None:
                    counts[m.kind] += 1
                    t = time.monotonic()
                    if m.kind == "frame":
                        frame_times.append(t)
                    elif m.kind == "motion":
                        motion_times.setdefault(m.stream, []).append(t)
                    elif m.kind == "audio":
                        audio_received[0] += int(m.header["samples"])

        rx = threading.Thread(target=receive, daemon=True)
        rx.start()
        time.sleep(0.3)
        worker = threading.Thread(target=rt.run, daemon=True)
        rss = [rss_mb()]
        cpu0, t0 = time.process_time(), time.monotonic()
        worker.start()
        commands = Commands(rt)
        line = speech[:3 * 16000]
        next_clip = time.monotonic() + (args.clip_every or 1e12)
        last_report = time.monotonic()
        while worker.is_alive():
            worker.join(0.2)
            now = time.monotonic()
            if now >= next_clip:
                commands.speak(line, 16000, "npc1")
                next_clip += args.clip_every
            if now - last_report < 30:
                continue
            last_report = now
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
    motion_gap = max((float(np.diff(v).max()) for v in motion_times.values() if len(v) > 1),
                     default=float("nan"))
    print(f"motion: published {s.motion_published}, received {counts['motion']}, "
          f"lost {lost.get('motion', 0)}; longest gap between motion messages "
          f"{motion_gap * 1000:.0f} ms")
    print(f"audio: published {s.audio_samples} samples, received {audio_received[0]} in "
          f"{counts['audio']} messages, lost {lost.get('audio', 0)}")
    ft = np.array(frame_times)
    body = ft[(ft > ft[0] + 2.0)] if len(ft) else ft  # after the first 2 s (warm-up)
    fps = (len(body) - 1) / (body[-1] - body[0]) if len(body) > 1 else 0.0
    print(f"frames: published {s.frames_published}, received {counts['frame']}; "
          f"{fps:.2f} pictures/s after warm-up, longest gap "
          f"{np.diff(body).max() * 1000 if len(body) > 1 else float('nan'):.0f} ms; without a "
          f"picture {s.frames_dropped} ({100 * s.frames_dropped / max(frames_total, 1):.2f}%: "
          f"late {s.frames_late}, degraded {s.frames_degraded}, failed {s.frames_failed}); "
          f"picture level changes {rt.governor.changes}")
    warm = rss[1] if len(rss) > 1 else rss[0]
    print(f"RSS MB: start {rss[0]:.0f}, after warm-up {warm:.0f}, end {rss[-1]:.0f} "
          f"({100 * (rss[-1] - warm) / warm:+.1f}% since warm-up); "
          f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    print(f"CPU: {cpu:.2f} cores on average (process time / wall time)")
    lag = np.array(s.loop_lag_ms)
    print(f"loop lag ms: p50 {np.percentile(lag, 50):.1f}, p95 {np.percentile(lag, 95):.1f}")


if __name__ == "__main__":
    main()
