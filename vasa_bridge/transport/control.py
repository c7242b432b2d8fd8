"""The control channel: msgpack request-reply on its own endpoint (docs/protocol.md, "Control").

`ControlServer` (a ROUTER socket served by one thread) validates every request before it reaches
the handler, answers anything malformed with an error reply, and keeps serving. The handler is
any object with some of the methods `status()`, `set(**values)`, `speak(audio, rate, stream)`,
`load_portrait(path=None, image=None)`, `stop()`; a command whose method is missing answers
`unsupported`. `ControlClient` is the matching REQ client.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import zmq

from ..errors import ControlError, TransportError, VasaError
from ..protocol import wire
from .endpoints import DEFAULT_CONTROL, check_server_bind

log = logging.getLogger(__name__)

COMMANDS = ("status", "set", "speak", "load_portrait", "stop")
SET_KEYS = ("emotion", "gaze", "head_motion", "stream")


@dataclass(frozen=True)
class ControlConfig:
    endpoint: str = DEFAULT_CONTROL  # where the ROUTER binds
    insecure: bool = False  # allow a non-loopback bind without authentication
    max_request_bytes: int = 32 * 1024 * 1024  # larger requests get a too_large reply
    max_audio_s: float = 120.0  # longest clip `speak` accepts, seconds
    poll_ms: int = 100  # how often the serving thread checks its stop event


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


# --- request validation (pure functions, tested directly) ------------------------------------


def _arg(req: dict, key: str, types: tuple, *, required: bool = True, default: Any = None) -> Any:
    if key not in req:
        if required:
            raise RequestError("bad_argument", f"{req.get('cmd')} needs argument {key!r}")
        return default
    value = req[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        names = "/".join(t.__name__ for t in types)
        raise RequestError("bad_argument", f"{req['cmd']} argument {key!r} is {value!r:.80} "
                                           f"({type(value).__name__}): expected {names}")
    return value


def parse_set(req: dict) -> dict:
    unknown = sorted(set(req) - set(SET_KEYS) - {"cmd", "id", "v"})
    if unknown:
        raise RequestError("bad_argument", f"set does not know {unknown[0]!r}: expected some of "
                                           f"{list(SET_KEYS)}")
    values: dict[str, Any] = {}
    if "emotion" in req:
        values["emotion"] = _arg(req, "emotion", (str,))
    if "gaze" in req:
        gaze = _arg(req, "gaze", (list,))
        if len(gaze) != 2 or not all(isinstance(g, (int, float)) and not isinstance(g, bool)
                                     and math.isfinite(g) and -1 <= g <= 1 for g in gaze):
            raise RequestError("bad_argument", f"set gaze is {gaze!r:.80}: expected [x, y] with "
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


def parse_load_portrait(req: dict) -> dict:
    path = _arg(req, "path", (str,), required=False)
    image = _arg(req, "image", (bytes,), required=False)
    if (path is None) == (image is None):
        raise RequestError("bad_argument", "load_portrait needs exactly one of 'path' (str) or "
                                           "'image' (encoded PNG/JPEG/WebP bytes)")
    return {"path": path} if path is not None else {"image": image}


# --- server ----------------------------------------------------------------------------------


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
        check_server_bind(config.endpoint, insecure=config.insecure)
        self.config = config
        self.handler = handler
        self._ctx = context or zmq.Context.instance()
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 100)
        # ZeroMQ drops (and disconnects) anything beyond twice the cap before we see it; between
        # the cap and that we still answer too_large.
        sock.setsockopt(zmq.MAXMSGSIZE, 2 * config.max_request_bytes)
        try:
            sock.bind(config.endpoint)
        except zmq.ZMQError as e:
            sock.close(0)
            raise TransportError(f"cannot bind control channel to {config.endpoint!r}: {e}") \
                from None
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
        return req

    def _check(self, req: dict) -> None:
        if "v" in req and req["v"] != wire.VERSION:
            raise RequestError("version", f"request version {req['v']!r} is not supported: this "
                                          f"server speaks version {wire.VERSION}")
        cmd = req.get("cmd")
        if cmd not in COMMANDS:
            raise RequestError("unknown_command" if isinstance(cmd, str) else "malformed",
                               f"command {cmd!r:.60} is unknown: expected one of {list(COMMANDS)}")

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
            return method(**parse_load_portrait(req)), None
        return {}, method  # stop: reply first, then stop


# --- client ----------------------------------------------------------------------------------


class ControlClient:
    """A REQ client. `call` returns the result map or raises ControlError with the server's
    message. Survives timeouts (REQ_RELAXED + REQ_CORRELATE)."""

    def __init__(self, endpoint: str = DEFAULT_CONTROL, *, timeout_ms: int = 5000,
                 context: zmq.Context | None = None) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.REQ)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.REQ_RELAXED, 1)
        self._sock.setsockopt(zmq.REQ_CORRELATE, 1)
        self._sock.connect(endpoint)
        self._next_id = 0

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close(0)

    def request(self, req: dict) -> dict:
        """Send one raw request map; return the raw reply map."""
        self._sock.send(_pack(req))
        if not self._sock.poll(self.timeout_ms):
            raise ControlError(f"no reply from {self.endpoint} within {self.timeout_ms} ms: is "
                               f"vasa-bridge running there?")
        return msgpack.unpackb(self._sock.recv(), raw=False)

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
