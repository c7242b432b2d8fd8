"""The contract every output meets, and the fan-out that feeds several of them.

A motion sink takes one `MotionFrame` per output frame and forwards it somewhere. Every sink:
- is built from a frozen config dataclass and is a context manager;
- `send(frame)` never blocks the caller for long and never raises for network trouble (it counts
  it in `stats` and logs it once); calling it after `close()` is refused;
- `close()` is idempotent and joins any worker thread;
- `stats` is a dict with at least `frames` (send calls), `sent` and `errors`.

The CLI builds them from its options (`vasa_bridge.cli.options.sinks_from_args`); `serve` and
`replay` hand them to one `FanOut`, which sends every frame to each of them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import TransportError

if TYPE_CHECKING:  # pragma: no cover
    from ..motion.frame import MotionFrame

log = logging.getLogger("vasa_bridge.outputs")


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


class FanOut:
    """Sends each frame to every sink, in order. A sink that raises is isolated: its error is
    counted (`failures[i]` for sink `i`), logged for its first three failures, and returned to
    the caller, and the sinks after it still get the frame. Works for motion sinks
    (`send(frame)`) and picture sinks (`send(image, pts)`) alike: `send` passes its arguments on.
    `close()` closes every sink, even when one of them fails to close."""

    def __init__(self, sinks: Iterable[Any] = ()) -> None:
        self.sinks = list(sinks)
        self.failures = [0] * len(self.sinks)  # errors raised by each sink's send()

    def send(self, *args: Any) -> list[BaseException]:
        """Send to every sink; the errors the failing ones raised (empty when all took it)."""
        errors: list[BaseException] = []
        for i, sink in enumerate(self.sinks):
            try:
                sink.send(*args)
            except Exception as e:  # one broken output must not starve the others
                self.failures[i] += 1
                if self.failures[i] <= 3:
                    log.warning("%s failed: %s: %s", _name(sink), type(e).__name__, e)
                errors.append(e)
        return errors

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:  # close the rest regardless
                log.warning("%s failed to close: %s: %s", _name(sink), type(e).__name__, e)

    def __len__(self) -> int:
        return len(self.sinks)

    def __iter__(self):
        return iter(self.sinks)

    def __enter__(self) -> "FanOut":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _name(sink: Any) -> str:
    return f"output {getattr(sink, 'name', type(sink).__name__)!r}"
