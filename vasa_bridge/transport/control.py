"""The control channel: msgpack request-reply on its own endpoint (docs/protocol.md, "Control").

`ControlServer` (a ROUTER socket served by one thread) validates every request before it reaches
the handler, answers anything malformed with an error reply, and keeps serving. The handler is
any object with some of the methods `status()`, `set(**values)`, `speak(audio, rate, stream)`,
`load_portrait(path=None, image=None, framing=None)`, `stop()`; a command whose method is missing answers
`unsupported`. `ControlClient` is the matching REQ client.

Security (docs/protocol.md, "Security"): the server binds loopback unless it has CURVE keys (and
then lets in only the client public keys in its allowed-clients folder) or `insecure=True`.
Requests are capped in size; `speak` audio in length; `load_portrait` images in encoded size and
pixel dimensions (read from the header, never decoded here), and `load_portrait` paths must
resolve (symlinks and `..` followed) to a .png/.jpg/.jpeg/.webp file inside an allowed folder.
"""

from __future__ import annotations

import io
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq

from ..errors import ConfigError, ControlError, TransportError, VasaError
from ..protocol import wire
from .curve import ClientCurve, ServerCurve, ZapRegistration, bind_server, secure_client
from .endpoints import DEFAULT_CONTROL, check_server_bind

log = logging.getLogger(__name__)

COMMANDS = ("status", "set", "speak", "load_portrait", "stop")
FRAMINGS = ("bust", "head")  # load_portrait's optional framing (face.portrait.FRAMINGS)
SET_KEYS = ("emotion", "gaze", "head_motion", "stream")
PORTRAIT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
PORTRAIT_FORMATS = ("PNG", "JPEG", "WEBP")  # the only decoders Pillow may try on request bytes


@dataclass(frozen=True)
class ControlConfig:
    endpoint: str = DEFAULT_CONTROL  # where the ROUTER binds
    insecure: bool = False  # allow a non-loopback bind without authentication
    max_request_bytes: int = 32 * 1024 * 1024  # larger requests get a too_large reply
    max_audio_s: float = 120.0  # longest clip `speak` accepts, seconds
    poll_ms: int = 100  # how often the serving thread checks its stop event
    # CURVE: both set, or neither. With them the server accepts only listed clients, encrypted,
    # and may bind a non-loopback address (see transport/curve.py, `vasa-bridge keys`).
    curve_secret_key: str | Path | None = None  # the server's NAME.key_secret file (0600)
    curve_allowed_clients: str | Path | None = None  # folder of allowed client NAME.key files
    max_image_side: int = 4096  # load_portrait: longest image side, pixels
    max_image_bytes: int = 16 * 1024 * 1024  # load_portrait: encoded image size, bytes
    # Folders load_portrait may read `path` from. None: the server's current directory when it
    # starts (not if that is the filesystem root: then no path is accepted, only image bytes).
    portrait_dirs: tuple[str | Path, ...] | None = None


class RequestError(Exception):
    """A request the server refuses: carries the reply's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _plain(obj: Any) -> Any:
    """msgpack `default`: numpy scalars and arrays become plain numbers and lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"cannot send a {type(obj).__name__} in a control reply")


def _pack(obj: dict) -> bytes:
    return msgpack.packb(obj, use_bin_type=True, default=_plain)


