"""CURVE keys for the control channel (and, optionally, the publisher): files, loading, ZAP.

ZeroMQ CURVE (https://rfc.zeromq.org/spec/26/) encrypts a connection and proves that the server
holds the secret key matching the public key the client expects. It does not, by itself, say
which clients may connect: any client that knows the server's public key completes the
handshake. That decision belongs to a ZAP handler (https://rfc.zeromq.org/spec/27/), which
libzmq asks about every new connection. Here it is pyzmq's `zmq.auth.thread.ThreadAuthenticator`,
one per ZeroMQ context, started by the first secured socket and stopped after the last: each
socket gets its own ZAP domain, admitting only the client public keys listed in its
allowed-clients folder. Every secured socket also sets ZAP_ENFORCE_DOMAIN, so if the
authenticator is missing the connection is refused rather than allowed.

Key files use zmq.auth's certificate format and are read with `zmq.auth.load_certificate` (czmq
and other ZeroMQ tools read them too); they are written here, created with their final mode and
never over an existing file unless asked. Layout written by `generate_keys` / `vasa-bridge keys`:

    DIR/                    0700
      server.key            the server's public key: give it to clients
      server.key_secret     the server's secret key (0600): stays on the server
      NAME.key              a client's public key
      NAME.key_secret       a client's secret key (0600): copy it to that client only
      allowed_clients/      0700; public keys the server accepts (NAME.key copies)

Secret files readable by anyone but their owner are refused on load, as ssh does.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import logging
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth  # not imported by `import zmq`
from zmq.auth.thread import ThreadAuthenticator

from ..errors import ConfigError, TransportError

log = logging.getLogger(__name__)

SERVER = "server"
ALLOWED = "allowed_clients"
_Z85_KEY = re.compile(rb"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # fixed by the ZAP specification
_ids = itertools.count(1)  # ZAP domains and authenticator pipes: unique in this process
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


_Z85_DIGITS = (b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
               b".-:+=^!/*?&<>()[]{}@%$#")


def _z85_overflow(key: bytes) -> str | None:
    """The first group of five Z85 characters of `key` whose value is 2**32 or more (ZeroMQ
    refuses such a key with a bare "Invalid argument"), or None."""
    for i in range(0, len(key) - 4, 5):
        value = 0
        for ch in key[i:i + 5]:
            value = value * 85 + _Z85_DIGITS.index(ch)
        if value >= 2 ** 32:
            return key[i:i + 5].decode()
    return None


def load_keypair(path: str | Path, *, need_secret: bool = False) -> KeyPair:
    """Read a certificate with `zmq.auth.load_certificate`, then check it strictly: both keys
    40 Z85 characters; with `need_secret`, the file holds the secret key, is readable by its
    owner only, and its two keys belong together."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"key file {str(path)!r} does not exist: expected a certificate made by "
                          f"`vasa-bridge keys`")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except ValueError:  # zmq.auth: no public-key line
        raise ConfigError(f"key file {str(path)!r} has no public-key line: expected a ZeroMQ "
                          f"certificate") from None
    except OSError as e:
        raise ConfigError(f"key file {str(path)!r} cannot be read ({e}): expected a ZeroMQ "
                          f"certificate") from None
    for what, key in (("public", public), ("secret", secret)):
        if key is not None and not _Z85_KEY.match(key):
            raise ConfigError(f"key file {str(path)!r} has a {what} key of {len(key)} "
                              f"characters: expected 40 Z85 characters")
        past = None if key is None else _z85_overflow(key)
        if past is not None:
            raise ConfigError(f"key file {str(path)!r} has a {what} key whose characters "
                              f"{past!r} do not decode (past 2**32): expected a key made by "
                              f"`vasa-bridge keys`")
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


