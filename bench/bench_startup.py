"""Start-up: launch of `vasa-bridge serve` (built-in defaults: panel, model, portrait) to the
first rendered frame received by a subscriber, cold (portrait cache empty) and warm, against a
Python that only imports numpy and exits (the floor for any Python tool on this machine).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_startup.py [--runs 3]

The last column, the CPU time the serve process had used when its first frame arrived, depends
far less on what else the machine runs than the wall times do. Each run is a fresh process; the
caches (portrait analysis, warp grid) live in a temporary XDG_CACHE_HOME ("cold" empties it
first). The operating system's file cache stays warm either way: a first launch after a reboot
is slower than "cold" here. VASA_ROOT=/path/to/another/checkout times that code instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

ROOT = Path(os.environ.get("VASA_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from vasa_bridge.protocol import wire  # noqa: E402
from vasa_bridge.web.testing import free_port  # noqa: E402


def numpy_floor() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - t0


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_frame(cache: Path, timeout: float = 60.0) -> tuple[float, float, float]:
    """(seconds to the first frame, seconds to the ready line, CPU seconds the serve process
    had used when its first frame arrived) for one launch."""
    pub = f"tcp://127.0.0.1:{free_port()}"
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, wire.subscription("frame"))
    sub.connect(pub)  # connects as soon as serve binds
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vasa_bridge.cli", "serve", "--pub", pub,
                             "--control", f"tcp://127.0.0.1:{free_port()}", "--http",
                             f"127.0.0.1:{free_port()}"], env=env, cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    seen: dict = {}

    def read_ready():  # the ready line may come before or after the first frame
        for line in proc.stderr:
            if line.startswith("[serve] ready") or "error" in line:
                seen["t"], seen["line"] = time.perf_counter() - t0, line
                break
        proc.stderr.read()

    reader = threading.Thread(target=read_ready, daemon=True)
    reader.start()
    try:
        if not sub.poll(int(timeout * 1000)):
            raise RuntimeError(f"no frame within the timeout: {seen.get('line')}")
        t_frame = time.perf_counter() - t0
        cpu = _cpu_seconds(proc.pid)
        sub.recv_multipart()
        deadline = time.perf_counter() + timeout
        while "t" not in seen and time.perf_counter() < deadline:
            time.sleep(0.01)
        if not seen.get("line", "").startswith("[serve] ready"):
            raise RuntimeError(f"serve did not start: {seen.get('line')}")
        t_ready = seen["t"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(5)
        sub.close(0)
    return t_frame, t_ready, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    numpy_floor()  # page the interpreter and numpy in once
    floor = statistics.median(numpy_floor() for _ in range(args.runs))
    cache = Path(tempfile.mkdtemp(prefix="vasa-bench-startup-"))
    try:
        cold, warm = [], []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(first_frame(cache))
            warm.append(first_frame(cache))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of "
          f"{args.runs}\n")
    print("| launch to | first frame (s) | ready line (s) | first frame / numpy import | "
          "CPU s at first frame |")
    print("|---|---|---|---|---|")
    print(f"| python -c 'import numpy' (exit) | {floor:.2f} | | 1.0 | |")
    for name, runs in (("serve, cold (no portrait cache)", cold),
                       ("serve, warm (portrait cached)", warm)):
        f = statistics.median(r[0] for r in runs)
        r = statistics.median(r[1] for r in runs)
        c = statistics.median(run[2] for run in runs)
        print(f"| {name} | {f:.2f} | {r:.2f} | {f / floor:.1f} | {c:.2f} |")


if __name__ == "__main__":
    main()
