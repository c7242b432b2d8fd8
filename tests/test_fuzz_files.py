"""Fuzzing every file a command reads (issue 16, item 6: CLI files).

For each kind of file, a seeded, bounded set of mutations of a valid file (truncations, bit flips,
byte insertions and deletions, wrong magic, the wrong suffix, huge declared sizes and
dimensions, NaN and infinite values, absurd rates and frame counts, deep JSON, wrong types,
non-UTF-8 text) goes to the library loader the command uses. Each must either load to a valid
object or raise a `VasaError` whose message is one line, names the file and says what was
expected: never another exception, never past a deadline (SIGALRM), never more than
`MEMORY_CAP` of traced allocations (numpy's arrays are traced, so a header declaring 2^40
samples has to be refused before the allocation). A few end-to-end runs through
`vasa_bridge.cli.main` check that the command exits 2 with one `error:` line.

`pytest tests/test_fuzz_files.py -s` prints the counts tried per kind (docs/protocol.md, "Files
the commands read"); FUZZ_DUMP=FILE appends every failure, one per line, for triage.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import struct
import tracemalloc
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from vasa_bridge.errors import VasaError

pytestmark = pytest.mark.slow

SEED = 16
DEADLINE_S = 10.0  # per load
MEMORY_CAP = 256 * 2**20  # peak traced allocations per load
ASSETS = Path(__file__).resolve().parents[1] / "vasa_bridge" / "assets"


# --- the harness ---------------------------------------------------------------------------------


RSS_CAP = 768 * 2**20  # growth of the process's peak resident memory over one kind


def _peak_rss() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float):
    def alarm(signum, frame):
        raise Hang(f"still running after {seconds:g} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Fuzz:
    """Runs cases of one kind and keeps the counts and every broken promise."""

    def __init__(self, kind: str):
        self.kind = kind
        self.loaded = self.refused = 0
        self.failures: list[str] = []
        self.peak_rss = _peak_rss()  # native allocations (Pillow, libsndfile, ORT) are untraced

    def attempt(self, name: str, load, check=None, mentions: str | None = None):
        """load() must return (then check(obj) must pass) or raise a VasaError whose message is
        one line, contains `mentions` (the file's name) and says what was expected."""
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        try:
            with deadline(DEADLINE_S):
                obj = load()
        except Hang as e:
            self.failures.append(f"{name}: hang ({e})")
            return None
        except VasaError as e:
            self.refused += 1
            msg = str(e)
            if "\n" in msg or "\r" in msg or not msg.strip():
                self.failures.append(f"{name}: message is not one line: {msg[:300]!r}")
            elif "expected" not in msg.lower() and "limit" not in msg:
                self.failures.append(f"{name}: message says nothing expected: {msg[:300]!r}")
            elif mentions is not None and mentions not in msg:
                self.failures.append(f"{name}: message does not name {mentions!r}: {msg[:300]!r}")
            return None
        except Exception as e:  # noqa: BLE001 - the point: nothing but VasaError may escape
            self.failures.append(f"{name}: {type(e).__name__}: {str(e)[:300]}")
            return None
        finally:
            peak = tracemalloc.get_traced_memory()[1] - before
            if peak > MEMORY_CAP:
                self.failures.append(f"{name}: {peak / 2**20:.0f} MiB allocated (cap "
                                     f"{MEMORY_CAP / 2**20:.0f} MiB)")
        self.loaded += 1
        if check is not None:
            try:
                check(obj)
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"{name}: loaded an invalid object: {type(e).__name__}: "
                                     f"{str(e)[:300]}")
        return obj

    def files(self, folder: Path, cases, suffix: str, load, check=None):
        """Write each (name, bytes) case as folder/NAME+suffix and attempt load(path)."""
        for name, data in cases:
            path = folder / f"{_safe(name)}{suffix}"
            path.write_bytes(data)
            self.attempt(f"{name}{suffix}", lambda p=path: load(p), check, mentions=path.name)
            path.unlink()

    def finish(self) -> None:
        if os.environ.get("FUZZ_DUMP"):
            with open(os.environ["FUZZ_DUMP"], "a") as f:
                f.writelines(f"{self.kind} | {x}\n" for x in self.failures)
        grown = _peak_rss() - self.peak_rss
        if grown > RSS_CAP:
            self.failures.append(f"peak resident memory grew by {grown / 2**20:.0f} MiB (cap "
                                 f"{RSS_CAP / 2**20:.0f} MiB)")
        print(f"\n[fuzz] {self.kind}: {self.loaded + self.refused} tried, {self.loaded} loaded, "
              f"{self.refused} refused, {len(self.failures)} failures, peak RSS "
              f"+{max(grown, 0) / 2**20:.0f} MiB")
        assert not self.failures, f"{self.kind}: {len(self.failures)} failures:\n" + \
            "\n".join(self.failures[:25])


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60]


@pytest.fixture(scope="module", autouse=True)
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


# --- byte-level mutations (every kind) -----------------------------------------------------------

MAGICS = {"riff": b"RIFF", "flac": b"fLaC", "png": b"\x89PNG", "zip": b"PK\x03\x04",
          "vasab": b"VASB", "jpeg": b"\xff\xd8\xff\xe0", "json": b'{"a"', "ogg": b"OggS",
          "id3": b"ID3\x04", "nul": b"\0\0\0\0"}


def byte_mutations(data: bytes, rng: random.Random, *, cuts: int = 24, flips: int = 24,
                   inserts: int = 8, deletes: int = 4, head: int = 256) -> list[tuple[str, bytes]]:
    """Truncations (the header densely, the rest spread), single-bit flips (half in the first
    `head` bytes), inserted and deleted bytes, and every other format's magic."""
    n = len(data)
    out = [("empty", b"")]
    points = {1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 44, 64, 100, n - 1, n // 2}
    points |= {int(n * i / cuts) for i in range(1, cuts)}
    points = sorted(p for p in points if 0 < p < n)
    if len(points) > cuts:
        first = min(12, cuts)
        keep = set(points[:first]) | set(rng.sample(points[first:], cuts - first))
        points = sorted(keep)
    out += [(f"cut{p}", data[:p]) for p in points]
    for i in range(flips):
        pos = rng.randrange(min(head, n)) if i % 2 == 0 else rng.randrange(n)
        b = bytearray(data)
        b[pos] ^= 1 << rng.randrange(8)
        out.append((f"flip{pos}", bytes(b)))
    for i in range(inserts):
        pos = rng.randrange(n)
        junk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 16)))) if i % 2 else \
            b"\xff" * rng.choice((4, 64))
        out.append((f"insert{pos}", data[:pos] + junk + data[pos:]))
    for _ in range(deletes):
        pos = rng.randrange(n)
        out.append((f"delete{pos}", data[:pos] + data[pos + rng.choice((1, 7)):]))
    for name, magic in MAGICS.items():
        if not data.startswith(magic[:2]):
            out.append((f"magic_{name}", magic + data[len(magic):]))
    return out


def text_mutations(text: str, rng: random.Random) -> list[tuple[str, bytes]]:
    """Text-specific damage: non-UTF-8, NUL and control characters, a BOM, CR line ends."""
    raw = text.encode()
    mid = len(raw) // 2
    return [
        ("latin1", raw[:mid] + b"\xe9\xff\xfe" + raw[mid:]),
        ("lone_continuation", b"\x80" + raw),
        ("utf16", text.encode("utf-16")),
        ("nul", raw[:mid] + b"\0" + raw[mid:]),
        ("controls", raw[:mid] + b"\x1b[2J\x07\x08" + raw[mid:]),
        ("bom", b"\xef\xbb\xbf" + raw),
        ("crlf", raw.replace(b"\n", b"\r\n")),
        ("cr_only", raw.replace(b"\n", b"\r")),
        ("surrogate", raw[:mid] + b"\xed\xa0\x80" + raw[mid:]),
    ]


# --- motion tracks -------------------------------------------------------------------------------


def _track(audio: bool = True):
    from vasa_bridge.motion.frame import MotionTrack
    rng = np.random.default_rng(SEED)
    t = 12
    kw = {}
    if audio:
        kw = dict(audio=(0.1 * np.sin(np.arange(7680) / 9.0)).astype(np.float32),
                  sample_rate=16000)
    return MotionTrack(rng.uniform(0, 1, (t, 52)).astype(np.float32),
                       rng.uniform(-10, 10, (t, 3)).astype(np.float32),
                       rng.uniform(-0.02, 0.02, (t, 3)).astype(np.float32), 25.0, start=0.5, **kw)


def _check_track(track) -> None:
    from vasa_bridge.motion.frame import MotionTrack
    assert isinstance(track, MotionTrack), type(track)
    assert len(track) >= 1
    assert np.isfinite(track.start), f"start {track.start}"
    assert 0 < track.fps <= 1000 and np.isfinite(track.fps), f"fps {track.fps}"
    for a in (track.blendshapes, track.head_rotation, track.head_translation):
        assert np.isfinite(a).all()
    if track.audio is not None:
        assert track.audio.ndim == 1 and np.isfinite(track.audio).all()
        assert 1000 <= track.sample_rate <= 384000


