"""The control channel's requests (docs/protocol.md, "Control"): its config, its limits and the
checks every request passes before a handler sees it. Pure functions, tested directly.

Requests are capped in size, and large ones in object count and nesting depth before they are
unpacked (`check_msgpack_shape`); `speak` audio in length and its transcript in characters;
`load_portrait` images in encoded size and pixel dimensions (read from the header, never decoded
here), and `load_portrait` paths must resolve (symlinks and `..` followed) to a
.png/.jpg/.jpeg/.webp file inside an allowed folder. A refusal is a `RequestError` carrying the
reply's code.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from ...audio.pcm import MAX_RATE, MIN_RATE, from_s16
from ...audio.sources import check_clip
from ...errors import AudioError, ConfigError, VasaError
from ...protocol import wire
from ..endpoints import DEFAULT_CONTROL

log = logging.getLogger(__name__)

COMMANDS = ("status", "set", "speak", "load_portrait", "stop")
SLOW_COMMANDS = ("speak", "load_portrait")  # run on a worker: the serving thread stays free
FRAMINGS = ("bust", "head")  # load_portrait's optional framing (face.portrait.FRAMINGS)
SET_KEYS = ("emotion", "gaze", "head_motion", "stream")
SPEAK_KEYS = ("audio", "rate", "format", "channels", "stream", "text", "language")
LOAD_PORTRAIT_KEYS = ("path", "image", "framing")
PORTRAIT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
PORTRAIT_FORMATS = ("PNG", "JPEG", "WEBP")  # the only decoders Pillow may try on request bytes


@dataclass(frozen=True)
class ControlConfig:
    endpoint: str = DEFAULT_CONTROL  # where the ROUTER binds
    insecure: bool = False  # allow a non-loopback bind without authentication
    max_request_bytes: int = 32 * 1024 * 1024  # larger requests get a too_large reply
    max_objects: int = 1 << 18  # msgpack objects in one request at most (checked unpacked)
    max_depth: int = 16  # msgpack nesting depth at most
    workers: int = 2  # threads for slow commands (speak, load_portrait)
    max_pending: int = 16  # slow requests queued or running at once; more are answered busy
    max_audio_s: float = 120.0  # longest clip `speak` accepts, seconds
    max_text_chars: int = 4000  # longest `speak` transcript, characters
    poll_ms: int = 100  # how often the serving thread checks its stop event
    # CURVE: both set, or neither. With them the server accepts only listed clients, encrypted,
    # and may bind a non-loopback address (see transport/curve.py, `vasa-bridge keys`).
    curve_secret_key: str | Path | None = None  # the server's NAME.key_secret file (0600)
    curve_allowed_clients: str | Path | None = None  # folder of allowed client NAME.key files
    max_image_side: int = 4096  # load_portrait: longest image side, pixels
    max_image_bytes: int = 16 * 1024 * 1024  # load_portrait: encoded image size, bytes
    # Folders load_portrait may read `path` from. None: the server's current directory when it
    # starts (not if that is the filesystem root: then no path is accepted, only image bytes).
    portrait_dirs: tuple[str | Path, ...] | None = None


class RequestError(Exception):
    """A request the server refuses: carries the reply's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _plain(obj: Any) -> Any:
    """msgpack `default`: numpy scalars and arrays become plain numbers and lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"cannot send a {type(obj).__name__} in a control reply")


def pack(obj: dict) -> bytes:
    return msgpack.packb(obj, use_bin_type=True, default=_plain)


def _brief(value: Any, limit: int = 60) -> str:
    """repr of a value for an error message, without ever building the repr of a huge one."""
    if isinstance(value, (bytes, str)) and len(value) > limit:
        unit = "bytes" if isinstance(value, bytes) else "chars"
        return f"{value[:limit]!r}... ({len(value)} {unit})"
    if isinstance(value, (list, dict)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --- request validation (pure functions, tested directly) ------------------------------------

# msgpack first bytes -> bytes that follow before the next object (fixed-size scalars)
_FIXED = {0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8,
          0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17}
# first byte -> (width of the length field, extra bytes after it) for str, bin and ext
_SIZED = {0xc4: (1, 0), 0xc5: (2, 0), 0xc6: (4, 0), 0xc7: (1, 1), 0xc8: (2, 1), 0xc9: (4, 1),
          0xd9: (1, 0), 0xda: (2, 0), 0xdb: (4, 0)}
# first byte -> (width of the count field, items per count) for arrays and maps
_CONTAINERS = {0xdc: (2, 1), 0xdd: (4, 1), 0xde: (2, 2), 0xdf: (4, 2)}


def check_msgpack_shape(data: bytes, max_objects: int, max_depth: int) -> int:
    """Walk a msgpack document's structure without building it: refuse (RequestError) more than
    `max_objects` objects (too_large), nesting deeper than `max_depth` (too_large), or a
    container that claims more items than there are bytes left (malformed). Stops at the first
    excess, so it costs at most `max_objects` steps. Returns the object count."""
    n = len(data)
    pos = 0
    claimed = 1  # objects announced so far (each is at least one byte)
    stack = [1]  # items still expected at each open level
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        stack[-1] -= 1
        if pos >= n:
            raise RequestError("malformed", f"request is truncated msgpack (ends at byte {n}): "
                                            f"expected a complete map like {{'cmd': 'status'}}")
        b = data[pos]
        pos += 1
        items = 0
        if b <= 0x7f or b >= 0xe0:
            continue
        if 0x80 <= b <= 0x8f:
            items = 2 * (b & 0x0f)
        elif 0x90 <= b <= 0x9f:
            items = b & 0x0f
        elif 0xa0 <= b <= 0xbf:
            pos += b & 0x1f
            continue
        elif b in _FIXED:
            pos += _FIXED[b]
            continue
        elif b in _SIZED:
            width, extra = _SIZED[b]
            pos += int.from_bytes(data[pos:pos + width], "big") + width + extra
            continue
        elif b in _CONTAINERS:
            width, per = _CONTAINERS[b]
            items = per * int.from_bytes(data[pos:pos + width], "big")
            pos += width
        else:  # 0xc1 is never used
            raise RequestError("malformed", f"request has byte 0x{b:02x} at {pos - 1}, which "
                                            f"msgpack never uses: expected a msgpack map")
        if items > n - pos:
            raise RequestError("malformed", f"request claims {items} items with {n - pos} bytes "
                                            f"left: expected a complete msgpack map")
        claimed += items
        if claimed > max_objects:
            raise RequestError("too_large", f"request holds more than {max_objects} msgpack "
                                            f"objects: the limit is {max_objects}")
        if items:
            if len(stack) >= max_depth:
                raise RequestError("too_large", f"request nests deeper than {max_depth} levels: "
                                                f"the limit is {max_depth}")
            stack.append(items)
    if pos > n:
        raise RequestError("malformed", f"request is truncated msgpack (a value runs past byte "
                                        f"{n}): expected a complete map like {{'cmd': 'status'}}")
    return claimed


def _arg(req: dict, key: str, types: tuple, *, required: bool = True, default: Any = None) -> Any:
    if key not in req:
        if required:
            raise RequestError("bad_argument", f"{req.get('cmd')} needs argument {key!r}")
        return default
    value = req[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        names = "/".join(t.__name__ for t in types)
        raise RequestError("bad_argument", f"{req['cmd']} argument {key!r} is {_brief(value)} "
                                           f"({type(value).__name__}): expected {names}")
    return value


def _known_only(req: dict, keys: tuple) -> None:
    """Refuse an argument the command does not take: a misspelt one (`txt` for `text`) would
    be dropped without a word."""
    unknown = sorted(set(req) - set(keys) - {"cmd", "id", "v"}, key=str)
    if unknown:
        raise RequestError("bad_argument", f"{req['cmd']} does not know {_brief(unknown[0])}: "
                                           f"expected some of {list(keys)}")


def parse_set(req: dict) -> dict:
    _known_only(req, SET_KEYS)
    values: dict[str, Any] = {}
    if "emotion" in req:
        values["emotion"] = _arg(req, "emotion", (str,))
    if "gaze" in req:
        gaze = _arg(req, "gaze", (list,))
        if len(gaze) != 2 or not all(isinstance(g, (int, float)) and not isinstance(g, bool)
                                     and math.isfinite(g) and -1 <= g <= 1 for g in gaze):
            raise RequestError("bad_argument", f"set gaze is {_brief(gaze)}: expected [x, y] with "
                                               f"each in [-1, 1]")
        values["gaze"] = [float(g) for g in gaze]
    if "head_motion" in req:
        hm = _arg(req, "head_motion", (int, float))
        if not math.isfinite(hm) or not 0 <= hm <= 4:
            raise RequestError("bad_argument", f"set head_motion is {hm!r}: expected a number "
                                               f"in [0, 4] (1 = natural)")
        values["head_motion"] = float(hm)
    if "stream" in req:
        values["stream"] = _checked_stream(req)
    if not values:
        raise RequestError("bad_argument", f"set needs at least one of {list(SET_KEYS)}")
    return values


def _checked_stream(req: dict) -> str:
    stream = _arg(req, "stream", (str,), required=False, default=wire.DEFAULT_STREAM)
    try:
        return wire.check_stream(stream)
    except VasaError as e:
        raise RequestError("bad_argument", str(e)) from None


_LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def parse_speak(req: dict, max_audio_s: float, max_text_chars: int = 4000) -> dict:
    _known_only(req, SPEAK_KEYS)
    data = _arg(req, "audio", (bytes,))
    rate = _arg(req, "rate", (int,))
    fmt = _arg(req, "format", (str,), required=False, default="s16")
    channels = _arg(req, "channels", (int,), required=False, default=1)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise RequestError("bad_argument", f"speak rate is {rate} Hz: expected {MIN_RATE}.."
                                           f"{MAX_RATE} Hz")
    if fmt not in wire.AUDIO_FORMATS:
        raise RequestError("bad_argument", f"speak format is {fmt!r}: expected 's16' or 'f32'")
    if not 1 <= channels <= 8:
        raise RequestError("bad_argument", f"speak channels is {channels}: expected 1..8")
    width = wire.AUDIO_FORMATS[fmt] * channels
    if len(data) == 0 or len(data) % width:
        raise RequestError("bad_argument", f"speak audio is {len(data)} bytes: expected a "
                                           f"non-zero multiple of {width} ({fmt} x {channels} ch)")
    seconds = len(data) / width / rate
    if seconds > max_audio_s:
        raise RequestError("too_large", f"speak audio is {seconds:.1f} s long: the limit is "
                                        f"{max_audio_s:g} s")
    samples = np.frombuffer(data, "<i2" if fmt == "s16" else "<f4").reshape(-1, channels)
    audio = from_s16(samples) if fmt == "s16" else samples.astype(np.float32)
    stream = _checked_stream(req)
    try:  # the runtime checks again (for its other entry points); here it earns bad_argument
        audio = check_clip(audio, rate)
    except AudioError as e:
        raise RequestError("bad_argument", f"speak {e}") from None
    return {"audio": audio, "rate": rate, "stream": stream} | _speak_text(req, max_text_chars)


def _speak_text(req: dict, max_text_chars: int) -> dict:
    """The optional transcript (`text`) and its `language` of a speak request."""
    text = _arg(req, "text", (str,), required=False)
    language = _arg(req, "language", (str,), required=False)
    if text is None:
        if language is not None:
            raise RequestError("bad_argument", "speak language is given without text: expected "
                                               "a text (the words spoken) with it")
        return {}
    if len(text) > max_text_chars:
        raise RequestError("too_large", f"speak text is {len(text)} characters: the limit is "
                                        f"{max_text_chars}")
    if not text.strip() or "\x00" in text:
        raise RequestError("bad_argument", f"speak text is {_brief(text)}: expected the words "
                                           f"spoken")
    if language is not None and not _LANGUAGE.match(language):
        raise RequestError("bad_argument", f"speak language is {_brief(language)}: expected a "
                                           f"language code such as 'en' or 'de'")
    return {"text": text, "language": language or "en"}


def portrait_folders(config: ControlConfig) -> tuple[Path, ...]:
    """The folders `load_portrait` may read from, resolved (symlinks followed). Refuses the
    filesystem root when named explicitly; drops it (logged) when it is only the default."""
    if config.portrait_dirs is None:
        here = Path(os.path.realpath(os.getcwd()))
        if here == Path(here.anchor):
            log.warning("load_portrait: the current directory is %s, so no folder is allowed for "
                        "paths; pass portrait folders to allow some", here)
            return ()
        return (here,)
    folders = []
    for d in config.portrait_dirs:
        real = Path(os.path.realpath(d))
        if real == Path(real.anchor):
            raise ConfigError(f"portrait folder {str(d)!r} is the filesystem root: expected a "
                              f"folder that holds only portraits you mean to serve")
        if not real.is_dir():
            raise ConfigError(f"portrait folder {str(d)!r} is not a folder: expected an existing "
                              f"directory")
        folders.append(real)
    return tuple(folders)


def check_image_bytes(data: bytes, config: ControlConfig, what: str = "image") -> tuple[int, int]:
    """Encoded PNG/JPEG/WebP -> (width, height), read from its header only (nothing decoded).
    Refuses other formats, oversized files and images with a side above max_image_side."""
    if len(data) > config.max_image_bytes:
        raise RequestError("too_large", f"load_portrait {what} is {len(data)} bytes: the limit is "
                                        f"{config.max_image_bytes} bytes")
    return _image_size(io.BytesIO(data), data[:8], config, what)


def _image_size(fp, head: bytes, config: ControlConfig, what: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open parses the header only; pixels are decoded on first use, never here.
        with Image.open(fp, formats=PORTRAIT_FORMATS) as im:
            width, height = im.size
    except Image.DecompressionBombError:
        raise RequestError("too_large", f"load_portrait {what} has too many pixels: the limit "
                                        f"is {config.max_image_side} pixels a side") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise RequestError("bad_argument", f"load_portrait {what} is not a PNG, JPEG or WebP "
                                           f"image (starts with {head!r}): expected encoded "
                                           f"PNG/JPEG/WebP bytes") from None
    if width < 1 or height < 1:
        raise RequestError("bad_argument", f"load_portrait {what} is {width}x{height}: expected "
                                           f"at least 1x1 pixels")
    if max(width, height) > config.max_image_side:
        raise RequestError("too_large", f"load_portrait {what} is {width}x{height} pixels: the "
                                        f"limit is {config.max_image_side} pixels a side")
    return width, height


def check_portrait_path(path: str, config: ControlConfig, folders: tuple[Path, ...]) -> Path:
    """A requested portrait path -> its resolved real path, if it lies inside an allowed folder,
    has an image suffix, and is a readable image within the limits. The folder is checked before
    the file's existence, so a refusal says nothing about files outside the allowed folders."""
    shown = _brief(path, 200)
    if not path or "\0" in path:
        raise RequestError("bad_argument", f"load_portrait path {shown} is not a usable path: "
                                           f"expected a file name")
    real = Path(os.path.realpath(path))  # follows every symlink, removes `..`
    if not any(real.is_relative_to(folder) for folder in folders):
        allowed = [str(f) for f in folders] or "none (send the image bytes instead)"
        raise RequestError("forbidden", f"load_portrait path {shown} resolves to "
                                        f"{_brief(str(real), 200)}, outside the allowed portrait "
                                        f"folders: expected a file under {allowed}")
    if real.suffix.lower() not in PORTRAIT_SUFFIXES:
        raise RequestError("bad_argument", f"load_portrait path {shown} resolves to a "
                                           f"{real.suffix or 'suffix-less'!r} file: expected one "
                                           f"of {list(PORTRAIT_SUFFIXES)}")
    if not real.is_file():
        raise RequestError("bad_argument", f"load_portrait path {shown} does not exist or is not "
                                           f"a file: expected an image file")
    try:
        size = real.stat().st_size
        if size > config.max_image_bytes:
            raise RequestError("too_large", f"load_portrait file {shown} is {size} bytes: the "
                                            f"limit is {config.max_image_bytes} bytes")
        with open(real, "rb") as f:
            head = f.read(8)
            f.seek(0)
            _image_size(f, head, config, f"file {shown}")
    except OSError as e:
        raise RequestError("bad_argument", f"load_portrait path {shown} cannot be read "
                                           f"({e.strerror}): expected a readable file") from None
    return real


