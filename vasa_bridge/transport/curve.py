"""CURVE keys for the control channel (and, optionally, the publisher): files, loading, ZAP.

ZeroMQ CURVE (https://rfc.zeromq.org/spec/26/) encrypts a connection and proves that the server
holds the secret key matching the public key the client expects. It does not, by itself, say
which clients may connect: any client that knows the server's public key completes the
handshake. That decision belongs to a ZAP handler (https://rfc.zeromq.org/spec/27/), which
libzmq asks about every new connection. `ZapHandler` here answers 200 only for client public keys
listed in the server's allowed-clients folder; every secured socket also sets
ZAP_ENFORCE_DOMAIN, so if the handler is missing the connection is refused rather than allowed.

Key files use zmq.auth's certificate format (readable by `zmq.auth.load_certificate`, czmq and
other ZeroMQ tools). Layout written by `generate_keys` / `vasa-bridge keys`:

    DIR/                    0700
      server.key            the server's public key: give it to clients
      server.key_secret     the server's secret key (0600): stays on the server
      NAME.key              a client's public key
      NAME.key_secret       a client's secret key (0600): copy it to that client only
      allowed_clients/      0700; public keys the server accepts (NAME.key copies)

Secret files readable by anyone but their owner are refused on load, as ssh does.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.utils.z85  # not imported by `import zmq`

from ..errors import ConfigError, TransportError

log = logging.getLogger(__name__)

SERVER = "server"
ALLOWED = "allowed_clients"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # fixed by the ZAP specification
_Z85_KEY = re.compile(rb"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class KeyPair:
    public: bytes  # Z85, 40 bytes
    secret: bytes | None = None  # Z85, 40 bytes; None for a public-only certificate

    def __repr__(self) -> str:  # never print a secret by accident
        return f"KeyPair(public={self.public.decode()!r}, secret={'set' if self.secret else None})"


@dataclass(frozen=True)
class ServerCurve:
    """What a CURVE server socket needs: its own keypair and the client keys it accepts."""
    keys: KeyPair
    allowed: frozenset[bytes]  # Z85 public keys of the clients allowed in

    @classmethod
    def load(cls, secret_file: str | Path, allowed_dir: str | Path) -> "ServerCurve":
        keys = load_keypair(secret_file, need_secret=True)
        return cls(keys, load_allowed(allowed_dir))


@dataclass(frozen=True)
class ClientCurve:
    """What a CURVE client socket needs: its own keypair and the server's public key."""
    keys: KeyPair
    server_public: bytes  # Z85

    @classmethod
    def load(cls, secret_file: str | Path, server_public: str | Path | bytes) -> "ClientCurve":
        """`server_public` is a certificate file (server.key) or the 40-character Z85 key."""
        keys = load_keypair(secret_file, need_secret=True)
        if isinstance(server_public, bytes) or (not Path(server_public).is_file()
                                                and _Z85_KEY.match(_b(str(server_public)))):
            if not _Z85_KEY.match(_b(server_public)):
                raise ConfigError(f"server public key {server_public[:50]!r} is not a key: "
                                  f"expected 40 Z85 characters or a server.key file")
            return cls(keys, _b(server_public))
        return cls(keys, load_keypair(server_public).public)


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("ascii", "replace")


# --- files -------------------------------------------------------------------------------------