def _npz(arrays: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _npz_arrays(track) -> dict:
    from vasa_bridge.motion.names import ARKIT_NAMES
    return dict(blendshapes=track.blendshapes, names=np.array(ARKIT_NAMES),
                head_rotation=track.head_rotation, head_translation=track.head_translation,
                fps=np.float64(track.fps), start=np.float64(track.start), audio=track.audio,
                sample_rate=np.int64(track.sample_rate))


def _npy_header_only(shape, descr: str = "<f4", tail: bytes = b"\0" * 64) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + tail


def _npz_with_member(arrays: dict, key: str, member: bytes) -> bytes:
    """A valid .npz in which `key`.npy is replaced by raw `member` bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in arrays.items():
            if k == key:
                z.writestr(f"{k}.npy", member)
            else:
                b = io.BytesIO()
                np.save(b, v)
                z.writestr(f"{k}.npy", b.getvalue())
    return buf.getvalue()


ODD_VALUES = {
    "nan": np.float64("nan"), "inf": np.float64("inf"), "neg": np.float64(-1.0),
    "zero": np.float64(0.0), "huge": np.float64(1e300), "complex": np.complex128(1 + 2j),
    "vector": np.array([25.0, 30.0]), "empty": np.zeros(0), "string": np.array("25"),
    "bool": np.array(True), "int_huge": np.int64(2**62), "matrix": np.ones((2, 2)),
    "uint8": np.uint8(200), "float16": np.float16(25),
}


def npz_structured(track) -> list[tuple[str, bytes]]:
    base = _npz_arrays(track)
    out = []
    for key in ("fps", "start", "sample_rate"):
        for vname, v in ODD_VALUES.items():
            out.append((f"{key}_{vname}", _npz({**base, key: v})))
    for key in ("blendshapes", "head_rotation", "head_translation", "audio"):
        a = base[key]
        for vname, v in (("nan", np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a)),
                         ("inf", np.full_like(a, np.inf)), ("huge", np.full_like(a, 1e30)),
                         ("int64", np.full(a.shape, 2**40, np.int64)),
                         ("complex", a.astype(np.complex64)), ("bool", a > 0.5),
                         ("str", a.astype(str)), ("transposed", a.T),
                         ("flat", a.reshape(-1)), ("3d", a[None]), ("empty", a[:0]),
                         ("scalar", np.float32(0.5))):
            out.append((f"{key}_{vname}", _npz({**base, key: v})))
    for key in base:
        out.append((f"missing_{key}", _npz({k: v for k, v in base.items() if k != key})))
    out.append(("names_reversed", _npz({**base, "names": base["names"][::-1]})))
    out.append(("names_ints", _npz({**base, "names": np.arange(52)})))
    out.append(("names_bytes", _npz({**base, "names": base["names"].astype("S")})))
    out.append(("audio_10min_of_16k", _npz({**base, "audio": np.zeros(16000 * 600, np.float32)},
                                           compressed=True)))
    # huge declared shapes: a header claiming more than any machine holds, and a few bytes
    for key, shape in (("blendshapes", (2**40, 52)), ("audio", (2**40,)),
                       ("audio", (2**33,)), ("blendshapes", (2**28, 52)),
                       ("head_rotation", (2**62, 3)), ("names", (2**40,))):
        descr = "<U16" if key == "names" else "<f4"
        out.append((f"declared_{key}_{shape[0]}",
                    _npz_with_member(base, key, _npy_header_only(shape, descr))))
    out.append(("object_dtype", _npz_with_member(base, "fps", _npy_header_only((), "|O"))))
    out.append(("bad_descr", _npz_with_member(base, "fps", _npy_header_only((), "<q9"))))
    out.append(("npy_not_zip", _npy_header_only((12, 52))))
    return out


def _json_doc(track) -> dict:
    from vasa_bridge.motion import io as motion_io
    return json.loads(motion_io.encode(track, ".json"))


def _deep(depth: int, leaf="0") -> str:
    return "[" * depth + leaf + "]" * depth


def json_structured(track) -> list[tuple[str, bytes]]:
    doc = _json_doc(track)
    enc = lambda d: json.dumps(d).encode()  # noqa: E731
    out = []
    odd = {"null": None, "str": "25", "list": [25], "dict": {"a": 1}, "bool": True,
           "neg": -3, "zero": 0, "huge_int": 10**400, "huge_float": 1e308}
    for key in ("format", "version", "fps", "start", "names", "frames"):
        for vname, v in odd.items():
            out.append((f"{key}_{vname}", enc({**doc, key: v})))
        out.append((f"missing_{key}", enc({k: v for k, v in doc.items() if k != key})))
    frame0 = doc["frames"][0]
    for key in ("blendshapes", "head_rotation", "head_translation", "time"):
        for vname, v in {**odd, "short": [0.5], "nested": [[0.5] * 52],
                         "strings": ["0.5"] * 52}.items():
            out.append((f"frame_{key}_{vname}",
                        enc({**doc, "frames": [{**frame0, key: v}] + doc["frames"][1:]})))
        out.append((f"frame_missing_{key}", enc({**doc, "frames": [
            {k: v for k, v in frame0.items() if k != key}] + doc["frames"][1:]})))
    text = json.dumps(doc)
    for lit in ("NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, "-0"):
        out.append((f"literal_{lit[:8]}", text.replace(
            '"head_rotation": [', f'"head_rotation": [{lit}, ', 1).encode()))
    out.append(("fps_nan_literal", text.replace(f'"fps": {doc["fps"]}', '"fps": NaN').encode()))
    out.append(("start_nan_literal",
                text.replace(f'"start": {doc["start"]}', '"start": NaN').encode()))
    for depth in (100, 1000, 100_000):
        out.append((f"deep_{depth}", _deep(depth).encode()))
        out.append((f"deep_frames_{depth}", enc({**doc, "frames": "X"}).replace(
            b'"X"', _deep(depth).encode())))
    out.append(("deep_objects", ('{"a":' * 50_000 + "1" + "}" * 50_000).encode()))
    out.append(("top_list", b"[1, 2, 3]"))
    out.append(("top_string", b'"vasa-motion"'))
    out.append(("frames_many_empty", enc({**doc, "frames": [{}] * 20_000})))
    out.append(("names_53", enc({**doc, "names": doc["names"] + ["extra"]})))
    return out


def csv_structured(track) -> list[tuple[str, bytes]]:
    from vasa_bridge.motion import io as motion_io
    text = motion_io.encode(track, ".csv").decode()
    lines = text.splitlines()
    head, rows = lines[0], lines[1:]
    join = lambda rs: ("\n".join([head] + rs) + "\n").encode()  # noqa: E731
    cells = rows[0].split(",")
    out = [
        ("header_only", (head + "\n").encode()),
        ("one_row", join(rows[:1])),
        ("same_times", join([r.split(",", 1)[0] and "0.5," + r.split(",", 1)[1] for r in rows])),
        ("reversed_times", join(rows[::-1])),
        ("uneven_times", join(rows[:3] + rows[5:])),
        ("nan_time", join(["nan," + rows[0].split(",", 1)[1]] + rows[1:])),
        ("inf_times", join(["inf," + r.split(",", 1)[1] for r in rows])),
        ("huge_times", join([f"{1e300 * (i + 1)}," + r.split(",", 1)[1]
                             for i, r in enumerate(rows)])),
        ("tiny_steps", join([f"{1e-300 * i}," + r.split(",", 1)[1] for i, r in enumerate(rows)])),
        ("nan_value", join([",".join(cells[:5] + ["nan"] + cells[6:])] + rows[1:])),
        ("inf_value", join([",".join(cells[:5] + ["inf"] + cells[6:])] + rows[1:])),
        ("word_value", join([",".join(cells[:5] + ["jaw"] + cells[6:])] + rows[1:])),
        ("short_row", join([",".join(cells[:10])] + rows[1:])),
        ("long_row", join([rows[0] + ",1,2,3"] + rows[1:])),
        ("huge_cell", join([",".join(cells[:5] + ["1" * 200_000] + cells[6:])] + rows[1:])),
        ("quoted_newline", join(['"0.5\n"' + rows[0][3:]] + rows[1:])),
        ("unterminated_quote", join(['"' + rows[0]] + rows[1:])),
        ("no_header", join(rows)[len(head) + 1:]),
        ("header_renamed", join(rows).replace(b"jawOpen", b"JawOpen")),
        ("many_rows", join(rows * 2000)),
    ]
    return out


def _vasab_head(data: bytes, **fields) -> bytes:
    names = ("magic", "version", "n", "count", "fps", "start")
    values = dict(zip(names, struct.unpack_from("<4sHHIdd", data)))
    values.update(fields)
    return struct.pack("<4sHHIdd", *(values[k] for k in names)) + data[struct.calcsize("<4sHHIdd"):]


def vasab_structured(data: bytes) -> list[tuple[str, bytes]]:
    out = []
    for name, fields in (("count_max", {"count": 2**32 - 1}), ("count_zero", {"count": 0}),
                         ("count_plus1", {"count": 13}), ("n_zero", {"n": 0}),
                         ("n_53", {"n": 53}), ("n_max", {"n": 65535}), ("n_51", {"n": 51}),
                         ("version_2", {"version": 2}), ("version_max", {"version": 65535}),
                         ("fps_nan", {"fps": float("nan")}), ("fps_inf", {"fps": float("inf")}),
                         ("fps_zero", {"fps": 0.0}), ("fps_neg", {"fps": -25.0}),
                         ("fps_huge", {"fps": 1e300}), ("start_nan", {"start": float("nan")}),
                         ("start_inf", {"start": float("inf")}),
                         ("start_huge", {"start": 1e300})):
        out.append((name, _vasab_head(data, **fields)))
    head = struct.calcsize("<4sHHIdd")
    out.append(("name_len_zero", data[:head] + b"\0" + data[head + 1:]))
    out.append(("name_len_max", data[:head] + b"\xff" + data[head + 1:]))
    out.append(("name_non_ascii", data[:head + 1] + b"\xe9" + data[head + 2:]))
    second = head + 1 + data[head]  # names[1] -> a copy of names[0]
    first = data[head:second]
    out.append(("name_twice", data[:second] + first + data[second + len(first):]
                if data[second] == data[head] else data))
    rot = bytearray(data)  # the last frame's pitch: NaN, then 1e30
    struct.pack_into("<f", rot, len(data) - 24, float("nan"))
    out.append(("rotation_nan", bytes(rot)))
    struct.pack_into("<f", rot, len(data) - 24, 1e30)
    out.append(("rotation_huge", bytes(rot)))
    return out


@pytest.fixture(scope="module")
def track():
    return _track()


def test_fuzz_motion_npz(tmp_path, track):
    from vasa_bridge.motion import io as motion_io
    fz = Fuzz("motion .npz")
    rng = random.Random(SEED)
    valid = motion_io.encode(track, ".npz")
    plain = _npz(_npz_arrays(track))
    fz.files(tmp_path, [("valid", valid)], ".npz", motion_io.load, _check_track)
    assert fz.loaded == 1
    fz.files(tmp_path, byte_mutations(valid, rng), ".npz", motion_io.load, _check_track)
    fz.files(tmp_path, byte_mutations(plain, rng, flips=40, head=4096), ".npz", motion_io.load,
             _check_track)
    fz.files(tmp_path, npz_structured(track), ".npz", motion_io.load, _check_track)
    for suffix in (".json", ".csv", ".vasab", ".vasatrack", ".NPZ", ".npy", ".txt", ""):
        fz.files(tmp_path, [(f"npz_as{suffix}", valid)], suffix, motion_io.load, _check_track)
    fz.finish()


def test_fuzz_motion_json(tmp_path, track):
    from vasa_bridge.motion import io as motion_io
    fz = Fuzz("motion .json/.vasatrack")
    rng = random.Random(SEED + 1)
    valid = motion_io.encode(track, ".json")
    for suffix in (".json", ".vasatrack"):
        fz.files(tmp_path, [("valid", valid)], suffix, motion_io.load, _check_track)
    fz.files(tmp_path, byte_mutations(valid, rng), ".json", motion_io.load, _check_track)
    fz.files(tmp_path, text_mutations(valid.decode(), rng), ".vasatrack", motion_io.load,
             _check_track)
    fz.files(tmp_path, json_structured(track), ".json", motion_io.load, _check_track)
    fz.finish()


def test_fuzz_motion_csv(tmp_path, track):
    from vasa_bridge.motion import io as motion_io
    fz = Fuzz("motion .csv")
    rng = random.Random(SEED + 2)
    valid = motion_io.encode(track, ".csv")
    fz.files(tmp_path, [("valid", valid)], ".csv", motion_io.load, _check_track)
    fz.files(tmp_path, byte_mutations(valid, rng), ".csv", motion_io.load, _check_track)
    fz.files(tmp_path, text_mutations(valid.decode(), rng), ".csv", motion_io.load, _check_track)
    fz.files(tmp_path, csv_structured(track), ".csv", motion_io.load, _check_track)
    fz.finish()


def test_fuzz_motion_vasab(tmp_path, track):
    from vasa_bridge.motion import io as motion_io
    fz = Fuzz("motion .vasab")
    rng = random.Random(SEED + 3)
    valid = motion_io.encode(track, ".vasab")
    fz.files(tmp_path, [("valid", valid)], ".vasab", motion_io.load, _check_track)
    fz.files(tmp_path, byte_mutations(valid, rng, flips=48, head=700), ".vasab", motion_io.load,
             _check_track)
    fz.files(tmp_path, vasab_structured(valid), ".vasab", motion_io.load, _check_track)
    fz.finish()


# --- audio files (render --audio, bake --audio, serve --audio, bake manifests) -------------------


def _speech(rate: int = 16000, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)


def _soundfile_bytes(fmt: str, subtype: str | None = None, rate: int = 16000) -> bytes:
    import soundfile as sf
    buf = io.BytesIO()
    sf.write(buf, _speech(rate), rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _mp3_bytes() -> bytes:
    import av
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=16000, layout="mono")
        a = _speech()
        for i in range(0, len(a), 1152):
            frame = av.AudioFrame.from_ndarray(a[None, i:i + 1152], format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def _check_speech(result) -> None:
    audio, rate = result
    assert rate == 16000, rate
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size > 0 and np.isfinite(audio).all(), "empty or non-finite samples"


def _chunk(data: bytes, cid: bytes) -> int:
    return data.index(cid)


def wav_structured(wav: bytes, float_wav: bytes) -> list[tuple[str, bytes]]:
    fmt = _chunk(wav, b"fmt ") + 8  # format(2) channels(2) rate(4) byterate(4) align(2) bits(2)
    data = _chunk(wav, b"data") + 4

    def patch(src: bytes, offset: int, code: str, value) -> bytes:
        b = bytearray(src)
        struct.pack_into(code, b, offset, value)
        return bytes(b)

    out = []
    for name, value in (("riff_size_max", 2**32 - 1), ("riff_size_zero", 0)):
        out.append((name, patch(wav, 4, "<I", value)))
    for name, value in (("data_size_max", 2**32 - 1), ("data_size_zero", 0),
                        ("data_size_odd", 7), ("data_size_2x", 2 * (len(wav) - data - 4))):
        out.append((name, patch(wav, data, "<I", value)))
    for rate in (0, 1, 999, 7999, 191999, 384001, 2**31 - 1, 2**32 - 1):
        out.append((f"rate_{rate}", patch(wav, fmt + 4, "<I", rate)))
    for channels in (0, 2, 9, 255, 65535):
        out.append((f"channels_{channels}", patch(wav, fmt + 2, "<H", channels)))
    for bits in (0, 1, 7, 12, 64, 65535):
        out.append((f"bits_{bits}", patch(wav, fmt + 14, "<H", bits)))
    for tag in (0, 2, 3, 6, 0x55, 0xFFFE, 0xFFFF):
        out.append((f"format_{tag}", patch(wav, fmt, "<H", tag)))
    out.append(("align_zero", patch(wav, fmt + 12, "<H", 0)))
    fdata = _chunk(float_wav, b"data") + 8
    n = (len(float_wav) - fdata) // 4
    for name, value in (("nan", np.nan), ("inf", np.inf), ("huge", 1e20), ("max", 3.4e38),
                        ("over_one", 1.5), ("neg_huge", -1e30)):
        samples = np.frombuffer(float_wav, "<f4", n, fdata).copy()
        samples[n // 2:n // 2 + 10] = value
        out.append((f"float_{name}", float_wav[:fdata] + samples.tobytes()))
    out.append(("float_all_nan", float_wav[:fdata] + np.full(n, np.nan, "<f4").tobytes()))
    out.append(("header_only", wav[:data + 4]))
    return out


def _flac_streaminfo(flac: bytes, *, rate=None, channels=None, bits=None, total=None) -> bytes:
    """FLAC STREAMINFO (bytes 8..41): rate 20 bits, channels-1 3, bits-1 5, total samples 36."""
    b = bytearray(flac)
    packed = int.from_bytes(b[18:26], "big")
    f_rate, f_ch, f_bits, f_total = packed >> 44, (packed >> 41) & 7, (packed >> 36) & 31, \
        packed & (2**36 - 1)
    f_rate = f_rate if rate is None else rate
    f_ch = f_ch if channels is None else channels - 1
    f_bits = f_bits if bits is None else bits - 1
    f_total = f_total if total is None else total
    packed = (f_rate << 44) | (f_ch << 41) | (f_bits << 36) | f_total
    b[18:26] = packed.to_bytes(8, "big")
    return bytes(b)


def flac_structured(flac: bytes) -> list[tuple[str, bytes]]:
    out = [(f"total_{t}", _flac_streaminfo(flac, total=t))
           for t in (0, 1, 2**32, 2**36 - 1)]
    out += [(f"rate_{r}", _flac_streaminfo(flac, rate=r)) for r in (0, 1, 191999, 2**20 - 1)]
    out += [(f"channels_{c}", _flac_streaminfo(flac, channels=c)) for c in (2, 8)]
    out += [(f"bits_{b}", _flac_streaminfo(flac, bits=b)) for b in (4, 24, 32)]
    out.append(("streaminfo_length_max", flac[:5] + b"\xff\xff\xff" + flac[8:]))
    out.append(("streaminfo_length_zero", flac[:5] + b"\0\0\0" + flac[8:]))
    return out


def test_fuzz_audio_files(tmp_path):
    from vasa_bridge.audio.io import load_speech
    fz = Fuzz("audio (WAV/FLAC/OGG/MP3)")
    rng = random.Random(SEED + 4)
    wav = _soundfile_bytes("WAV", "PCM_16")
    float_wav = _soundfile_bytes("WAV", "FLOAT")
    flac = _soundfile_bytes("FLAC", "PCM_16")
    ogg = _soundfile_bytes("OGG", "VORBIS")
    mp3 = _mp3_bytes()
    valid = {".wav": wav, ".flac": flac, ".ogg": ogg, ".mp3": mp3}
    for suffix, data in valid.items():
        fz.files(tmp_path, [("valid", data)], suffix, load_speech, _check_speech)
    assert fz.loaded == 4, fz.failures
    fz.files(tmp_path, [("valid_float", float_wav)], ".wav", load_speech, _check_speech)
    fz.files(tmp_path, [("rate_44100", _soundfile_bytes("WAV", "PCM_16", 44100)),
                        ("rate_8000", _soundfile_bytes("WAV", "PCM_16", 8000)),
                        ("pcm_u8", _soundfile_bytes("WAV", "PCM_U8"))], ".wav", load_speech,
             _check_speech)
    for suffix, data in valid.items():
        fz.files(tmp_path, byte_mutations(data, rng, cuts=16, flips=16, inserts=6, deletes=3,
                                          head=128), suffix, load_speech, _check_speech)
        for other in (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aiff", ".txt"):
            if other != suffix:
                fz.files(tmp_path, [(f"{suffix[1:]}_as", data)], other, load_speech,
                         _check_speech)
    fz.files(tmp_path, wav_structured(wav, float_wav), ".wav", load_speech, _check_speech)
    fz.files(tmp_path, flac_structured(flac), ".flac", load_speech, _check_speech)
    fz.finish()


# --- portraits (render --image, serve --image) ----------------------------------------------------


def _portrait_pil(size: int = 96):
    from PIL import Image
    with Image.open(ASSETS / "portrait.jpg") as im:
        return im.convert("RGB").resize((size, size))


def _image_bytes(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_ihdr(png: bytes, **fields) -> bytes:
    """Rewrite IHDR fields (width, height, depth, colour, compression, filter, interlace) with a
    correct CRC, so the header itself is believed."""
    names = ("width", "height", "depth", "colour", "compression", "filter", "interlace")
    values = dict(zip(names, struct.unpack_from(">IIBBBBB", png, 16)))
    values.update(fields)
    body = b"IHDR" + struct.pack(">IIBBBBB", *(values[k] for k in names))
    return png[:12] + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_structured(png: bytes) -> list[tuple[str, bytes]]:
    out = []
    for w, h in ((0, 96), (96, 0), (2**31 - 1, 96), (96, 2**31 - 1), (65535, 65535),
                 (20000, 20000), (12000, 9000), (100_000, 1), (2**32 - 1, 2**32 - 1)):
        out.append((f"ihdr_{w}x{h}", _png_ihdr(png, width=w, height=h)))
    for depth, colour in ((16, 2), (1, 2), (3, 2), (8, 7), (8, 3), (16, 6), (8, 4)):
        out.append((f"ihdr_depth{depth}_colour{colour}",
                    _png_ihdr(png, depth=depth, colour=colour)))
    out.append(("ihdr_interlace", _png_ihdr(png, interlace=1)))
    out.append(("ihdr_compression", _png_ihdr(png, compression=1)))
    # a real decompression bomb: 20000 x 20000 grey zeros, deflated to ~400 KB
    deflate, row = zlib.compressobj(9), b"\0" * 20001  # filter byte + 20000 pixels
    bomb = b"".join(deflate.compress(row) for _ in range(20000)) + deflate.flush()
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0,
                                                                  0, 0, 0))
    out.append(("bomb_20000x20000", head + _png_chunk(b"IDAT", bomb) + _png_chunk(b"IEND", b"")))
    iend = png.rindex(b"IEND") - 4
    out.append(("text_chunk_huge", png[:iend] + _png_chunk(b"tEXt", b"k\0" + b"v" * 2_000_000)
                + png[iend:]))
    out.append(("exif_garbage", png[:iend] + _png_chunk(
        b"eXIf", b"MM\0*\0\0\0\x08\xff\xff" + b"\x01" * 64) + png[iend:]))
    out.append(("idat_length_max", png[:33] + b"\xff\xff\xff\xff" + png[37:]))
    return out


def jpeg_structured(jpeg: bytes) -> list[tuple[str, bytes]]:
    sof = jpeg.index(b"\xff\xc0")
    out = []
    for w, h in ((0, 96), (96, 0), (65535, 65535), (65535, 1), (30000, 30000)):
        b = bytearray(jpeg)
        struct.pack_into(">HH", b, sof + 5, h, w)
        out.append((f"sof_{w}x{h}", bytes(b)))
    b = bytearray(jpeg)
    b[sof + 9] = 0  # no components
    out.append(("sof_components_0", bytes(b)))
    b = bytearray(jpeg)
    b[sof + 4] = 16  # 16-bit baseline
    out.append(("sof_precision_16", bytes(b)))
    return out


def _exif_jpeg(im, orientation) -> bytes:
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _image_bytes(im, "JPEG", exif=exif.tobytes())


def _check_image(loaded) -> None:
    from vasa_bridge.face.image import LoadedImage
    assert isinstance(loaded, LoadedImage), type(loaded)
    h, w, c = loaded.rgb.shape
    assert c == 3 and h >= 1 and w >= 1 and loaded.rgb.dtype == np.uint8
    assert loaded.alpha is None or loaded.alpha.shape == (h, w)


def test_fuzz_portraits(tmp_path):
    from PIL import Image

    from vasa_bridge.face.image import load_image
    fz = Fuzz("portraits (PNG/JPEG/WebP)")
    rng = random.Random(SEED + 5)
    im = _portrait_pil()
    png = _image_bytes(im, "PNG")
    jpeg = _image_bytes(im, "JPEG", quality=85)
    webp = _image_bytes(im, "WEBP", quality=80)
    valid = {".png": png, ".jpg": jpeg, ".webp": webp}
    for suffix, data in valid.items():
        fz.files(tmp_path, [("valid", data)], suffix, load_image, _check_image)
    assert fz.loaded == 3, fz.failures
    variants = [
        ("grey16", _image_bytes(Image.fromarray((np.asarray(im.convert("L"), np.uint16) * 257)),
                                "PNG")),
        ("rgba", _image_bytes(im.convert("RGBA"), "PNG")),
        ("palette_transparent", _image_bytes(im.convert("P"), "PNG", transparency=0)),
        ("one_bit", _image_bytes(im.convert("1"), "PNG")),
        ("la", _image_bytes(im.convert("LA"), "PNG")),
        ("cmyk_jpeg", _image_bytes(im.convert("CMYK"), "JPEG")),
        ("one_pixel", _image_bytes(im.resize((1, 1)), "PNG")),
        ("gif", _image_bytes(im, "GIF")),
        ("bmp", _image_bytes(im, "BMP")),
        ("tiff_float", _image_bytes(Image.fromarray(np.full((8, 8), np.nan, np.float32)), "TIFF")),
        ("tiff_int32", _image_bytes(Image.fromarray(np.full((8, 8), -5, np.int32)), "TIFF")),
    ]
    variants += [(f"exif_orientation_{o}", _exif_jpeg(im, o)) for o in (0, 2, 5, 8, 9, 255, 65535)]
    fz.files(tmp_path, variants, ".png", load_image, _check_image)
    for suffix, data in valid.items():
        fz.files(tmp_path, byte_mutations(data, rng, cuts=16, flips=20, inserts=6, deletes=3,
                                          head=200), suffix, load_image, _check_image)
        fz.files(tmp_path, [(f"{suffix[1:]}_as", data)], ".jpeg" if suffix != ".jpg" else ".png",
                 load_image, _check_image)
    fz.files(tmp_path, png_structured(png), ".png", load_image, _check_image)
    fz.files(tmp_path, jpeg_structured(jpeg), ".jpg", load_image, _check_image)
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'/>"
    fz.files(tmp_path, [("text", b"not an image\n"), ("svg", svg)], ".png", load_image,
             _check_image)
    fz.finish()


# --- bake manifests (bake --manifest) ------------------------------------------------------------

MANIFEST_CSV = ('audio,text,emotion,intensity,gaze,seed,character,output\n'
                'a.wav,hello there,happy,1.0,"0.1,0.2",3,guard,greet\n'
                'b.wav,,,,,,,\n')
MANIFEST_JSONL = ('{"audio": "a.wav", "text": "hello there", "emotion": "happy", '
                  '"intensity": 1.0, "gaze": [0.1, 0.2], "seed": 3, "character": "guard", '
                  '"output": "greet"}\n{"audio": "b.wav"}\n')


def _check_manifest(lines) -> None:
    from vasa_bridge.bake.manifest import Line
    assert isinstance(lines, list)
    for line in lines:
        assert isinstance(line, Line), type(line)
        if line.error is not None:
            assert isinstance(line.error, str) and "\n" not in line.error, repr(line.error)
            continue
        assert isinstance(line.audio, str) and line.output and ".." not in line.output.split("/")
        assert line.intensity is None or isinstance(line.intensity, float)
        assert line.seed is None or 0 <= line.seed < 2**63


def manifest_jsonl_structured() -> list[tuple[str, bytes]]:
    good = json.loads(MANIFEST_JSONL.splitlines()[0])
    odd = {"null": None, "list": [1, [2]], "dict": {"a": {}}, "bool": True, "int": 7,
           "huge_int": 10**400, "nan": float("nan"), "neg": -1, "str": "x" * 5000,
           "path_up": "../../etc/passwd", "abs": "/etc/passwd", "nul": "a\0b",
           "controls": "\x1b[2J", "empty": ""}
    out = []
    for key in good:
        for vname, v in odd.items():
            try:
                text = json.dumps({**good, key: v})
            except ValueError:
                continue
            out.append((f"{key}_{vname}", (text + "\n").encode()))
    for depth in (100, 5000, 200_000):
        out.append((f"deep_{depth}", (_deep(depth) + "\n").encode()))
        out.append((f"deep_value_{depth}", (json.dumps(good)[:-1] + ', "text": ' + _deep(depth)
                                            + "}\n").encode()))
    out.append(("nan_literal", b'{"audio": "a.wav", "intensity": NaN, "seed": Infinity}\n'))
    out.append(("duplicate_keys", b'{"audio": "a.wav", "audio": 5}\n'))
    out.append(("many_lines", MANIFEST_JSONL.encode() * 2000))
    out.append(("long_line", b'{"audio": "' + b"a" * 3_000_000 + b'.wav"}\n'))
    return out


def manifest_csv_structured() -> list[tuple[str, bytes]]:
    head, row1, row2 = MANIFEST_CSV.splitlines()
    join = lambda *rows: ("\n".join(rows) + "\n").encode()  # noqa: E731
    return [
        ("header_only", join(head)),
        ("no_audio_column", join(head.replace("audio", "sound"), row1)),
        ("unknown_column", join(head + ",extra", row1 + ",1")),
        ("duplicate_column", join(head + ",audio", row1 + ",c.wav")),
        ("huge_cell", join(head, "a.wav," + "x" * 300_000)),
        ("unterminated_quote", join(head, 'a.wav,"hello')),
        ("many_cells", join(head, row1 + ",1" * 500)),
        ("seed_huge", join(head, "a.wav,,,,,99999999999999999999999999,,")),
        ("seed_float", join(head, "a.wav,,,,,1.5,,")),
        ("intensity_nan", join(head, "a.wav,,,nan,,,,")),
        ("intensity_inf", join(head, "a.wav,,,inf,,,,")),
        ("gaze_three", join(head, 'a.wav,,,,"1,2,3",,,')),
        ("gaze_words", join(head, "a.wav,,,,left,,,")),
        ("output_up", join(head, "a.wav,,,,,,,../../x")),
        ("output_abs", join(head, "a.wav,,,,,,,/x")),
        ("output_drive", join(head, "a.wav,,,,,,,C:x")),
        ("character_up", join(head, "a.wav,,,,,,..,x")),
        ("same_output", join(head, row2, row2)),
        ("nul_cell", join(head, "a\0.wav,,,,,,,")),
        ("many_rows", join(head, *[f"l{i}.wav" for i in range(20_000)])),
        ("bom", b"\xef\xbb\xbf" + MANIFEST_CSV.encode()),
        ("empty_rows", join(head, ",,,,,,,", "", row1)),
    ]


def test_fuzz_manifests(tmp_path):
    from vasa_bridge.bake.manifest import read_manifest
    fz = Fuzz("bake manifests (CSV/JSONL/folder)")
    rng = random.Random(SEED + 6)
    for suffix, text in ((".csv", MANIFEST_CSV), (".jsonl", MANIFEST_JSONL)):
        fz.files(tmp_path, [("valid", text.encode())], suffix, read_manifest, _check_manifest)
    assert fz.loaded == 2, fz.failures
    for suffix, text in ((".csv", MANIFEST_CSV), (".jsonl", MANIFEST_JSONL)):
        fz.files(tmp_path, byte_mutations(text.encode(), rng, cuts=20, flips=24, inserts=8,
                                          deletes=4), suffix, read_manifest, _check_manifest)
        fz.files(tmp_path, text_mutations(text, rng), suffix, read_manifest, _check_manifest)
    fz.files(tmp_path, manifest_jsonl_structured(), ".jsonl", read_manifest, _check_manifest)
    fz.files(tmp_path, manifest_csv_structured(), ".csv", read_manifest, _check_manifest)
    fz.files(tmp_path, [("csv_as", MANIFEST_CSV.encode())], ".ndjson", read_manifest,
             _check_manifest)
    fz.files(tmp_path, [("jsonl_as", MANIFEST_JSONL.encode())], ".json", read_manifest,
             _check_manifest)
    # folders: empty, audio-less, nested, odd names, a symlink loop, a file named like a folder
    folders = tmp_path / "folders"
    cases = {
        "empty": {},
        "no_audio": {"notes.txt": b"x"},
        "nested": {"a/b/c/line.wav": b"RIFF", "line.WAV": b"RIFF"},
        "odd_names": {"se\u0301ance.wav": b"", "new\nline.wav": b"", " .wav": b"", "..wav": b""},
        "same_output": {"x.wav": b"", "x.flac": b""},
        "loop": {"line.wav": b""},
    }
    for name, files in cases.items():
        root = folders / name
        root.mkdir(parents=True)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        if name == "loop":
            (root / "self").symlink_to(root, target_is_directory=True)
        fz.attempt(f"folder_{name}", lambda r=root: read_manifest(r), _check_manifest,
                   mentions=name)
    fz.finish()


# --- transcripts (--text-file) -------------------------------------------------------------------


def test_fuzz_transcripts(tmp_path):
    from vasa_bridge.cli.model import text_from_args
    from vasa_bridge.model.transcript import MAX_FILE_TEXT_CHARS
    fz = Fuzz("transcripts (--text-file)")
    rng = random.Random(SEED + 7)
    text = "Hello there. The quick brown fox jumps over the lazy dog!\n"

    def load(path):
        return text_from_args(argparse.Namespace(text=None, text_file=str(path)))

    def check(result):
        assert isinstance(result, str) and len(result) <= MAX_FILE_TEXT_CHARS

    fz.files(tmp_path, [("valid", text.encode())], ".txt", load, check)
    assert fz.loaded == 1
    fz.files(tmp_path, byte_mutations(text.encode(), rng, cuts=12, flips=16), ".txt", load, check)
    fz.files(tmp_path, text_mutations(text, rng), ".txt", load, check)
    fz.files(tmp_path, [("at_limit", b"a" * MAX_FILE_TEXT_CHARS),
                        ("over_limit", b"a" * (MAX_FILE_TEXT_CHARS + 1)),
                        ("huge", b"word " * 2_000_000), ("binary", bytes(range(256)))],
             ".txt", load, check)
    fz.attempt("folder", lambda: load(tmp_path), check, mentions=str(tmp_path))
    fz.finish()


# --- CURVE key files (listen/web --curve-key, serve --curve-secret/--curve-allowed) --------------


def test_fuzz_curve_keys(tmp_path):
    from vasa_bridge.transport.curve import ClientCurve, generate_keys, load_allowed, load_keypair
    fz = Fuzz("CURVE key files")
    rng = random.Random(SEED + 8)
    keys = tmp_path / "keys"
    generate_keys(keys, ("client",))
    secret = (keys / "client.key_secret").read_bytes()
    public = (keys / "server.key").read_bytes()
    work = tmp_path / "work"
    work.mkdir()

    def secret_load(path):
        path.chmod(0o600)
        return load_keypair(path, need_secret=True)

    def check(pair):
        assert len(pair.public) == 40

    text = secret.decode()
    key = text.split('secret-key = "')[1][:40]
    other_key = (keys / "server.key_secret").read_text().split('secret-key = "')[1][:40]
    with_key = lambda k: text.replace(key, k).encode()  # noqa: E731
    structured = [
        ("valid", secret),
        ("public_only", public),
        ("swapped_secret", with_key(other_key)),
        ("key_39", with_key(key[:39])),
        ("key_41", with_key(key + "a")),
        ("key_non_z85", with_key("~" * 40)),
        ("key_non_ascii", with_key("\u00e9" * 40)),
        ("two_secrets", (text + text.split("curve\n")[1]).encode()),
        ("long_line", b"#" + b"x" * 5_000_000 + b"\n" + secret),
        ("many_lines", b"metadata\n" * 200_000 + secret),
    ]
    fz.files(work, structured, ".key_secret", secret_load, check)
    assert fz.loaded >= 1
    fz.files(work, byte_mutations(secret, rng, cuts=16, flips=24, head=400), ".key_secret",
             secret_load, check)
    fz.files(work, text_mutations(text, rng), ".key_secret", secret_load, check)
    # the mode check, and the server key given as a file or a string to a client
    loose = work / "loose.key_secret"
    loose.write_bytes(secret)
    loose.chmod(0o644)
    fz.attempt("mode_0644", lambda: load_keypair(loose, need_secret=True), check,
               mentions="loose.key_secret")
    good = work / "good.key_secret"
    good.write_bytes(secret)
    good.chmod(0o600)
    for name, server in (("server_file", str(keys / "server.key")), ("server_short", "abc"),
                         ("server_40_bad", "~" * 40), ("server_missing", str(work / "nope.key")),
                         ("server_bytes", b"\xff" * 40), ("server_dir", str(work))):
        fz.attempt(name, lambda s=server: ClientCurve.load(good, s), None)
    for name, files in (("empty", {}), ("garbage", {"a.key": b"\xff\xfe"}),
                        ("ok", {"c.key": (keys / "client.key").read_bytes()})):
        folder = tmp_path / f"allowed_{name}"
        folder.mkdir()
        for rel, data in files.items():
            (folder / rel).write_bytes(data)
        fz.attempt(f"allowed_{name}", lambda f=folder: load_allowed(f), None)
    fz.finish()


# --- exported models (--model ONNX) --------------------------------------------------------------


def _probe_model(den) -> None:
    """A loaded model must run on inputs shaped by its own metadata."""
    from vasa_bridge.model.streaming import Steering, make_conditions
    c = den.config
    window = 5
    audio = np.zeros((1, c.context + window + c.lookahead, c.audio_dim), np.float32)
    context = np.zeros((1, c.context, c.motion_dim), np.float32)
    cond = make_conditions(c, audio, context, Steering(), True)
    out = den(np.zeros((1, window, c.motion_dim), np.float32), np.full((1,), 0.7, np.float32),
              cond)
    assert out.shape == (1, window, c.motion_dim), out.shape
    assert np.isfinite(out).all(), "non-finite output"


def model_metadata_cases(model_bytes: bytes):
    """(name, bytes) of the model with its metadata changed, made one at a time (4.5 MB each)."""
    import onnx
    base = onnx.load_from_string(model_bytes)
    meta = {p.key: p.value for p in base.metadata_props}
    config = json.loads(meta["vasa_bridge.model_config"])

    def with_meta(**changes) -> bytes:
        m = onnx.ModelProto()
        m.CopyFrom(base)
        del m.metadata_props[:]
        for k, v in {**meta, **changes}.items():
            if v is not None:
                entry = m.metadata_props.add()
                entry.key, entry.value = k, v
        return m.SerializeToString()

    key = "vasa_bridge.model_config"
    changes = [("config_missing", {key: None}),
               ("inputs_missing", {"vasa_bridge.inputs": None}),
               ("config_not_json", {key: "{not json"}),
               ("config_list", {key: "[1, 2]"}),
               ("config_deep", {key: _deep(100_000)}),
               ("inputs_not_json", {"vasa_bridge.inputs": "x, sigma"}),
               ("inputs_dict", {"vasa_bridge.inputs": '{"x": 1}'}),
               ("inputs_short", {"vasa_bridge.inputs": '["x"]'}),
               ("inputs_renamed", {"vasa_bridge.inputs": json.dumps(list("abcdefgh"))}),
               ("inputs_deep", {"vasa_bridge.inputs": _deep(100_000)})]
    odd = {"null": None, "str": "4", "neg": -4, "zero": 0, "float": 2.5, "huge": 10**12,
           "nan": float("nan")}
    for field in ("layers", "heads", "context", "lookahead", "motion_std", "features",
                  "diffusion"):
        for vname, v in odd.items():
            changes.append((f"{field}_{vname}", {key: json.dumps({**config, field: v})}))
    changes.append(("unknown_field", {key: json.dumps({**config, "extra": 1})}))
    changes.append(("n_mels_changed", {key: json.dumps(
        {**config, "features": {**config["features"], "n_mels": 40}})}))
    changes.append(("width_changed", {key: json.dumps({**config, "width": 96, "heads": 4})}))
    for name, change in changes:
        yield name, with_meta(**change)


def test_fuzz_models(tmp_path):
    from vasa_bridge.model.onnx_runtime import OnnxDenoiser, default_model_path
    fz = Fuzz("exported models (ONNX)")
    rng = random.Random(SEED + 9)
    model = default_model_path().read_bytes()
    fz.files(tmp_path, [("valid", model)], ".onnx", OnnxDenoiser, _probe_model)
    assert fz.loaded == 1, fz.failures
    n = len(model)

    def cases():  # made one at a time: each is 4.5 MB
        yield "empty", b""
        for p in (1, 4, 16, 100, 4096, n // 4, n // 2, n - 4096, n - 100, n - 1):
            yield f"cut{p}", model[:p]
        for i in range(24):  # header, anywhere, and the tail (graph and metadata at the end)
            pos = (rng.randrange(4096), rng.randrange(n), n - 1 - rng.randrange(8192))[i % 3]
            b = bytearray(model)
            b[pos] ^= 1 << rng.randrange(8)
            yield f"flip{pos}", bytes(b)
        for k, m in MAGICS.items():
            yield f"magic_{k}", m + model[len(m):]
        yield "text", b"not a model\n"

    fz.files(tmp_path, cases(), ".onnx", OnnxDenoiser, _probe_model)
    fz.files(tmp_path, model_metadata_cases(model), ".onnx", OnnxDenoiser, _probe_model)
    fz.attempt("folder", lambda: OnnxDenoiser(tmp_path), _probe_model, mentions=str(tmp_path))
    fz.finish()


# --- verify (images, videos, C2PA manifests, --trust) --------------------------------------------


def _mp4_bytes(size: int = 96, frames: int = 6, speech: bool = False) -> bytes:
    """An H.264 MP4 of the test portrait sliding sideways; with `speech`, an AAC track of
    speech-like sound as long as the video (16 kHz mono)."""
    import av
    buf = io.BytesIO()
    im = np.asarray(_portrait_pil(size))
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=16000, layout="mono") if speech else None
        packets = []
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(im, i, axis=1).copy(), format="rgb24")
            packets += stream.encode(frame)
        packets += stream.encode(None)
        if sound is not None:
            a = _speech(16000, frames / 25)
            for i in range(0, len(a), 1024):
                block = av.AudioFrame.from_ndarray(a[None, i:i + 1024], format="fltp",
                                                   layout="mono")
                block.sample_rate = 16000
                block.pts = i
                packets += sound.encode(block)
            packets += sound.encode(None)
        for packet in packets:
            out.mux(packet)
    return buf.getvalue()


def _sign(source: Path, dest: Path, identity, watermark_data=None) -> None:
    import c2pa

    from vasa_bridge.provenance.credentials import (WATERMARK_ASSERTION, manifest_definition,
                                                    mime_type)
    manifest = manifest_definition(identity, dest.name)
    if watermark_data is not None:
        manifest["assertions"].append({"label": WATERMARK_ASSERTION, "data": watermark_data})
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.cert_chain.read_bytes(),
                               identity.private_key.read_bytes(), None)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        with open(source, "rb") as src, open(dest, "wb") as dst:
            builder.sign(signer, mime_type(source), src, dst)


def _check_verify(result) -> None:
    from vasa_bridge.provenance.verify import VerifyResult, describe, to_json
    assert isinstance(result, VerifyResult)
    assert np.isfinite(result.confidence), result.confidence
    describe(result)
    json.dumps(to_json(result))


def test_fuzz_verify(tmp_path):
    from vasa_bridge.provenance.credentials import ensure_local_identity, read_credentials
    from vasa_bridge.provenance.verify import VerifyConfig, verify_file
    from vasa_bridge.provenance.watermark import Detector
    fz = Fuzz("verify (images, videos, C2PA, --trust)")
    rng = random.Random(SEED + 10)
    detector = Detector()
    config = VerifyConfig(max_frames=4)
    verify = lambda p: verify_file(p, detector, config)  # noqa: E731
    im = _portrait_pil(128)
    png, jpeg, mp4 = _image_bytes(im, "PNG"), _image_bytes(im, "JPEG"), _mp4_bytes()
    identity = ensure_local_identity(tmp_path / "identity")
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg)
    signed = tmp_path / "signed.jpg"
    _sign(plain, signed, identity)
    signed_bytes = signed.read_bytes()
    valid = {".png": png, ".jpg": signed_bytes, ".mp4": mp4}
    for suffix, data in valid.items():
        fz.files(tmp_path, [("valid", data)], suffix, verify, _check_verify)
    assert fz.loaded == 3, fz.failures
    for suffix, data in valid.items():
        fz.files(tmp_path, byte_mutations(data, rng, cuts=10, flips=10, inserts=3, deletes=2,
                                          head=300), suffix, verify, _check_verify)
    small = [(f"{w}x{h}", _image_bytes(im.resize((w, h)), "PNG"))
             for w, h in ((1, 1), (47, 47), (48, 48), (60, 60), (72, 72), (800, 8), (2000, 60))]
    fz.files(tmp_path, small, ".png", verify, _check_verify)
    fz.files(tmp_path, [(f"video_{s}", _mp4_bytes(s, 3)) for s in (16, 48, 64)], ".mp4", verify,
             _check_verify)
    fz.files(tmp_path, [(name, data) for name, data in png_structured(png)
                        if name.startswith(("ihdr_", "bomb"))], ".png", verify, _check_verify)
    fz.files(tmp_path, [("png_as", png)], ".mp4", verify, _check_verify)
    fz.files(tmp_path, [("mp4_as", mp4)], ".png", verify, _check_verify)
    fz.files(tmp_path, [("text", b"hello\n")], ".mov", verify, _check_verify)
    # manifests whose watermark assertion is not what vasa_bridge writes
    for name, data in (("empty", {}), ("strings", {"generator_id": "x", "session_id": "y"}),
                       ("huge", {"generator_id": 10**30, "session_id": -1}),
                       ("lists", {"generator_id": [1], "session_id": None})):
        dest = tmp_path / f"wm_{name}.jpg"
        _sign(plain, dest, identity, data)
        fz.attempt(f"watermark_assertion_{name}", lambda d=dest: verify(d), _check_verify,
                   mentions=dest.name)
    # --trust PEM files
    root = (identity.cert_chain.parent / "root.pem").read_bytes()
    trust_cases = [("valid", root)] + byte_mutations(root, rng, cuts=8, flips=10, inserts=3,
                                                     deletes=2, head=100)
    trust_cases += text_mutations(root.decode(), rng)[:3]
    for name, data in trust_cases:
        pem = tmp_path / f"trust_{_safe(name)}.pem"
        pem.write_bytes(data)
        fz.attempt(f"trust_{name}", lambda p=pem: read_credentials(signed, p), None,
                   mentions=pem.name)
    fz.attempt("trust_missing", lambda: read_credentials(signed, tmp_path / "nope.pem"), None,
               mentions="nope.pem")
    fz.finish()


# --- end to end: the commands exit 2 with one `error:` line ---------------------------------------


def _run_cli(capsys, argv: list[str]) -> tuple[int, str]:
    from vasa_bridge.cli import main
    capsys.readouterr()
    with deadline(60):
        code = main(argv)
    return code, capsys.readouterr().err


def test_cli_refuses_mutated_files(tmp_path, capsys, monkeypatch, track):
    """Each command on a damaged file: exit status 2, exactly one `error:` line naming the file,
    no traceback. The files are mutations the fuzz above produced defects with."""
    from vasa_bridge.motion import io as motion_io
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    good_track = tmp_path / "good.npz"
    motion_io.save(track, good_track)
    good_wav = tmp_path / "good.wav"
    good_wav.write_bytes(_soundfile_bytes("WAV", "PCM_16"))
    npz = dict(npz_structured(track))
    files = {
        "declared.npz": npz["declared_audio_1099511627776"],
        "deep.json": _deep(100_000).encode(),
        "latin1.csv": text_mutations(motion_io.encode(track, ".csv").decode(),
                                     random.Random(0))[0][1],
        "count.vasab": _vasab_head(motion_io.encode(track, ".vasab"), count=2**32 - 1),
        "start.vasab": _vasab_head(motion_io.encode(track, ".vasab"), start=float("nan")),
        "huge.flac": _flac_streaminfo(_soundfile_bytes("FLAC", "PCM_16"), total=2**36 - 1),
        "cut.wav": _soundfile_bytes("WAV", "PCM_16")[:30],
        "bomb.png": dict(png_structured(_image_bytes(_portrait_pil(), "PNG")))["ihdr_65535x65535"],
        "tiny.png": _image_bytes(_portrait_pil().resize((40, 40)), "PNG"),
        "latin1.txt": b"caf\xe9 au lait\n",
        "bad.onnx": b"\0" * 64,
        "latin1.jsonl": b'{"audio": "caf\xe9.wav"}\n',
        "latin1.pem": b"-----BEGIN CERTIFICATE-----\n\xe9\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    f = lambda name: str(tmp_path / name)  # noqa: E731
    out = str(tmp_path / "out")
    runs = [
        ["replay", f("declared.npz")],
        ["replay", f("deep.json")],
        ["replay", f("latin1.csv")],
        ["replay", f("count.vasab")],
        ["replay", f("start.vasab")],
        ["render", "--motion", f("deep.json"), "-o", out + ".mp4", "--no-credentials"],
        ["render", "--audio", f("huge.flac"), "-o", out + ".mp4", "--no-credentials"],
        ["render", "--image", f("bomb.png"), "--motion", str(good_track), "-o", out + ".mp4",
         "--no-credentials", "--quiet"],
        ["bake", "--audio", f("cut.wav"), "-o", out + ".npz"],
        ["bake", "--audio", f("huge.flac"), "-o", out + ".npz"],
        ["bake", "--audio", str(good_wav), "--text-file", f("latin1.txt"), "-o", out + ".npz"],
        ["bake", "--audio", str(good_wav), "--model", f("bad.onnx"), "-o", out + ".npz"],
        ["verify", f("tiny.png")],
        ["verify", f("bomb.png")],
        ["verify", "--trust", f("latin1.pem"), f("tiny.png")],
        ["serve", "--audio", f("huge.flac"), "--no-http", "--control", "none", "--once"],
    ]
    problems = []
    for argv in runs:
        code, err = _run_cli(capsys, argv)
        errors = [line for line in err.splitlines() if "error:" in line]
        named = [line for line in errors if any(Path(a).name in line for a in argv[1:]
                                                if a.startswith(str(tmp_path)))]
        if code != 2 or len(errors) != 1 or not named or "Traceback" in err:
            problems.append(f"{argv[0]} {' '.join(Path(a).name for a in argv[1:])}: exit {code}, "
                            f"stderr {err[-400:]!r}")
    # a manifest that is not UTF-8 is refused as a whole; one bad JSONL line fails only itself
    code, err = _run_cli(capsys, ["bake", "--manifest", f("latin1.csv"), "-o", out])
    if code != 2 or len([x for x in err.splitlines() if "error:" in x]) != 1:
        problems.append(f"bake --manifest latin1.csv: exit {code}, stderr {err[-400:]!r}")
    code, err = _run_cli(capsys, ["bake", "--manifest", f("latin1.jsonl"), "-o", out,
                                  "--no-progress"])
    if code != 1 or "line 1" not in err or "not UTF-8" not in err:
        problems.append(f"bake --manifest latin1.jsonl: exit {code}, stderr {err[-400:]!r}")
    print(f"\n[fuzz] end to end: {len(runs) + 2} command runs on damaged files")
    assert not problems, "\n".join(problems)


# --- training checkpoints (export RUN, train --init RUN) -----------------------------------------


class _Payload:
    """Unpickling this writes a file: a checkpoint must never run it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def checkpoint_cases(tmp_path: Path) -> tuple[bytes, list[tuple[str, bytes]], Path]:
    import torch

    from vasa_bridge.model.config import ModelConfig
    from vasa_bridge.model.train import TrainConfig, build, save_checkpoint
    config = ModelConfig(layers=1, width=16, heads=2, context=2, max_window=4)
    den = build(config)
    opt = torch.optim.AdamW(den.parameters())
    path = tmp_path / "ck.pt"
    save_checkpoint(path, den, den, opt, 3, TrainConfig(steps=3), [{"step": 3, "loss": 0.5}], {})
    valid = path.read_bytes()
    ck = torch.load(path, weights_only=True)

    def saved(obj) -> bytes:
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()

    other = build(ModelConfig(layers=1, width=32, heads=2, context=2, max_window=4))
    marker = tmp_path / "pwned.txt"
    cases = [
        ("no_model_config", saved({k: v for k, v in ck.items() if k != "model_config"})),
        ("config_list", saved({**ck, "model_config": [1, 2]})),
        ("config_width_str", saved({**ck, "model_config": {**ck["model_config"], "width": "16"}})),
        ("config_unknown", saved({**ck, "model_config": {**ck["model_config"], "x": 1}})),
        ("weights_other_width", saved({**ck, "ema": other.state_dict()})),
        ("weights_missing", saved({k: v for k, v in ck.items() if k != "ema"})),
        ("weights_list", saved({**ck, "ema": [1, 2]})),
        ("top_list", saved([ck])),
        ("pickle_payload", saved({**ck, "history": _Payload(str(marker))})),
    ]
    return valid, cases, marker


def test_fuzz_checkpoints(tmp_path):
    from vasa_bridge.model.train import load_checkpoint
    fz = Fuzz("training checkpoints (checkpoint.pt)")
    rng = random.Random(SEED + 11)
    valid, cases, marker = checkpoint_cases(tmp_path)
    load = lambda p: load_checkpoint(p)[0]  # noqa: E731
    check = lambda den: den.config.width == 16  # noqa: E731
    fz.files(tmp_path, [("valid", valid)], ".pt", load, check)
    assert fz.loaded == 1, fz.failures
    fz.files(tmp_path, byte_mutations(valid, rng, cuts=16, flips=24, inserts=4, deletes=2,
                                      head=2048), ".pt", load, check)
    fz.files(tmp_path, cases, ".pt", load, check)
    assert not marker.exists(), "loading a checkpoint ran code from its pickle"
    fz.finish()


# --- signing identities (sign --cert/--key, render --cert/--key) ---------------------------------


def test_fuzz_signing_identity(tmp_path):
    from vasa_bridge.provenance.credentials import (SigningConfig, ensure_local_identity,
                                                    sign_file)
    fz = Fuzz("signing identities (--cert/--key PEM)")
    rng = random.Random(SEED + 12)
    identity = ensure_local_identity(tmp_path / "identity")
    source = tmp_path / "in.jpg"
    source.write_bytes(_image_bytes(_portrait_pil(64), "JPEG"))
    chain, key = identity.cert_chain.read_bytes(), identity.private_key.read_bytes()
    dest = tmp_path / "out.jpg"

    def check(_):
        assert dest.is_file() and dest.stat().st_size > source.stat().st_size

    def sign_with(cert_bytes: bytes, key_bytes: bytes, name: str):
        c, k = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        c.write_bytes(cert_bytes)
        k.write_bytes(key_bytes)
        return lambda: sign_file(source, dest, SigningConfig(c, k))

    fz.attempt("valid", sign_with(chain, key, "valid"), check)
    assert fz.loaded == 1, fz.failures
    for name, data in byte_mutations(chain, rng, cuts=8, flips=12, inserts=3, deletes=2,
                                     head=100):
        fz.attempt(f"cert_{name}", sign_with(data, key, "cert"), check, mentions="cert.pem")
    for name, data in byte_mutations(key, rng, cuts=8, flips=12, inserts=3, deletes=2, head=100):
        fz.attempt(f"key_{name}", sign_with(chain, data, "key"), check, mentions="key.key")
    leaf_only = chain[:chain.index(b"-----END CERTIFICATE-----") + 26]
    fz.attempt("leaf_only", sign_with(leaf_only, key, "leaf"), check, mentions="leaf.pem")
    fz.attempt("swapped", sign_with(key, chain, "swap"), check, mentions="swap.pem")
    fz.finish()


# --- the portrait cache (read by serve and render at every start) --------------------------------


class CacheMiss(VasaError):
    pass


def test_fuzz_portrait_cache(tmp_path):
    from vasa_bridge.face import cache as face_cache
    from vasa_bridge.face.image import load_image
    from vasa_bridge.face.portrait import Portrait, PortraitConfig
    fz = Fuzz("portrait cache entries")
    rng = random.Random(SEED + 13)
    cache = face_cache.PortraitCache(tmp_path / "cache")
    loaded = load_image(ASSETS / "portrait.jpg")
    config = PortraitConfig(size=256)
    fresh = cache.analyse(loaded, config)
    key = face_cache.cache_key(loaded, config)
    entry = cache.path(key)
    valid = entry.read_bytes()

    def load(data: bytes):
        entry.write_bytes(data)
        portrait = cache.load(key)  # None: unreadable, analysed again by `analyse`
        if portrait is None:
            raise CacheMiss(f"{entry.name}: unreadable entry: expected a fresh analysis")
        return portrait

    def check(p):
        assert isinstance(p, Portrait)
        assert p.image.shape == fresh.image.shape and p.image.dtype == np.uint8
        assert p.person_alpha.shape == fresh.image.shape[:2]
        assert np.isfinite(p.landmarks).all() and p.landmarks.shape[1] == 3

    arrays = dict(read_npz_bytes(valid))
    structured = []
    for name, change in (("image_2d", {"image": arrays["image"][..., 0]}),
                         ("image_float", {"image": arrays["image"].astype(np.float32)}),
                         ("alpha_small", {"person_alpha": arrays["person_alpha"][:5]}),
                         ("alpha_nan", {"person_alpha": arrays["person_alpha"] * np.nan}),
                         ("landmarks_nan", {"landmarks": arrays["landmarks"] * np.nan}),
                         ("landmarks_flat", {"landmarks": arrays["landmarks"].reshape(-1)}),
                         ("crop_box_3", {"crop_box": arrays["crop_box"][:3]}),
                         ("version_2", {"version": np.array(2)}),
                         ("no_rest", {k: None for k in arrays if k.startswith("rest_")})):
        structured.append((name, _npz({k: v for k, v in {**arrays, **change}.items()
                                       if v is not None})))
    structured.append(("declared_image", _npz_with_member(arrays, "image", _npy_header_only(
        (2**20, 2**20, 3), "|u1"))))
    cases = [("valid", valid)] + byte_mutations(valid, rng, cuts=16, flips=24, inserts=4,
                                                deletes=2, head=2048) + structured
    for name, data in cases:
        fz.attempt(name, lambda d=data: load(d), check, mentions=entry.name)
    assert fz.loaded >= 1
    fz.finish()


def read_npz_bytes(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# --- dataset aligned AUDIO TEXT ------------------------------------------------------------------


def test_fuzz_dataset_aligned_inputs(tmp_path):
    from vasa_bridge.data.align import build_aligned, read_audio
    fz = Fuzz("dataset aligned (recording, transcript)")
    rng = random.Random(SEED + 14)
    wav, float_wav = _soundfile_bytes("WAV", "PCM_16"), _soundfile_bytes("WAV", "FLOAT")
    flac = _soundfile_bytes("FLAC", "PCM_16")

    def check(audio):
        assert audio.dtype == np.float32 and audio.ndim == 1 and np.isfinite(audio).all()

    fz.files(tmp_path, [("valid", wav)], ".wav", read_audio, check)
    assert fz.loaded == 1, fz.failures
    fz.files(tmp_path, wav_structured(wav, float_wav), ".wav", read_audio, check)
    fz.files(tmp_path, flac_structured(flac), ".flac", read_audio, check)
    fz.files(tmp_path, byte_mutations(flac, rng, cuts=8, flips=8, inserts=2, deletes=2,
                                      head=64), ".flac", read_audio, check)
    good = tmp_path / "good.wav"
    good.write_bytes(wav)
    # transcripts that cannot be read are refused before the dataset folder is touched
    for name, data in text_mutations("go forward ten meters\n", rng)[:3]:
        text = tmp_path / f"{name}.txt"
        text.write_bytes(data)
        out = tmp_path / f"out_{name}"
        fz.attempt(f"transcript_{name}", lambda t=text, o=out: build_aligned(good, t, o), None,
                   mentions=text.name)
        assert not out.exists() or fz.loaded, "a refused transcript left a dataset folder"
    fz.finish()


# --- dataset video CLIPS -------------------------------------------------------------------------


def test_fuzz_dataset_video_clips(tmp_path):
    from vasa_bridge.data.video import probe, read_audio
    fz = Fuzz("dataset video clips (probe + sound)")
    rng = random.Random(SEED + 15)
    mp4 = _mp4_bytes(64, 10, speech=True)

    def load(path):
        info = probe(path)
        audio, start = read_audio(path)
        return info, audio, start

    def check(result):
        info, audio, start = result
        assert info.width >= 1 and info.height >= 1
        assert audio.dtype == np.float32 and audio.size and np.isfinite(audio).all()
        assert np.isfinite(start)

    fz.files(tmp_path, [("valid", mp4)], ".mp4", load, check)
    assert fz.loaded == 1, fz.failures
    fz.files(tmp_path, byte_mutations(mp4, rng, cuts=16, flips=24, inserts=4, deletes=2,
                                      head=1024), ".mp4", load, check)
    fz.files(tmp_path, [("as_mkv", mp4), ("wav_as", _soundfile_bytes("WAV", "PCM_16"))], ".mkv",
             load, check)
    fz.finish()


# --- dataset clips (train --data, eval --data) ---------------------------------------------------


def test_fuzz_dataset_clips(tmp_path, track):
    from vasa_bridge.data.dataset import Clip, load_clip, write_clip
    from vasa_bridge.data.phonemes import PhonemeTimeline
    fz = Fuzz("dataset clips (train/eval --data)")
    rng = random.Random(SEED + 16)
    phones = PhonemeTimeline(("h", "a"), np.array([0.0, 0.1]), np.array([0.1, 0.3]), "ipa")
    meta = {"split": "train", "engine": "test", "voice": "v", "speaker": "s", "gender": "x",
            "language": "en", "text": "ha"}
    audio = _speech(16000, 0.48)
    write_clip(tmp_path, 0, audio, phones, track.with_audio(audio, 16000), meta)
    clip_file = next(tmp_path.rglob("*.npz"))
    valid = clip_file.read_bytes()
    arrays = read_npz_bytes(valid)

    def check(clip):
        assert isinstance(clip, Clip) and isinstance(clip.meta, dict)
        assert np.isfinite(clip.audio).all() and len(clip.motion) >= 1

    fz.files(tmp_path, [("valid", valid)], ".npz", load_clip, check)
    assert fz.loaded == 1, fz.failures
    fz.files(tmp_path, byte_mutations(valid, rng, cuts=16, flips=24, inserts=4, deletes=2,
                                      head=2048), ".npz", load_clip, check)
    odd = []
    for key, values in (("sample_rate", (np.int64(0), np.int64(2**40), np.float64("nan"),
                                         np.zeros(2))),
                        ("audio", (arrays["audio"].astype(np.float32) * np.nan,
                                   arrays["audio"][None], np.zeros(0, np.int16))),
                        ("meta", (np.array("[1]"), np.array("{"), np.array("[" * 100_000),
                                  np.array(5))),
                        ("phone_starts", (np.array([np.nan, 0.1]), np.zeros(5))),
                        ("phoneset", (np.array("klingon"),)),
                        ("fps", (np.float64("inf"), np.zeros(3)))):
        for i, v in enumerate(values):
            odd.append((f"{key}_{i}", _npz({**arrays, key: v})))
    odd.append(("declared_audio", _npz_with_member(arrays, "audio", _npy_header_only(
        (2**40,), "<i2"))))
    odd.append(("missing_phoneset", _npz({k: v for k, v in arrays.items() if k != "phoneset"})))
    fz.files(tmp_path, odd, ".npz", load_clip, check)
    fz.finish()
