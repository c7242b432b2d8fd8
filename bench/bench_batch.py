"""Batch baking throughput: lines per minute with 1 and 2 worker processes and on a local Ray.

N voice lines of about 3 s (espeak-ng speech: a few distinct takes, each line with its own seed
and output) are baked by `run_batch` with every line forced, once per mode, into fresh folders.
Reported per mode: wall time, lines per minute, times real time, wall x workers / lines, and the
CPU time used per line by every process of the mode (this one, the pool's workers, or Ray's
daemons and workers, read from /proc), which a busy shared machine inflates much less than wall
time: the basis of the overhead comparison and of the cluster estimate. Targets (issue 17): one
worker >= 20x real time; Ray's overhead against the pool with the same number of workers
<= 10 %. The Ray cluster's start-up (`ray.init`) is timed apart: on a real cluster it is already
running. Every mode must write the same tracks.

Mode `pool-blas` is the pool with each worker's BLAS left at OpenBLAS's default thread count, as
before the workers held it to one thread: the baseline of `pool`, reported as their ratio. Run it
without OMP_NUM_THREADS or OPENBLAS_NUM_THREADS, which set that default (to one with =1).

    OMP_NUM_THREADS=1 python bench/bench_batch.py [--lines 200] [--workers 2]
    OMP_NUM_THREADS=1 python bench/bench_batch.py --lines 300 --repeat 3
    OMP_NUM_THREADS=1 python bench/bench_batch.py --lines 1000 --json bench_batch.json
    python bench/bench_batch.py --modes pool-blas,pool --lines 60 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from unittest import mock

SENTENCES = (
    "Halt! Nobody passes the gate after dark, traveller.",
    "The caravan leaves at dawn, so pack your things tonight.",
    "Bring me three wolf pelts and I will teach you the trade.",
    "I have not seen the captain since the storm last week.",
    "Welcome to the inn. The stew is hot and the beds are dry.",
    "Careful on the bridge, the planks are older than I am.",
)
VOICES = ("en-us+m3", "en-us+f2", "en-gb-x-rp+m1", "en-us+f4")


def make_lines(folder: Path, n: int, target_s: float) -> tuple[Path, float]:
    """Distinct takes stretched to about `target_s`, and a CSV manifest of `n` lines over them."""
    import soundfile as sf

    from vasa_bridge.data.engines.base import SAMPLE_RATE, Prosody
    from vasa_bridge.data.engines.espeak import EspeakEngine
    engine = EspeakEngine()
    voices = {v.name: v for v in engine.voices("en")}
    takes = []
    for i, text in enumerate(SENTENCES):
        voice = voices[VOICES[i % len(VOICES)]]
        first = engine.synth(text, voice)
        u = engine.synth(text, voice, Prosody(rate=first.duration / target_s))
        name = f"take{i}.wav"
        sf.write(folder / name, u.audio, SAMPLE_RATE)
        takes.append((name, u.duration))
    rows = ["audio,seed,output"]
    total = 0.0
    for i in range(n):
        name, seconds = takes[i % len(takes)]
        rows.append(f"{name},{i},line_{i:05d}")
        total += seconds
    manifest = folder / "lines.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest, total


def start_ray(workers: int) -> float:
    import ray

    import vasa_bridge
    code = str(Path(vasa_bridge.__file__).resolve().parents[1])  # this checkout in every worker
    env = {"PYTHONPATH": code, "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    return time.perf_counter() - t


def blas_threads() -> int:
    """This process's BLAS threads (numpy's OpenBLAS): a new worker's default, as the same
    environment and CPUs decide both."""
    import numpy  # noqa: F401  (loads it)
    from threadpoolctl import threadpool_info
    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=0)


def warm_blas_default(*args) -> None:
    """The pool's initializer, with this worker's BLAS threads put back to their default after
    it (mode pool-blas). A spawned worker finds it here: the bench script is its __main__."""
    from threadpoolctl import threadpool_limits

    from vasa_bridge.bake import workers
    default = blas_threads()
    workers.warm(*args)
    threadpool_limits(limits=default, user_api="blas")


def cpu_seconds(children: bool = True) -> float:
    """CPU time of this process and its finished children (a pool's workers, once shut down)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + (kids.ru_utime + kids.ru_stime if children else 0.0)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of every live descendant of `pid` (with the children each has reaped): Ray's
    daemons and workers, which this process's rusage does not see."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])  # ppid
        times[int(entry.name)] = sum(int(v) for v in fields[11:15]) / tick  # u, s, cu, cs
    total, todo = 0.0, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent:
                total += times[child]
                todo.append(child)
    return total


def outputs(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.json"))}


def measure(mode: str, lines: list, out: Path, audio_s: float, args, run_batch,
            BatchConfig) -> dict:
    """One forced batch in one mode, into `out`; Ray's start-up timed apart."""
    workers = 1 if mode == "1" else args.workers
    config = BatchConfig(formats=("npz", "json"), force=True, workers=workers,
                         ray="auto" if mode == "ray" else None)
    row = {"workers": workers}
    if mode == "ray":  # a fresh cluster each time: its workers start cold, as the pool's do
        row["ray_init_s"] = round(start_ray(workers), 2)
    from vasa_bridge.bake import workers as bake_workers
    bake_workers._DENOISERS.clear()  # one worker loads its model in each run, as the others do
    cpu0, driver0 = cpu_seconds(), cpu_seconds(children=False)
    ray0 = tree_cpu_seconds(os.getpid()) if mode == "ray" else 0.0
    with mock.patch.object(bake_workers, "warm",
                           warm_blas_default if mode == "pool-blas" else bake_workers.warm):
        result = run_batch(lines, out, config, progress=False)
    cpu, driver = cpu_seconds() - cpu0, cpu_seconds(children=False) - driver0
    if mode == "ray":
        import ray
        cpu = driver + tree_cpu_seconds(os.getpid()) - ray0  # driver + Ray's processes
        ray.shutdown()
    assert not result.failed, result.failed[:3]
    wall = result.seconds
    row.update(wall_s=round(wall, 2), lines_per_min=round(len(lines) / wall * 60, 1),
               x_real_time=round(audio_s / wall, 1),
               wall_x_workers_s_per_line=round(wall * workers / len(lines), 4))
    row["cpu_s_per_line"] = round(cpu / len(lines), 4)
    if mode != "1":  # the driver alone: hashing, sending, writing (what caps a big cluster)
        row["driver_cpu_s_per_line"] = round(driver / len(lines), 5)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200, help="voice lines (default 200)")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of a line (default 3)")
    ap.add_argument("--workers", type=int, default=2, help="pool size and Ray CPUs (default 2)")
    ap.add_argument("--modes", default="1,pool,ray",
                    help="any of 1, pool, ray, pool-blas (the pool with OpenBLAS's default "
                         "threads in each worker: the baseline of pool)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds over the modes; the fastest of each mode is reported "
                         "(a shared machine's load comes and goes)")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()

    from vasa_bridge.bake import BatchConfig, read_manifest, run_batch

    modes = [m.strip() for m in args.modes.split(",")]
    report = {"lines": args.lines, "workers": args.workers, "cpus": os.cpu_count(),
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
              "blas_threads_default": blas_threads(), "modes": {}}
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        manifest, audio_s = make_lines(tmp, args.lines, args.seconds)
        lines = read_manifest(manifest)
        report["audio_s"] = round(audio_s, 1)
        print(f"{args.lines} lines, {audio_s / args.lines:.2f} s each on average, "
              f"{audio_s / 60:.1f} min of speech; {os.cpu_count()} CPUs; BLAS threads by "
              f"default {report['blas_threads_default']}")
        reference = None
        for round_ in range(args.repeat):  # interleaved, so a busy spell hits every mode
            for mode in modes:
                row = measure(mode, lines, tmp / f"out_{mode}", audio_s, args, run_batch,
                              BatchConfig)
                same = outputs(tmp / f"out_{mode}")
                reference = reference or same
                row["same_tracks_as_first_mode"] = same == reference
                best = report["modes"].get(mode)
                if best is None or row["wall_s"] < best["wall_s"]:
                    report["modes"][mode] = row
                print(f"{mode:>4}: {row['workers']} worker(s) {row['wall_s']:7.2f} s  "
                      f"{row['lines_per_min']:8.1f} lines/min  {row['x_real_time']:6.1f}x real "
                      f"time  {row['wall_x_workers_s_per_line'] * 1000:6.1f} wall-ms x "
                      f"workers/line  "
                      + (f"{row['cpu_s_per_line'] * 1000:5.1f} CPU-ms/line  "
                         if "cpu_s_per_line" in row else "")
                      + (f"driver {row['driver_cpu_s_per_line'] * 1000:4.1f} CPU-ms/line  "
                         if "driver_cpu_s_per_line" in row else "")
                      + f"same tracks: {row['same_tracks_as_first_mode']}"
                      + (f"  (ray.init {row['ray_init_s']} s, not counted)" if mode == "ray"
                         else ""))
    if args.repeat > 1:
        print(f"best of {args.repeat} per mode:")
        for mode, row in report["modes"].items():
            print(f"{mode:>4}: {row['wall_s']:7.2f} s  {row['lines_per_min']:8.1f} lines/min  "
                  f"{row['x_real_time']:6.1f}x real time")
    m = report["modes"]
    if "1" in m:
        ok = m["1"]["x_real_time"] >= 20
        print(f"one worker: {m['1']['x_real_time']}x real time (target >= 20x: "
              f"{'met' if ok else 'MISSED'})")
    if "pool" in m and "ray" in m:
        overhead = m["ray"]["wall_s"] / m["pool"]["wall_s"] - 1
        cpu_overhead = m["ray"]["cpu_s_per_line"] / m["pool"]["cpu_s_per_line"] - 1
        report["ray_overhead_vs_pool"] = round(overhead, 3)
        report["ray_cpu_overhead_vs_pool"] = round(cpu_overhead, 3)
        print(f"Ray vs pool ({args.workers} workers each): {overhead * 100:+.1f} % wall time, "
              f"{cpu_overhead * 100:+.1f} % CPU time (target <= +10 %: "
              f"{'met' if max(overhead, cpu_overhead) <= 0.10 else 'MISSED'})")
    if "pool" in m and "pool-blas" in m:
        wall = m["pool"]["wall_s"] / m["pool-blas"]["wall_s"]
        cpu = m["pool"]["cpu_s_per_line"] / m["pool-blas"]["cpu_s_per_line"]
        report["pool_vs_pool_blas"] = {"wall": round(wall, 3), "cpu": round(cpu, 3)}
        print(f"one BLAS thread per worker vs {report['blas_threads_default']} (pool / pool-blas, "
              f"{args.workers} workers, best of {args.repeat}): wall x{wall:.3f}, CPU x{cpu:.3f}")
    if "1" in m:
        per_line = m["1"]["cpu_s_per_line"]
        print(f"100,000 lines at {per_line * 1000:.0f} CPU-ms each (1 worker's CPU time): "
              f"{100_000 * per_line / 3600:.1f} CPU-hours; e.g. "
              + ", ".join(f"{n} workers {100_000 * per_line / n / 60:.1f} min"
                          for n in (16, 64, 256)) + " (perfect scaling)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
