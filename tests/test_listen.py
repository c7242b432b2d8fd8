"""`vasa-bridge listen` against a hostile publisher: crafted messages over a real PUB socket.

Issue #16: listen exited on a well-formed motion message with a value outside [0, 1] or a NaN head
angle, tracebacked under --json on a binary map key, printed names raw (terminal control
characters) and only counted publisher restarts at exit.
"""

import io
import json
import subprocess
import sys
import threading
import time

import msgpack
import numpy as np
import pytest
import zmq

from conftest import ROOT
from vasa_bridge.motion import MotionFrame
from vasa_bridge.protocol import wire
from vasa_bridge.transport.listen import ListenConfig, header_json, listen, printable
from vasa_bridge.transport.subscriber import SubscriberConfig

ESC = "\x1b[2J\x1b]0;pwned\x07"  # clear screen + set the terminal title
BIDI = "\u202e"  # right-to-left override


def _motion(seq, *, values=None, rotation=(0.0, 0.0, 0.0), stream="default"):
    """A well-formed motion message whose values may be anything (encode_motion would refuse)."""
    good = wire.encode_motion(MotionFrame.neutral(), stream=stream, seq=seq, pts=seq * 40_000_000,
                              sent=time.time_ns())
    h = msgpack.unpackb(good[1])
    h["head_rotation"] = list(rotation)
    payload = np.zeros(52, "<f4") if values is None else np.asarray(values, "<f4")
    return [good[0], msgpack.packb(h, use_bin_type=True), payload.tobytes()]


def _event(seq, name="ping", **extra):
    h = {"v": 1, "seq": seq, "stream": "default", "pts": 0, "sent": time.time_ns(), "name": name,
         **extra}
    return [b"event/default/", msgpack.packb(h, use_bin_type=True), b""]


def _crafted():
    """(label, parts): every one of these must be dropped and counted, never stop listen."""
    over = np.zeros(52, np.float32)
    over[17] = 1.5
    motion_h = msgpack.unpackb(_motion(0)[1])
    return [
        ("value above 1", _motion(1, values=over)),
        ("negative value", _motion(2, values=-over)),
        ("NaN value", _motion(3, values=np.full(52, np.nan))),
        ("NaN head angle", _motion(4, rotation=(float("nan"), 0.0, 0.0))),
        ("head angle 1e30", _motion(5, rotation=(0.0, 1e30, 0.0))),
        ("unknown version", [b"motion/default/",
                             msgpack.packb(motion_h | {"v": 2}, use_bin_type=True),
                             np.zeros(52, "<f4").tobytes()]),
        ("header not msgpack", [b"motion/default/", b"\xc1\xff\x00", b""]),
        ("truncated header", [b"motion/default/", _motion(0)[1][:30], b""]),
        ("control characters in the topic", [("motion/" + ESC + "/").encode(), b"\x80", b""]),
        ("stream id with an escape", [b"event/a\x1bb/", msgpack.packb(
            {"v": 1, "seq": 0, "stream": "a\x1bb", "pts": 0, "sent": 0, "name": ESC}), b""]),
        ("two parts", [b"event/default/", b"\x80"]),
    ]


class _Run:
    """listen() on a thread against a raw PUB socket we control."""

    def __init__(self, endpoint, **options):
        self.ctx = zmq.Context.instance()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.bind(endpoint)
        self.out, self.err = io.StringIO(), io.StringIO()
        self.stop = threading.Event()
        self.result = {}
        self.thread = threading.Thread(target=lambda: self.result.update(listen(
            SubscriberConfig(endpoint=endpoint), ListenConfig(report_every_s=3600, **options),
            out=self.out, err=self.err, stop=self.stop)), daemon=True)
        self.thread.start()

    def send(self, parts):
        self.pub.send_multipart(parts)

    def connect(self):
        """Send harmless events until one is printed (ZeroMQ's slow joiner)."""
        for i in range(200):
            self.send(_event(0, name="hello-there"))
            time.sleep(0.02)
            if "hello-there" in self.out.getvalue():
                return
        raise AssertionError("listen never received anything")

    def wait_for(self, text, where="out", timeout=5.0):
        stream = self.out if where == "out" else self.err
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in stream.getvalue():
                return
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never appeared on {where}: {stream.getvalue()!r}")

    def finish(self):
        self.stop.set()
        self.thread.join(10)
        self.pub.close(0)
        assert not self.thread.is_alive()
        return self.result


def test_bad_messages_are_dropped_and_counted_and_listen_goes_on(endpoint):
    run = _Run(endpoint, drops_shown=100)
    run.connect()
    crafted = _crafted()
    for _, parts in crafted:
        run.send(parts)
    run.send(_motion(10, values=np.full(52, 0.5, np.float32)))
    run.wait_for("seq=10")  # the good message after every bad one is still printed
    stats = run.finish()
    assert stats["malformed"] == len(crafted)
    assert stats["dropped"] == {"bad_values": 5, "version": 1, "malformed": 5}
    assert stats["received"]["motion"] == 1
    out, err = run.out.getvalue(), run.err.getvalue()
    assert out.count("\n") == stats["messages"]  # only good messages reach stdout
    assert err.count("[listen] dropped a bad_values message") == 5
    assert "outside [0, 1]" in err and "non-finite value nan" in err
    assert "version 2 is not supported" in err


