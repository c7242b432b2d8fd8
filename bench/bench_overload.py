"""The runtime under CPU overload: `serve`'s loop (512², 25 fps, frames + motion + audio, an NPC
line every 8 s) while N busy processes compete for the cores, against the same run with no load.

A subscriber in its own process (as OBS would be) records every message. For each run we report,
over the loaded span: pictures per second, the longest gap between pictures, the picture sizes,
motion and audio lost (sequence gaps; published vs received), the longest gap between motion
messages; and after the load ends, how long until pictures are back at full size and full rate
(every 1 s window from then on at >= 95 % of the target).

    python bench/bench_overload.py [--busy 3] [--warm 3] [--load 15] [--after 8]
                                   [--engine loudness|model] [--size 512] [--no-compare]
    python bench/bench_overload.py --control-p99 [--voice]  # replies while an NPC clip bakes

Targets (issue 16): with 3 busy processes on 2 cores, >= 10 pictures/s with no gap over 0.5 s,
no motion or audio lost, full rate again within 1 s of the load ending; control p99 <= 50 ms
while a 120 s NPC clip is prepared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def receive(endpoint: str, seconds: float, out: str) -> None:
    """Child process: record every message for `seconds`, then write a JSON summary."""
    from vasa_bridge.transport import Subscriber, SubscriberConfig
    frames, motion, audio, events = [], {}, {}, []
    with Subscriber(SubscriberConfig(endpoint=endpoint, rcvhwm=100000)) as sub:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = sub.recv(timeout_ms=100)
            if m is None:
                continue
            t = time.monotonic()
            if m.kind == "frame":
                frames.append((t, m.pts, m.header["width"]))
            elif m.kind == "motion":
                motion.setdefault(m.stream, []).append(t)
            elif m.kind == "audio":
                audio[m.stream] = audio.get(m.stream, 0) + int(m.header["samples"])
            elif m.kind == "event":
                events.append((t, m.header["name"], m.header.get("message")))
        lost = dict(sub.stats.lost)
    with open(out, "w") as f:
        json.dump({"frames": frames, "motion": motion, "audio": audio, "events": events,
                   "lost": lost}, f)


def burners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def one_run(args, busy: int) -> dict:
    import skimage.data
    from vasa_bridge.audio.sources import ArraySource
    from vasa_bridge.samples import example_track_path
    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.motion import load
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    from vasa_bridge.render.base import RenderConfig, get_backend
    from vasa_bridge.runtime.commands import Commands
    from vasa_bridge.runtime.serve import Runtime, ServeConfig
    from vasa_bridge.transport import Publisher, PublisherConfig
    sys.path.insert(0, str(HERE))
    from bench_npc import engines

    total = args.warm + args.load + args.after
    speech = load(example_track_path()).audio
    audio = np.tile(speech, int(np.ceil(total * 16000 / len(speech))))[:int(total * 16000)]
    renderer = get_backend("cpu", RenderConfig())
    image = skimage.data.astronaut()
    # the astronaut's parted-lips smile is its known rest pose (as serve's built-in portrait)
    config = PortraitConfig(size=args.size, open_mouth_ok=True)
    portrait = renderer.prepare(image, config)
    import dataclasses
    prepare_at = lambda source, size: renderer.prepare(  # noqa: E731
        source, dataclasses.replace(config, size=size))
    factory, baker = engines(args.engine)
    endpoint = "ipc://" + tempfile.mkdtemp() + "/overload"
    out = tempfile.mktemp(suffix=".json")
    rx = subprocess.Popen([sys.executable, __file__, "--receive", endpoint, "--seconds",
                           str(total + 4), "--out", out])
    with Publisher(PublisherConfig(endpoint=endpoint, latest_only_frames=True)) as pub:
        time.sleep(1.5)  # the subscriber connects (slow joiner)
        rt = Runtime(ServeConfig(stop_after_source=True, tail_s=0.0), pub,
                     engine_factory=factory, main_source=ArraySource(audio), renderer=renderer,
                     portrait=portrait, stamp=Stamp(StampConfig(label=False, credentials=False)),
                     clip_baker=baker, prepare_at=prepare_at, portrait_source=image)
        commands = Commands(rt)
        worker = threading.Thread(target=rt.run, daemon=True)
        procs: list[subprocess.Popen] = []
        marks = {}
        statuses = []
        worker.start()
        t0 = time.monotonic()
        line = speech[:int(3 * 16000)]
        next_clip = t0 + 1.0
        try:
            while worker.is_alive():
                now = time.monotonic()
                if busy and "load_start" not in marks and now - t0 >= args.warm:
                    procs = burners(busy)
                    marks["load_start"] = time.monotonic()
                if procs and now - t0 >= args.warm + args.load:
                    for p in procs:
                        p.kill()
                    for p in procs:
                        p.wait()
                    procs = []
                    marks["load_end"] = time.monotonic()
                if now >= next_clip:  # an NPC line every 8 s
                    commands.speak(line, 16000, "npc1")
                    next_clip += 8.0
                statuses.append((now, commands.status()["picture"]))
                worker.join(0.25)
        finally:
            for p in procs:
                p.kill()
        marks.setdefault("load_start", t0 + args.warm)
        marks.setdefault("load_end", t0 + args.warm + args.load)
        rx.wait()
    with open(out) as f:
        got = json.load(f)
    os.unlink(out)
    s = rt.stats
    return {"busy": busy, "got": got, "marks": marks, "stats": s, "statuses": statuses,
            "published_motion": s.motion_published, "audio_samples": s.audio_samples}


def summarise(run: dict, fps: float, full: int) -> dict:
    got, marks = run["got"], run["marks"]
    frames = np.array(got["frames"]) if got["frames"] else np.zeros((0, 3))
    t, widths = frames[:, 0], frames[:, 2]
    a, b = marks["load_start"] + 1.0, marks["load_end"]  # the first second: the onset
    during = (t >= a) & (t < b)
    gaps = np.diff(t[(t >= marks["load_start"]) & (t < b)])
    recovered = None
    for start in np.arange(b, t[-1] - 1.0, 0.1):  # first time from which every window is full
        ok = True
        for w0 in np.arange(start, t[-1] - 1.0, 0.25):
            win = (t >= w0) & (t < w0 + 1.0)
            if win.sum() < 0.95 * fps or (widths[win] < full).any():
                ok = False
                break
        if ok:
            recovered = start - b
            break
    motion_gap = max((float(np.diff(ts).max()) for ts in got["motion"].values() if len(ts) > 1),
                     default=float("nan"))
    received_motion = sum(len(v) for v in got["motion"].values())
    sizes = {int(w): int((widths[during] == w).sum()) for w in np.unique(widths[during])}
    reasons = sorted({s["reason"] for tt, s in run["statuses"] if a <= tt < b and s["reason"]})
    return {
        "busy processes": run["busy"],
        "pictures/s under load": round(during.sum() / max(b - a, 1e-9), 1),
        "max picture gap under load s": round(float(gaps.max()), 3) if len(gaps) else None,
        "picture sizes under load": sizes,
        "motion published/received": f"{run['published_motion']}/{received_motion}",
        "audio samples published/received": f"{run['audio_samples']}/"
                                              f"{sum(got['audio'].values())}",
        "lost (seq gaps)": got["lost"] or {},
        "max motion gap s": round(motion_gap, 3),
        "recovery to full size and rate s": None if recovered is None else round(recovered, 2),
        "status reasons under load": reasons,
        "frames without a picture": {"late": run["stats"].frames_late,
                                     "degraded": run["stats"].frames_degraded,
                                     "failed": run["stats"].frames_failed},
    }


def control_p99(args) -> None:
    """Control replies (status) while a 120 s NPC clip is baked by the shipped model."""
    voice = args.voice
    from vasa_bridge.runtime.model_engine import load_model
    from vasa_bridge.runtime.commands import Commands
    from vasa_bridge.runtime.serve import Runtime, ServeConfig
    from vasa_bridge.transport import (ControlClient, ControlConfig, ControlServer, Publisher,
                                       PublisherConfig)
    factory, baker = load_model()
    folder = tempfile.mkdtemp()
    with Publisher(PublisherConfig(endpoint=f"ipc://{folder}/pub")) as pub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=factory, clip_baker=baker)
        stop = threading.Event()
        loop = threading.Thread(target=rt.run, args=(stop,), daemon=True)
        loop.start()
        if voice:  # real recorded speech: the phone layer hears it (words and all)
            from vasa_bridge.model.realvoice import real_clips
            speech = np.concatenate([c.audio for c in real_clips()])
            clip = np.tile(speech, int(np.ceil(120 * 16000 / len(speech))))[:120 * 16000]
        else:  # noise: the phone layer hears too few phones and gives up early
            rng = np.random.default_rng(0)
            clip = (0.2 * rng.standard_normal(120 * 16000)).astype(np.float32)
        with ControlServer(Commands(rt), ControlConfig(endpoint=f"ipc://{folder}/ctl")), \
                ControlClient(f"ipc://{folder}/ctl", timeout_ms=60000) as speaker, \
                ControlClient(f"ipc://{folder}/ctl", timeout_ms=60000) as poller:
            done = {}

            def speak():
                t = time.perf_counter()
                done["reply"] = speaker.speak(clip, 16000, stream="npc1")
                done["s"] = time.perf_counter() - t
            th = threading.Thread(target=speak)
            th.start()
            times = []
            while th.is_alive():
                t = time.perf_counter()
                poller.call("status")
                times.append((time.perf_counter() - t) * 1000)
                time.sleep(0.02)
            th.join()
        stop.set()
        loop.join(5)
    ms = np.array(times)
    print(f"120 s NPC clip of {'real speech' if voice else 'noise'}: speak answered after "
          f"{done['s']:.2f} s (bake + resample on a worker); {len(ms)} status replies "
          f"meanwhile: p50 {np.percentile(ms, 50):.1f} ms, "
          f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms; "
          f"loop lag p95 {np.percentile(rt.stats.loop_lag_ms, 95):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=3, help="busy processes during the load")
    ap.add_argument("--warm", type=float, default=3.0, help="seconds before the load")
    ap.add_argument("--load", type=float, default=15.0, help="seconds of load")
    ap.add_argument("--after", type=float, default=8.0, help="seconds after the load")
    ap.add_argument("--engine", default="loudness", choices=("loudness", "model"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--no-compare", action="store_true", help="skip the run with no load")
    ap.add_argument("--control-p99", action="store_true",
                    help="measure control replies while a 120 s NPC clip is baked, and exit")
    ap.add_argument("--voice", action="store_true",
                    help="with --control-p99: the clip is real speech (eval --real's recordings, "
                         "tiled), which the phone layer hears whole, words and all")
    ap.add_argument("--receive", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receive:
        receive(args.receive, args.seconds, args.out)
        return
    if args.control_p99:
        control_p99(args)
        return
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f} "
          f"(a shared machine: other work competes too)", flush=True)
    runs = ([] if args.no_compare else [0]) + [args.busy]
    for busy in runs:
        result = summarise(one_run(args, busy), 25.0, args.size)
        print(f"--- {busy} busy processes, {args.engine} engine, {args.size}², "
              f"load {args.load:g} s ---")
        for k, v in result.items():
            print(f"{k}: {v}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
