"""Batch manifests: which voice lines to bake, and how.

Three forms, one `Line` per voice line:

- CSV with a header row: `audio` (required), `text`, `emotion`, `intensity`, `gaze` ("X,Y",
  quoted), `seed`, `character`, `output`. An empty cell takes the batch default.
- JSON Lines: one object per line with the same keys (`gaze` as [x, y] or "X,Y").
- A folder: every audio file under it, recursively; the output keeps its relative path.

Audio paths are relative to the manifest's folder. A line whose fields are wrong is kept, with
`error` set to a one-line reason, so the batch lists it and goes on with the others; only a
manifest that cannot be read at all (missing, no `audio` column, an unknown column) is refused.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ..errors import ConfigError

FIELDS = ("audio", "text", "emotion", "intensity", "gaze", "seed", "character", "output")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3", ".m4a", ".aac",
                  ".opus", ".webm")
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Line:
    number: int  # line in the manifest file, from 1 (a folder: position in sorted order)
    audio: str  # the audio file, resolved against the manifest's folder
    output: str = ""  # output path without suffix, relative to the output folder ("" when the
    # line names none: a bad output or character name, an unreadable line)
    text: str | None = None  # transcript (exact lips where the model supports it)
    emotion: str | None = None  # None: the batch default
    intensity: float | None = None  # None: the batch default
    gaze: tuple | None = None  # (x, y) in [-1, 1]; None: the batch default
    seed: int | None = None  # None: the batch default
    character: str | None = None  # speaker: the outputs go into a subfolder of this name
    error: str | None = None  # why this line cannot be baked (it is listed, not baked)


def read_manifest(path) -> list[Line]:
    """A .csv or .jsonl manifest, or a folder of audio files -> lines in manifest order."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise ConfigError(f"manifest {str(path)!r} does not exist: expected a .csv or .jsonl "
                          f"file or a folder of audio files")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _check_outputs(_read_csv(path))
    if suffix in (".jsonl", ".ndjson"):
        return _check_outputs(_read_jsonl(path))
    raise ConfigError(f"manifest {str(path)!r} has suffix {suffix!r}: expected .csv, .jsonl or a "
                      f"folder of audio files")


def _read_folder(folder: Path) -> list[Line]:
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ConfigError(f"folder {str(folder)!r} holds no audio files: expected files ending "
                          f"in {', '.join(AUDIO_SUFFIXES)}")
    lines = [Line(i, str(p), p.relative_to(folder).with_suffix("").as_posix())
             for i, p in enumerate(files, 1)]
    return _check_outputs(lines)


def _read_csv(path: Path) -> list[Line]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets often write a BOM
    except UnicodeDecodeError as e:
        raise ConfigError(f"manifest {str(path)!r} is not UTF-8 text ({e}): expected a UTF-8 "
                          f"CSV file") from None
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        return _csv_lines(path, reader)
    except csv.Error as e:
        raise ConfigError(f"manifest {str(path)!r} line {reader.line_num} is not readable CSV "
                          f"({e}): expected a header row and one row per voice line") from None


def _csv_lines(path: Path, reader) -> list[Line]:
    header = [h.strip() for h in next(reader, [])]
    if "audio" not in header:
        raise ConfigError(f"manifest {str(path)!r} header is {header!r}: expected an 'audio' "
                          f"column and any of {', '.join(FIELDS[1:])}")
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        raise ConfigError(f"manifest {str(path)!r} has column {unknown[0]!r}: expected "
                          f"{', '.join(FIELDS)}")
    lines = []
    end = reader.line_num
    for row in reader:
        number, end = end + 1, reader.line_num  # a quoted cell may span several lines
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            lines.append(Line(number, "", error=f"{len(row)} cells: expected at most "
                                                f"{len(header)} (the header's columns)"))
            continue
        fields = {k: v.strip() for k, v in zip(header, row) if v.strip() != ""}
        lines.append(_line(number, fields, path.parent))
    return lines


