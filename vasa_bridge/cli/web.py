"""`vasa-bridge web` (the panel beside a running runtime) and `serve --http` options."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ..transport.endpoints import DEFAULT_CONTROL, DEFAULT_HTTP, DEFAULT_PUB
from ..web.codec import ALPHA_CODECS, CodecConfig
from .common import stop_on_signals
from .options import control_config


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
    """The web handle when `serve --http` was given, else None (close it on the way out): the
    parsed options as a PanelConfig for `session.start_panel`."""
    if not getattr(args, "http", None):
        return None
    from ..session import PanelConfig, start_panel
    control = None
    if getattr(args, "curve_secret", None):  # the private control server's portrait rules
        control = control_config(args, control_endpoint or "", False)
    return start_panel(PanelConfig(http=args.http, token=args.http_token,
                                   alpha_codec=args.alpha_codec),
                       pub_endpoint, control_endpoint, runtime=runtime, control=control,
                       announce=announce)


def run(args: argparse.Namespace) -> int:
    from ..web import start_in_thread
    from ..web.security import parse_http
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
    stop = stop_on_signals()
    handle = start_in_thread(args.http, args.sub, control, token=args.http_token,
                             codec=CodecConfig(alpha_codec=args.alpha_codec), control_curve=curve)
    try:
        stop.wait()
    finally:
        handle.close()
    return 0
