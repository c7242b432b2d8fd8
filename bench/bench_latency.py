"""Latency from sound to face: a spoken vowel ("ah") enters, and we time the published frame
whose mouth answers it.

Two inputs:
- `--input file`: the bursts are a file played at real-time pace; a burst's onset "arrives" at
  the instant its first sample is due;
- `--input mic`: a real capture device (for tests and CI: a PulseAudio null sink's monitor, with
  the bursts played into the sink by `paplay`); onset arrival is the PortAudio callback that
  delivered its first sample.
For each burst: latency = wall time at which the subscriber received the first frame (picture)
with jawOpen > threshold - arrival time of the onset. Reported: p50 and p95 over the bursts, with
the runtime's per-stage medians (motion engine, render, publish). "Answers": jawOpen rises 0.1
above its level in the silence before the first burst. Also reported: the pipeline delay alone,
to the frame whose own span of audio holds the onset (look-ahead + the rest of that frame's audio
+ compute), which is what a consumer waits before it can show that instant.

    python bench/bench_latency.py [--engine model|loudness] [--input file|mic] [--bursts 20]
Target on this 2-core machine at 512², 25 fps: p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time

import numpy as np

from vasa_bridge.audio.sources import RATE, ArraySource, MicSource
from vasa_bridge.runtime.engine import LoudnessEngine
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.transport import Publisher, PublisherConfig, Subscriber, SubscriberConfig

RISE = 0.1  # jawOpen above its level in silence that counts as "the mouth answers"
BURST_S, GAP_S = 0.25, 0.75


def syllable() -> np.ndarray:
    """A spoken "ah" from espeak-ng (what a speech model answers to; a vowel, so the mouth should
    open at its onset, not after a closed consonant), trimmed to its sound; a
    tone burst where espeak-ng is not installed."""
    try:
        from vasa_bridge.data.engines.espeak import EspeakEngine
        eng = EspeakEngine()
        x = eng.synth("ah", eng.voices("en")[0]).audio  # 16 kHz: a vowel opens at once
        eng.close()
        loud = np.flatnonzero(np.abs(x) > 0.02 * np.abs(x).max())
        x = x[loud[0]:loud[-1] + 1]
        return (0.5 * x / np.abs(x).max()).astype(np.float32)[: int(BURST_S * RATE)]
    except Exception as e:  # noqa: BLE001 - any failure means "no espeak here"
        print(f"(espeak-ng unavailable: {e}; using a tone burst)")
        t = np.arange(int(BURST_S * RATE)) / RATE
        return (0.4 * np.sin(2 * np.pi * 190 * t)).astype(np.float32)


def burst_signal(n: int, lead_s: float = 1.0) -> tuple[np.ndarray, list[int]]:
    period = BURST_S + GAP_S
    total = int((lead_s + n * period + 0.5) * RATE)
    audio = np.zeros(total, np.float32)
    sound = syllable()
    onsets = []
    for k in range(n):
        a = int((lead_s + k * period) * RATE)
        audio[a:a + len(sound)] = sound
        onsets.append(a)
    return audio, onsets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", choices=("file", "mic"), default="file")
    ap.add_argument("--bursts", type=int, default=20)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--engine", default="model", choices=("model", "loudness"))
    args = ap.parse_args()

    import skimage.data
    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.render.base import RenderConfig, get_backend
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    renderer = get_backend("cpu", RenderConfig())
    portrait = renderer.prepare(skimage.data.astronaut(),  # its parted lips: the known rest pose
                                PortraitConfig(size=args.size, open_mouth_ok=True))
    audio, onsets = burst_signal(args.bursts)
    endpoint = "ipc://" + tempfile.mkdtemp() + "/lat"
    mic = None
    if args.input == "mic":
        mic = MicSource(None)
        source = pacer = mic
    else:
        source, pacer = ArraySource(audio), None
    config = ServeConfig(fps=args.fps, stop_after_source=args.input == "file", tail_s=0.5)
    wall_minus_mono = time.time() - time.monotonic()
    received: list[tuple[float, int, float]] = []  # (recv wall s, pts ns, jawOpen)
    with Publisher(PublisherConfig(endpoint=endpoint, latest_only_frames=True)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "frame", "audio"))) \
            as sub:
        if args.engine == "model":
            from vasa_bridge.runtime.model_engine import default_engine_factory
            factory = default_engine_factory()
        else:
            factory = LoudnessEngine
        rt = Runtime(config, pub, engine_factory=factory, main_source=source, pacer=pacer,
                     renderer=renderer, portrait=portrait,
                     stamp=Stamp(StampConfig(label=False, credentials=False)))
        stop = threading.Event()
        jaw_by_pts: dict[int, float] = {}
        heard: dict[int, np.ndarray] = {}  # pts -> published audio of that frame

        def receive():
            while not stop.is_set():
                m = sub.recv(timeout_ms=100)
                if m is None:
                    continue
                if m.kind == "motion":
                    jaw_by_pts[m.pts] = m.motion_frame()["jawOpen"]
                elif m.kind == "audio":
                    heard[m.pts] = m.audio_samples()[:, 0].astype(np.float32) / 32768
                elif m.kind == "frame" and m.pts in jaw_by_pts:
                    received.append((time.time(), m.pts, jaw_by_pts[m.pts]))

        rx = threading.Thread(target=receive, daemon=True)
        rx.start()
        time.sleep(0.3)
        worker = threading.Thread(target=rt.run, daemon=True)
        worker.start()
        if mic is not None:
            while mic.ring.total_written == 0:  # the device takes a moment to start
                time.sleep(0.01)
            with tempfile.NamedTemporaryFile(suffix=".wav", delete=False) as f:
                import soundfile as sf
                sf.write(f.name, audio, RATE)
            subprocess.run(["paplay", f.name], check=True)
            time.sleep(0.5)
            rt.stop()
            os.unlink(f.name)
        worker.join()
        stop.set()
        rx.join()
    # Onsets as the runtime heard them: rising edges in its own published audio (for a file these
    # are exactly the planted onsets; for a device, wherever the bursts landed in the capture).
    timeline = np.concatenate([heard[p] for p in sorted(heard)])
    first_pts = min(heard)
    loud = np.abs(timeline) > 0.05
    found, last_loud = [], -RATE
    for i in np.flatnonzero(loud):
        if i - last_loud > 0.3 * RATE:
            found.append(int(i) + int(round(first_pts / 1e9 * RATE)))
        last_loud = i
    quiet = [r[2] for r in received if r[1] < (found[0] / RATE - 0.1) * 1e9] if found else []
    threshold = (float(np.median(quiet)) if quiet else 0.0) + RISE
    latencies, pipeline = [], []
    for onset in found:
        arrival = mic.arrival_time(onset) if mic is not None else rt.pacer.due(onset)
        if arrival is None:
            continue
        arrival_wall = arrival + wall_minus_mono
        answers = [r for r in received if r[1] >= (onset / RATE - 1 / args.fps) * 1e9 and
                   r[2] > threshold]
        if answers:
            latencies.append((answers[0][0] - arrival_wall) * 1000)
        # The frame whose own span of audio holds the onset: the pipeline's delay alone.
        own = [r for r in received if r[1] <= onset / RATE * 1e9 < r[1] + 1e9 / args.fps]
        if own:
            pipeline.append((own[0][0] - arrival_wall) * 1000)
    lat = np.array(latencies)
    stages = Commands(rt).status()["stage_ms"]
    print(f"engine={args.engine} input={args.input} size={args.size} fps={args.fps:g} "
          f"bursts={len(found)} jaw threshold {threshold:.2f} "
          f"answered={len(lat)} dropped_frames={rt.stats.frames_dropped}")
    if len(lat):
        print(f"latency ms (sound -> a frame whose mouth answers): p50 "
              f"{np.percentile(lat, 50):.1f}  p95 {np.percentile(lat, 95):.1f}  max {lat.max():.1f}")
    if pipeline:
        pl = np.array(pipeline)
        print(f"pipeline ms (sound -> the frame of that instant is published): p50 "
              f"{np.percentile(pl, 50):.1f}  p95 {np.percentile(pl, 95):.1f}  max {pl.max():.1f}")
    print(f"stage medians ms: {stages}; one frame period = {1000 / args.fps:.1f} ms (a burst "
          f"waits for the rest of its frame's audio)")


if __name__ == "__main__":
    main()
