"""The ceiling of recognising words live: how far the microphone's live mouth (`eval --real`'s
"model live" row) would get if a word search ran live and each word's mouth took over from the
moment the word was decided.

Optimistic by construction: each recording's words are those recognised in the whole recording
(as a clip spoken to the live face gets them: `phones.trusted_words`), with their whole-clip
alignment, and a word counts as known once its end is within the audio the live frame has (the
frame's time + the model's look-ahead + the phone layer's hold) minus `lag` (the search's own
delay). A frame takes the
words' mouth (`transcript.combine`) once the word it lies in (the teacher leads by 40 ms) is
known; else it keeps the live mouth (the model with the phone loop). The metrics are
`eval --real`'s, on the same 16 real recordings (the LibriVox excerpts are not read).

    OMP_NUM_THREADS=1 python bench/bench_live_words.py [--lags 0 60 120]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.audio.features import extract, prepare_audio  # noqa: E402
from vasa_bridge.data.align import Aligner, searched_words  # noqa: E402
from vasa_bridge.model.config import unpack_motion  # noqa: E402
from vasa_bridge.model.evaluate import _Acc, _loudness  # noqa: E402
from vasa_bridge.model.onnx_runtime import OnnxDenoiser  # noqa: E402
from vasa_bridge.model.phones import (PhoneConfig, PhoneRecognizer,  # noqa: E402
                                      live_lookahead_s, live_track, trusted_words)
from vasa_bridge.model.realvoice import (SAMPLE_RATE, RealEvalConfig, real_clips,  # noqa: E402
                                         reference)
from vasa_bridge.model.streaming import LIVE, Steering, generate  # noqa: E402
from vasa_bridge.model.transcript import combine, teacher_mouth_at  # noqa: E402

LEAD_S = 0.04  # the teacher's lips lead the sound by this much


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lags", type=float, nargs="+", default=[0.0, 60.0, 120.0],
                    metavar="MS", help="the word search's delay behind the newest audio")
    args = ap.parse_args()
    den = OnnxDenoiser(RealEvalConfig().model, threads=1)
    fc = den.config.features
    fps = fc.fps
    look = LIVE.lookahead_ms(den.config) / 1000.0
    phones = PhoneConfig()
    held = live_lookahead_s(look, phones)  # the sound a frame has when it goes out
    recognizer, aligner = PhoneRecognizer(phones), Aligner()
    live_acc = _Acc()
    rows = {lag: (_Acc(), [0, 0]) for lag in args.lags}
    for clip in real_clips():
        ts, segs = reference(clip, fps, aligner)
        audio = prepare_audio(clip.audio, fc.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        m = min(len(feats), len(ts))
        ts, loud = ts[:m], _loudness(audio, fc, m)
        shapes, rot, _ = unpack_motion(generate(den, den.config, feats, LIVE, Steering("neutral"),
                                                seed=0)[:m])
        live = live_track(clip.audio, m, fps, look, phones).steer(shapes, phones)
        live_acc.add(live, rot, ts, loud, segs, fps)
        timeline = trusted_words(recognizer.hear(clip.audio, SAMPLE_RATE), phones)
        words = searched_words(clip.audio)
        t = np.arange(m) / fps
        heard = None if timeline is None else combine(live, teacher_mouth_at(timeline, t))
        for lag, (acc, count) in rows.items():
            out = live.copy()
            for k in range(m if heard is not None else 0):
                decided = t[k] + held - lag / 1000.0
                inside = [w for w in words if w[1] <= t[k] + LEAD_S < w[2]]
                if all(w[2] <= decided for w in inside) and any(w[1] <= decided for w in words):
                    out[k] = heard[k]
                    count[0] += 1
            count[1] += m
            acc.add(out, rot, ts, loud, segs, fps)
    show("live (serve --mic: phone loop, heard aperture)", live_acc, fps)
    for lag, (acc, count) in rows.items():
        share = count[0] / count[1]
        show(f"words once decided, search {lag:.0f} ms behind ({share:.0%} of frames)", acc, fps)


def show(name: str, acc: _Acc, fps: float) -> None:
    r = acc.result(fps, 60.0)
    print(f"{name:60s} jawOpen r {r['jaw_r_best']:.3f} (lag {r['jaw_r_best_lag_ms']:+.0f} ms), "
          f"/p b m/ sealed {r['closure_rate']:.1%}, false seals {r['false_seal_rate']:.1%}, "
          f"open vowels {r['open_vowel_rate']:.1%}")


if __name__ == "__main__":
    main()
