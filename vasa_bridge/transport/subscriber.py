"""The subscriber: connects a SUB socket, decodes wire-v1 messages, counts what it sees.

Bad messages are counted by reason and skipped (the first few are logged), never raised: one bad
sender must not take a consumer down. Bad means refused by the decoder (malformed, unknown
version, too large) or, for motion, values a MotionFrame refuses (a coefficient outside [0, 1], a
NaN head angle). Gaps in `seq` count lost messages; `seq` going back means the publisher
restarted, which is counted too and starts a new sequence. `on_drop` and `on_restart` hear about
each as it happens. With `curve` (a `curve.ClientCurve`) it connects to a CURVE-secured publisher.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import zmq

from ..errors import MessageTooLarge, ProtocolError, TransportError, VersionError
from ..protocol import wire
from .endpoints import DEFAULT_PUB

log = logging.getLogger(__name__)
_LOGGED_ERRORS = 5


@dataclass(frozen=True)
class SubscriberConfig:
    endpoint: str = DEFAULT_PUB  # where to connect
    kinds: tuple[str, ...] = ()  # () = every kind
    stream: str | None = None  # None = every stream
    rcvhwm: int = 1000  # messages queued here before ZeroMQ drops
    max_bytes: int = wire.MAX_MESSAGE_BYTES  # decode cap per message
    curve: Any = field(default=None, repr=False)  # curve.ClientCurve for a secured publisher


@dataclass
class SubscriberStats:
    received: Counter = field(default_factory=Counter)  # decoded messages per kind
    lost: Counter = field(default_factory=Counter)  # seq gaps per kind (messages never seen)
    restarts: int = 0  # times a stream's seq went back (publisher restarted)
    dropped: Counter = field(default_factory=Counter)  # reason -> messages dropped
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=10000))  # recv - sent

    @property
    def malformed(self) -> int:
        """Messages dropped, every reason together."""
        return sum(self.dropped.values())

    def as_dict(self) -> dict:
        lat = sorted(self.latency_ms)
        pct = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 3)) if lat else \
            (lambda q: None)
        return {"received": dict(self.received), "lost": dict(self.lost),
                "restarts": self.restarts, "malformed": self.malformed,
                "dropped": dict(self.dropped),
                "latency_ms_p50": pct(0.5), "latency_ms_p95": pct(0.95)}


def drop_reason(error: ProtocolError) -> str:
    """The category a dropped message is counted under."""
    if isinstance(error, VersionError):
        return "version"
    if isinstance(error, MessageTooLarge):
        return "too_large"
    return "malformed"


class Subscriber:
    """Receives and decodes. Not thread-safe (use it from one thread). A context manager.

    on_drop(reason, error) runs for each message dropped (with no on_drop, the first few drops
    are logged); on_restart(kind, stream, last_seq, seq) each time a stream's seq goes back. Both
    run on the receiving thread, inside recv()."""

    def __init__(self, config: SubscriberConfig = SubscriberConfig(), *,
                 context: zmq.Context | None = None,
                 wall_clock: Callable[[], int] = time.time_ns,
                 on_drop: Callable[[str, ProtocolError], None] | None = None,
                 on_restart: Callable[[str, str, int, int], None] | None = None) -> None:
        self.config = config
        self._on_drop = on_drop
        self._on_restart = on_restart
        self._wall = wall_clock
        self._ctx = context or zmq.Context.instance()
        sock = self._ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, config.rcvhwm)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, config.max_bytes + wire.MAX_HEADER_BYTES + 1024)
        for prefix in _prefixes(config.kinds, config.stream):
            sock.setsockopt(zmq.SUBSCRIBE, prefix)
        if config.curve is not None:
            from .curve import secure_client
            secure_client(sock, config.curve)
        try:
            sock.connect(config.endpoint)
        except zmq.ZMQError as e:
            sock.close(0)
            raise TransportError(f"cannot connect subscriber to {config.endpoint!r}: {e}") \
                from None
        self._sock = sock
        self._last_seq: dict[tuple[str, str], int] = {}
        self.stats = SubscriberStats()
        self._closed = False

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close(0)

    def recv(self, timeout_ms: int | None = None) -> wire.Message | None:
        """The next well-formed message, or None when `timeout_ms` passes first."""
        if self._closed:
            raise TransportError("subscriber is closed: create a new Subscriber to receive")
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while True:
            wait = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self._sock.poll(wait):
                return None
            parts = self._sock.recv_multipart(copy=True)
            try:
                msg = wire.decode(parts, max_bytes=self.config.max_bytes)
            except ProtocolError as e:
                self._drop(drop_reason(e), e)
                continue
            if msg.kind == "motion":
                try:
                    msg.motion_frame()  # values in range and finite: what every consumer needs
                except ProtocolError as e:
                    self._drop("bad_values", e)
                    continue
            self._account(msg)
            return msg

    def _drop(self, reason: str, error: ProtocolError) -> None:
        self.stats.dropped[reason] += 1
        if self._on_drop is not None:
            self._on_drop(reason, error)
        elif self.stats.malformed <= _LOGGED_ERRORS:
            log.warning("dropped a %s message: %s", reason, ascii(str(error))[1:-1])

    def messages(self, timeout_ms: int | None = None) -> Iterator[wire.Message]:
        """Messages until `timeout_ms` passes without one."""
        while (msg := self.recv(timeout_ms)) is not None:
            yield msg

    def _account(self, msg: wire.Message) -> None:
        self.stats.received[msg.kind] += 1
        self.stats.latency_ms.append((self._wall() - msg.sent) / 1e6)
        key = (msg.kind, msg.stream)
        last = self._last_seq.get(key)
        if last is not None:
            if msg.seq > last + 1:
                self.stats.lost[msg.kind] += msg.seq - last - 1
            elif msg.seq <= last:
                self.stats.restarts += 1
                if self._on_restart is not None:
                    self._on_restart(msg.kind, msg.stream, last, msg.seq)
        self._last_seq[key] = msg.seq


def _prefixes(kinds: Sequence[str], stream: str | None) -> list[bytes]:
    for k in kinds:
        if k not in wire.KINDS:
            raise TransportError(f"unknown topic kind {k!r}: expected some of {list(wire.KINDS)}")
    if not kinds:
        if stream is None:
            return [b""]
        kinds = wire.KINDS
    return [wire.subscription(k, stream if k != "hello" else None) for k in kinds]
