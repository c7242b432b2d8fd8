"""Dataset storage (format in docs/data.md) and the loader the motion model trains from.

    DIR/dataset.json         what made the dataset (format version, kind, seed, fps, split ...)
    DIR/manifest.jsonl       one JSON object per clip: id, path, split, duration_s, ...
    DIR/clips/0000/0000042.npz   one clip (1000 clips per shard folder)

A clip file is written to a temporary name and renamed, so it either exists whole or not at all
(which is what makes generation resumable).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..audio.pcm import SAMPLE_RATE, from_s16, to_s16
from ..errors import DataError, MotionFormatError
from ..motion import MotionTrack
from ..motion.io import read_npz
from ..motion.names import ARKIT_NAMES
from .phonemes import PhonemeTimeline

FORMAT = "vasa-motion-dataset"
VERSION = 1
SHARD_SIZE = 1000
SPLITS = ("train", "validation")


def clip_path(index: int) -> str:
    """Relative path of clip `index` inside a dataset folder."""
    return f"clips/{index // SHARD_SIZE:04d}/{index:07d}.npz"


@dataclass(frozen=True)
class Clip:
    id: str
    audio: np.ndarray  # (S,) float32 in [-1, 1], 16 kHz (what the model hears)
    sample_rate: int  # 16000
    motion: MotionTrack  # (T, 52) blendshapes, (T, 3) rotation deg, (T, 3) translation m
    phonemes: PhonemeTimeline  # seconds from audio sample 0
    meta: dict  # engine, voice, speaker, language, text, seeds, prosody, augmentation, split

    @property
    def split(self) -> str:
        return self.meta["split"]

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def write_clip(root: Path, index: int, audio: np.ndarray, phonemes: PhonemeTimeline,
               motion: MotionTrack, meta: dict) -> dict:
    """Store one clip atomically; returns its manifest row."""
    rel = clip_path(index)
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = to_s16(audio)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, audio=pcm, sample_rate=np.int32(SAMPLE_RATE),
                 blendshapes=motion.blendshapes.astype(np.float32),
                 head_rotation=motion.head_rotation.astype(np.float32),
                 head_translation=motion.head_translation.astype(np.float32),
                 fps=np.float64(motion.fps), names=np.array(ARKIT_NAMES),
                 meta=np.array(json.dumps(meta, ensure_ascii=False)), **phonemes.to_arrays())
    os.replace(tmp, path)
    return manifest_row(index, rel, meta, len(pcm) / SAMPLE_RATE, len(motion), len(phonemes))


def manifest_row(index: int, rel: str, meta: dict, duration: float, n_frames: int,
                 n_phones: int) -> dict:
    return {"id": f"{index:07d}", "index": index, "path": rel, "split": meta["split"],
            "duration_s": round(duration, 4), "n_frames": n_frames, "n_phones": n_phones,
            "engine": meta["engine"], "voice": meta["voice"], "speaker": meta["speaker"],
            "language": meta["language"]}


def read_row(root: Path, index: int) -> dict | None:
    """Manifest row of an existing, readable clip file; None if it is missing or damaged."""
    rel = clip_path(index)
    path = Path(root) / rel
    if not path.is_file():
        return None
    try:
        z = read_npz(path)  # sizes checked before reading; MotionFormatError is a ValueError
        meta = json.loads(str(z["meta"]))
        n = int(z["audio"].shape[0])
        frames = int(z["blendshapes"].shape[0])
        phones = int(z["phone_starts"].shape[0])
    except (OSError, ValueError, KeyError, IndexError, RecursionError):
        return None
    if not isinstance(meta, dict):
        return None
    return manifest_row(index, rel, meta, n / SAMPLE_RATE, frames, phones)


def load_clip(path: str | Path, clip_id: str | None = None) -> Clip:
    path = Path(path)
    expected = "expected an .npz clip written by `vasa-bridge dataset` (docs/data.md)"
    try:
        z = read_npz(path)  # every header checked before its data is read
    except (OSError, MotionFormatError) as e:
        raise DataError(f"clip file {str(path)!r} is unreadable ({e}): {expected}") from None
    missing = {"audio", "blendshapes", "head_rotation", "head_translation", "fps", "sample_rate",
               "phone_labels", "phone_starts", "phone_ends", "phoneset", "meta"} - set(z)
    if missing:
        raise DataError(f"clip file {str(path)!r} lacks {sorted(missing)}: expected the "
                        f"arrays of docs/data.md")
    try:
        if z["audio"].dtype != np.int16 or z["audio"].ndim != 1:
            raise DataError(f"audio is {z['audio'].dtype} {z['audio'].shape}: expected (S,) "
                            f"int16")
        sr = int(z["sample_rate"])
        audio = from_s16(z["audio"])
        motion = MotionTrack(z["blendshapes"], z["head_rotation"], z["head_translation"],
                             float(z["fps"]), audio=audio, sample_rate=sr)
        phonemes = PhonemeTimeline.from_arrays(z)
        meta = json.loads(str(z["meta"]))
        if not isinstance(meta, dict):
            raise DataError(f"meta is a JSON {type(meta).__name__}: expected an object")
    except (DataError, MotionFormatError) as e:
        raise DataError(f"clip file {str(path)!r}: {e}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as e:
        raise DataError(f"clip file {str(path)!r} is malformed ({type(e).__name__}: "
                        f"{str(e)[:200]}): {expected}") from None
    return Clip(clip_id or path.stem, motion.audio, sr, motion, phonemes, meta)


def read_info(root: str | Path) -> dict:
    path = Path(root) / "dataset.json"
    if not path.is_file():
        raise DataError(f"{str(root)!r} is not a dataset: expected {str(path)!r} (made by "
                        f"'vasa-bridge dataset synth', 'dataset aligned' or 'dataset video')")
    info = json.loads(path.read_text())
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise DataError(f"{str(path)!r} has format {info.get('format')!r} version "
                        f"{info.get('version')!r}: expected {FORMAT!r} version {VERSION}")
    return info


def write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def open_for_append(out: Path, kind: str, fps: float, new_info: dict) -> tuple[dict, list[dict]]:
    """(dataset.json contents, manifest rows) of `out`, which must be empty or a dataset of `kind`
    at `fps`; a new folder gets `new_info` (format, version, kind, rate and fps added)."""
    out.mkdir(parents=True, exist_ok=True)
    info_path = out / "dataset.json"
    if not info_path.is_file():
        return {"format": FORMAT, "version": VERSION, "kind": kind, "sample_rate": SAMPLE_RATE,
                "fps": fps, **new_info}, []
    info = json.loads(info_path.read_text())
    if info.get("kind") != kind:
        raise DataError(f"{str(out)!r} holds a {info.get('kind')!r} dataset: expected an empty "
                        f"folder or a {kind} dataset to append to")
    if info.get("fps") != fps:
        raise DataError(f"{str(out)!r} has fps {info.get('fps')}, this run asks {fps}: expected "
                        f"the same")
    rows = read_manifest(out) if (out / "manifest.jsonl").is_file() else []
    return info, rows


def check_one_split(sources, speaker: str, name: str, split: str, out: Path) -> None:
    """Refuse adding `speaker` (shown as `name`) to `split` of `out` when `sources` (the
    dataset's recordings or videos, each with its "speaker" and "split") already hold that
    speaker in the other split: a voice validated on itself."""
    splits = {s["speaker"]: s["split"] for s in sources}
    if splits.get(speaker, split) != split:
        raise DataError(f"speaker {name!r} is already in the {splits[speaker]!r} split of "
                        f"{str(out)!r}, this run asks {split!r}: expected one split per speaker")


def write_manifest(root: Path, rows: Sequence[dict]) -> None:
    path = Path(root) / "manifest.jsonl"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in sorted(rows, key=lambda r: r["index"]):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_manifest(root: str | Path) -> list[dict]:
    path = Path(root) / "manifest.jsonl"
    if not path.is_file():
        read_info(root)  # no dataset.json either: a wrong path, not an unfinished dataset
        raise DataError(f"{str(root)!r} has no manifest.jsonl: expected a finished dataset "
                        f"(rerun the command that made it; it resumes)")
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Dataset(Sequence[Clip]):
    """Map-style view of one split (wrap it in a torch DataLoader as is)."""

    def __init__(self, root: str | Path, split: str = "train") -> None:
        if split not in SPLITS + ("all",):
            raise DataError(f"split {split!r} is unknown: expected one of {SPLITS + ('all',)}")
        self.root = Path(root)
        self.info = read_info(self.root)
        self.split = split
        self.rows = [r for r in read_manifest(self.root) if split == "all" or r["split"] == split]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row = self.rows[i]
        return load_clip(self.root / row["path"], row["id"])

    def __iter__(self) -> Iterator[Clip]:
        return (self[i] for i in range(len(self)))

    @property
    def hours(self) -> float:
        return sum(r["duration_s"] for r in self.rows) / 3600.0

    @property
    def speakers(self) -> set[str]:
        return {r["speaker"] for r in self.rows}


def open_dataset(root: str | Path, split: str = "train") -> Dataset:
    """The clips of one split ('train', 'validation' or 'all') of a dataset folder."""
    return Dataset(root, split)
