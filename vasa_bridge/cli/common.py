"""What every command shares: the error exit status, how log lines read, printing a resolved
config, and a stop event for Ctrl-C and SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import signal
import sys
import threading

EXIT_ERROR = 2  # a VasaError (bad input, a missing file): one line on stderr


def bounded(convert, ok, expected: str):
    """An argparse type: `convert` the text (int, float), keep the value where `ok(value)`,
    else refuse it as not `expected` ("a whole number 0..2^63-1")."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {expected}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} is not {expected}")
        return value
    return parse


positive_int = bounded(int, lambda v: v > 0, "a positive integer")
positive_seconds = bounded(float, lambda v: 0 < v < math.inf,
                           "a positive, finite number of seconds")
non_negative = bounded(float, lambda v: 0 <= v < math.inf, "a finite number >= 0")
seed_value = bounded(int, lambda v: 0 <= v < 2 ** 63, "a whole number 0..2^63-1")


def add_verbose(parser: argparse.ArgumentParser, what: str = "the resolved config") -> None:
    """`-v/--verbose` after the command too (`vasa-bridge bake -v`, as `vasa-bridge -v bake`)."""
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help=f"also print {what} and our info messages")


def is_verbose(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verbose", False))


class UserFormatter(logging.Formatter):
    """Log lines for a user: info as plain text, the rest after their level in lowercase
    ("warning: audio file 'a.wav' is silent ..."). --verbose keeps the logger's name instead
    (`VERBOSE_FORMAT`), for debugging."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


VERBOSE_FORMAT = "%(levelname)s %(name)s: %(message)s"


class ConsoleHandler(logging.StreamHandler):
    """stderr, a line per record; a progress bar (tqdm) on the terminal is cleared for the line
    and drawn again below it, so the two never run together on one line."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm = sys.modules.get("tqdm")  # not imported yet: no bar is showing
        if tqdm is None:
            super().emit(record)
            return
        try:
            tqdm.tqdm.write(self.format(record), file=self.stream)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def counted(n: int, noun: str) -> str:
    """`n` and `noun`, plural unless one: "1 line", "3 lines" (regular nouns only)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def show(name: str, config) -> None:
    """Print a resolved config (a dataclass or a dict) as `[name] key=value ...` on stderr."""
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    print(f"[{name}] " + " ".join(f"{k}={v}" for k, v in fields.items()), file=sys.stderr)


def show_json(name: str, config) -> None:
    """Print a resolved config as `[name] {json}` on stderr (the model commands: nested configs)."""
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    print(f"[{name}] " + json.dumps(fields, default=str), file=sys.stderr, flush=True)


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so long-running commands shut down cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
