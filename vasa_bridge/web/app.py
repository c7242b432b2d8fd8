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

Refusals (token, origin, media type, host) are in `security`; the WebSocket viewers and the
fan-out of frames to them in `viewers`.
"""

from __future__ import annotations

import asyncio
import collections
import io
import logging
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import zmq
from aiohttp import web

from ..errors import ConfigError, ControlError
from ..model.config import EMOTIONS
from ..transport.control import ControlClient
from ..transport.endpoints import DEFAULT_CONTROL, DEFAULT_PUB
from .bridge import Bridge, BridgeConfig
from .codec import CodecConfig
from .security import (MAX_UPLOAD_BYTES, json_error, parse_http, request_guard,
                       resolve_token)
from .viewers import Viewer, ViewerHub

log = logging.getLogger(__name__)

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


# --- state on the event loop ------------------------------------------------------------------


class WebApp:
    """The server's state on its event loop: the bridge from the runtime, the viewer hub, the
    control clients, the polled status and the watermark check."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.hub = ViewerHub(config.client_queue, self._welcome)
        n = max(2, int(config.history_s / config.status_poll_s))
        self.history: collections.deque = collections.deque(maxlen=n)
        self.status: dict | None = None
        self.status_error: str | None = "not polled yet" if config.control_endpoint else \
            "no control endpoint (started with --control none): frames only, no runtime status"
        self.hello: dict | None = None
        self.watermark: dict | None = None
        self._latest_raw: dict[str, Any] = {}
        self.bridge: Bridge | None = None
        self._tasks: list[asyncio.Task] = []
        self._poll_client: ControlClient | None = None
        self._cmd_client: ControlClient | None = None
        self._cmd_lock = threading.Lock()
        self._poll_lock = threading.Lock()
        # Commands and the status poll each on threads of their own, not the loop's shared pool:
        # commands waiting on a slow runtime (or on each other) must not hold up the status.
        self._cmd_pool = ThreadPoolExecutor(8, thread_name_prefix="vasa-web-command")
        self._poll_pool = ThreadPoolExecutor(1, thread_name_prefix="vasa-web-status")
        self._stopping = False
        self.started = time.monotonic()
        self.refused: collections.Counter = collections.Counter()  # reason -> requests

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        c = self.config
        self.bridge = Bridge(BridgeConfig(c.sub_endpoint, c.codec), loop, self.deliver,
                             lambda: self.hub.wanted)
        if c.control_endpoint:
            # ControlClient bounds its sends too, so a wrong CURVE key costs one timeout and
            # shutdown never hangs on a stuck executor thread.
            self._poll_client = ControlClient(c.control_endpoint,
                                              timeout_ms=int(c.status_poll_s * 900),
                                              curve=c.control_curve)
            self._cmd_client = ControlClient(c.control_endpoint, timeout_ms=c.control_timeout_ms,
                                             curve=c.control_curve)
            self._tasks.append(loop.create_task(self._poll_status()))
        self._tasks.append(loop.create_task(self._check_watermark()))

    async def stop(self, app: web.Application) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await self.hub.close()
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
        self._poll_pool.shutdown(wait=False, cancel_futures=True)
        self._cmd_pool.shutdown(wait=False, cancel_futures=True)

    # -- data from the bridge ----------------------------------------------------------------

    @property
    def viewers(self) -> set[Viewer]:
        return self.hub.viewers

    def deliver(self, kind: str, stream: str, item) -> None:
        """A message from the bridge: the raw frame kept for the watermark check, the rest to
        the viewers."""
        if kind == "frame_raw":
            self._latest_raw[stream] = item
            return
        if kind == "hello":
            self.hello = item
        self.hub.deliver(kind, stream, item)

    def _welcome(self, panel: bool) -> list:
        """What a new viewer gets first: the hello, and for a panel the status with history."""
        return ([self.hello] if self.hello else []) + \
            ([{"type": "status", **self.snapshot(history=True)}] if panel else [])

    # -- control ---------------------------------------------------------------------------

    async def command(self, cmd: str, **args) -> tuple[int, dict]:
        """Run one control command off the loop -> (HTTP status, JSON body)."""
        if self._cmd_client is None:
            return 503, {"ok": False, "error": "this web server has no control endpoint "
                                               "(started with --control none)", "code": "off"}
        if self._stopping:  # its command threads are shut down
            return 503, {"ok": False, "error": "the web server is stopping: nothing was sent",
                         "code": "closed"}

        # Commands go one at a time. One that cannot start within the control timeout of its
        # arrival is refused unsent: while the runtime is gone, requests (a microphone's clips)
        # would otherwise wait one timeout each, in turn, and a runtime started minutes later
        # would run them all.
        deadline = time.monotonic() + self.config.control_timeout_ms / 1000

        def call():
            left = deadline - time.monotonic()  # it may have waited for a pool thread too
            if left <= 0 or not self._cmd_lock.acquire(timeout=left):
                raise ControlError(
                    f"{cmd} was not sent: earlier commands kept the control channel busy for "
                    f"{self.config.control_timeout_ms} ms (is the runtime at "
                    f"{self.config.control_endpoint} running?)")
            try:
                return self._cmd_client.request({"cmd": cmd, **args})
            finally:
                self._cmd_lock.release()
        try:
            reply = await asyncio.get_running_loop().run_in_executor(self._cmd_pool, call)
        except ControlError as e:
            return 503, {"ok": False, "error": str(e), "code": "unreachable"}
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
                reply = await loop.run_in_executor(self._poll_pool, call)
                if reply.get("ok"):
                    self.status, self.status_error = reply["result"], None
                else:
                    self.status_error = reply.get("error")
            except (ControlError, zmq.ZMQError) as e:
                self.status, self.status_error = None, str(e)
            entry = {"t": time.time(), "status": self.status, "error": self.status_error}
            if self.status is not None:
                self.history.append(entry)
            self.hub.post_panels({"type": "status", **self.snapshot()})
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
                    "dropped_frames": self.hub.dropped_frames,
                    "restarts_seen": b.restarts if b else 0,
                    "refused": dict(self.refused),
                    "codec": {"opaque": "jpeg", "alpha": self.config.codec.alpha_codec}},
        }
        if history:
            out["history"] = list(self.history)
        return out


