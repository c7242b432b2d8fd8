"""`vasa-bridge train | export | bake | eval`: the motion model's commands. Each validates,
prints its resolved config (`bake`: only with -v) and calls one function."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys

from ..errors import ConfigError, DataError, not_a_file
from .common import add_verbose, counted, is_verbose, non_negative, seed_value
from .common import show_json as _show


def _gaze(text: str) -> tuple:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"gaze {text!r}: expected X,Y such as 0.3,-0.1")
    return (x, y)


def _guidance(items) -> tuple:
    out = []
    for item in items or ():
        name, _, value = item.partition("=")
        try:
            scale = float(value)
        except ValueError:
            raise ConfigError(f"--guidance {item!r}: expected NAME=SCALE such as "
                              f"emotion=2") from None
        if not math.isfinite(scale):
            raise ConfigError(f"--guidance {item!r}: expected a finite SCALE such as emotion=2")
        out.append((name, scale))
    return tuple(out)


def cmd_train(args) -> int:
    from ..model.config import ModelConfig
    from ..model.train import TrainConfig, load_corpus, train

    model = ModelConfig(layers=args.layers, width=args.width, heads=args.heads,
                        context=args.context, max_window=args.window, seal=args.seal)
    from ..model.windows import DropoutConfig
    tc = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr,
                     dropout=DropoutConfig(context_noise=args.context_noise,
                                           context_jitter=args.context_jitter),
                     max_minutes=args.minutes or 0.0, threads=args.threads, device=args.device,
                     seed=args.seed, eval_every=args.eval_every, closure=args.closure,
                     short_windows=args.short_windows, seal=args.seal_weight,
                     init=args.init or "", only=args.only or "",
                     seal_events=args.seal_events, band_shift=args.band_shift,
                     feature_noise=args.feature_noise)
    _show("train", {"data": args.data, "out": args.out, "train": dataclasses.asdict(tc),
                    "model": model.as_dict() | {"motion_mean": "(from data)",
                                                "motion_std": "(from data)"}})
    # Every folder's clips (a repeated --data used only the last folder, silently).
    train_clips = [c for d in args.data
                   for c in load_corpus(d, "train", model, args.limit, progress=True)]
    val_clips = [c for d in args.data
                 for c in load_corpus(d, "validation", model, args.limit, progress=True)]
    print(f"[train] {len(train_clips)} training and {len(val_clips)} validation clips from "
          f"{counted(len(args.data), 'folder')}", file=sys.stderr)
    result = train(train_clips, val_clips, model, tc, args.out, resume=not args.restart)
    print(f"[train] done: {result['steps']} steps, checkpoint {result['checkpoint']}",
          file=sys.stderr)
    return 0


def _languages(text: str) -> tuple:
    from ..data.text import LANGUAGES
    langs = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in langs if x not in LANGUAGES]
    if not langs or bad:
        raise DataError(f"--languages {text!r}: expected comma-separated codes from "
                        f"{list(LANGUAGES)}")
    return langs


def cmd_train_mouth(args) -> int:
    from ..model.acoustic_mouth import MouthTrainConfig, train_acoustic_mouth
    config = MouthTrainConfig(data=tuple(args.data), out=args.out,
                              exclude_speakers=tuple(args.exclude_speaker or ()),
                              languages=_languages(args.languages), epochs=args.epochs,
                              seed=args.seed, workers=args.workers, cache=args.cache)
    _show("train-mouth", dataclasses.asdict(config))
    result = train_acoustic_mouth(config, progress=not args.no_progress)
    print(f"[train-mouth] {result['out']}: {result['clips']} clips, {result['frames']} frames, "
          f"loss {result['loss']:.4f}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from ..model.export import export_run
    _show("export", {"run": args.run, "out": args.output, "tolerance": args.tolerance,
                     "seal_bias": args.seal_bias})
    info = export_run(args.run, args.output, args.tolerance, args.seal_bias)
    print(f"[export] {info['path']}: {info['bytes'] / 1e6:.2f} MB, step {info['step']}, "
          f"ONNX vs torch max |diff| {info['max_abs_diff']:.2e}", file=sys.stderr)
    return 0


def _bake_config(args):
    from dataclasses import replace

    from ..model.bake import BakeConfig
    from ..model.streaming import OFFLINE, Steering

    return BakeConfig(model=args.model,
                      stream=replace(OFFLINE, hop=args.hop, overlap=args.overlap,
                                     steps=args.steps, sampler=args.sampler,
                                     guidance=_guidance(args.guidance),
                                     temperature=args.temperature,
                                     mouth_temperature=args.mouth_temperature),
                      steering=Steering(emotion=args.emotion, gaze=args.gaze,
                                        intensity=args.intensity),
                      seed=args.seed, threads=args.threads, keep_audio=not args.no_audio,
                      transcript=transcript_config(args), phones=phones_config(args))


def cmd_bake(args) -> int:
    from . import batch as batch_cli
    from ..model.bake import bake_file

    if args.manifest:
        if args.text is not None or args.text_file is not None:
            raise ConfigError("--text/--text-file are for one --audio file: a manifest gives "
                              "each line its words in its `text` field")
        return batch_cli.cmd_batch(args, _bake_config(args), _show if is_verbose(args) else None)
    batch_cli.refuse_batch_options(args)
    _check_output_file(args.output)
    text = text_from_args(args)
    config = _bake_config(args)
    shown = None if text is None else text if len(text) <= 60 else text[:60] + "..."
    if is_verbose(args):
        _show("bake", {"audio": args.audio, "out": args.output, "text": shown,
                       **dataclasses.asdict(config)})
    else:  # what a user chose; -v shows every setting
        words = "from the audio" if text is None else f"{len(text.split())} words given"
        print(f"[bake] {args.audio} -> {args.output} (emotion {config.steering.emotion}, "
              f"seed {config.seed}, mouth {words})", file=sys.stderr)
    track = bake_file(args.audio, args.output, config, text=text)
    print(f"[bake] {args.output}: {len(track)} frames at {track.fps:g} fps "
          f"({len(track) / track.fps:.2f} s)", file=sys.stderr)
    return 0


def _check_output_file(output) -> None:
    """Refuse an -o that cannot be written before the bake, not after it."""
    from pathlib import Path

    from ..errors import check_writable
    path = Path(output)
    if path.is_dir():
        raise ConfigError(f"output {str(path)!r} is a folder: expected a file name such as "
                          f"line.npz")
    folder = path.parent if str(path.parent) else Path(".")
    if folder.is_dir():
        check_writable(folder)


def text_from_args(args) -> str | None:
    """--text or --text-file -> the transcript (None: neither), checked for length."""
    from pathlib import Path

    from ..model.transcript import MAX_FILE_TEXT_CHARS, check_text
    if args.text is not None and args.text_file is not None:
        raise ConfigError("--text and --text-file both given: expected one of them")
    if args.text_file is None:
        if args.text is None:
            return None
        if not args.text.strip():  # as the control channel's speak: an empty variable in a script
            raise ConfigError("--text is blank: expected the words spoken (or no --text)")
        return check_text(args.text, MAX_FILE_TEXT_CHARS)
    path = Path(args.text_file)
    if not path.is_file():
        raise ConfigError(f"--text-file {str(path)!r} {not_a_file(path)}: expected a UTF-8 "
                          f"text file with the words spoken")
    try:
        text = check_text(path.read_text(encoding="utf-8"), MAX_FILE_TEXT_CHARS)
        if not text.strip():
            raise ConfigError("it holds no words: expected the words spoken")
        return text
    except ConfigError as e:  # too long: say which file
        raise ConfigError(f"--text-file {str(path)!r}: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--text-file {str(path)!r} is not UTF-8 text: expected the words "
                          f"spoken") from None


def add_text_options(parser, what: str = "") -> None:
    """--text, --text-file, --language, --min-fit (read back with `text_from_args` and
    `transcript_config`)."""
    from ..model.transcript import MIN_FIT
    parser.add_argument("--text", help=f"{what}the words spoken: their forced alignment drives "
                                       f"the mouth (English; falls back to the audio with a "
                                       f"warning when the words do not fit)")
    parser.add_argument("--text-file", metavar="FILE", help="the same, from a UTF-8 text file")
    parser.add_argument("--language", default="en",
                        help="language spoken (default en). English: the phones heard in the "
                             "voice steer the mouth, and --text is aligned; others: the "
                             "model's mouth alone, and --text is ignored with a warning")
    parser.add_argument("--no-phones", action="store_true",
                        help="the model's mouth alone: do not let the phones recognised in the "
                             "voice steer it")
    parser.add_argument("--min-fit", type=float, default=MIN_FIT, metavar="SCORE",
                        help=f"alignment score per speech frame below which the text is taken "
                             f"not to fit the audio (default {MIN_FIT:g}, calibrated on real "
                             f"voices; formant voices such as espeak-ng score about -40 with the "
                             f"right words)")


def transcript_config(args):
    from ..model.transcript import MAX_FILE_TEXT_CHARS, TranscriptConfig
    return TranscriptConfig(language=args.language, min_fit=args.min_fit,
                            max_chars=MAX_FILE_TEXT_CHARS)


def phones_config(args):
    """The phone layer `--language` and `--no-phones` ask for (None: off)."""
    from ..model.phones import phones_for
    return phones_for(args.language, not args.no_phones)


def cmd_eval(args) -> int:
    if args.real:
        return cmd_eval_real(args)
    if not args.data:
        raise SystemExit("eval: expected --data DATASET (held-out synthetic voices) or --real "
                         "(real recordings from Debian packages)")
    from ..model.evaluate import EvalConfig, evaluate, format_table
    from ..model.streaming import OFFLINE
    OFFLINE_GUIDANCE = OFFLINE.guidance
    config = EvalConfig(data=args.data, model=args.model, split=args.split, limit=args.limit,
                        start=args.start, unseen_text=tuple(args.unseen_text),
                        seeds=args.seeds, steps=args.steps,
                        guidance=_guidance(args.guidance) or OFFLINE_GUIDANCE,
                        temperature=args.temperature, mouth_temperature=args.mouth_temperature,
                        phones=not args.no_phones)
    _show("eval", config)
    result = evaluate(config)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


def cmd_eval_real(args) -> int:
    from ..model.realvoice import RealEvalConfig, evaluate_real, format_real
    from ..model.phones import phones_for
    config = RealEvalConfig(model=args.model, phones=phones_for("en", not args.no_phones))
    _show("eval --real", config)
    result = evaluate_real(config, progress=True)
    print(format_real(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


def _temperature_args(parser, stream) -> None:
    parser.add_argument("--temperature", type=non_negative, default=stream.temperature,
                        help="start-noise scale: take-to-take variety (0 = none)")
    parser.add_argument("--mouth-temperature", type=non_negative,
                        default=stream.mouth_temperature,
                        help="the same for the jaw and lips (default: as shipped, "
                             f"{stream.mouth_temperature})")


def add_cli(subparsers) -> None:
    """Register train, export, bake and eval on an argparse subparsers object."""
    from ..model.config import EMOTIONS, ModelConfig
    from ..model.sampling import SAMPLERS
    from ..model.streaming import OFFLINE
    d = ModelConfig()

    t = subparsers.add_parser("train", help="train the audio-to-motion model on a dataset")
    t.add_argument("--data", required=True, action="append",
                   help="dataset folder (vasa-bridge dataset synth, aligned, video); repeat it "
                        "to train on several (a synthetic corpus and your own recordings)")
    t.add_argument("--out", required=True, help="run folder (checkpoint.pt, config, history)")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=6e-4)
    t.add_argument("--minutes", type=float, help="stop and checkpoint after this wall time")
    t.add_argument("--layers", type=int, default=d.layers)
    t.add_argument("--width", type=int, default=d.width)
    t.add_argument("--heads", type=int, default=d.heads)
    t.add_argument("--context", type=int, default=d.context, help="frames of previous motion")
    t.add_argument("--window", type=int, default=d.max_window, help="longest window, frames")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--short-windows", type=float, default=0.0,
                   help="share of batches with 1-3 frame windows (live streaming)")
    t.add_argument("--context-noise", type=float, default=0.0,
                   help="share of windows with a perturbed context (against streaming drift)")
    t.add_argument("--context-jitter", type=float, default=0.05,
                   help="per-frame std of that perturbation (normalised units)")
    t.add_argument("--closure", type=float, default=0.0,
                   help="weight of the lip-aperture loss (/p b m/ closures)")
    t.add_argument("--seal", type=int, default=d.seal,
                   help="width of the lip-seal head (0 = none): closes the lips on /p b m/")
    t.add_argument("--seal-weight", type=float, default=1.0,
                   help="weight of the seal head's cross-entropy")
    t.add_argument("--seal-events", type=float, default=0.0,
                   help="extra weight of brief closures (/p b m/) for the seal head")
    t.add_argument("--init", help="start a new run from this run's weights, or from an "
                                  "exported model.onnx (fine-tuning; its motion statistics are "
                                  "kept)")
    t.add_argument("--only", help="train only parameters whose names start with this, e.g. "
                                  "net.seal_head (the rest stays as --init left it)")
    t.add_argument("--band-shift", type=int, default=0,
                   help="augmentation: shift each window's mel bands by up to N (new voices)")
    t.add_argument("--feature-noise", type=float, default=0.0,
                   help="augmentation: noise std on the normalised log-mel")
    t.add_argument("--limit", type=int, help="use only the first N clips of each split")
    t.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=cmd_train)

    m = subparsers.add_parser("train-mouth", help="train the live mouth's acoustic head (the lip "
                              "aperture from pocketsphinx's phone posteriors) on speech clips")
    m.add_argument("--data", required=True, action="append",
                   help="dataset folder (repeat for more); its train clips in --languages "
                        "are used")
    m.add_argument("--languages", default="en",
                   help="comma-separated languages of the clips used (default en; e.g. en,it: "
                        "the Italian festival voices add two real speakers)")
    m.add_argument("--out", required=True, help=".npz to write (the shipped one: "
                                                "vasa_bridge/assets/model/acoustic_mouth.npz)")
    m.add_argument("--exclude-speaker", action="append",
                   help="leave this speaker out (e.g. festival:slt, to judge the head by)")
    m.add_argument("--epochs", type=int, default=10)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--workers", type=int, default=2, help="processes scoring the clips")
    m.add_argument("--cache", help="folder keeping each dataset's scored clips: a later run "
                                   "with the same dataset scores only the others")
    m.add_argument("--no-progress", action="store_true")
    m.set_defaults(func=cmd_train_mouth)

    e = subparsers.add_parser("export", help="export a trained run to ONNX (config inside)")
    e.add_argument("run", help="run folder or checkpoint.pt")
    e.add_argument("-o", "--output", required=True, help="model.onnx")
    e.add_argument("--tolerance", type=float, default=1e-3,
                   help="max |ONNX - torch| accepted (default 1e-3)")
    e.add_argument("--seal-bias", type=float,
                   help="lip-seal head bias (default: the run's): below 0 seals less readily")
    e.set_defaults(func=cmd_export)

    b = subparsers.add_parser("bake", help="speech file (or a manifest of voice lines) -> motion "
                                           "track(s) (ONNX Runtime)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--audio", help="WAV, FLAC, OGG or MP3, any rate")
    src.add_argument("--manifest", help="lines.csv, lines.jsonl or a folder of audio files: bake "
                                        "every line (docs/games.md)")
    b.add_argument("-o", "--output", required=True,
                   help="TRACK.npz|.json|.vasatrack|.vasab|.csv (with --manifest: the output "
                        "folder)")
    b.add_argument("--model", help="model.onnx (default: the shipped model)")
    b.add_argument("--emotion", default="neutral", choices=EMOTIONS)
    b.add_argument("--gaze", type=_gaze, help="X,Y in [-1,1]: x to the viewer's right, y up")
    b.add_argument("--intensity", type=float, help="head motion, 1 = average, 0 = still")
    b.add_argument("--seed", type=seed_value, default=0)
    b.add_argument("--steps", type=int, default=OFFLINE.steps)
    b.add_argument("--sampler", default=OFFLINE.sampler, choices=sorted(SAMPLERS))
    b.add_argument("--hop", type=int, default=OFFLINE.hop, help="frames per window")
    b.add_argument("--overlap", type=int, default=OFFLINE.overlap, help="cross-faded frames")
    b.add_argument("--guidance", nargs="*", metavar="NAME=SCALE",
                   help="per-condition guidance, e.g. emotion=2 gaze=1.5")
    b.add_argument("--threads", type=int, default=1)
    add_text_options(b)
    b.add_argument("--no-audio", action="store_true",
                   help="leave the audio out of .npz tracks (games ship it separately)")
    _temperature_args(b, OFFLINE)
    add_verbose(b)
    from . import batch as batch_cli
    batch_cli.add_options(b)
    b.set_defaults(func=cmd_bake)

    v = subparsers.add_parser("eval", help="lip, head and blink metrics on held-out voices")
    v.add_argument("--data", help="dataset folder (held-out synthetic voices)")
    v.add_argument("--real", action="store_true",
                   help="real recorded voices from Debian packages (alsa-utils, "
                        "pocketsphinx-testdata) against the teacher on their forced alignment: "
                        "the model offline and live, and the loudness baseline")
    v.add_argument("--model", help="model.onnx (default: the shipped model)")
    v.add_argument("--no-phones", action="store_true",
                   help="measure the model's mouth alone (by default the model rows are what "
                        "bake and serve make: with the phones heard in English voices, and a "
                        "'model alone' row beside)")
    v.add_argument("--split", default="validation")
    v.add_argument("--limit", type=int, default=40, help="clips to evaluate")
    v.add_argument("--start", type=int, default=0, help="first clip to evaluate")
    v.add_argument("--unseen-text", nargs="*", default=[], metavar="DATASET",
                   help="skip clips whose sentence occurs in these datasets' train splits")
    v.add_argument("--seeds", type=int, default=3, help="seeds per clip (head spread)")
    v.add_argument("--steps", type=int, default=OFFLINE.steps)
    _temperature_args(v, OFFLINE)
    v.add_argument("--guidance", nargs="*", metavar="NAME=SCALE",
                   help="per-condition guidance (default: as bake)")
    v.add_argument("--json", help="also write the numbers here")
    v.set_defaults(func=cmd_eval)
