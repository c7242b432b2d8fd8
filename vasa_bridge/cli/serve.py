"""`vasa-bridge serve`: parse, resolve, build the runtime, print a ready line, run until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
    from ..cli.options import add_control_options, add_output_options
    add_control_options(p)
    add_output_options(p)
    from ..web.cli import add_serve_options
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
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="also print the resolved config, our info messages and the native "
                        "libraries' logs")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..audio.sources import ArraySource, MicSource, list_input_devices
    from ..cli.options import control_config, sinks_from_args
    from ..transport.control import ControlServer
    from ..transport.publisher import Publisher, PublisherConfig
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
    verbose = bool(getattr(args, "verbose", False))
    if not verbose:  # the ready line says what matters; --verbose shows the rest
        logging.getLogger("vasa_bridge").setLevel(logging.WARNING)
    config = ServeConfig(fps=args.fps, frames=not args.no_frames, alpha=args.alpha,
                         stream=args.stream, emotion=args.emotion,
                         stop_after_source=bool(args.once))
    frame_sinks = []
    if args.virtualcam is not None:  # before the start-up work: a missing device fails at once
        if not config.frames:
            raise ConfigError("--virtualcam needs frames: drop --no-frames")
        from .virtualcam import VirtualCamSink
        frame_sinks.append(VirtualCamSink(args.size, args.size, config.fps,
                                          device=args.virtualcam or None))
    main_source, pacer = None, None
    if args.audio:
        from ..audio.io import load_speech
        audio, _ = load_speech(args.audio)
        main_source = ArraySource(audio)
    elif args.mic is not None:
        device = None if args.mic == "default" else (int(args.mic) if args.mic.isdigit()
                                                      else args.mic)
        main_source = pacer = MicSource(device)
    greet = not args.no_greeting and args.image is None and main_source is None
    sinks: list = []
    try:
        # The model and the portrait warm up side by side (ONNX Runtime and mediapipe release
        # the GIL).
        with ThreadPoolExecutor(3, thread_name_prefix="vasa-warm") as pool:
            engines = pool.submit(_engines, args)
            portrait = pool.submit(_portrait, args, config) if config.frames else None
            hello = pool.submit(greeting_clip) if greet else None
            engine_factory, clip_baker = engines.result()
            renderer, prepare, prepare_at, state, image = (
                portrait.result() if portrait else (None,) * 5)
            hello = hello.result() if hello is not None else None
        stamp = None
        if config.frames:
            from ..provenance.stamp import Stamp, StampConfig
            stamp = Stamp(StampConfig(label=args.label, credentials=False))
        if verbose:
            print("[serve] " + " ".join(f"{k}={v}" for k, v in
                                        dataclasses.asdict(config).items()), file=sys.stderr)
        from ..cli import _stop_on_signals
        stop = _stop_on_signals()
        sinks = sinks_from_args(args)
        data_curve = None
        if args.curve_data:
            if not (args.curve_secret and args.curve_allowed):
                raise ConfigError("--curve-data needs --curve-secret and --curve-allowed (the "
                                  "keys from `vasa-bridge keys`)")
            from ..transport.curve import ServerCurve
            data_curve = ServerCurve.load(args.curve_secret, args.curve_allowed)
        pub_config = PublisherConfig(endpoint=args.pub, latest_only_frames=True, curve=data_curve,
                                     extra_hello=(("fps", config.fps),) + (
                                         (("control", args.control),) if args.control != "none"
                                         else ()))
        with Publisher(pub_config) as pub:
            runtime = Runtime(config, pub, engine_factory=engine_factory,
                              main_source=main_source, pacer=pacer, renderer=renderer,
                              portrait=state, prepare=prepare, stamp=stamp, sinks=sinks,
                              frame_sinks=frame_sinks, clip_baker=clip_baker,
                              prepare_at=prepare_at, portrait_source=image)
            control = inlet = finish = None
            started: dict = {}  # what _finish_start made: "web", "error"
            try:
                if args.audio_in:
                    from .audio_in import AudioInlet
                    inlet = AudioInlet(runtime, args.audio_in, insecure=args.insecure)
                if args.control != "none":
                    control = ControlServer(runtime, control_config(args, args.control,
                                                                      args.insecure))
                source = args.audio or (f"microphone {main_source.device_name}" if args.mic
                                        is not None else "clips (control `speak`)")
                parts = [f"data {pub.endpoint}",
                         f"control {control.endpoint if control else 'off'}"]
                if inlet:
                    parts.append(f"clips in {inlet.endpoint}")
                parts += [f"audio from {source}", f"motion {args.motion}"]
                if stamp:
                    parts.append(f"watermark {stamp.payload}")
                # The face starts at once; the panel (aiohttp's import is the slowest piece left)
                # comes up beside the running loop, then the ready line, the browser, the hello.
                finish = threading.Thread(target=_finish_start, name="vasa-start", args=(
                    args, runtime, pub.endpoint, control.endpoint if control else None, parts,
                    hello, config.stream, stop, started), daemon=True)
                finish.start()
                _run_with_status(runtime, stop, show=args.status)
            finally:
                stop.set()
                if finish is not None:
                    finish.join(20)
                if started.get("web") is not None:
                    started["web"].close()
                if control is not None:
                    control.close()
                if inlet is not None:
                    inlet.close()
                if hasattr(main_source, "close"):
                    main_source.close()
            if "error" in started:  # e.g. --http on a port in use: the start failed
                raise started["error"]
            status = runtime.status()
            print(f"[serve] stopped: {status['published']} published, drops {status['drops']}",
                  file=sys.stderr)
    finally:
        for sink in sinks + frame_sinks:
            sink.close()
    return 0


def _portrait(args: argparse.Namespace, config: ServeConfig):
    """(renderer, prepare(image, framing=None) for load_portrait, prepare_at(image, size,
    framing=None) for the smaller pictures under CPU overload, the first portrait's state, its
    image path)."""
    from ..face.portrait import Portrait, PortraitConfig
    from ..render.base import RenderConfig, get_backend
    cache = grids = None
    if not args.no_portrait_cache:
        from ..face.cache import PortraitCache, default_cache_dir
        cache = PortraitCache(default_cache_dir())
        grids = str(default_cache_dir().parent / "geometry")
    renderer = get_backend("cpu", RenderConfig(alpha=config.alpha, cache_dir=grids))
    builtin = str(builtin_portrait())

    def portrait_config(image, framing, size):
        # the built-in face's parted-lips smile is its known rest pose: no warning
        return dataclasses.replace(PortraitConfig.framed(framing or args.framing, size=size),
                                   open_mouth_ok=isinstance(image, str) and image == builtin)

    def prepare_at(image, size, framing=None):
        pc = portrait_config(image, framing, size)
        if cache is not None and not isinstance(image, Portrait):
            image = cache.analyse(image, pc)
        return renderer.prepare(image, pc)

    def prepare(image, framing=None):
        return prepare_at(image, args.size, framing)

    image = args.image or builtin
    return renderer, prepare, prepare_at, prepare(image), image


def _finish_start(args, runtime, pub_endpoint: str, control_endpoint: str | None,
                  parts: list[str], hello, stream: str, stop: threading.Event,
                  started: dict) -> None:
    """Beside the running loop: the panel, then the ready line, the browser and the hello. An
    error (e.g. --http on a port in use) stops the runtime and is raised by `run`."""
    from ..errors import VasaError
    try:
        web = started["web"] = _start_web(args, pub_endpoint, control_endpoint, runtime)
    except VasaError as e:
        started["error"] = e
        stop.set()
        return
    if stop.is_set():
        return
    panel = [f"panel {web.page_url('/')}"] if web else []
    t0 = getattr(args, "started", None) or time.monotonic()
    print(f"[serve] ready in {time.monotonic() - t0:.1f} s: "
          + ", ".join(panel + parts), file=sys.stderr, flush=True)
    browser = web is not None and _should_open_browser(args)
    if browser:
        _open_browser(web.page_url("/"))
    if hello is not None:
        _greet_later(runtime, hello, stream, web, stop, wait_for_viewer=browser)


def _start_web(args: argparse.Namespace, pub_endpoint: str, control_endpoint: str | None,
               runtime):
    """The panel in this process: on unless --no-http. The default address, when the user did
    not ask for it and it is taken, leaves the panel off with one line instead of failing."""
    if args.no_http:
        return None
    from ..web.cli import start_from_serve_args
    explicit = args.http is not None
    if not explicit:
        from ..web.cli import DEFAULT_HTTP
        args = argparse.Namespace(**{**vars(args), "http": DEFAULT_HTTP})
    try:
        return start_from_serve_args(args, pub_endpoint, control_endpoint, runtime=runtime,
                                     announce=False)
    except ConfigError as e:
        if explicit:
            raise
        print(f"[serve] panel off: {e}", file=sys.stderr, flush=True)
        return None


def _should_open_browser(args: argparse.Namespace) -> bool:
    """A person at a desktop: a terminal and a display. CI, services and SSH sessions get the
    address in the ready line instead."""
    if args.no_browser or not sys.stderr.isatty():
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_browser(url: str) -> None:
    """Open `url` in a graphical browser, on a thread (never blocks the start); console browsers
    (lynx, w3m), which would take over the terminal, are skipped."""
    import webbrowser

    def go():
        try:
            browser = webbrowser.get()
        except webbrowser.Error:
            return
        if type(browser) is webbrowser.GenericBrowser:  # console browsers are registered so
            return
        browser.open(url, new=2)

    threading.Thread(target=go, name="vasa-browser", daemon=True).start()


def greeting_clip():
    """The built-in face's hello: 16 kHz mono float32 (scripts/make_greeting.py)."""
    from ..audio.io import load_speech
    path = Path(str(resources.files("vasa_bridge") / "assets" / "greeting.flac"))
    return load_speech(path)[0]


