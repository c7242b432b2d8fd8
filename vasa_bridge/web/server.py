"""The web control panel and OBS overlay: an aiohttp app that is a *client* of a running runtime.

It subscribes to the runtime's data endpoint (frames, audio, motion, events, hello) and talks to
its control endpoint, so it runs either beside the runtime (`vasa-bridge web`) or inside it
(`vasa-bridge serve --http`, on a thread). Routes:

    /                  control panel            /overlay?stream=ID   face only, for OBS
    /ws?stream=ID      live feed (binary frames/audio, JSON motion/status/events)
    GET  /api/status   latest runtime status + web stats (+ the last minute with ?history=1)
    POST /api/set      JSON {emotion, gaze, head_motion, stream}
    POST /api/speak    a WAV file (body or multipart field `file`), ?stream=ID; the words spoken
                       in a multipart field `text` (or ?text=), their language in `language`
    POST /api/load_portrait  an image (body or multipart field `file`); ?framing=bust|head
    POST /api/stop

Security: binds 127.0.0.1 by default. Any other bind needs a token (generated and printed once
when not given) on every request: `?token=`, header `X-Vasa-Token`, or the cookie the pages get.
A request whose Origin is not exactly this panel's own (`http://HOST:PORT` as the browser
reached it) is refused, `Origin: null` included (sandboxed frames, `file:` and `data:` pages);
so is a POST or WebSocket that the browser marks cross-site (`Sec-Fetch-Site`), and a Host name
that is not ours on a loopback bind (DNS rebinding). `/api/set` takes only
`Content-Type: application/json`, and no API takes a `text/*` body (those skip the CORS
preflight): 415. Every refusal is counted in `/api/status` (`web.refused`).
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import io
import ipaddress
import json
import logging
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import zmq
from aiohttp import WSMsgType, web

from ..errors import ConfigError, ControlError
from ..model.config import EMOTIONS
from ..transport.control import ControlClient
from ..transport.endpoints import DEFAULT_CONTROL, DEFAULT_PUB
from .bridge import Bridge, BridgeConfig
from ..transport.endpoints import DEFAULT_HTTP  # noqa: F401  (the CLI must not import aiohttp)
from .codec import CodecConfig

log = logging.getLogger(__name__)

TOKEN_COOKIE = "vasa_token"
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
JSON_TYPE = "application/json"
STATE: web.AppKey[WebApp] = web.AppKey("state")


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"  # HTTP bind address
    port: int = 8765  # HTTP port (0 = any free port)
    sub_endpoint: str = DEFAULT_PUB  # the runtime's data endpoint
    control_endpoint: str | None = DEFAULT_CONTROL  # None: view only, no commands
    token: str | None = None  # required on every request when set
    codec: CodecConfig = field(default_factory=CodecConfig)
    status_poll_s: float = 1.0  # how often the runtime's status is polled
    history_s: float = 60.0  # how much status history the plot keeps
    control_timeout_ms: int = 10000  # commands (load_portrait takes ~0.5 s)
    watermark_check_s: float = 5.0  # how often a received frame is checked for the watermark
    client_queue: int = 400  # small messages queued per viewer before the oldest are dropped
    control_curve: Any = None  # transport.curve.ClientCurve for a CURVE-secured control channel


def parse_http(value: str) -> tuple[str, int]:
    """'HOST:PORT', ':PORT', 'PORT' or 'HOST' -> (host, port)."""
    value = value.strip()
    host, port = "127.0.0.1", 8765
    if value.startswith("["):  # [::1]:8765
        end = value.find("]")
        host, rest = value[1:end], value[end + 1:]
        port_s = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port_s = value.split(":")
        host = host or "127.0.0.1"
    elif value.isdigit():
        port_s = value
    else:
        host, port_s = value, ""
    if port_s:
        if not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
            raise ConfigError(f"--http {value!r}: expected HOST:PORT with a port in 0..65535")
        port = int(port_s)
    return host, port


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    return not is_loopback_host(host)


def _host_name(host_header: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1'; '[::1]:8765' -> '::1'."""
    if host_header.startswith("["):
        return host_header[1:host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _control_client(endpoint: str, timeout_ms: int, curve) -> ControlClient:
    client = ControlClient(endpoint, timeout_ms=timeout_ms, curve=curve)
    # A REQ socket whose CURVE handshake never completes has no peer, and send() then waits
    # for ever (ControlClient sets no send timeout): bound it, so a wrong key costs one timeout
    # and shutdown never hangs on a stuck executor thread.
    client._sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
    return client


def _send_timeout(endpoint: str, timeout_ms: int) -> str:
    return (f"could not send to {endpoint} within {timeout_ms} ms: no connection completed "
            f"(a CURVE-secured runtime needs web --curve-key and --curve-server)")


# --- state on the event loop ------------------------------------------------------------------


class Viewer:
    """One WebSocket: what it wants, and a latest-only slot for frames."""

    def __init__(self, ws: web.WebSocketResponse, stream: str, media: bool, motion: bool,
                 panel: bool, maxlen: int) -> None:
        self.ws = ws
        self.stream = stream
        self.media = media  # frames + audio
        self.motion = motion
        self.panel = panel  # status updates
        self.queue: collections.deque = collections.deque(maxlen=maxlen)
        self.frame: bytes | None = None
        self.wake = asyncio.Event()
        self.dropped_frames = 0

    def post(self, item) -> None:
        self.queue.append(item)
        self.wake.set()

    def post_frame(self, packet: bytes) -> None:
        if self.frame is not None:
            self.dropped_frames += 1
        self.frame = packet
        self.wake.set()


class WebApp:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.viewers: set[Viewer] = set()
        self._wanted: frozenset = frozenset()
        n = max(2, int(config.history_s / config.status_poll_s))
        self.history: collections.deque = collections.deque(maxlen=n)
        self.status: dict | None = None
        self.status_error: str | None = "not polled yet"
        self.hello: dict | None = None
        self.watermark: dict | None = None
        self._latest_raw: dict[str, Any] = {}
        self.bridge: Bridge | None = None
        self._tasks: list[asyncio.Task] = []
        self._poll_client: ControlClient | None = None
        self._cmd_client: ControlClient | None = None
        self._cmd_lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self.started = time.monotonic()
        self.refused: collections.Counter = collections.Counter()  # reason -> requests

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        c = self.config
        self.bridge = Bridge(BridgeConfig(c.sub_endpoint, c.codec), loop, self.deliver,
                             lambda: self._wanted)
        if c.control_endpoint:
            self._poll_client = _control_client(c.control_endpoint, int(c.status_poll_s * 900),
                                                c.control_curve)
            self._cmd_client = _control_client(c.control_endpoint, c.control_timeout_ms,
                                               c.control_curve)
            self._tasks.append(loop.create_task(self._poll_status()))
        self._tasks.append(loop.create_task(self._check_watermark()))

    async def stop(self, app: web.Application) -> None:
        for t in self._tasks:
            t.cancel()
        for v in list(self.viewers):
            await v.ws.close()
        loop = asyncio.get_running_loop()
        if self.bridge is not None:
            await loop.run_in_executor(None, self.bridge.close)
        def close(client, lock):
            # A command may still be waiting for its reply on an executor thread: close the
            # socket only once it is done (or give up after 2 s; the process is ending anyway).
            if client is not None and lock.acquire(timeout=2):
                try:
                    client.close()
                finally:
                    lock.release()
        await loop.run_in_executor(None, close, self._poll_client, self._poll_lock)
        await loop.run_in_executor(None, close, self._cmd_client, self._cmd_lock)

    # -- data from the bridge ----------------------------------------------------------------

    def _update_wanted(self) -> None:
        self._wanted = frozenset(v.stream for v in self.viewers if v.media)

    def deliver(self, kind: str, stream: str, item) -> None:
        if kind == "frame_raw":
            self._latest_raw[stream] = item
            return
        if kind == "hello":
            self.hello = item
        for v in self.viewers:
            if kind == "frame":
                if v.media and v.stream == stream:
                    v.post_frame(item)
            elif kind == "audio":
                if v.media and v.stream == stream:
                    v.post(item)
            elif kind == "motion":
                if v.motion and v.stream == stream:
                    v.post(item)
            elif kind == "event":
                if v.stream == stream or v.panel:
                    v.post(item)
            elif kind == "hello":
                v.post(item)

    # -- control ---------------------------------------------------------------------------

    async def command(self, cmd: str, **args) -> tuple[int, dict]:
        """Run one control command off the loop -> (HTTP status, JSON body)."""
        if self._cmd_client is None:
            return 503, {"ok": False, "error": "this web server has no control endpoint "
                                               "(started with --control none)", "code": "off"}

        def call():
            with self._cmd_lock:
                return self._cmd_client.request({"cmd": cmd, **args})
        try:
            reply = await asyncio.get_running_loop().run_in_executor(None, call)
        except ControlError as e:
            return 503, {"ok": False, "error": str(e), "code": "unreachable"}
        except zmq.Again:
            return 503, {"ok": False, "error": _send_timeout(self.config.control_endpoint,
                                                             self.config.control_timeout_ms),
                         "code": "unreachable"}
        except zmq.ZMQError as e:  # the web server is shutting down under this request
            return 503, {"ok": False, "error": f"control client closed ({e})", "code": "closed"}
        if reply.get("ok"):
            return 200, {"ok": True, "result": reply.get("result", {})}
        return 400, {"ok": False, "error": reply.get("error"), "code": reply.get("code")}

    async def _poll_status(self) -> None:
        loop = asyncio.get_running_loop()

        def call():
            with self._poll_lock:
                return self._poll_client.request({"cmd": "status"})
        while True:
            t0 = time.monotonic()
            try:
                reply = await loop.run_in_executor(None, call)
                if reply.get("ok"):
                    self.status, self.status_error = reply["result"], None
                else:
                    self.status_error = reply.get("error")
            except zmq.Again:
                self.status = None
                self.status_error = _send_timeout(self.config.control_endpoint,
                                                  int(self.config.status_poll_s * 900))
            except (ControlError, zmq.ZMQError) as e:
                self.status, self.status_error = None, str(e)
            entry = {"t": time.time(), "status": self.status, "error": self.status_error}
            if self.status is not None:
                self.history.append(entry)
            msg = {"type": "status", **self.snapshot()}
            for v in self.viewers:
                if v.panel:
                    v.post(msg)
            await asyncio.sleep(max(0.05, self.config.status_poll_s - (time.monotonic() - t0)))

    async def _check_watermark(self) -> None:
        """Look for the invisible watermark in a received frame now and then: the panel shows
        what is really on the wire, not what the runtime claims."""
        from ..provenance.watermark import Detector
        detector = Detector()
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.watermark_check_s if self.watermark else 1.0)
            msg = self._latest_raw.get(self.hello["streams"][0] if self.hello and
                                       self.hello.get("streams") else "default")
            if msg is None:
                continue
            det = await loop.run_in_executor(None, _detect, detector, msg)
            self.watermark = {"present": bool(det.present), "confidence": round(det.confidence, 3),
                              "payload": str(det.payload) if det.payload else None,
                              "stream": msg.stream, "checked": time.time()}

    def snapshot(self, history: bool = False) -> dict:
        b = self.bridge
        runtime_alive = b is not None and b.last_message_at is not None and \
            time.monotonic() - b.last_message_at < 2.5
        status = self.status or {}
        prov = status.get("provenance") or {}
        out = {
            "connected": runtime_alive, "control": self.status is not None,
            "error": self.status_error, "runtime": self.status, "hello": self.hello,
            "provenance": {"watermark": self.watermark, "label": prov.get("label"),
                           "watermark_payload": prov.get("watermark")},
            "web": {"viewers": len(self.viewers),
                    "received": dict(b.stats) if b else {},
                    "encode_ms_mean": round(b.encode_ms / b.stats["frames_encoded"], 2)
                    if b and b.stats["frames_encoded"] else None,
                    "dropped_frames": sum(v.dropped_frames for v in self.viewers),
                    "restarts_seen": b.restarts if b else 0,
                    "refused": dict(self.refused),
                    "codec": {"opaque": "jpeg", "alpha": self.config.codec.alpha_codec}},
        }
        if history:
            out["history"] = list(self.history)
        return out

    # -- WebSocket ---------------------------------------------------------------------------

    async def ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        q = request.query
        # No permessage-deflate: JPEG does not shrink, and deflating 1 MiB raw RGBA frames costs
        # more than the whole rest of the feed (bench/bench_web.py).
        ws = web.WebSocketResponse(heartbeat=10, max_msg_size=MAX_UPLOAD_BYTES, compress=False)
        await ws.prepare(request)
        viewer = Viewer(ws, q.get("stream", "default"), q.get("media", "1") != "0",
                        q.get("motion", "0") == "1", q.get("panel", "0") == "1",
                        self.config.client_queue)
        self.viewers.add(viewer)
        self._update_wanted()
        if self.hello:
            viewer.post(self.hello)
        if viewer.panel:
            viewer.post({"type": "status", **self.snapshot(history=True)})
        sender = asyncio.get_running_loop().create_task(self._send_loop(viewer))
        try:
            async for msg in ws:  # viewers only listen; this notices when they leave
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    viewer.post({"type": "pong", "t": time.time()})
        finally:
            self.viewers.discard(viewer)
            self._update_wanted()
            sender.cancel()
        return ws

    async def _send_loop(self, v: Viewer) -> None:
        try:
            while not v.ws.closed:
                await v.wake.wait()
                v.wake.clear()
                while v.queue:
                    item = v.queue.popleft()
                    if isinstance(item, bytes):
                        await v.ws.send_bytes(item)
                    else:
                        await v.ws.send_str(json.dumps(item, separators=(",", ":")))
                if v.frame is not None:
                    frame, v.frame = v.frame, None
                    await v.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError):  # the viewer left mid-send
            pass


