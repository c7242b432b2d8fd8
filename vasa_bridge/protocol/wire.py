"""Wire protocol v1 (docs/protocol.md): multipart ZeroMQ messages `[topic, header, payload]`.

- topic: ASCII `"{kind}/{stream}/"`, so a subscription prefix picks a kind (`"motion/"`) or one
  kind of one stream (`"frame/npc1/"`) without matching `npc10`;
- header: a msgpack map with string keys; every kind carries v, seq, stream, pts, sent;
- payload: raw bytes whose size the header fixes (may be empty).

Encoding is deterministic (same inputs, same bytes), which is what makes golden fixtures work.
Decoding never trusts its input: every field is type-checked, sizes are checked against the
header and a cap, and every failure is a `ProtocolError` naming the value and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import msgpack
import numpy as np

from ..audio.pcm import from_s16, to_s16
from ..errors import MessageTooLarge, MotionFormatError, ProtocolError, VersionError
from ..motion.frame import MotionFrame
from ..motion.names import ARKIT_NAMES, INDEX

VERSION = 1
KINDS = ("motion", "frame", "audio", "event", "hello")
FRAME_FORMATS = {"rgba8": 4, "bgra8": 4}
ALPHA_MODES = ("straight", "premultiplied")
AUDIO_FORMATS = {"s16": 2, "f32": 4}
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # default cap on one whole message
MAX_HEADER_BYTES = 64 * 1024
MAX_DIMENSION = 8192  # pixels, either side
MAX_DEPTH = 32  # nested containers in a header, the header map included (msgpack-c's own limit)
STREAM_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
DEFAULT_STREAM = "default"

_INT = (int,)
_NUM = (int, float)


def topic(kind: str, stream: str) -> bytes:
    """The topic frame; also the subscription prefix for one kind of one stream."""
    return f"{kind}/{stream}/".encode("ascii")


def subscription(kind: str | None = None, stream: str | None = None) -> bytes:
    """Subscription prefix: all messages, one kind, or one kind of one stream."""
    if kind is None:
        if stream is not None:
            raise ValueError("a stream filter needs a kind: ZeroMQ filters by prefix")
        return b""
    return topic(kind, stream) if stream is not None else f"{kind}/".encode("ascii")


def check_stream(stream: str, *, allow_empty: bool = False) -> str:
    if allow_empty and stream == "":
        return stream
    if stream not in _valid_streams and (not isinstance(stream, str)
                                         or not STREAM_RE.fullmatch(stream)):
        shown = repr(stream)
        if len(shown) > 80:  # (a non-str has no characters to count: say what it is)
            size = f"{len(stream)} characters" if isinstance(stream, str) else \
                type(stream).__name__
            shown = f"{shown[:70]}... ({size})"
        raise ProtocolError(f"stream id {shown} is invalid: expected 1-64 characters of "
                            f"letters, digits, '_', '.', '-'")
    if len(_valid_streams) < 4096:
        _valid_streams.add(stream)  # the hot path checks each stream id once
    return stream


_valid_streams: set[str] = set()


# ---------------------------------------------------------------------------------------------
# Encoding


def _pack(header: dict) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


def _map_prefix(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big")


def _pack_pairs(header: dict) -> bytes:
    """The key/value pairs of a msgpack map, without its length prefix."""
    packed = _pack(header)
    n = len(header)
    return packed[1:] if n < 16 else packed[3:]


# The 52 names never change: pack them once. A header built as prefix + pairs is byte-identical to
# msgpack.packb of the same dict in the same key order (the golden fixtures check this).
_NAMES_PAIR = _pack_pairs({"names": list(ARKIT_NAMES)})


def _common(kind: str, stream: str, seq: int, pts: int, sent: int) -> dict:
    check_stream(stream, allow_empty=(kind == "hello"))
    return {"v": VERSION, "seq": int(seq), "stream": stream, "pts": int(pts), "sent": int(sent)}


def encode_motion(frame: MotionFrame, *, stream: str, seq: int, pts: int, sent: int,
                  extra: dict | None = None) -> list[bytes]:
    """One motion frame: names + pose in the header, float32 LE coefficients as payload."""
    head = _common("motion", stream, seq, pts, sent)
    tail = {"head_rotation": frame.head_rotation.tolist(),
            "head_translation": frame.head_translation.tolist()}
    if extra:
        tail.update(extra)
    n = len(head) + 1 + len(tail)
    header = _map_prefix(n) + _pack_pairs(head) + _NAMES_PAIR + _pack_pairs(tail)
    payload = frame.blendshapes.astype("<f4", copy=False).tobytes()
    return [topic("motion", stream), header, payload]


def encode_frame(image: np.ndarray, *, stream: str, seq: int, pts: int, sent: int,
                 format: str = "rgba8", alpha: str = "straight",
                 extra: dict | None = None) -> list[bytes]:
    """An (H, W, 4) uint8 image; rows are tightly packed (stride = 4 W)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
        raise ProtocolError(f"frame image has dtype {image.dtype} and shape {image.shape}: "
                            f"expected uint8 (H, W, 4)")
    if format not in FRAME_FORMATS:
        raise ProtocolError(f"frame format {format!r}: expected one of {sorted(FRAME_FORMATS)}")
    if alpha not in ALPHA_MODES:
        raise ProtocolError(f"frame alpha {alpha!r}: expected one of {list(ALPHA_MODES)}")
    h, w = image.shape[:2]
    header = _common("frame", stream, seq, pts, sent)
    header.update(width=w, height=h, stride=w * 4, format=format, alpha=alpha)
    if extra:
        header.update(extra)
    # A byte view, not a copy: ZeroMQ copies it once when sending (Publisher sends with copy=True).
    return [topic("frame", stream), _pack(header), memoryview(np.ascontiguousarray(image)).cast("B")]


