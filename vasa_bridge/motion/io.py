"""Motion track files: `.npz` (the native format), `.json` and `.csv` (for animators),
`.vasatrack` (the same JSON under the name the Unity package's importer claims) and `.vasab`
(compact binary for shipping many lines: blendshapes quantised to 16 bits; docs/protocol.md
"Baked tracks").

`.npz` arrays: blendshapes (T, 52) float32, names (52,) str, head_rotation (T, 3),
head_translation (T, 3), fps (scalar); optional audio (S,) float32 mono and sample_rate; optional
start (scalar seconds). Loading validates everything and says exactly what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import MotionFormatError
from .frame import MotionTrack, check_names
from .names import ARKIT_NAMES

JSON_FORMAT = "vasa-motion"
JSON_VERSION = 1
UNITY_SUFFIX = ".vasatrack"  # JSON for the Unity package's BakedSpeech importer
BINARY_SUFFIX = ".vasab"  # compact binary, also read by the Unity importer
BINARY_MAGIC = b"VASB"
BINARY_VERSION = 1
SUFFIXES = f".npz, .json, {UNITY_SUFFIX}, {BINARY_SUFFIX} or .csv"
POSE_COLUMNS = ("pitch", "yaw", "roll", "tx", "ty", "tz")
CSV_COLUMNS = 1 + len(ARKIT_NAMES) + len(POSE_COLUMNS)
# One array of a .npz track: an hour of 48 kHz float32 audio is 0.7 GB. A header declaring more
# is refused before anything is allocated (a .npz is a zip: 1 KB can claim terabytes).
MAX_ARRAY_BYTES = 1 << 30
NPZ_KEYS = "blendshapes, names, head_rotation, head_translation, fps"


def save(track: MotionTrack, path: str | Path) -> Path:
    """Write a track; the suffix picks the format (.npz, .json, .vasatrack, .vasab, .csv)."""
    path = Path(path)
    writer = _writer(path.suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        writer(track, f)
    return path


def encode(track: MotionTrack, suffix: str) -> bytes:
    """The bytes `save` would write to a file with this suffix (.npz, .json, .vasatrack, .vasab,
    .csv)."""
    writer = _writer(suffix)
    buf = io.BytesIO()
    writer(track, buf)
    return buf.getvalue()


def _writer(suffix: str):
    writer = {".npz": _save_npz, ".json": _save_json, UNITY_SUFFIX: _save_json,
              BINARY_SUFFIX: _save_binary, ".csv": _save_csv}.get(suffix.lower())
    if writer is None:
        raise MotionFormatError(f"motion file suffix {suffix!r} is not supported: expected "
                                f"{SUFFIXES}")
    return writer


def load(path: str | Path) -> MotionTrack:
    """Read and validate a track written by `save` (or by hand, following the same layout)."""
    path = Path(path)
    reader = {".npz": _load_npz, ".json": _load_json, UNITY_SUFFIX: _load_json,
              BINARY_SUFFIX: _load_binary, ".csv": _load_csv}.get(path.suffix.lower())
    if reader is None:
        raise MotionFormatError(f"motion file {str(path)!r} has suffix {path.suffix!r}: expected "
                                f"{SUFFIXES}")
    if not path.is_file():
        raise MotionFormatError(f"motion file {str(path)!r} does not exist: expected a track "
                                f"file ({SUFFIXES})")
    try:
        return reader(path)
    except MotionFormatError as e:
        raise MotionFormatError(" ".join(f"{path}: {e}".split())) from None  # one line


def _text(path: Path) -> str:
    """A text track's contents (UTF-8, with or without a byte-order mark)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise MotionFormatError(f"not UTF-8 text ({e}): expected a {path.suffix} track written "
                                f"as UTF-8") from None


# --- npz ---------------------------------------------------------------------------------------


