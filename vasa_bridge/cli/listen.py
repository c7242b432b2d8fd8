"""`vasa-bridge listen`: print what a publisher sends, with rates and latency."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ..errors import ConfigError
from ..protocol import wire
from ..transport.endpoints import DEFAULT_PUB
from .common import positive_int, positive_seconds, show, stop_on_signals


def add_cli(subparsers) -> argparse.ArgumentParser:
    li = subparsers.add_parser("listen", help="print what a publisher sends, with rates and "
                                              "latency")
    li.add_argument("--sub", default=DEFAULT_PUB,
                    help=f"endpoint to connect (default {DEFAULT_PUB})")
    li.add_argument("--topics", nargs="+", default=["motion"],
                    choices=[*wire.KINDS, "all"], help="kinds to receive (default: motion)")
    li.add_argument("--stream", help="only this stream id")
    li.add_argument("--count", type=positive_int, help="stop after N messages")
    li.add_argument("--json", action="store_true", help="print one decoded header per line")
    li.add_argument("--timeout", type=positive_seconds,
                    help="stop after this many seconds of silence")
    li.add_argument("--curve-key", metavar="FILE",
                    help="this client's secret key (NAME.key_secret from `vasa-bridge keys`) for "
                         "a CURVE-secured publisher (serve --curve-data); needs --curve-server")
    li.add_argument("--curve-server", metavar="KEY",
                    help="the publisher's public key: its server.key file or the 40-character key")
    li.set_defaults(func=run)
    return li


def run(args: argparse.Namespace) -> int:
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
    show("listen", {**shown, "curve": "on" if curve else "off", **dataclasses.asdict(options)})
    stats = listen(sub, options, stop=stop_on_signals())
    print("[listen] " + json.dumps(stats), file=sys.stderr)
    if args.count is not None and stats["messages"] < args.count:
        print(f"[listen] received {stats['messages']} of {args.count} messages before the "
              f"timeout", file=sys.stderr)
        return 1
    return 0
