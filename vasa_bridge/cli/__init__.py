"""`vasa-bridge`: a thin command line. Each subcommand validates its arguments, prints the resolved
configuration on stderr, and calls one library function. Errors become one line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
import time
from importlib import resources
from pathlib import Path

from .. import __version__
from ..errors import ConfigError, VasaError
from ..protocol import wire
from ..transport.endpoints import DEFAULT_PUB

EXIT_ERROR = 2
STARTED = time.monotonic()  # when the command began (serve's ready line counts from here)


def example_track_path() -> Path:
    """The track that ships inside the package (8 s of synthetic speech with motion)."""
    return Path(str(resources.files("vasa_bridge") / "assets" / "example_track.npz"))


def _show(name: str, config) -> None:
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    print(f"[{name}] " + " ".join(f"{k}={v}" for k, v in fields.items()), file=sys.stderr)


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so long-running commands shut down cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# --- replay ------------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    from ..motion.io import load
    from ..transport.replay import ReplayConfig, replay
    from ..transport.publisher import Publisher, PublisherConfig

    track = load(args.track or example_track_path())
    config = ReplayConfig(stream=wire.check_stream(args.stream), fps=args.fps, loop=args.loop,
                          wait_subscribers=args.wait)
    pub_config = PublisherConfig(endpoint=args.pub, extra_hello=(("fps", config.fps or
                                                                    track.fps),))
    _show("replay", {"track": args.track or "(built-in example)", "frames": len(track),
                     "track_fps": track.fps, "audio": track.audio is not None,
                     **dataclasses.asdict(config), "pub": args.pub})
    stop = _stop_on_signals()
    sinks = _sinks(args)
    try:
        with Publisher(pub_config) as pub:
            print(f"[replay] publishing on {pub.endpoint}", file=sys.stderr, flush=True)
            result = replay(track, pub, config, sinks=sinks, stop=stop)
            print(f"[replay] {result.frames} frames, {result.audio_samples} audio samples, "
                  f"{result.late_frames} late; sent {dict(pub.stats.sent)}", file=sys.stderr)
    finally:
        for sink in sinks:
            sink.close()
    return 0


def _sinks(args: argparse.Namespace) -> list:
    from .options import sinks_from_args
    return sinks_from_args(args)  # VMC and VTube Studio, when asked for


# --- listen ------------------------------------------------------------------------------------


def cmd_listen(args: argparse.Namespace) -> int:
    from ..transport.listen import ListenConfig, listen
    from ..transport.subscriber import SubscriberConfig

    kinds = () if args.topics == ["all"] else tuple(args.topics)
    if bool(args.curve_key) != bool(args.curve_server):
        raise ConfigError("--curve-key and --curve-server go together: expected both (this "
                          "client's secret key file and the publisher's public key) or neither")
    curve = None
    if args.curve_key:
        from ..transport.curve import ClientCurve
        curve = ClientCurve.load(args.curve_key, args.curve_server)
    sub = SubscriberConfig(endpoint=args.sub, kinds=kinds, stream=args.stream, curve=curve)
    options = ListenConfig(count=args.count, json=args.json, idle_timeout_s=args.timeout)
    shown = {f.name: getattr(sub, f.name) for f in dataclasses.fields(sub) if f.name != "curve"}
    _show("listen", {**shown, "curve": "on" if curve else "off", **dataclasses.asdict(options)})
    stats = listen(sub, options, stop=_stop_on_signals())
    print("[listen] " + json.dumps(stats), file=sys.stderr)
    if args.count is not None and stats["messages"] < args.count:
        print(f"[listen] received {stats['messages']} of {args.count} messages before the "
              f"timeout", file=sys.stderr)
        return 1
    return 0


# --- demo --------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Replay the built-in track into a listener in this process: the wire works end to end."""
    from ..motion.io import load
    from ..transport.replay import ReplayConfig, replay
    from ..transport.listen import ListenConfig, listen
    from ..transport.publisher import Publisher, PublisherConfig
    from ..transport.subscriber import SubscriberConfig

    track = load(example_track_path())
    stop = _stop_on_signals()
    with Publisher(PublisherConfig(endpoint=args.pub)) as pub:
        sub = SubscriberConfig(endpoint=pub.endpoint, kinds=("motion", "event"))
        results: dict = {}
        t = threading.Thread(target=lambda: results.update(
            listen(sub, ListenConfig(idle_timeout_s=2.0), stop=stop)), daemon=True)
        t.start()
        stop.wait(0.5)  # let the subscriber connect before the first frame
        print(f"[demo] replaying the built-in track ({len(track)} frames at {track.fps:g} fps) "
              f"on {pub.endpoint}", file=sys.stderr, flush=True)
        replay(track, pub, ReplayConfig(), stop=stop)
        t.join()
    print("[demo] " + json.dumps(results), file=sys.stderr)
    return 0 if results.get("received", {}).get("motion") == len(track) else 1