def _detect(detector, msg):
    rgb = msg.image()[..., :3] if msg.header["format"] == "rgba8" else msg.image()[..., 2::-1]
    return detector.detect(np.ascontiguousarray(rgb))


# --- HTTP handlers ----------------------------------------------------------------------------


def _static(name: str) -> bytes:
    return (resources.files("vasa_bridge.web") / "static" / name).read_bytes()


async def _upload(request: web.Request) -> bytes:
    """The uploaded file: a multipart field `file`, or the raw request body."""
    return (await _upload_fields(request))[0]


async def _upload_fields(request: web.Request, fields: tuple[str, ...] = (),
                         max_field_bytes: int = 64 * 1024) -> tuple[bytes, dict[str, str]]:
    """The uploaded file and the named text `fields` (multipart fields or query parameters)."""
    values = {k: request.query[k] for k in fields if k in request.query}
    if not request.content_type.startswith("multipart/"):
        return await request.read(), values
    data = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if part.name == "file":
                data = bytes(await part.read(decode=False))
            elif part.name in fields:
                raw = await part.read_chunk(max_field_bytes + 1)
                if len(raw) > max_field_bytes:
                    raise web.HTTPRequestEntityTooLarge(max_size=max_field_bytes,
                                                        actual_size=len(raw))
                try:
                    values[part.name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise web.HTTPBadRequest(
                        text=f"field {part.name!r} is not UTF-8 text") from None
    except (ValueError, AssertionError, asyncio.IncompleteReadError) as e:
        # aiohttp's multipart reader refuses a missing boundary or a broken body this way
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "code": "bad_argument", "error":
                             f"multipart upload is malformed ({e}): expected a form with "
                             f"the file in a field named 'file'"}),
            content_type="application/json") from None
    if data is None:
        raise web.HTTPBadRequest(text="multipart upload has no field 'file': expected the file "
                                      "in a field named 'file'")
    return data, values


