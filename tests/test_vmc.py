"""VMC sender against a python-osc receiver on loopback.

The receiver is python-osc's BlockingOSCUDPServer served from one background thread: a single
handler thread keeps datagrams in arrival order (ThreadingOSCUDPServer starts a thread per datagram,
which can reorder the unbundled messages of a frame). It records every raw datagram, then lets
python-osc parse it.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_server import BlockingOSCUDPServer

from vasa_bridge.errors import ConfigError, TransportError
from vasa_bridge.motion import MotionTrack
from vasa_bridge.motion.conversions import quat_to_matrix, to_unity_quaternion, to_vrm0
from vasa_bridge.cli import options
from vasa_bridge.outputs.vmc import (PERFECT_SYNC_NAMES, UDP_MAX_PAYLOAD, VmcConfig, VmcSender,
                                     frame_messages, parse_host_port)

VRM0_PRESETS = {"A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R", "Joy", "Angry", "Sorrow",
                "Fun", "Surprised", "LookUp", "LookDown", "LookLeft", "LookRight", "Neutral"}
VRM0_NAMES = tuple(to_vrm0(np.zeros(52)))  # the sender's order: conversions.to_vrm0's


class _Recorder(Dispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.datagrams: list[bytes] = []
        self.lock = threading.Lock()

    def call_handlers_for_packet(self, data, client_address):
        with self.lock:
            self.datagrams.append(bytes(data))
        return super().call_handlers_for_packet(data, client_address)


class _Server(BlockingOSCUDPServer):
    def server_bind(self) -> None:
        # Unbundled mode sends ~60 datagrams per frame in a burst: make room for them.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        super().server_bind()


@pytest.fixture
def receiver():
    rec = _Recorder()
    server = _Server(("127.0.0.1", 0), rec)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    rec.port = server.server_address[1]

    def wait_for(n: int, timeout: float = 5.0) -> list[bytes]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with rec.lock:
                if len(rec.datagrams) >= n:
                    return list(rec.datagrams)
            time.sleep(0.01)
        with rec.lock:
            return list(rec.datagrams)

    rec.wait_for = wait_for
    yield rec
    server.shutdown()
    server.server_close()


def _track(n: int = 12, seed: int = 0) -> MotionTrack:
    rng = np.random.default_rng(seed)
    shapes = rng.uniform(0, 1, (n, 52)).astype(np.float32)
    rot = rng.uniform(-40, 40, (n, 3))
    trans = rng.uniform(-0.05, 0.05, (n, 3))
    return MotionTrack(shapes, rot, trans, fps=25.0, start=3.0)


def _typetags(msg: OscMessage) -> str:
    d = msg.dgram
    start = d.index(b",")
    return d[start:d.index(b"\0", start)].decode()


def _messages(dgram: bytes) -> list[OscMessage]:
    if OscBundle.dgram_is_bundle(dgram):
        return [c for c in OscBundle(dgram)]  # our bundles hold messages only
    return [OscMessage(dgram)]


def _split_frames(msgs: list[OscMessage]) -> list[list[OscMessage]]:
    frames, cur = [], []
    for m in msgs:
        cur.append(m)
        if m.address == "/VMC/Ext/Blend/Apply":
            frames.append(cur)
            cur = []
    assert cur == [], f"{len(cur)} messages after the last Apply"
    return frames


def _check_frame(msgs, track, i, names) -> None:
    addrs = [m.address for m in msgs]
    assert addrs[0] == "/VMC/Ext/OK" and msgs[0].params == [1] and _typetags(msgs[0]) == ",i"
    assert addrs[1] == "/VMC/Ext/T" and _typetags(msgs[1]) == ",f"
    assert msgs[1].params[0] == pytest.approx(track.start + i / track.fps, abs=1e-5)
    head = [m for m in msgs if m.address == "/VMC/Ext/Bone/Pos"]
    assert len(head) == 1 and head[0].params[0] == "Head"
    assert _typetags(head[0]) == ",sfffffff"
    q = np.array(head[0].params[4:8])
    want = to_unity_quaternion(track.head_rotation[i])
    assert np.allclose(q, want, atol=1e-6), (q, want)
    assert np.allclose(head[0].params[1:4], 0.0)  # position: the avatar's own head offset (0)
    vals = [m for m in msgs if m.address == "/VMC/Ext/Blend/Val"]
    assert all(_typetags(m) == ",sf" for m in vals)
    assert [m.params[0] for m in vals] == list(names)
    got = np.array([m.params[1] for m in vals])
    assert np.all((got >= 0) & (got <= 1))
    assert addrs.count("/VMC/Ext/Blend/Apply") == 1 and addrs[-1] == "/VMC/Ext/Blend/Apply"
    assert addrs.index("/VMC/Ext/Blend/Apply") > max(i for i, a in enumerate(addrs)
                                                     if a == "/VMC/Ext/Blend/Val")
    return got


def test_name_sets():
    assert set(VRM0_NAMES) == VRM0_PRESETS and len(VRM0_NAMES) == 18
    assert len(set(PERFECT_SYNC_NAMES)) == 52
    assert PERFECT_SYNC_NAMES[:2] == ("EyeBlinkLeft", "EyeLookDownLeft")
    assert PERFECT_SYNC_NAMES[-1] == "TongueOut" and "JawOpen" in PERFECT_SYNC_NAMES


def test_bundled_perfect_sync_one_bundle_per_frame(receiver):
    track = _track()
    with VmcSender(VmcConfig(port=receiver.port)) as s:
        for f in track:
            s.send(f)
        stats = dict(s.stats)
    dgrams = receiver.wait_for(len(track))
    assert len(dgrams) == len(track)
    assert all(OscBundle.dgram_is_bundle(d) for d in dgrams)
    for i, d in enumerate(dgrams):
        msgs = _messages(d)
        got = _check_frame(msgs, track, i, PERFECT_SYNC_NAMES)
        assert np.allclose(got, track.blendshapes[i], atol=1e-7)
    assert stats["sent"] == stats["frames"] == len(track) and stats["errors"] == 0
    assert stats["datagrams"] == len(track)


def test_unbundled_vrm0_presets(receiver):
    track = _track(seed=1)
    per_frame = 2 + 1 + len(VRM0_NAMES) + 1  # OK, T, Head, values, Apply
    with VmcSender(VmcConfig(port=receiver.port, names="vrm0", bundled=False)) as s:
        for f in track:
            s.send(f)
    dgrams = receiver.wait_for(len(track) * per_frame)
    assert len(dgrams) == len(track) * per_frame
    assert not any(OscBundle.dgram_is_bundle(d) for d in dgrams)
    frames = _split_frames([OscMessage(d) for d in dgrams])
    assert len(frames) == len(track)
    for i, msgs in enumerate(frames):
        got = _check_frame(msgs, track, i, VRM0_NAMES)
        want = to_vrm0(track.blendshapes[i])
        assert np.allclose(got, [want[n] for n in VRM0_NAMES], atol=1e-7)


def test_both_name_sets_fit_one_datagram(receiver):
    track = _track(n=3, seed=2)
    with VmcSender(VmcConfig(port=receiver.port, names="both")) as s:
        for f in track:
            s.send(f)
        biggest = s.stats["max_datagram_bytes"]
    dgrams = receiver.wait_for(3)
    for i, d in enumerate(dgrams):
        _check_frame(_messages(d), track, i, PERFECT_SYNC_NAMES + VRM0_NAMES)
    # ~3.4 KB: above a 1500-byte MTU (IP fragments it), far below UDP's 65,507-byte limit.
    assert 1500 < biggest == max(len(d) for d in dgrams) < UDP_MAX_PAYLOAD // 8


def test_frame_split_into_bundles_below_max_datagram(receiver):
    track = _track(n=4, seed=3)
    cfg = VmcConfig(port=receiver.port, names="both", max_datagram=1024)
    with VmcSender(cfg) as s:
        for f in track:
            s.send(f)
        n = s.stats["datagrams"]
    dgrams = receiver.wait_for(n)
    assert len(dgrams) == n and n >= 4 * 3  # ~3.4 KB per frame -> at least 3 bundles each
    assert all(len(d) <= 1024 and OscBundle.dgram_is_bundle(d) for d in dgrams)
    msgs = [m for d in dgrams for m in _messages(d)]
    frames = _split_frames(msgs)
    assert len(frames) == len(track)
    for i, fm in enumerate(frames):
        _check_frame(fm, track, i, PERFECT_SYNC_NAMES + VRM0_NAMES)
        # Same messages, same order as one big bundle.
        assert [m.dgram for m in fm] == [m.dgram for m in frame_messages(track.frame(i), cfg)]


def test_neck_and_head_compose_to_the_head_rotation(receiver):
    track = _track(n=2, seed=4)
    with VmcSender(VmcConfig(port=receiver.port, neck_share=0.4)) as s:
        s.send(track.frame(1))
    (d,) = receiver.wait_for(1)
    bones = {m.params[0]: np.array(m.params[4:8]) for m in _messages(d)
             if m.address == "/VMC/Ext/Bone/Pos"}
    assert set(bones) == {"Neck", "Head"}
    composed = quat_to_matrix(bones["Neck"]) @ quat_to_matrix(bones["Head"])
    want = quat_to_matrix(to_unity_quaternion(track.head_rotation[1]))
    assert np.allclose(composed, want, atol=1e-6)
    assert not np.allclose(bones["Head"], to_unity_quaternion(track.head_rotation[1]), atol=1e-3)


def test_head_translation_and_offset_in_unity_frame(receiver):
    track = _track(n=1, seed=5)
    cfg = VmcConfig(port=receiver.port, head_offset_m=(0.0, 0.1, 0.02), head_translation=True)
    with VmcSender(cfg) as s:
        s.send(track.frame(0))
    (d,) = receiver.wait_for(1)
    (head,) = [m for m in _messages(d) if m.address == "/VMC/Ext/Bone/Pos"]
    x, y, z = track.head_translation[0]
    assert np.allclose(head.params[1:4], [-x, 0.1 + y, 0.02 + z], atol=1e-6)


def test_no_receiver_never_raises_and_closed_sender_refuses():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now: the kernel answers "port unreachable"
    track = _track(n=5)
    s = VmcSender(VmcConfig(port=port))
    for f in track:
        s.send(f)  # ECONNREFUSED from an earlier datagram is counted, not raised
    assert s.stats["frames"] == 5
    s.close()
    s.close()
    with pytest.raises(TransportError, match="send\\(\\) was called after close\\(\\)"):
        s.send(track.frame(0))


@pytest.mark.parametrize("kw,match", [
    ({"names": "vrm1"}, "names is 'vrm1'"),
    ({"port": 0}, "port is 0"),
    ({"max_datagram": 100}, "max_datagram is 100"),
    ({"neck_share": 1.0}, "neck_share is 1.0"),
])
def test_bad_config_names_the_value(kw, match):
    with pytest.raises(ConfigError, match=match):
        VmcConfig(**kw)


def test_cli_options_build_sinks(receiver, tmp_path):
    p = argparse.ArgumentParser()
    p.add_argument("track")
    options.add_output_options(p)
    a = p.parse_args(["t.npz"])
    assert options.sinks_from_args(a) == []
    a = p.parse_args(["t.npz", "--vmc"])
    assert a.vmc == "127.0.0.1:39539" and a.vmc_names == "arkit" and not a.vmc_unbundled
    a = p.parse_args(["t.npz", f"--vmc=127.0.0.1:{receiver.port}", "--vmc-names", "both",
                      "--vmc-unbundled"])
    (s,) = options.sinks_from_args(a)
    with s:
        assert (s.config.port, s.config.names, s.config.bundled) == (receiver.port, "both", False)
        s.send(_track(n=1).frame(0))
    assert len(receiver.wait_for(3 + 70 + 1)) == 3 + 70 + 1
    assert parse_host_port("[::1]:40000") == ("::1", 40000)
    assert parse_host_port(":40000") == ("127.0.0.1", 40000)
    with pytest.raises(ConfigError, match="--vmc is 'host:port'"):
        parse_host_port("host:port")
    # A track path swallowed by `--vmc` (its value is optional) is refused, not sent to.
    q = argparse.ArgumentParser()
    q.add_argument("track", nargs="?")
    options.add_output_options(q)
    with pytest.raises(ConfigError, match="--vmc is 'talk.npz'.*--vmc=HOST:PORT"):
        options.sinks_from_args(q.parse_args(["--vmc", "talk.npz"]))
    with pytest.raises(ConfigError, match="--vmc is 'line.vasab'"):  # the Unity track formats too
        options.sinks_from_args(q.parse_args(["--vmc", "line.vasab"]))
    with pytest.raises(ConfigError, match="--vts is 'talk.npz'.*--vts=URL"):
        options.sinks_from_args(q.parse_args(["--vts", "talk.npz"]))


@pytest.mark.parametrize("text", ["[::1", "[::1]x", "[::1]39539", "[localhost]:39539",
                                  "::1:47002", "127.0.0.1:0", "127.0.0.1:70000", "localhost:"])
def test_malformed_vmc_addresses_are_refused_with_the_ipv6_form(text):
    """An unclosed bracket used to send to '::' on the default port, and an IPv6 address with
    a port but no brackets was reported as a host that cannot be resolved."""
    with pytest.raises(ConfigError, match=r"--vmc is .*expected HOST:PORT .*\[::1\]:39539"):
        parse_host_port(text)


@pytest.mark.parametrize("size", ["100", "70000", "big"])
def test_a_vmc_datagram_size_out_of_range_is_refused_naming_the_option(size, capsys):
    """`--vmc-max-datagram 100` was refused as "VMC max_datagram is 100": a name the user never
    typed (and only once replay had started)."""
    from vasa_bridge.cli import build_parser
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["replay", "t.npz", "--vmc", "--vmc-max-datagram", size])
    shown = repr(size) if size == "big" else size
    assert refused.value.code == 2 and capsys.readouterr().err == (
        f"vasa-bridge replay: error: argument --vmc-max-datagram: {shown} is not a size in "
        f"[512, {UDP_MAX_PAYLOAD}] bytes (`vasa-bridge replay --help` lists the options)\n")


def test_vmc_over_ipv6_loopback_reaches_the_receiver():
    import socket
    try:
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with rx:
        rx.settimeout(5.0)
        host, port = parse_host_port(f"[::1]:{rx.getsockname()[1]}")
        assert parse_host_port("::1") == ("::1", 39539)  # a bare address: the default port
        with VmcSender(VmcConfig(host=host, port=port)) as s:
            s.send(_track(n=1).frame(0))
        data, _ = rx.recvfrom(65536)
    assert data.startswith(b"#bundle\0") and b"/VMC/Ext/Blend/Apply" in data
