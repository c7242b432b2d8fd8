"""The web server without a browser: frame/audio packets, HTTP API against a real runtime,
token and origin checks."""

import asyncio
import io
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from vasa_bridge.errors import ConfigError
from vasa_bridge.protocol import wire
from vasa_bridge.web import codec
from vasa_bridge.web.app import start_in_thread
from vasa_bridge.web.security import needs_token, parse_http, resolve_token
from vasa_bridge.web.testing import LiveRuntime, free_port, prepared, tone, wav_bytes

ANY = "tcp://127.0.0.1:*"  # ZeroMQ binds a free port; the bound address is read back


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
    with start_in_thread("127.0.0.1:0", f"tcp://127.0.0.1:{free_port()}", None,
                         token="s3cret") as h:
        port = int(h.url.rsplit(":", 1)[1])
        assert http(h.url + "/api/status")[0] == 401
        assert http(h.url + "/overlay?token=wrong")[0] == 401
        status, body = http(h.url + "/api/status?token=s3cret")
        assert status == 200 and body["connected"] is False
        # no control endpoint: its status is never polled, and it says so (not "not polled yet")
        assert body["runtime"] is None and "--control none" in body["error"], body["error"]
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


@pytest.mark.slow
def test_http_api_drives_a_real_runtime(face):
    with LiveRuntime(ANY, ANY, face) as rt, start_in_thread(
            "127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint, control_timeout_ms=1500) as h:
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
        assert rt.commands.status()["conditions"]["gaze"] == [0.5, -0.2]

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
        # (nothing connected: the request is not sent, so no runtime started later runs it)
        assert status == 503 and "could not send" in body["error"] \
            and "nothing sent" in body["error"] and body["code"] == "unreachable"


def test_cli_options_for_web_and_serve():
    import argparse

    from vasa_bridge.cli.web import add_cli, add_serve_options, start_from_serve_args
    top = argparse.ArgumentParser()
    add_cli(top.add_subparsers())
    args = top.parse_args(["web", "--sub", "tcp://127.0.0.1:7001", "--http", "0.0.0.0:9000",
                           "--alpha-codec", "webp"])
    assert (args.sub, args.http, args.alpha_codec, args.http_token) == (
        "tcp://127.0.0.1:7001", "0.0.0.0:9000", "webp", None)
    from vasa_bridge.cli.web import run
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


@pytest.mark.slow
def test_curve_secured_control_from_web_and_from_serve(face, tmp_path):
    """`web --curve-key/--curve-server` speaks CURVE to the runtime; `serve --http` with
    --curve-secret reaches its own runtime through a private inproc:// control server."""
    import argparse

    from vasa_bridge.transport import ControlConfig, ControlServer
    from vasa_bridge.cli.options import add_control_options as add_cli_options
    from vasa_bridge.transport.curve import ClientCurve, generate_keys
    from vasa_bridge.cli.web import add_serve_options, start_from_serve_args
    keys = tmp_path / "keys"
    generate_keys(keys, ("panel",))
    body = json.dumps({"emotion": "sad"}).encode()
    json_type = {"Content-Type": "application/json"}
    with LiveRuntime(ANY, ANY, face) as rt, ControlServer(rt.commands, ControlConfig(
            endpoint=ANY, curve_secret_key=keys / "server.key_secret",
            curve_allowed_clients=keys / "allowed_clients")) as secured:
        pub, secure = rt.pub.endpoint, secured.endpoint
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
        with start_from_serve_args(args, pub, secure, runtime=rt.commands) as h:
            assert h.config.control_endpoint.startswith("inproc://")
            status, reply = http(h.url + "/api/set", json.dumps({"emotion": "happy"}).encode(),
                                 json_type)
            assert status == 200 and rt.commands.status()["conditions"]["emotion"] == "happy"


def test_opaque_and_foreign_origins_and_text_bodies_are_refused():
    """Issue #16: `Origin: null` (sandboxed frames, file: and data: pages) was let through, and
    text/plain bodies (no CORS preflight) were parsed as JSON. With no control endpoint an
    accepted request answers 503, so 403/415 show the guard refused it first."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    with start_in_thread("127.0.0.1:0", f"tcp://127.0.0.1:{free_port()}", None) as h:
        own = h.url  # http://127.0.0.1:PORT
        body = json.dumps({"emotion": "happy"}).encode()
        json_type = {"Content-Type": "application/json"}
        for origin in ("null", "http://evil.example", own.replace("http:", "https:"),
                       own + "0", "http://localhost:1"):
            for path, data in (("/api/set", body), ("/api/speak", wav_bytes(tone(0.1))),
                               ("/api/stop", b""), ("/api/load_portrait", b"\x89PNG")):
                status, text = http(h.url + path, data, {**json_type, "Origin": origin})
                assert status == 403 and "refused" in text and repr(own) in text, (origin, path)
            with pytest.raises(InvalidStatus, match="403"):
                connect(h.url.replace("http://", "ws://") + "/ws?panel=1",
                        origin=origin).close()
        status, text = http(h.url + "/api/set", body, {"Origin": "null", **json_type})
        assert "Origin: null" in text and "sandboxed frame" in text
        status, text = http(h.url + "/api/stop", b"", {"Sec-Fetch-Site": "cross-site"})
        assert status == 403 and "cross-site POST" in text
        # The panel's own origin, and clients that send none (curl): through to the handler.
        assert http(h.url + "/api/set", body, {**json_type, "Origin": own})[0] == 503
        assert http(h.url + "/api/set", body, {**json_type, "Sec-Fetch-Site": "same-origin"})[0] \
            == 503
        assert http(h.url + "/api/speak", wav_bytes(tone(0.1)))[0] == 503  # curl's default type
        with connect(h.url.replace("http://", "ws://") + "/ws?panel=1", origin=own) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "status"
        # JSON only as application/json; no text/* body anywhere (415, a JSON reason).
        for ctype in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                      None):
            status, reply = http(h.url + "/api/set", body, {"Content-Type": ctype} if ctype
                                 else {}, method="POST")
            assert status == 415 and reply["code"] == "unsupported_media_type", ctype
            assert "expected 'application/json'" in reply["error"]
        assert http(h.url + "/api/set", body, {"Content-Type": "application/json; charset=utf-8"}
                    )[0] == 503
        for path in ("/api/speak", "/api/load_portrait", "/api/stop"):
            status, reply = http(h.url + path, b"x", {"Content-Type": "text/plain"})
            assert status == 415 and "text/plain" in reply["error"], path
        refused = http(h.url + "/api/status")[1]["web"]["refused"]
        assert refused["origin"] == 5 * 5 + 2 and refused["media_type"] == 7


# --- fuzz (issue #16): seeded, bounded -------------------------------------------------------

FUZZ_ORIGINS = [None, "null", "http://evil.example", "file://", "http://127.0.0.1", "x" * 3000,
                "http://[::1]:1", "javascript:alert(1)", "http://127.0.0.1:1\r\nX-A: b"]
FUZZ_TYPES = [None, "application/json", "text/plain", "text/plain;charset=utf-8", "text/html",
              "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; "
              "boundary=zz", "audio/wav", "image/png", "application/octet-stream", ";;;", "x" * 500,
              "application/json; charset=\u00e9"]
FUZZ_PATHS = ["/api/set", "/api/speak", "/api/load_portrait", "/api/stop", "/api/status",
              "/api/status?history=1", "/ws", "/", "/overlay", "/static/panel.js",
              "/static/../server.py", "/api/nothing", "/api/speak?stream=%00%ff", "/" + "a" * 4000]


def _fuzz_body(rng):
    pick = rng.randrange(6)
    if pick == 0:
        return b""
    if pick == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2048)))
    if pick == 2:
        return b"--zz\r\nContent-Disposition: form-data; name=file\r\n\r\n" + \
            bytes(rng.randrange(256) for _ in range(64)) + rng.choice([b"\r\n--zz--\r\n", b""])
    if pick == 3:
        return wav_bytes(tone(rng.choice([0.01, 0.2])))[:rng.randrange(10, 3000)]
    return json.dumps(_fuzz_json(rng, 3)).encode()


def _fuzz_json(rng, depth):
    pick = rng.randrange(9 if depth > 0 else 6)
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        return rng.choice([0, -1, 2**63, 1e308, -1e-300, float("nan"), float("inf"), 0.5])
    if pick == 2:
        return rng.choice(["happy", "smug", "", "\x00", "\u202e", "x" * 10000, "default", "a b"])
    if pick == 3:
        return [rng.uniform(-2, 2) for _ in range(rng.randrange(4))]
    if pick in (4, 5):
        return {"emotion": rng.choice(["happy", "sad", "neutral", 7, None, "\x1b[2J"]),
                "gaze": rng.choice([[0.1, 0.2], [float("nan"), 0], [1e300, -1e300], "left", [1],
                                    [[0.1], 0.2]]),
                "head_motion": rng.choice([0.5, -3, float("inf"), "1", None]),
                "stream": rng.choice(["default", "npc1", "", "a/b", "x" * 100, 3])}
    if pick in (6, 7):
        return [_fuzz_json(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {str(rng.randrange(5)): _fuzz_json(rng, depth - 1) for _ in range(rng.randrange(4))}


@pytest.mark.slow
def _multipart(fields: dict) -> tuple[bytes, dict]:
    """A multipart/form-data body of `fields` (name -> bytes) and its Content-Type header."""
    body = b"".join(b"--XyZ\r\nContent-Disposition: form-data; name=\"%s\"%s\r\n\r\n%s\r\n"
                    % (k.encode(), b'; filename="a.wav"' if k == "file" else b"", v)
                    for k, v in fields.items()) + b"--XyZ--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=XyZ"}


def test_api_refusals_are_json_and_broken_requests_log_one_line(caplog):
    """Refusals that aiohttp raised (no such route, a body or field over its limit) came back
    as text, and a request line over 8 KiB or a client gone mid-upload put tracebacks in the
    runtime's log."""
    import logging
    import socket
    wav = wav_bytes(tone(0.2))
    with caplog.at_level(logging.INFO), \
            start_in_thread("127.0.0.1:0", f"tcp://127.0.0.1:{free_port()}", None) as h:
        host, port = h.url.removeprefix("http://").split(":")
        for method, path, data, headers, status, code, text in (
                ("POST", "/api/nothing", b"", {}, 404, "not_found", "POST /api/nothing is not"),
                ("GET", "/api/speak", None, {}, 405, "method_not_allowed", "GET /api/speak is"),
                ("POST", "/api/speak", *_multipart({"file": wav, "text": b"a" * 70000}), 413,
                 "too_large", "field 'text' is over 65536 bytes"),
                ("POST", "/api/speak", *_multipart({"text": b"hi"}), 400, "bad_argument",
                 "multipart upload has no field 'file'"),
                ("POST", "/api/speak", *_multipart({"file": wav, "text": b"\xff\xfemap"}), 400,
                 "bad_argument", "field 'text' is not UTF-8 text"),
                ("POST", "/api/speak?text=%FF%FEmap", wav, {}, 400, "bad_argument",
                 "query parameter 'text' is not UTF-8 text"),
                ("POST", "/api/speak", b"", {}, 400, "bad_argument",
                 r"^no audio uploaded \(the file is empty\): expected a WAV"),
                ("POST", "/api/speak", b"RIFF", {}, 400, "bad_argument",
                 r"uploaded audio \(4 bytes\) is not a readable WAV/FLAC/OGG file \([^<]*\)$"),
                # (a JSON null answered "set body is a NoneType", a Python type's name)
                ("POST", "/api/set", b"null", {"Content-Type": "application/json"}, 400,
                 "bad_argument", r"^set body is null: expected a JSON object such as "),
                ("POST", "/api/set", b"[1]", {"Content-Type": "application/json"}, 400,
                 "bad_argument", r"^set body is a list: expected a JSON object")):
            got, body = http(h.url + path, data, headers, method)
            assert got == status and isinstance(body, dict), (path, got, body)
            assert body["ok"] is False and body["code"] == code, body
            assert re.search(text, body["error"]), body["error"]
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"POST /api/speak?text=" + b"map+" * 3000 + b" HTTP/1.1\r\nHost: " +
                      f"{host}:{port}".encode() + b"\r\n\r\n")
            assert b" 400 Bad Request" in s.recv(100)
        with socket.create_connection((host, int(port)), timeout=5) as s:  # gone mid-upload
            s.sendall(b"POST /api/speak HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() +
                      b"\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n" + wav[:5000])
            time.sleep(0.3)
        time.sleep(0.3)
        assert http(h.url + "/api/status")[0] == 200  # still serving
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(server) == 1 and "LineTooLong" in server[0].getMessage(), \
        [r.getMessage() for r in server]
    assert server[0].exc_info is None and "\n" not in server[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_fuzzed_requests_never_break_the_server():
    """400 seeded requests: any method, path, Origin, Content-Type and body. Never a 500, an
    answer every time; every foreign or null Origin is refused before any handler (403), every
    text/* POST that passes the origin check is refused as 415, and the server keeps serving."""
    import http.client as client
    import random
    rng = random.Random(16)
    statuses = {}
    with start_in_thread("127.0.0.1:0", f"tcp://127.0.0.1:{free_port()}", None) as h:
        host, port = h.url.removeprefix("http://").split(":")
        own = h.url
        for i in range(400):
            method = rng.choice(["GET", "POST", "POST", "POST", "PUT", "DELETE", "OPTIONS"])
            path = rng.choice(FUZZ_PATHS)
            origin = rng.choice(FUZZ_ORIGINS + [own, own])
            ctype = rng.choice(FUZZ_TYPES)
            body = _fuzz_body(rng) if method != "GET" else b""
            headers = {k: v for k, v in (("Origin", origin), ("Content-Type", ctype)) if v}
            if rng.randrange(4) == 0:
                headers["Sec-Fetch-Site"] = rng.choice(["cross-site", "same-site", "same-origin",
                                                        "none", "zz"])
            conn = client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                status, text = r.status, r.read()
            except (ValueError, client.InvalidURL):
                continue  # the client itself refuses to send this header or path
            finally:
                conn.close()
            statuses[status] = statuses.get(status, 0) + 1
            assert status != 500 and status < 600, (method, path, headers, text[:200])
            foreign = origin is not None and origin != own
            if foreign and "\r" not in origin:
                assert status in (403, 400), (method, path, origin, status)
            ctype_media = (ctype or "").split(";")[0].strip().lower()
            if not foreign and method == "POST" and path.startswith("/api/") and \
                    ctype_media.startswith("text/") and headers.get("Sec-Fetch-Site") in \
                    (None, "same-origin", "none"):
                assert status in (404, 405, 415), (path, ctype, status)
        assert http(h.url + "/api/status")[0] == 200  # still serving
    assert sum(statuses.values()) > 300 and statuses.get(403, 0) > 100, statuses


@pytest.mark.slow
def test_fuzzed_set_requests_never_stop_a_real_runtime(face):
    """150 seeded /api/set bodies (junk types, NaN, huge numbers, control characters) from the
    panel's own origin: each answered 200 or 400, and the runtime keeps publishing."""
    import random
    from vasa_bridge.transport import Subscriber, SubscriberConfig
    rng = random.Random(16)
    with LiveRuntime(ANY, ANY, face) as rt, \
            start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint) as h, \
            Subscriber(SubscriberConfig(endpoint=rt.pub.endpoint, kinds=("motion",))) as sub:
        answers = {}
        for i in range(150):
            value = _fuzz_json(rng, 2)
            if i % 10 == 0:  # some valid ones: the runtime still obeys between the junk
                value = {"emotion": rng.choice(["happy", "sad", "neutral"]),
                         "gaze": [rng.uniform(-1, 1), rng.uniform(-1, 1)]}
            elif i % 2 and not isinstance(value, dict):  # objects, to reach `set` itself
                value = {rng.choice(["emotion", "gaze", "head_motion", "stream", "cmd", "x"]):
                         value}
            body = json.dumps(value).encode()
            status, reply = http(h.url + "/api/set", body, {"Content-Type": "application/json",
                                                            "Origin": h.url})
            assert status in (200, 400), (body[:200], status, reply)
            answers[status] = answers.get(status, 0) + 1
        assert rt.thread.is_alive() and answers.get(400, 0) > 50 and answers.get(200, 0) >= 15
        got, deadline = 0, time.monotonic() + 2
        while time.monotonic() < deadline:
            got += sub.recv(timeout_ms=200) is not None
        assert got > 5  # motion still flows after the storm