def _write_cert(path: Path, keys: KeyPair, *, secret: bool, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    mode = 0o600 if secret else 0o644
    try:
        fd = os.open(path, flags, mode)  # created with its final mode: never briefly readable
    except FileExistsError:
        raise ConfigError(f"key file {str(path)!r} already exists: expected a new file (pass "
                          f"--force to replace it)") from None
    os.fchmod(fd, mode)  # O_TRUNC keeps an old file's mode; the umask may have narrowed ours
    lines = [
        f"#   ZeroMQ CURVE {'**Secret** ' if secret else 'Public '}Certificate",
        f"#   written by vasa-bridge on {datetime.datetime.now().isoformat(timespec='seconds')}",
        "#   " + ("Keep this file private: anyone holding it can act as its owner." if secret
                  else "Public: safe to share."),
        "",
        "metadata",
        "curve",
        f'    public-key = "{keys.public.decode()}"',
    ]
    if secret:
        lines.append(f'    secret-key = "{keys.secret.decode()}"')
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def write_keypair(directory: str | Path, name: str, *, overwrite: bool = False) -> KeyPair:
    """Make a keypair; write NAME.key (public, 0644) and NAME.key_secret (0600) in `directory`."""
    if not _NAME.match(name):
        raise ConfigError(f"key name {name!r} is not usable: expected letters, digits, '_', '.', "
                          f"'-' (1-64 characters)")
    directory = Path(directory)
    _private_dir(directory)
    public, secret = zmq.curve_keypair()
    keys = KeyPair(public, secret)
    _write_cert(directory / f"{name}.key_secret", keys, secret=True, overwrite=overwrite)
    _write_cert(directory / f"{name}.key", keys, secret=False, overwrite=overwrite)
    return keys


def allow_client(directory: str | Path, name: str, public: bytes, *,
                 overwrite: bool = False) -> Path:
    """List a client public key in DIR/allowed_clients/NAME.key."""
    allowed = Path(directory) / ALLOWED
    _private_dir(allowed)
    path = allowed / f"{name}.key"
    _write_cert(path, KeyPair(public), secret=False, overwrite=overwrite)
    return path


@dataclass(frozen=True)
class GeneratedKeys:
    directory: Path
    server: KeyPair | None  # None when the server key already existed and was kept
    clients: dict[str, KeyPair]


def generate_keys(directory: str | Path, clients: tuple[str, ...] = ("client",), *,
                  server: bool = True, overwrite: bool = False) -> GeneratedKeys:
    """Write a server keypair (if `server`) and one keypair per client name, each client listed
    in allowed_clients/. Refuses to overwrite existing files unless `overwrite`."""
    directory = Path(directory)
    _private_dir(directory)
    _private_dir(directory / ALLOWED)
    server_keys = write_keypair(directory, SERVER, overwrite=overwrite) if server else None
    made = {}
    for name in clients:
        if name == SERVER:
            raise ConfigError(f"client name {name!r} is reserved for the server's key: expected "
                              f"another name")
        made[name] = write_keypair(directory, name, overwrite=overwrite)
        allow_client(directory, name, made[name].public, overwrite=overwrite)
    return GeneratedKeys(directory, server_keys, made)


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"secret key file {str(path)!r} has mode {stat.S_IMODE(mode):04o}: "
                          f"expected 0600 (run: chmod 600 {path})")


def load_keypair(path: str | Path, *, need_secret: bool = False) -> KeyPair:
    """Read a zmq.auth-format certificate. With `need_secret`, the file must hold the secret
    key and be readable by its owner only."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"key file {str(path)!r} does not exist: expected a certificate made by "
                          f"`vasa-bridge keys`")
    public = secret = None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"key file {str(path)!r} cannot be read ({e}): expected a ZeroMQ "
                          f"certificate") from None
    for line in text.splitlines():
        m = re.match(r'^\s*(public|secret)-key\s*=\s*"(.*)"\s*$', line)
        if m:
            key = m.group(2).encode("ascii", "replace")
            if not _Z85_KEY.match(key):
                raise ConfigError(f"key file {str(path)!r} has a {m.group(1)} key of "
                                  f"{len(key)} characters: expected 40 Z85 characters")
            if m.group(1) == "public":
                public = key
            else:
                secret = key
    if public is None:
        raise ConfigError(f"key file {str(path)!r} has no public-key line: expected a ZeroMQ "
                          f"certificate")
    if need_secret:
        if secret is None:
            raise ConfigError(f"key file {str(path)!r} holds only a public key: expected the "
                              f"secret certificate (NAME.key_secret)")
        _check_private(path)
        if zmq.curve_public(secret) != public:
            raise ConfigError(f"key file {str(path)!r}: its public key does not match its secret "
                              f"key: expected a pair made together")
    return KeyPair(public, secret)


def load_allowed(directory: str | Path) -> frozenset[bytes]:
    """Public keys of every *.key file in `directory` (an allowed-clients folder)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"allowed-clients folder {str(directory)!r} does not exist: expected a "
                          f"folder of client public keys (NAME.key)")
    keys = frozenset(load_keypair(p).public for p in sorted(directory.glob("*.key")))
    if not keys:
        raise ConfigError(f"allowed-clients folder {str(directory)!r} holds no *.key file: no "
                          f"client could connect. Expected at least one client public key")
    return keys


# --- sockets and ZAP ---------------------------------------------------------------------------