def _detect(detector, msg):
    rgb = msg.image()[..., :3] if msg.header["format"] == "rgba8" else msg.image()[..., 2::-1]
    return detector.detect(np.ascontiguousarray(rgb))


# --- HTTP handlers ----------------------------------------------------------------------------


def _static(name: str) -> bytes:
    return (resources.files("vasa_bridge.web") / "static" / name).read_bytes()


_CODES = {400: "bad_argument", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def json_errors(request: web.Request, handler):
    """An /api/ route's refusal as the documented JSON (`{"ok": false, "error", "code"}`), also
    where aiohttp raises it (a body over the size limit, a route that does not exist)."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400 or not request.path.startswith("/api/") or \
                e.content_type == "application/json":
            raise
        text = " ".join((e.text or e.reason).split())
        if e.status == 413 and text.startswith("Maximum request body size"):  # aiohttp's
            text = f"upload is larger than {MAX_UPLOAD_BYTES} bytes: expected at most that"
        elif e.status in (404, 405):
            text = f"{request.method} {request.path[:80]} is not a route here ({text})"
        return json_error(e.status, text, _CODES.get(e.status, "failed"))


class _OneLine(logging.Filter):
    """aiohttp's 'Error handling request' (a malformed request line, a header over 8 KiB, a
    client gone mid-upload) as one line, not a traceback: the server has already answered or
    dropped it and goes on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = " ".join(str(exc).split())
            if len(detail) > 160:
                detail = detail[:160] + "..."
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {detail}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _quiet_aiohttp_errors() -> None:
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _OneLine) for f in server.filters):
        server.addFilter(_OneLine())


async def _upload(request: web.Request) -> bytes:
    """The uploaded file: a multipart field `file`, or the raw request body."""
    return (await _upload_fields(request))[0]


