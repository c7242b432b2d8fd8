"""`vasa-bridge render`: animate one portrait with a motion track, to MP4, WebM or PNGs.

The lead wires it with one line in vasa_bridge/cli.py: `render_cli.add_cli(subparsers)`.
"""

from __future__ import annotations

import argparse
import sys

from ..face.portrait import PortraitConfig
from .base import RenderConfig


def add_cli(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "render", help="animate a portrait with a motion track (MP4, WebM with alpha, or PNGs)",
        description="Render a motion track (.npz/.json/.csv) on one portrait. Output by name: "
                    "OUT.mp4 (H.264 + AAC audio from the track), OUT.webm (VP9, alpha with "
                    "--alpha), or a directory / pattern like frames/%%05d.png (PNG sequence).")
    p.add_argument("--image", required=True, help="portrait: PNG, JPEG or WebP")
    p.add_argument("--motion", required=True, help="motion track file (.npz, .json or .csv)")
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
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..motion import io as motion_io
    from ..motion.conversions import resample
    from .video import output_spec, render_file

    portrait_config = PortraitConfig(size=args.size, crop=not args.no_crop, face_index=args.face)
    render_config = RenderConfig(alpha=args.alpha)
    output_spec(args.output, args.alpha)  # refuse a bad output before any work
    track = motion_io.load(args.motion)
    if args.fps is not None and args.fps != track.fps:
        track = resample(track, args.fps)
    print(f"render: {args.image} + {args.motion} ({len(track)} frames at {track.fps:g} fps, "
          f"audio: {'yes' if track.audio is not None else 'no'}) -> {args.output}; "
          f"{portrait_config}; {render_config}; backend={args.backend}", file=sys.stderr)
    n = render_file(args.image, track, args.output, portrait_config=portrait_config,
                    render_config=render_config, backend=args.backend, progress=not args.quiet)
    print(f"wrote {n} frames to {args.output}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry for local testing: python -m vasa_bridge.render.cli render ..."""
    from ..errors import VasaError

    parser = argparse.ArgumentParser(prog="vasa-bridge")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except VasaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
