"""The publisher: one ZeroMQ PUB socket that never blocks its caller.

- motion, audio, event and hello are sent at once from the calling thread (non-blocking);
- frames are sent the same way, or, with `latest_only_frames`, handed to a sender thread through
  a one-slot mailbox: a frame that is still waiting when a newer one arrives is dropped and
  counted, so a slow encoder or a burst never queues stale pictures;
- PUB drops silently at each subscriber's high-water mark; with `nodrop=True` the socket is an
  XPUB with ZMQ_XPUB_NODROP, so a full subscriber makes the send fail (non-blocking) and the drop is
  counted here instead. That protects counting, at the price that one stalled subscriber costs
  every subscriber those messages; leave it off for live use.

With `curve` (a `curve.ServerCurve`) the socket is a CURVE server: traffic is encrypted and only
subscribers whose public key is allowed get anything (docs/protocol.md, Security).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import zmq

from .. import __version__
from ..errors import TransportError
from ..motion.frame import MotionFrame
from ..protocol import wire
from .curve import bind_server
from .endpoints import DEFAULT_PUB, describe_bind

HELLO_INTERVAL_S = 1.0
_MORE = int(zmq.NOBLOCK) | int(zmq.SNDMORE)
_LAST = int(zmq.NOBLOCK)


@dataclass(frozen=True)
class PublisherConfig:
    endpoint: str = DEFAULT_PUB  # where the PUB socket binds
    sndhwm: int = 1000  # messages queued per subscriber before ZeroMQ drops
    latest_only_frames: bool = False  # frames through a one-slot mailbox + sender thread
    nodrop: bool = False  # XPUB_NODROP: count drops at the publisher (see module doc)
    linger_ms: int = 200  # how long close() lets queued messages leave
    capabilities: tuple[str, ...] = ("motion", "frame", "audio", "event")
    publisher_name: str = f"vasa-bridge {__version__}"
    extra_hello: tuple[tuple[str, object], ...] = ()  # more hello keys, e.g. (("fps", 25),)
    curve: Any = field(default=None, repr=False)  # curve.ServerCurve: encrypted, allowed keys only


@dataclass
class PublisherStats:
    sent: Counter = field(default_factory=Counter)  # messages sent per kind
    bytes: Counter = field(default_factory=Counter)  # bytes sent per kind
    dropped: Counter = field(default_factory=Counter)  # messages dropped per kind

    def as_dict(self) -> dict:
        return {"sent": dict(self.sent), "bytes": dict(self.bytes), "dropped": dict(self.dropped)}


class Publisher:
    """Publishes wire-v1 messages. Thread-safe; a context manager; `close()` joins its thread."""

    def __init__(self, config: PublisherConfig = PublisherConfig(), *,
                 context: zmq.Context | None = None,
                 wall_clock: Callable[[], int] = time.time_ns) -> None:
        self.config = config
        self._wall = wall_clock
        self._ctx = context or zmq.Context.instance()
        # XPUB sends exactly like PUB, and also tells us when subscribers (un)subscribe.
        sock = self._ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        sock.setsockopt(zmq.SNDHWM, config.sndhwm)
        sock.setsockopt(zmq.LINGER, config.linger_ms)
        if config.nodrop:
            sock.setsockopt(zmq.XPUB_NODROP, 1)
        self._zap = bind_server(sock, config.endpoint, config.curve, self._ctx, "publisher",
                                describe_bind(config.endpoint))
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT) or config.endpoint
        self._sock = sock
        self._lock = threading.Lock()
        self._seq: Counter = Counter()
        self._streams: list[str] = []
        self.stats = PublisherStats()
        self._last_hello = float("-inf")
        self.subscriptions = 0  # subscribe messages seen, minus unsubscribes
        self._closed = False
        self._mailbox: dict[str, list[bytes]] = {}
        self._mail_cv = threading.Condition()
        self._thread: threading.Thread | None = None
        if config.latest_only_frames:
            self._thread = threading.Thread(target=self._frame_sender, name="vasa-frame-sender",
                                            daemon=True)
            self._thread.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._mail_cv:
            self._mail_cv.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._sock.close()
        if self._zap is not None:
            self._zap.release()

    def _check_open(self) -> None:
        if self._closed:
            raise TransportError("publisher is closed: create a new Publisher to send again")

    # -- sending -----------------------------------------------------------------------------

    def _next_seq(self, kind: str, stream: str) -> int:
        """Call with the lock held."""
        key = (kind, stream)
        seq = self._seq[key]
        self._seq[key] = seq + 1
        if kind != "hello" and stream not in self._streams:
            self._streams.append(stream)
        return seq

    def _drain_subscriptions(self) -> None:
        with self._lock:
            while self._sock.poll(0, zmq.POLLIN):
                msg = self._sock.recv()
                if msg[:1] == b"\x01":
                    self.subscriptions += 1
                elif msg[:1] == b"\x00":
                    self.subscriptions = max(0, self.subscriptions - 1)

    def wait_for_subscribers(self, n: int = 1, timeout_s: float = 10.0,
                             stop: threading.Event | None = None) -> bool:
        """Block until `n` subscriptions have arrived (each SUB sends one per topic prefix), so
        a short clip is not half over before a consumer that connected early is subscribed.
        Returns False on timeout, or at once when `stop` is set (Ctrl-C)."""
        deadline = time.monotonic() + timeout_s
        stop = stop or threading.Event()
        while True:
            self._drain_subscriptions()
            if self.subscriptions >= n:
                return True
            if time.monotonic() >= deadline or stop.wait(0.01):
                return False

    def _publish(self, kind: str, stream: str, encode: Callable[[int, int], list]) -> bool:
        """Number, encode and send one message under the lock, so seq order is wire order."""
        self._check_open()
        with self._lock:
            parts = encode(self._next_seq(kind, stream), self._wall())
            return self._send_locked(kind, parts)

    def _send_locked(self, kind: str, parts: list) -> bool:
        sock = self._sock
        try:
            # Three plain sends with int flags: send_multipart's per-frame enum arithmetic costs
            # more than the send itself for small messages. copy=True: ZeroMQ copies the payload
            # once, so the caller may reuse its buffers at once.
            sock.send(parts[0], _MORE)
            sock.send(parts[1], _MORE)
            sock.send(parts[2], _LAST)
        except zmq.Again:
            self.stats.dropped[kind] += 1
            return False
        self.stats.sent[kind] += 1
        self.stats.bytes[kind] += len(parts[0]) + len(parts[1]) + len(parts[2])
        return True

    def add_stream(self, stream: str) -> None:
        """Announce a stream in hello before it has sent anything."""
        wire.check_stream(stream)
        if stream not in self._streams:
            self._streams.append(stream)

    @property
    def streams(self) -> list[str]:
        return list(self._streams)

    def motion(self, frame: MotionFrame, *, pts: int, stream: str = wire.DEFAULT_STREAM,
               extra: dict | None = None) -> bool:
        return self._publish("motion", stream, lambda seq, sent: wire.encode_motion(
            frame, stream=stream, seq=seq, pts=pts, sent=sent, extra=extra))

    def audio(self, samples: np.ndarray, *, pts: int, rate: int, stream: str = wire.DEFAULT_STREAM,
              format: str = "s16") -> bool:
        return self._publish("audio", stream, lambda seq, sent: wire.encode_audio(
            samples, stream=stream, seq=seq, pts=pts, sent=sent, rate=rate, format=format))

    def event(self, name: str, *, pts: int, stream: str = wire.DEFAULT_STREAM,
              message: str | None = None, data: dict | None = None) -> bool:
        return self._publish("event", stream, lambda seq, sent: wire.encode_event(
            name, stream=stream, seq=seq, pts=pts, sent=sent, message=message, data=data))

    def frame(self, image: np.ndarray, *, pts: int, stream: str = wire.DEFAULT_STREAM,
              format: str = "rgba8", alpha: str = "straight") -> bool:
        """Send (or, latest-only, post) one image. Returns False when it was dropped."""
        if self._thread is None:
            return self._publish("frame", stream, lambda seq, sent: wire.encode_frame(
                image, stream=stream, seq=seq, pts=pts, sent=sent, format=format, alpha=alpha))
        self._check_open()
        with self._lock:
            seq = self._next_seq("frame", stream)
        parts = wire.encode_frame(image, stream=stream, seq=seq, pts=pts, sent=self._wall(),
                                  format=format, alpha=alpha)
        parts[2] = bytes(parts[2])  # it waits in the mailbox: the caller may reuse its image
        with self._mail_cv:
            if stream in self._mailbox:
                self.stats.dropped["frame"] += 1  # the older frame never left: newest wins
            self._mailbox[stream] = parts
            self._mail_cv.notify()
        return True

    def hello(self, *, pts: int = 0, force: bool = False) -> bool:
        """Send the heartbeat if a second has passed since the last one (or `force`)."""
        now = time.monotonic()
        if not force and now - self._last_hello < HELLO_INTERVAL_S:
            return False
        self._last_hello = now
        return self._publish("hello", "", lambda seq, sent: wire.encode_hello(
            seq=seq, pts=pts, sent=sent, streams=self._streams,
            capabilities=self.config.capabilities, publisher=self.config.publisher_name,
            extra=dict(self.config.extra_hello)))

    def _frame_sender(self) -> None:
        while True:
            with self._mail_cv:
                while not self._mailbox and not self._closed:
                    self._mail_cv.wait()
                if self._closed:
                    return
                stream = next(iter(self._mailbox))
                parts = self._mailbox.pop(stream)
            with self._lock:
                self._send_locked("frame", parts)

