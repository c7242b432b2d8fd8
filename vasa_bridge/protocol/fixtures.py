"""Golden wire fixtures: every message kind plus a malformed set, shared by the Python, C# and C
tests (tests/fixtures/protocol/).

File layout of a `.bin` (docs/protocol.md, "Golden fixtures"): u32 LE part count, then for each
part a u32 LE byte length and the bytes. `expected.json` holds, for each file, either the decoded
values or `{"error": "version" | "too_large" | "malformed"}`.

Regenerate (only when the protocol changes, with a version bump):
    python -m vasa_bridge.protocol.fixtures tests/fixtures/protocol
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import msgpack
import numpy as np

from ..motion.frame import MotionFrame
from ..motion.names import ARKIT_NAMES
from . import wire

SENT = 1_764_000_000_123_456_789  # a fixed wall clock, ns


def pack_parts(parts: list[bytes]) -> bytes:
    out = [struct.pack("<I", len(parts))]
    for p in parts:
        out += [struct.pack("<I", len(p)), bytes(p)]
    return b"".join(out)


def unpack_parts(data: bytes) -> list[bytes]:
    (n,), pos, parts = struct.unpack_from("<I", data), 4, []
    for _ in range(n):
        (size,) = struct.unpack_from("<I", data, pos)
        parts.append(data[pos + 4: pos + 4 + size])
        pos += 4 + size
    if pos != len(data):
        raise ValueError(f"fixture has {len(data) - pos} trailing bytes")
    return parts


def read_fixture(path: str | Path) -> list[bytes]:
    return unpack_parts(Path(path).read_bytes())


def _header(h: dict) -> bytes:
    return msgpack.packb(h, use_bin_type=True)


def _common(stream="default", seq=3, pts=120_000_000) -> dict:
    return {"v": 1, "seq": seq, "stream": stream, "pts": pts, "sent": SENT}


def build() -> dict[str, tuple[list[bytes], dict]]:
    """name -> (parts, expected). Deterministic: the same bytes on every run."""
    fx: dict[str, tuple[list[bytes], dict]] = {}

    shapes = {"jawOpen": 0.5, "eyeBlinkLeft": 1.0, "mouthSmileRight": 0.25, "tongueOut": 0.125}
    frame = MotionFrame.from_named(shapes, head_rotation=(5.0, -10.0, 2.5),
                                   head_translation=(0.01, -0.02, 0.03))
    fx["motion"] = (wire.encode_motion(frame, stream="default", seq=7, pts=1_040_000_000,
                                       sent=SENT),
                    dict(kind="motion", stream="default", seq=7, pts=1_040_000_000, sent=SENT,
                         blendshapes=shapes, head_rotation=[5.0, -10.0, 2.5],
                         head_translation=[0.01, -0.02, 0.03]))

    # Names in reverse order: decoders must map by name, never by index.
    rev = list(reversed(ARKIT_NAMES))
    values = np.zeros(52, "<f4")
    npc_shapes = {"jawOpen": 0.75, "mouthFunnel": 0.5, "browInnerUp": 0.25}
    for name, v in npc_shapes.items():
        values[rev.index(name)] = v
    h = _common("npc1", 0, 0) | {"names": rev, "head_rotation": [0.0, 20.0, 0.0],
                                  "head_translation": [0.0, 0.0, 0.0]}
    fx["motion_reordered"] = ([wire.topic("motion", "npc1"), _header(h), values.tobytes()],
                              dict(kind="motion", stream="npc1", seq=0, pts=0, sent=SENT,
                                   blendshapes=npc_shapes, head_rotation=[0.0, 20.0, 0.0],
                                   head_translation=[0.0, 0.0, 0.0]))

    img = np.zeros((2, 4, 4), np.uint8)
    for y in range(2):
        for x in range(4):
            img[y, x] = (x * 60, y * 100, 30, 255 - x * 10)
    fx["frame_rgba"] = (wire.encode_frame(img, stream="default", seq=1, pts=40_000_000,
                                          sent=SENT),
                        dict(kind="frame", stream="default", seq=1, pts=40_000_000, sent=SENT,
                             width=4, height=2, stride=16, format="rgba8", alpha="straight",
                             pixels=img.reshape(-1).tolist()))

    # A padded stride: 3 pixels wide, 16-byte rows (4 bytes of padding per row).
    rows = np.zeros((2, 16), np.uint8)
    px = np.array([[[10, 20, 30, 128], [0, 0, 0, 0], [255, 255, 255, 255]],
                   [[1, 2, 3, 4], [50, 60, 70, 80], [90, 100, 110, 120]]], np.uint8)
    rows[:, :12] = px.reshape(2, 12)
    rows[:, 12:] = 0xEE
    h = _common(seq=2, pts=80_000_000) | {"width": 3, "height": 2, "stride": 16,
                                          "format": "bgra8", "alpha": "premultiplied"}
    fx["frame_bgra_stride"] = ([wire.topic("frame", "default"), _header(h), rows.tobytes()],
                               dict(kind="frame", stream="default", seq=2, pts=80_000_000,
                                    sent=SENT, width=3, height=2, stride=16, format="bgra8",
                                    alpha="premultiplied", pixels=px.reshape(-1).tolist()))

    pcm = np.array([0, 1000, -1000, 32767, -32768, 1, -1, 0], np.int16)
    fx["audio_s16"] = (wire.encode_audio(pcm, stream="default", seq=4, pts=160_000_000,
                                         sent=SENT, rate=16000, format="s16"),
                       dict(kind="audio", stream="default", seq=4, pts=160_000_000, sent=SENT,
                            rate=16000, channels=1, format="s16", samples=8,
                            values=pcm.tolist()))
    stereo = np.array([[0.0, 0.5], [-0.5, 1.0], [0.25, -0.25], [-1.0, 0.125]], np.float32)
    fx["audio_f32_stereo"] = (wire.encode_audio(stereo, stream="npc1", seq=0, pts=0, sent=SENT,
                                                rate=48000, format="f32"),
                              dict(kind="audio", stream="npc1", seq=0, pts=0, sent=SENT,
                                   rate=48000, channels=2, format="f32", samples=4,
                                   values=stereo.reshape(-1).tolist()))

    fx["event"] = (wire.encode_event("speech_start", stream="default", seq=5,
                                     pts=2_000_000_000, sent=SENT, message="voice detected",
                                     data={"source": "mic", "level_db": -18.5}),
                   dict(kind="event", stream="default", seq=5, pts=2_000_000_000, sent=SENT,
                        name="speech_start", message="voice detected",
                        data={"source": "mic", "level_db": -18.5}))
    fx["hello"] = (wire.encode_hello(seq=9, pts=3_000_000_000, sent=SENT,
                                     streams=["default", "npc1"],
                                     capabilities=["motion", "frame", "audio", "event"],
                                     publisher="vasa-bridge 0.1.0",
                                     extra={"fps": 25, "control": "tcp://127.0.0.1:5556"}),
                   dict(kind="hello", stream="", seq=9, pts=3_000_000_000, sent=SENT,
                        streams=["default", "npc1"],
                        capabilities=["motion", "frame", "audio", "event"],
                        publisher="vasa-bridge 0.1.0"))

    # ---- malformed: each must be refused with the given category, never crash ----
    motion_parts = fx["motion"][0]
    good = msgpack.unpackb(motion_parts[1])

    def bad(name: str, parts: list[bytes], error: str) -> None:
        fx["malformed_" + name] = (parts, {"error": error})

    bad("version", [motion_parts[0], _header(good | {"v": 2}), motion_parts[2]], "version")
    no_seq = {k: v for k, v in good.items() if k != "seq"}
    bad("missing_seq", [motion_parts[0], _header(no_seq), motion_parts[2]], "malformed")
    bad("motion_short_payload", [motion_parts[0], motion_parts[1], motion_parts[2][:-4]],
        "malformed")
    f_parts = fx["frame_rgba"][0]
    fh = msgpack.unpackb(f_parts[1])
    bad("frame_short_payload", [f_parts[0], f_parts[1], f_parts[2][:-1]], "malformed")
    bad("frame_huge", [f_parts[0], _header(fh | {"width": 8192, "height": 8192,
                                                   "stride": 32768}), f_parts[2]], "too_large")
    bad("frame_width_string", [f_parts[0], _header(fh | {"width": "4"}), f_parts[2]],
        "malformed")
    bad("frame_bad_format", [f_parts[0], _header(fh | {"format": "yuv420"}), f_parts[2]],
        "malformed")
    a_parts = fx["audio_s16"][0]
    ah = msgpack.unpackb(a_parts[1])
    bad("audio_bad_format", [a_parts[0], _header(ah | {"format": "s24"}), a_parts[2]],
        "malformed")
    bad("negative_seq", [motion_parts[0], _header(good | {"seq": -1}), motion_parts[2]],
        "malformed")
    bad("truncated_header", [motion_parts[0], motion_parts[1][:20], motion_parts[2]],
        "malformed")
    bad("header_not_map", [motion_parts[0], _header([1, 2, 3]), motion_parts[2]], "malformed")
    bad("unknown_kind", [b"video/default/", motion_parts[1], motion_parts[2]], "malformed")
    bad("stream_mismatch", [wire.topic("motion", "npc1"), motion_parts[1], motion_parts[2]],
        "malformed")
    bad("two_parts", motion_parts[:2], "malformed")
    rng = np.random.default_rng(1234)
    bad("random_bytes", [rng.bytes(13), rng.bytes(200), rng.bytes(64)], "malformed")
    return fx


def write(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    expected, paths = {}, []
    for name, (parts, exp) in build().items():
        path = directory / f"{name}.bin"
        path.write_bytes(pack_parts(parts))
        expected[path.name] = exp
        paths.append(path)
    (directory / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    return paths


if __name__ == "__main__":
    for p in write(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/protocol"):
        print(p)
