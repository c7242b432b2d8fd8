"""Bounds on the control channel: request shape checked before unpacking, slow commands off the
serving thread (no request delays another), and the regressions that showed why."""

import threading

import msgpack
import numpy as np
import pytest
import zmq

from vasa_bridge.audio.features import MAX_RESAMPLE_TERM, resample, resample_ratio
from vasa_bridge.runtime.engine import LoudnessEngine
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.transport import ControlClient, ControlConfig, ControlServer
from vasa_bridge.transport.control import RequestError, check_msgpack_shape


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_msgpack_shape_is_counted_without_unpacking():
    assert check_msgpack_shape(msgpack.packb({"cmd": "status", "id": 3}), 100, 4) == 5
    assert check_msgpack_shape(msgpack.packb({"a": [1, 2.5, None, b"xx", "s", {"b": -7}]}),
                               100, 4) == 11
    many = b"\xdd" + (1 << 20).to_bytes(4, "big") + b"\x80" * (1 << 20)  # 1 Mi empty maps
    with pytest.raises(RequestError, match="more than 4096 msgpack objects") as e:
        check_msgpack_shape(many, 4096, 16)
    assert e.value.code == "too_large"
    deep = b"\x91" * 40 + b"\xc0"
    with pytest.raises(RequestError, match="nests deeper than 16 levels"):
        check_msgpack_shape(deep, 4096, 16)
    with pytest.raises(RequestError, match="claims 4294967295 items") as e:
        check_msgpack_shape(b"\xdd\xff\xff\xff\xff\x01\x01", 1 << 40, 16)
    assert e.value.code == "malformed"
    with pytest.raises(RequestError, match="byte 0xc1"):
        check_msgpack_shape(b"\x92\x01\xc1", 100, 4)
    with pytest.raises(RequestError, match="truncated"):
        check_msgpack_shape(msgpack.packb([1, "abc"])[:-1], 100, 4)


def test_32_mib_of_empty_maps_is_refused_before_it_is_unpacked(endpoint):
    """Regression: a 32 MiB request of empty maps took memory to 2 GB and stopped motion for 2 s
    while msgpack built 33 million dicts. Now its shape is read first and it is refused."""
    n = 32 * 1024 * 1024 - 64
    body = b"\xdd" + n.to_bytes(4, "big") + b"\x80" * n
    deep = b"\x91" * 900 + b"\xc0"  # under msgpack's own limit, over ours; repr would recurse
    with ControlServer(type("H", (), {"status": lambda self: {"fps": 25},
                                      "set": lambda self, **kw: kw})(),
                       ControlConfig(endpoint=endpoint)) as server, \
            ControlClient(endpoint, timeout_ms=20000) as client:
        client.call("status")
        before = rss_bytes()
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        try:
            for frames, code in (([body], "too_large"), ([deep], "too_large"),
                                 ([msgpack.packb({"cmd": "set", "gaze": msgpack.unpackb(
                                     b"\x91" * 12 + b"\xc0")})], "bad_argument")):
                sock.send_multipart([b""] + frames)
                assert sock.poll(20000)
                _, reply = sock.recv_multipart()
                reply = msgpack.unpackb(reply)
                assert reply["ok"] is False and reply["code"] == code, reply
        finally:
            sock.close(0)
        grown = rss_bytes() - before
        assert grown < 200 * 1024 * 1024, f"RSS grew {grown / 2**20:.0f} MB"
        assert client.call("status") == {"fps": 25}
        assert server.errors == 3


class Gated:
    """A handler whose speak waits for the test to open its stream's gate: a stand-in for slow
    work (resampling, baking) that the test controls exactly."""

    def __init__(self):
        self.gates = {}
        self.started = []
        self.finished = []
        self.lock = threading.Lock()

    def gate(self, stream):
        with self.lock:
            return self.gates.setdefault(stream, threading.Event())

    def status(self):
        return {"started": list(self.started), "finished": list(self.finished)}

    def speak(self, audio, rate, stream):
        self.started.append(stream)
        assert self.gate(stream).wait(30)
        self.finished.append(stream)
        return {"stream": stream, "n": len(self.finished)}


def dealer(endpoint):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


def ask(sock, req):
    sock.send_multipart([b"", msgpack.packb(req)])


def answer(sock, timeout_ms=20000):
    assert sock.poll(timeout_ms), "no reply"
    return msgpack.unpackb(sock.recv_multipart()[1])


def speak_req(stream, i):
    return {"cmd": "speak", "audio": b"\x00\x10" * 160, "rate": 16000, "stream": stream, "id": i}


def test_a_slow_speak_delays_no_other_request(endpoint):
    """While one stream's speak is stuck, status is answered, another stream's speak runs and
    is answered, and the stuck stream's next clip waits its turn (clips keep their order)."""
    h = Gated()
    with ControlServer(h, ControlConfig(endpoint=endpoint)) as server:
        a, b = dealer(endpoint), dealer(endpoint)
        try:
            ask(a, speak_req("npc1", 1))
            ask(a, speak_req("npc1", 2))
            for _ in range(200):  # wait (by counting, not timing) until npc1's first has begun
                if h.started:
                    break
                threading.Event().wait(0.01)
            with ControlClient(endpoint, timeout_ms=20000) as client:
                for _ in range(20):  # answered at once, the worker busy meanwhile
                    assert client.call("status")["finished"] == []
            ask(b, speak_req("npc2", 3))
            h.gate("npc2").set()
            r = answer(b)
            assert r["ok"] and r["id"] == 3 and h.finished == ["npc2"]
            assert h.started == ["npc1", "npc2"]  # npc1's second clip has not started
            h.gate("npc1").set()
            got = [answer(a), answer(a)]
            assert [g["id"] for g in got] == [1, 2]
            assert h.finished == ["npc2", "npc1", "npc1"]
            assert server.pending == 0
        finally:
            a.close(0)
            b.close(0)


