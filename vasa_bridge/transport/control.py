"""The control channel: msgpack request-reply on its own endpoint (docs/protocol.md, "Control").

`ControlServer` (a ROUTER socket served by one thread) validates every request before it reaches
the handler, answers anything malformed with an error reply, and keeps serving. The handler is
any object with some of the methods `status()`, `set(**values)`, `speak(audio, rate, stream)`
(or `speak(audio, rate, stream, text=None, language="en")` to accept the words spoken),
`load_portrait(path=None, image=None, framing=None)`, `stop()`; a command whose method is missing
answers
`unsupported`. `ControlClient` is the matching REQ client.

Security (docs/protocol.md, "Security"): the server binds loopback unless it has CURVE keys (and
then lets in only the client public keys in its allowed-clients folder) or `insecure=True`.
Requests are capped in size, and large ones in object count and nesting depth before they are
unpacked (`check_msgpack_shape`); `speak` audio in length; `load_portrait` images in encoded size
and pixel dimensions (read from the header, never decoded here), and `load_portrait` paths must
resolve (symlinks and `..` followed) to a .png/.jpg/.jpeg/.webp file inside an allowed folder.

Slow commands (`speak`: resampling, baking an NPC line; `load_portrait`: analysing a photo) run
on worker threads, one queue per stream (a stream's clips keep their order); the serving thread
goes on answering everything else meanwhile and sends each reply when its work is done. At most
`max_pending` slow requests wait at once; more are answered `busy`. A `speak` transcript is
capped in characters.
"""

from __future__ import annotations

import inspect
import io
import collections
import logging
import math
import os
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq

from ..audio.sources import check_clip
from ..errors import AudioError, BusyError, ConfigError, ControlError, VasaError
from ..protocol import wire
from .curve import ClientCurve, ServerCurve, ZapRegistration, bind_server, secure_client
from .endpoints import DEFAULT_CONTROL, check_server_bind

log = logging.getLogger(__name__)

COMMANDS = ("status", "set", "speak", "load_portrait", "stop")
SLOW_COMMANDS = ("speak", "load_portrait")  # run on a worker: the serving thread stays free
FRAMINGS = ("bust", "head")  # load_portrait's optional framing (face.portrait.FRAMINGS)
SET_KEYS = ("emotion", "gaze", "head_motion", "stream")
PORTRAIT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
PORTRAIT_FORMATS = ("PNG", "JPEG", "WEBP")  # the only decoders Pillow may try on request bytes


@dataclass(frozen=True)
class ControlConfig:
    endpoint: str = DEFAULT_CONTROL  # where the ROUTER binds
    insecure: bool = False  # allow a non-loopback bind without authentication
    max_request_bytes: int = 32 * 1024 * 1024  # larger requests get a too_large reply
    max_objects: int = 1 << 18  # msgpack objects in one request at most (checked unpacked)
    max_depth: int = 16  # msgpack nesting depth at most
    workers: int = 2  # threads for slow commands (speak, load_portrait)
    max_pending: int = 16  # slow requests queued or running at once; more are answered busy
    max_audio_s: float = 120.0  # longest clip `speak` accepts, seconds
    max_text_chars: int = 4000  # longest `speak` transcript, characters
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

# msgpack first bytes -> bytes that follow before the next object (fixed-size scalars)
_FIXED = {0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8,
          0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17}
# first byte -> (width of the length field, extra bytes after it) for str, bin and ext
_SIZED = {0xc4: (1, 0), 0xc5: (2, 0), 0xc6: (4, 0), 0xc7: (1, 1), 0xc8: (2, 1), 0xc9: (4, 1),
          0xd9: (1, 0), 0xda: (2, 0), 0xdb: (4, 0)}
# first byte -> (width of the count field, items per count) for arrays and maps
_CONTAINERS = {0xdc: (2, 1), 0xdd: (4, 1), 0xde: (2, 2), 0xdf: (4, 2)}


