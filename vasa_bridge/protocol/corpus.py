"""The mutated-message corpus: a few thousand wire messages bent every way a sender (or a
corrupting network, or an attacker) can bend them, with the reference decoder's verdict on each.
The Python, C and C# decoders decode it in their test suites and must agree on every message.

Files (tests/fixtures/protocol/mutated/):
- corpus.bin: u32 LE message count, then each message in the golden-fixture framing (u32 LE part
  count, then per part a u32 LE length and the bytes);
- expected.txt: one verdict per message, in order: `error KIND` (malformed, version, too_large)
  or `ok KIND STREAM seq=.. pts=.. sent=..` and a kind-specific summary (see `summary`).

The generator is seeded and uses its own PRNG (splitmix64), so the same bytes come out on every
machine and Python version. Regenerate when the protocol or the corpus changes:
    python -m vasa_bridge.protocol.corpus tests/fixtures/protocol/mutated
"""

from __future__ import annotations

import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np

from ..errors import MessageTooLarge, ProtocolError, VersionError
from ..motion.frame import MotionFrame
from . import fixtures, wire

SEED = 16  # the issue that asked for the corpus
SENT = fixtures.SENT


# --- verdicts (the three decoders print the same line) -----------------------------------------


def fnv(strings) -> str:
    """FNV-1a 32 over each string's UTF-8 bytes, each followed by a 0 byte: 8 hex digits."""
    h = 0x811C9DC5
    for s in strings:
        for b in s.encode("utf-8") + b"\x00":
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def _f64(x) -> str:
    """A number as the 16 hex digits of its IEEE double (ints converted, rounded to nearest);
    any NaN as `nan` (NaN payloads are not part of the protocol)."""
    x = float(x)
    return "nan" if math.isnan(x) else struct.pack(">d", x).hex()


def summary(msg: wire.Message) -> str:
    h = msg.header
    line = f"ok {msg.kind} {msg.stream or '-'} seq={msg.seq} pts={msg.pts} sent={msg.sent}"
    if msg.kind == "motion":
        rot = ",".join(_f64(x) for x in h["head_rotation"])
        trans = ",".join(_f64(x) for x in h["head_translation"])
        return line + f" n={len(h['names'])} names={fnv(h['names'])} rot={rot} trans={trans}"
    if msg.kind == "frame":
        return line + (f" {h['width']}x{h['height']} stride={h['stride']} {h['format']} "
                       f"{h['alpha']}")
    if msg.kind == "audio":
        return line + f" rate={h['rate']} ch={h['channels']} {h['format']} samples={h['samples']}"
    if msg.kind == "event":
        message = fnv([h["message"]]) if "message" in h else "-"
        return line + (f" name={fnv([h['name']])} message={message} "
                       f"data={'yes' if 'data' in h else 'no'}")
    return line + (f" streams={len(h['streams'])} caps={len(h['capabilities'])} "
                   f"publisher={fnv([h['publisher']])}")


def verdict(parts) -> str:
    """The reference decoder's verdict on one message."""
    try:
        msg = wire.decode(parts)
    except VersionError:
        return "error version"
    except MessageTooLarge:
        return "error too_large"
    except ProtocolError:
        return "error malformed"
    return summary(msg)


# --- a deterministic PRNG -----------------------------------------------------------------------


