"""How long a clip spoken to the live face (or a `--hear-ahead` phrase) waits for its words:
`ClipBaker.hear_words` (word search and alignment in the shared pocketsphinx child) on each real
recording, as a share of the recording's length, and as a ratio to the phone loop alone (the
same child, `PhoneConfig(words=False)`: what a live stream's phones cost), in the same process.

    OMP_NUM_THREADS=1 python bench/bench_hearing.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.model.phones import PhoneConfig  # noqa: E402
from vasa_bridge.model.realvoice import real_clips  # noqa: E402
from vasa_bridge.model.sphinx_worker import shared_worker  # noqa: E402
from vasa_bridge.runtime.model_engine import load_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    _, baker = load_model(threads=1)
    baker.warm()
    loop = shared_worker().recognizer(PhoneConfig(words=False))
    clips = real_clips()
    loop.hear(clips[0].audio, 16000)
    words, alone = [], []
    for _ in range(args.repeats):
        for c in clips:
            shared_worker().call("forget_words")  # each hearing a first one (no kept words)
            t0 = time.perf_counter()
            baker.hear_words(c.audio)
            t1 = time.perf_counter()
            loop.hear(c.audio, 16000)
            t2 = time.perf_counter()
            seconds = len(c.audio) / 16000
            words.append((t1 - t0) / seconds)
            alone.append((t2 - t1) / seconds)
    w, a = np.array(words), np.array(alone)
    print(f"{len(clips)} real recordings ({sum(len(c.audio) for c in clips) / 16000:.1f} s), "
          f"{args.repeats} rounds: words heard in {np.median(w):.2f} x the clip's length "
          f"(median; p90 {np.percentile(w, 90):.2f}, max {w.max():.2f}); the phone loop alone "
          f"{np.median(a):.3f} x; ratio {np.median(w) / np.median(a):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
