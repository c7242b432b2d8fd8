"""Motion model speed on ONNX Runtime with one CPU core (intra_op_num_threads=1), no torch.

- offline: real-time factor (compute time / audio duration) of the bake path: features + windows
  of 20 frames with 5 cross-faded + sampler, on held-out clips;
- streaming: the live setting (`streaming.LIVE`: one new frame per window): look-ahead in ms (from
  the config), compute per frame (mean, p95) against the 40 ms a frame lasts, and the output
  statistics next to offline's; seams at offline window boundaries;
- a table of sampler x steps: time (RTF) and quality (jawOpen r, mouth MAE, closure vs the
  teacher) on the same clips, so the speed/quality trade is read off one run.
The baseline in the same process is the audio itself (RTF = 1 is real time) and the feature
extraction alone.

    python bench/bench_model.py --data DATASET [--model model.onnx] [--clips 8]
Targets: offline RTF <= 0.1; streaming look-ahead <= 100 ms plus compute < one frame period.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from vasa_bridge.audio.features import extract, prepare_audio
from vasa_bridge.model.config import pack_motion, unpack_motion
from vasa_bridge.model.evaluate import _Acc, _loudness, _segments
from vasa_bridge.model.onnx_runtime import OnnxDenoiser
from vasa_bridge.model.phones import LivePhones, PhoneConfig, live_lookahead_s
from vasa_bridge.model.streaming import (LIVE, OFFLINE, MotionStream, Steering, StreamConfig,
                                         generate)


def load_clips(data: str, n: int, fc):
    from vasa_bridge.data.dataset import open_dataset
    ds = open_dataset(data, "validation")
    clips = []
    for i in range(min(n, len(ds))):
        c = ds[i]
        audio = prepare_audio(c.audio, c.sample_rate, fc)
        t = c.motion
        clips.append((audio, pack_motion(t.blendshapes, t.head_rotation, t.head_translation),
                      _segments(c.phonemes)))
    return clips


def run_offline(den, clips, stream: StreamConfig):
    fc = den.config.features
    acc = _Acc()
    t_feat = t_total = dur = 0.0
    for audio, teacher, segs in clips:
        t0 = time.perf_counter()
        feats = extract(audio, fc.sample_rate, fc)
        t1 = time.perf_counter()
        raw = generate(den, den.config, feats, stream, Steering("neutral"), seed=0)
        t2 = time.perf_counter()
        t_feat += t1 - t0
        t_total += t2 - t0
        dur += len(audio) / fc.sample_rate
        m = min(len(raw), len(teacher))
        shapes, rot, _ = unpack_motion(raw[:m])
        acc.add(shapes, rot, teacher[:m, :52], _loudness(audio, fc, m), segs, fc.fps)
    return t_total / dur, t_feat / dur, acc.result(fc.fps)


def run_streaming(den, clips, stream: StreamConfig, phones: PhoneConfig | None = None):
    """Per-frame compute of the live loop (with `phones`: the phone recogniser's share of each
    frame too, as `ModelEngine` runs it), and its output statistics next to offline's."""
    fc = den.config.features
    times, phone_times = [], []
    acc = _Acc()
    hop = fc.sample_rate * fc.hop_ms // 1000
    lookahead = live_lookahead_s(stream.lookahead_ms(den.config) / 1000.0, phones)  # as the engine
    for audio, teacher, segs in clips:
        ms = MotionStream(den, den.config, stream, Steering("neutral"), seed=0)
        heard = LivePhones(fc.fps, phones) if phones is not None else None
        feats = extract(audio, fc.sample_rate, fc)
        out = []
        for j in range(len(feats)):  # one feature frame arrives every 40 ms
            t0 = time.perf_counter()
            out.append(ms.push(feats[j:j + 1]))
            times.append(time.perf_counter() - t0)
            if heard is not None:  # the hop's audio in, the frame with its look-ahead out
                t0 = time.perf_counter()
                heard.push(audio[j * hop:(j + 1) * hop])
                k = int(np.floor(((j + 1) * hop / fc.sample_rate - lookahead) * fc.fps))
                if k >= 0:
                    heard.steer(np.zeros(52, np.float32), k)  # phones and heard aperture
                phone_times.append(time.perf_counter() - t0)
        out.append(ms.flush())
        raw = np.concatenate(out)
        m = min(len(raw), len(teacher))
        shapes, rot, _ = unpack_motion(raw[:m])
        acc.add(shapes, rot, teacher[:m, :52], _loudness(audio, fc, m), segs, fc.fps)
    t = np.array(times) * 1000
    if phone_times:
        t = t + np.array(phone_times) * 1000
    return float(t.mean()), float(np.percentile(t, 95)), acc.result(fc.fps), \
        np.array(phone_times) * 1000


