"""`vasa-bridge serve`: parse, resolve, build the runtime, print a ready line, run until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..protocol import wire
from ..transport.endpoints import DEFAULT_CONTROL, DEFAULT_PUB
from .serve import EMOTIONS, ServeConfig

log = logging.getLogger(__name__)


def builtin_portrait() -> Path:
    """The sample portrait that ships inside the package (NASA's public-domain astronaut photo,
    as in scikit-image)."""
    return Path(str(resources.files("vasa_bridge") / "assets" / "portrait.jpg"))


def add_cli(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="speech in, a live face out: motion, frames and audio "
                                            "over ZeroMQ")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mic", nargs="?", const="default", metavar="DEVICE",
                     help="capture from a microphone (index or name; default device if none)")
    src.add_argument("--audio", metavar="FILE", help="play a speech file at real-time pace")
    p.add_argument("--audio-in", nargs="?", const="tcp://127.0.0.1:5557", metavar="ENDPOINT",
                   help="also take clips pushed over ZeroMQ (PUSH, wire 'audio' messages; "
                        "default tcp://127.0.0.1:5557); the stream id picks the face")
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
    p.add_argument("--label", action="store_true", help="draw a visible 'AI-generated' mark")
    p.add_argument("--stream", default=wire.DEFAULT_STREAM, help="the main face's stream id")
    p.add_argument("--once", action="store_true", help="with --audio: stop when the file ends")
    p.add_argument("--virtualcam", nargs="?", const="", metavar="DEVICE",
                   help="also show the face as a webcam (pyvirtualcam; optional device name)")
    from ..transport.control import add_cli_options as control_options
    from . import outputs
    control_options(p)
    outputs.add_cli_options(p)
    from ..web.cli import add_serve_options
    add_serve_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..audio.sources import ArraySource, MicSource, list_input_devices
    from ..provenance.stamp import Stamp, StampConfig
    from ..transport.control import ControlServer, config_from_args
    from ..transport.publisher import Publisher, PublisherConfig
    from .outputs import sinks_from_args
    from .serve import Runtime

    if args.list_devices:
        devices = list_input_devices()
        for i, name in devices:
            print(f"{i}: {name}")
        if not devices:
            print("no capture devices found", file=sys.stderr)
        return 0
    if args.once and not args.audio:
        raise ConfigError("--once needs --audio FILE: a microphone or clips never end")
    config = ServeConfig(fps=args.fps, frames=not args.no_frames, alpha=args.alpha,
                         stream=args.stream, emotion=args.emotion,
                         stop_after_source=bool(args.once))
    main_source, pacer = None, None
    if args.audio:
        from ..audio.io import load_speech
        audio, _ = load_speech(args.audio)
        main_source = ArraySource(audio)
    elif args.mic is not None:
        device = None if args.mic == "default" else (int(args.mic) if args.mic.isdigit()
                                                      else args.mic)
        main_source = pacer = MicSource(device)
    engine_factory, clip_baker = _engines(args)
    renderer = state = prepare = None
    if config.frames:
        from ..face.portrait import PortraitConfig
        from ..render.base import RenderConfig, get_backend
        renderer = get_backend("cpu", RenderConfig(alpha=config.alpha))
        def prepare(image, framing=None):
            return renderer.prepare(image, PortraitConfig.framed(framing or args.framing,
                                                                 size=args.size))
        state = prepare(args.image or str(builtin_portrait()))
    stamp = Stamp(StampConfig(label=args.label, credentials=False)) if config.frames else None
    print("[serve] " + " ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()),
          file=sys.stderr)
    from ..cli import _stop_on_signals
    stop = _stop_on_signals()
    frame_sinks = []
    if args.virtualcam is not None:
        if not config.frames:
            raise ConfigError("--virtualcam needs frames: drop --no-frames")
        from .virtualcam import VirtualCamSink
        frame_sinks.append(VirtualCamSink(state.size[0], state.size[1], config.fps,
                                          device=args.virtualcam or None))
    sinks = sinks_from_args(args)
    data_curve = None
    if args.curve_data:
        if not (args.curve_secret and args.curve_allowed):
            raise ConfigError("--curve-data needs --curve-secret and --curve-allowed (the keys "
                              "from `vasa-bridge keys`)")
        from ..transport.curve import ServerCurve
        data_curve = ServerCurve.load(args.curve_secret, args.curve_allowed)
    pub_config = PublisherConfig(endpoint=args.pub, latest_only_frames=True, curve=data_curve,
                                 extra_hello=(("fps", config.fps),) + (
                                     (("control", args.control),) if args.control != "none"
                                     else ()))
    try:
        with Publisher(pub_config) as pub:
            runtime = Runtime(config, pub, engine_factory=engine_factory,
                              main_source=main_source, pacer=pacer, renderer=renderer,
                              portrait=state, prepare=prepare, stamp=stamp, sinks=sinks,
                              frame_sinks=frame_sinks, clip_baker=clip_baker)
            control = inlet = None
            if args.audio_in:
                from .audio_in import AudioInlet
                inlet = AudioInlet(runtime, args.audio_in, insecure=args.insecure)
            if args.control != "none":
                control = ControlServer(runtime, config_from_args(args, args.control,
                                                                  args.insecure))
            from ..web.cli import start_from_serve_args
            web = start_from_serve_args(args, pub.endpoint,
                                        control.endpoint if control else None, runtime=runtime)
            try:
                source = args.audio or (f"microphone {main_source.device_name}" if args.mic
                                        is not None else "control-channel clips (speak)")
                print(f"[serve] ready: data on {pub.endpoint}, control on "
                      f"{control.endpoint if control else 'off'}, audio from {source}"
                      + (f" + clips on {inlet.endpoint}" if inlet else "") + ", motion "
                      f"engine {args.motion}" + (f", watermark {stamp.payload}" if stamp else ""),
                      file=sys.stderr, flush=True)
                _run_with_status(runtime, stop)
            finally:
                if web is not None:
                    web.close()
                if control is not None:
                    control.close()
                if inlet is not None:
                    inlet.close()
                if hasattr(main_source, "close"):
                    main_source.close()
            status = runtime.status()
            print(f"[serve] stopped: {status['published']} published, drops {status['drops']}",
                  file=sys.stderr)
    finally:
        for sink in sinks + frame_sinks:
            sink.close()
    return 0


def _engines(args: argparse.Namespace):
    """(live engine factory, clip baker for NPC lines or None)."""
    if args.motion == "loudness":
        from .engine import LoudnessEngine
        return LoudnessEngine, None
    if args.threads < 1:
        raise ConfigError(f"--threads is {args.threads}: expected 1 or more")
    from .model_engine import load_model
    return load_model(args.model, threads=args.threads)


def _run_with_status(runtime, stop: threading.Event) -> None:
    """Run the loop on this thread; a helper thread prints a one-line status on a terminal."""
    if sys.stderr.isatty():
        def show():
            while not stop.wait(1.0) and runtime.started:
                s = runtime.status()
                print(f"\r[serve] {s['fps']:5.1f} fps  latency p50 {s['latency_ms']['p50']} ms "
                      f"p95 {s['latency_ms']['p95']} ms  drops {s['drops']['frames']}  cpu "
                      f"{s['cpu']:.0%}   ", end="", file=sys.stderr, flush=True)
        threading.Thread(target=show, daemon=True).start()
    try:
        runtime.run(stop)
    finally:
        stop.set()
