"""`vasa-bridge render`: animate one portrait with a motion track, to MP4, WebM or PNGs."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..face.portrait import FRAMINGS, PortraitConfig
from ..render.base import RenderConfig
from .common import add_verbose, is_verbose, seed_value


def add_cli(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "render", help="animate a portrait with a motion track (MP4, WebM with alpha, or PNGs)",
        description="Render a motion track (.npz/.json/.csv) on one portrait. Output by name: "
                    "OUT.mp4 (H.264 + AAC audio from the track), OUT.webm (VP9, alpha with "
                    "--alpha), or a directory / pattern like frames/%%05d.png (PNG sequence).")
    p.add_argument("--image", default=None, help="portrait: PNG, JPEG or WebP (default: the "
                   "built-in sample portrait)")
    p.add_argument("--framing", choices=sorted(FRAMINGS), default="bust",
                   help="bust: head and shoulders (default); head: a tight crop of the head")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--motion", help="motion track file (.npz, .json or .csv)")
    src.add_argument("--audio", help="speech file (WAV/FLAC/OGG/MP3): baked to motion with the "
                                     "shipped model first, and muxed in as recorded: its own "
                                     "rate, mono or stereo (more channels mixed to mono)")
    p.add_argument("--emotion", default="neutral", help="with --audio: the emotion condition")
    p.add_argument("--seed", type=seed_value, default=0, help="with --audio: sampling seed")
    from .model import add_text_options
    add_text_options(p, "with --audio: ")
    p.add_argument("-o", "--output", required=True, help="OUT.mp4, OUT.webm, or a PNG dir/pattern")
    p.add_argument("--size", type=int, default=512, help="frame width in pixels, a multiple of 8 "
                   "up to 1024 (default 512)")
    p.add_argument("--fps", type=float, default=None, help="resample the track to this rate "
                   "(default: the track's own)")
    p.add_argument("--alpha", action="store_true", help="cut the person out on a soft alpha "
                   "(WebM or PNG)")
    p.add_argument("--face", type=int, default=None, help="which face when there are several "
                   "(0 = largest)")
    p.add_argument("--no-crop", action="store_true", help="keep the whole picture instead of a "
                   "head-and-shoulders crop")
    p.add_argument("--backend", choices=("cpu", "torch"), default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-label", action="store_true", help="leave out the visible "
                   "'AI-generated' mark (the invisible watermark is always there)")
    p.add_argument("--no-credentials", action="store_true", help="do not sign the file with "
                   "C2PA content credentials")
    p.add_argument("--cert", help="your PEM certificate chain for content credentials "
                   "(default: a local, untrusted identity)")
    p.add_argument("--key", help="the private key of --cert")
    add_verbose(p, "the portrait and renderer settings")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..motion import io as motion_io
    from ..motion.conversions import resample
    from ..render.video import output_spec, prepare_output, render_file

    portrait_config = PortraitConfig.framed(args.framing, size=args.size, crop=not args.no_crop,
                                            face_index=args.face)
    if args.image is None:
        from dataclasses import replace

        from ..samples import builtin_portrait
        args.image = str(builtin_portrait())
        # the built-in face's parted-lips smile is its known rest pose: no warning (as serve)
        portrait_config = replace(portrait_config, open_mouth_ok=True)
    render_config = RenderConfig(alpha=args.alpha)
    # Refuse a bad output (name, or a folder that cannot be created), a certificate C2PA will
    # not sign with and a photo with no usable face before any work (the bake takes seconds).
    prepare_output(output_spec(args.output, args.alpha))
    from .model import phones_config, text_from_args, transcript_config
    text = text_from_args(args)
    if text is not None and not args.audio:
        raise ConfigError("--text/--text-file go with --audio: a motion track already has its "
                          "mouth")
    from ..provenance.stamp import Stamp, StampConfig
    if bool(args.cert) != bool(args.key):
        raise ConfigError("--cert and --key go together: give both or neither")
    stamp = Stamp(StampConfig(label=not args.no_label, credentials=not args.no_credentials,
                              cert_chain=args.cert, private_key=args.key))
    stamp.check()
    if not args.no_label:  # a frame too small for the label: refused now, not after the bake
        from ..provenance.label import label
        label(np.zeros((args.size, args.size, 3), np.uint8))
    from ..face.portrait import analyse_portrait
    portrait = analyse_portrait(args.image, portrait_config)
    sound = None  # with --audio: the file's own sound, muxed instead of the model's 16 kHz mono
    if args.audio:
        from ..model.bake import BakeConfig, bake_file_sound
        from ..model.streaming import Steering
        bake_config = BakeConfig(steering=Steering(emotion=args.emotion), seed=args.seed,
                                 transcript=transcript_config(args), phones=phones_config(args))
        track, audio, rate = bake_file_sound(args.audio, bake_config, text=text)
        sound = (audio, rate)
    else:
        track = motion_io.load(args.motion)
    if args.fps is not None and args.fps != track.fps:
        track = resample(track, args.fps)
    with_sound = sound is not None or track.audio is not None
    print(f"render: {args.image} + {args.motion or args.audio} ({len(track)} frames at "
          f"{track.fps:g} fps, {'with' if with_sound else 'no'} sound) -> {args.output}; "
          f"watermark {stamp.payload}", file=sys.stderr)
    if is_verbose(args):
        print(f"render: {portrait_config}; {render_config}; backend={args.backend}",
              file=sys.stderr)
    n = render_file(portrait, track, args.output, portrait_config=portrait_config,
                    render_config=render_config, backend=args.backend, progress=not args.quiet,
                    stamp=stamp, sound=sound)
    print(f"wrote {n} frames to {args.output}", file=sys.stderr)
    return 0
