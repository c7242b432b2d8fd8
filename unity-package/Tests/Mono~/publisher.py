"""A small vasa_bridge publisher for the C# round-trip test (until/unless `vasa-bridge replay`
serves the same purpose): publishes a fixed, seeded set of messages of every kind with the real
wire encoders (vasa_bridge.protocol.wire) on a pyzmq PUB socket, over and over, and answers the
control channel (ROUTER) for `speak`, `status` and `stop`.

    python publisher.py --pub tcp://127.0.0.1:P --control tcp://127.0.0.1:Q --expect out.json

`out.json` (written once both sockets are bound) holds every value sent, for the test to compare.
"""

from __future__ import annotations

import argparse
import json
import time

import msgpack
import numpy as np
import zmq

from vasa_bridge.motion.frame import MotionFrame
from vasa_bridge.motion.names import ARKIT_NAMES
from vasa_bridge.protocol import wire

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


def handle(request: bytes) -> tuple[dict, bool]:
    """One control request -> (reply, stop?). Checks what docs/protocol.md says a speak carries."""
    try:
        req = msgpack.unpackb(request, raw=False)
    except Exception as e:  # noqa: BLE001 - any decoding failure is a malformed request
        return {"ok": False, "error": f"request is not msgpack ({e})", "code": "malformed"}, False
    if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
        return {"ok": False, "error": f"request {req!r} has no 'cmd'", "code": "malformed"}, False
    reply: dict = {"id": req["id"]} if "id" in req else {}
    if req.get("v", 1) != 1:
        return reply | {"ok": False, "error": f"version {req['v']}: expected 1", "code": "version"}, False
    cmd = req["cmd"]
    if cmd == "stop":
        return reply | {"ok": True, "result": {}}, True
    if cmd == "status":
        return reply | {"ok": True, "result": {"fps": 25, "streams": ["default", "npc1"]}}, False
    if cmd == "speak":
        audio, rate, fmt = req.get("audio"), req.get("rate"), req.get("format")
        channels, stream = req.get("channels", 1), req.get("stream", "default")
        if not isinstance(audio, bytes) or not isinstance(rate, int) or fmt not in ("s16", "f32"):
            return reply | {"ok": False, "error": f"speak arguments {sorted(req)}: expected audio "
                            f"(bin), rate (int), format (s16/f32)", "code": "bad_argument"}, False
        samples = np.frombuffer(audio, "<i2" if fmt == "s16" else "<f4").reshape(-1, channels)
        return reply | {"ok": True, "result": {
            "stream": stream, "pts": 400 * MS, "duration": len(samples) / rate,
            "sum": float(samples.astype(np.float64).sum()), "channels": channels}}, False
    return reply | {"ok": False, "error": f"unknown command {cmd!r}", "code": "unknown_command"}, False


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
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(args.control)
    with open(args.expect + ".tmp", "w") as f:
        json.dump(expect, f)
    import os
    os.replace(args.expect + ".tmp", args.expect)  # the test waits for this file

    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    deadline = time.monotonic() + args.timeout
    hello_seq, stop = 0, False
    while not stop and time.monotonic() < deadline:
        pub.send_multipart(wire.encode_hello(seq=hello_seq, pts=0, sent=time.time_ns(),
                                             streams=["default", "npc1"],
                                             capabilities=["motion", "frame", "audio", "event"],
                                             publisher="roundtrip-test", extra={"control": args.control}))
        hello_seq += 1
        for parts in messages:
            pub.send_multipart(parts)
        for _ in range(10):  # answer control requests for ~100 ms, then publish again
            if dict(poller.poll(10)).get(router):
                ident, *rest = router.recv_multipart()
                reply, stop = handle(rest[-1])
                router.send_multipart([ident, b"", msgpack.packb(reply, use_bin_type=True)])
                if stop:
                    break
    pub.close()
    router.close()
    ctx.term()


if __name__ == "__main__":
    main()
