"""`vasa-bridge listen`: print what arrives on the wire, with rates and latency."""

from __future__ import annotations

import json
import math
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
    drops_shown: int = 5  # dropped messages described on stderr; later ones are only counted


_MAX_SHOWN = 120  # characters of one sender-chosen string
_MAX_DEPTH = 16  # nesting shown by --json; deeper values become a placeholder


def printable(text: str, limit: int = _MAX_SHOWN) -> str:
    """`text` safe for a terminal: control, format and other unprintable characters (escape
    sequences, bidi overrides, line breaks) become \\x.. / \\u.... escapes; cut at `limit`."""
    cut = text[:limit]
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in cut)
    return out + "..." if len(text) > limit else out


def _names(values: list) -> str:
    return ",".join(printable(str(v), 40) for v in values[:8]) + (",..." if len(values) > 8 else "")


def describe(msg: wire.Message) -> str:
    """One human line per message; every string the sender chose is escaped."""
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
        return f"{head} {printable(h['name'])} {printable(h.get('message', ''))}".rstrip()
    return (f"{head} streams={_names(h['streams'])} capabilities={_names(h['capabilities'])} "
            f"{printable(h['publisher'])}")


def _json_safe(value, depth: int = 0):
    """A header value as plain JSON: bytes (values or map keys) as '<N bytes>' / 'b'..'', other
    non-JSON types by their repr, NaN and infinities as strings, deep nesting cut off."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if depth >= _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else printable(repr(k))): _json_safe(v, depth + 1)
                for k, v in value.items()}
    if type(value) in (list, tuple):  # not ExtType, a namedtuple
        return [_json_safe(v, depth + 1) for v in value]
    return printable(repr(value))  # msgpack ExtType, Timestamp


def header_json(msg: wire.Message) -> str:
    """One JSON line: ASCII only (JSON escapes every control and non-ASCII character)."""
    doc = {"topic": f"{msg.kind}/{msg.stream}/", **_json_safe(msg.header),
           "payload_bytes": len(msg.payload)}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def window_rates(received: dict, before: dict, seconds: float) -> dict:
    """Messages per second of each kind between two counts taken `seconds` apart."""
    return {k: round((v - before.get(k, 0)) / max(seconds, 1e-9), 1) for k, v in received.items()}


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
    counted: dict[str, int] = {}  # messages per kind at the last rate line

    def dropped(reason: str, error: Exception) -> None:
        n = sub.stats.malformed
        if n <= options.drops_shown:
            print(f"[listen] dropped a {reason} message: {printable(str(error), 200)}", file=err,
                  flush=True)
            if n == options.drops_shown:
                print("[listen] further drops are only counted", file=err, flush=True)

    def restarted(kind: str, stream: str, last: int, seq: int) -> None:
        print(f"[listen] publisher restarted: {kind}/{stream} seq went back from {last} to {seq}",
              file=err, flush=True)

    with Subscriber(config, on_drop=dropped, on_restart=restarted) as sub:
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
                # rates over the last interval (about a second), not since the start: a stall
                # shows at once (the runtime's picture_level events, printed as they arrive,
                # say why the picture rate is low)
                rates = window_rates(sub.stats.received, counted, now - t_report)
                counted = dict(sub.stats.received)
                drops = f", dropped: {dict(sub.stats.dropped)}" if sub.stats.dropped else ""
                print(f"[listen] {seen} messages; pictures {rates.get('frame', 0.0)}/s, per "
                      f"second over the last {now - t_report:.1f} s: {rates}{drops}, restarts: "
                      f"{sub.stats.restarts}", file=err, flush=True)
                t_report = now
        elapsed = max(clock() - t_start, 1e-9)
        stats = sub.stats.as_dict()
    stats["messages"] = seen
    stats["seconds"] = round(elapsed, 3)
    # Rate between the first and the last arrival of each kind: what the publisher sent at.
    stats["rate_per_s"] = {k: round((stats["received"][k] - 1) / (b - a), 2)
                           for k, (a, b) in span.items() if b > a}
    return stats