def encode_audio(samples: np.ndarray, *, stream: str, seq: int, pts: int, sent: int,
                 rate: int, format: str = "s16", extra: dict | None = None) -> list[bytes]:
    """PCM samples (N,) or (N, channels), float in [-1, 1] or int16; interleaved on the wire."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or not 1 <= samples.shape[1] <= 8:
        raise ProtocolError(f"audio has shape {samples.shape}: expected (N,) or (N, 1..8)")
    if format == "s16":
        if samples.dtype != np.int16:
            samples = to_s16(samples)
        data = samples.astype("<i2").tobytes()
    elif format == "f32":
        if samples.dtype == np.int16:
            samples = from_s16(samples)
        data = samples.astype("<f4").tobytes()
    else:
        raise ProtocolError(f"audio format {format!r}: expected one of {sorted(AUDIO_FORMATS)}")
    header = _common("audio", stream, seq, pts, sent)
    header.update(rate=int(rate), channels=int(samples.shape[1]), format=format,
                  samples=int(samples.shape[0]))
    if extra:
        header.update(extra)
    return [topic("audio", stream), _pack(header), data]


def encode_event(name: str, *, stream: str, seq: int, pts: int, sent: int,
                 message: str | None = None, data: dict | None = None) -> list[bytes]:
    header = _common("event", stream, seq, pts, sent)
    header["name"] = str(name)
    if message is not None:
        header["message"] = str(message)
    if data is not None:
        header["data"] = data
    return [topic("event", stream), _pack(header), b""]


def encode_hello(*, seq: int, pts: int, sent: int, streams: Sequence[str],
                 capabilities: Sequence[str], publisher: str, extra: dict | None = None
                 ) -> list[bytes]:
    header = _common("hello", "", seq, pts, sent)
    header.update(streams=list(streams), capabilities=list(capabilities), publisher=publisher)
    if extra:
        header.update(extra)
    return [topic("hello", ""), _pack(header), b""]


# ---------------------------------------------------------------------------------------------
# Decoding


@dataclass(frozen=True)
class Message:
    kind: str
    stream: str
    seq: int
    pts: int  # media time, ns
    sent: int  # sender's wall clock, ns
    header: dict
    payload: bytes

    def motion_frame(self) -> MotionFrame:
        """The MotionFrame of a `motion` message (names mapped; ones not sent are 0)."""
        self._expect("motion")
        values = np.frombuffer(self.payload, dtype="<f4")
        shapes = np.zeros(len(ARKIT_NAMES), np.float32)
        for name, value in zip(self.header["names"], values):
            i = INDEX.get(name)
            if i is not None:  # names from a newer minor revision are skipped
                shapes[i] = value
        try:
            return MotionFrame(shapes, self.header["head_rotation"],
                               self.header["head_translation"], self.pts / 1e9)
        except MotionFormatError as e:
            raise ProtocolError(f"motion message seq {self.seq}: {e}") from None

    def image(self) -> np.ndarray:
        """(H, W, 4) uint8 view of a `frame` message, channels in the header's `format`."""
        self._expect("frame")
        h, w, stride = self.header["height"], self.header["width"], self.header["stride"]
        rows = np.frombuffer(self.payload, np.uint8).reshape(h, stride)
        return rows[:, : w * 4].reshape(h, w, 4)

    def audio_samples(self) -> np.ndarray:
        """(N, channels) samples of an `audio` message: int16 for s16, float32 for f32."""
        self._expect("audio")
        dtype = "<i2" if self.header["format"] == "s16" else "<f4"
        return np.frombuffer(self.payload, dtype).reshape(-1, self.header["channels"])

    def _expect(self, kind: str) -> None:
        if self.kind != kind:
            raise ProtocolError(f"message is a {self.kind!r} message: expected {kind!r}")


