"""A publisher for the parts of the C# round trip that `vasa-bridge replay` does not cover: a
fixed, seeded set of messages of every kind (frames, several streams including npc1 and npc10)
encoded with the real wire encoders (vasa_bridge.protocol.wire) on a pyzmq PUB socket, over and
over, and the real control server (vasa_bridge.transport.control.ControlServer) with a test
handler for `speak`, `status` and `stop`.

    python publisher.py --pub tcp://127.0.0.1:P --control tcp://127.0.0.1:Q --expect out.json

`out.json` (written once both sockets are bound) holds every value sent, for the test to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

import numpy as np
import zmq

from vasa_bridge.motion.frame import MotionFrame
from vasa_bridge.protocol import wire
from vasa_bridge.transport.control import ControlConfig, ControlServer

MS = 1_000_000


def build(rng: np.random.Generator) -> tuple[list[list[bytes]], dict]:
    messages, expect = [], {"motion": [], "never": "npc10"}
    sent = time.time_ns()
    for stream, count in (("default", 10), ("npc1", 3), ("npc10", 3)):
        for seq in range(count):
            shapes = rng.uniform(0, 1, 52).astype(np.float32)
            rot = rng.uniform(-30, 30, 3).round(2)
            tr = rng.uniform(-0.05, 0.05, 3).round(4)
            frame = MotionFrame(shapes, rot, tr, seq * 0.04)
            pts = seq * 40 * MS
            messages.append(wire.encode_motion(frame, stream=stream, seq=seq, pts=pts, sent=sent,
                                               extra={"speaking": True}))
            expect["motion"].append({"stream": stream, "seq": seq, "pts": pts,
                                     "blendshapes": shapes.tolist(),
                                     "head_rotation": frame.head_rotation.tolist(),
                                     "head_translation": frame.head_translation.tolist()})
    image = rng.integers(0, 256, (4, 6, 4), dtype=np.uint8)
    messages.append(wire.encode_frame(image, stream="default", seq=0, pts=0, sent=sent,
                                      format="bgra8", alpha="premultiplied"))
    expect["frame"] = {"width": 6, "height": 4, "pixels": image.reshape(-1).tolist()}
    t = np.arange(640) / 16000
    pcm = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).round().astype(np.int16)
    messages.append(wire.encode_audio(pcm, stream="default", seq=0, pts=0, sent=sent, rate=16000))
    expect["audio"] = {"rate": 16000, "values": pcm.tolist()}
    messages.append(wire.encode_event("speech_start", stream="default", seq=0, pts=0, sent=sent,
                                      message="round trip", data={"n": 1}))
    return messages, expect


class Handler:
    """What the runtime would do, reduced to answers the C# test can check."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def status(self) -> dict:
        return {"fps": 25, "streams": ["default", "npc1"]}

    def speak(self, audio: np.ndarray, rate: int, stream: str, text: str | None = None,
              language: str = "en") -> dict:
        # `audio` is what the server parsed from the request: mono float32 (channels averaged).
        reply = {"stream": stream, "pts": 400 * MS, "duration": len(audio) / rate,
                 "sum": float(audio.astype(np.float64).sum())}
        if text is not None:  # the words as the server read them, and an outcome to parse
            reply["text"] = {"used": language == "en", "message": f"{language}: {text}",
                             "fit": -9.5, "unspoken": [[0.25, 0.5]]}
        return reply

    def stop(self) -> None:
        self.stopped.set()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pub", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--timeout", type=float, default=60.0)  # seconds before giving up on "stop"
    args = ap.parse_args()

    messages, expect = build(np.random.default_rng(11))
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(args.pub)
    handler = Handler()
    control = ControlServer(handler, ControlConfig(endpoint=args.control))
    with open(args.expect + ".tmp", "w") as f:
        json.dump(expect, f)
    os.replace(args.expect + ".tmp", args.expect)  # the test waits for this file

    deadline = time.monotonic() + args.timeout
    hello_seq = 0
    while not handler.stopped.is_set() and time.monotonic() < deadline:
        pub.send_multipart(wire.encode_hello(seq=hello_seq, pts=0, sent=time.time_ns(),
                                             streams=["default", "npc1"],
                                             capabilities=["motion", "frame", "audio", "event"],
                                             publisher="roundtrip-test", extra={"control": args.control}))
        hello_seq += 1
        for parts in messages:
            pub.send_multipart(parts)
        handler.stopped.wait(0.1)
    control.close()
    pub.close()
    ctx.term()


if __name__ == "__main__":
    main()
