"""Loading a portrait: any PNG/JPEG/WebP, greyscale/RGB/RGBA, 8 or 16 bit, EXIF-rotated.

Everything comes out as (H, W, 3) uint8 RGB plus an optional (H, W) uint8 alpha.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, not_a_file

# Refused before decoding: a PNG or JPEG header can declare 4 billion pixels in a few bytes.
MAX_PIXELS = 80_000_000  # 80 megapixels (10000 x 8000); below Pillow's bomb warning (89 M)
MAX_FILE_BYTES = 256 * 2**20  # the file is read into memory, so no header sizes a read


@dataclass(frozen=True)
class LoadedImage:
    rgb: np.ndarray  # (H, W, 3) uint8
    alpha: np.ndarray | None  # (H, W) uint8, None when the file has none
    source: str  # path or "<array>"


def _to_uint8(a: np.ndarray, source: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16 or a.dtype == np.int32 and a.max() > 255:
        return (a.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageReadError(f"{source}: image has non-finite pixels: expected finite values")
        hi = 1.0 if a.max() <= 1.0 else 255.0
        return (np.clip(a / hi, 0, 1) * 255 + 0.5).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        return np.clip(a, 0, 255).astype(np.uint8)
    raise ImageReadError(f"{source}: pixel type {a.dtype} is not supported: expected uint8, "
                         f"uint16 or float")


def from_array(a: np.ndarray, source: str = "<array>") -> LoadedImage:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array of uint8/uint16/float -> LoadedImage."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        a = _to_uint8(a, source)
        return LoadedImage(np.repeat(a[:, :, None], 3, axis=2), None, source)
    if a.ndim != 3 or a.shape[2] not in (2, 3, 4):
        raise ImageReadError(f"{source}: image has shape {a.shape}: expected (H, W), (H, W, 3) "
                             f"or (H, W, 4)")
    a = _to_uint8(a, source)
    if a.shape[2] == 2:  # grey + alpha
        return LoadedImage(np.ascontiguousarray(np.repeat(a[:, :, :1], 3, axis=2)),
                           np.ascontiguousarray(a[:, :, 1]), source)
    if a.shape[2] == 4:
        return LoadedImage(np.ascontiguousarray(a[:, :, :3]), np.ascontiguousarray(a[:, :, 3]),
                           source)
    return LoadedImage(np.ascontiguousarray(a), None, source)


def load_image(path: str | Path) -> LoadedImage:
    """Read a PNG/JPEG/WebP (or anything Pillow reads), apply its EXIF orientation."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"portrait {str(path)!r} {not_a_file(path)}: expected an image "
                             f"file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageReadError(f"portrait {str(path)!r} is {size} bytes: expected at most "
                             f"{MAX_FILE_BYTES} (a PNG, JPEG or WebP photo)")
    return decode_image(path.read_bytes(), str(path))


def decode_image(data: bytes, source: str = "uploaded image") -> LoadedImage:
    """An encoded image's bytes (a file's, or an upload's: the web panel, `load_portrait`'s
    `image`) -> LoadedImage, read as `load_image` reads a file: EXIF orientation applied,
    16-bit and greyscale kept to be scaled. `source` names it in errors and warnings."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = f"portrait {source!r}"
    if len(data) > MAX_FILE_BYTES:
        raise ImageReadError(f"{name} is {len(data)} bytes: expected at most {MAX_FILE_BYTES} "
                             f"(a PNG, JPEG or WebP photo)")
    try:
        with warnings.catch_warnings():  # Pillow warns from 89 MP; ours is the clear refusal
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        with im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageReadError(f"{name} is {w}x{h} pixels: expected at most "
                                     f"{MAX_PIXELS // 1_000_000} megapixels")
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                a = np.array(im).astype(np.uint16 if mode != "I" else np.int32)
            elif mode in ("L", "RGB", "RGBA", "LA"):
                a = np.array(im)
            elif mode == "P" and "transparency" in im.info:
                a = np.array(im.convert("RGBA"))
            else:
                a = np.array(im.convert("RGB"))
    except Image.DecompressionBombError as exc:  # Image.open refuses > 2x its own limit
        raise ImageReadError(f"{name} is too large ({exc}): expected at most "
                             f"{MAX_PIXELS // 1_000_000} megapixels") from None
    except UnidentifiedImageError:  # its message names the BytesIO object, not the image
        raise ImageReadError(f"{name} is not an image Pillow can identify: expected a PNG, "
                             f"JPEG or WebP image") from None
    except (OSError, SyntaxError) as exc:
        raise ImageReadError(f"{name} could not be decoded ({exc}): expected a PNG, JPEG or "
                             f"WebP image") from None
    if a.size == 0:
        raise ImageReadError(f"{name} is empty: expected pixels")
    if a.dtype == np.int32:
        a = np.clip(a, 0, 65535).astype(np.uint16)
    return from_array(a, source)
