"""The ZeroMQ side of the web server: one thread receives, the asyncio loop serves.

The thread drains everything waiting on the SUB socket, keeps only the newest frame per stream
(a browser that shows 25 fps needs no stale picture), encodes that frame once for all viewers,
and hands the results to the event loop with `loop.call_soon_threadsafe`. Nothing on the loop
ever touches a ZeroMQ socket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq

from ..errors import ProtocolError
from ..protocol import wire
from . import codec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BridgeConfig:
    endpoint: str  # the runtime's data endpoint (SUB connects here)
    codec: codec.CodecConfig = field(default_factory=codec.CodecConfig)
    rcvhwm: int = 200  # messages queued before ZeroMQ drops (frames are ~1 MiB each)
    poll_ms: int = 100  # how often the thread checks its stop event


class Bridge:
    """Receives wire messages on a thread; calls `deliver(kind, stream, item)` on the loop with
    `item` = encoded packet bytes (frame, audio) or a JSON-able dict (motion, event, hello).
    `wanted()` (read on the thread) returns the streams whose frames someone is watching: the
    others are not encoded."""

    def __init__(self, config: BridgeConfig, loop, deliver: Callable[[str, str, object], None],
                 wanted: Callable[[], frozenset], *, context: zmq.Context | None = None) -> None:
        self.config = config
        self._loop = loop
        self._deliver = deliver
        self._wanted = wanted
        self._ctx = context or zmq.Context.instance()
        self.stats = Counter()  # received per kind, frames_encoded, frames_skipped, malformed
        self.encode_ms = 0.0  # total time spent encoding frames
        self.last_message_at: float | None = None  # monotonic time of the last message
        self.restarts = 0  # times the runtime's seq went back (it restarted)
        self._last_seq: dict[tuple[str, str], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vasa-web-sub", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        sock = self._ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, self.config.rcvhwm)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.config.endpoint)
        try:
            while not self._stop.is_set():
                if not sock.poll(self.config.poll_ms):
                    continue
                batch = []
                while len(batch) < 500:  # drain what waits: only the newest frame is encoded
                    try:
                        batch.append(sock.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:
                        break
                self._handle(batch)
        finally:
            sock.close(0)

    def _handle(self, batch: list[list[bytes]]) -> None:
        out: list[tuple[str, str, object]] = []
        newest_frame: dict[str, wire.Message] = {}
        for parts in batch:
            try:
                msg = wire.decode(parts)
            except ProtocolError as e:
                self.stats["malformed"] += 1
                if self.stats["malformed"] <= 5:
                    log.warning("dropped a malformed message: %s", e)
                continue
            self.stats[msg.kind] += 1
            self._check_restart(msg)
            if msg.kind == "frame":
                if msg.stream in newest_frame:
                    self.stats["frames_skipped"] += 1
                newest_frame[msg.stream] = msg
            elif msg.kind == "audio":
                out.append(("audio", msg.stream, codec.audio_packet(msg)))
            elif msg.kind == "motion":
                out.append(("motion", msg.stream, codec.motion_json(msg)))
            elif msg.kind == "event":
                h = msg.header
                out.append(("event", msg.stream, {
                    "type": "event", "stream": msg.stream, "pts": msg.pts, "name": h["name"],
                    "message": h.get("message"), "data": h.get("data")}))
            else:
                h = msg.header
                out.append(("hello", "", {
                    "type": "hello", "streams": list(h["streams"]), "pts": msg.pts,
                    "capabilities": list(h["capabilities"]), "publisher": h["publisher"],
                    "fps": h.get("fps"), "control": h.get("control")}))
        wanted = self._wanted()
        for stream, msg in newest_frame.items():
            if stream not in wanted:
                self.stats["frames_unwatched"] += 1
                out.append(("frame_raw", stream, msg))  # for the watermark check, not encoded
                continue
            t0 = time.perf_counter()
            packet = codec.frame_packet(msg, self.config.codec)
            self.encode_ms += (time.perf_counter() - t0) * 1000
            self.stats["frames_encoded"] += 1
            out.append(("frame", stream, packet))
            out.append(("frame_raw", stream, msg))
        if batch:
            self.last_message_at = time.monotonic()
        if out:
            try:
                self._loop.call_soon_threadsafe(self._deliver_all, out)
            except RuntimeError:  # the loop closed under us: we are shutting down
                self._stop.set()

    def _deliver_all(self, items) -> None:
        for kind, stream, item in items:
            self._deliver(kind, stream, item)

    def _check_restart(self, msg: wire.Message) -> None:
        key = (msg.kind, msg.stream)
        last = self._last_seq.get(key)
        if last is not None and msg.seq <= last and msg.kind == "hello":
            self.restarts += 1
        self._last_seq[key] = msg.seq
