"""`serve --audio-in`: a seeded, bounded fuzz of the audio messages a game may push. Every message
is either played or refused and counted (a VasaError), never an exception of another kind, and
the runtime then runs on with no stream failure."""

import threading

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vasa_bridge.audio.pcm import MAX_RATE, MIN_RATE
from vasa_bridge.errors import VasaError
from vasa_bridge.protocol import wire
from vasa_bridge.transport.audio_in import AudioInlet
from vasa_bridge.runtime.engine import LoudnessEngine
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.serve import Runtime, ServeConfig

from conftest import free_port

VALUES = [0.0, 0.3, -0.9, 1.0, 2.5, 4.5, 1e20, -3e38, float("nan"), float("inf"), -float("inf"),
          1e-40, 32767.0]


class Loudest:
    """A publisher that keeps only the loudest audio sample it was given, and whether any was
    not finite."""

    def __init__(self):
        self.stats = type("S", (), {"dropped": {}})()
        self.peak, self.finite, self.samples = 0.0, True, 0

    def audio(self, samples, **kw):
        samples = np.asarray(samples)
        self.finite &= bool(np.isfinite(samples).all())
        self.peak = max(self.peak, float(np.abs(samples).max(initial=0)))
        self.samples += len(samples)

    def __getattr__(self, name):
        return lambda *a, **k: True


def messages():
    """Valid audio messages with awkward samples, and messages with mutated header fields."""
    samples = st.tuples(st.lists(st.sampled_from(VALUES), min_size=1, max_size=5),
                        st.integers(0, 3000), st.integers(1, 3))
    header_edits = st.dictionaries(
        st.sampled_from(["rate", "channels", "samples", "format", "v", "stream", "kind"]),
        st.one_of(st.integers(-5, 400000), st.sampled_from(["s16", "f32", "u8", "", "npc1"]),
                  st.floats(allow_nan=True), st.none(), st.binary(max_size=8)), max_size=2)

    def build(args):
        (vals, n, ch), fmt, rate, stream, edits = args
        data = np.resize(np.array(vals, np.float32), (n, ch)) if n else np.zeros((0, ch))
        if fmt == "f32":
            parts = wire.encode_audio(data.astype(np.float32), stream=stream, seq=0, pts=0,
                                      sent=0, rate=rate, format="f32")
            # encode_audio clips nothing for f32: NaN, inf and 1e20 reach the wire as they are
        else:
            pcm = np.clip(np.nan_to_num(data), -32768, 32767).astype(np.int16)
            parts = wire.encode_audio(pcm, stream=stream, seq=0, pts=0, sent=0, rate=rate,
                                      format="s16")
        if edits:
            header = msgpack.unpackb(parts[1])
            header.update(edits)
            parts = [parts[0], msgpack.packb(header, use_bin_type=True), parts[2]]
        return [bytes(p) for p in parts]

    return st.tuples(samples, st.sampled_from(["s16", "f32"]),
                     st.sampled_from([1000, MIN_RATE - 1, MIN_RATE, 16000, 44100, MAX_RATE - 1,
                                      MAX_RATE + 1]),
                     st.sampled_from(["npc1", "npc2", "default"]), header_edits).map(build)


