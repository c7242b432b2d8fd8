import threading

import msgpack
import numpy as np
import pytest
import zmq

from vasa_bridge.errors import ControlError, TransportError
from vasa_bridge.motion import MotionFrame
from vasa_bridge.transport import (ControlClient, ControlConfig, ControlServer, Publisher,
                                   PublisherConfig, Subscriber, SubscriberConfig)
from vasa_bridge.transport.endpoints import check_server_bind, is_loopback


def connected(pub: Publisher, sub: Subscriber, stream="default") -> None:
    """Send hellos until the subscriber sees one: ZeroMQ's slow-joiner handshake is done."""
    for _ in range(200):
        pub.hello(force=True)
        msg = sub.recv(timeout_ms=20)
        if msg is not None:
            return
    raise AssertionError("subscriber never connected")


def test_every_kind_round_trips_over_tcp(endpoint):
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint)) as sub:
        connected(pub, sub)
        frame = MotionFrame.from_named({"jawOpen": 0.5}, head_rotation=(1, 2, 3))
        img = np.arange(8 * 6 * 4, dtype=np.uint8).reshape(6, 8, 4)
        audio = np.linspace(-1, 1, 640, dtype=np.float32)
        pub.motion(frame, pts=40_000_000, stream="npc1")
        pub.frame(img, pts=40_000_000, stream="npc1")
        pub.audio(audio, pts=40_000_000, rate=16000, stream="npc1", format="f32")
        pub.event("speech_start", pts=40_000_000, stream="npc1", data={"x": 1})
        pub.hello(force=True)
        got = {}
        while len(got) < 5:
            msg = sub.recv(timeout_ms=2000)
            assert msg is not None, f"only got {sorted(got)}"
            got[msg.kind] = msg
        assert got["motion"].motion_frame().as_dict()["jawOpen"] == 0.5
        np.testing.assert_array_equal(got["frame"].image(), img)
        np.testing.assert_array_equal(got["audio"].audio_samples()[:, 0], audio)
        assert got["event"].header["data"] == {"x": 1}
        assert got["hello"].header["streams"] == ["npc1"]
        assert got["motion"].seq == 0 and got["hello"].seq >= 1
        assert sub.stats.malformed == 0 and not sub.stats.lost


def test_every_kind_round_trips_over_ipc(tmp_path):
    endpoint = f"ipc://{tmp_path}/vasa.sock"
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "hello"))) as sub:
        connected(pub, sub)
        for i in range(10):
            pub.motion(MotionFrame.neutral(), pts=i)
        seqs = [m.seq for m in sub.messages(timeout_ms=500) if m.kind == "motion"]
        assert seqs == list(range(10))


def test_subscription_by_stream_is_exact(endpoint):
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "hello"),
                                        stream="npc1")) as sub:
        connected(pub, sub)
        for stream in ("npc1", "npc10", "npc1", "default"):
            pub.motion(MotionFrame.neutral(), pts=0, stream=stream)
        streams = [m.stream for m in sub.messages(timeout_ms=300) if m.kind == "motion"]
        assert streams == ["npc1", "npc1"]


def test_malformed_messages_are_counted_and_skipped(endpoint):
    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.PUB)
    raw.bind(endpoint)
    with Subscriber(SubscriberConfig(endpoint=endpoint)) as sub:
        from vasa_bridge.protocol import wire  # garbage goes through a raw socket, not Publisher
        ok = wire.encode_event("x", stream="a", seq=0, pts=0, sent=0)
        for _ in range(100):  # slow joiner: repeat until one good message gets through
            raw.send_multipart(ok)
            if sub.recv(timeout_ms=20):
                break
        raw.send_multipart([b"motion/a/", b"\xc1garbage", b""])
        raw.send_multipart([b"frame/a/", msgpack.packb({"v": 7}), b""])
        raw.send_multipart([b"only one part"])
        raw.send_multipart(ok)
        msg = sub.recv(timeout_ms=2000)
        assert msg is not None and msg.kind == "event"
        assert sub.stats.malformed == 3
    raw.close(0)


def _flood(pub: Publisher, n: int, img: np.ndarray) -> None:
    done = threading.Event()

    def run():
        for i in range(n):
            pub.frame(img, pts=i)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60), "publisher blocked behind a stalled subscriber"


def test_stalled_subscriber_does_not_block_publisher_nodrop_counts_at_publisher(endpoint):
    """nodrop mode: a subscriber that never reads makes sends fail fast; each is counted."""
    img = np.zeros((512, 512, 4), np.uint8)
    cfg = PublisherConfig(endpoint=endpoint, sndhwm=4, nodrop=True)
    with Publisher(cfg) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, rcvhwm=2)) as sub:
        connected(pub, sub)
        _flood(pub, 400, img)
        assert pub.stats.dropped["frame"] > 0
        assert pub.stats.sent["frame"] + pub.stats.dropped["frame"] == 400
        received = [m.seq for m in sub.messages(timeout_ms=300) if m.kind == "frame"]
        assert 0 < len(received) == pub.stats.sent["frame"] < 400