def _save_npz(track: MotionTrack, f) -> None:
    arrays = dict(blendshapes=track.blendshapes, names=np.array(ARKIT_NAMES),
                  head_rotation=track.head_rotation, head_translation=track.head_translation,
                  fps=np.float64(track.fps), start=np.float64(track.start))
    if track.audio is not None:
        arrays.update(audio=track.audio, sample_rate=np.int64(track.sample_rate))
    np.savez_compressed(f, **arrays)


def _load_npz(path: Path) -> MotionTrack:
    arrays = read_npz(path)
    for key in ("blendshapes", "names", "head_rotation", "head_translation", "fps"):
        if key not in arrays:
            raise MotionFormatError(f"array {key!r} is missing: expected {NPZ_KEYS}")
    for key in ("blendshapes", "head_rotation", "head_translation", "fps", "audio",
                "sample_rate", "start"):
        if key in arrays and arrays[key].dtype.kind not in "iuf":
            raise MotionFormatError(f"array {key!r} has dtype {arrays[key].dtype}: expected real "
                                    f"numbers")
    check_names(arrays["names"].tolist())
    audio = arrays.get("audio")
    rate = arrays.get("sample_rate")
    if (audio is None) != (rate is None):
        raise MotionFormatError("audio and sample_rate must come together: found only "
                                f"{'audio' if rate is None else 'sample_rate'}, expected both or "
                                f"neither")
    fps = _scalar(arrays, "fps")
    start = _scalar(arrays, "start") if "start" in arrays else 0.0
    if rate is not None:
        rate = _scalar(arrays, "sample_rate")
        if not rate.is_integer():
            raise MotionFormatError(f"sample_rate is {rate!r}: expected a whole number of Hz")
        rate = int(rate)
    return MotionTrack(arrays["blendshapes"], arrays["head_rotation"], arrays["head_translation"],
                       fps, audio, rate, start)


