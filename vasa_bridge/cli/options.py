"""Options shared by several commands: the control channel's security (`serve`, `web`) and the
VTuber-app outputs (`serve`, `replay`). Library modules take the frozen configs these build."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..outputs.sink import MotionSink
from ..outputs.vmc import DEFAULT_VMC, UDP_MAX_PAYLOAD, parse_host_port
from ..outputs.vts import DEFAULT_VTS, default_token_path, url_port
from ..transport import ControlConfig
from .common import bounded


def add_control_options(parser: argparse.ArgumentParser) -> None:
    """Add the control channel's security options (--curve-secret, --curve-allowed,
    --portrait-dir, --max-image-side) to a subcommand that already has --control and
    --insecure; `control_config` turns them all into a ControlConfig."""
    d = ControlConfig()
    g = parser.add_argument_group("control-channel security (docs/protocol.md, Security)")
    g.add_argument("--curve-secret", default=None, metavar="FILE",
                   help="server secret key (server.key_secret from `vasa-bridge keys`); with "
                        "--curve-allowed, only listed clients can connect, and the control "
                        "endpoint may be a network address")
    g.add_argument("--curve-allowed", default=None, metavar="DIR",
                   help="folder of allowed client public keys (allowed_clients/)")
    g.add_argument("--portrait-dir", action="append", default=None, metavar="DIR",
                   help="folder load_portrait may read paths from (repeatable; default: the "
                        "current directory)")
    g.add_argument("--max-image-side", type=int, default=d.max_image_side, metavar="PX",
                   help=f"longest portrait side load_portrait accepts (default "
                        f"{d.max_image_side})")


def control_config(args: argparse.Namespace, endpoint: str, insecure: bool) -> ControlConfig:
    if args.max_image_side < 1:
        raise ConfigError(f"--max-image-side is {args.max_image_side}: expected a positive "
                          f"number of pixels")
    return ControlConfig(endpoint=endpoint, insecure=insecure,
                         curve_secret_key=args.curve_secret,
                         curve_allowed_clients=args.curve_allowed,
                         portrait_dirs=tuple(args.portrait_dir) if args.portrait_dir else None,
                         max_image_side=args.max_image_side)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add --vmc/--vts and their options to a subcommand's parser."""
    from ..outputs.vmc import NAME_SETS

    g = parser.add_argument_group("VTuber apps (docs/vtuber.md)")
    g.add_argument("--vmc", nargs="?", const=DEFAULT_VMC, default=None, metavar="HOST:PORT",
                   help=f"send motion over the VMC protocol (default {DEFAULT_VMC})")
    g.add_argument("--vmc-names", choices=NAME_SETS, default="arkit",
                   help="blendshape names: Perfect Sync (arkit), VRM 0.x presets, or both")
    g.add_argument("--vmc-unbundled", action="store_true",
                   help="one UDP datagram per OSC message instead of one bundle per frame")
    datagram = bounded(int, lambda v: 512 <= v <= UDP_MAX_PAYLOAD,
                       f"a size in [512, {UDP_MAX_PAYLOAD}] bytes")
    g.add_argument("--vmc-max-datagram", type=datagram, default=65000, metavar="BYTES",
                   help="split a frame into several bundles above this size (1400 avoids IP "
                        "fragmentation on a network)")
    g.add_argument("--vts", nargs="?", const=DEFAULT_VTS, default=None, metavar="URL",
                   help=f"drive VTube Studio as a plugin (default {DEFAULT_VTS})")
    g.add_argument("--vts-token-file", type=Path, default=None, metavar="PATH",
                   help=f"where the plugin token is kept (default {default_token_path()})")
    g.add_argument("--vts-custom-params", action="store_true",
                   help="also create and feed 52 custom parameters VasaJawOpen, ... (0..1)")
    g.add_argument("--vts-mirror", action="store_true",
                   help="mirror left/right (head yaw and roll, eyes) for VTube Studio")


def output_configs(args: argparse.Namespace) -> tuple:
    """The VmcConfig / VtsConfig the parsed options ask for (none without --vmc and --vts)."""
    from ..outputs.vmc import VmcConfig
    from ..outputs.vts import VtsConfig

    configs: list = []
    if getattr(args, "vmc", None):
        host, port = parse_host_port(args.vmc)
        configs.append(VmcConfig(host=host, port=port, names=args.vmc_names,
                                 bundled=not args.vmc_unbundled,
                                 max_datagram=args.vmc_max_datagram))
    if getattr(args, "vts", None):
        url = args.vts
        if url_port(url) is None:  # VtsConfig refuses it too, naming its field, not the option
            swallowed = "" if url.startswith(("ws://", "wss://")) else \
                " (write --vts=URL when a positional argument follows)"
            raise ConfigError(f"--vts is {url!r}: expected a WebSocket URL ws://HOST:PORT such "
                              f"as {DEFAULT_VTS}, with a port in [1, 65535]{swallowed}")
        configs.append(VtsConfig(url=url, token_path=args.vts_token_file or default_token_path(),
                                 custom_parameters=args.vts_custom_params,
                                 mirror=args.vts_mirror))
    return tuple(configs)


def sinks_from_args(args: argparse.Namespace) -> list[MotionSink]:
    """Open the sinks the parsed options ask for (none when neither --vmc nor --vts is given)."""
    from ..session import open_sinks
    return open_sinks(output_configs(args))
