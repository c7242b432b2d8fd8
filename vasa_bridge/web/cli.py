"""`vasa-bridge web` (the panel beside a running runtime) and `serve --http` options."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ..transport.endpoints import DEFAULT_CONTROL, DEFAULT_PUB
from .codec import ALPHA_CODECS, CodecConfig

DEFAULT_HTTP = "127.0.0.1:8765"  # the panel's address unless told otherwise


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--http-token", metavar="TOKEN",
                   help="token required on every request (default: none on 127.0.0.1, a "
                        "generated one, printed once, on any other address)")
    p.add_argument("--alpha-codec", choices=ALPHA_CODECS, default="raw",
                   help="how frames with transparency reach the browser (default raw RGBA: "
                        "no encoding cost; webp for viewers on another machine)")


def add_cli(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("web", help="control panel and OBS overlay for a running runtime")
    p.add_argument("--sub", default=DEFAULT_PUB, help=f"runtime data endpoint (default "
                                                      f"{DEFAULT_PUB})")
    p.add_argument("--control", default=DEFAULT_CONTROL,
                   help=f"runtime control endpoint (default {DEFAULT_CONTROL}); 'none': view only")
    p.add_argument("--curve-key", metavar="FILE",
                   help="this client's secret key (NAME.key_secret from `vasa-bridge keys`) for "
                        "a CURVE-secured control channel; needs --curve-server")
    p.add_argument("--curve-server", metavar="KEY",
                   help="the runtime's public key: its server.key file or the 40-character key")
    p.add_argument("--http", default=DEFAULT_HTTP, metavar="HOST:PORT",
                   help=f"where to serve the pages (default {DEFAULT_HTTP})")
    _add_common(p)
    p.set_defaults(func=run)
    return p


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """`serve --http [HOST:PORT]`: the same pages, in the runtime's process."""
    parser.add_argument("--http", nargs="?", const=DEFAULT_HTTP, metavar="HOST:PORT",
                        help=f"also serve the web panel and OBS overlay (default {DEFAULT_HTTP})")
    _add_common(parser)


def start_from_serve_args(args: argparse.Namespace, pub_endpoint: str,
                          control_endpoint: str | None, runtime=None, announce: bool = True):
    """For serve_cli: the web handle when --http was given, else None. Close it on the way out.

    When the runtime's control channel is CURVE-secured (--curve-secret) and `runtime` is given,
    the in-process pages talk to it through a private inproc:// control server with the same
    portrait rules instead (nothing outside this process can reach inproc://).

    `announce=False`: the caller prints the addresses itself (serve's ready line); a generated
    token is still printed, since that is the only time it is shown."""
    if not getattr(args, "http", None):
        return None
    from .app import start_in_thread
    private = None
    if control_endpoint and runtime is not None and getattr(args, "curve_secret", None):
        import dataclasses

        from ..cli.options import control_config
        from ..transport.control import ControlServer
        config = dataclasses.replace(
            control_config(args, f"inproc://vasa-web-control-{id(runtime)}", False),
            curve_secret_key=None, curve_allowed_clients=None)
        private = ControlServer(runtime, config)
        control_endpoint = private.endpoint
    try:
        handle = start_in_thread(args.http, pub_endpoint, control_endpoint,
                                 token=args.http_token, announce=announce,
                                 codec=CodecConfig(alpha_codec=args.alpha_codec))
    except BaseException:
        if private is not None:
            private.close()
        raise
    if private is not None:
        handle.on_close(private.close)
    return handle


def has_viewer(handle) -> bool:
    """Whether a page of this in-process web server shows the face (frames and sound) now."""
    from .app import STATE
    if handle.app is None:
        return False
    try:  # the set belongs to the server's loop thread: a change mid-copy just means "ask again"
        return any(v.media for v in list(handle.app[STATE].viewers))
    except RuntimeError:
        return False


def run(args: argparse.Namespace) -> int:
    from ..cli import _stop_on_signals
    from .app import start_in_thread
    from .security import parse_http
    host, port = parse_http(args.http)  # validates before anything starts
    control = None if args.control == "none" else args.control
    curve = None
    if bool(args.curve_key) != bool(args.curve_server):
        raise ConfigError("--curve-key and --curve-server go together: expected both (the "
                          "client's secret key file and the runtime's public key) or neither")
    if args.curve_key:
        from ..transport.curve import ClientCurve
        curve = ClientCurve.load(args.curve_key, args.curve_server)
    print(f"[web] http={host}:{port} sub={args.sub} control={control or 'off'} "
          f"alpha_codec={args.alpha_codec} curve={'on' if curve else 'off'}", file=sys.stderr)
    stop = _stop_on_signals()
    handle = start_in_thread(args.http, args.sub, control, token=args.http_token,
                             codec=CodecConfig(alpha_codec=args.alpha_codec), control_curve=curve)
    try:
        stop.wait()
    finally:
        handle.close()
    return 0