def _json_error(status: int, message: str, code: str = "bad_argument") -> web.Response:
    return web.json_response({"ok": False, "error": message, "code": code}, status=status)


def own_origin(request: web.Request) -> str:
    """The origin of pages this server served, as the browser reached it."""
    return f"{request.scheme}://{request.host}"


def origin_refusal(request: web.Request) -> str | None:
    """Why this request may not reach the panel's API, or None. A browser names the page that
    made a request in `Origin` (`null` for an opaque origin: a sandboxed iframe, a `file:` or
    `data:` page); only our own pages may act. Requests without Origin (curl, scripts, page
    navigations) pass, unless the browser marks a POST or WebSocket as cross-site."""
    origin = request.headers.get("Origin")
    own = own_origin(request)
    if origin == "null":
        return (f"requests from an opaque origin (Origin: null: a sandboxed frame, a file: or "
                f"data: page) are refused: expected this panel's own origin {own!r}")
    if origin is not None and origin != own:
        return (f"requests from origin {_short(origin)} are refused: expected this panel's own "
                f"origin {own!r}")
    acting = request.method not in ("GET", "HEAD") or request.path == "/ws"
    site = request.headers.get("Sec-Fetch-Site")
    if origin is None and acting and site not in (None, "same-origin", "none"):
        return (f"a {_short(site, 20)[1:-1]} {request.method} to {_short(request.path)[1:-1]} is "
                f"refused: expected a request from this panel's own pages")
    return None