# --- doctor ------------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..doctor import report, run_checks

    text, code = report(run_checks())
    print(text)
    return code


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vasa-bridge", description=(
        "One portrait plus speech becomes a live talking face: ARKit-52 motion, frames and "
        "audio over ZeroMQ for Unity, OBS and VTuber apps."))
    p.add_argument("--version", action="version", version=f"vasa-bridge {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("replay", help="publish a motion track at real-time pace")
    r.add_argument("track", nargs="?", help="TRACK.npz|.json|.csv (default: the built-in example)")
    r.add_argument("--pub", default=DEFAULT_PUB, help=f"publish endpoint (default {DEFAULT_PUB})")
    r.add_argument("--fps", type=float, help="resample the track to this rate first")
    r.add_argument("--loop", action="store_true", help="start again at the end (Ctrl-C stops)")
    r.add_argument("--stream", default=wire.DEFAULT_STREAM, help="stream id (default: default)")
    r.add_argument("--wait", type=int, default=0, metavar="N",
                   help="wait (up to 10 s) for N subscriptions before the first frame")
    from .options import add_output_options
    add_output_options(r)
    r.set_defaults(func=cmd_replay)

    li = sub.add_parser("listen", help="print what a publisher sends, with rates and latency")
    li.add_argument("--sub", default=DEFAULT_PUB, help=f"endpoint to connect (default {DEFAULT_PUB})")
    li.add_argument("--topics", nargs="+", default=["motion"],
                    choices=[*wire.KINDS, "all"], help="kinds to receive (default: motion)")
    li.add_argument("--stream", help="only this stream id")
    li.add_argument("--count", type=_positive_int, help="stop after N messages")
    li.add_argument("--json", action="store_true", help="print one decoded header per line")
    li.add_argument("--timeout", type=float, help="stop after this many seconds of silence")
    li.add_argument("--curve-key", metavar="FILE",
                    help="this client's secret key (NAME.key_secret from `vasa-bridge keys`) for "
                         "a CURVE-secured publisher (serve --curve-data); needs --curve-server")
    li.add_argument("--curve-server", metavar="KEY",
                    help="the publisher's public key: its server.key file or the 40-character key")
    li.set_defaults(func=cmd_listen)

    d = sub.add_parser("demo", help="replay the built-in track into a listener, in one process")
    d.add_argument("--pub", default="tcp://127.0.0.1:*", help="endpoint (default: a free port)")
    d.set_defaults(func=cmd_demo)

    doc = sub.add_parser("doctor", help="check what is installed and usable")
    doc.set_defaults(func=cmd_doctor)

    from ..data import cli as data_cli
    from ..provenance import cli as provenance_cli
    from ..render import cli as render_cli
    from ..runtime import serve_cli
    serve_cli.add_cli(sub)
    render_cli.add_cli(sub)
    provenance_cli.add_cli(sub)
    from ..web import cli as web_cli
    web_cli.add_cli(sub)
    data_cli.add_cli(sub)
    from ..model import cli as model_cli
    model_cli.add_cli(sub)
    from . import keys as keys_cli
    keys_cli.add_cli(sub)
    return p


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def configure_logging(verbose: bool) -> None:
    """Our own messages at INFO (DEBUG with --verbose); other libraries' only from WARNING up
    (matplotlib's font-cache note and the like) unless --verbose. Native chatter: native_log."""
    from ..native_log import set_verbose
    set_verbose(verbose)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("vasa_bridge").setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The package's own clock, set when vasa_bridge.cli is first imported (also under -m).
    args.started = STARTED
    configure_logging(args.verbose)
    try:
        return args.func(args)
    except VasaError as e:
        print(f"vasa-bridge {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
