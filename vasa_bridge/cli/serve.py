"""`vasa-bridge serve`: options -> SessionConfig -> Session -> run until Ctrl-C
(vasa_bridge/session.py starts and stops everything)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from ..errors import ConfigError
from ..protocol import wire
from ..runtime.serve import EMOTIONS, ServeConfig
from ..transport.endpoints import DEFAULT_CONTROL, DEFAULT_HTTP, DEFAULT_PUB
from .common import add_verbose, is_verbose, stop_on_signals
from .options import add_control_options, add_output_options, control_config, output_configs
from .web import add_serve_options


def add_cli(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="speech in, a live face out: motion, frames and audio "
                                            "over ZeroMQ")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mic", nargs="?", const="default", metavar="DEVICE",
                     help="capture from a microphone (index or name; default device if none)")
    src.add_argument("--audio", metavar="FILE", help="play a speech file at real-time pace")
    p.add_argument("--hear-ahead", type=float, metavar="SECONDS",
                   help="with --mic: the face (and its sound) this many seconds behind the "
                        "voice (at most 4), so each phrase's words are heard before it plays "
                        "and give its mouth (real voices: much closer lips than live, at the "
                        "cost of the delay; docs/model.md)")
    p.add_argument("--audio-in", nargs="?", const="tcp://127.0.0.1:5557", metavar="ENDPOINT",
                   help="also take clips pushed over ZeroMQ (PUSH, wire 'audio' messages; "
                        "default tcp://127.0.0.1:5557); the stream id picks the face; with "
                        "--curve-secret/--curve-allowed only listed clients can push")
    p.add_argument("--list-devices", action="store_true", help="list capture devices and exit")
    p.add_argument("--image", help="portrait (default: the built-in sample portrait)")
    p.add_argument("--pub", default=DEFAULT_PUB, help=f"data endpoint (default {DEFAULT_PUB})")
    p.add_argument("--control", default=DEFAULT_CONTROL,
                   help=f"control endpoint (default {DEFAULT_CONTROL}); 'none' disables it")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback control endpoint without authentication")
    p.add_argument("--curve-data", action="store_true",
                   help="secure the data endpoint too, with the control channel's CURVE keys "
                        "(--curve-secret, --curve-allowed): only allowed subscribers receive")
    p.add_argument("--fps", type=float, default=25.0, choices=(25.0, 30.0, 60.0))
    p.add_argument("--size", type=int, default=512, help="frame width, multiple of 8, <= 1024")
    p.add_argument("--framing", choices=("bust", "head"), default="bust",
                   help="bust: head and shoulders (default); head: a tight crop of the head "
                        "(load_portrait may ask for another)")
    p.add_argument("--alpha", action="store_true", help="RGBA frames with the person cut out")
    p.add_argument("--no-frames", action="store_true", help="motion and audio only")
    p.add_argument("--emotion", default="neutral", choices=EMOTIONS)
    p.add_argument("--motion", default="model", choices=("model", "loudness"),
                   help="motion engine: the diffusion model (default), or loudness (mouth from "
                        "loudness only: the baseline PNGTuber apps use)")
    p.add_argument("--model", metavar="ONNX", help="a model from `vasa-bridge export` "
                                                   "(default: the one shipped in the package)")
    p.add_argument("--threads", type=int, default=1,
                   help="ONNX Runtime threads for the model (default 1)")
    p.add_argument("--language", default="en",
                   help="language spoken (default en). English: the phones heard in the voice "
                        "steer the mouth; others: the model's mouth alone")
    p.add_argument("--no-phones", action="store_true",
                   help="the model's mouth alone: do not let the phones recognised in the voice "
                        "steer it")
    p.add_argument("--npc-phone-loop", action="store_true",
                   help="NPC lines: hear their phones only (~0.04 x a line's length before it is "
                        "queued) instead of recognising their words (~0.2 x); the lips are less "
                        "exact on real voices (docs/model.md). Lines sent with their text are "
                        "aligned to it either way")
    p.add_argument("--label", action="store_true", help="draw a visible 'AI-generated' mark")
    p.add_argument("--stream", default=wire.DEFAULT_STREAM, help="the main face's stream id")
    p.add_argument("--once", action="store_true", help="with --audio: stop when the file ends")
    p.add_argument("--virtualcam", nargs="?", const="", metavar="DEVICE",
                   help="also show the face as a webcam (pyvirtualcam; optional device name)")
    add_control_options(p)
    add_output_options(p)
    add_serve_options(p)
    p.add_argument("--no-http", action="store_true",
                   help="no web panel (it is on by default, on 127.0.0.1:8765)")
    p.add_argument("--no-browser", action="store_true",
                   help="do not open the panel in a browser (opened only on a desktop session "
                        "started from a terminal)")
    p.add_argument("--no-greeting", action="store_true",
                   help="the built-in face does not say hello at start")
    p.add_argument("--no-portrait-cache", action="store_true",
                   help="analyse the portrait again instead of reading the cache "
                        "($XDG_CACHE_HOME/vasa-bridge: portraits/ and geometry/)")
    p.add_argument("--status", action="store_true",
                   help="print a live status line (fps, latency, audio-to-picture delay, drops)")
    add_verbose(p, "the resolved config, the native libraries' logs")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        return list_devices()
    from ..session import Session

    config = session_config(args)
    verbose = is_verbose(args)
    if not verbose:  # the ready line says what matters; --verbose shows the rest
        logging.getLogger("vasa_bridge").setLevel(logging.WARNING)
    with Session(config) as session:
        if verbose:
            print("[serve] " + " ".join(f"{k}={v}" for k, v in
                                        dataclasses.asdict(config.serve).items()),
                  file=sys.stderr)
        session.run(stop_on_signals())
    return 0


def list_devices() -> int:
    """`--list-devices`: the capture devices, "index: name" a line; none is an error that says
    why (what PortAudio and the sound stack show) and what to do next."""
    from ..audio.sources import AudioDeviceError, capture_facts, list_input_devices, why_no_input
    devices = list_input_devices()
    if not devices:
        raise AudioDeviceError(f"no audio input device found: "
                               f"{'; '.join(why_no_input(capture_facts()))}, or use --audio FILE")
    for i, name in devices:
        print(f"{i}: {name}")
    return 0


def session_config(args: argparse.Namespace):
    """The SessionConfig the parsed options ask for (validated by SessionConfig itself)."""
    from ..session import PanelConfig, PortraitSetup, SessionConfig

    serve = ServeConfig(fps=args.fps, frames=not args.no_frames, alpha=args.alpha,
                        stream=args.stream, emotion=args.emotion,
                        stop_after_source=bool(args.once))
    panel = None
    if not args.no_http:  # on by default; the default address may be taken (then it stays off)
        panel = PanelConfig(http=args.http or DEFAULT_HTTP, explicit=args.http is not None,
                            token=args.http_token, alpha_codec=args.alpha_codec,
                            open_browser=_should_open_browser(args))
    control = (None if args.control == "none"
               else control_config(args, args.control, args.insecure))
    data_curve = None
    if args.curve_data:
        if not (args.curve_secret and args.curve_allowed):
            raise ConfigError("--curve-data needs --curve-secret and --curve-allowed (the "
                              "keys from `vasa-bridge keys`)")
        data_curve = (args.curve_secret, args.curve_allowed)
    source = args.audio is not None or args.mic is not None
    return SessionConfig(
        serve=serve, pub=args.pub, control=control, data_curve=data_curve,
        audio_in=args.audio_in, insecure=args.insecure, audio=args.audio, mic=args.mic,
        hear_ahead=args.hear_ahead,
        motion=args.motion, model=args.model, threads=args.threads,
        phones=_phones(args),
        portrait=PortraitSetup(image=args.image, size=args.size, framing=args.framing,
                               cache=not args.no_portrait_cache, label=args.label),
        outputs=output_configs(args), virtualcam=args.virtualcam, panel=panel,
        greeting=not args.no_greeting and args.image is None and not source,
        status=args.status, started=getattr(args, "started", None))


def _phones(args: argparse.Namespace):
    """The phone layer: off with --no-phones or a language without a recogniser; with
    --npc-phone-loop, baked NPC lines hear the phone loop, not words (live streams always do)."""
    import dataclasses
    from ..model.phones import phones_for
    phones = phones_for(args.language, not args.no_phones)
    if phones is not None and args.npc_phone_loop:
        phones = dataclasses.replace(phones, words=False)
    return phones


def _should_open_browser(args: argparse.Namespace) -> bool:
    """A person at a desktop: a terminal and a display. CI, services and SSH sessions get the
    address in the ready line instead."""
    if args.no_browser or not sys.stderr.isatty():
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
