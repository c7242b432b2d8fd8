"""`vasa-bridge keys`: CURVE keys for a control channel and data socket reachable over the
network."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..transport.curve import (ALLOWED, SERVER, default_keys_dir, generate_keys, load_keypair)


def cmd_keys(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else default_keys_dir()
    have_server = (directory / f"{SERVER}.key_secret").exists()
    make_server = args.force or not have_server
    print(f"[keys] dir={directory} server={'new' if make_server else 'kept'} "
          f"clients={list(args.client)}", file=sys.stderr)
    made = generate_keys(directory, tuple(args.client), server=make_server, overwrite=args.force)
    server_public = made.server.public if made.server else \
        load_keypair(directory / f"{SERVER}.key").public
    print(f"server public key: {server_public.decode()}  ({directory / (SERVER + '.key')})")
    for name, keys in made.clients.items():
        print(f"client {name!r} public key: {keys.public.decode()}  "
              f"(secret: {directory / (name + '.key_secret')}; allowed: "
              f"{directory / ALLOWED / (name + '.key')})")
    print(f"[keys] start the server with --curve-secret {directory / (SERVER + '.key_secret')} "
          f"--curve-allowed {directory / ALLOWED}", file=sys.stderr)
    return 0


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Register `keys` (generate CURVE keys for the control channel and the data socket)."""
    k = subparsers.add_parser(
        "keys", help="generate CURVE keys for a control channel (and data socket) reachable over "
                     "the network",
        description="Write a server keypair and client keypairs (zmq.auth certificate files, "
                    "secrets 0600) and list the clients in DIR/allowed_clients/. Prints the "
                    "public keys. An existing server key is kept unless --force.")
    k.add_argument("--dir", default=None,
                   help=f"key folder (default {default_keys_dir()})")
    k.add_argument("--client", nargs="*", default=["client"], metavar="NAME",
                   help="client key names to create (default: client); none: server key only")
    k.add_argument("--force", action="store_true", help="replace existing key files")
    k.set_defaults(func=cmd_keys)
    return k