def test_stalled_subscriber_does_not_block_publisher_pub_mode_counts_gaps(endpoint):
    """Default PUB: the publisher never waits; what the stalled subscriber missed shows up as
    seq gaps once it reads again."""
    img = np.zeros((512, 512, 4), np.uint8)
    cfg = PublisherConfig(endpoint=endpoint, sndhwm=4)
    with Publisher(cfg) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, rcvhwm=2)) as sub:
        connected(pub, sub)
        _flood(pub, 400, img)  # the subscriber reads nothing meanwhile
        assert pub.stats.sent["frame"] == 400
        first = [m.seq for m in sub.messages(timeout_ms=300) if m.kind == "frame"]
        pub.frame(img, pts=400)  # the subscriber is reading again
        last = sub.recv(timeout_ms=2000)
        assert last is not None and last.seq == 400
        assert len(first) < 400
        assert sub.stats.lost["frame"] == 400 - len(first)


def test_latest_only_frames_drop_stale_frames(endpoint):
    """With latest-only, a burst posts many frames; older ones still waiting are dropped and
    counted, and the newest always leaves."""
    cfg = PublisherConfig(endpoint=endpoint, latest_only_frames=True)
    with Publisher(cfg) as pub, Subscriber(SubscriberConfig(endpoint=endpoint)) as sub:
        connected(pub, sub)
        img = np.zeros((1024, 1024, 4), np.uint8)
        for i in range(50):
            img[0, 0, 0] = i
            pub.frame(img, pts=i)
        msgs = [m for m in sub.messages(timeout_ms=500) if m.kind == "frame"]
        assert msgs[-1].pts == 49 and msgs[-1].image()[0, 0, 0] == 49
        assert pub.stats.sent["frame"] + pub.stats.dropped["frame"] == 50
        assert len(msgs) == pub.stats.sent["frame"]


def test_publisher_refuses_use_after_close_and_busy_port(endpoint):
    pub = Publisher(PublisherConfig(endpoint=endpoint))
    with pytest.raises(TransportError, match="cannot bind publisher"):
        Publisher(PublisherConfig(endpoint=endpoint))
    pub.close()
    with pytest.raises(TransportError, match="publisher is closed"):
        pub.motion(MotionFrame.neutral(), pts=0)


def test_loopback_rule():
    assert is_loopback("tcp://127.0.0.1:5556") and is_loopback("tcp://localhost:1")
    assert is_loopback("tcp://[::1]:5556") and is_loopback("ipc:///tmp/x")
    assert not is_loopback("tcp://0.0.0.0:5556") and not is_loopback("tcp://*:5556")
    with pytest.raises(TransportError, match="not a loopback address"):
        check_server_bind("tcp://0.0.0.0:5556", insecure=False)
    check_server_bind("tcp://0.0.0.0:5556", insecure=True)
    with pytest.raises(TransportError, match="not a loopback address"):
        ControlServer(object(), ControlConfig(endpoint="tcp://*:5599"))


class Handler:
    def __init__(self):
        self.values = {}
        self.spoken = []
        self.stopped = threading.Event()

    def status(self):
        return {"fps": 25.0, "values": self.values}

    def set(self, **values):
        self.values.update(values)
        return dict(self.values)

    def speak(self, audio, rate, stream):
        self.spoken.append((audio, rate, stream))
        return {"stream": stream, "duration": len(audio) / rate}

    def stop(self):
        self.stopped.set()


@pytest.fixture
def control(endpoint):
    handler = Handler()
    with ControlServer(handler, ControlConfig(endpoint=endpoint)) as server:
        with ControlClient(endpoint, timeout_ms=3000) as client:
            yield handler, server, client


def test_control_commands(control):
    handler, server, client = control
    assert client.call("status")["fps"] == 25.0
    assert client.call("set", emotion="happy", gaze=[0.5, -0.2]) == \
        {"emotion": "happy", "gaze": [0.5, -0.2]}
    clip = np.sin(np.linspace(0, 100, 16000)).astype(np.float32) * 0.5
    result = client.speak(clip, 16000, stream="npc3")
    assert result == {"stream": "npc3", "duration": 1.0}
    audio, rate, stream = handler.spoken[0]
    np.testing.assert_allclose(audio, clip, atol=1 / 16000)
    with pytest.raises(ControlError, match="does not support 'load_portrait'"):
        client.call("load_portrait", path="/tmp/x.png")
    assert client.call("stop") == {}
    assert handler.stopped.wait(2)