def check_msgpack_shape(data: bytes, max_objects: int, max_depth: int) -> int:
    """Walk a msgpack document's structure without building it: refuse (RequestError) more than
    `max_objects` objects (too_large), nesting deeper than `max_depth` (too_large), or a
    container that claims more items than there are bytes left (malformed). Stops at the first
    excess, so it costs at most `max_objects` steps. Returns the object count."""
    n = len(data)
    pos = 0
    claimed = 1  # objects announced so far (each is at least one byte)
    stack = [1]  # items still expected at each open level
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        stack[-1] -= 1
        if pos >= n:
            raise RequestError("malformed", f"request is truncated msgpack (ends at byte {n}): "
                                            f"expected a complete map like {{'cmd': 'status'}}")
        b = data[pos]
        pos += 1
        items = 0
        if b <= 0x7f or b >= 0xe0:
            continue
        if 0x80 <= b <= 0x8f:
            items = 2 * (b & 0x0f)
        elif 0x90 <= b <= 0x9f:
            items = b & 0x0f
        elif 0xa0 <= b <= 0xbf:
            pos += b & 0x1f
            continue
        elif b in _FIXED:
            pos += _FIXED[b]
            continue
        elif b in _SIZED:
            width, extra = _SIZED[b]
            pos += int.from_bytes(data[pos:pos + width], "big") + width + extra
            continue
        elif b in _CONTAINERS:
            width, per = _CONTAINERS[b]
            items = per * int.from_bytes(data[pos:pos + width], "big")
            pos += width
        else:  # 0xc1 is never used
            raise RequestError("malformed", f"request has byte 0x{b:02x} at {pos - 1}, which "
                                            f"msgpack never uses: expected a msgpack map")
        if items > n - pos:
            raise RequestError("malformed", f"request claims {items} items with {n - pos} bytes "
                                            f"left: expected a complete msgpack map")
        claimed += items
        if claimed > max_objects:
            raise RequestError("too_large", f"request holds more than {max_objects} msgpack "
                                            f"objects: the limit is {max_objects}")
        if items:
            if len(stack) >= max_depth:
                raise RequestError("too_large", f"request nests deeper than {max_depth} levels: "
                                                f"the limit is {max_depth}")
            stack.append(items)
    if pos > n:
        raise RequestError("malformed", f"request is truncated msgpack (a value runs past byte "
                                        f"{n}): expected a complete map like {{'cmd': 'status'}}")
    return claimed


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


_LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def parse_speak(req: dict, max_audio_s: float, max_text_chars: int = 4000) -> dict:
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
    stream = _checked_stream(req)
    try:  # the runtime checks again (for its other entry points); here it earns bad_argument
        audio = check_clip(audio, rate)
    except AudioError as e:
        raise RequestError("bad_argument", f"speak {e}") from None
    return {"audio": audio, "rate": rate, "stream": stream} | _speak_text(req, max_text_chars)


