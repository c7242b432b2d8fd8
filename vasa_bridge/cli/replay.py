"""`vasa-bridge replay`: publish a motion track at real-time pace."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..protocol import wire
from ..transport.endpoints import DEFAULT_PUB
from .common import counted, show, stop_on_signals
from .options import add_output_options, sinks_from_args


def add_cli(subparsers) -> argparse.ArgumentParser:
    r = subparsers.add_parser("replay", help="publish a motion track at real-time pace")
    r.add_argument("track", nargs="?", help="TRACK.npz|.json|.csv (default: the built-in example)")
    r.add_argument("--pub", default=DEFAULT_PUB, help=f"publish endpoint (default {DEFAULT_PUB})")
    r.add_argument("--fps", type=float, help="resample the track to this rate first")
    r.add_argument("--loop", action="store_true", help="start again at the end (Ctrl-C stops)")
    r.add_argument("--stream", default=wire.DEFAULT_STREAM, help="stream id (default: default)")
    r.add_argument("--wait", type=int, default=0, metavar="N",
                   help="wait (up to 10 s) for N subscriptions before the first frame")
    add_output_options(r)
    r.set_defaults(func=run)
    return r


def run(args: argparse.Namespace) -> int:
    from ..motion.io import load
    from ..transport.replay import ReplayConfig, capabilities, replay
    from ..samples import example_track_path
    from ..transport import Publisher, PublisherConfig

    track = load(args.track or example_track_path())
    config = ReplayConfig(stream=wire.check_stream(args.stream), fps=args.fps, loop=args.loop,
                          wait_subscribers=args.wait)
    pub_config = PublisherConfig(endpoint=args.pub, capabilities=capabilities(track),
                                 extra_hello=(("fps", config.fps or track.fps),))
    show("replay", {"track": args.track or "(built-in example)", "frames": len(track),
                    "track_fps": track.fps, "audio": track.audio is not None,
                    **dataclasses.asdict(config), "pub": args.pub})
    stop = stop_on_signals()
    sinks = sinks_from_args(args)  # VMC and VTube Studio, when asked for
    try:
        with Publisher(pub_config) as pub:
            print(f"[replay] publishing on {pub.endpoint}", file=sys.stderr, flush=True)
            if config.wait_subscribers:  # silence here looked like a hang
                n = config.wait_subscribers
                print(f"[replay] waiting up to {config.wait_timeout_s:g} s for "
                      f"{counted(n, 'subscription')} on {pub.endpoint} before the first "
                      f"frame (connect a subscriber, e.g. `vasa-bridge listen --sub "
                      f"{pub.endpoint}`; Ctrl-C stops)", file=sys.stderr, flush=True)
            result = replay(track, pub, config, sinks=sinks, stop=stop)
            print(f"[replay] {result.frames} frames, {result.audio_samples} audio samples, "
                  f"{result.late_frames} late; sent {dict(pub.stats.sent)}", file=sys.stderr)
    finally:
        for sink in sinks:
            sink.close()
    return 0