class Rng:
    """splitmix64: tiny, and the same sequence everywhere."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def choice(self, seq):
        return seq[self.below(len(seq))]


# --- a msgpack writer that can also write what msgpack-python refuses to ------------------------


@dataclass(frozen=True)
class RawStr:
    """A msgpack str whose bytes are given as they are (invalid UTF-8 included)."""
    data: bytes


@dataclass(frozen=True)
class F32:
    value: float


@dataclass(frozen=True)
class Pairs:
    """A map as (key, value) pairs: duplicate and non-str keys allowed."""
    items: tuple


@dataclass(frozen=True)
class Ext:
    """An extension value with any type code (-128..127; msgpack-python packs only 0..127)."""
    code: int
    data: bytes


@dataclass(frozen=True)
class Wide:
    """A list or str written with the 32-bit length form (not the smallest)."""
    value: object


def pack(obj) -> bytes:
    if isinstance(obj, RawStr):
        n = len(obj.data)
        head = bytes([0xA0 | n]) if n < 32 else (b"\xd9" + bytes([n]) if n < 256 else
                                                  b"\xda" + n.to_bytes(2, "big"))
        return head + obj.data
    if isinstance(obj, Ext):
        n, code = len(obj.data), obj.code & 0xFF
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
        head = bytes([fixed[n], code]) if n in fixed else b"\xc7" + bytes([n, code])
        return head + obj.data
    if isinstance(obj, F32):
        return b"\xca" + struct.pack(">f", obj.value)
    if isinstance(obj, Wide):
        if isinstance(obj.value, list):
            return b"\xdd" + len(obj.value).to_bytes(4, "big") + b"".join(map(pack, obj.value))
        data = obj.value.encode()
        return b"\xdb" + len(data).to_bytes(4, "big") + data
    if isinstance(obj, Pairs):
        return _map_head(len(obj.items)) + b"".join(pack(k) + pack(v) for k, v in obj.items)
    if isinstance(obj, dict):
        return pack(Pairs(tuple(obj.items())))
    if isinstance(obj, (list, tuple)):
        n = len(obj)
        head = bytes([0x90 | n]) if n < 16 else (b"\xdc" + n.to_bytes(2, "big") if n < 65536
                                                 else b"\xdd" + n.to_bytes(4, "big"))
        return head + b"".join(pack(x) for x in obj)
    return msgpack.packb(obj, use_bin_type=True)


def _map_head(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 16 else (b"\xde" + n.to_bytes(2, "big") if n < 65536
                                             else b"\xdf" + n.to_bytes(4, "big"))


# --- the messages mutated -----------------------------------------------------------------------


def _bases() -> dict[str, tuple[bytes, list, bytes]]:
    """name -> (topic, header as (key, value) pairs, payload): small valid messages."""
    gold = fixtures.build()

    def split(parts):
        h = msgpack.unpackb(parts[1], raw=False)
        return bytes(parts[0]), list(h.items()), bytes(parts[2])

    frame = MotionFrame.from_named({"jawOpen": 0.5, "eyeBlinkLeft": 1.0, "tongueOut": 0.125},
                                   head_rotation=(5.0, -10.0, 2.5),
                                   head_translation=(0.01, -0.02, 0.03))
    few = ["jawOpen", "eyeBlinkLeft", "mouthSmileRight", "tongueOut"]
    values = np.array([frame[n] for n in few], "<f4")
    m4 = [("v", 1), ("seq", 7), ("stream", "default"), ("pts", 1_040_000_000), ("sent", SENT),
          ("names", few), ("head_rotation", [5.0, -10.0, 2.5]),
          ("head_translation", [0.01, -0.02, 0.03])]
    bases = {"motion4": (b"motion/default/", m4, values.tobytes()),
             "motion52": split(gold["motion"][0])}
    for name in ("frame_rgba", "frame_bgra_stride", "audio_s16", "audio_f32_stereo", "event",
                 "hello"):
        bases[name] = split(gold[name][0])
    return bases


def _message(topic: bytes, pairs: list, payload: bytes) -> list[bytes]:
    return [topic, pack(Pairs(tuple(pairs))), payload]


def _replace(pairs: list, key, value) -> list:
    out = [(k, value if k == key else v) for k, v in pairs]
    return out if any(k == key for k, _ in pairs) else out + [(key, value)]


INTERESTING = [
    0, 1, 2, -1, 127, 128, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63,
    2**64 - 1, -2**31, -2**63, 999, 1000, 384000, 384001, 8192, 8193, 16, 12, 3, 4,
    0.0, -0.0, 1.5, math.nan, math.inf, -math.inf, 1e300, F32(2.5), F32(math.nan), True, False,
    None, "", "rgba8", "bgra8", "s16", "f32", "straight", "premultiplied", "default", "npc1",
    "x" * 65, b"bin", b"", [], [1, 2, 3], [1.0, 2.0, 3.0], [0, 0], [1, 2, 3, 4], [True, 1, 2],
    [2**64 - 1, -2**63, 1e308], [F32(1.0), 2, -3], ["jawOpen"], ["jawOpen", 7], [b"jawOpen"],
    ["a"] * 257, {}, {"a": 1}, Pairs((("a", 1), ("a", 2))), Ext(5, b"ab"),
    Wide([1.0, 2.0, 3.0]), Wide("default"),
]

UTF8 = [  # valid first, then what Python's strict UTF-8 decoder refuses
    b"", b"a", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9d\x84\x9e", b"\xef\xbf\xbf", b"\xef\xb7\x90",
    b"\xf4\x8f\xbf\xbf", b"\x00", b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xc2\x80", b"\x7f",
    b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc2", b"\xe0\x80\x80", b"\xe0\x9f\xbf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xb0\x80", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff",
    b"\xe2\x82", b"\xe2\x28\xa1", b"\xf0\x9d\x84", b"\xc3\x28", b"a\x80b",
    b"\xed\xa0\x80\xed\xb0\x80", b"\xc0\xaf", b"jawOpen\xff", b"\xf7\xbf\xbf\xbf",
]

STREAMS = ["default\n", "a b", "", "x" * 64, "x" * 65, "\u00e9", "a\x00", "-", ".", "..",
           "npc_1.a-b", "\x1b[31m", "default\r", "a/b"]


def _timestamps() -> list:
    ts = [Ext(-1, bytes(n)) for n in range(0, 17)]
    ts += [Ext(-1, b"\xff" * 8), Ext(-1, b"\xee\x6b\x27\xfc" + bytes(4)),
           Ext(-1, b"\xee\x6b\x28\x00" + bytes(4)),
           Ext(-1, b"\x3b\x9a\xc9\xff" + bytes(8)),
           Ext(-1, b"\x3b\x9a\xca\x00" + bytes(8)),
           Ext(-1, b"\xff" * 12), Ext(-2, bytes(8)),
           Ext(127, b""), Ext(-128, b"x" * 20)]
    return ts


def _nested(depth: int, leaf, as_map: bool):
    value = leaf
    for _ in range(depth):
        value = {"k": value} if as_map else [value]
    return value


def _byte_mutation(rng: Rng, data: bytes) -> bytes:
    b = bytearray(data)
    op = rng.below(8)
    if not b:
        return bytes([rng.below(256)])
    i = rng.below(len(b))
    if op in (0, 1):  # flip a bit, or a few
        for _ in range(1 if op == 0 else 2 + rng.below(3)):
            j = rng.below(len(b))
            b[j] ^= 1 << rng.below(8)
    elif op == 2:  # an interesting byte
        b[i] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                           0xC3, 0xC4, 0xC7, 0xCA, 0xCB, 0xCC, 0xCF, 0xD0, 0xD3, 0xD4, 0xD6, 0xD7,
                           0xD9, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xE0, 0xED, 0xF4, 0xFF])
    elif op == 3:  # insert
        b[i:i] = bytes(rng.below(256) for _ in range(1 + rng.below(3)))
    elif op == 4:  # delete
        del b[i:i + 1 + rng.below(4)]
    elif op == 5:  # truncate
        del b[i:]
    elif op == 6:  # duplicate a slice
        j = min(len(b), i + 1 + rng.below(8))
        b[j:j] = b[i:j]
    else:  # a random byte
        b[i] = rng.below(256)
    return bytes(b)


def build(seed: int = SEED) -> list[list[bytes]]:
    """The corpus, in a fixed order."""
    rng = Rng(seed)
    bases = _bases()
    names = list(bases)
    small = [n for n in names if n != "motion52"]
    out: list[list[bytes]] = []

    for name in names:  # the originals
        out.append(_message(*bases[name]))
    good = _message(*bases["event"])
    for parts in ([], good[:1], good[:2], good + [b""], good + [b"x", b"y"]):  # part counts
        out.append(parts)

    # 1. Byte-level damage to the header (most), topic and payload.
    for i in range(1500):
        topic, pairs, payload = bases[small[i % len(small)] if i % 50 else "motion52"]
        parts = _message(topic, pairs, payload)
        where = rng.below(10)
        p = 0 if where == 0 else 2 if where == 1 else 1
        parts[p] = _byte_mutation(rng, parts[p])
        if rng.below(4) == 0:  # and a second one
            parts[1] = _byte_mutation(rng, parts[1])
        out.append(parts)

    # 2. One field replaced (or removed, or added) with an interesting value.
    for i in range(900):
        topic, pairs, payload = bases[small[i % len(small)]]
        keys = [k for k, _ in pairs] + ["extra", "data", "message", "names", "fps"]
        key = rng.choice(keys)
        if rng.below(12) == 0:
            new = [(k, v) for k, v in pairs if k != key]
        else:
            new = _replace(pairs, key, rng.choice(INTERESTING))
        out.append(_message(topic, new, payload))

    # 3. UTF-8, valid and not, in every string the schema reads and in ones it does not.
    for seq in UTF8:
        bad = RawStr(seq)
        for name in small:
            topic, pairs, payload = bases[name]
            spots = [k for k, v in pairs if isinstance(v, str) and k != "stream"]
            spots += [k for k, v in pairs if isinstance(v, list) and v and isinstance(v[0], str)]
            key = spots[rng.below(len(spots))] if spots else None
            if key is not None:
                old = dict(pairs)[key]
                value = [bad] + old[1:] if isinstance(old, list) else bad
                out.append(_message(topic, _replace(pairs, key, value), payload))
            out.append(_message(topic, pairs + [("extra", bad)], payload))  # unread field
            if name in ("event", "motion4", "hello"):
                out.append(_message(topic, pairs + [(bad, 1)], payload))  # as a key
                out.append(_message(topic, _replace(pairs, "data", Pairs(((bad, [1, bad]),))),
                                    payload))

    # 4. Stream ids, in topic and header alike.
    for stream in STREAMS:
        for name in ("motion4", "event", "audio_s16"):
            topic, pairs, payload = bases[name]
            kind = topic.split(b"/")[0]
            raw = stream.encode("utf-8")
            out.append(_message(kind + b"/" + raw + b"/", _replace(pairs, "stream", stream),
                                payload))
        out.append(_message(b"hello/" + stream.encode() + b"/",
                            _replace(bases["hello"][1], "stream", stream), b""))

    # 5. Topics.
    for i in range(150):
        topic, pairs, payload = bases[small[i % len(small)]]
        t = bytearray(topic)
        op = rng.below(5)
        if op == 0:
            t[rng.below(len(t))] = rng.choice([0x00, 0x1B, 0x7F, 0x80, 0xFF, 0x2F, 0x0A])
        elif op == 1:
            t = bytearray(rng.choice([b"motion", b"frame", b"audio", b"event", b"hello",
                                      b"video", b"Motion", b""]) + t[t.index(b"/"):])
        elif op == 2:
            t = t[:rng.below(len(t))]
        elif op == 3:
            t += rng.choice([b"/", b"x/", b"\x00", b"\xc3\xa9/"])
        else:
            t[rng.below(len(t))] ^= 1 << rng.below(8)
        out.append([bytes(t), pack(Pairs(tuple(pairs))), payload])

    # 6. Nesting depth, key types, duplicates, extension types, container limits.
    topic, pairs, payload = bases["event"]
    for depth in range(26, 40):
        for as_map in (False, True):
            for leaf in (1, [], "s"):
                out.append(_message(topic, pairs + [("extra", _nested(depth, leaf, as_map))],
                                    payload))
        out.append(_message(topic, _replace(pairs, "data", _nested(depth, 1, True)), payload))
    for key in (1, -1, None, True, 1.5, b"v", b"", [1], Pairs(()), Ext(1, b"")):
        for name in ("event", "motion4"):
            t, p, pl = bases[name]
            out.append(_message(t, p + [(key, 0)], pl))
        out.append(_message(topic, _replace(pairs, "data", Pairs(((key, 1),))), payload))
    for name in small:
        t, p, pl = bases[name]
        out.append(_message(t, p + [("v", 2)], pl))  # duplicate: the last wins
        out.append(_message(t, [("v", 2)] + p, pl))
        out.append(_message(t, p + [(b"v", 2)], pl))  # a bin key is another key
        out.append(_message(t, [(k, v) for k, v in p if k != "v"] + [(b"v", 1)], pl))
        out.append(_message(t, _replace(p, "v", 2**64 - 1), pl))
        out.append(_message(t, _replace(p, "v", -2**63), pl))
        out.append(_message(t, _replace(p, "v", 1.0), pl))
    for ext in _timestamps():
        out.append(_message(topic, pairs + [("extra", ext)], payload))
        out.append(_message(topic, _replace(pairs, "data", {"t": ext}), payload))
    for n in (4095, 4096, 4097):
        out.append(_message(topic, pairs + [("extra", [0] * n)], payload))
    for n in (255, 256, 257):
        out.append(_message(topic, pairs + [("extra", {f"k{i}": 0 for i in range(n)})],
                            payload))
    fr = bases["frame_rgba"]
    out.append(_message(fr[0], _replace(_replace(_replace(fr[1], "width", 8192), "height", 8192),
                                        "stride", 32768), fr[2]))  # 256 MiB declared
    au = bases["audio_s16"]
    out.append(_message(au[0], _replace(_replace(au[1], "samples", 2**31 - 1), "channels", 8),
                        au[2]))
    out.append(_message(topic, _replace(pairs, "v", 2) + [("extra", "x" * 65536)], payload))
    head = pack(Pairs(tuple(pairs)))
    for claim in (b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff",
                  b"\xc6\x00\x01\x00\x01", b"\xdc\x10\x01", b"\xde\x01\x01", b"\xc9\x7f\xff\xff"
                  b"\xff\x01"):
        n = len(pairs) + 1
        out.append([topic, _map_head(n) + head[1:] + pack("extra") + claim, payload])
    return out


def write(directory: str | Path, seed: int = SEED) -> tuple[Path, Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    messages = build(seed)
    blob = struct.pack("<I", len(messages)) + b"".join(fixtures.pack_parts(m) for m in messages)
    (directory / "corpus.bin").write_bytes(blob)
    (directory / "expected.txt").write_text("".join(verdict(m) + "\n" for m in messages))
    return directory / "corpus.bin", directory / "expected.txt"


def read(path: str | Path) -> list[list[bytes]]:
    data = Path(path).read_bytes()
    (n,), pos, out = struct.unpack_from("<I", data), 4, []
    for _ in range(n):
        (count,) = struct.unpack_from("<I", data, pos)
        pos += 4
        parts = []
        for _ in range(count):
            (size,) = struct.unpack_from("<I", data, pos)
            parts.append(data[pos + 4: pos + 4 + size])
            pos += 4 + size
        out.append(parts)
    if pos != len(data):
        raise ValueError(f"corpus has {len(data) - pos} trailing bytes")
    return out


if __name__ == "__main__":
    for p in write(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/protocol/mutated"):
        print(p, p.stat().st_size, "bytes")
