"""Batch baking for game dialogue: a manifest of voice lines -> motion tracks, resumable, on a
process pool or a Ray cluster. `vasa-bridge bake --manifest lines.csv -o baked/`; see docs/games.md.

    manifest.py  lines.csv | lines.jsonl | a folder -> Line (bad fields kept, with the reason)
    batch.py     BatchConfig, run_batch: content-hash resume, atomic writes, results.csv
    workers.py   where lines are baked: this process, a process pool, Ray tasks
"""

from .batch import BatchConfig, BatchResult, LineResult, run_batch
from .manifest import Line, read_manifest

__all__ = ["BatchConfig", "BatchResult", "Line", "LineResult", "read_manifest", "run_batch"]
