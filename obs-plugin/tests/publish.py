"""Test publisher for the OBS harness and the smoke test: known frames and sound on the wire
(vasa_bridge.protocol.wire encoders, pyzmq), paced in real time.

Streams:
- `default`: rgba8, straight alpha, W x H; sound: s16 mono 16 kHz, a 440 Hz sine at 0.5;
- `npc1`: bgra8, premultiplied alpha, rows padded by 16 bytes; sound: f32 stereo 48 kHz,
  660 Hz at 0.25.
Each frame carries its seq in pixel (0, 0), so a reader can tell which frame it sees. The same
patterns are computed in obs-harness.c (C) and smoke_obs.py: keep the three in step.

Writes one line per frame to --log: `frame STREAM SEQ SENT_NS` (sent = the header's `sent`).
An XPUB socket lets it wait until the subscribers are there, so no frame is lost to ZeroMQ's
slow-joiner window.

    python obs-plugin/tests/publish.py --endpoint tcp://127.0.0.1:5555 --seconds 2 --log out.txt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: vasa_bridge
from vasa_bridge.protocol import wire  # noqa: E402

WIDTH, HEIGHT = 96, 64  # pixels


def pattern_default(seq: int) -> np.ndarray:
    """(H, W, 4) RGBA, straight alpha; seq in pixel (0, 0) as (seq & 255, seq >> 8, 0x5A, 255)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    img = np.stack([(x * 4 + seq) & 255, (y * 5 + 2 * seq) & 255, (x * y + 3 * seq) & 255,
                    255 - (x + y) % 64], axis=-1).astype(np.uint8)
    img[0, 0] = (seq & 255, (seq >> 8) & 255, 0x5A, 255)
    return img


NPC_ALPHAS = np.array([255, 200, 128, 64, 0])


def pattern_npc_straight(seq: int) -> np.ndarray:
    """(H, W, 4) BGRA, straight alpha (before premultiplying); seq in pixel (0, 0) as
    B = seq & 255, G = seq >> 8, R = 0xA5, A = 255."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    img = np.stack([(x * 3 + seq) & 255, (y * 7) & 255, (x + 2 * y) & 255,
                    NPC_ALPHAS[x % 5]], axis=-1).astype(np.uint8)
    img[0, 0] = (seq & 255, (seq >> 8) & 255, 0xA5, 255)
    return img


def npc_message(seq: int, pts: int, sent: int) -> list[bytes]:
    """npc1's frame: premultiplied, stride padded with 0xEE (the encoder packs rows tightly)."""
    s = pattern_npc_straight(seq).astype(np.uint32)
    p = s.copy()
    p[..., :3] = (s[..., :3] * s[..., 3:] + 127) // 255
    stride = 4 * WIDTH + 16
    rows = np.full((HEIGHT, stride), 0xEE, np.uint8)
    rows[:, : 4 * WIDTH] = p.astype(np.uint8).reshape(HEIGHT, -1)
    header = {"v": wire.VERSION, "seq": seq, "stream": "npc1", "pts": pts, "sent": sent,
              "width": WIDTH, "height": HEIGHT, "stride": stride, "format": "bgra8",
              "alpha": "premultiplied"}
    return [wire.topic("frame", "npc1"), msgpack.packb(header, use_bin_type=True),
            rows.tobytes()]


def sine(freq: float, amp: float, rate: int, start: int, n: int) -> np.ndarray:
    t = (start + np.arange(n)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wait_for_subscribers(sock: zmq.Socket, topics: set[bytes], timeout_s: float) -> set[bytes]:
    seen: set[bytes] = set()
    deadline = time.monotonic() + timeout_s
    while not topics <= seen and time.monotonic() < deadline:
        if sock.poll(50):
            msg = sock.recv()
            if msg[:1] == b"\x01":
                seen.add(msg[1:])
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--streams", default="default,npc1")
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--wait-for", default="frame/default/,audio/default/",
                    help="subscriptions to wait for before publishing (comma-separated)")
    ap.add_argument("--wait-s", type=float, default=10.0)
    ap.add_argument("--capabilities", default="frame,audio",
                    help="the hello's capabilities (comma-separated; without 'frame': a "
                         "publisher that sends no pictures, like serve --no-frames)")
    ap.add_argument("--frames-seconds", type=float, default=None,
                    help="send pictures only this long, sound for all of --seconds (a runtime "
                         "whose pictures stall while its sound goes on)")
    args = ap.parse_args()

    streams = args.streams.split(",")
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.setsockopt(zmq.SNDHWM, 1000)
    sock.bind(args.endpoint)
    want = {t.encode() for t in args.wait_for.split(",") if t}
    seen = wait_for_subscribers(sock, want, args.wait_s)
    if not want <= seen:
        print(f"publish.py: subscribers {sorted(seen)} after {args.wait_s} s: expected "
              f"{sorted(want)}", file=sys.stderr)
        return 1

    n_frames = int(round(args.seconds * args.fps))
    n_pictures = n_frames if args.frames_seconds is None else \
        int(round(args.frames_seconds * args.fps))
    t0 = time.monotonic()
    audio_sent = {"default": 0, "npc1": 0}  # samples per channel so far
    rates = {"default": 16000, "npc1": 48000}
    lines = []
    capabilities = [c for c in args.capabilities.split(",") if c]
    hello_every = max(1, int(round(args.fps)))  # frames: a hello once a second, as the runtime
    for i in range(n_frames):
        target = t0 + i / args.fps
        while (delay := target - time.monotonic()) > 0:
            time.sleep(min(delay, 0.005))
        pts = int(round(i * 1e9 / args.fps))
        if i % hello_every == 0:
            sock.send_multipart(wire.encode_hello(
                seq=i // hello_every, pts=pts, sent=time.time_ns(), streams=streams,
                capabilities=capabilities, publisher="obs-plugin/tests/publish.py",
                extra={"fps": args.fps}))
        for stream in streams:
            rate = rates[stream]
            start, end = audio_sent[stream], int(round((i + 1) * rate / args.fps))
            # images and sound first: `sent` is stamped just before the bytes go out
            if stream == "default":
                image, sound = pattern_default(i), sine(440, 0.5, rate, start, end - start)
                sent = time.time_ns()
                frame = wire.encode_frame(image, stream=stream, seq=i, pts=pts,
                                          sent=sent, format="rgba8", alpha="straight")
                audio = wire.encode_audio(sound, stream=stream, seq=i,
                                          pts=start * 10**9 // rate, sent=sent, rate=rate,
                                          format="s16")
            else:
                mono = sine(660, 0.25, rate, start, end - start)
                sent = time.time_ns()
                frame = npc_message(i, pts, sent)
                audio = wire.encode_audio(np.stack([mono, mono], axis=1), stream=stream, seq=i,
                                          pts=start * 10**9 // rate, sent=sent, rate=rate,
                                          format="f32")
            if i < n_pictures:
                sock.send_multipart(frame)
                lines.append(f"frame {stream} {i} {sent}")
            sock.send_multipart(audio)
            audio_sent[stream] = end
    args.log.write_text("\n".join(lines) + "\n")
    print(f"publish.py: {n_frames} frames per stream ({', '.join(streams)}) in "
          f"{time.monotonic() - t0:.2f} s")
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
