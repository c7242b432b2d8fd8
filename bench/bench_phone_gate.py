"""How the offline phone layer's thresholds were chosen, and can be checked.

On the English clips of a synthetic corpus's split (by default its *train* split: the held-out
voices of `eval --data` are not used for choosing), each clip is baked offline by the shipped model
(or `--model`) with its mouth alone, with the phone loop's phones, with the recognised words'
alignment blended, and with those words' mouth taken whole (`transcript.combine`: jaw and
seals too), and compared with the clip's teacher: jawOpen r, /p b m/ sealed and false seals. Then:

- `PhoneConfig.min_fit` (the gate on the phone loop's acoustic score per phone frame): for each
  threshold, the phone loop's phones on the clips whose fit reaches it (the rule before words were
  recognised; it chose -11, the lowest threshold whose mean r is no worse than the model alone's),
  and the words as shipped (`words_min_fit`, `seal_min_fit`) on the same clips;
- `PhoneConfig.seal_min_fit` (how closely the recognised words must fit to be taken whole, seals
  and jaw too): with the gate and `words_min_fit` as shipped, the lowest value at which that
  costs the clips no mean r.

    OMP_NUM_THREADS=1 python bench/bench_phone_gate.py --data CORPUS [--split train] [--clips 150]
    OMP_NUM_THREADS=1 python bench/bench_phone_gate.py --real  # where eval --real's clips fall

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
from vasa_bridge.model.transcript import combine, teacher_mouth_at  # noqa: E402

THRESHOLDS = (-9.0, -10.0, -11.0, -12.0, -13.0, -14.0, -16.0, None)  # None: always on
SEAL_THRESHOLDS = (-10.0, -12.0, -13.0, -14.0, -15.0, -16.0, -18.0, None)  # None: never
WAYS = ("alone", "loop", "words", "whole")  # how each clip is baked


def _scores(s, rot, teacher, loud, segs, fps) -> list[float]:
    acc = _Acc()
    acc._threshold, acc._slack = 0.1, 0.08  # as `eval --data`
    acc.add(s, rot, teacher, loud, segs, fps)
    return [float(np.corrcoef(s[:, JAW], teacher[:, JAW])[0, 1]), *acc.closures,
            *acc.false_seals]


def measure(args) -> tuple[np.ndarray, np.ndarray]:
    """((clips, 2) phone loop fit and words' fit, nan where none; (clips, ways, 5) jawOpen r,
    /p b m/ sealed and present, false seals and frames the teacher keeps apart)."""
    den = OnnxDenoiser(args.model, threads=1)
    fc = den.config.features
    # words for every clip, whatever its fit (each gate below is tried)
    rec = PhoneRecognizer(PhoneConfig(min_fit=-1e9))
    loop = PhoneRecognizer(PhoneConfig(words=False))
    ds = open_dataset(args.data, args.split)
    fits, scores = [], []
    for i in range(len(ds)):
        clip = ds[i]
        if clip.meta.get("language") != "en":
            continue
        audio = prepare_audio(clip.audio, clip.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        m = min(len(feats), len(clip.motion.blendshapes))
        teacher = clip.motion.blendshapes[:m]
        shapes, rot, _ = unpack_motion(generate(den, den.config, feats, OFFLINE,
                                                Steering("neutral"), seed=0)[:m])
        speech = audio if fc.sample_rate == PHONE_RATE else \
            resample(audio, fc.sample_rate, PHONE_RATE)
        heard, looped = rec.hear(speech, PHONE_RATE), loop.hear(speech, PHONE_RATE)
        t = np.arange(m) / fc.fps
        baked = (shapes, blend(shapes, teacher_mouth_at(looped.timeline, t)),
                 blend(shapes, teacher_mouth_at(heard.timeline, t)),
                 combine(shapes, teacher_mouth_at(heard.timeline, t)))
        loud, segs = _loudness(audio, fc, m), _segments(clip.phonemes)
        fits.append([np.nan if heard.fit is None else heard.fit,
                     np.nan if heard.words is None else heard.words_fit])
        scores.append([_scores(b, rot, teacher, loud, segs, fc.fps) for b in baked])
        if len(fits) >= args.clips:
            break
    return np.array(fits, float), np.array(scores, float)


def _line(name: str, choice: np.ndarray, scores: np.ndarray) -> str:
    """`choice` (clips,) index into WAYS per clip."""
    s = scores[np.arange(len(choice)), choice]
    return (f"{name}: jawOpen r {s[:, 0].mean():.4f}, /p b m/ sealed "
            f"{s[:, 1].sum() / s[:, 2].sum():.1%}, false seals {s[:, 3].sum() / s[:, 4].sum():.1%}")


def shipped(fit, words_fit, config, min_fit=None, seal_min_fit="config") -> np.ndarray:
    """Per clip, the way `apply_phones` bakes it with `config` (thresholds overridable)."""
    min_fit = config.min_fit if min_fit is None else min_fit
    seal_at = config.seal_min_fit if seal_min_fit == "config" else seal_min_fit
    gated = np.nan_to_num(fit, nan=-1e9) >= (-1e9 if min_fit == "always" else min_fit)
    fits = np.nan_to_num(words_fit, nan=-1e9)
    words = gated & (fits >= config.words_min_fit)
    sealed = words & (fits >= (1e9 if seal_at is None else seal_at))
    return np.where(sealed, 3, np.where(words, 2, 0))


def real_fits() -> None:
    from vasa_bridge.model.realvoice import real_clips
    config = PhoneConfig()
    rec = PhoneRecognizer(PhoneConfig(min_fit=-1e9))  # the words of every clip, gated or not
    fits, words_fits = [], []
    for clip in real_clips():
        heard = rec.hear(clip.audio, PHONE_RATE)
        fits.append(np.nan if heard.fit is None else heard.fit)
        words_fits.append(np.nan if heard.words is None else heard.words_fit)
        print(f"{clip.name:24s} fit {fits[-1]:6.1f}  words {heard.words!r} fit "
              f"{words_fits[-1]:6.1f}")
    fits, words_fits = np.array(fits), np.array(words_fits)
    print(f"{len(fits)} real recordings: fit {np.nanmin(fits):.1f} to {np.nanmax(fits):.1f}; "
          f"{int((fits >= config.min_fit).sum())} at or above min_fit {config.min_fit:g}; "
          f"words' fit {np.nanmin(words_fits):.1f} to {np.nanmax(words_fits):.1f}; "
          f"{int((words_fits >= config.seal_min_fit).sum())} at or above seal_min_fit "
          f"{config.seal_min_fit:g}")


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
    fits, scores = measure(args)
    fit, words_fit = fits.T
    config = PhoneConfig()
    gain = scores[:, 1, 0] - scores[:, 0, 0]
    print(f"{len(fits)} English clips of {args.data} ({args.split}); phone loop fit vs what its "
          f"phones gain per clip: r {np.corrcoef(np.nan_to_num(fit, nan=-99.0), gain)[0, 1]:.3f}")
    print(_line("model alone", np.zeros(len(fits), int), scores))
    print(f"phone loop fit gate (min_fit); the words with words_min_fit {config.words_min_fit:g} "
          f"and seal_min_fit {config.seal_min_fit:g} as shipped:")
    for t in THRESHOLDS:
        name = "always" if t is None else f"{t:g}"
        on = np.nan_to_num(fit, nan=-1e9) >= (-1e9 if t is None else t)
        print(f"  fit >= {name:>6} (on {on.mean():4.0%}) " +
              _line("phone loop", np.where(on, 1, 0), scores))
        print(f"  {'':22s} " + _line("words", shipped(fit, words_fit, config,
                                                       "always" if t is None else t), scores))
    print(f"the words' mouth is taken whole where they fit at least (seal_min_fit; gate min_fit "
          f"{config.min_fit:g}):")
    for t in SEAL_THRESHOLDS:
        choice = shipped(fit, words_fit, config, seal_min_fit=t)
        name = "never" if t is None else f"{t:g}"
        print(f"  {name:>6} (on {(choice == 3).sum():3d} clips) " + _line("words", choice, scores))


if __name__ == "__main__":
    main()
