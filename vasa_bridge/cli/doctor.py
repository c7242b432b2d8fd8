"""`vasa-bridge doctor`: check what is installed and usable."""

from __future__ import annotations

import argparse


def add_cli(subparsers) -> argparse.ArgumentParser:
    d = subparsers.add_parser("doctor", help="check what is installed and usable")
    d.set_defaults(func=run)
    return d


def run(args: argparse.Namespace) -> int:
    from ..doctor import report, run_checks

    text, code = report(run_checks())
    print(text)
    return code
