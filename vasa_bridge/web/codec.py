"""What the browser receives: frames encoded for an <img>/canvas, audio as PCM, in one framing.

Every binary WebSocket message is `[u32 LE header length][JSON header][payload]`, the header
padded with spaces so that the payload starts 4-byte aligned. The header
carries `kind` (`frame` or `audio`) and the wire message's `stream`, `seq`, `pts`, `sent`, plus
per kind: frame `codec` (`jpeg`, `webp`, `png`, `raw`), `width`, `height`, `alpha` (bool);
audio `rate`, `channels`, `samples` (the payload is s16 little-endian, interleaved).
Text messages are JSON (motion, events, hello, status) and never carry media.

Codec choice (numbers in docs/web.md, measured by bench/bench_web.py): opaque frames go as
JPEG (about 1 ms and 36 KiB at 512²); frames with transparency go as raw RGBA (no encode cost,
1 MiB at 512², fine on the loopback an OBS overlay uses) or, for remote viewers, WebP (lossy
colour, lossless alpha: about 9 ms, 35 KiB). PNG costs 20-25 ms and 500 KiB per 512² frame.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from ..audio.pcm import to_s16
from ..errors import ConfigError, RenderError
from ..protocol import wire

ALPHA_CODECS = ("raw", "webp", "png")
MIME = {"jpeg": "image/jpeg", "webp": "image/webp", "png": "image/png"}
_LEN = struct.Struct("<I")


@dataclass(frozen=True)
class CodecConfig:
    jpeg_quality: int = 80  # 1..100, opaque frames
    alpha_codec: str = "raw"  # frames with transparency: raw RGBA, WebP or PNG
    webp_quality: int = 80  # 1..100, colour of WebP frames (alpha stays lossless)

    def __post_init__(self) -> None:
        if self.alpha_codec not in ALPHA_CODECS:
            raise ConfigError(f"alpha codec is {self.alpha_codec!r}: expected one of "
                              f"{list(ALPHA_CODECS)}")
        for name in ("jpeg_quality", "webp_quality"):
            q = getattr(self, name)
            if not 1 <= q <= 100:
                raise ConfigError(f"{name} is {q}: expected 1..100")


def pack(header: dict, payload: bytes | memoryview = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 4)  # aligned payload: the browser reads it as Int16 in place
    return b"".join((_LEN.pack(len(head)), head, payload))


def unpack(data: bytes) -> tuple[dict, bytes]:
    """The inverse of `pack` (the browser does the same in JavaScript)."""
    if len(data) < 4:
        raise ValueError(f"packet is {len(data)} bytes: expected at least 4")
    (n,) = _LEN.unpack_from(data)
    if 4 + n > len(data):
        raise ValueError(f"packet header claims {n} bytes but only {len(data) - 4} follow")
    return json.loads(data[4:4 + n]), data[4 + n:]


def rgba_of(msg: wire.Message) -> np.ndarray:
    """(H, W, 4) RGBA of a frame message, whatever its channel order (row padding removed)."""
    image = msg.image()
    if msg.header["format"] == "bgra8":
        image = image[..., [2, 1, 0, 3]]
    if msg.header["alpha"] == "premultiplied":  # browsers' ImageData and images are straight
        a = image[..., 3:4].astype(np.float32)
        rgb = np.where(a > 0, image[..., :3] * (255.0 / np.maximum(a, 1)), 0)
        image = np.concatenate([np.clip(rgb + 0.5, 0, 255).astype(np.uint8), image[..., 3:4]], 2)
    return np.ascontiguousarray(image)


def encode_image(rgba: np.ndarray, config: CodecConfig) -> tuple[str, bytes, bool]:
    """(codec, bytes, has_alpha) for one (H, W, 4) RGBA image."""
    has_alpha = bool(rgba[..., 3].min() < 255)
    if not has_alpha:
        bgr = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)  # (H, W, 3), libjpeg-turbo through cv2
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
        if not ok:
            raise RenderError(f"JPEG encoding of a {rgba.shape} frame failed")
        return "jpeg", buf.tobytes(), False
    if config.alpha_codec == "raw":
        return "raw", rgba.tobytes(), True
    from PIL import Image
    out = io.BytesIO()
    if config.alpha_codec == "webp":
        Image.fromarray(rgba).save(out, "WEBP", quality=config.webp_quality, method=0)
    else:
        Image.fromarray(rgba).save(out, "PNG", compress_level=1)
    return config.alpha_codec, out.getvalue(), True


def frame_packet(msg: wire.Message, config: CodecConfig) -> bytes:
    rgba = rgba_of(msg)
    codec, data, has_alpha = encode_image(rgba, config)
    return pack({"kind": "frame", "stream": msg.stream, "seq": msg.seq, "pts": msg.pts,
                 "sent": msg.sent, "codec": codec, "width": int(rgba.shape[1]),
                 "height": int(rgba.shape[0]), "alpha": has_alpha}, data)


def audio_packet(msg: wire.Message) -> bytes:
    samples = msg.audio_samples()
    if samples.dtype != np.int16:  # f32 -> s16: one format for the browser to read
        samples = to_s16(samples)
    h = msg.header
    return pack({"kind": "audio", "stream": msg.stream, "seq": msg.seq, "pts": msg.pts,
                 "sent": msg.sent, "rate": h["rate"], "channels": h["channels"],
                 "samples": h["samples"]}, samples.astype("<i2", copy=False).tobytes())


def motion_json(msg: wire.Message) -> dict:
    """A motion message as the panel's bars want it: names with values, head pose."""
    values = np.frombuffer(msg.payload, "<f4")
    h = msg.header
    return {"type": "motion", "stream": msg.stream, "seq": msg.seq, "pts": msg.pts,
            "sent": msg.sent, "names": list(h["names"]),
            "values": [round(float(v), 4) for v in values],
            "head_rotation": [round(float(v), 3) for v in h["head_rotation"]],
            "head_translation": [round(float(v), 5) for v in h["head_translation"]],
            "emotion": h.get("emotion"), "speaking": h.get("speaking")}