def _scalar(arrays: dict, key: str) -> float:
    value = arrays[key]
    if value.shape != ():
        raise MotionFormatError(f"{key} has shape {value.shape}: expected a scalar")
    value = float(value)
    if not math.isfinite(value):
        raise MotionFormatError(f"{key} is {value!r}: expected a finite number")
    return value


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every .npy member of a .npz archive, each header checked before its data is read (the
    portrait cache reads its entries with this too). Refusals are MotionFormatErrors."""
    try:
        with zipfile.ZipFile(path) as z:
            return {info.filename[:-4]: _read_member(z, info) for info in z.infolist()
                    if info.filename.endswith(".npy")}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError, TypeError, SyntaxError) as e:
        if isinstance(e, MotionFormatError):
            raise
        raise MotionFormatError(f"not a readable .npz archive ({e}): expected a zip of .npy "
                                f"arrays ({NPZ_KEYS})") from None


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    fmt = np.lib.format
    key = info.filename[:-4]
    with z.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise MotionFormatError(f"array {key!r} is .npy format {version}: expected 1.0 or "
                                    f"2.0")
        if dtype.hasobject:
            raise MotionFormatError(f"array {key!r} holds Python objects: expected numbers or "
                                    f"names (pickles are never loaded)")
        count = math.prod(shape)
        size = count * dtype.itemsize
        if size > min(MAX_ARRAY_BYTES, info.file_size):
            raise MotionFormatError(f"array {key!r} declares shape {shape} ({size} bytes) in a "
                                    f"{info.file_size}-byte member: expected at most "
                                    f"{min(MAX_ARRAY_BYTES, info.file_size)} bytes")
        array = np.empty(count, dtype)  # writable, as np.load gives; filled in place
        got = f.readinto(memoryview(array).cast("B")) if size else 0
        if got != size or f.read(1):
            raise MotionFormatError(f"array {key!r} holds {got} bytes of data or more: "
                                    f"expected {size} for shape {shape}")
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


# --- json --------------------------------------------------------------------------------------


def _save_json(track: MotionTrack, f) -> None:
    doc = {
        "format": JSON_FORMAT, "version": JSON_VERSION, "fps": track.fps, "start": track.start,
        "names": list(ARKIT_NAMES),
        "frames": [{"time": round(float(t), 6),
                    "blendshapes": [round(float(v), 6) for v in b],
                    "head_rotation": [round(float(v), 4) for v in r],
                    "head_translation": [round(float(v), 6) for v in p]}
                   for t, b, r, p in zip(track.times, track.blendshapes, track.head_rotation,
                                         track.head_translation)],
    }
    f.write(json.dumps(doc, indent=1).encode())


def _load_json(path: Path) -> MotionTrack:
    try:
        doc = json.loads(_text(path))
    except json.JSONDecodeError as e:
        raise MotionFormatError(f"not valid JSON ({e}): expected a {JSON_FORMAT!r} document") \
            from None
    except RecursionError:
        raise MotionFormatError(f"JSON nested too deeply: expected a {JSON_FORMAT!r} document "
                                f"(frames inside one list)") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise MotionFormatError(f"format is {doc.get('format') if isinstance(doc, dict) else doc!r}"
                                f": expected {JSON_FORMAT!r}")
    if doc.get("version") != JSON_VERSION:
        raise MotionFormatError(f"version is {doc.get('version')!r}: expected {JSON_VERSION}")
    names = doc.get("names", [])
    if not isinstance(names, list):
        raise MotionFormatError(f"names is a {type(names).__name__}: expected a list of the "
                                f"52 ARKit names")
    check_names(names)
    frames = doc.get("frames")
    if not isinstance(frames, list) or not frames:
        raise MotionFormatError("frames is missing or empty: expected a list of frames")
    try:
        shapes = np.array([f["blendshapes"] for f in frames], np.float32)
        rot = np.array([f["head_rotation"] for f in frames], np.float32)
        trans = np.array([f["head_translation"] for f in frames], np.float32)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise MotionFormatError(f"a frame is malformed ({e!r}): expected blendshapes (52 numbers), "
                                f"head_rotation and head_translation (3 numbers each)") from None
    return MotionTrack(shapes, rot, trans, _json_number(doc, "fps", None),
                       start=_json_number(doc, "start", 0.0))


def _json_number(doc: dict, key: str, default) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MotionFormatError(f"{key} is {str(value)[:40]!r}: expected a number")
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise MotionFormatError(f"{key} is {value!r}: expected a finite number")
    return value


# --- vasab (compact binary) ----------------------------------------------------------------------
# Little-endian: magic "VASB", u16 version, u16 name count N, u32 frame count T, f64 fps,
# f64 start, N names (u8 length + ASCII), then T frames of N u16 blendshapes (value * 65535,
# rounded) and 6 f32 (pitch, yaw, roll in degrees; x, y, z in metres). Nothing follows.

_BINARY_HEAD = struct.Struct("<4sHHIdd")


def _frame_dtype(n: int) -> np.dtype:
    return np.dtype([("shapes", "<u2", (n,)), ("rotation", "<f4", (3,)), ("translation", "<f4", (3,))])


def _save_binary(track: MotionTrack, f) -> None:
    frames = np.zeros(len(track), _frame_dtype(len(ARKIT_NAMES)))
    frames["shapes"] = np.round(np.clip(track.blendshapes, 0, 1) * 65535).astype(np.uint16)
    frames["rotation"] = track.head_rotation
    frames["translation"] = track.head_translation
    names = b"".join(bytes([len(n)]) + n.encode("ascii") for n in ARKIT_NAMES)
    head = _BINARY_HEAD.pack(BINARY_MAGIC, BINARY_VERSION, len(ARKIT_NAMES), len(track),
                             float(track.fps), float(track.start))
    f.write(head + names + frames.tobytes())


def _load_binary(path: Path) -> MotionTrack:
    data = path.read_bytes()
    if len(data) < _BINARY_HEAD.size:
        raise MotionFormatError(f"{len(data)} bytes: expected at least a {_BINARY_HEAD.size}-byte "
                                f"header")
    magic, version, n, count, fps, start = _BINARY_HEAD.unpack_from(data)
    if magic != BINARY_MAGIC:
        raise MotionFormatError(f"magic is {magic!r}: expected {BINARY_MAGIC!r} (a .vasab track)")
    if version != BINARY_VERSION:
        raise MotionFormatError(f"version is {version}: expected {BINARY_VERSION}")
    if not 1 <= n <= len(ARKIT_NAMES) or count < 1:
        raise MotionFormatError(f"{n} names and {count} frames: expected 1 to {len(ARKIT_NAMES)} "
                                f"names and at least one frame")
    pos, names = _BINARY_HEAD.size, []
    for i in range(n):
        size = data[pos] if pos < len(data) else 0
        raw = data[pos + 1:pos + 1 + size]
        if size == 0 or len(raw) != size:
            raise MotionFormatError(f"name {i} is cut short at byte {pos}: expected a length and "
                                    f"that many ASCII bytes")
        names.append(raw.decode("ascii", errors="replace"))
        pos += 1 + size
    dtype = _frame_dtype(n)
    if len(data) - pos != count * dtype.itemsize:
        raise MotionFormatError(f"{len(data) - pos} bytes of frames: expected {count} x "
                                f"{dtype.itemsize}")
    frames = np.frombuffer(data, dtype, count, pos)
    return MotionTrack.from_named(names, frames["shapes"].astype(np.float32) / 65535,
                                  frames["rotation"], frames["translation"], fps, start=start)


# --- csv ---------------------------------------------------------------------------------------


def _save_csv(track: MotionTrack, f) -> None:
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(["time", *ARKIT_NAMES, *POSE_COLUMNS])
    for t, b, r, p in zip(track.times, track.blendshapes, track.head_rotation,
                          track.head_translation):
        w.writerow([f"{t:.6f}", *(f"{v:.6f}" for v in b), *(f"{v:.4f}" for v in r),
                    *(f"{v:.6f}" for v in p)])
    f.write(text.getvalue().encode())


def _load_csv(path: Path) -> MotionTrack:
    try:
        rows = list(csv.reader(io.StringIO(_text(path), newline="")))
    except csv.Error as e:
        raise MotionFormatError(f"not readable CSV ({e}): expected a header row and one row of "
                                f"{CSV_COLUMNS} numbers per frame") from None
    expected = ["time", *ARKIT_NAMES, *POSE_COLUMNS]
    if not rows or rows[0] != expected:
        got = rows[0][:4] if rows else []
        raise MotionFormatError(f"header starts {got!r}: expected time, the 52 ARKit names, "
                                f"{', '.join(POSE_COLUMNS)}")
    if len(rows) < 2:
        raise MotionFormatError("no frames: expected at least one row after the header")
    for number, row in enumerate(rows[1:], 2):
        if len(row) != CSV_COLUMNS:
            raise MotionFormatError(f"row {number} has {len(row)} cells: expected {CSV_COLUMNS} "
                                    f"(time, 52 blendshapes, 6 pose values)")
    try:
        table = np.array(rows[1:], np.float64)
    except ValueError as e:
        raise MotionFormatError(f"a row is not all numbers ({e}): expected {CSV_COLUMNS} "
                                f"numbers per row") from None
    times = table[:, 0]
    if len(times) > 1:
        steps = np.diff(times)
        step = float(np.median(steps))
        if not np.isfinite(times).all() or not step > 0 or not np.isfinite(1.0 / step):
            raise MotionFormatError(f"time column runs from {times[0]!r} in steps of {step!r}: "
                                    f"expected finite, increasing times")
        fps = 1.0 / step
        if np.any(np.abs(steps - 1.0 / fps) > 0.25 / fps):
            raise MotionFormatError("time column is not evenly spaced: expected one row per frame "
                                    "at a fixed rate")
    else:
        raise MotionFormatError("one row gives no frame rate: expected at least two rows")
    return MotionTrack(table[:, 1:53], table[:, 53:56], table[:, 56:59], round(fps, 6),
                       start=float(times[0]))