def _short(text: str, limit: int = 80) -> str:
    """A sender's string for an error line: repr (escapes), cut to `limit` characters."""
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def media_type_refusal(request: web.Request, json_only: bool) -> str | None:
    """Why this POST's Content-Type is refused (415), or None. `text/*` bodies are what a page
    of another origin can post without a CORS preflight; JSON endpoints take only JSON."""
    raw = request.headers.get("Content-Type")
    media = (raw or "").split(";", 1)[0].strip().lower()
    if json_only and media != JSON_TYPE:
        return (f"{_short(request.path)[1:-1]} body has Content-Type {_short(raw or '')}: "
                f"expected '{JSON_TYPE}'")
    if media.startswith("text/"):
        return (f"{_short(request.path)[1:-1]} body has Content-Type {_short(raw)}: expected a "
                f"file's own type (audio/wav, image/png, application/octet-stream, "
                f"multipart/form-data)")
    return None


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Any WAV/FLAC/OGG soundfile reads -> (mono float32, rate)."""
    import soundfile as sf
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own error types
        raise ConfigError(f"uploaded audio ({len(data)} bytes) is not a readable WAV/FLAC/OGG "
                          f"file ({e})") from None
    if len(audio) == 0:
        raise ConfigError("uploaded audio has no samples: expected some speech")
    return np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32), int(rate)


def build_app(config: WebConfig) -> web.Application:
    state = WebApp(config)
    token = config.token

    @web.middleware
    async def guard(request: web.Request, handler):
        if not needs_token(config.host) and not is_loopback_host(_host_name(request.host)):
            state.refused["host"] += 1
            return web.Response(status=403, text=f"Host {_short(request.host)} is not this "
                                                 f"server: expected 127.0.0.1 or localhost")
        why = origin_refusal(request)
        if why is not None:
            state.refused["origin"] += 1
            if state.refused["origin"] <= 5:  # then only counted: a page may retry for ever
                log.warning("refused %s %s: %s", request.method, _short(request.path), why)
            return web.Response(status=403, text=why)
        set_cookie = False
        if token is not None:
            given = (request.query.get("token") or request.headers.get("X-Vasa-Token")
                     or request.cookies.get(TOKEN_COOKIE) or "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                state.refused["token"] += 1
                return web.Response(status=401, text="missing or wrong token: add ?token=... "
                                                     "(printed when the server started)")
            set_cookie = request.query.get("token") is not None
        if request.method == "POST":
            why = media_type_refusal(request, json_only=request.path == "/api/set")
            if why is not None:
                state.refused["media_type"] += 1
                return _json_error(415, why, "unsupported_media_type")
        response = await handler(request)
        if set_cookie and not isinstance(response, web.WebSocketResponse):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return response

    async def page(request: web.Request) -> web.Response:
        name = "overlay.html" if request.path.startswith("/overlay") else "index.html"
        return web.Response(body=_static(name), content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        types = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
        ext = name.rsplit(".", 1)[-1]
        if "/" in name or ".." in name or ext not in types:
            raise web.HTTPNotFound()
        try:
            body = _static(name)
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        return web.Response(body=body, content_type=types[ext],
                            headers={"Cache-Control": "no-store"})

    async def api_status(request: web.Request) -> web.Response:
        return web.json_response(state.snapshot(history=request.query.get("history") == "1"))

    async def api_set(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, "set body is not JSON: expected e.g. {\"emotion\": \"happy\"}")
        if not isinstance(body, dict):
            return _json_error(400, f"set body is a {type(body).__name__}: expected a JSON object")
        body.pop("cmd", None)
        if isinstance(body.get("emotion"), str) and body["emotion"] not in EMOTIONS:
            return _json_error(400, f"set emotion is {body['emotion'][:40]!r}: expected one of "
                                    f"{list(EMOTIONS)}")  # bad_argument (docs/protocol.md)
        status, reply = await state.command("set", **body)
        return web.json_response(reply, status=status)

    async def api_speak(request: web.Request) -> web.Response:
        data, fields = await _upload_fields(request, ("text", "language"))
        try:
            audio, rate = decode_wav(data)
        except ConfigError as e:
            return _json_error(400, str(e))
        args = {"audio": audio.astype("<f4").tobytes(), "rate": rate, "format": "f32"}
        if "stream" in request.query:
            args["stream"] = request.query["stream"]
        if fields.get("text", "").strip():  # an empty text box means no transcript
            args["text"] = fields["text"]
            if fields.get("language", "").strip():
                args["language"] = fields["language"].strip()
        status, reply = await state.command("speak", **args)
        return web.json_response(reply, status=status)

    async def api_load_portrait(request: web.Request) -> web.Response:
        data = await _upload(request)
        if not data:
            return _json_error(400, "no image uploaded: expected a PNG, JPEG or WebP file")
        extra = {"framing": request.query["framing"]} if "framing" in request.query else {}
        status, reply = await state.command("load_portrait", image=data, **extra)
        return web.json_response(reply, status=status)

    async def api_stop(request: web.Request) -> web.Response:
        status, reply = await state.command("stop")
        return web.json_response(reply, status=status)

    app = web.Application(middlewares=[guard], client_max_size=MAX_UPLOAD_BYTES)
    app[STATE] = state
    app.on_startup.append(state.start)
    app.on_shutdown.append(state.stop)
    app.router.add_get("/", page)
    app.router.add_get("/overlay", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/ws", state.ws_handler)
    app.router.add_get("/api/status", api_status)
    app.router.add_post("/api/set", api_set)
    app.router.add_post("/api/speak", api_speak)
    app.router.add_post("/api/load_portrait", api_load_portrait)
    app.router.add_post("/api/stop", api_stop)
    return app


# --- running it -------------------------------------------------------------------------------


class WebHandle:
    """A web server running on its own thread and event loop. `close()` stops and joins."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.url: str | None = None
        self.app: web.Application | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._on_close: list = []
        self._thread = threading.Thread(target=self._run, name="vasa-web", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            self._thread.join(5)
            raise self._error
        if self.url is None:
            raise ConfigError("the web server did not start within 15 s")

    def on_close(self, fn) -> None:
        """Run `fn()` after the server stopped (e.g. close a control server made for it)."""
        self._on_close.append(fn)

    @property
    def token(self) -> str | None:
        return self.config.token

    def page_url(self, path: str = "/") -> str:
        sep = "&" if "?" in path else "?"
        return self.url + path + (f"{sep}token={self.token}" if self.token else "")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as e:  # surfaced to the constructor's caller
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

    async def _start(self) -> None:
        c = self.config
        self.app = build_app(c)
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, c.host, c.port)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise ConfigError(f"cannot serve HTTP on {c.host}:{c.port}: {e.strerror} (is the port "
                              f"in use? pick another with --http HOST:PORT)") from None
        port = site._server.sockets[0].getsockname()[1]
        host = f"[{c.host}]" if ":" in c.host else c.host
        self.url = f"http://{host}:{port}"

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        while self._on_close:
            self._on_close.pop()()

    def __enter__(self) -> WebHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """(token, generated): a non-loopback bind without a token gets a fresh one."""
    if token is None and needs_token(host):
        return secrets.token_urlsafe(18), True
    return token, False


def start_in_thread(http: str, sub_endpoint: str, control_endpoint: str | None,
                    token: str | None = None, announce: bool = True, **options) -> WebHandle:
    """Start the panel and overlay for a runtime on `sub_endpoint`/`control_endpoint`, on a
    thread. Returns a handle with `.url`, `.token` and `.close()`. `announce=False`: the caller
    prints the addresses itself; a generated token is still printed, since that is the only
    time it is shown."""
    host, port = parse_http(http)
    token, generated = resolve_token(host, token)
    config = WebConfig(host=host, port=port, sub_endpoint=sub_endpoint,
                       control_endpoint=control_endpoint, token=token, **options)
    handle = WebHandle(config)
    if generated:  # the only time it is shown: the URLs carry it
        print(f"[web] {host} is not a loopback address: every request needs the token "
              f"{token} (shown once)\n[web] panel {handle.page_url('/')}\n[web] overlay "
              f"{handle.page_url('/overlay')}", file=sys.stderr, flush=True)
    elif announce:
        print(f"[web] panel {handle.url}/  overlay {handle.url}/overlay"
              + ("  (token required)" if token else ""), file=sys.stderr, flush=True)
    return handle
