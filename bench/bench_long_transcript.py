"""A long recording with its transcript, aligned whole and in stretches (data/align.py
`Aligner`): peak memory, time, fit and stretches. The recording is pocketsphinx-testdata's
cards 001-005 (one real speaker) over and over with 0.25 s gaps, to `--seconds`, and the
transcript their words in the same order. Each alignment runs in its own process, so its peak
resident memory is its own.

    OMP_NUM_THREADS=1 python bench/bench_long_transcript.py [--seconds 300] [--only stretches]

`--refused`: instead, how long a transcript that does not fit takes to be refused (the other
recordings' words on the same recording, `--seconds` long), aligned whole only and with the
floor that tries stretches before refusing (`Aligner.align(..., min_fit)`), as a ratio.

`--bake`: the whole bake of the recording (`bake_audio_text`, the phone layer on, as `speak`
bakes a clip) with its transcript, without one and with a wrong one, as ratios to the first.
The words searched in a clip are kept for the next search of the same clip
(`align.searched_words`); they are forgotten before each case and each repeat here.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def recording(seconds: float):
    import numpy as np
    from vasa_bridge.model.realvoice import real_clips
    clips = [c for c in real_clips() if c.name.startswith("sphinx/cards/")]
    gap = np.zeros(4000, np.float32)
    parts, words, t = [], [], 0.0
    while t < seconds:
        for c in clips:
            parts += [c.audio, gap]
            words.append(c.text)
            t += (len(c.audio) + len(gap)) / 16000
    return np.concatenate(parts), " ".join(words)


def one(seconds: float, how: str) -> dict:
    from vasa_bridge.data.align import Aligner
    audio, text = recording(seconds)
    aligner = Aligner(long_s=1e9) if how == "whole" else Aligner()
    t0 = time.perf_counter()
    _, score = aligner.align(audio, text)
    return {"how": how, "seconds": round(len(audio) / 16000, 1), "chars": len(text),
            "wall_s": round(time.perf_counter() - t0, 1), "fit": round(score.per_frame, 2),
            "stretches": score.stretches,
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def refused(seconds: float, repeats: int = 3) -> int:
    from vasa_bridge.data.align import Aligner, forget_searched
    from vasa_bridge.errors import DataError
    from vasa_bridge.model.realvoice import real_clips
    from vasa_bridge.model.transcript import MIN_FIT
    audio, text = recording(seconds)
    wrong = " ".join(c.text for c in real_clips() if not c.name.startswith("sphinx/cards/"))
    aligner = Aligner()
    aligner.align(audio, text)  # decoders loaded
    took = {}
    for floor in (None, MIN_FIT):
        t0 = time.perf_counter()
        for _ in range(repeats):
            forget_searched()  # each refusal searches the words afresh, as a new clip would
            try:
                score = aligner.align(audio, wrong, floor)[1].per_frame
            except DataError:
                score = None
        took[floor] = (time.perf_counter() - t0) / repeats
        print(f"wrong transcript, {len(audio) / 16000:.1f} s: {took[floor]:.2f} s "
              f"({'whole only' if floor is None else 'stretches tried before refusing'}; "
              f"score {score if score is None else round(score, 1)})")
    print(f"ratio {took[MIN_FIT] / took[None]:.1f}")
    return 0


def bake(seconds: float) -> int:
    import numpy as np
    from vasa_bridge.data.align import Aligner, forget_searched
    from vasa_bridge.model.bake import BakeConfig, bake_audio_text
    from vasa_bridge.model.onnx_runtime import OnnxDenoiser
    from vasa_bridge.model.phones import PhoneRecognizer
    from vasa_bridge.model.realvoice import real_clips
    audio, text = recording(seconds)
    wrong = " ".join(c.text for c in real_clips() if not c.name.startswith("sphinx/cards/"))
    den, aligner, rec = OnnxDenoiser(None, threads=1), Aligner(), PhoneRecognizer()
    config = BakeConfig(keep_audio=False)
    warm = np.concatenate([real_clips()[-1].audio] * 4)  # another clip: every decoder loaded
    bake_audio_text(warm, 16000, config, den, wrong, aligner, rec)
    took = {}
    for case, words in (("its transcript", text), ("no transcript", None),
                        ("a wrong transcript", wrong)):
        forget_searched()
        t0 = time.perf_counter()
        _, outcome = bake_audio_text(audio, 16000, config, den, words, aligner, rec)
        took[case] = time.perf_counter() - t0
        used = "" if outcome is None else f", transcript used: {outcome.used}"
        print(f"{case:18s} {len(audio) / 16000:.1f} s: {took[case]:.2f} s, ratio "
              f"{took[case] / took['its transcript']:.1f}{used}", flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--only", choices=("whole", "stretches"))
    p.add_argument("--child", choices=("whole", "stretches"), help=argparse.SUPPRESS)
    p.add_argument("--refused", action="store_true")
    p.add_argument("--bake", action="store_true")
    args = p.parse_args()
    if args.refused:
        return refused(args.seconds)
    if args.bake:
        return bake(args.seconds)
    if args.child:
        print(json.dumps(one(args.seconds, args.child)))
        return 0
    for how in [args.only] if args.only else ["whole", "stretches"]:
        out = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds),
                              "--child", how], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['how']:<9} {r['seconds']:7.1f} s of speech, {r['chars']} characters: "
              f"peak {r['peak_mb']} MB, {r['wall_s']} s, fit {r['fit']} per frame, "
              f"{r['stretches']} stretch(es)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
