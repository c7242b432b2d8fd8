"""The batch half of `vasa-bridge bake` (`--manifest`): its options, and the command, which prints
the resolved config, calls `run_batch`, lists failed lines one per line and sums up.
Exit status: 0 when every line was baked or skipped, 1 when any line failed."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..errors import ConfigError
from .common import counted

EXIT_LINES_FAILED = 1
SHOWN_FAILURES = 50  # the rest are in results.csv


def add_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("batch (with --manifest)")
    g.add_argument("--formats", default="npz",
                   help="outputs per line, comma-separated: npz, json, csv, vasatrack, vasab "
                        "(the last two for Unity; default npz)")
    g.add_argument("--workers", type=int, default=1,
                   help="processes on this machine, each loading the model once (default 1); "
                        "with --ray auto, the CPUs of a local Ray")
    g.add_argument("--ray", metavar="auto|ADDRESS",
                   help="bake on Ray: auto (a running cluster, else a local one) or a cluster "
                        "address; needs pip install 'vasa-bridge[ray]'")
    g.add_argument("--chunk", type=int, default=0, help="lines per task (default: automatic)")
    g.add_argument("--force", action="store_true",
                   help="bake every line again, even those whose inputs are unchanged")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def refuse_batch_options(args) -> None:
    """Batch options given without --manifest are a mistake worth saying."""
    given = [name for name, default in (("formats", "npz"), ("workers", 1), ("ray", None),
                                        ("chunk", 0), ("force", False), ("no_progress", False))
             if getattr(args, name) != default]
    if given:
        raise ConfigError(f"--{given[0].replace('_', '-')} is a batch option: expected it with "
                          f"--manifest, not --audio")


def cmd_batch(args, bake_config, show) -> int:
    """`show(name, fields)` prints the resolved config; None: a line of what the batch does."""
    from ..bake.batch import BatchConfig, run_batch
    from ..bake.manifest import read_manifest

    config = BatchConfig(bake=bake_config, formats=tuple(args.formats.split(",")),
                         workers=args.workers, ray=args.ray, chunk=args.chunk, force=args.force)
    lines = read_manifest(args.manifest)
    if show is not None:
        show("bake", {"manifest": args.manifest, "lines": len(lines), "out": args.output,
                      **dataclasses.asdict(config)})
    else:
        print(f"[bake] {args.manifest}: {counted(len(lines), 'line')} -> {args.output} "
              f"({counted(config.workers, 'worker')}{', on Ray' if config.ray else ''})",
              file=sys.stderr)
    result = run_batch(lines, args.output, config, progress=not args.no_progress)
    for r in result.failed[:SHOWN_FAILURES]:
        print(f"[bake] line {r.line} ({r.audio or 'no audio'}): {r.error}", file=sys.stderr)
    if len(result.failed) > SHOWN_FAILURES:
        print(f"[bake] ... and {len(result.failed) - SHOWN_FAILURES} more failed lines: see "
              f"{result.results_path}", file=sys.stderr)
    minutes = result.seconds / 60
    done = result.count("done")
    rate = f", {done / minutes:.0f} lines/min, {result.baked_audio_s / result.seconds:.0f}x " \
           f"real time" if done and result.seconds > 0 else ""
    print(f"[bake] {done} done, {result.count('skipped')} skipped, {len(result.failed)} failed "
          f"in {result.seconds:.1f} s{rate}; results in {result.results_path}", file=sys.stderr)
    return EXIT_LINES_FAILED if result.failed else 0
