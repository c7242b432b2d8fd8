"""Bake a manifest of voice lines into motion tracks: resumable, in parallel, line by line.

    lines = read_manifest("lines.csv")
    result = run_batch(lines, "baked/", BatchConfig(formats=(".npz", ".json"), workers=2))

The driver hashes each line's inputs (audio bytes, the line's fields, the batch settings, the
model file and the package version) into a key. A line whose key and output files are already in
the output folder is skipped; the others are sent in chunks to the backend (this process, a
process pool, or Ray), and the driver writes what comes back: each file atomically, then the
line's key in `.vasa-bake-state.jsonl`, so an interrupted batch resumes where it stopped.
At the end `results.csv` lists every line: line, audio, output, files, duration, status, error.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from .. import __version__
from ..errors import ConfigError, ModelError, check_writable
from ..model.bake import BakeConfig
from ..model.streaming import Steering
from . import workers
from .manifest import Line

FORMATS = (".npz", ".json", ".csv", ".vasatrack", ".vasab")  # the last two: Unity (BakedSpeech)
STATE_FILE = ".vasa-bake-state.jsonl"
RESULTS_FILE = "results.csv"
RESULT_COLUMNS = ("line", "audio", "character", "output", "files", "duration", "status", "error")
MAX_CHUNK = 16  # lines per task at most: small enough to balance, large enough to amortise
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class BatchConfig:
    bake: BakeConfig = BakeConfig()  # every line's defaults; a line's fields override steering/seed
    formats: tuple = (".npz",)  # output suffixes, any of FORMATS
    workers: int = 1  # processes (pool), or CPUs of a local Ray started by ray="auto"
    ray: str | None = None  # "auto" or a cluster address; None = this machine only
    chunk: int = 0  # lines per task; 0 = automatic (at most MAX_CHUNK)
    force: bool = False  # bake every line even when its inputs and settings are unchanged

    def __post_init__(self) -> None:
        formats = tuple(f if f.startswith(".") else f".{f}" for f in
                        (f.strip().lower() for f in self.formats))
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise ConfigError(f"formats {list(self.formats)!r}: expected one or more of "
                              f"{', '.join(f[1:] for f in FORMATS)}")
        object.__setattr__(self, "formats", tuple(dict.fromkeys(formats)))
        if self.workers < 1 or self.chunk < 0:
            raise ConfigError(f"workers {self.workers} / chunk {self.chunk}: expected >= 1 / "
                              f">= 0 (0 = automatic)")


@dataclass(frozen=True)
class LineResult:
    line: int
    audio: str
    output: str  # relative to the output folder, without suffix
    status: str  # done | skipped | failed
    files: tuple = ()  # written (or, skipped, already there), relative to the output folder
    duration: float | None = None  # seconds of audio
    character: str | None = None
    error: str | None = None


@dataclass
class BatchResult:
    lines: list  # LineResult, in manifest order
    seconds: float  # wall time of the whole batch
    results_path: Path

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.lines)

    @property
    def failed(self) -> list:
        return [r for r in self.lines if r.status == FAILED]

    @property
    def baked_audio_s(self) -> float:
        return sum(r.duration or 0.0 for r in self.lines if r.status == DONE)


def model_path(config: BakeConfig) -> Path:
    from ..model.onnx_runtime import default_model_path
    return Path(config.model) if config.model else default_model_path()


def line_config(line: Line, base: BakeConfig) -> BakeConfig:
    """The batch's bake settings with this line's steering and seed (raises ModelError)."""
    s = base.steering
    steering = Steering(emotion=line.emotion if line.emotion is not None else s.emotion,
                        gaze=line.gaze if line.gaze is not None else s.gaze,
                        intensity=line.intensity if line.intensity is not None else s.intensity)
    return replace(base, steering=steering, seed=base.seed if line.seed is None else line.seed)


def line_key(audio: bytes, config: BakeConfig, text: str | None, model_sha: str) -> str:
    """Hash of everything that decides a line's output (not the thread count or the formats)."""
    settings = {"audio": hashlib.sha256(audio).hexdigest(), "model": model_sha,
                "version": __version__, "text": text, "seed": config.seed,
                "keep_audio": config.keep_audio, "stream": dataclasses.asdict(config.stream),
                "steering": dataclasses.asdict(config.steering),
                "phones": None if config.phones is None else dataclasses.asdict(config.phones),
                "transcript": dataclasses.asdict(config.transcript)}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def run_batch(lines: list[Line], out_dir, config: BatchConfig = BatchConfig(),
              progress: bool = True) -> BatchResult:
    """Bake every line not already baked with the same inputs; never raises for one bad line."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output {str(out_dir)!r} is a file: expected a folder for the "
                          f"batch's tracks")
    out_dir.mkdir(parents=True, exist_ok=True)
    check_writable(out_dir)
    mpath = model_path(config.bake)
    if not mpath.is_file():
        raise ModelError(f"no model at {str(mpath)!r}: expected an .onnx file from "
                         f"`vasa-bridge export`")
    model_sha = _sha_file(mpath)
    state = _State(out_dir / STATE_FILE)

    results: dict[int, LineResult] = {}
    todo: list[tuple[Line, BakeConfig]] = []
    for line in lines:
        cfg, error = None, line.error
        if error is None:
            try:
                cfg = line_config(line, config.bake)
            except ModelError as e:
                error = str(e)
        if error is None:
            try:
                data = Path(line.audio).read_bytes()
            except OSError as e:
                error = (f"audio {line.audio!r} cannot be read ({e.strerror or e}): expected a "
                         f"speech file")
        if error is not None:
            results[line.number] = _failed(line, error)
            continue
        key = line_key(data, cfg, line.text, model_sha)
        done = state.get(line.output)
        files = _files(line.output, config.formats)
        if not config.force and done and done["key"] == key and \
                all((out_dir / f).is_file() for f in files):
            results[line.number] = LineResult(line.number, line.audio, line.output, SKIPPED,
                                              files, done.get("duration"), line.character)
        else:
            todo.append((line, cfg))

    by_number = {line.number: line for line, _ in todo}
    keys: dict[int, str] = {}
    bar = _progress(len(lines), len(results), progress)
    try:
        for outcomes in _dispatch(todo, config, keys, model_sha):
            for o in outcomes:
                line = by_number[o.number]
                if o.error is None:
                    try:
                        files = _write(out_dir, line.output, o.files)
                        state.add(line.output, keys[o.number], files, o.duration)
                        results[o.number] = LineResult(o.number, line.audio, line.output, DONE,
                                                       files, o.duration, line.character)
                    except OSError as e:
                        results[o.number] = _failed(line, f"cannot write {line.output!r} "
                                                          f"({e.strerror or e})")
                else:
                    results[o.number] = _failed(line, o.error)
                bar.update(1)
            bar.set_postfix(_counts(results.values()), refresh=False)
    finally:
        bar.close()
        state.close()
    ordered = [results[line.number] for line in lines]
    results_path = out_dir / RESULTS_FILE
    _write_results(results_path, ordered)
    return BatchResult(ordered, time.perf_counter() - t0, results_path)


def _dispatch(todo: list, config: BatchConfig, keys: dict, model_sha: str) -> Iterator[list]:
    """Chunks of jobs to the chosen backend; yields lists of outcomes as chunks finish."""
    if not todo:
        return
    gone: list = []
    started_ray = False
    if config.ray:
        started_ray = workers.start_ray(config.ray, config.workers if config.workers > 1
                                        else None)
        capacity = workers.ray_capacity()
    else:
        capacity = config.workers
    chunk = config.chunk or max(1, min(MAX_CHUNK, math.ceil(len(todo) / (4 * capacity))))
    chunks = _chunks(todo, config.formats, chunk, keys, model_sha, gone)
    if config.ray:
        backend = workers.on_ray(chunks, inflight=2 * capacity)
    elif config.workers > 1:
        backend = workers.pool(chunks, config.workers, config.bake.model, config.bake.threads,
                               inflight=2 * config.workers)
    else:
        backend = workers.serial(chunks)
    try:
        for outcomes in backend:
            yield outcomes + gone
            gone.clear()
        yield gone
    finally:
        if started_ray:
            import ray
            ray.shutdown()


def _chunks(todo: list, formats: tuple, size: int, keys: dict, model_sha: str,
            gone: list) -> Iterator[list]:
    """Read each line's audio only when its chunk is sent; its key is hashed from those bytes.
    A file that vanished since the first pass goes to `gone` as a failed outcome."""
    chunk = []
    for line, cfg in todo:
        try:
            data = Path(line.audio).read_bytes()
        except OSError as e:
            gone.append(workers.Outcome(line.number, error=f"audio {line.audio!r} cannot be read "
                                                           f"({e.strerror or e})"))
            continue
        keys[line.number] = line_key(data, cfg, line.text, model_sha)
        chunk.append(workers.Job(line.number, line.audio, data, cfg, formats, line.text))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _files(output: str, formats: tuple) -> tuple:
    return tuple(f"{output}{s}" for s in formats)


def _write(out_dir: Path, output: str, files: dict) -> tuple:
    """Each file under a temporary name, then renamed: a crash never leaves half a track."""
    written = []
    for suffix, data in files.items():
        path = out_dir / f"{output}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written.append(f"{output}{suffix}")
    return tuple(written)


def _failed(line: Line, error: str) -> LineResult:
    return LineResult(line.number, line.audio, line.output, FAILED, character=line.character,
                      error=" ".join(error.split()))  # one line, whatever the message held


def _counts(results) -> dict:
    counts = {DONE: 0, SKIPPED: 0, FAILED: 0}
    for r in results:
        counts[r.status] += 1
    return counts


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="line", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, smoothing=0.1)


def _write_results(path: Path, rows: list) -> None:
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(RESULT_COLUMNS)
    for r in rows:
        w.writerow([r.line, r.audio, r.character or "", r.output, ";".join(r.files),
                    "" if r.duration is None else f"{r.duration:.3f}", r.status, r.error or ""])
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text.getvalue(), newline="")
    os.replace(tmp, path)


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _State:
    """What earlier runs baked into this folder: output -> {key, files, duration}. Appended one
    line per finished line (an interrupted batch keeps what it did), compacted on close."""

    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, dict] = {}
        if path.is_file():
            for raw in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(raw)
                    self.records[rec["output"]] = rec
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by a crash: that output is simply baked again
        self._file = open(path, "a", encoding="utf-8")

    def get(self, output: str) -> dict | None:
        return self.records.get(output)

    def add(self, output: str, key: str, files: tuple, duration: float) -> None:
        rec = {"output": output, "key": key, "files": list(files), "duration": round(duration, 4)}
        self.records[output] = rec
        self._file.write(json.dumps(rec) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        tmp = self.path.with_name(f"{self.path.name}.partial")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.records.values()),
                       encoding="utf-8")
        os.replace(tmp, self.path)
