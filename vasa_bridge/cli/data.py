"""`vasa-bridge dataset synth | aligned | video | stats`: validate, print the resolved config,
call one library function."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from ..data.engines import DEFAULT_ENGINES, ENGINES
from ..data.teacher import TeacherConfig
from ..data.text import LANGUAGES
from .common import counted


def add_cli(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("dataset", help="build motion training data (speech + teacher)",
                              description="Build and inspect motion training datasets "
                                          "(docs/data.md).")
    sub = p.add_subparsers(dest="dataset_command", required=True, metavar="SUBCOMMAND")

    s = sub.add_parser("synth", help="synthesise a speech corpus with teacher motion")
    s.add_argument("--hours", type=float, required=True, help="hours of audio to generate")
    s.add_argument("--out", required=True, help="dataset folder (rerun to resume)")
    s.add_argument("--languages", default="en",
                   help=f"comma-separated, from {','.join(LANGUAGES)} (default en)")
    s.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                   help=f"comma-separated, from {','.join(ENGINES)} (default "
                        f"{','.join(DEFAULT_ENGINES)})")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--fps", type=float, default=25.0, help="motion frames per second")
    s.add_argument("--workers", type=int, default=2, help="processes")
    s.add_argument("--validation-fraction", type=float, default=0.1,
                   help="share of speakers held out")
    s.add_argument("--capture-chain", type=float, default=0.0,
                   help="share of augmented clips given a real capture chain (microphone, room, "
                        "MP3/AAC/Opus, noise, level), for models that must hold on real voices")
    s.add_argument("--more-voices", action="store_true",
                   help="also the voices added since the documented corpora (festival ked, "
                        "festvox-kdlpc16k); they change which speakers a seed holds out")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_synth)

    a = sub.add_parser("aligned", help="align a recording to its transcript (pocketsphinx) and "
                                       "add teacher motion")
    a.add_argument("audio", help="recording (wav, flac, ogg), any rate; mixed to mono 16 kHz")
    a.add_argument("text", help="text file with what is said (English)")
    a.add_argument("--out", required=True, help="dataset folder (appends)")
    a.add_argument("--speaker", default="user", help="speaker name (the split key)")
    a.add_argument("--split", default="train", choices=("train", "validation"))
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--fps", type=float, default=25.0)
    a.add_argument("--max-clip", type=float, default=12.0, help="seconds per clip at most")
    a.add_argument("--min-fit", type=float, default=-25.0, metavar="SCORE",
                   help="alignment score per speech frame under which the transcript is "
                        "refused as not what is said (default -25; right transcripts of real "
                        "voices score -13 or above, formant voices such as espeak-ng about -40)")
    a.set_defaults(func=_aligned)

    v = sub.add_parser("video", help="extract motion from talking videos (face mesh + solver)")
    v.add_argument("clips", nargs="+", help="video files with sound (mp4, mov, mkv, webm)")
    v.add_argument("--out", required=True, help="dataset folder (appends; a video already there "
                                                "is skipped)")
    v.add_argument("--speaker", default=None, help="speaker name, the split key (default: each "
                                                   "file's stem)")
    v.add_argument("--split", default="train", choices=("train", "validation"))
    v.add_argument("--language", default="und", help="language spoken (BCP-47; default und)")
    v.add_argument("--fps", type=float, default=25.0, help="motion frames per second")
    v.add_argument("--neutral-percentile", type=float, default=10.0,
                   help="the mouth's rest = this percentile of its opening (docs/data.md)")
    v.add_argument("--smooth", type=float, default=0.2,
                   help="Savitzky-Golay window in seconds (0 = none)")
    v.add_argument("--no-progress", action="store_true")
    v.set_defaults(func=_video)

    t = sub.add_parser("stats", help="hours, clips, phoneme coverage, blendshape ranges")
    t.add_argument("dir")
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.set_defaults(func=_stats)
    return p


def _list(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


def _synth(args) -> int:
    from ..data.synth import SynthConfig, synth_dataset
    config = SynthConfig(out=args.out, hours=args.hours, languages=_list(args.languages),
                         engines=_list(args.engines), seed=args.seed, fps=args.fps,
                         workers=args.workers, validation_fraction=args.validation_fraction,
                         capture_chain=args.capture_chain, more_voices=args.more_voices,
                         teacher=TeacherConfig(fps=args.fps))
    print("dataset synth:", json.dumps({k: v for k, v in asdict(config).items()}))
    summary = synth_dataset(config, progress=not args.no_progress)
    print(f"{args.out}: {summary['clips']} clips, {summary['hours']:.3f} h "
          f"({summary['made']} made, {summary['skipped']} already there); validation speakers "
          f"{', '.join(summary['validation_speakers'])}")
    return 0


def _aligned(args) -> int:
    from ..data.align import AlignConfig, build_aligned
    teacher = TeacherConfig(fps=args.fps)
    config = AlignConfig(max_clip_s=args.max_clip, min_fit=args.min_fit)
    print("dataset aligned:", json.dumps({"audio": args.audio, "text": args.text,
                                          "out": args.out, "speaker": args.speaker,
                                          "split": args.split, "align": asdict(config),
                                          "teacher": asdict(teacher)}))
    r = build_aligned(args.audio, args.text, args.out, speaker=args.speaker, split=args.split,
                      seed=args.seed, teacher=teacher, config=config)
    if r["skipped"]:
        print(f"{args.audio}: already in {args.out} (speaker {r['speaker']!r}, {r['split']} "
              f"split), skipped")
        return 0
    print(f"{args.out}: added {counted(r['clips'], 'clip')}, {r['seconds']:.1f} s (alignment score "
          f"{r['fit']:.1f} per frame)")
    if r["guessed"]:
        print(f"pronounced by espeak-ng's rules (not in the CMU dictionary): "
              f"{', '.join(r['guessed'])}")
    if r["left_out"]:
        t0, t1 = r["left_out"][0]
        print(f"left out {len(r['left_out'])} clip(s), "
              f"{sum(b - a for a, b in r['left_out']):.1f} s, with speech the transcript has no "
              f"words for (the first {t0:.1f}-{t1:.1f} s): add the missing words to the "
              f"transcript to keep them", file=sys.stderr)
    return 0


def _video(args) -> int:
    from ..data.video import VideoConfig, build_video
    config = VideoConfig(fps=args.fps, neutral_percentile=args.neutral_percentile,
                         smooth_s=args.smooth)
    print("dataset video:", json.dumps({"clips": args.clips, "out": args.out,
                                        "speaker": args.speaker, "split": args.split,
                                        "language": args.language, "video": asdict(config)}))
    r = build_video(args.clips, args.out, speaker=args.speaker, split=args.split,
                    language=args.language, config=config, progress=not args.no_progress)
    print(f"{args.out}: added {counted(r['clips'], 'clip')}, {r['seconds']:.1f} s from "
          f"{counted(r['videos'], 'video')} ({r['skipped']} already there)")
    return 0


def _stats(args) -> int:
    from ..data.stats import dataset_stats, format_stats
    s = dataset_stats(args.dir)
    print(json.dumps(s, indent=1) if args.json else format_stats(s))
    return 0
