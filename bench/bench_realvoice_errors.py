"""Where the model's mouth departs from the reference on the real recordings of `eval --real`.

Frame by frame, for the shipped model (or `--model`): the false seals (frames the reference keeps
apart that the model seals, lip gap < 0.1) by the phone at the frame and by whether the frame
holds speech by level (`data.align.speech_frames`), and the squared jawOpen error split the same
ways. `--raw` builds the reference on pocketsphinx's own phone boundaries (before phones that
border silence were cut back to the speech level); `--live` runs the streaming settings `serve`
uses instead of the offline ones. `--phones` takes the mouth as bake and serve make it (the model
with the phones heard in the voice, model/phones.py) and says, for each false seal, whether the
model's own lips, the phones' or only their blend are under the gap, and for each /p b m/ the
smallest lip gap near it of each (a closure counted as sealed may be sealed by a hair). Never
reads the reserved librivox recordings.

    OMP_NUM_THREADS=1 python bench/bench_realvoice_errors.py [--live] [--raw] [--phones] [--model M]
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.audio.features import extract, prepare_audio  # noqa: E402
from vasa_bridge.data.align import Aligner, SpeechEdges, speech_frames  # noqa: E402
from vasa_bridge.data.phonemes import SILENCE  # noqa: E402
from vasa_bridge.model.config import JAW, SEAL_APERTURE, unpack_motion  # noqa: E402
from vasa_bridge.model.evaluate import _aperture  # noqa: E402
from vasa_bridge.model.onnx_runtime import OnnxDenoiser  # noqa: E402
from vasa_bridge.model.phones import (PhoneConfig, PhoneRecognizer, apply_phones,  # noqa: E402
                                      heard_mouth, live_track)
from vasa_bridge.model.realvoice import real_clips, reference  # noqa: E402
from vasa_bridge.model.streaming import LIVE, OFFLINE, Steering, generate  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="model.onnx (default: the shipped model)")
    p.add_argument("--live", action="store_true", help="the streaming settings of serve")
    p.add_argument("--raw", action="store_true", help="reference on pocketsphinx's boundaries")
    p.add_argument("--phones", action="store_true",
                   help="the model with the heard phones' mouth (as bake and serve make it)")
    args = p.parse_args()
    den = OnnxDenoiser(args.model, threads=1)
    fc = den.config.features
    fps = fc.fps
    aligner = Aligner(edges=None if args.raw else SpeechEdges())
    stream = LIVE if args.live else OFFLINE
    seals = collections.Counter()  # phone -> false seals
    apart = collections.Counter()  # "speech"/"quiet" -> frames the reference keeps apart
    sealed = collections.Counter()  # "speech"/"quiet" -> false seals
    err = collections.Counter()  # "speech"/"quiet" and "ph:<phone>" -> squared jaw error
    culprits = collections.Counter()  # whose lips are under the gap at a false seal
    closures = []  # (clip, start s, smallest gap: mouth, model, phones)
    recognizer = PhoneRecognizer(PhoneConfig()) if args.phones and not args.live else None
    for clip in real_clips():
        timeline = aligner.align(clip.audio, clip.text)[0]
        ref, _ = reference(clip, fps, aligner)
        audio = prepare_audio(clip.audio, fc.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        n = min(len(feats), len(ref))
        ref = ref[:n]
        shapes = unpack_motion(generate(den, den.config, feats, stream, Steering("neutral"),
                                        seed=0)[:n])[0]
        if args.phones:
            model, phones = shapes, _phones_mouth(clip.audio, n, fps, stream, den.config,
                                                  recognizer)
            if phones is not None and phones[1] is None:  # live: serve's mouth
                track = phones[0]
                shapes = track.steer(model, PhoneConfig())
                phones = (track.mouths, track.known, False)
            else:  # bake's mouth (the heard aperture too, where the words are not whole)
                shapes = apply_phones(model, clip.audio, 16000, fps, PhoneConfig(), recognizer)
            parts = {"model": _aperture(model) < SEAL_APERTURE,
                     "phones": (_aperture(phones[0]) < SEAL_APERTURE) & phones[1]
                     if phones is not None else np.zeros(n, bool)}
        ref_apart = _aperture(ref) >= SEAL_APERTURE
        false = ref_apart & (_aperture(shapes) < SEAL_APERTURE)
        speech = speech_frames(clip.audio)
        for i in range(n):
            t = (i + 0.5) / fps
            k = min(int(np.searchsorted(timeline.ends, t, side="right")),
                    len(timeline.labels) - 1)
            phone = timeline.labels[k]
            lo, hi = int(i / fps / 0.01), int((i + 1) / fps / 0.01)
            level = "speech" if speech[lo:hi].any() else "quiet"
            d = float((ref[i, JAW] - shapes[i, JAW]) ** 2)
            err[level] += d
            err["ph:" + phone] += d
            apart[level] += int(ref_apart[i])
            sealed[level] += int(false[i])
            seals[phone] += int(false[i])
            if args.phones and false[i]:
                under = [k for k, v in parts.items() if v[i]]
                culprits[" and ".join(under) if under else "the blend only"] += 1
        if args.phones:
            t = np.arange(n) / fps
            for k, label in enumerate(timeline.labels):
                if label.lower() not in ("p", "b", "m"):
                    continue
                near = (t >= timeline.starts[k] - 0.08) & (t <= timeline.ends[k] + 0.08)
                if near.any():
                    gaps = [float(_aperture(x)[near].min()) for x in
                            (shapes, model, model if phones is None else phones[0])]
                    closures.append((clip.name, timeline.starts[k], *gaps))
    total = sum(apart.values())
    print(f"{'live' if args.live else 'offline'}, reference on "
          f"{'pocketsphinx boundaries' if args.raw else 'the alignment cut to the speech'}")
    print(f"false seals {sum(sealed.values())} of {total} frames the reference keeps apart "
          f"({sum(sealed.values()) / max(total, 1):.1%}); in frames without speech by level "
          f"{sealed['quiet']} of {apart['quiet']}")
    print("false seals by the phone at the frame:",
          ", ".join(f"{ph if ph != SILENCE else 'sil'} {c}" for ph, c in seals.most_common(8)
                    if c))
    e_all = err["speech"] + err["quiet"]
    print(f"squared jawOpen error: {err['speech'] / e_all:.0%} in speech frames, "
          f"{err['quiet'] / e_all:.0%} in frames without speech")
    phones = sorted(((v, k[3:]) for k, v in err.items() if k.startswith("ph:")), reverse=True)
    print("squared jawOpen error by phone:", ", ".join(f"{ph} {v / e_all:.0%}"
                                                        for v, ph in phones[:6]))
    if args.phones:
        print("false seals by whose lips are under the gap:",
              ", ".join(f"{k} {v}" for k, v in culprits.most_common()))
        print(f"/p b m/: smallest lip gap within 80 ms (sealed under {SEAL_APERTURE}): "
              "mouth / model / phones")
        for name, s0, *gaps in closures:
            print(f"  {name:22s} {s0:5.2f} s  " + " / ".join(f"{g:.3f}" for g in gaps))
    return 0


def _phones_mouth(audio, n, fps, stream, model_config, recognizer):
    """(phones' mouth (n, 52), known (n,), seal) as bake (offline) hears them, None where bake
    keeps the model's mouth alone (the recogniser's gates, model/phones.py); live, (the
    stream's `LiveTrack`, None, False)."""
    if stream is LIVE:
        return (live_track(audio, n, fps, stream.lookahead_ms(model_config) / 1000.0), None,
                False)
    heard = heard_mouth(audio, 16000, n, fps, PhoneConfig(), recognizer)
    return None if heard is None else (heard[0], np.ones(n, bool), heard[1])


if __name__ == "__main__":
    sys.exit(main())
