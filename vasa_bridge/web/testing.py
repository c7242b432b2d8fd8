"""A real runtime in-process, for the web tests and bench/bench_web.py: publisher, serve loop,
control channel on given endpoints (what `vasa-bridge serve` builds, without the CLI)."""

from __future__ import annotations

import socket
import threading

import numpy as np

from vasa_bridge.audio.sources import RATE
from vasa_bridge.runtime.engine import LoudnessEngine
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.transport import (
    ControlConfig,
    ControlServer,
    Publisher,
    PublisherConfig,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepared(size: int, alpha: bool):
    import skimage.data

    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.render.base import RenderConfig, get_backend
    renderer = get_backend("cpu", RenderConfig(alpha=alpha))
    config = PortraitConfig(size=size)
    return renderer, renderer.prepare(skimage.data.astronaut(), config), \
        (lambda image, framing="bust": renderer.prepare(
            image, PortraitConfig.framed(framing, size=size)))


class LiveRuntime:
    """`vasa-bridge serve` without the CLI: motion, frames, audio and control on given ports."""

    def __init__(self, pub: str, control: str, prepared_face, *, alpha: bool = False,
                 stamp=None, stream: str = "default") -> None:
        renderer, state, prepare = prepared_face
        self.pub = Publisher(PublisherConfig(endpoint=pub, latest_only_frames=True,
                                             extra_hello=(("fps", 25.0),)))
        self.runtime = Runtime(ServeConfig(alpha=alpha, stream=stream), self.pub,
                               engine_factory=LoudnessEngine,
                               renderer=renderer, portrait=state, prepare=prepare, stamp=stamp)
        self.commands = Commands(self.runtime)
        self.control = ControlServer(self.commands, ControlConfig(endpoint=control))
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.runtime.run, args=(self._stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(10)
        self.control.close()
        self.pub.close()

    def __enter__(self) -> LiveRuntime:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def tone(seconds: float, freq: float = 220.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    import io

    import soundfile as sf
    out = io.BytesIO()
    sf.write(out, audio, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
