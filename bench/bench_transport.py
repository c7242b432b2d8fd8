"""Publisher throughput against raw pyzmq sends, in the same run.

For motion messages and 512x512 RGBA frames, over tcp loopback and ipc: N messages go from a
sender to a SUB that receives all of them on another thread; throughput is N over the time from
the first send to the last receive (messages/s and MB/s), best of R repeats.

- raw: what a minimal hand-written publisher does: msgpack.packb(header), the float32 values as
  bytes (motion) or the image buffer (frames), socket.send_multipart([topic, header, payload]);
- ours: vasa_bridge.transport.Publisher (sequence numbers, stats, non-blocking send).

    python bench/bench_transport.py [--motion N] [--frames N] [--repeats R]
Target: ours >= 90% of raw.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import msgpack
import numpy as np
import zmq

from vasa_bridge.motion import ARKIT_NAMES, MotionFrame
from vasa_bridge.transport import Publisher, PublisherConfig


def receiver(endpoint: str, n: int, ready: threading.Event, done: list) -> None:
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    ready.set()
    got = 0
    while got < n:
        if not sub.poll(5000):
            break
        sub.recv_multipart(copy=False)
        got += 1
    done.append((got, time.perf_counter()))
    sub.close(0)


def connect_wait(send_one, endpoint: str) -> None:
    """Slow joiner: poke until a probe subscriber on the same endpoint hears something."""
    ctx = zmq.Context.instance()
    probe = ctx.socket(zmq.SUB)
    probe.setsockopt(zmq.SUBSCRIBE, b"")
    probe.connect(endpoint)
    for _ in range(500):
        send_one()
        if probe.poll(10):
            break
    probe.close(0)


def run_raw(endpoint: str, kind: str, n: int, data: np.ndarray, header: dict):
    """A hand-written publisher: pack the header, serialise the values (motion) or hand the
    image buffer over (frames: ZeroMQ copies it once), send three frames."""
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.bind(endpoint)
    topic = f"{kind}/default/".encode()
    payload = (lambda: data.astype("<f4").tobytes()) if kind == "motion" else (lambda: data)
    send = lambda seq: pub.send_multipart(  # noqa: E731
        [topic, msgpack.packb({**header, "seq": seq, "sent": time.time_ns()}), payload()])
    return _measure(endpoint, n, send, lambda: send(0), lambda: pub.close(100), data.nbytes)


def run_ours(endpoint: str, kind: str, n: int, frame: MotionFrame, image: np.ndarray):
    pub = Publisher(PublisherConfig(endpoint=endpoint, sndhwm=0))
    if kind == "motion":
        send = lambda i: pub.motion(frame, pts=i)  # noqa: E731
        size = 4 * 52
    else:
        send = lambda i: pub.frame(image, pts=i)  # noqa: E731
        size = image.nbytes
    return _measure(endpoint, n, send, lambda: pub.hello(force=True), pub.close, size)


def _measure(endpoint, n, send, poke, close, size):
    connect_wait(poke, endpoint)
    ready, done = threading.Event(), []
    t = threading.Thread(target=receiver, args=(endpoint, n, ready, done))
    t.start()
    ready.wait()
    time.sleep(0.3)  # the receiver's subscription reaches the publisher
    t0 = time.perf_counter()
    for i in range(n):
        send(i)
    t.join()
    close()
    got, t1 = done[0]
    return got / (t1 - t0), got * size / (t1 - t0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--motion", type=int, default=50000, help="motion messages per run")
    ap.add_argument("--frames", type=int, default=1000, help="512x512 RGBA frames per run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    frame = MotionFrame(np.random.default_rng(0).uniform(0, 1, 52), (1, 2, 3), (0, 0, 0))
    image = np.random.default_rng(1).integers(0, 256, (512, 512, 4), dtype=np.uint8)
    motion_header = {"v": 1, "seq": 0, "stream": "default", "pts": 0, "sent": 0,
                     "names": list(ARKIT_NAMES), "head_rotation": [1.0, 2.0, 3.0],
                     "head_translation": [0.0, 0.0, 0.0]}
    frame_header = {"v": 1, "seq": 0, "stream": "default", "pts": 0, "sent": 0, "width": 512,
                    "height": 512, "stride": 2048, "format": "rgba8", "alpha": "straight"}
    tmp = tempfile.mkdtemp()
    port = [5700]

    def endpoint(transport: str) -> str:
        port[0] += 1
        return f"tcp://127.0.0.1:{port[0]}" if transport == "tcp" else f"ipc://{tmp}/b{port[0]}"

    print("| transport | kind | raw msg/s | ours msg/s | raw MB/s | ours MB/s | ours/raw |")
    print("|---|---|---|---|---|---|---|")
    for transport in ("tcp", "ipc"):
        for kind, n in (("motion", args.motion), ("frame", args.frames)):
            raws, ours = [], []
            for _ in range(args.repeats):  # interleaved, so drift affects both alike
                data = frame.blendshapes if kind == "motion" else image
                header = motion_header if kind == "motion" else frame_header
                raws.append(run_raw(endpoint(transport), kind, n, data, header))
                ours.append(run_ours(endpoint(transport), kind, n, frame, image))
            raw = max(raws)
            our = max(ours)
            print(f"| {transport} | {kind} | {raw[0]:,.0f} | {our[0]:,.0f} | {raw[1]:,.1f} | "
                  f"{our[1]:,.1f} | {our[0] / raw[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
