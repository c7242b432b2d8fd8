"""`serve --audio-in ENDPOINT`: game audio pushed over ZeroMQ (PUSH -> our PULL), one clip per
message in the wire protocol's `audio` format; the topic's stream id picks the face (NPC).
Equivalent to the control channel's `speak`, without waiting for replies. Bound like the other
servers (`curve.bind_server`): with the control channel's CURVE keys, only listed clients can push."""

from __future__ import annotations

import logging
import threading

import numpy as np
import zmq

from ..audio.pcm import from_s16
from ..errors import ProtocolError, VasaError
from ..protocol import wire
from .curve import ServerCurve, ZapRegistration, bind_server
from .endpoints import check_server_bind

log = logging.getLogger(__name__)

DEFAULT_AUDIO_IN = "tcp://127.0.0.1:5557"


class AudioInlet:
    """A PULL socket served by one thread; each `audio` message becomes `target.speak(...)`."""

    def __init__(self, target, endpoint: str = DEFAULT_AUDIO_IN, *, insecure: bool = False,
                 curve: ServerCurve | None = None, max_seconds: float = 120.0,
                 context: zmq.Context | None = None) -> None:
        check_server_bind(endpoint, insecure=insecure, secured=curve is not None,
                          what="audio input")
        self._target = target
        self._max_seconds = max_seconds
        ctx = context or zmq.Context.instance()
        self._sock = ctx.socket(zmq.PULL)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_MESSAGE_BYTES)
        self._zap: ZapRegistration | None = bind_server(self._sock, endpoint, curve, ctx,
                                                        "audio input")
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.clips = 0
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vasa-audio-in", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(100):
                continue
            parts = self._sock.recv_multipart()
            try:
                self.accept(parts)
            except VasaError as e:  # malformed, NaN or absurd samples, busy: counted, not fatal
                self.refused += 1
                if self.refused <= 5:
                    log.warning("audio input refused a message: %s", e)
            except Exception as e:  # a bug must not end the inlet
                self.refused += 1
                log.exception("audio input failed on a message: %s", e)

    def accept(self, parts: list[bytes]) -> None:
        msg = wire.decode(parts)
        if msg.kind != "audio":
            raise ProtocolError(f"audio input got a {msg.kind!r} message: expected 'audio'")
        samples = msg.audio_samples()
        samples = from_s16(samples) if msg.header["format"] == "s16" else \
            samples.astype(np.float32)
        seconds = len(samples) / msg.header["rate"]
        if seconds > self._max_seconds:
            raise ProtocolError(f"audio clip is {seconds:.1f} s long: the limit is "
                                f"{self._max_seconds:g} s")
        # (N, channels) as they came: the runtime checks them before mixing to mono
        self._target.speak(samples, msg.header["rate"], msg.stream)
        self.clips += 1

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._sock.close(0)
            if self._zap is not None:
                self._zap.release()