def _greet_later(runtime, clip, stream: str, web, stop: threading.Event, *,
                 wait_for_viewer: bool) -> None:
    """Say hello once: when the panel opened in a browser shows the face (at most 10 s), else
    after a short pause."""
    from ..audio.sources import RATE

    def greet():
        if wait_for_viewer:
            from ..web.cli import has_viewer
            deadline = time.monotonic() + 10.0
            while not stop.is_set() and time.monotonic() < deadline and not has_viewer(web):
                stop.wait(0.1)
            stop.wait(0.5)  # let the page start its audio
        else:
            stop.wait(0.5)
        if not stop.is_set():
            runtime.speak(clip, RATE, stream)

    threading.Thread(target=greet, name="vasa-greet", daemon=True).start()


def _engines(args: argparse.Namespace):
    """(live engine factory, clip baker for NPC lines or None)."""
    if args.motion == "loudness":
        from .engine import LoudnessEngine
        return LoudnessEngine, None
    if args.threads < 1:
        raise ConfigError(f"--threads is {args.threads}: expected 1 or more")
    from .model_engine import load_model
    return load_model(args.model, threads=args.threads)


def _run_with_status(runtime, stop: threading.Event, *, show: bool = False) -> None:
    """Run the loop on this thread; with --status a helper thread prints a live status line
    (rewritten in place on a terminal, one line every 5 s otherwise)."""
    if show:
        tty = sys.stderr.isatty()

        def line():
            s = runtime.status()
            why = s["picture"]["reason"]
            return (f"[serve] {s['fps']:5.1f} fps{f' ({why})' if why else ''}  latency p50 {s['latency_ms']['p50']} ms p95 "
                    f"{s['latency_ms']['p95']} ms  av delay {s.get('av_delay_ms')} ms  drops "
                    f"{s['drops']['frames']}  cpu {s['cpu']:.0%}")

        def loop():
            while not stop.wait(1.0 if tty else 5.0):
                if runtime.started:
                    print(f"\r{line()}   " if tty else line(), end="" if tty else "\n",
                          file=sys.stderr, flush=True)
        threading.Thread(target=loop, daemon=True).start()
    try:
        runtime.run(stop)
    finally:
        stop.set()
