"""`vasa-bridge`: a thin command line, and the only place that reads argparse. One module per
command, each with `add_cli(subparsers)` and a `run(args)` that validates its arguments, prints the
resolved configuration on stderr (the user's commands `serve`, `bake`, `render`: a line of what
they do, the whole configuration with -v), and calls one library function. Errors become one line
and exit code 2 (EXIT_ERROR)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .. import __version__
from ..errors import VasaError
from .common import EXIT_ERROR, VERBOSE_FORMAT, ConsoleHandler, UserFormatter

STARTED = time.monotonic()  # when the command began (serve's ready line counts from here)

__all__ = ["EXIT_ERROR", "STARTED", "build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """argparse's parser, but a mistake is one line (argparse prints the whole usage block above
    it: fifteen lines for `bake`), naming where the options are listed; `vasa-bridge` alone
    prints the help above it."""

    def error(self, message: str):
        if self.prog == "vasa-bridge" and "required: COMMAND" in message:
            self.print_help(sys.stderr)
            self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")
        listed = "commands" if self.prog == "vasa-bridge" else "options"
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (`{self.prog} --help` lists the "
                              f"{listed})\n")


def build_parser() -> argparse.ArgumentParser:
    from . import (data, demo, doctor, keys, listen, model, provenance, render, replay, serve,
                   web)

    p = Parser(prog="vasa-bridge", description=(
        "One portrait plus speech becomes a live talking face: ARKit-52 motion, frames and "
        "audio over ZeroMQ for Unity, OBS and VTuber apps."))
    p.add_argument("--version", action="version", version=f"vasa-bridge {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order of `vasa-bridge --help`.
    for command in (replay, listen, demo, doctor, serve, render, provenance, web, data, model,
                    keys):
        command.add_cli(sub)
    return p


def configure_logging(verbose: bool) -> None:
    """Our own messages at INFO (DEBUG with --verbose); other libraries' only from WARNING up
    (matplotlib's font-cache note and the like) unless --verbose. Lines read "warning: ...",
    with the logger's name under --verbose (common.UserFormatter). Native chatter: native_log."""
    from ..native_log import set_verbose
    set_verbose(verbose)
    console = ConsoleHandler()
    console.setFormatter(logging.Formatter(VERBOSE_FORMAT) if verbose else UserFormatter())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[console])
    logging.getLogger("vasa_bridge").setLevel(logging.DEBUG if verbose else logging.INFO)


def os_error(e: OSError) -> str:
    """An OSError in one line, naming the path: "cannot use 'ro/x.npz': Permission denied"."""
    what = e.strerror or str(e) or type(e).__name__
    if e.filename is None:
        return f"{what} ({type(e).__name__}): expected paths this user can read and write"
    return f"cannot use {str(e.filename)!r}: {what} (expected a path this user can read or " \
           f"write, a file where a file is named and a folder where a folder is)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The package's own clock, set when vasa_bridge.cli is first imported (also under -m).
    args.started = STARTED
    configure_logging(args.verbose)
    try:
        return args.func(args)
    except VasaError as e:
        print(f"vasa-bridge {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:  # a path the system refused: read-only, a folder, /proc, ...
        print(f"vasa-bridge {args.command}: error: {os_error(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