def _brief(value: Any, limit: int = 60) -> str:
    """repr of a value for an error message, without ever building the repr of a huge one."""
    if isinstance(value, (bytes, str)) and len(value) > limit:
        unit = "bytes" if isinstance(value, bytes) else "chars"
        return f"{value[:limit]!r}... ({len(value)} {unit})"
    if isinstance(value, (list, dict)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --- request validation (pure functions, tested directly) ------------------------------------


def _arg(req: dict, key: str, types: tuple, *, required: bool = True, default: Any = None) -> Any:
    if key not in req:
        if required:
            raise RequestError("bad_argument", f"{req.get('cmd')} needs argument {key!r}")
        return default
    value = req[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        names = "/".join(t.__name__ for t in types)
        raise RequestError("bad_argument", f"{req['cmd']} argument {key!r} is {_brief(value)} "
                                           f"({type(value).__name__}): expected {names}")
    return value


def parse_set(req: dict) -> dict:
    unknown = sorted(set(req) - set(SET_KEYS) - {"cmd", "id", "v"})
    if unknown:
        raise RequestError("bad_argument", f"set does not know {_brief(unknown[0])}: expected "
                                           f"some of {list(SET_KEYS)}")
    values: dict[str, Any] = {}
    if "emotion" in req:
        values["emotion"] = _arg(req, "emotion", (str,))
    if "gaze" in req:
        gaze = _arg(req, "gaze", (list,))
        if len(gaze) != 2 or not all(isinstance(g, (int, float)) and not isinstance(g, bool)
                                     and math.isfinite(g) and -1 <= g <= 1 for g in gaze):
            raise RequestError("bad_argument", f"set gaze is {_brief(gaze)}: expected [x, y] with "
                                               f"each in [-1, 1]")
        values["gaze"] = [float(g) for g in gaze]
    if "head_motion" in req:
        hm = _arg(req, "head_motion", (int, float))
        if not math.isfinite(hm) or not 0 <= hm <= 4:
            raise RequestError("bad_argument", f"set head_motion is {hm!r}: expected a number "
                                               f"in [0, 4] (1 = natural)")
        values["head_motion"] = float(hm)
    if "stream" in req:
        values["stream"] = _checked_stream(req)
    if not values:
        raise RequestError("bad_argument", f"set needs at least one of {list(SET_KEYS)}")
    return values


def _checked_stream(req: dict) -> str:
    stream = _arg(req, "stream", (str,), required=False, default=wire.DEFAULT_STREAM)
    try:
        return wire.check_stream(stream)
    except VasaError as e:
        raise RequestError("bad_argument", str(e)) from None


def parse_speak(req: dict, max_audio_s: float) -> dict:
    data = _arg(req, "audio", (bytes,))
    rate = _arg(req, "rate", (int,))
    fmt = _arg(req, "format", (str,), required=False, default="s16")
    channels = _arg(req, "channels", (int,), required=False, default=1)
    if not 8000 <= rate <= 192000:
        raise RequestError("bad_argument", f"speak rate is {rate}: expected 8000..192000 Hz")
    if fmt not in wire.AUDIO_FORMATS:
        raise RequestError("bad_argument", f"speak format is {fmt!r}: expected 's16' or 'f32'")
    if not 1 <= channels <= 8:
        raise RequestError("bad_argument", f"speak channels is {channels}: expected 1..8")
    width = wire.AUDIO_FORMATS[fmt] * channels
    if len(data) == 0 or len(data) % width:
        raise RequestError("bad_argument", f"speak audio is {len(data)} bytes: expected a "
                                           f"non-zero multiple of {width} ({fmt} x {channels} ch)")
    seconds = len(data) / width / rate
    if seconds > max_audio_s:
        raise RequestError("too_large", f"speak audio is {seconds:.1f} s long: the limit is "
                                        f"{max_audio_s:g} s")
    samples = np.frombuffer(data, "<i2" if fmt == "s16" else "<f4").reshape(-1, channels)
    audio = samples.astype(np.float32)
    if fmt == "s16":
        audio /= 32768.0
    if not np.isfinite(audio).all():
        raise RequestError("bad_argument", "speak audio contains NaN or infinity: expected "
                                           "finite samples")
    return {"audio": audio.mean(axis=1), "rate": rate, "stream": _checked_stream(req)}


def portrait_folders(config: ControlConfig) -> tuple[Path, ...]:
    """The folders `load_portrait` may read from, resolved (symlinks followed). Refuses the
    filesystem root when named explicitly; drops it (logged) when it is only the default."""
    if config.portrait_dirs is None:
        here = Path(os.path.realpath(os.getcwd()))
        if here == Path(here.anchor):
            log.warning("load_portrait: the current directory is %s, so no folder is allowed for "
                        "paths; pass portrait folders to allow some", here)
            return ()
        return (here,)
    folders = []
    for d in config.portrait_dirs:
        real = Path(os.path.realpath(d))
        if real == Path(real.anchor):
            raise ConfigError(f"portrait folder {str(d)!r} is the filesystem root: expected a "
                              f"folder that holds only portraits you mean to serve")
        if not real.is_dir():
            raise ConfigError(f"portrait folder {str(d)!r} is not a folder: expected an existing "
                              f"directory")
        folders.append(real)
    return tuple(folders)


def check_image_bytes(data: bytes, config: ControlConfig, what: str = "image") -> tuple[int, int]:
    """Encoded PNG/JPEG/WebP -> (width, height), read from its header only (nothing decoded).
    Refuses other formats, oversized files and images with a side above max_image_side."""
    if len(data) > config.max_image_bytes:
        raise RequestError("too_large", f"load_portrait {what} is {len(data)} bytes: the limit is "
                                        f"{config.max_image_bytes} bytes")
    return _image_size(io.BytesIO(data), data[:8], config, what)


def _image_size(fp, head: bytes, config: ControlConfig, what: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open parses the header only; pixels are decoded on first use, never here.
        with Image.open(fp, formats=PORTRAIT_FORMATS) as im:
            width, height = im.size
    except Image.DecompressionBombError:
        raise RequestError("too_large", f"load_portrait {what} has too many pixels: the limit "
                                        f"is {config.max_image_side} pixels a side") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise RequestError("bad_argument", f"load_portrait {what} is not a PNG, JPEG or WebP "
                                           f"image (starts with {head!r}): expected encoded "
                                           f"PNG/JPEG/WebP bytes") from None
    if width < 1 or height < 1:
        raise RequestError("bad_argument", f"load_portrait {what} is {width}x{height}: expected "
                                           f"at least 1x1 pixels")
    if max(width, height) > config.max_image_side:
        raise RequestError("too_large", f"load_portrait {what} is {width}x{height} pixels: the "
                                        f"limit is {config.max_image_side} pixels a side")
    return width, height


def check_portrait_path(path: str, config: ControlConfig, folders: tuple[Path, ...]) -> Path:
    """A requested portrait path -> its resolved real path, if it lies inside an allowed folder,
    has an image suffix, and is a readable image within the limits. The folder is checked before
    the file's existence, so a refusal says nothing about files outside the allowed folders."""
    shown = _brief(path, 200)
    if not path or "\0" in path:
        raise RequestError("bad_argument", f"load_portrait path {shown} is not a usable path: "
                                           f"expected a file name")
    real = Path(os.path.realpath(path))  # follows every symlink, removes `..`
    if not any(real.is_relative_to(folder) for folder in folders):
        allowed = [str(f) for f in folders] or "none (send the image bytes instead)"
        raise RequestError("forbidden", f"load_portrait path {shown} resolves to "
                                        f"{_brief(str(real), 200)}, outside the allowed portrait "
                                        f"folders: expected a file under {allowed}")
    if real.suffix.lower() not in PORTRAIT_SUFFIXES:
        raise RequestError("bad_argument", f"load_portrait path {shown} resolves to a "
                                           f"{real.suffix or 'suffix-less'!r} file: expected one "
                                           f"of {list(PORTRAIT_SUFFIXES)}")
    if not real.is_file():
        raise RequestError("bad_argument", f"load_portrait path {shown} does not exist or is not "
                                           f"a file: expected an image file")
    try:
        size = real.stat().st_size
        if size > config.max_image_bytes:
            raise RequestError("too_large", f"load_portrait file {shown} is {size} bytes: the "
                                            f"limit is {config.max_image_bytes} bytes")
        with open(real, "rb") as f:
            head = f.read(8)
            f.seek(0)
            _image_size(f, head, config, f"file {shown}")
    except OSError as e:
        raise RequestError("bad_argument", f"load_portrait path {shown} cannot be read "
                                           f"({e.strerror}): expected a readable file") from None
    return real


def parse_load_portrait(req: dict, config: ControlConfig = ControlConfig(),
                        folders: tuple[Path, ...] | None = None) -> dict:
    """`folders`: the resolved allowed folders (default: `portrait_folders(config)`)."""
    path = _arg(req, "path", (str,), required=False)
    image = _arg(req, "image", (bytes,), required=False)
    framing = _arg(req, "framing", (str,), required=False)
    if (path is None) == (image is None):
        raise RequestError("bad_argument", "load_portrait needs exactly one of 'path' (str) or "
                                           "'image' (encoded PNG/JPEG/WebP bytes)")
    extra = {}
    if framing is not None:
        if framing not in FRAMINGS:
            raise RequestError("bad_argument", f"load_portrait framing {_brief(framing)} is "
                                               f"unknown: expected one of {list(FRAMINGS)}")
        extra["framing"] = framing
    if image is not None:
        check_image_bytes(image, config)
        return {"image": image, **extra}
    folders = portrait_folders(config) if folders is None else folders
    return {"path": str(check_portrait_path(path, config, folders)), **extra}


# --- server ----------------------------------------------------------------------------------


def _server_curve(config: ControlConfig) -> ServerCurve | None:
    secret, allowed = config.curve_secret_key, config.curve_allowed_clients
    if (secret is None) != (allowed is None):
        raise ConfigError(f"CURVE needs both the server secret key file and the allowed-clients "
                          f"folder: got secret key {secret!r} and allowed clients {allowed!r}")
    return None if secret is None else ServerCurve.load(secret, allowed)


def split_envelope(parts: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """ROUTER frames -> (routing envelope, request body). The envelope runs to the first empty
    frame (REQ adds one, after its request id when REQ_CORRELATE is on); a DEALER that sends no
    delimiter gets just its identity back."""
    for i in range(1, len(parts)):
        if parts[i] == b"":
            return parts[: i + 1], parts[i + 1:]
    return parts[:1], parts[1:]


class ControlServer:
    """Serves control requests on a thread. Context manager; `close()` stops and joins."""

    def __init__(self, handler: Any, config: ControlConfig = ControlConfig(), *,
                 context: zmq.Context | None = None) -> None:
        curve = _server_curve(config)
        check_server_bind(config.endpoint, insecure=config.insecure, secured=curve is not None)
        self.config = config
        self.handler = handler
        self.portrait_folders = portrait_folders(config)
        self._ctx = context or zmq.Context.instance()
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 100)
        # ZeroMQ drops (and disconnects) anything beyond twice the cap before we see it; between
        # the cap and that we still answer too_large.
        sock.setsockopt(zmq.MAXMSGSIZE, 2 * config.max_request_bytes)
        self._zap: ZapRegistration | None = bind_server(sock, config.endpoint, curve, self._ctx,
                                                        "control channel")
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT) or config.endpoint
        self._sock = sock
        self.requests = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vasa-control", daemon=True)
        self._thread.start()

    def __enter__(self) -> "ControlServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._sock.close()
            if self._zap is not None:
                self._zap.release()

    @property
    def secured(self) -> bool:
        """True when only CURVE clients with an allowed key can connect."""
        return self._zap is not None

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(self.config.poll_ms):
                continue
            try:
                parts = self._sock.recv_multipart()
            except zmq.ZMQError:  # pragma: no cover - socket torn down under us
                continue
            envelope, body = split_envelope(parts)
            reply, after = self.handle(body)
            try:
                self._sock.send_multipart(envelope + [_pack(reply)], flags=zmq.NOBLOCK)
            except zmq.ZMQError as e:
                log.warning("control reply could not be sent: %s", e)
            if after is not None:
                after()

    def handle(self, body: list[bytes]) -> tuple[dict, Any]:
        """One request's frames -> (reply map, an optional action to run after replying)."""
        self.requests += 1
        req_id = None
        try:
            req = self._decode(body)
            req_id = req.get("id")
            self._check(req)
            result, after = self._dispatch(req)
            reply = {"ok": True, "result": result}
        except RequestError as e:
            self.errors += 1
            reply, after = {"ok": False, "error": str(e), "code": e.code}, None
        except VasaError as e:
            self.errors += 1
            reply, after = {"ok": False, "error": str(e), "code": "failed"}, None
        except Exception as e:  # a handler bug must not take the channel down
            self.errors += 1
            log.exception("control handler failed")
            reply, after = {"ok": False, "error": f"internal error: {type(e).__name__}: {e}",
                            "code": "failed"}, None
        if isinstance(req_id, (int, str)) and not isinstance(req_id, bool):
            reply["id"] = req_id
        return reply, after

    def _decode(self, body: list[bytes]) -> dict:
        if len(body) != 1:
            raise RequestError("malformed", f"request has {len(body)} frames: expected 1 "
                                            f"msgpack map")
        if len(body[0]) > self.config.max_request_bytes:
            raise RequestError("too_large", f"request is {len(body[0])} bytes: the cap is "
                                            f"{self.config.max_request_bytes} bytes")
        try:
            req = msgpack.unpackb(body[0], raw=False, strict_map_key=True)
        except Exception as e:  # msgpack raises several types on garbage
            raise RequestError("malformed", f"request is not valid msgpack ({type(e).__name__})"
                                            f": expected a map like {{'cmd': 'status'}}") from None
        if not isinstance(req, dict):
            raise RequestError("malformed", f"request is a {type(req).__name__}: expected a map "
                                            f"like {{'cmd': 'status'}}")
        bad_keys = [k for k in req if not isinstance(k, str)]
        if bad_keys:
            raise RequestError("malformed", f"request key {_brief(bad_keys[0])} is "
                                            f"{type(bad_keys[0]).__name__}: expected str keys")
        return req

    def _check(self, req: dict) -> None:
        if "v" in req and req["v"] != wire.VERSION:
            raise RequestError("version", f"request version {_brief(req['v'])} is not supported: "
                                          f"this server speaks version {wire.VERSION}")
        cmd = req.get("cmd")
        if cmd not in COMMANDS:
            raise RequestError("unknown_command" if isinstance(cmd, str) else "malformed",
                               f"command {_brief(cmd)} is unknown: expected one of "
                               f"{list(COMMANDS)}")

    def _dispatch(self, req: dict) -> tuple[dict, Any]:
        cmd = req["cmd"]
        method = getattr(self.handler, cmd, None)
        if method is None:
            raise RequestError("unsupported", f"this server does not support {cmd!r}")
        if cmd == "status":
            return method(), None
        if cmd == "set":
            return method(**parse_set(req)), None
        if cmd == "speak":
            return method(**parse_speak(req, self.config.max_audio_s)), None
        if cmd == "load_portrait":
            return method(**parse_load_portrait(req, self.config, self.portrait_folders)), None
        return {}, method  # stop: reply first, then stop


# --- command-line options (for `serve` and anything else that runs a ControlServer) ------------


def add_cli_options(parser) -> None:
    """Add the control channel's security options (--curve-secret, --curve-allowed,
    --portrait-dir, --max-image-side) to a subcommand that already has --control and
    --insecure; `config_from_args` turns them all into a ControlConfig."""
    d = ControlConfig()
    g = parser.add_argument_group("control-channel security (docs/protocol.md, Security)")
    g.add_argument("--curve-secret", default=None, metavar="FILE",
                   help="server secret key (server.key_secret from `vasa-bridge keys`); with "
                        "--curve-allowed, only listed clients can connect, and the control "
                        "endpoint may be a network address")
    g.add_argument("--curve-allowed", default=None, metavar="DIR",
                   help="folder of allowed client public keys (allowed_clients/)")
    g.add_argument("--portrait-dir", action="append", default=None, metavar="DIR",
                   help="folder load_portrait may read paths from (repeatable; default: the "
                        "current directory)")
    g.add_argument("--max-image-side", type=int, default=d.max_image_side, metavar="PX",
                   help=f"longest portrait side load_portrait accepts (default "
                        f"{d.max_image_side})")


def config_from_args(args, endpoint: str, insecure: bool) -> ControlConfig:
    if args.max_image_side < 1:
        raise ConfigError(f"--max-image-side is {args.max_image_side}: expected a positive "
                          f"number of pixels")
    return ControlConfig(endpoint=endpoint, insecure=insecure,
                         curve_secret_key=args.curve_secret,
                         curve_allowed_clients=args.curve_allowed,
                         portrait_dirs=tuple(args.portrait_dir) if args.portrait_dir else None,
                         max_image_side=args.max_image_side)


# --- client ----------------------------------------------------------------------------------


class ControlClient:
    """A REQ client. `call` returns the result map or raises ControlError with the server's
    message. Survives timeouts (REQ_RELAXED + REQ_CORRELATE)."""

    def __init__(self, endpoint: str = DEFAULT_CONTROL, *, timeout_ms: int = 5000,
                 context: zmq.Context | None = None, curve: ClientCurve | None = None) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.REQ)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.REQ_RELAXED, 1)
        self._sock.setsockopt(zmq.REQ_CORRELATE, 1)
        # After a refused CURVE handshake nothing ever connects: a send must not wait forever.
        self._sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
        self._monitor = None
        if curve is not None:
            secure_client(self._sock, curve)
            # A refused handshake is silent on a REQ socket; the monitor lets a timeout say why.
            self._monitor = self._sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self._sock.connect(endpoint)
        self._next_id = 0

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._monitor is not None:
            self._sock.disable_monitor()
            self._monitor.close(0)
            self._monitor = None
        self._sock.close(0)

    def request(self, req: dict) -> dict:
        """Send one raw request map; return the raw reply map."""
        try:
            self._sock.send(_pack(req))
        except zmq.Again:
            raise ControlError(f"could not send to {self.endpoint} within {self.timeout_ms} ms: "
                               f"is vasa-bridge running there, and does it accept this client?") \
                from None
        if not self._sock.poll(self.timeout_ms):
            refused = self._handshake_failure()
            if refused:
                raise ControlError(f"{self.endpoint} refused this client's CURVE handshake "
                                   f"({refused}): expected the server's public key to be right "
                                   f"and this client's public key to be in its allowed-clients "
                                   f"folder")
            raise ControlError(f"no reply from {self.endpoint} within {self.timeout_ms} ms: is "
                               f"vasa-bridge running there?")
        return msgpack.unpackb(self._sock.recv(), raw=False)

    def _handshake_failure(self) -> str | None:
        """The last CURVE handshake failure the monitor saw, in words; None if none."""
        if self._monitor is None:
            return None
        from zmq.utils.monitor import recv_monitor_message

        found = None
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                found = f"authentication failed, ZAP status {event['value']}"
            elif found is None:
                found = "handshake failed: wrong server key or not a CURVE server"
        return found

    def call(self, cmd: str, **args: Any) -> dict:
        self._next_id += 1
        reply = self.request({"cmd": cmd, "id": self._next_id, **args})
        if not reply.get("ok"):
            raise ControlError(f"{cmd} refused ({reply.get('code')}): {reply.get('error')}")
        return reply.get("result", {})

    def speak(self, audio: np.ndarray, rate: int, stream: str = wire.DEFAULT_STREAM) -> dict:
        """Send a mono float clip as s16 PCM."""
        pcm = (np.clip(np.asarray(audio, np.float32), -1, 1) * 32767).round().astype("<i2")
        return self.call("speak", audio=pcm.tobytes(), rate=int(rate), format="s16",
                         stream=stream)
