"""Issue 16 in a real OBS: the VASA Bridge source's picture and sound while the CPU is starved.

`serve` speaks a clip every few seconds (control `speak`) into a real OBS (Debian's 29, under
Xvfb, our plugin) with the VASA Bridge source in the scene. Three phases: quiet, N busy
processes (a game, an encoder...), quiet again. Per phase it reports what a viewer would get:
- from the runtime (`status` every second): picture rate, min and mean, and why it was low;
- from OBS's log: audio buffering added (and the total it reached), the source's audio
  restarts ("audio is lagging ... Restarting source audio"), and blanks of the VASA source
  ("no frames or sound for N s: blanked");
- from OBS (obs-websocket GetStats): frames it skipped rendering.

    xvfb-run -a env PYTHONPATH=. .venv/bin/python bench/check_obs_overload.py \\
        --plugin-dir obs-plugin/build-ci/plugin/vasa-bridge [--busy 3 --quiet 20 --load 60]

Needs pulseaudio, obs and obsws-python (FACTS.md). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from obs_session import ObsSession  # noqa: E402

from vasa_bridge.audio.io import load_speech  # noqa: E402
from vasa_bridge.audio.sources import RATE  # noqa: E402
from vasa_bridge.samples import greeting_path  # noqa: E402
from vasa_bridge.transport import ControlClient  # noqa: E402

BUSY = "while True: pass"
LOG_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d): (.*)$")
ADDED = re.compile(r"adding (\d+) milliseconds of audio buffering, total audio buffering is "
                   r"now (\d+) milliseconds")


def log_events(path: Path, day: dt.date) -> list[tuple[float, str]]:
    """(epoch seconds, text) per line of OBS's log (its times are local wall-clock times)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        m = LOG_TIME.match(line)
        if m:
            h, mi, s, ms, text = m.groups()
            t = dt.datetime.combine(day, dt.time(int(h), int(mi), int(s), int(ms) * 1000))
            out.append((t.timestamp(), text))
    return out


def summarise(name: str, t0: float, t1: float, events, samples, skipped: int) -> None:
    mine = [text for t, text in events if t0 <= t < t1]
    added = [ADDED.search(x) for x in mine]
    added = [(int(m.group(1)), int(m.group(2))) for m in added if m]
    restarts = sum("Restarting source audio" in x and "VASA" in x for x in mine)
    blanks = sum("blanked" in x for x in mine)
    fps = np.array([s["fps"] for s in samples if t0 <= s["t"] < t1])
    why = sorted({s["reason"] for s in samples if t0 <= s["t"] < t1 and s["reason"]})
    print(f"{name} ({t1 - t0:.0f} s): picture {fps.mean():.1f} fps mean, {fps.min():.1f} min "
          f"(runtime status, 1 s apart; low because: {why or 'never low'}); OBS audio "
          f"buffering added {sum(a for a, _ in added)} ms in {len(added)} steps (total now "
          f"{added[-1][1] if added else 'unchanged'}); VASA source audio restarts {restarts}; "
          f"blanks {blanks}; OBS frames skipped (render) {skipped}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin-dir", type=Path, required=True)
    ap.add_argument("--busy", type=int, default=3, help="busy processes in the loaded phase")
    ap.add_argument("--quiet", type=float, default=20.0, help="seconds before and after the load")
    ap.add_argument("--load", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--every", type=float, default=4.0, help="a clip every N seconds")
    args = ap.parse_args()
    clip, rate = load_speech(greeting_path())
    with ObsSession(args.plugin_dir, [], prefix="vasa-obs-overload-") as s:
        s.add_vasa_source()
        s.mute_obs_own_audio()
        time.sleep(4)  # serve warm, the source connected
        samples: list[dict] = []
        stop = threading.Event()

        def poll() -> None:
            with ControlClient(s.control, timeout_ms=5000) as c:
                next_clip = time.monotonic()
                while not stop.is_set():
                    if time.monotonic() >= next_clip:
                        c.speak(clip, rate)
                        next_clip += args.every
                    st = c.call("status")
                    samples.append({"t": time.time(), "fps": st["fps"],
                                    "reason": st["picture"]["reason"]})
                    stop.wait(1.0)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        day = dt.date.today()
        skipped = [s.obs.get_stats().render_skipped_frames]
        marks = [time.time()]
        time.sleep(args.quiet)
        marks.append(time.time())
        skipped.append(s.obs.get_stats().render_skipped_frames)
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
        try:
            time.sleep(args.load)
        finally:
            for b in busy:
                b.kill()
        marks.append(time.time())
        skipped.append(s.obs.get_stats().render_skipped_frames)
        time.sleep(args.quiet)
        marks.append(time.time())
        skipped.append(s.obs.get_stats().render_skipped_frames)
        stop.set()
        poller.join(10)
        with ControlClient(s.control) as c:
            final = c.call("status")
    events = log_events(s.obs_log, day)
    for i, name in enumerate(("quiet", f"{args.busy} busy processes", "after the load")):
        summarise(name, marks[i], marks[i + 1], events, samples, skipped[i + 1] - skipped[i])
    print(f"runtime at the end: published {final['published']}, drops {final['drops']}, "
          f"clip length {len(clip) / rate:.1f} s at {rate} Hz (runtime rate {RATE})")
    print(f"work folder (obs.log): {s.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
