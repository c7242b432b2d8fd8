"""Endpoint defaults and the loopback rule: servers bind 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import ipaddress
import re

from ..errors import TransportError

DEFAULT_PUB = "tcp://127.0.0.1:5555"  # data: motion, frames, audio, events, hello
DEFAULT_CONTROL = "tcp://127.0.0.1:5556"  # control: request-reply
DEFAULT_HTTP = "127.0.0.1:8765"  # the web panel (HOST:PORT) unless told otherwise

_TCP = re.compile(r"^tcp://(\[[^\]]+\]|[^:/]+):(\d+|\*)$")


def host_of(endpoint: str) -> str | None:
    """The host part of a tcp:// endpoint; None for ipc://, inproc:// (local by nature)."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return None
    m = _TCP.match(endpoint)
    if not m:
        raise TransportError(f"endpoint {endpoint!r} is not understood: expected "
                             f"tcp://HOST:PORT, ipc://PATH or inproc://NAME")
    return m.group(1).strip("[]")


def is_loopback(endpoint: str) -> bool:
    host = host_of(endpoint)
    if host is None or host == "localhost":
        return True
    if host == "*":
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name or a host name: not provably local


def describe_bind(endpoint: str) -> str:
    if endpoint.startswith("tcp://"):
        return "is the port already in use by another program or another vasa-bridge?"
    return "does the directory exist and is it writable?"


def check_server_bind(endpoint: str, *, insecure: bool, secured: bool = False,
                      what: str = "control channel") -> None:
    """Refuse a non-loopback bind of a command server unless it is secured or the user said
    --insecure."""
    if is_loopback(endpoint) or secured or insecure:
        return
    raise TransportError(f"{what} endpoint {endpoint!r} is not a loopback address: anyone on the "
                         f"network could control the runtime. Bind 127.0.0.1, configure CURVE "
                         f"keys, or pass --insecure to accept the risk")
