"""The control channel's client: `ControlClient`, a REQ socket (docs/protocol.md, "Control")."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import zmq

from ...audio.pcm import to_s16
from ...errors import ControlError
from ...protocol import wire
from ..curve import ClientCurve, secure_client
from ..endpoints import DEFAULT_CONTROL
from .schema import pack


class ControlClient:
    """A REQ client. `call` returns the result map or raises ControlError with the server's
    message. Survives timeouts (REQ_RELAXED + REQ_CORRELATE). A request goes only to a runtime
    connected when it is sent: one reported as not sent never runs later."""

    def __init__(self, endpoint: str = DEFAULT_CONTROL, *, timeout_ms: int = 5000,
                 context: zmq.Context | None = None, curve: ClientCurve | None = None) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.REQ)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.REQ_RELAXED, 1)
        self._sock.setsockopt(zmq.REQ_CORRELATE, 1)
        # A request goes only to a runtime that is connected now: queued for none, one that
        # was reported as not sent would run when a runtime started later (a `stop` stopping
        # it at once). After a refused CURVE handshake nothing ever connects: a send must not
        # wait forever.
        self._sock.setsockopt(zmq.IMMEDIATE, 1)
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
            self._sock.send(pack(req))
        except zmq.Again:
            self._refused()
            raise ControlError(f"could not send to {self.endpoint} within {self.timeout_ms} ms "
                               f"(nothing sent): is vasa-bridge running there, and does it "
                               f"accept this client?") from None
        if not self._sock.poll(self.timeout_ms):
            self._refused()
            raise ControlError(f"no reply from {self.endpoint} within {self.timeout_ms} ms: is "
                               f"vasa-bridge running there?")
        return msgpack.unpackb(self._sock.recv(), raw=False)

    def _refused(self) -> None:
        """Raise the CURVE handshake's refusal, if the monitor saw one."""
        refused = self._handshake_failure()
        if refused:
            raise ControlError(f"{self.endpoint} refused this client's CURVE handshake "
                               f"({refused}): expected the server's public key to be right "
                               f"and this client's public key to be in its allowed-clients "
                               f"folder")

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
        pcm = to_s16(np.asarray(audio, np.float32)).astype("<i2")  # the wire is little-endian
        extra = {k: v for k, v in (("text", text), ("language", language)) if v is not None}
        return self.call("speak", audio=pcm.tobytes(), rate=int(rate), format="s16",
                         stream=stream, **extra)