_CONTAINERS = frozenset((dict, list))  # what msgpack.unpackb makes of maps and arrays


def _nesting_ok(header: dict) -> bool:
    """No container deeper than MAX_DEPTH levels (the C decoder's msgpack-c cannot go deeper).
    Level by level; a list of scalars (the 52 names) is passed over at C speed."""
    level, current = 1, [header]
    while current:
        if level > MAX_DEPTH:
            return False
        deeper = []
        for obj in current:
            values = obj.values() if type(obj) is dict else obj
            if not _CONTAINERS.isdisjoint(map(type, values)):
                deeper.extend(x for x in values if type(x) in _CONTAINERS)
        current, level = deeper, level + 1
    return True


def _field(header: dict, key: str, types: tuple, kind: str) -> Any:
    if key not in header:
        raise ProtocolError(f"{kind} header is missing field {key!r}")
    value = header[key]
    if not isinstance(value, types) or isinstance(value, bool):
        names = "/".join(t.__name__ for t in types)
        raise ProtocolError(f"{kind} header field {key!r} is {value!r} "
                            f"({type(value).__name__}): expected {names}")
    return value


def _int_in(header: dict, key: str, lo: int, hi: int, kind: str) -> int:
    value = _field(header, key, _INT, kind)
    if not lo <= value <= hi:
        raise ProtocolError(f"{kind} header field {key!r} is {value}: expected {lo}..{hi}")
    return value


def _choice(header: dict, key: str, choices, kind: str) -> str:
    value = _field(header, key, (str,), kind)
    if value not in choices:
        raise ProtocolError(f"{kind} header field {key!r} is {value!r}: expected one of "
                            f"{sorted(choices)}")
    return value


def _numbers(header: dict, key: str, n: int, kind: str) -> list:
    value = _field(header, key, (list,), kind)
    if len(value) != n or not all(isinstance(x, _NUM) and not isinstance(x, bool) for x in value):
        raise ProtocolError(f"{kind} header field {key!r} is {value!r}: expected {n} numbers")
    return value


