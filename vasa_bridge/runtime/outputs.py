"""Motion sinks for VTuber apps, and the CLI options that build them.

A sink takes one `MotionFrame` per output frame and forwards it somewhere. Every sink:
- is built from a frozen config dataclass and is a context manager;
- `send(frame)` never blocks the caller for long and never raises for network trouble (it counts
  it in `stats` and logs it once); calling it after `close()` is refused;
- `close()` is idempotent and joins any worker thread;
- `stats` is a dict with at least `frames` (send calls), `sent` and `errors`.

`replay` and `serve` wire them in with:

    outputs.add_cli_options(parser)          # when building the parser
    sinks = outputs.sinks_from_args(args)    # then sink.send(frame) per frame, sink.close() at the end
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, TransportError

if TYPE_CHECKING:  # pragma: no cover
    from ..motion.frame import MotionFrame

log = logging.getLogger("vasa_bridge.outputs")

DEFAULT_VMC = "127.0.0.1:39539"
DEFAULT_VTS = "ws://localhost:8001"
_FILE_SUFFIXES = (".npz", ".json", ".vasatrack", ".vasab", ".csv", ".wav", ".png", ".jpg", ".jpeg", ".webp")


class MotionSink:
    """Base of every motion sink: lifecycle and counters. Subclasses implement `_send`/`_close`."""

    name = "sink"

    def __init__(self) -> None:
        self.stats: dict = {"frames": 0, "sent": 0, "errors": 0}
        self._closed = False

    def send(self, frame: "MotionFrame") -> None:
        if self._closed:
            raise TransportError(f"{self.name} sink is closed: send() was called after close()")
        self.stats["frames"] += 1
        self._send(frame)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, frame: "MotionFrame") -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def default_token_path() -> Path:
    """Where the VTube Studio plugin token is kept between runs (the user's config directory)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "vasa_bridge" / "vts_token.txt"


def parse_host_port(text: str, default_port: int = 39539) -> tuple[str, int]:
    """'HOST:PORT', 'HOST', ':PORT' or '[v6]:PORT' -> (host, port)."""
    host, port = text, str(default_port)
    if text.startswith("["):  # [::1]:39539
        end = text.find("]")
        host, rest = text[1:end], text[end + 1:]
        port = rest[1:] if rest.startswith(":") else port
    elif text.count(":") == 1:
        host, port = text.split(":")
    host = host or "127.0.0.1"
    try:
        p = int(port)
    except ValueError:
        p = -1
    # `replay --vmc talk.npz` would otherwise send to a host named "talk.npz".
    looks_like_file = "/" in host or "\\" in host or host.lower().endswith(_FILE_SUFFIXES)
    if not 1 <= p <= 65535 or looks_like_file or any(c.isspace() for c in host):
        raise ConfigError(f"--vmc is {text!r}: expected HOST:PORT such as {DEFAULT_VMC} "
                          f"(write --vmc=HOST:PORT when a positional argument follows)")
    return host, p


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    """Add --vmc/--vts and their options to a subcommand's parser."""
    from .vmc import NAME_SETS

    g = parser.add_argument_group("VTuber apps (docs/vtuber.md)")
    g.add_argument("--vmc", nargs="?", const=DEFAULT_VMC, default=None, metavar="HOST:PORT",
                   help=f"send motion over the VMC protocol (default {DEFAULT_VMC})")
    g.add_argument("--vmc-names", choices=NAME_SETS, default="arkit",
                   help="blendshape names: Perfect Sync (arkit), VRM 0.x presets, or both")
    g.add_argument("--vmc-unbundled", action="store_true",
                   help="one UDP datagram per OSC message instead of one bundle per frame")
    g.add_argument("--vmc-max-datagram", type=int, default=65000, metavar="BYTES",
                   help="split a frame into several bundles above this size (1400 avoids IP "
                        "fragmentation on a network)")
    g.add_argument("--vts", nargs="?", const=DEFAULT_VTS, default=None, metavar="URL",
                   help=f"drive VTube Studio as a plugin (default {DEFAULT_VTS})")
    g.add_argument("--vts-token-file", type=Path, default=None, metavar="PATH",
                   help=f"where the plugin token is kept (default {default_token_path()})")
    g.add_argument("--vts-custom-params", action="store_true",
                   help="also create and feed 52 custom parameters VasaJawOpen, ... (0..1)")
    g.add_argument("--vts-mirror", action="store_true",
                   help="mirror left/right (head yaw and roll, eyes) for VTube Studio")


def sinks_from_args(args: argparse.Namespace) -> list[MotionSink]:
    """Build the sinks the parsed options ask for (none when neither --vmc nor --vts is given)."""
    from .vmc import VmcConfig, VmcSender
    from .vts import VtsConfig, VtsPlugin

    sinks: list[MotionSink] = []
    try:
        if getattr(args, "vmc", None):
            host, port = parse_host_port(args.vmc)
            cfg = VmcConfig(host=host, port=port, names=args.vmc_names,
                            bundled=not args.vmc_unbundled, max_datagram=args.vmc_max_datagram)
            log.info("VMC: %s", cfg)
            sinks.append(VmcSender(cfg))
        if getattr(args, "vts", None):
            url = args.vts
            if not url.startswith(("ws://", "wss://")):
                raise ConfigError(f"--vts is {url!r}: expected a WebSocket URL such as "
                                  f"{DEFAULT_VTS} (write --vts=URL when a positional argument "
                                  f"follows)")
            cfg = VtsConfig(url=url, token_path=args.vts_token_file or default_token_path(),
                            custom_parameters=args.vts_custom_params, mirror=args.vts_mirror)
            log.info("VTube Studio: %s", cfg)
            sinks.append(VtsPlugin(cfg))
    except BaseException:
        for s in sinks:
            s.close()
        raise
    return sinks
