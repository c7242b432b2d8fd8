"""The web server without a browser: frame/audio packets, HTTP API against a real runtime,
token and origin checks."""

import io
import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from vasa_bridge.errors import ConfigError
from vasa_bridge.protocol import wire
from vasa_bridge.web import codec
from vasa_bridge.web.server import (
    needs_token,
    parse_http,
    resolve_token,
    start_in_thread,
)
from vasa_bridge.web.testing import LiveRuntime, free_port, prepared, tone, wav_bytes


def http(url, data=None, headers=None, method=None):
    """(status, body as JSON or text)."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


# --- packets --------------------------------------------------------------------------------


def frame_message(rgba, fmt="rgba8", alpha="straight"):
    parts = wire.encode_frame(rgba, stream="s1", seq=3, pts=120_000_000, sent=5, format=fmt,
                              alpha=alpha)
    return wire.decode([bytes(p) for p in parts])


def test_packets_round_trip_with_aligned_payload():
    for extra in range(8):  # header lengths of every residue mod 4
        header = {"kind": "audio", "pad": "x" * extra}
        data = codec.pack(header, b"\x01\x02\x03\x04")
        back, payload = codec.unpack(data)
        assert back == header and payload == b"\x01\x02\x03\x04"
        assert (len(data) - len(payload)) % 4 == 0
    with pytest.raises(ValueError, match="claims"):
        codec.unpack(b"\xff\x00\x00\x00{}")


def test_opaque_frames_go_as_jpeg_and_transparent_ones_keep_their_alpha():
    import skimage.data
    rgb = skimage.data.astronaut()[::2, ::2]  # (256, 256, 3)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], 2)
    header, payload = codec.unpack(codec.frame_packet(frame_message(rgba), codec.CodecConfig()))
    assert header["codec"] == "jpeg" and header["alpha"] is False
    assert (header["stream"], header["seq"], header["pts"]) == ("s1", 3, 120_000_000)
    decoded = np.asarray(Image.open(io.BytesIO(payload)).convert("RGB")).astype(float)
    assert np.abs(decoded - rgb).mean() < 6  # quality 80: close to the original
    assert len(payload) < rgba.nbytes / 8

    cut = rgba.copy()
    cut[:, :100, 3] = 0  # the left part transparent
    for cfg in (codec.CodecConfig(), codec.CodecConfig(alpha_codec="webp"),
                codec.CodecConfig(alpha_codec="png")):
        header, payload = codec.unpack(codec.frame_packet(frame_message(cut), cfg))
        assert header["codec"] == cfg.alpha_codec and header["alpha"] is True
        if header["codec"] == "raw":
            back = np.frombuffer(payload, np.uint8).reshape(cut.shape)
            np.testing.assert_array_equal(back, cut)
        else:
            back = np.asarray(Image.open(io.BytesIO(payload)).convert("RGBA"))
            np.testing.assert_array_equal(back[..., 3], cut[..., 3])  # alpha is lossless


def test_bgra_and_premultiplied_frames_reach_the_browser_as_straight_rgba():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = 128
    premul = rgba.copy()
    premul[..., :3] = np.round(rgba[..., :3] * (128 / 255)).astype(np.uint8)
    bgra = premul[..., [2, 1, 0, 3]].copy()
    out = codec.rgba_of(frame_message(bgra, fmt="bgra8", alpha="premultiplied"))
    assert np.abs(out.astype(int) - rgba).max() <= 2


def test_audio_packets_are_s16_whatever_the_wire_format():
    samples = np.array([[0.5], [-0.25], [1.0]], np.float32)
    parts = wire.encode_audio(samples, stream="default", seq=0, pts=0, sent=0, rate=16000,
                              format="f32")
    msg = wire.decode([bytes(p) for p in parts])
    header, payload = codec.unpack(codec.audio_packet(msg))
    assert header["rate"] == 16000 and header["samples"] == 3
    np.testing.assert_array_equal(np.frombuffer(payload, "<i2"), [16384, -8192, 32767])


def test_http_addresses_and_tokens():
    assert parse_http("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_http(":9000") == ("127.0.0.1", 9000)
    assert parse_http("0.0.0.0") == ("0.0.0.0", 8765)
    assert parse_http("[::1]:81") == ("::1", 81)
    with pytest.raises(ConfigError, match="port in 0..65535"):
        parse_http("host:99999")
    assert not needs_token("127.0.0.1") and not needs_token("localhost")
    assert needs_token("0.0.0.0") and needs_token("192.168.1.5")
    token, generated = resolve_token("0.0.0.0", None)
    assert generated and len(token) >= 20
    assert resolve_token("0.0.0.0", "mine") == ("mine", False)
    assert resolve_token("127.0.0.1", None) == (None, False)


# --- the HTTP server --------------------------------------------------------------------------


def test_token_origin_and_host_are_checked():
    port = free_port()
    with start_in_thread(f"127.0.0.1:{port}", f"tcp://127.0.0.1:{free_port()}", None,
                         token="s3cret") as h:
        assert http(h.url + "/api/status")[0] == 401
        assert http(h.url + "/overlay?token=wrong")[0] == 401
        status, body = http(h.url + "/api/status?token=s3cret")
        assert status == 200 and body["connected"] is False
        assert http(h.url + "/api/status", headers={"X-Vasa-Token": "s3cret"})[0] == 200
        assert http(h.url + "/static/player.js", headers={"Cookie": "vasa_token=s3cret"})[0] == 200
        status, text = http(h.url + "/api/stop?token=s3cret", data=b"",
                            headers={"Origin": "http://evil.example"})
        assert status == 403 and "evil.example" in text
        status, text = http(h.url + "/?token=s3cret", headers={"Host": f"rebound.example:{port}"})
        assert status == 403 and "rebound.example" in text
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect
        ws_url = h.url.replace("http://", "ws://") + "/ws?panel=1"
        with pytest.raises(InvalidStatus, match="401"):
            connect(ws_url).close()
        with connect(ws_url + "&token=s3cret") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "status"
        status, body = http(h.url + "/api/stop?token=s3cret", data=b"")  # no control endpoint
        assert status == 503 and "no control endpoint" in body["error"]


@pytest.fixture(scope="module")
def face():
    return prepared(128, alpha=False)


def test_http_api_drives_a_real_runtime(face):
    pub, ctl = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    with LiveRuntime(pub, ctl, face) as rt, start_in_thread("127.0.0.1:0", pub, ctl,
                                                              control_timeout_ms=1500) as h:
        deadline = time.time() + 10
        while time.time() < deadline:
            status, body = http(h.url + "/api/status")
            if body["runtime"] and body["connected"] and body["hello"]:
                break
            time.sleep(0.2)
        assert body["runtime"]["streams"] == ["default"] and body["hello"]["fps"] == 25.0

        status, body = http(h.url + "/api/set", json.dumps({"emotion": "smug"}).encode(),
                            {"Content-Type": "application/json"})
        assert status == 400 and "expected one of" in body["error"]
        assert body["code"] == "bad_argument"  # docs/protocol.md
        status, body = http(h.url + "/api/set", b"{not json", {"Content-Type": "application/json"})
        assert status == 400 and "not JSON" in body["error"]
        status, body = http(h.url + "/api/set", json.dumps({"emotion": "happy", "gaze": [
            0.5, -0.2]}).encode(), {"Content-Type": "application/json"})
        assert status == 200 and body["result"]["emotion"] == "happy"
        assert rt.runtime.status()["conditions"]["gaze"] == [0.5, -0.2]

        status, body = http(h.url + "/api/speak?stream=npc1", wav_bytes(tone(0.5)))
        assert status == 200 and body["result"]["stream"] == "npc1"
        assert body["result"]["duration"] == pytest.approx(0.5, abs=0.01)
        status, body = http(h.url + "/api/speak", b"RIFF garbage")
        assert status == 400 and "not a readable WAV" in body["error"]

        status, body = http(h.url + "/api/load_portrait", b"\x89PNG not really")
        assert status == 400 and "expected encoded PNG/JPEG/WebP" in body["error"]

        assert http(h.url + "/api/stop", b"")[0] == 200
        rt.thread.join(5)
        assert not rt.thread.is_alive()
        rt.control.close()
        status, body = http(h.url + "/api/set", json.dumps({"emotion": "sad"}).encode(),
                            {"Content-Type": "application/json"})
        assert status == 503 and "no reply" in body["error"]


def test_cli_options_for_web_and_serve():
    import argparse

    from vasa_bridge.web.cli import add_cli, add_serve_options, start_from_serve_args
    top = argparse.ArgumentParser()
    add_cli(top.add_subparsers())
    args = top.parse_args(["web", "--sub", "tcp://127.0.0.1:7001", "--http", "0.0.0.0:9000",
                           "--alpha-codec", "webp"])
    assert (args.sub, args.http, args.alpha_codec, args.http_token) == (
        "tcp://127.0.0.1:7001", "0.0.0.0:9000", "webp", None)
    from vasa_bridge.web.cli import run
    with pytest.raises(ConfigError, match="go together"):
        run(top.parse_args(["web", "--curve-key", "panel.key_secret"]))
    serve = argparse.ArgumentParser()
    add_serve_options(serve)
    assert serve.parse_args(["--http"]).http == "127.0.0.1:8765"
    assert serve.parse_args(["--http", ":9001"]).http == ":9001"
    off = serve.parse_args([])
    assert off.http is None and start_from_serve_args(off, "tcp://x:1", None) is None
    on = serve.parse_args(["--http", "127.0.0.1:0", "--http-token", "t0k"])
    with start_from_serve_args(on, f"tcp://127.0.0.1:{free_port()}", None) as h:
        assert h.token == "t0k" and http(h.url + "/api/status")[0] == 401


class _Loop:
    """Stands in for the event loop: runs what the bridge hands over at once."""

    def call_soon_threadsafe(self, fn, *args):
        fn(*args)


def test_bridge_encodes_only_the_newest_frame_of_watched_streams():
    from vasa_bridge.web.bridge import Bridge, BridgeConfig
    got = []
    bridge = Bridge(BridgeConfig(f"tcp://127.0.0.1:{free_port()}"), _Loop(),
                    lambda kind, stream, item: got.append((kind, stream, item)),
                    lambda: frozenset({"default"}))
    try:
        img = np.zeros((16, 16, 4), np.uint8)
        img[..., 3] = 255
        batch = []
        for seq in range(3):
            for stream in ("default", "npc1"):
                img[..., 0] = seq * 50
                batch.append([bytes(p) for p in wire.encode_frame(
                    img, stream=stream, seq=seq, pts=seq * 40_000_000, sent=0)])
        batch.append([bytes(p) for p in wire.encode_audio(
            np.zeros((640, 1), np.int16), stream="default", seq=0, pts=0, sent=0, rate=16000)])
        batch.append([b"frame/default/", b"\x80", b""])  # malformed: counted, skipped
        bridge._handle(batch)
    finally:
        bridge.close()
    frames = [(s, codec.unpack(item)[0]) for k, s, item in got if k == "frame"]
    assert [(s, h["seq"], h["codec"]) for s, h in frames] == [("default", 2, "jpeg")]
    assert [k for k, s, _ in got if k == "audio"] == ["audio"]
    assert sorted(s for k, s, _ in got if k == "frame_raw") == ["default", "npc1"]
    assert bridge.stats["frames_skipped"] == 4 and bridge.stats["malformed"] == 1
    assert bridge.stats["frames_unwatched"] == 1 and bridge.stats["frames_encoded"] == 1


def test_curve_secured_control_from_web_and_from_serve(face, tmp_path):
    """`web --curve-key/--curve-server` speaks CURVE to the runtime; `serve --http` with
    --curve-secret reaches its own runtime through a private inproc:// control server."""
    import argparse

    from vasa_bridge.transport import ControlConfig, ControlServer
    from vasa_bridge.transport.control import add_cli_options
    from vasa_bridge.transport.curve import ClientCurve, generate_keys
    from vasa_bridge.web.cli import add_serve_options, start_from_serve_args
    keys = tmp_path / "keys"
    generate_keys(keys, ("panel",))
    pub, ctl, secure = (f"tcp://127.0.0.1:{free_port()}" for _ in range(3))
    body = json.dumps({"emotion": "sad"}).encode()
    json_type = {"Content-Type": "application/json"}
    with LiveRuntime(pub, ctl, face) as rt, ControlServer(rt.runtime, ControlConfig(
            endpoint=secure, curve_secret_key=keys / "server.key_secret",
            curve_allowed_clients=keys / "allowed_clients")):
        curve = ClientCurve.load(keys / "panel.key_secret", keys / "server.key")
        with start_in_thread("127.0.0.1:0", pub, secure, control_curve=curve,
                             control_timeout_ms=3000) as h:
            status, reply = http(h.url + "/api/set", body, json_type)
            assert status == 200 and reply["result"]["emotion"] == "sad"
        with start_in_thread("127.0.0.1:0", pub, secure, control_timeout_ms=1000) as h:
            status, reply = http(h.url + "/api/set", body, json_type)  # no keys: no way in
            assert status == 503

        serve = argparse.ArgumentParser()
        serve.add_argument("--control")
        serve.add_argument("--insecure", action="store_true")
        add_cli_options(serve)
        add_serve_options(serve)
        args = serve.parse_args(["--http", "127.0.0.1:0", "--curve-secret",
                                 str(keys / "server.key_secret"), "--curve-allowed",
                                 str(keys / "allowed_clients")])
        with start_from_serve_args(args, pub, secure, runtime=rt.runtime) as h:
            assert h.config.control_endpoint.startswith("inproc://")
            status, reply = http(h.url + "/api/set", json.dumps({"emotion": "happy"}).encode(),
                                 json_type)
            assert status == 200 and rt.runtime.status()["conditions"]["emotion"] == "happy"