def parse_load_portrait(req: dict, config: ControlConfig = ControlConfig(),
                        folders: tuple[Path, ...] | None = None) -> dict:
    """`folders`: the resolved allowed folders (default: `portrait_folders(config)`)."""
    _known_only(req, LOAD_PORTRAIT_KEYS)
    path = _arg(req, "path", (str,), required=False)
    image = _arg(req, "image", (bytes,), required=False)
    framing = _arg(req, "framing", (str,), required=False)
    if (path is None) == (image is None):
        raise RequestError("bad_argument", "load_portrait needs exactly one of 'path' (str) or "
                                           "'image' (encoded PNG/JPEG/WebP bytes)")
    extra = {}
    if framing is not None:
        if framing not in FRAMINGS:
            raise RequestError("bad_argument", f"load_portrait framing {_brief(framing)} is "
                                               f"unknown: expected one of {list(FRAMINGS)}")
        extra["framing"] = framing
    if image is not None:
        check_image_bytes(image, config)
        return {"image": image, **extra}
    folders = portrait_folders(config) if folders is None else folders
    return {"path": str(check_portrait_path(path, config, folders)), **extra}


def decode_request(body: list[bytes], config: ControlConfig) -> dict:
    """A request's frames (after the routing envelope) -> its map, checked for size and shape
    before unpacking; RequestError otherwise."""
    if len(body) != 1:
        raise RequestError("malformed", f"request has {len(body)} frames: expected 1 "
                                        f"msgpack map")
    if len(body[0]) > config.max_request_bytes:
        raise RequestError("too_large", f"request is {len(body[0])} bytes: the cap is "
                                        f"{config.max_request_bytes} bytes")
    check_msgpack_shape(body[0], config.max_objects, config.max_depth)
    try:
        req = msgpack.unpackb(body[0], raw=False, strict_map_key=True)
    except ValueError as e:
        if "map key" in str(e):  # e.g. "int is not allowed for map key ...", at any depth
            kind = str(e).split()[0]
            raise RequestError("malformed", f"request has a map key of type {kind}: expected "
                                            f"str keys") from None
        raise RequestError("malformed", "request is not valid msgpack (ValueError): expected "
                                        "a map like {'cmd': 'status'}") from None
    except Exception as e:  # msgpack raises several types on garbage
        raise RequestError("malformed", f"request is not valid msgpack ({type(e).__name__})"
                                        f": expected a map like {{'cmd': 'status'}}") from None
    if not isinstance(req, dict):
        raise RequestError("malformed", f"request is a {type(req).__name__}: expected a map "
                                        f"like {{'cmd': 'status'}}")
    bad_keys = [k for k in req if not isinstance(k, str)]
    if bad_keys:
        raise RequestError("malformed", f"request key {_brief(bad_keys[0])} is "
                                        f"{type(bad_keys[0]).__name__}: expected str keys")
    return req


def check_command(req: dict) -> None:
    """Refuse a request of another protocol version or for an unknown command."""
    if "v" in req and req["v"] != wire.VERSION:
        raise RequestError("version", f"request version {_brief(req['v'])} is not supported: "
                                      f"this server speaks version {wire.VERSION}")
    if "cmd" not in req:
        raise RequestError("malformed", f"request has no 'cmd': expected one of "
                                        f"{list(COMMANDS)} in it, like {{'cmd': 'status'}}")
    cmd = req["cmd"]
    if cmd not in COMMANDS:
        raise RequestError("unknown_command" if isinstance(cmd, str) else "malformed",
                           f"command {_brief(cmd)} is unknown: expected one of "
                           f"{list(COMMANDS)}")