def test_too_many_slow_requests_are_answered_busy(endpoint):
    h = Gated()
    cfg = ControlConfig(endpoint=endpoint, max_pending=3)
    with ControlServer(h, cfg) as server:
        a = dealer(endpoint)
        try:
            for i in range(5):
                ask(a, speak_req("npc1", i))
            busy = [answer(a), answer(a)]
            assert [r["code"] for r in busy] == ["busy", "busy"]
            assert "3 slow requests are in progress: the limit is 3" in busy[0]["error"]
            h.gate("npc1").set()
            done = [answer(a) for _ in range(3)]
            assert [r["id"] for r in done] == [0, 1, 2] and all(r["ok"] for r in done)
            assert server.busy == 2
        finally:
            a.close(0)


def test_odd_rates_resample_with_a_small_filter():
    """Regression: 191999 Hz needed a 16000/191999 polyphase filter and blocked the control
    thread 3.2 s. Odd ratios are now approximated with small terms (5 ppm here)."""
    assert resample_ratio(44100, 16000) == (160, 441)  # common rates stay exact
    assert resample_ratio(48000, 16000) == (1, 3)
    up, down = resample_ratio(191999, 16000)
    assert max(up, down) <= MAX_RESAMPLE_TERM and abs(up / down * 191999 / 16000 - 1) < 1e-5
    for rate in (8001, 12345, 96001, 191999, 384000):
        up, down = resample_ratio(rate, 16000)
        assert max(up, down) <= MAX_RESAMPLE_TERM and abs(up / down * rate / 16000 - 1) < 2e-4
    t = np.arange(191999) / 191999
    out = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), 191999, 16000)
    assert abs(len(out) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(out[:16000]))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # the pitch is kept


class HeldBaker:
    """A clip baker that holds until released: a 120 s NPC line being prepared."""
    fps = 25.0

    def __init__(self):
        self.release = threading.Event()
        self.baking = threading.Event()

    def bake(self, audio, emotion, seed, language="en", hear=True):
        from vasa_bridge.motion import MotionFrame
        self.baking.set()
        assert self.release.wait(60)
        return [MotionFrame.neutral()] * int(round(len(audio) * self.fps / 16000))


@pytest.mark.slow
def test_a_120_s_npc_clip_being_baked_holds_up_no_control_request(endpoint):
    """Regression: a 120 s NPC clip held every other request for 2.8 s while it was baked on
    the control thread. Now 50 status requests and a speak to another stream are all answered
    while the bake is still going (ordering, not timing)."""
    from vasa_bridge.transport import Publisher, PublisherConfig
    baker = HeldBaker()
    pub_ep = endpoint.rsplit(":", 1)[0] + f":{int(endpoint.rsplit(':', 1)[1]) + 3}"
    with Publisher(PublisherConfig(endpoint=pub_ep)) as pub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine,
                     clip_baker=baker)
        stop = threading.Event()
        worker = threading.Thread(target=rt.run, args=(stop,), daemon=True)
        worker.start()
        try:
            with ControlServer(Commands(rt), ControlConfig(endpoint=endpoint)):
                a = dealer(endpoint)
                pcm = (0.1 * np.sin(np.arange(120 * 16000) / 9)).astype("<f4").tobytes()
                ask(a, {"cmd": "speak", "audio": pcm, "rate": 16000, "format": "f32",
                        "stream": "npc1", "id": "long"})
                assert baker.baking.wait(30)
                with ControlClient(endpoint, timeout_ms=20000) as client:
                    statuses = [client.call("status") for _ in range(50)]
                    short = client.call("set", emotion="happy")
                hops = [s["published"]["motion"] for s in statuses]
                assert hops == sorted(hops)  # the loop went on meanwhile
                assert short["emotion"] == "happy" and not a.poll(0)  # the bake: still going
                baker.release.set()
                r = answer(a, 60000)
                assert r["ok"] and r["id"] == "long" and r["result"]["duration"] == 120.0
                a.close(0)
        finally:
            stop.set()
            worker.join(10)


def test_speak_with_samples_of_1e20_is_refused_by_the_control_channel(endpoint):
    """Regression: finite f32 samples of 1e20 (the web panel posts WAVs as f32 through here)
    were answered ok, then overflowed the features to NaN and `serve` exited. Now: bad_argument,
    naming the peak; the runtime behind it never sees the clip."""
    from vasa_bridge.transport import Publisher, PublisherConfig
    pub_ep = endpoint.rsplit(":", 1)[0] + f":{int(endpoint.rsplit(':', 1)[1]) + 3}"
    with Publisher(PublisherConfig(endpoint=pub_ep)) as pub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine)
        with ControlServer(Commands(rt), ControlConfig(endpoint=endpoint)), \
                ControlClient(endpoint, timeout_ms=20000) as client:
            for samples, says in ((np.full(1600, 1e20, "<f4"), "peaks at 1e+20"),
                                  (np.r_[np.zeros(10), np.nan].astype("<f4"), "non-finite")):
                reply = client.request({"cmd": "speak", "audio": samples.tobytes(),
                                        "rate": 16000, "format": "f32", "stream": "npc1"})
                assert reply["ok"] is False and reply["code"] == "bad_argument", reply
                assert says in reply["error"]
            ok = client.speak(np.full(1600, 0.5, np.float32), 16000, stream="npc1")
            assert ok["duration"] == pytest.approx(0.1)
            assert rt.streams["npc1"].source.queued_samples == 1600
