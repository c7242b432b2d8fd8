"""Motion sinks for VTuber apps.

A sink takes one `MotionFrame` per output frame and forwards it somewhere. Every sink:
- is built from a frozen config dataclass and is a context manager;
- `send(frame)` never blocks the caller for long and never raises for network trouble (it counts
  it in `stats` and logs it once); calling it after `close()` is refused;
- `close()` is idempotent and joins any worker thread;
- `stats` is a dict with at least `frames` (send calls), `sent` and `errors`.

The CLI builds them from its options (`vasa_bridge.cli.options.sinks_from_args`); then
`sink.send(frame)` per frame and `sink.close()` at the end.
"""

from __future__ import annotations

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
