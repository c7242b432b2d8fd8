"""`vasa-bridge listen`: print what arrives on the wire, with rates and latency."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from ..protocol import wire
from .subscriber import Subscriber, SubscriberConfig


@dataclass(frozen=True)
class ListenConfig:
    count: int | None = None  # stop after this many messages; None = until stopped
    json: bool = False  # one decoded header per line instead of a summary line
    idle_timeout_s: float | None = None  # stop after this long without a message
    report_every_s: float = 1.0  # rate line on stderr


def describe(msg: wire.Message) -> str:
    """One human line per message."""
    head = f"{msg.kind:<6} {msg.stream or '-':<10} seq={msg.seq:<6} pts={msg.pts / 1e9:9.3f}s"
    h = msg.header
    if msg.kind == "motion":
        f = msg.motion_frame()
        top = sorted(f.as_dict().items(), key=lambda kv: -kv[1])[:3]
        shapes = " ".join(f"{k}={v:.2f}" for k, v in top)
        pitch, yaw, roll = f.head_rotation
        return f"{head} {shapes} pitch={pitch:.1f} yaw={yaw:.1f} roll={roll:.1f}"
    if msg.kind == "frame":
        return f"{head} {h['width']}x{h['height']} {h['format']} {h['alpha']}"
    if msg.kind == "audio":
        return f"{head} {h['samples']} samples {h['rate']} Hz {h['channels']} ch {h['format']}"
    if msg.kind == "event":
        return f"{head} {h['name']} {h.get('message', '')}".rstrip()
    return f"{head} streams={h['streams']} capabilities={h['capabilities']} {h['publisher']}"


def header_json(msg: wire.Message) -> str:
    doc = {"topic": f"{msg.kind}/{msg.stream}/", **msg.header, "payload_bytes": len(msg.payload)}
    return json.dumps(doc, default=lambda o: f"<{len(o)} bytes>" if isinstance(o, bytes) else
                      str(o), separators=(",", ":"))


def listen(config: SubscriberConfig, options: ListenConfig = ListenConfig(), *,
           out: TextIO = sys.stdout, err: TextIO = sys.stderr,
           stop: threading.Event | None = None,
           clock: Callable[[], float] = time.monotonic) -> dict:
    """Receive and print until `count` messages, the idle timeout, or `stop`. Returns the
    subscriber's statistics plus message rates."""
    stop = stop or threading.Event()
    seen = 0
    t_start = t_report = clock()
    last_msg = t_start
    span: dict[str, list[float]] = {}  # kind -> [first arrival, last arrival]
    with Subscriber(config) as sub:
        while not stop.is_set() and (options.count is None or seen < options.count):
            msg = sub.recv(timeout_ms=100)
            now = clock()
            if msg is None:
                if options.idle_timeout_s is not None and now - last_msg > options.idle_timeout_s:
                    break
                continue
            last_msg = now
            span.setdefault(msg.kind, [now, now])[1] = now
            seen += 1
            print(header_json(msg) if options.json else describe(msg), file=out, flush=True)
            if now - t_report >= options.report_every_s:
                rates = {k: round(v / (now - t_start), 1) for k, v in sub.stats.received.items()}
                print(f"[listen] {seen} messages, per second: {rates}", file=err, flush=True)
                t_report = now
        elapsed = max(clock() - t_start, 1e-9)
        stats = sub.stats.as_dict()
    stats["messages"] = seen
    stats["seconds"] = round(elapsed, 3)
    # Rate between the first and the last arrival of each kind: what the publisher sent at.
    stats["rate_per_s"] = {k: round((stats["received"][k] - 1) / (b - a), 2)
                           for k, (a, b) in span.items() if b > a}
    return stats