def _read_jsonl(path: Path) -> list[Line]:
    """Each line stands alone: one that is not UTF-8 or not JSON is listed as failed."""
    lines = []
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # a byte-order mark
        data = data[3:]
    for number, raw_bytes in enumerate(data.split(b"\n"), 1):
        try:
            raw = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as e:
            lines.append(Line(number, "", error=f"not UTF-8 text ({e}): expected a JSON object "
                                                f"in UTF-8"))
            continue
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError as e:
            lines.append(Line(number, "", error=f"not valid JSON ({e}): expected an object such "
                                                f"as {{\"audio\": \"line.wav\"}}"))
            continue
        except RecursionError:
            lines.append(Line(number, "", error="JSON nested too deeply: expected an object "
                                                "such as {\"audio\": \"line.wav\"}"))
            continue
        if not isinstance(fields, dict):
            lines.append(Line(number, "", error=f"{type(fields).__name__}: expected an object "
                                                f"such as {{\"audio\": \"line.wav\"}}"))
            continue
        unknown = [k for k in fields if k not in FIELDS]
        if unknown:  # listed with the audio and output its known fields name
            known = _line(number, {k: v for k, v in fields.items()
                                   if k in FIELDS and v not in (None, "")}, path.parent)
            lines.append(replace(known, error=f"unknown field {unknown[0]!r}: expected "
                                              f"{', '.join(FIELDS)}"))
            continue
        lines.append(_line(number, {k: v for k, v in fields.items() if v not in (None, "")},
                           path.parent))
    return lines


def _line(number: int, fields: dict, base: Path) -> Line:
    """Fields of one manifest line (strings from CSV, JSON values from JSONL) -> a Line."""
    audio = fields.get("audio")
    if not isinstance(audio, str):
        return Line(number, "", error=f"audio is {audio!r}: expected the path of a speech file")
    audio_path = str(base / audio)
    try:
        character = _name("character", fields.get("character"))
        output = _name("output", fields.get("output")) or Path(audio).with_suffix("").name
    except ValueError as e:  # the name itself is wrong: there is no output to list
        return Line(number, audio_path, error=str(e))
    if character:
        output = f"{character}/{output}"
    try:
        line = Line(number, audio_path, output, text=_text(fields.get("text")),
                    emotion=_text(fields.get("emotion"), "emotion"),
                    intensity=_number(fields.get("intensity")), gaze=_gaze(fields.get("gaze")),
                    seed=_seed(fields.get("seed")), character=character)
    except ValueError as e:  # listed with the output it would have written, as a failed bake is
        return Line(number, audio_path, output, character=character, error=str(e))
    return line


def _text(value, name: str = "text") -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name} is {value!r}: expected a string")


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"intensity {value!r}: expected a number in 0..5 (1 = average head "
                         f"motion)") from None


def _gaze(value) -> tuple | None:
    if value is None:
        return None
    parts = value.replace(";", ",").replace(" ", ",").split(",") if isinstance(value, str) \
        else value
    try:
        x, y = (float(v) for v in parts if not (isinstance(v, str) and v == ""))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"gaze {value!r}: expected X,Y with both in [-1, 1], such as "
                         f"\"0.3,-0.1\"") from None
    return (x, y)


def _seed(value) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        seed = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"seed {value!r}: expected a whole number 0..2^63-1") from None
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {value!r}: expected a whole number 0..2^63-1")
    return seed


def _name(field: str, value) -> str | None:
    """An output or character name: a relative path that stays inside the output folder."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} is {value!r}: expected a name such as \"guard/greet_01\"")
    p = PurePosixPath(value.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts or ":" in value:
        raise ValueError(f"{field} {value!r}: expected a relative name inside the output folder, "
                         f"such as \"guard/greet_01\"")
    return p.as_posix()


def _check_outputs(lines: list[Line]) -> list[Line]:
    """Two lines may not write the same output: the later one is listed as failed."""
    seen: dict[str, int] = {}
    out = []
    for line in lines:
        if line.error is None:
            first = seen.setdefault(line.output.lower(), line.number)
            if first != line.number:
                line = replace(line, error=f"output {line.output!r} is already written by line "
                                           f"{first}: expected a unique output name")
        out.append(line)
    return out