async def _upload_fields(request: web.Request, fields: tuple[str, ...] = (),
                         max_field_bytes: int = 64 * 1024) -> tuple[bytes, dict[str, str]]:
    """The uploaded file and the named text `fields` (multipart fields or query parameters)."""
    values = {k: request.query[k] for k in fields if k in request.query}
    for k, v in values.items():  # yarl decodes bytes that are not UTF-8 as U+FFFD, silently
        if "\ufffd" in v:
            raise web.HTTPBadRequest(text=f"query parameter {k!r} is not UTF-8 text")
    if not request.content_type.startswith("multipart/"):
        try:
            return await request.read(), values
        except ConnectionError:  # the client went away mid-upload: nobody to answer
            raise web.HTTPBadRequest(text="the upload was cut off: expected the whole file") \
                from None
    data = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if part.name == "file":
                data = bytes(await part.read(decode=False))
            elif part.name in fields:
                raw = await part.read_chunk(max_field_bytes + 1)
                if len(raw) > max_field_bytes:
                    raise web.HTTPRequestEntityTooLarge(
                        max_size=max_field_bytes, actual_size=len(raw),
                        text=f"field {part.name!r} is over {max_field_bytes} bytes: expected "
                             f"at most that")
                try:
                    values[part.name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise web.HTTPBadRequest(
                        text=f"field {part.name!r} is not UTF-8 text") from None
    except ConnectionError:  # the client went away mid-upload: nobody to answer
        raise web.HTTPBadRequest(text="the upload was cut off: expected the whole file") \
            from None
    except (ValueError, AssertionError, asyncio.IncompleteReadError) as e:
        # aiohttp's multipart reader refuses a missing boundary or a broken body this way
        raise web.HTTPBadRequest(text=f"multipart upload is malformed ({e}): expected a form "
                                      f"with the file in a field named 'file'") from None
    if data is None:
        raise web.HTTPBadRequest(text="multipart upload has no field 'file': expected the file "
                                      "in a field named 'file'")
    return data, values


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Any WAV/FLAC/OGG soundfile reads -> (mono float32, rate)."""
    import soundfile as sf
    if not data:
        raise ConfigError("no audio uploaded (the file is empty): expected a WAV, FLAC or OGG "
                          "file")
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own error types, naming the BytesIO object
        why = re.sub(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "it", str(e))
        raise ConfigError(f"uploaded audio ({len(data)} bytes) is not a readable WAV/FLAC/OGG "
                          f"file ({why})") from None
    if len(audio) == 0:
        raise ConfigError("uploaded audio has no samples: expected some speech")
    return np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32), int(rate)


def build_app(config: WebConfig) -> web.Application:
    state = WebApp(config)
    token = config.token

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
            return json_error(400, "set body is not JSON: expected e.g. {\"emotion\": \"happy\"}")
        if not isinstance(body, dict):
            kind = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
                    str: "a string", list: "a list"}.get(type(body), type(body).__name__)
            return json_error(400, f"set body is {kind}: expected a JSON object such as "
                                   f"{{\"emotion\": \"happy\"}}")
        body.pop("cmd", None)
        if isinstance(body.get("emotion"), str) and body["emotion"] not in EMOTIONS:
            return json_error(400, f"set emotion is {body['emotion'][:40]!r}: expected one of "
                                    f"{list(EMOTIONS)}")  # bad_argument (docs/protocol.md)
        status, reply = await state.command("set", **body)
        return web.json_response(reply, status=status)

    async def api_speak(request: web.Request) -> web.Response:
        data, fields = await _upload_fields(request, ("text", "language"))
        try:
            audio, rate = decode_wav(data)
        except ConfigError as e:
            return json_error(400, str(e))
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
            return json_error(400, "no image uploaded: expected a PNG, JPEG or WebP file")
        extra = {"framing": request.query["framing"]} if "framing" in request.query else {}
        status, reply = await state.command("load_portrait", image=data, **extra)
        return web.json_response(reply, status=status)

    async def api_stop(request: web.Request) -> web.Response:
        status, reply = await state.command("stop")
        return web.json_response(reply, status=status)

    guard = request_guard(config.host, token, state.refused)
    _quiet_aiohttp_errors()
    app = web.Application(middlewares=[guard, json_errors], client_max_size=MAX_UPLOAD_BYTES)
    app[STATE] = state
    app.on_startup.append(state.start)
    app.on_shutdown.append(state.stop)
    app.router.add_get("/", page)
    app.router.add_get("/overlay", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/ws", state.hub.ws_handler)
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
            # closed here: left to the garbage collector at exit, after its sockets, it printed
            # "Exception ignored in: BaseEventLoop.__del__" under serve's one-line error
            self._loop.close()
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