@pytest.mark.slow
def test_commands_sent_while_the_runtime_is_gone_are_not_run_by_a_later_one(face):
    """With no runtime on the control endpoint, commands waited one control timeout each, in
    turn (a panel's microphone posts four clips a second): the later ones were still waiting
    when a runtime started, and it ran them. Each is now refused unsent once the timeout from
    its arrival has passed."""
    from concurrent.futures import ThreadPoolExecutor
    control = f"tcp://127.0.0.1:{free_port()}"
    sad = json.dumps({"emotion": "sad"}).encode()
    with start_in_thread("127.0.0.1:0", f"tcp://127.0.0.1:{free_port()}", control,
                         control_timeout_ms=1000) as h, ThreadPoolExecutor(8) as pool:
        replies = [pool.submit(http, h.url + "/api/set", sad,
                               {"Content-Type": "application/json"}) for _ in range(8)]
        time.sleep(3.5)  # before: the 4th request was being sent by then, the 8th not yet
        with LiveRuntime(ANY, control, face) as rt:
            answers = [r.result() for r in replies]
            assert [status for status, _ in answers] == [503] * 8, answers
            assert all(body["code"] == "unreachable" and "sent" in body["error"]
                       for _, body in answers), answers
            assert rt.commands.status()["conditions"]["emotion"] == "neutral"
            status, body = http(h.url + "/api/set", sad, {"Content-Type": "application/json"})
            assert status == 200 and body["result"]["emotion"] == "sad"  # the new one is obeyed