@pytest.mark.slow
def test_fuzzed_audio_messages_are_played_or_refused_and_never_break_the_runtime(endpoint):
    pub = Loudest()
    rt = Runtime(ServeConfig(frames=False, max_queued_s=20.0, max_total_queued_s=40.0),
                 pub, engine_factory=LoudnessEngine)
    inlet = AudioInlet(Commands(rt), endpoint)
    outcome = {"played": 0, "refused": 0}
    try:
        @settings(max_examples=400, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(parts=messages())
        def one(parts):
            try:
                inlet.accept(parts)
                outcome["played"] += 1
            except VasaError as e:
                assert "\n" not in str(e) and len(str(e)) < 600, str(e)
                outcome["refused"] += 1
        one()
    finally:
        inlet.close()
    assert outcome["played"] > 30 and outcome["refused"] > 100, outcome
    assert inlet.clips == outcome["played"]
    queued = sum(st.source.queued_samples for st in rt.streams.values())
    assert queued > 0
    # the loop plays through everything that was let in: finite, within full scale, and no
    # stream fails on it
    for hop in range(int(25 * 41)):
        end = int(round((hop + 1) * 16000 / 25))
        for state in list(rt.streams.values()):
            rt._advance(state, end)
    assert sum(st.source.queued_samples for st in rt.streams.values()) == 0
    assert pub.finite and pub.peak <= 1.0 and pub.samples >= queued
    assert rt.stats.failures == {}
    print(f"audio-in fuzz: {outcome}")


class _Clips:
    """A speak target that records what arrives."""

    def __init__(self):
        self.got = []
        self.arrived = threading.Event()

    def speak(self, samples, rate, stream):
        self.got.append((samples, rate, stream))
        self.arrived.set()


def _push(endpoint, curve=None):
    import zmq
    from vasa_bridge.transport.curve import secure_client
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    # A pusher whose handshake was refused has no peer to queue for once its connection is
    # dropped: a send then blocks, for ever without a timeout (this test hung on it once).
    sock.setsockopt(zmq.SNDTIMEO, 2000)
    if curve is not None:
        secure_client(sock, curve)
    sock.connect(endpoint)
    return sock


def test_a_curve_secured_inlet_takes_clips_from_listed_clients_only(tmp_path, endpoint):
    import zmq
    from vasa_bridge.transport.curve import ClientCurve, ServerCurve, generate_keys
    keys = tmp_path / "keys"
    generate_keys(keys, ("game",))
    generate_keys(tmp_path / "other", ("stranger",))  # a valid key pair that is not listed
    server = ServerCurve.load(keys / "server.key_secret", keys / "allowed_clients")
    clip = wire.encode_audio((0.25 * np.ones(1600)).astype(np.float32), stream="npc1", seq=0,
                             pts=0, sent=0, rate=16000, format="s16")
    target = _Clips()
    inlet = AudioInlet(target, endpoint, curve=server)
    stranger = _push(endpoint, ClientCurve.load(tmp_path / "other" / "stranger.key_secret",
                                                keys / "server.key"))
    plain = _push(endpoint)  # no CURVE at all
    game = None
    try:
        for refused in (stranger, plain):
            try:
                refused.send_multipart(clip)
            except zmq.Again:
                pass  # refused before the send: nothing to queue it for, nothing delivered
        assert not target.arrived.wait(1.5)  # the handshake fails: nothing reaches speak
        assert inlet.clips == 0 and inlet.refused == 0
        game = _push(endpoint, ClientCurve.load(keys / "game.key_secret", keys / "server.key"))
        game.send_multipart(clip)
        assert target.arrived.wait(5)
        (samples, rate, stream), = target.got
        assert stream == "npc1" and rate == 16000 and samples.shape == (1600, 1)
        np.testing.assert_allclose(samples, 0.25, atol=1 / 32767)
        assert inlet.clips == 1
    finally:
        for s in (stranger, plain, game):
            if s is not None:
                s.close(0)
        inlet.close()


def test_a_network_inlet_needs_curve_or_insecure(tmp_path):
    from vasa_bridge.errors import TransportError
    from vasa_bridge.transport.curve import ServerCurve, generate_keys
    with pytest.raises(TransportError, match=r"audio input endpoint 'tcp://0\.0\.0\.0:\d+' is "
                                             r"not a loopback address"):
        AudioInlet(_Clips(), f"tcp://0.0.0.0:{free_port()}")
    generate_keys(tmp_path, ("game",))
    server = ServerCurve.load(tmp_path / "server.key_secret", tmp_path / "allowed_clients")
    inlet = AudioInlet(_Clips(), f"tcp://0.0.0.0:{free_port()}", curve=server)
    inlet.close()