def _speak_text(req: dict, max_text_chars: int) -> dict:
    """The optional transcript (`text`) and its `language` of a speak request."""
    text = _arg(req, "text", (str,), required=False)
    language = _arg(req, "language", (str,), required=False)
    if text is None:
        if language is not None:
            raise RequestError("bad_argument", "speak language is given without text: expected "
                                               "a text (the words spoken) with it")
        return {}
    if len(text) > max_text_chars:
        raise RequestError("too_large", f"speak text is {len(text)} characters: the limit is "
                                        f"{max_text_chars}")
    if not text.strip() or "\x00" in text:
        raise RequestError("bad_argument", f"speak text is {_brief(text)}: expected the words "
                                           f"spoken")
    if language is not None and not _LANGUAGE.match(language):
        raise RequestError("bad_argument", f"speak language is {_brief(language)}: expected a "
                                           f"language code such as 'en' or 'de'")
    return {"text": text, "language": language or "en"}


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
        self.busy = 0  # slow requests answered busy (too many pending)
        self._jobs = _KeyedJobs(config.workers)
        self._done: queue.SimpleQueue = queue.SimpleQueue()  # (envelope, reply, after)
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
            self._jobs.close()
            self._sock.close()
            if self._zap is not None:
                self._zap.release()

    @property
    def secured(self) -> bool:
        """True when only CURVE clients with an allowed key can connect."""
        return self._zap is not None

    @property
    def pending(self) -> int:
        """Slow requests queued or running on the workers."""
        return self._jobs.pending

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._send_finished()
            # While slow work is out, wake often to send its replies as soon as they are ready.
            if not self._sock.poll(5 if self._jobs.pending else self.config.poll_ms):
                continue
            try:
                parts = self._sock.recv_multipart()
            except zmq.ZMQError:  # pragma: no cover - socket torn down under us
                continue
            envelope, body = split_envelope(parts)
            req, reply = self._open(body)
            if req is not None and req["cmd"] in SLOW_COMMANDS and \
                    getattr(self.handler, req["cmd"], None) is not None:
                if self._jobs.pending >= self.config.max_pending:
                    self.busy += 1
                    reply = self._error_reply(req, "busy", f"{self._jobs.pending} slow requests "
                                              f"are in progress: the limit is "
                                              f"{self.config.max_pending}; retry later")
                else:
                    self._jobs.submit(self._job_key(req), self._worker(envelope, req))
                    continue
            after = None
            if reply is None:
                reply, after = self._answer(req)
            self._send(envelope, reply)
            if after is not None:
                after()
        self._send_finished()

    def _worker(self, envelope: list[bytes], req: dict):
        def work() -> None:
            reply, after = self._answer(req)
            self._done.put((envelope, reply, after))
        return work

    @staticmethod
    def _job_key(req: dict) -> str:
        """Requests with the same key run one after another, in arrival order (a stream's clips
        must queue in the order they were sent); different keys run side by side."""
        if req["cmd"] == "speak":
            stream = req.get("stream", wire.DEFAULT_STREAM)
            return "speak:" + (stream if isinstance(stream, str) else "?")
        return req["cmd"]

    def _send_finished(self) -> None:
        while True:
            try:
                envelope, reply, after = self._done.get_nowait()
            except queue.Empty:
                return
            self._send(envelope, reply)
            if after is not None:
                after()

    def _send(self, envelope: list[bytes], reply: dict) -> None:
        try:
            self._sock.send_multipart(envelope + [_pack(reply)], flags=zmq.NOBLOCK)
        except zmq.ZMQError as e:
            log.warning("control reply could not be sent: %s", e)

    def handle(self, body: list[bytes]) -> tuple[dict, Any]:
        """One request's frames -> (reply map, an optional action to run after replying), all on
        the calling thread."""
        req, reply = self._open(body)
        if reply is not None:
            return reply, None
        return self._answer(req)

    def _open(self, body: list[bytes]) -> tuple[dict | None, dict | None]:
        """Decode and check a request: (request, None), or (None, the error reply)."""
        self.requests += 1
        req = None
        try:
            req = self._decode(body)
            self._check(req)
            return req, None
        except RequestError as e:
            self.errors += 1
            return None, self._error_reply(req, e.code, str(e))

    @staticmethod
    def _with_id(req: dict | None, reply: dict) -> dict:
        """`reply` carrying the request's `id` (an int or str), so a client can match them."""
        req_id = req.get("id") if req is not None else None
        if isinstance(req_id, (int, str)) and not isinstance(req_id, bool):
            reply["id"] = req_id
        return reply

    @classmethod
    def _error_reply(cls, req: dict | None, code: str, message: str) -> dict:
        return cls._with_id(req, {"ok": False, "error": message, "code": code})

    def _answer(self, req: dict) -> tuple[dict, Any]:
        """Run a checked request's command -> (reply, an optional action after replying)."""
        try:
            result, after = self._dispatch(req)
            return self._with_id(req, {"ok": True, "result": result}), after
        except RequestError as e:
            self.errors += 1
            return self._error_reply(req, e.code, str(e)), None
        except BusyError as e:
            self.errors += 1
            return self._error_reply(req, "busy", str(e)), None
        except VasaError as e:
            self.errors += 1
            return self._error_reply(req, "failed", str(e)), None
        except Exception as e:  # a handler bug must not take the channel down
            self.errors += 1
            log.exception("control handler failed")
            return self._error_reply(req, "failed", f"internal error: {type(e).__name__}: "
                                                    f"{e}"), None

    def _decode(self, body: list[bytes]) -> dict:
        if len(body) != 1:
            raise RequestError("malformed", f"request has {len(body)} frames: expected 1 "
                                            f"msgpack map")
        if len(body[0]) > self.config.max_request_bytes:
            raise RequestError("too_large", f"request is {len(body[0])} bytes: the cap is "
                                            f"{self.config.max_request_bytes} bytes")
        check_msgpack_shape(body[0], self.config.max_objects, self.config.max_depth)
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
            args = parse_speak(req, self.config.max_audio_s, self.config.max_text_chars)
            if "text" in args and "text" not in inspect.signature(method).parameters:
                raise RequestError("unsupported", "this server's speak takes no text: send the "
                                                  "audio alone")
            return method(**args), None
        if cmd == "load_portrait":
            return method(**parse_load_portrait(req, self.config, self.portrait_folders)), None
        return {}, method  # stop: reply first, then stop


class _KeyedJobs:
    """A small thread pool where jobs with the same key run one at a time, in submission order,
    and jobs with different keys run side by side."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="vasa-control-work")
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque] = {}
        self.pending = 0

    def submit(self, key: str, job) -> None:
        with self._lock:
            self.pending += 1
            waiting = self._queues.get(key)
            if waiting is not None:  # this key is busy: run after the ones before it
                waiting.append(job)
                return
            self._queues[key] = collections.deque()
        self._pool.submit(self._run, key, job)

    def _run(self, key: str, job) -> None:
        while True:
            try:
                job()
            except Exception:  # pragma: no cover - jobs catch their own errors
                log.exception("control worker job failed")
            with self._lock:
                self.pending -= 1
                waiting = self._queues[key]
                if not waiting:
                    del self._queues[key]
                    return
                job = waiting.popleft()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


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

    def speak(self, audio: np.ndarray, rate: int, stream: str = wire.DEFAULT_STREAM,
              text: str | None = None, language: str | None = None) -> dict:
        """Send a mono float clip as s16 PCM; `text` (the words spoken, with their `language`)
        lets the server drive the mouth from their forced alignment."""
        pcm = (np.clip(np.asarray(audio, np.float32), -1, 1) * 32767).round().astype("<i2")
        extra = {k: v for k, v in (("text", text), ("language", language)) if v is not None}
        return self.call("speak", audio=pcm.tobytes(), rate=int(rate), format="s16",
                         stream=stream, **extra)