class _SlowSpeech:
    """A control handler whose `speak` waits until the test lets it go (a runtime slow to answer
    a command) and whose `status` reports each poll."""

    def __init__(self) -> None:
        self.speaking, self.release = threading.Event(), threading.Event()
        self.polls: queue.SimpleQueue = queue.SimpleQueue()
        self.statuses = 0

    def status(self) -> dict:
        self.statuses += 1
        self.polls.put(self.statuses)
        return {"polled": self.statuses}

    def speak(self, audio, rate, stream) -> dict:
        self.speaking.set()
        self.release.wait(60)
        return {"stream": stream, "duration": len(audio) / rate}


@pytest.mark.slow
def test_a_command_the_runtime_is_slow_to_answer_does_not_hold_up_the_status():
    """Commands and the status poll shared the event loop's thread pool: commands waiting on a
    slow runtime filled it and the status stopped (here the shared pool has one thread, which one
    blocked command fills). The status is now polled on a thread of its own."""
    from concurrent.futures import ThreadPoolExecutor

    from vasa_bridge.transport import ControlConfig, ControlServer

    async def shared_pool_of_one():
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))

    handler = _SlowSpeech()
    with ControlServer(handler, ControlConfig(endpoint=ANY)) as server, \
            start_in_thread("127.0.0.1:0", f"tcp://127.0.0.1:{free_port()}", server.endpoint,
                            announce=False, status_poll_s=0.5, control_timeout_ms=60000) as web, \
            ThreadPoolExecutor(1) as client:
        asyncio.run_coroutine_threadsafe(shared_pool_of_one(), web._loop).result(10)
        speak = client.submit(http, web.url + "/api/speak", wav_bytes(tone(0.2)),
                              {"Content-Type": "audio/wav"})
        try:
            assert handler.speaking.wait(15), "the command never reached the runtime"
            while not handler.polls.empty():
                handler.polls.get()
            before = handler.statuses
            try:  # two polls answered while the command is blocked
                handler.polls.get(timeout=15), handler.polls.get(timeout=15)
            except queue.Empty:
                pytest.fail(f"no status poll while a command was blocked ({before} before it, "
                            f"{handler.statuses} in all)")
            status, body = http(web.url + "/api/status")
            assert status == 200 and body["runtime"]["polled"] > before, body
            assert not speak.done()
        finally:
            handler.release.set()
        status, body = speak.result(30)
        assert status == 200 and body["result"]["stream"] == "default", body


def test_a_port_in_use_leaves_no_event_loop_open(monkeypatch):
    """The web server's thread that could not bind closes its event loop: left open, it was
    closed by the garbage collector at interpreter exit, after its sockets, and `serve`'s one
    line was sometimes followed by "Exception ignored in: BaseEventLoop.__del__ ... ValueError:
    Invalid file descriptor: -1" (test_serve_cli's port-in-use test, ~1 run in 16 under load)."""
    import gc
    import socket
    import warnings

    from vasa_bridge.web import app as web_app

    loops = []
    real = asyncio.new_event_loop
    monkeypatch.setattr(web_app.asyncio, "new_event_loop",
                        lambda: loops.append(real()) or loops[-1])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match="cannot serve HTTP"):
            start_in_thread(f"127.0.0.1:{port}", "ipc:///tmp/nothing", None, announce=False)
    assert len(loops) == 1 and loops[0].is_closed()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        loops.clear()
        gc.collect()
    assert not [w for w in seen if "unclosed event loop" in str(w.message)]
