"""Dataset generation speed as a multiple of real time (audio seconds made per wall second).

Runs `synth_dataset` for a short corpus with 1 and with 2 worker processes (the 1-worker run is
the baseline in the same process), then times each stage in this process. Prints how many hours
of audio fit in a 3-hour working session at the measured speed.

    python bench/bench_data.py [--hours 0.02]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.data.augment import apply_augmentation  # noqa: E402
from vasa_bridge.data.dataset import write_clip  # noqa: E402
from vasa_bridge.data.engines import Prosody, Voice  # noqa: E402
from vasa_bridge.data import synth as S  # noqa: E402
from vasa_bridge.data.teacher import teach  # noqa: E402


def run(hours: float, workers: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        summary = S.synth_dataset(S.SynthConfig(out=d, hours=hours, workers=workers, seed=1),
                                  progress=False)
        wall = time.perf_counter() - t0
    return summary["hours"] * 3600, wall


def stages(n: int = 40) -> dict:
    cfg = S.SynthConfig(out="unused", hours=1, workers=1, seed=2)
    cat = S.voice_catalogue(cfg)
    val = set(S.validation_speakers(cfg, cat))
    plans = [S.plan_clip(cfg, cat, val, i) for i in range(n)]
    t = {"espeak": 0.0, "festival": 0.0, "teacher": 0.0, "augment": 0.0, "write": 0.0}
    audio_s = {"espeak": 0.0, "festival": 0.0}
    with tempfile.TemporaryDirectory() as d:
        for p in plans:
            t0 = time.perf_counter()
            u = S._engine(p["engine"]).synth(p["text"], Voice(**p["voice"]),
                                             Prosody(**p["prosody"]))
            t[p["engine"]] += time.perf_counter() - t0
            audio_s[p["engine"]] += u.duration
            t0 = time.perf_counter()
            m = teach(u.phonemes, u.audio, seed=p["teacher_seed"])
            t["teacher"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            a = apply_augmentation(u.audio, p["augmentation"]) if p["augmentation"] else u.audio
            t["augment"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            write_clip(Path(d), p["index"], a, u.phonemes, m, {**p, "speaker": "s",
                                                                 "voice": "v"})
            t["write"] += time.perf_counter() - t0
    total = sum(audio_s.values())
    return {"audio_s": total, "seconds": t, "engine_audio_s": audio_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=0.02)
    args = ap.parse_args()
    base_audio, base_wall = run(args.hours, 1)
    par_audio, par_wall = run(args.hours, 2)
    x1, x2 = base_audio / base_wall, par_audio / par_wall
    print(f"synth {args.hours} h, 1 worker : {base_audio:7.1f} s audio in {base_wall:6.2f} s = "
          f"{x1:6.1f}x real time (baseline)")
    print(f"synth {args.hours} h, 2 workers: {par_audio:7.1f} s audio in {par_wall:6.2f} s = "
          f"{x2:6.1f}x real time ({x2 / x1:.2f}x the baseline; includes process start-up)")
    st = stages()
    print(f"stages over {st['audio_s']:.1f} s of audio, one process:")
    for k, v in st["seconds"].items():
        ref = st["engine_audio_s"].get(k, st["audio_s"])
        print(f"  {k:9s} {v:6.3f} s  ({ref / max(v, 1e-9):7.1f}x real time over "
              f"{ref:.1f} s)")
    one = st["audio_s"] / sum(st["seconds"].values())
    print(f"  all stages: {one:.1f}x real time per process")
    best = max(x1, x2)
    print(f"at {best:.0f}x real time, a 3-hour session makes about {best * 3:.0f} hours of "
          f"audio (about {best * 3 * 3600 / 5 / 1000:.0f}k clips); 20 h take "
          f"{20 * 60 / best:.0f} min")


if __name__ == "__main__":
    main()