def _expect_payload(kind: str, payload: bytes, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise MessageTooLarge(f"{kind} header declares a {size}-byte payload: the cap is "
                              f"{max_bytes} bytes")
    if len(payload) != size:
        raise ProtocolError(f"{kind} payload is {len(payload)} bytes: the header declares {size}")


def decode(parts: Sequence[bytes], *, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Parse one multipart message. Raises ProtocolError (VersionError, MessageTooLarge) on any
    defect; never anything else on malformed input."""
    if not isinstance(parts, (list, tuple)) or len(parts) != 3:
        n = len(parts) if isinstance(parts, (list, tuple)) else type(parts).__name__
        raise ProtocolError(f"message has {n} parts: expected 3 (topic, header, payload)")
    parts = [bytes(p) for p in parts]
    total = sum(len(p) for p in parts)
    if total > max_bytes:
        raise MessageTooLarge(f"message is {total} bytes: the cap is {max_bytes} bytes")
    raw_topic, raw_header, payload = parts
    try:
        text = raw_topic.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"topic {raw_topic[:40]!r} is not ASCII: expected 'kind/stream/'") \
            from None
    bits = text.split("/")
    if len(bits) != 3 or bits[2] != "" or bits[0] not in KINDS:
        raise ProtocolError(f"topic {text[:80]!r} is not 'kind/stream/' with kind one of "
                            f"{list(KINDS)}")
    kind, topic_stream = bits[0], bits[1]
    if len(raw_header) > MAX_HEADER_BYTES:
        raise MessageTooLarge(f"{kind} header is {len(raw_header)} bytes: the cap is "
                              f"{MAX_HEADER_BYTES} bytes")
    try:
        header = msgpack.unpackb(raw_header, raw=False, strict_map_key=True,
                                 max_str_len=MAX_HEADER_BYTES, max_bin_len=MAX_HEADER_BYTES,
                                 max_array_len=4096, max_map_len=256)
    except Exception as e:  # msgpack raises many types (ExtraData, FormatError, ValueError, ...)
        raise ProtocolError(f"{kind} header is not valid msgpack ({type(e).__name__}: {e})") \
            from None
    if not isinstance(header, dict):
        raise ProtocolError(f"{kind} header is a {type(header).__name__}: expected a msgpack map")
    if not _nesting_ok(header):
        raise ProtocolError(f"{kind} header nests containers deeper than {MAX_DEPTH} levels: "
                            f"expected at most {MAX_DEPTH}")

    version = _field(header, "v", _INT, kind)
    if version != VERSION:
        raise VersionError(f"protocol version {version} is not supported: this build speaks "
                           f"version {VERSION}")
    seq = _int_in(header, "seq", 0, 2**64 - 1, kind)
    stream = _field(header, "stream", (str,), kind)
    if stream != topic_stream:
        raise ProtocolError(f"{kind} header stream {stream!r} disagrees with the topic's "
                            f"{topic_stream!r}")
    check_stream(stream, allow_empty=(kind == "hello"))
    pts = _int_in(header, "pts", -2**63, 2**63 - 1, kind)
    sent = _int_in(header, "sent", -2**63, 2**63 - 1, kind)

    if kind == "motion":
        names = _field(header, "names", (list,), kind)
        if not 1 <= len(names) <= 256 or not all(isinstance(n, str) for n in names):
            raise ProtocolError(f"motion header field 'names' has {len(names)} entries: expected "
                                f"1..256 strings")
        _numbers(header, "head_rotation", 3, kind)
        _numbers(header, "head_translation", 3, kind)
        _expect_payload(kind, payload, 4 * len(names), max_bytes)
    elif kind == "frame":
        w = _int_in(header, "width", 1, MAX_DIMENSION, kind)
        h = _int_in(header, "height", 1, MAX_DIMENSION, kind)
        fmt = _choice(header, "format", FRAME_FORMATS, kind)
        stride = _int_in(header, "stride", w * FRAME_FORMATS[fmt], 4 * MAX_DIMENSION * 2, kind)
        _choice(header, "alpha", ALPHA_MODES, kind)
        _expect_payload(kind, payload, stride * h, max_bytes)
    elif kind == "audio":
        _int_in(header, "rate", 1000, 384000, kind)
        channels = _int_in(header, "channels", 1, 8, kind)
        fmt = _choice(header, "format", AUDIO_FORMATS, kind)
        samples = _int_in(header, "samples", 0, 2**31 - 1, kind)
        _expect_payload(kind, payload, samples * channels * AUDIO_FORMATS[fmt], max_bytes)
    elif kind == "event":
        _field(header, "name", (str,), kind)
        if "message" in header:
            _field(header, "message", (str,), kind)
        if "data" in header:
            _field(header, "data", (dict,), kind)
        _expect_payload(kind, payload, 0, max_bytes)
    else:  # hello
        for key in ("streams", "capabilities"):
            value = _field(header, key, (list,), kind)
            if not all(isinstance(x, str) for x in value):
                raise ProtocolError(f"hello header field {key!r} is {value!r}: expected a list "
                                    f"of strings")
        _field(header, "publisher", (str,), kind)
        _expect_payload(kind, payload, 0, max_bytes)
    return Message(kind, stream, seq, pts, sent, header, payload)
