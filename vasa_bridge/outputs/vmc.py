"""VMC protocol sender: motion frames -> OSC over UDP for VSeeFace, VMagicMirror, Warudo, VNyan.

Per frame (docs/vtuber.md, "VMC"):

    /VMC/Ext/OK 1                       liveness ("a model is loaded")
    /VMC/Ext/T time                     sender time, seconds (the frame's media time)
    /VMC/Ext/Bone/Pos Head px py pz qx qy qz qw     (and Neck when the rotation is split)
    /VMC/Ext/Blend/Val name value       for every shape
    /VMC/Ext/Blend/Apply                once, after the last value

Names are Perfect Sync (the 52 ARKit names in PascalCase, `JawOpen`), VRM 0.x presets (`A`,
`Blink_L`, …) or both. Rotations are in Unity's left-handed frame
(`conversions.to_unity_quaternion`).

By default one OSC bundle carries the whole frame (VSeeFace applies a frame at once). A frame of
52 + 18 shapes is ~4 KB: above an Ethernet MTU (IP fragments it, fine on loopback and a LAN) and
far below UDP's 65,507-byte limit. `max_datagram` caps a datagram; a frame that does not fit is
split into several bundles, in order, with `Apply` in the last one. `bundled=False` sends one
datagram per message (some receivers, e.g. VNyan's option, want that).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from ..errors import ConfigError
from ..motion.conversions import slerp, to_unity_position, to_unity_quaternion, to_vrm0
from ..motion.frame import MotionFrame
from ..motion.names import ARKIT_NAMES, to_pascal
from .sink import MotionSink

log = logging.getLogger("vasa_bridge.vmc")

NAME_SETS = ("arkit", "vrm0", "both")
PERFECT_SYNC_NAMES: tuple[str, ...] = tuple(to_pascal(n) for n in ARKIT_NAMES)
DEFAULT_VMC = "127.0.0.1:39539"
UDP_MAX_PAYLOAD = 65507  # IPv4: 65,535 - 20 (IP header) - 8 (UDP header)
_BUNDLE_HEADER = 16  # "#bundle\0" + 8-byte time tag
_ELEMENT_SIZE = 4  # each bundle element is preceded by its int32 size


@dataclass(frozen=True)
class VmcConfig:
    host: str = "127.0.0.1"
    port: int = 39539  # VMC "Marionette" receivers listen here by default
    names: str = "arkit"  # "arkit" (Perfect Sync), "vrm0" (A, I, U, E, O, Blink_L, ...) or "both"
    bundled: bool = True  # one bundle per frame; False: one datagram per message
    max_datagram: int = 65000  # bytes; a frame larger than this is split into several bundles
    neck_share: float = 0.0  # fraction of the head rotation given to the Neck bone, in [0, 1)
    head_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # Head local position (Unity), m
    head_translation: bool = False  # add the frame's head translation to the Head position

    def __post_init__(self) -> None:
        if self.names not in NAME_SETS:
            raise ConfigError(f"VMC names is {self.names!r}: expected one of {NAME_SETS}")
        if not 1 <= int(self.port) <= 65535:
            raise ConfigError(f"VMC port is {self.port!r}: expected an integer in [1, 65535]")
        if not 512 <= int(self.max_datagram) <= UDP_MAX_PAYLOAD:
            raise ConfigError(f"VMC max_datagram is {self.max_datagram!r}: expected bytes in "
                              f"[512, {UDP_MAX_PAYLOAD}]")
        if not 0.0 <= float(self.neck_share) < 1.0:
            raise ConfigError(f"VMC neck_share is {self.neck_share!r}: expected a fraction in "
                              f"[0, 1)")
        if len(self.head_offset_m) != 3:
            raise ConfigError(f"VMC head_offset_m is {self.head_offset_m!r}: expected (x, y, z)")


_FILE_SUFFIXES = (".npz", ".json", ".vasatrack", ".vasab", ".csv", ".wav", ".png", ".jpg", ".jpeg",
                  ".webp")


def parse_host_port(text: str, default_port: int = 39539) -> tuple[str, int]:
    """'HOST:PORT', 'HOST', ':PORT' or '[v6]:PORT' -> (host, port)."""
    host, port = text, str(default_port)
    bad = False
    if text.startswith("["):  # [::1]:39539
        end = text.find("]")
        host, rest = text[1:end], text[end + 1:]
        port = rest[1:] if rest.startswith(":") else port
        bad = end < 0 or rest not in ("", ":" + port) or not _is_ipv6(host)
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif ":" in text:  # a bare IPv6 address; "::1:39539" is one too, so a port needs brackets
        bad = not _is_ipv6(text)
    host = host or "127.0.0.1"
    try:
        p = int(port)
    except ValueError:
        p = -1
    # `replay --vmc talk.npz` would otherwise send to a host named "talk.npz".
    looks_like_file = "/" in host or "\\" in host or host.lower().endswith(_FILE_SUFFIXES)
    if bad or not 1 <= p <= 65535 or looks_like_file or any(c.isspace() for c in host):
        raise ConfigError(f"--vmc is {text!r}: expected HOST:PORT such as {DEFAULT_VMC}, or "
                          f"[IPV6]:PORT such as [::1]:39539 (write --vmc=HOST:PORT when a "
                          f"positional argument follows)")
    return host, p


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _msg(address: str, *args) -> OscMessage:
    b = OscMessageBuilder(address)
    for a in args:
        # Explicit tags: VMC wants ,sf / ,sfffffff / ,i, never doubles.
        b.add_arg(a, "s" if isinstance(a, str) else "i" if isinstance(a, int) else "f")
    return b.build()


def blend_values(frame: MotionFrame, names: str) -> list[tuple[str, float]]:
    """The (name, value) pairs a frame sends, in a fixed order: Perfect Sync then VRM 0.x."""
    out: list[tuple[str, float]] = []
    if names in ("arkit", "both"):
        out += [(n, float(v)) for n, v in zip(PERFECT_SYNC_NAMES, frame.blendshapes)]
    if names in ("vrm0", "both"):
        out += [(n, float(v)) for n, v in to_vrm0(frame.blendshapes).items()]
    return out


def frame_messages(frame: MotionFrame, config: VmcConfig) -> list[OscMessage]:
    """Every OSC message of one frame, in sending order (Apply last)."""
    q = to_unity_quaternion(frame.head_rotation)  # (x, y, z, w)
    pos = np.asarray(config.head_offset_m, np.float64)
    if config.head_translation:
        pos = pos + to_unity_position(frame.head_translation)
    msgs = [_msg("/VMC/Ext/OK", 1), _msg("/VMC/Ext/T", float(frame.time))]
    if config.neck_share > 0:
        # q = q^s · q^(1-s): the two parts are powers of the same rotation, so they commute and
        # Neck then Head compose back to exactly the head rotation.
        ident = np.array([0.0, 0.0, 0.0, 1.0])
        q_neck = slerp(ident, q, config.neck_share)
        q = slerp(ident, q, 1.0 - config.neck_share)
        msgs.append(_msg("/VMC/Ext/Bone/Pos", "Neck", 0.0, 0.0, 0.0, *map(float, q_neck)))
    msgs.append(_msg("/VMC/Ext/Bone/Pos", "Head", *map(float, pos), *map(float, q)))
    msgs += [_msg("/VMC/Ext/Blend/Val", n, v) for n, v in blend_values(frame, config.names)]
    msgs.append(_msg("/VMC/Ext/Blend/Apply"))
    return msgs


def pack_bundles(msgs: list[OscMessage], max_datagram: int) -> list[bytes]:
    """Greedily pack messages, in order, into bundles of at most max_datagram bytes."""
    out: list[bytes] = []
    builder, size = None, 0
    for m in msgs:
        need = _ELEMENT_SIZE + m.size
        if _BUNDLE_HEADER + need > max_datagram:
            raise ConfigError(f"one VMC message is {m.size} bytes: max_datagram "
                              f"{max_datagram} cannot hold it")
        if builder is not None and size + need > max_datagram:
            out.append(builder.build().dgram)
            builder = None
        if builder is None:
            builder, size = OscBundleBuilder(IMMEDIATELY), _BUNDLE_HEADER
        builder.add_content(m)
        size += need
    if builder is not None:
        out.append(builder.build().dgram)
    return out


class VmcSender(MotionSink):
    """Sends each frame to a VMC receiver over UDP. `send` never blocks: the socket is
    non-blocking and a datagram the kernel cannot take is counted in `stats["dropped"]`.
    python-osc builds the packets; the socket is ours so that errors are counted, not raised."""

    name = "vmc"

    def __init__(self, config: VmcConfig) -> None:
        super().__init__()
        self.config = config
        try:
            family, _, _, _, self._addr = socket.getaddrinfo(
                config.host, int(config.port), type=socket.SOCK_DGRAM)[0]
        except OSError as e:
            raise ConfigError(f"VMC host {config.host!r} cannot be resolved ({e}): expected a "
                              f"host name or IP address") from None
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.stats.update(messages=0, datagrams=0, bytes=0, dropped=0, max_datagram_bytes=0)
        self._warned = False

    def _send(self, frame: MotionFrame) -> None:
        msgs = frame_messages(frame, self.config)
        if self.config.bundled:
            dgrams = pack_bundles(msgs, self.config.max_datagram)
        else:
            dgrams = [m.dgram for m in msgs]
        addr = self._addr
        ok = True
        for d in dgrams:
            try:
                self._sock.sendto(d, addr)
            except BlockingIOError:
                self.stats["dropped"] += 1
                ok = False
                continue
            except OSError as e:  # e.g. ECONNREFUSED after an ICMP "port unreachable"
                self.stats["errors"] += 1
                if not self._warned:
                    log.warning("VMC: sending to %s:%d failed (%s); is the receiver running? "
                                "Counting further errors in stats", self.config.host,
                                self.config.port, e)
                    self._warned = True
                ok = False
                continue
            self.stats["datagrams"] += 1
            self.stats["bytes"] += len(d)
            self.stats["max_datagram_bytes"] = max(self.stats["max_datagram_bytes"], len(d))
        self.stats["messages"] += len(msgs)
        self.stats["sent"] += ok  # frames whose every datagram left

    def _close(self) -> None:
        self._sock.close()
