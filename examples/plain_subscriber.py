"""A consumer written from docs/protocol.md alone: pyzmq + msgpack, no vasa_bridge import.

    python examples/plain_subscriber.py tcp://127.0.0.1:5555 100
prints one line per motion message: seq, pts in seconds, jawOpen, head yaw.
"""

import struct
import sys

import msgpack
import zmq

endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 100

sock = zmq.Context().socket(zmq.SUB)
sock.setsockopt(zmq.SUBSCRIBE, b"motion/")  # every stream's motion
sock.setsockopt(zmq.RCVTIMEO, 15000)
sock.connect(endpoint)
for _ in range(count):
    topic, header, payload = sock.recv_multipart()
    h = msgpack.unpackb(header, raw=False)
    if h["v"] != 1:
        sys.exit(f"protocol version {h['v']} is not supported: this script speaks version 1")
    if len(payload) != 4 * len(h["names"]):
        sys.exit(f"payload is {len(payload)} bytes: expected {4 * len(h['names'])}")
    values = dict(zip(h["names"], struct.unpack(f"<{len(h['names'])}f", payload)))
    pitch, yaw, roll = h["head_rotation"]
    print(f"{topic.decode()} seq={h['seq']} pts={h['pts'] / 1e9:.3f}s "
          f"jawOpen={values['jawOpen']:.3f} yaw={yaw:.2f}", flush=True)
