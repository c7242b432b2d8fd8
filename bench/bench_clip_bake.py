"""How long an NPC line waits before `speak` can queue it: `ClipBaker.bake` (the runtime's
whole-clip bake, phones heard in the shared pocketsphinx child) on real recordings, with the
phone layer (recognised words) and without it (the model alone: the baseline, same process).

    OMP_NUM_THREADS=1 python bench/bench_clip_bake.py [--repeats 5] [--no-words]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.model.realvoice import real_clips  # noqa: E402
from vasa_bridge.runtime.model_engine import load_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-words", action="store_true",
                   help="the phone loop only (serve --npc-phone-loop), not recognised words")
    args = p.parse_args()
    from vasa_bridge.model.phones import PhoneConfig
    _, baker = load_model(threads=1, phones=PhoneConfig(words=not args.no_words))
    lines = [c for c in real_clips() if c.name in ("sphinx/cards/005", "sphinx/goforward",
                                                       "sphinx/numbers", "sphinx/something")]
    seconds = sum(len(c.audio) for c in lines) / 16000
    baker.bake(lines[0].audio, "neutral", 0)  # load the child's decoders once
    times = {True: [], False: []}
    for _ in range(args.repeats):
        for hear in (False, True):
            t0 = time.perf_counter()
            for c in lines:
                baker.bake(c.audio, "neutral", 0, hear=hear)
            times[hear].append(time.perf_counter() - t0)
    alone, heard = np.median(times[False]), np.median(times[True])
    print(f"{len(lines)} real lines, {seconds:.1f} s of speech, median of {args.repeats}: "
          f"model alone {alone:.2f} s ({alone / seconds:.2f} x their length), with the phone "
          f"layer {heard:.2f} s ({heard / seconds:.2f} x), ratio {heard / alone:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