def test_printed_strings_are_escaped(endpoint):
    run = _Run(endpoint)
    run.connect()
    run.send(_event(1, name="evil" + ESC + BIDI, message="line\nbreak\rback"))
    hello = {"v": 1, "seq": 2, "stream": "", "pts": 0, "sent": 0, "streams": ["a\x1b[31m"],
             "capabilities": ["motion"], "publisher": "pub\x07" + BIDI}
    run.send([b"hello//", msgpack.packb(hello), b""])
    run.wait_for("pub")
    run.finish()
    out = run.out.getvalue()
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and BIDI not in out
    assert out.count("\n") == 3  # the connect event + our two; no line break smuggled in
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07\\u202e" in out
    assert "line\\nbreak\\rback" in out and "a\\x1b[31m" in out and "pub\\x07\\u202e" in out


def test_printable_escapes_unprintables_and_cuts():
    assert printable("jawOpen") == "jawOpen"
    assert printable("é ü 中") == "é ü 中"  # printable non-ASCII is shown as is
    assert printable("\x00\x1b\x7f\x9b\u2028\u200f") == "\\x00\\x1b\\x7f\\x9b\\u2028\\u200f"
    assert printable("x" * 500, 10) == "x" * 10 + "..."


def test_json_never_raises_on_odd_headers():
    """Binary map keys and values, NaN, extension types and deep nesting: plain ASCII JSON."""
    deep = 0
    for _ in range(25):  # the decoder allows 32 levels; --json shows 16
        deep = [deep]
    header = {"v": 1, "seq": 0, "stream": "default", "pts": 0, "sent": 0, "name": "x" + ESC,
              "data": {b"\xff\x00key": b"\x01\x02", "nan": float("nan"), "inf": float("-inf"),
                       "ext": msgpack.ExtType(5, b"ab"), "deep": deep}}
    raw = msgpack.packb(header, use_bin_type=True)
    msg = wire.decode([b"event/default/", raw, b""])
    line = header_json(msg)
    assert line.isascii() and line.isprintable()
    doc = json.loads(line)
    assert doc["data"]["b'\\xff\\x00key'"] == "<2 bytes>"
    assert doc["data"]["nan"] == "nan" and doc["data"]["inf"] == "-inf"
    assert doc["data"]["ext"].startswith("ExtType(code=5")
    assert doc["name"] == "x" + ESC  # JSON escapes it: the decoded value is intact
    assert "<nested too deep>" in line


def test_restarts_are_reported_as_they_happen(endpoint):
    run = _Run(endpoint)
    run.connect()
    for seq in (100, 101, 102):
        run.send(_motion(seq))
    run.wait_for("seq=102")
    assert "restarted" not in run.err.getvalue()
    run.send(_motion(0))  # a new publisher starts again at 0
    run.wait_for("[listen] publisher restarted: motion/default seq went back from 102 to 0",
                 where="err")
    stats = run.finish()
    assert stats["restarts"] == 1


@pytest.mark.slow
def test_cli_json_survives_a_hostile_publisher(endpoint):
    """The real command: every crafted message plus a binary-keyed header, then good ones; it
    prints only the good ones, as ASCII JSON, exits 0 after going idle, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "vasa_bridge.cli", "listen", "--sub", endpoint,
                             "--json", "--timeout", "3", "--topics", "all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 1000)
    pub.bind(endpoint)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    try:
        reader.start()
        deadline = time.monotonic() + 30
        while not lines and time.monotonic() < deadline:  # ZeroMQ's slow joiner: probe
            pub.send_multipart(_event(0, name="probe"))
            time.sleep(0.1)
        assert lines, "listen never received a probe"
        for _, parts in _crafted():
            pub.send_multipart(parts)
        binkey = _event(1, data={b"\x1b[31m": b"\x00" * 3, "nested": {b"k": [float("nan")]}})
        h = msgpack.unpackb(binkey[1], strict_map_key=False)
        h[b"\xff"] = 1  # a binary key at the top level too
        pub.send_multipart([binkey[0], msgpack.packb(h, use_bin_type=True), b""])
        pub.send_multipart(_motion(7, values=np.full(52, 0.25, np.float32)))
        pub.send_multipart(_event(8, name="bye" + ESC))
        err = proc.stderr.read()  # until listen exits, 3 s after the last message
        proc.wait(30)
        reader.join(10)
    finally:
        pub.close(0)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "\x1b" not in err
    docs = [json.loads(line) for line in lines if '"name":"probe"' not in line]
    assert all(line.rstrip("\n").isascii() and line.rstrip("\n").isprintable() for line in lines)
    assert len(docs) == 3, docs
    assert docs[0]["data"]["b'\\x1b[31m'"] == "<3 bytes>" and docs[0]["b'\\xff'"] == 1
    assert docs[1]["seq"] == 7 and docs[2]["name"] == "bye" + ESC
    stats = json.loads(err.strip().splitlines()[-1].removeprefix("[listen] "))
    assert stats["dropped"]["bad_values"] == 5 and stats["malformed"] == len(_crafted())


def test_rate_line_counts_the_last_interval_not_the_whole_run():
    """Issue 16: the rate `listen` prints is over the last interval, so a picture stall shows at
    once instead of being averaged away by the minutes before it."""
    from vasa_bridge.transport.listen import window_rates
    before = {"frame": 1000, "motion": 1500}
    assert window_rates({"frame": 1025, "motion": 1525}, before, 1.0) == {"frame": 25.0,
                                                                           "motion": 25.0}
    stalled = window_rates({"frame": 1000, "motion": 1525}, before, 1.0)
    assert stalled == {"frame": 0.0, "motion": 25.0}
    assert window_rates({"frame": 5, "event": 1}, {}, 0.5) == {"frame": 10.0, "event": 2.0}