class _CurveAuthenticator(ThreadAuthenticator):
    """pyzmq's ZAP authenticator thread, made to fail closed: only CURVE gets through (its
    default admits NULL), and every request gets an answer, a malformed or failing one a
    refusal, so one bad request never leaves every later client waiting."""

    def __init__(self, ctx: zmq.Context) -> None:
        super().__init__(ctx, log=log)
        # pyzmq names its control pipe after id(self), which a new authenticator can reuse
        # while the old pipe's address is still taken: a fresh name each time.
        self.pipe_endpoint = f"inproc://vasa-zap-pipe-{os.getpid()}-{next(_ids)}"

    def stop(self) -> None:
        """Stop the thread (if it runs: a send to a pipe nobody reads would wait for ever), and
        free the ZAP address before closing its socket, since closing frees it only later, on
        libzmq's own thread, and the next authenticator on this context must bind it."""
        if self.is_alive():
            self.pipe.send(b"TERMINATE")
            self.thread.join()
        if self.pipe is not None:
            self.pipe.close(linger=0)
        if self.zap_socket is not None:
            with contextlib.suppress(zmq.ZMQError):  # not bound if start failed
                self.zap_socket.unbind(ZAP_ENDPOINT)
            self.zap_socket.close(linger=0)
        self.thread = self.pipe = self.zap_socket = None

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        request_id = msg[1] if len(msg) > 1 else b""
        # A REP socket must answer each request before it can take the next: pyzmq's handler
        # leaves a request of fewer than two frames unanswered, and then answers no one again.
        if len(msg) < 6 or msg[0] != b"1.0":
            self._send_zap_reply(request_id, b"400", b"malformed ZAP request")
            return
        if msg[5] != b"CURVE":
            self._send_zap_reply(request_id, b"400", b"CURVE required")
            return
        try:
            await super().handle_zap_message(msg)
        except Exception:  # pragma: no cover - a pyzmq bug or a race must not stop the thread
            log.exception("ZAP request failed: refusing it")
            with contextlib.suppress(zmq.ZMQError):  # unless the reply went out already
                self._send_zap_reply(request_id, b"400", b"internal error")


class _AllowedKeys:
    """zmq.auth's CURVE credentials provider for one domain: a fixed set of Z85 public keys."""

    def __init__(self, allowed: frozenset[bytes]) -> None:
        self.allowed = allowed

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self.allowed:
            return True
        log.warning("CURVE client refused: its public key %s is not in the allowed-clients "
                    "folder", key.decode("ascii", "replace"))
        return False


_lock = threading.Lock()  # guards _authenticators and the domains configured on them
_authenticators: dict[int, _CurveAuthenticator] = {}  # id(context) -> its one authenticator


def context_authenticator(ctx: zmq.Context) -> ThreadAuthenticator | None:
    """The ZAP authenticator serving `ctx`'s CURVE sockets; None while no socket needs one."""
    with _lock:
        return _authenticators.get(id(ctx))


@dataclass(frozen=True)
class ZapRegistration:
    """One ZAP domain (one secured socket) on its context's authenticator. The first
    registration on a context starts the authenticator; releasing the last stops it."""
    ctx: zmq.Context
    domain: str

    @classmethod
    def register(cls, ctx: zmq.Context, domain: str,
                 allowed: frozenset[bytes]) -> "ZapRegistration":
        with _lock:
            auth = _authenticators.get(id(ctx))
            if auth is None:
                auth = _CurveAuthenticator(ctx)
                try:
                    auth.start()
                except zmq.ZMQError as e:
                    auth.stop()
                    raise ConfigError(f"cannot start the ZAP authenticator ({e}): another one "
                                      f"already serves this ZeroMQ context; expected "
                                      f"vasa_bridge's to be the only one") from None
                _authenticators[id(ctx)] = auth
            auth.configure_curve_callback(domain, _AllowedKeys(allowed))
        return cls(ctx, domain)

    def release(self) -> None:
        """Forget this socket's allowed keys (call after closing the socket)."""
        with _lock:  # held while stopping, so a new authenticator never races for the address
            auth = _authenticators.get(id(self.ctx))
            if auth is None:
                return
            auth.credentials_providers.pop(self.domain, None)
            if not auth.credentials_providers:
                del _authenticators[id(self.ctx)]
                auth.stop()


def secure_server(sock: zmq.Socket, curve: ServerCurve, ctx: zmq.Context) -> ZapRegistration:
    """Make `sock` (before bind) a CURVE server that only lets `curve.allowed` clients in.
    Call `.release()` on the result after closing `sock`."""
    domain = f"vasa-{os.getpid()}-{next(_ids)}"
    zap = ZapRegistration.register(ctx, domain, curve.allowed)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.keys.secret)
    sock.setsockopt(zmq.ZAP_DOMAIN, domain.encode())
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no ZAP handler -> refuse, never allow
    return zap


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