@pytest.mark.parametrize("request_, code, text", [
    ({"cmd": "fly"}, "unknown_command", "command 'fly' is unknown"),
    ({"nocmd": 1}, "malformed", r"request has no 'cmd': expected one of \['status'"),
    ({"cmd": "set", "emotion": "sad", "stream": "s" * 10000}, "bad_argument",
     r"^stream id 's{69}\.\.\. \(10000 characters\) is invalid: expected 1-64"),
    ({"cmd": "set"}, "bad_argument", "set needs at least one of"),
    ({"cmd": "set", "gaze": [3, 0]}, "bad_argument", r"gaze is \[3, 0\]: expected \[x, y\]"),
    ({"cmd": "set", "volume": 3}, "bad_argument", "set does not know 'volume'"),
    ({"cmd": "speak", "audio": b"\x00" * 4, "rate": 16000, "txt": "Bring me the map."},
     "bad_argument", r"speak does not know 'txt': expected some of \['audio', .*'text'"),
    ({"cmd": "set", "head_motion": "lots"}, "bad_argument", "'head_motion' is 'lots'"),
    ({"cmd": "speak", "audio": b"\x00\x01\x02", "rate": 16000}, "bad_argument",
     "speak audio is 3 bytes"),
    ({"cmd": "speak", "audio": b"\x00" * 4, "rate": 5}, "bad_argument", "speak rate is 5"),
    ({"cmd": "speak", "audio": b"\x00" * 2 * 16000 * 200, "rate": 16000}, "too_large",
     "200.0 s long"),
    ({"cmd": "status", "v": 9}, "version", "version 9 is not supported"),
])
def test_control_refuses_bad_requests_and_keeps_serving(control, request_, code, text):
    handler, server, client = control
    reply = client.request({**request_, "id": 42})
    assert reply["ok"] is False and reply["code"] == code and reply["id"] == 42
    import re
    assert re.search(text, reply["error"]), reply["error"]
    assert client.call("status")["fps"] == 25.0


def test_a_map_key_that_is_not_a_string_is_named(control):
    handler, server, client = control
    reply = client.request({"cmd": "set", "emotion": "sad", 1: 2})
    assert reply == {"ok": False, "code": "malformed",
                     "error": "request has a map key of type int: expected str keys"}
    assert handler.values == {}
    assert client.call("status")["fps"] == 25.0


def test_control_answers_garbage_bytes_and_keeps_serving(endpoint):
    with ControlServer(Handler(), ControlConfig(endpoint=endpoint)) as server:
        ctx = zmq.Context.instance()
        for garbage in (b"", b"\xc1", b"\x93\x01\x02\x03", bytes(range(256)), b"\xdf\xff\xff"):
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            req.connect(endpoint)
            req.send(garbage)
            assert req.poll(3000), f"no reply to {garbage[:8]!r}"
            reply = msgpack.unpackb(req.recv(), raw=False)
            assert reply["ok"] is False and reply["code"] == "malformed"
            req.close(0)
        dealer = ctx.socket(zmq.DEALER)  # multipart garbage without the REQ envelope
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(endpoint)
        dealer.send_multipart([b"a", b"b", b"c"])
        assert dealer.poll(3000)
        assert msgpack.unpackb(dealer.recv_multipart()[-1], raw=False)["code"] == "malformed"
        dealer.close(0)
        with ControlClient(endpoint) as client:
            assert client.call("status")["fps"] == 25.0
        assert server.errors == 6


def test_control_client_times_out_clearly(endpoint):
    with ControlClient(endpoint, timeout_ms=200) as client:
        with pytest.raises(ControlError, match="could not send to .* within 200 ms "
                                               r"\(nothing sent\): is vasa-bridge running"):
            client.call("status")


def test_control_client_says_no_reply_when_the_server_does_not_answer(endpoint):
    ctx = zmq.Context.instance()
    mute = ctx.socket(zmq.ROUTER)  # takes requests, never answers
    mute.setsockopt(zmq.LINGER, 0)
    mute.bind(endpoint)
    try:
        with ControlClient(endpoint, timeout_ms=300) as client:
            with pytest.raises(ControlError, match="no reply from .* within 300 ms"):
                client.call("status")
    finally:
        mute.close(0)


def test_a_request_reported_as_not_sent_never_runs_when_a_runtime_starts_later(endpoint):
    # (The web panel keeps its client: its /api/stop with no runtime up was delivered to the
    # next runtime that started, which stopped at once.)
    with ControlClient(endpoint, timeout_ms=1000) as client:
        for cmd, args in (("stop", {}), ("set", {"emotion": "sad"})):
            with pytest.raises(ControlError, match="could not send"):
                client.call(cmd, **args)
        handler = Handler()
        with ControlServer(handler, ControlConfig(endpoint=endpoint)):
            assert client.call("status")["values"] == {}
            assert client.call("set", emotion="happy") == {"emotion": "happy"}
        assert not handler.stopped.is_set()
        assert handler.values == {"emotion": "happy"}


def test_handler_exception_becomes_an_error_reply(endpoint):
    class Broken(Handler):
        def status(self):
            raise RuntimeError("boom")

    with ControlServer(Broken(), ControlConfig(endpoint=endpoint)), \
            ControlClient(endpoint) as client:
        reply = client.request({"cmd": "status"})
        assert reply == {"ok": False, "error": "internal error: RuntimeError: boom",
                         "code": "failed"}
        assert client.call("set", emotion="sad") == {"emotion": "sad"}