class ZapHandler:
    """One ZAP handler thread per ZeroMQ context, shared by every CURVE server socket on it.

    Each secured socket gets its own ZAP domain; the handler accepts a CURVE client only if its
    public key is among those registered for that domain. Anything else (another mechanism, an
    unknown domain, a malformed request) is refused."""

    _lock = threading.Lock()
    _by_context: dict[int, "ZapHandler"] = {}

    def __init__(self, ctx: zmq.Context) -> None:
        self._ctx = ctx
        self._domains: dict[str, frozenset[bytes]] = {}
        self._sock = ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        try:
            self._sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as e:
            self._sock.close(0)
            raise ConfigError(f"cannot start the ZAP handler ({e}): another authenticator "
                              f"(e.g. zmq.auth.ThreadAuthenticator) already serves this ZeroMQ "
                              f"context; expected vasa_bridge's to be the only one") from None
        self.accepted = 0
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vasa-zap", daemon=True)
        self._thread.start()

    @classmethod
    def register(cls, ctx: zmq.Context, domain: str, allowed: frozenset[bytes]) -> "ZapHandler":
        with cls._lock:
            handler = cls._by_context.get(id(ctx))
            if handler is None:
                handler = cls._by_context[id(ctx)] = cls(ctx)
            handler._domains[domain] = allowed
            return handler

    def unregister(self, domain: str) -> None:
        with self._lock:  # held while stopping, so a new handler never races for the address
            self._domains.pop(domain, None)
            if not self._domains:
                self._by_context.pop(id(self._ctx), None)
                self._stop.set()
                self._thread.join()
                self._sock.close(0)

    def decide(self, frames: list[bytes]) -> tuple[bytes, bytes, bytes]:
        """A ZAP request's frames -> (status code, status text, user id). Pure; tested directly."""
        if len(frames) < 6 or frames[0] != b"1.0":
            return b"400", b"malformed ZAP request", b""
        domain, mechanism, credentials = frames[2].decode("utf-8", "replace"), frames[5], \
            frames[6:]
        allowed = self._domains.get(domain)
        if allowed is None:
            return b"400", b"unknown domain", b""
        if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
            return b"400", b"CURVE required", b""
        key = zmq.utils.z85.encode(credentials[0])
        if key not in allowed:
            return b"400", b"client key not allowed", b""
        return b"200", b"OK", key

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(100):
                continue
            try:
                frames = self._sock.recv_multipart()
            except zmq.ZMQError:  # pragma: no cover - socket torn down under us
                continue
            code, text, user = self.decide(frames)
            if code == b"200":
                self.accepted += 1
            else:
                self.refused += 1
                log.warning("CURVE client refused (%s) from %s", text.decode(),
                            frames[3].decode("ascii", "replace") if len(frames) > 3 else "?")
            request_id = frames[1] if len(frames) > 1 else b""
            self._sock.send_multipart([b"1.0", request_id, code, text, user, b""])


_domain_counter = 0


@dataclass(frozen=True)
class ZapRegistration:
    handler: ZapHandler
    domain: str

    def release(self) -> None:
        """Forget this socket's allowed keys (call after closing the socket)."""
        self.handler.unregister(self.domain)


def secure_server(sock: zmq.Socket, curve: ServerCurve, ctx: zmq.Context) -> ZapRegistration:
    """Make `sock` (before bind) a CURVE server that only lets `curve.allowed` clients in.
    Call `.release()` on the result after closing `sock`."""
    global _domain_counter
    with ZapHandler._lock:
        _domain_counter += 1
        domain = f"vasa-{os.getpid()}-{_domain_counter}"
    handler = ZapHandler.register(ctx, domain, curve.allowed)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.keys.secret)
    sock.setsockopt(zmq.ZAP_DOMAIN, domain.encode())
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no ZAP handler -> refuse, never allow
    return ZapRegistration(handler, domain)


def bind_server(sock: zmq.Socket, endpoint: str, curve: ServerCurve | None, ctx: zmq.Context,
                what: str, hint: str = "") -> ZapRegistration | None:
    """Secure `sock` with `curve` (if any) and bind it; on failure close it and raise one line.
    Returns the ZAP registration to release after closing the socket (None without CURVE)."""
    zap = secure_server(sock, curve, ctx) if curve is not None else None
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as e:
        sock.close(0)
        if zap is not None:
            zap.release()
        raise TransportError(f"cannot bind {what} to {endpoint!r}: {e}"
                             + (f" ({hint})" if hint else "")) from None
    return zap


def secure_client(sock: zmq.Socket, curve: ClientCurve) -> None:
    """Make `sock` (before connect) a CURVE client of the server with `curve.server_public`."""
    sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server_public)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.keys.secret)


# --- where keys live by default ---------------------------------------------------------------------------------------


def default_keys_dir() -> Path:
    """$XDG_CONFIG_HOME/vasa_bridge/curve (~/.config/vasa_bridge/curve)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vasa_bridge" / "curve"
