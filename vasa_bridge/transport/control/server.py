"""The control channel's server: a ROUTER socket served by one thread (docs/protocol.md,
"Control").

`ControlServer` checks every request (`schema`) before it reaches the handler, answers anything
malformed with an error reply, and keeps serving. The handler is any object with some of the
methods `status()`, `set(**values)`, `speak(audio, rate, stream)` (or
`speak(audio, rate, stream, text=None, language="en")` to accept the words spoken),
`load_portrait(path=None, image=None, framing=None)`, `stop()`; a command whose method is missing
answers `unsupported`.

Security (docs/protocol.md, "Security"): the server binds loopback unless it has CURVE keys (and
then lets in only the client public keys in its allowed-clients folder) or `insecure=True`.

Slow commands (`speak`: resampling, baking an NPC line; `load_portrait`: analysing a photo) run
on worker threads (`KeyedJobs`), one queue per stream (a stream's clips keep their order); the
serving thread goes on answering everything else meanwhile and sends each reply when its work is
done. At most `max_pending` slow requests wait at once; more are answered `busy`.
"""

from __future__ import annotations

import collections
import inspect
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zmq

from ...errors import BusyError, ConfigError, VasaError
from ...protocol import wire
from ..curve import ServerCurve, ZapRegistration, bind_server
from ..endpoints import check_server_bind
from .schema import (SLOW_COMMANDS, ControlConfig, RequestError, check_command, decode_request,
                     pack, parse_load_portrait, parse_set, parse_speak, portrait_folders)

log = logging.getLogger(__name__)


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
        self._jobs = KeyedJobs(config.workers)
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
            self._sock.send_multipart(envelope + [pack(reply)], flags=zmq.NOBLOCK)
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
            req = decode_request(body, self.config)
            check_command(req)
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
        except ConfigError as e:  # the handler refused a value (an emotion the model lacks)
            self.errors += 1
            return self._error_reply(req, "bad_argument", str(e)), None
        except VasaError as e:
            self.errors += 1
            return self._error_reply(req, "failed", str(e)), None
        except Exception as e:  # a handler bug must not take the channel down
            self.errors += 1
            log.exception("control handler failed")
            return self._error_reply(req, "failed", f"internal error: {type(e).__name__}: "
                                                    f"{e}"), None

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


class KeyedJobs:
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
