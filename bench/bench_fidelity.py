"""Fidelity table: render sweeps on each test portrait, re-detect with mediapipe's face mesh,
recover with the geometric solver (calibrated on the rendered rest frame), compare.

    python bench/bench_fidelity.py [--steps 11] [--portraits astronaut biden ...]
                                   [--channels jawOpen pitch ...] [--no-mouth]
                                   [--noise K [--perturb lsb|shift]] [--ref REV] [--json PATH]

`--no-mouth` renders without the mouth layer (`RenderConfig(mouth=False)`): the lips still
part, over the photo's warped inside, so the layer's own effect on re-detection shows.

`--noise K` repeats every sweep K more times with an imperceptible, seeded change to every
frame (`--perturb lsb`: each value +-1; `shift`: the frame moved by up to 0.25 px): the spread
of a channel's figure over the clean run and the K changed ones is the detector's own noise
band (the face mesh regresses the whole face from the whole picture, so any change anywhere
moves every channel a little).

`--ref REV` measures git revision REV too: its tree (`git archive REV`) in a temporary folder,
with this tree's bench/bench_fidelity.py, bench/portraits.py, vasa_bridge/render/fidelity.py
and tests/fixtures/portraits copied in, run in a subprocess with the same options. Both are
printed side by side, per portrait and channel, with the figure each channel is judged by
(correlation for blendshapes, max error in degrees for the pose sweeps): the median over the
runs, the band [min, max], the difference of the medians, and a verdict: "worse" / "better"
only when each tree's median lies outside the other's band, else "noise" (`verdict`). Use
`--noise 6` or more: with fewer runs the bands are too narrow to tell chance from change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.portraits import PORTRAITS, load  # noqa: E402
from vasa_bridge.render import RenderConfig, get_backend  # noqa: E402
from vasa_bridge.render.fidelity import (  # noqa: E402
    PERTURBATIONS, POSE_SWEEPS, SHAPE_SWEEPS, perturbation, run_sweep)

# What the reference tree takes from this one, so both trees run the same measurement.
COPIED = ("bench/bench_fidelity.py", "bench/portraits.py", "vasa_bridge/render/fidelity.py",
          "tests/fixtures/portraits")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=11)
    ap.add_argument("--portraits", nargs="+", default=list(PORTRAITS), choices=list(PORTRAITS))
    channels = list(SHAPE_SWEEPS) + list(POSE_SWEEPS)
    ap.add_argument("--channels", nargs="+", default=channels, choices=channels)
    ap.add_argument("--no-mouth", action="store_true", help="render without the mouth layer")
    ap.add_argument("--noise", type=int, default=0, metavar="K",
                    help="K more runs of every sweep with an imperceptible change to every frame")
    ap.add_argument("--perturb", default="lsb", choices=PERTURBATIONS,
                    help="the change --noise makes: lsb (+-1 per value) or shift (<= 0.25 px)")
    ap.add_argument("--ref", metavar="REV", help="also measure git revision REV; print both")
    ap.add_argument("--json", type=Path, metavar="PATH", help="write every run's figures here")
    args = ap.parse_args()
    if args.noise < 0:
        ap.error(f"--noise is {args.noise}: expected 0 or more runs")

    ref = measure_revision(args) if args.ref else None
    runs = measure(args, verbose=ref is None)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs} if ref is None else
                                        {"runs": runs, "ref": args.ref, "ref_runs": ref}))
    if ref is None:
        if args.noise:
            print_bands(runs, args)
        print("\nunits: blendshapes 0..1, pose in degrees (+-20 sweeps).")
        return
    print_comparison(ref, runs, args.ref, "this tree")


def measure(args, verbose: bool) -> list[dict]:
    """The clean run and `args.noise` perturbed ones: [{"perturb", "results": {portrait: {ch:
    {"corr", "max_err", "recovered"}}}}]."""
    backend = get_backend("cpu", RenderConfig(mouth=False) if args.no_mouth else RenderConfig())
    runs = [{"perturb": None, "results": {}}]
    runs += [{"perturb": f"{args.perturb}:{k}", "results": {}} for k in range(1, args.noise + 1)]
    for name in args.portraits:
        state = backend.prepare(load(name))
        if verbose:
            print(f"\n== {name}")
            print(f"{'channel':16s} {'corr':>6s} {'max err':>8s} {'err |v|<=10':>11s} "
                  f"{'missed':>6s}  recovered at commanded")
        for k, run in enumerate(runs):
            out = run["results"].setdefault(name, {})
            for ch in args.channels:
                perturb = None
                if k:
                    perturb = perturbation(args.perturb, k * 1_000_003 + zlib.crc32(
                        f"{name}/{ch}".encode()))
                r = run_sweep(backend, state, ch, args.steps, perturb=perturb)
                out[ch] = {"corr": r.correlation, "max_err": r.max_abs_error,
                           "recovered": [None if not np.isfinite(g) else float(g)
                                         for g in r.recovered]}
                if verbose and k == 0:
                    print_row(ch, r)
    return runs


def print_row(ch: str, r) -> None:
    near = np.abs(r.commanded) <= 10
    err10 = np.nanmax(np.abs(r.recovered - r.commanded)[near]) if ch in POSE_SWEEPS else np.nan
    pairs = " ".join(f"{c:g}:{g:.2f}" for c, g in zip(r.commanded, r.recovered))
    print(f"{ch:16s} {r.correlation:6.3f} {r.max_abs_error:8.2f} {err10:11.2f} "
          f"{r.missed:6d}  {pairs}", flush=True)


def figure(ch: str, entry: dict) -> float:
    """The figure a channel is judged by: correlation (higher is better) for blendshapes, max
    error in degrees (lower is better) for the pose sweeps."""
    return entry["max_err"] if ch in POSE_SWEEPS else entry["corr"]


def band(runs: list[dict], name: str, ch: str) -> tuple[float, float, float]:
    """(median, min, max) of the figure over the runs."""
    v = np.array([figure(ch, run["results"][name][ch]) for run in runs])
    return float(np.median(v)), float(v.min()), float(v.max())


def print_bands(runs: list[dict], args) -> None:
    print(f"\nNoise band: the clean run and {args.noise} with --perturb {args.perturb} "
          f"(figure: corr, or max err in degrees for the pose)")
    for name in args.portraits:
        print(f"\n== {name}")
        for ch in args.channels:
            med, lo, hi = band(runs, name, ch)
            clean = figure(ch, runs[0]["results"][name][ch])
            print(f"{ch:16s} clean {clean:7.3f}  median {med:7.3f}  band [{lo:7.3f}, {hi:7.3f}]"
                  f"  width {hi - lo:6.3f}")


def verdict(ch: str, this: tuple[float, float, float], ref: tuple[float, float, float],
            noisy: bool) -> str:
    """"worse" / "better" when each tree's median lies outside the other's band [min, max] on
    the same side; else "noise". For two trees with the same detector noise (K runs each) this
    calls a channel worse or better by chance in ~5% of channels at K = 5 (clean + 4), ~1% at
    K = 7 (a median alone outside the other band: 17% and 7%)."""
    if not noisy:
        return "(no band)"
    (tm, tlo, thi), (rm, rlo, rhi) = this, ref
    sign = -1.0 if ch in POSE_SWEEPS else 1.0  # +1: higher is better
    if tm < rlo and rm > thi:
        return "worse" if sign > 0 else "better"
    if tm > rhi and rm < tlo:
        return "better" if sign > 0 else "worse"
    return "noise"


def print_comparison(ref: list[dict], runs: list[dict], rev: str, label: str) -> None:
    noisy = len(ref) > 1
    counts = {"worse": 0, "better": 0, "noise": 0}
    print(f"\n{label} against {rev}: corr for blendshapes, max err (degrees) for pose; "
          f"median [min, max] over {len(ref)} run(s) each")
    for name in ref[0]["results"]:
        print(f"\n== {name}")
        print(f"{'channel':16s} {rev[:20]:>24s}   {label:>24s}   {'diff':>7s}  verdict")
        for ch in ref[0]["results"][name]:
            rm, rlo, rhi = band(ref, name, ch)
            tm, tlo, thi = band(runs, name, ch)
            v = verdict(ch, (tm, tlo, thi), (rm, rlo, rhi), noisy)
            counts[v] = counts.get(v, 0) + 1
            print(f"{ch:16s} {rm:6.3f} [{rlo:6.3f},{rhi:6.3f}]   {tm:6.3f} [{tlo:6.3f},{thi:6.3f}]"
                  f"   {tm - rm:+7.3f}  {v}", flush=True)
    if noisy:
        print(f"\n{counts['worse']} worse, {counts['better']} better, {counts['noise']} within "
              f"{rev}'s noise band")


def measure_revision(args) -> list[dict]:
    """Run this script with the same options in REV's tree (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="fidelity-ref-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.ref],
                                 capture_output=True, check=False)
        if archive.returncode:
            sys.exit(f"--ref {args.ref}: git archive failed: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        for rel in COPIED:
            src, dst = ROOT / rel, tree / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
        out = Path(tmp) / "ref.json"
        cmd = [sys.executable, str(tree / "bench/bench_fidelity.py"), "--steps", str(args.steps),
               "--portraits", *args.portraits, "--channels", *args.channels,
               "--noise", str(args.noise), "--perturb", args.perturb, "--json", str(out)]
        if args.no_mouth:
            cmd.append("--no-mouth")
        env = dict(os.environ, PYTHONPATH=str(tree))
        print(f"measuring {args.ref} in {tree} ...", flush=True)
        # Its own imports must come from its tree (the venv's editable install points elsewhere).
        where = "import vasa_bridge; print(vasa_bridge.__file__)"
        check = subprocess.run([sys.executable, "-c", where], cwd=tree, env=env,
                               capture_output=True, text=True, check=True)
        if not check.stdout.strip().startswith(str(tree)):
            sys.exit(f"--ref {args.ref}: its tree imports vasa_bridge from {check.stdout.strip()}, "
                     f"expected {tree}")
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"--ref {args.ref}: the run in its tree failed:\n{done.stderr[-2000:]}")
        return json.loads(out.read_text())["runs"]


if __name__ == "__main__":
    main()
