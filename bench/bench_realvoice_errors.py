"""Where the model's mouth departs from the reference on the real recordings of `eval --real`.

Frame by frame, for the shipped model (or `--model`): the false seals (frames the reference keeps
apart that the model seals, lip gap < 0.1) by the phone at the frame and by whether the frame
holds speech by level (`data.align.speech_frames`), and the squared jawOpen error split the same
ways. `--raw` builds the reference on pocketsphinx's own phone boundaries (before phones that
border silence were cut back to the speech level); `--live` runs the streaming settings `serve`
uses instead of the offline ones. Never reads the reserved librivox recordings.

    OMP_NUM_THREADS=1 python bench/bench_realvoice_errors.py [--live] [--raw] [--model M]
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
from vasa_bridge.model.realvoice import real_clips, reference  # noqa: E402
from vasa_bridge.model.streaming import LIVE, OFFLINE, Steering, generate  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="model.onnx (default: the shipped model)")
    p.add_argument("--live", action="store_true", help="the streaming settings of serve")
    p.add_argument("--raw", action="store_true", help="reference on pocketsphinx's boundaries")
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
    for clip in real_clips():
        timeline = aligner.align(clip.audio, clip.text)[0]
        ref, _ = reference(clip, fps, aligner)
        audio = prepare_audio(clip.audio, fc.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        n = min(len(feats), len(ref))
        ref = ref[:n]
        shapes = unpack_motion(generate(den, den.config, feats, stream, Steering("neutral"),
                                        seed=0)[:n])[0]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
