"""How the offline phone gate's threshold (`PhoneConfig.min_fit`) was chosen, and can be checked.

On the English clips of a synthetic corpus's split (by default its *train* split: the held-out
voices of `eval --data` are not used for choosing), each clip is baked offline by the shipped model
(or `--model`) with its mouth alone and with the phones heard in it (never gated here), and
compared with the clip's teacher: jawOpen r and /p b m/ sealed. Then, for each threshold, the
phones are kept only on clips whose acoustic score per phone frame (`PhoneRecognizer.hear`'s fit)
reaches it. The shipped threshold is the lowest one whose mean r is no worse than the model
alone's (docs/model.md, "Phones heard in the voice").

    OMP_NUM_THREADS=1 python bench/bench_phone_gate.py --data CORPUS [--split train] [--clips 150]
    OMP_NUM_THREADS=1 python bench/bench_phone_gate.py --real  # the fits of eval --real's clips

`--real` only reports where the real recordings of `eval --real` fall (they are not used to
choose); it never reads the reserved librivox recordings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.audio.features import extract, prepare_audio, resample  # noqa: E402
from vasa_bridge.data.dataset import open_dataset  # noqa: E402
from vasa_bridge.model.config import JAW, unpack_motion  # noqa: E402
from vasa_bridge.model.evaluate import _Acc, _loudness, _segments  # noqa: E402
from vasa_bridge.model.onnx_runtime import OnnxDenoiser  # noqa: E402
from vasa_bridge.model.phones import (PHONE_RATE, PhoneConfig, PhoneRecognizer,  # noqa: E402
                                      blend)
from vasa_bridge.model.streaming import OFFLINE, Steering, generate  # noqa: E402
from vasa_bridge.model.transcript import teacher_mouth_at  # noqa: E402

THRESHOLDS = (-9.0, -10.0, -11.0, -12.0, -13.0, -14.0, -16.0, None)  # None: always on


def measure(args) -> np.ndarray:
    """(clips, 6): fit (nan: too few phones), r alone, r with phones, sealed alone, sealed with
    phones, /p b m/ in the clip."""
    den = OnnxDenoiser(args.model, threads=1)
    fc = den.config.features
    rec = PhoneRecognizer(PhoneConfig())
    ds = open_dataset(args.data, args.split)
    rows = []
    for i in range(len(ds)):
        clip = ds[i]
        if clip.meta.get("language") != "en":
            continue
        audio = prepare_audio(clip.audio, clip.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        teacher = clip.motion.blendshapes
        m = min(len(feats), len(teacher))
        shapes, rot, _ = unpack_motion(generate(den, den.config, feats, OFFLINE,
                                                Steering("neutral"), seed=0)[:m])
        speech = audio if fc.sample_rate == PHONE_RATE else \
            resample(audio, fc.sample_rate, PHONE_RATE)
        timeline, fit = rec.hear(speech, PHONE_RATE)
        heard = blend(shapes, teacher_mouth_at(timeline, np.arange(m) / fc.fps))
        loud, segs = _loudness(audio, fc, m), _segments(clip.phonemes)
        row = [np.nan if fit is None else fit]
        accs = []
        for s in (shapes, heard):
            row.append(float(np.corrcoef(s[:, JAW], teacher[:m, JAW])[0, 1]))
            acc = _Acc()
            acc._threshold, acc._slack = 0.1, 0.08  # as `eval --data`
            acc.add(s, rot, teacher[:m], loud, segs, fc.fps)
            accs.append(acc)
        row += [accs[0].closures[0], accs[1].closures[0], accs[0].closures[1]]
        rows.append(row)
        if len(rows) >= args.clips:
            break
    return np.array(rows, float)


def real_fits() -> None:
    from vasa_bridge.model.realvoice import real_clips
    rec, config = PhoneRecognizer(PhoneConfig()), PhoneConfig()
    fits = []
    for clip in real_clips():
        fit = rec.hear(clip.audio, PHONE_RATE)[1]
        fits.append(np.nan if fit is None else fit)
        print(f"{clip.name:24s} fit {fits[-1]:6.1f}")
    fits = np.array(fits)
    print(f"{len(fits)} real recordings: fit {np.nanmin(fits):.1f} to {np.nanmax(fits):.1f}; "
          f"{int((fits >= config.min_fit).sum())} at or above min_fit {config.min_fit:g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", action="store_true", help="report the real recordings' fits")
    ap.add_argument("--data", help="a synthetic dataset folder (vasa-bridge dataset)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--clips", type=int, default=150, help="English clips to use")
    ap.add_argument("--model", help="model.onnx (default: the shipped model)")
    args = ap.parse_args()
    if args.real:
        return real_fits()
    if not args.data:
        ap.error("--data is needed (or --real)")
    o = measure(args)
    fit, r0, r1, s0, s1, n = o.T
    print(f"{len(o)} English clips of {args.data} ({args.split}); fit vs what the phones gain "
          f"per clip: r {np.corrcoef(np.nan_to_num(fit, nan=-99.0), r1 - r0)[0, 1]:.3f}")
    print(f"model alone: jawOpen r {r0.mean():.3f}, /p b m/ sealed {s0.sum() / n.sum():.1%}")
    for t in THRESHOLDS:
        use = np.ones(len(o), bool) if t is None else np.nan_to_num(fit, nan=-1e9) >= t
        r = np.where(use, r1, r0).mean()
        sealed = np.where(use, s1, s0).sum() / n.sum()
        name = "always" if t is None else f"{t:g}"
        print(f"phones at fit >= {name:>6}: on {use.mean():4.0%} of clips, jawOpen r {r:.3f}, "
              f"/p b m/ sealed {sealed:.1%}")


if __name__ == "__main__":
    main()
