"""How well espeak-ng's letter-to-sound rules (data/pronounce.py, used for transcript words the
CMU dictionary lacks) agree with the dictionary on words it has: a random sample, the share
pronounced exactly as the dictionary does, the share of the dictionary's phones missed, the
commonest differences, and the time per word.

    python bench/bench_pronounce.py [--words 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import difflib
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.data.pronounce import pronounce  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--words", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from pocketsphinx import get_model_path
    cmu = {}
    for line in open(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")):
        word, *phones = line.split()
        if re.match(r"^[a-z]+$", word):
            cmu[word] = phones
    words = random.Random(args.seed).sample(sorted(cmu), args.words)
    exact = missed = total = none = 0
    diffs = collections.Counter()
    t0 = time.perf_counter()
    guesses = {w: pronounce(w) for w in words}
    per_word_ms = 1000 * (time.perf_counter() - t0) / len(words)
    for w in words:
        if guesses[w] is None:
            none += 1
            continue
        a, b = cmu[w], guesses[w].split()
        exact += a == b
        ops = difflib.SequenceMatcher(a=a, b=b).get_opcodes()
        missed += sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal")
        total += len(a)
        diffs.update((" ".join(a[i1:i2]) or "-", " ".join(b[j1:j2]) or "-")
                     for op, i1, i2, j1, j2 in ops if op != "equal")
    print(f"{len(words)} random words of the CMU dictionary (seed {args.seed}): "
          f"{exact / len(words):.1%} pronounced exactly as the dictionary, {missed / total:.1%} "
          f"of its phones differ, {none} not pronounced; {per_word_ms:.2f} ms per word")
    print("commonest differences (dictionary -> rules):",
          ", ".join(f"{a}->{b} {n}" for (a, b), n in diffs.most_common(8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