def seams(den, clips, stream: StreamConfig) -> tuple[float, float]:
    """Mean frame-to-frame change (jaw + head, normalised) at window boundaries and elsewhere."""
    from vasa_bridge.model.config import normalise
    fc = den.config.features
    at, other = [], []
    for audio, _, _ in clips:
        raw = generate(den, den.config, extract(audio, fc.sample_rate, fc), stream, seed=0)
        d = np.abs(np.diff(normalise(raw, den.config), axis=0)).mean(axis=1)  # (T-1,)
        idx = np.arange(len(d))
        b = (idx % stream.hop) == stream.hop - 1  # change from the last frame of a window
        at.append(d[b])
        other.append(d[~b])
    return float(np.concatenate(at).mean()), float(np.concatenate(other).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset folder (validation split is used)")
    p.add_argument("--model", help="model.onnx (default: the shipped model)")
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--live-hop", type=int, default=LIVE.hop)
    p.add_argument("--live-overlap", type=int, default=LIVE.overlap)
    p.add_argument("--live-temperature", type=float, default=LIVE.temperature)
    p.add_argument("--live-mouth-temperature", type=float, default=LIVE.mouth_temperature)
    p.add_argument("--live-smooth", type=float, default=LIVE.smooth)
    p.add_argument("--live-redo", type=int, default=LIVE.redo)
    args = p.parse_args()
    den = OnnxDenoiser(args.model, threads=1)
    fc = den.config.features
    clips = load_clips(args.data, args.clips, fc)
    dur = sum(len(a) for a, _, _ in clips) / fc.sample_rate
    print(f"model {den.path} ({den.path.stat().st_size / 1e6:.1f} MB), {len(clips)} clips, "
          f"{dur:.1f} s audio, ONNX Runtime 1 thread")

    rtf, rtf_feat, q = run_offline(den, clips, OFFLINE)
    print(f"\noffline (hop {OFFLINE.hop}, overlap {OFFLINE.overlap}, {OFFLINE.sampler} "
          f"{OFFLINE.steps} steps, mouth temperature {OFFLINE.mouth_temperature}): RTF {rtf:.4f} "
          f"(features alone {rtf_feat:.4f}); jaw r {q['jaw_r']:.3f}")

    live = replace(LIVE, hop=args.live_hop, overlap=args.live_overlap,
                   temperature=args.live_temperature,
                   mouth_temperature=args.live_mouth_temperature, smooth=args.live_smooth,
                   redo=args.live_redo)
    mean_ms, p95_ms, ql, _ = run_streaming(den, clips, live)
    print(f"streaming (hop {live.hop}, overlap {live.overlap}, redo {live.redo}, smooth "
          f"{live.smooth}, temperature {live.temperature}/{live.mouth_temperature} (mouth), euler "
          f"{live.steps} steps): look-ahead "
          f"{live.lookahead_ms(den.config):.0f} ms + compute {mean_ms:.1f} ms mean, "
          f"{p95_ms:.1f} ms p95 per 40 ms frame (RTF {mean_ms / fc.hop_ms:.3f})")
    ph_mean, ph_p95, _, on_path = run_streaming(den, clips, live, PhoneConfig())
    print(f"streaming with the phone layer (as serve runs it, model/phones.py): compute "
          f"{ph_mean:.1f} ms mean, {ph_p95:.1f} ms p95 per 40 ms frame (model alone above: "
          f"x{ph_p95 / p95_ms:.2f} at p95)")
    # serve outputs each held frame before the model's work on the new audio (`settle`): the
    # phone layer is all of the motion on the sound-to-picture path
    print(f"  on the sound-to-picture path, the phone layer alone: {on_path.mean():.1f} ms mean, "
          f"{np.percentile(on_path, 95):.1f} ms p95 (the model runs after the picture)")
    no_mean, no_p95, _, _ = run_streaming(den, clips, live, PhoneConfig(acoustic_weight=0.0))
    print(f"  the same without the aperture heard frame by frame (model/acoustic_mouth.py): "
          f"{no_mean:.1f} ms mean, {no_p95:.1f} ms p95 (with it: x{ph_mean / no_mean:.2f} mean, "
          f"x{ph_p95 / no_p95:.2f} p95)")
    print("statistics      | jaw r | mouth MAE | closure | false seals | head deg/s | head std deg "
          "| blinks/min")
    for name, r in (("offline", q), ("streaming", ql)):
        print(f"{name:15s} | {r['jaw_r']:.3f} | {r['mouth_mae']:.4f}    | {r['closure_rate']:6.1%}"
              f"  | {r['false_seal_rate']:11.1%} | {r['head_speed_deg_s']:10.2f} | {r['head_rot_std_deg']:12.2f} | "
              f"{r['blinks_per_min']:.1f}")
    b, o = seams(den, clips, OFFLINE)
    print(f"seams (offline, hop 20): mean change at window boundaries {b:.4f} vs elsewhere "
          f"{o:.4f} (ratio {b / o:.2f})")

    print("\nsampler | steps | model calls/window | RTF offline | jaw r | mouth MAE | closure")
    for sampler, steps in [("euler", 2), ("euler", 4), ("euler", 6), ("euler", 10),
                           ("dpmpp2m", 2), ("dpmpp2m", 4), ("dpmpp2m", 6), ("heun", 3),
                           ("heun", 5)]:
        calls = 2 * steps - 1 if sampler == "heun" else steps
        rtf, _, q = run_offline(den, clips, replace(OFFLINE, steps=steps, sampler=sampler))
        print(f"{sampler:7s} | {steps:5d} | {calls:18d} | {rtf:11.4f} | {q['jaw_r']:.3f} | "
              f"{q['mouth_mae']:.4f}    | {q['closure_rate']:.1%}")


if __name__ == "__main__":
    main()
