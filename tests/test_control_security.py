"""Control-channel security: CURVE keys on disk, ZAP admission of listed clients only, the
non-loopback rule, and the load_portrait limits (image header, size, allowed folders)."""

import argparse
import io
import os
import stat
import struct
import zlib

import pytest
import zmq
import zmq.auth
from PIL import Image

from vasa_bridge.errors import ConfigError, ControlError, TransportError
from vasa_bridge.transport import ControlClient, ControlConfig, ControlServer
from vasa_bridge.cli.keys import add_cli
from vasa_bridge.cli.options import add_control_options as add_cli_options
from vasa_bridge.cli.options import control_config as config_from_args
from vasa_bridge.transport.control import RequestError, parse_load_portrait, portrait_folders
from vasa_bridge.transport.curve import (ALLOWED, ClientCurve, KeyPair, ServerCurve,
                                         ZapRegistration, context_authenticator, generate_keys,
                                         load_keypair, secure_client, secure_server,
                                         write_keypair)

from conftest import free_port


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def png(width, height, color=(200, 150, 120)):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


class Handler:
    def __init__(self):
        self.loaded = []

    def status(self):
        return {"fps": 25.0}

    def load_portrait(self, path=None, image=None):
        self.loaded.append(path if path is not None else image)
        return {"path": path} if path is not None else {"bytes": len(image)}


# --- keys on disk ------------------------------------------------------------------------------


def test_generate_keys_layout_modes_and_zmq_auth_format(tmp_path):
    d = tmp_path / "keys"
    made = generate_keys(d, ("alice", "bob"))
    assert mode(d) == 0o700 and mode(d / ALLOWED) == 0o700
    for name in ("server", "alice", "bob"):
        assert mode(d / f"{name}.key_secret") == 0o600
        assert mode(d / f"{name}.key") == 0o644
        # zmq.auth reads our files: the format is the standard ZeroMQ certificate
        public, secret = zmq.auth.load_certificate(d / f"{name}.key_secret")
        keys = made.server if name == "server" else made.clients[name]
        assert (public, secret) == (keys.public, keys.secret)
        assert zmq.auth.load_certificate(d / f"{name}.key") == (keys.public, None)
    assert sorted(p.name for p in (d / ALLOWED).iterdir()) == ["alice.key", "bob.key"]
    assert "secret-key" not in (d / ALLOWED / "alice.key").read_text()
    assert ServerCurve.load(d / "server.key_secret", d / ALLOWED).allowed == \
        {made.clients["alice"].public, made.clients["bob"].public}
    assert made.clients["alice"].secret.decode() not in repr(made.clients["alice"])
    with pytest.raises(ConfigError, match="already exists"):
        generate_keys(d, ("alice",))
    again = generate_keys(d, ("alice",), overwrite=True)
    assert load_keypair(d / "alice.key_secret", need_secret=True) == again.clients["alice"]
    assert mode(d / "alice.key_secret") == 0o600


def test_load_keypair_refuses_unsafe_or_broken_files(tmp_path):
    keys = write_keypair(tmp_path, "c")
    secret = tmp_path / "c.key_secret"
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match=r"mode 0644: expected 0600 \(run: chmod 600"):
        load_keypair(secret, need_secret=True)
    secret.chmod(0o600)
    with pytest.raises(ConfigError, match="holds only a public key"):
        load_keypair(tmp_path / "c.key", need_secret=True)
    other = write_keypair(tmp_path, "d")
    mixed = tmp_path / "mixed.key_secret"
    mixed.write_text(f'curve\n    public-key = "{keys.public.decode()}"\n'
                     f'    secret-key = "{other.secret.decode()}"\n')
    mixed.chmod(0o600)
    with pytest.raises(ConfigError, match="does not match its secret key"):
        load_keypair(mixed, need_secret=True)
    # 40 Z85 characters, but a group of five past 2**32 (ZeroMQ: "Invalid argument")
    past = tmp_path / "past.key_secret"
    past.write_text(f'curve\n    public-key = "{keys.public.decode()}"\n'
                    f'    secret-key = "#####{keys.secret.decode()[5:]}"\n')
    past.chmod(0o600)
    with pytest.raises(ConfigError, match=r"secret key whose characters '#####' do not decode"):
        load_keypair(past, need_secret=True)
    (tmp_path / "short.key").write_text('curve\n    public-key = "abc"\n')
    with pytest.raises(ConfigError, match="3 characters: expected 40 Z85"):
        load_keypair(tmp_path / "short.key")
    with pytest.raises(ConfigError, match="does not exist"):
        load_keypair(tmp_path / "nope.key")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="holds no \\*.key file"):
        ServerCurve.load(tmp_path / "c.key_secret", empty)


def test_curve_config_needs_both_fields(tmp_path):
    generate_keys(tmp_path)
    with pytest.raises(ConfigError, match="needs both"):
        ControlServer(Handler(), ControlConfig(endpoint="tcp://127.0.0.1:*",
                                               curve_secret_key=tmp_path / "server.key_secret"))


def test_zap_authenticator_admits_only_listed_curve_keys():
    """The context's authenticator (pyzmq's ThreadAuthenticator), asked over the ZAP endpoint
    exactly as libzmq asks it: a listed key gets 200 and its Z85 key as user id; anything else,
    including NULL, PLAIN and a malformed request, gets 400, and the thread keeps serving."""
    ctx = zmq.Context()
    allowed = KeyPair(*zmq.curve_keypair())
    stranger = KeyPair(*zmq.curve_keypair())
    zap = ZapRegistration.register(ctx, "d1", frozenset({allowed.public}))
    auth = context_authenticator(ctx)
    zap_client = ctx.socket(zmq.REQ)
    zap_client.connect("inproc://zeromq.zap.01")
    try:
        def ask(*frames):
            zap_client.send_multipart(list(frames))
            assert zap_client.poll(3000), "the authenticator did not answer"
            version, request_id, code, text, user, _ = zap_client.recv_multipart()
            assert (version, request_id) == (b"1.0", b"7")
            return code, text, user

        def req(domain, mech, *creds):
            return ask(b"1.0", b"7", domain, b"127.0.0.1", b"", mech, *creds)
        raw = zmq.utils.z85.decode
        assert req(b"d1", b"CURVE", raw(allowed.public)) == (b"200", b"OK", allowed.public)
        assert req(b"d1", b"CURVE", raw(stranger.public))[:2] == (b"400", b"Unknown key")
        assert req(b"d2", b"CURVE", raw(allowed.public))[:2] == (b"400", b"Unknown domain")
        assert req(b"d1", b"NULL")[:2] == (b"400", b"CURVE required")
        assert req(b"d1", b"PLAIN", b"user", b"pw")[:2] == (b"400", b"CURVE required")
        assert req(b"d1", b"CURVE", b"a", b"b")[0] == b"400"
        assert ask(b"2.0", b"7", b"d1", b"127.0.0.1", b"", b"CURVE", raw(allowed.public))[:2] \
            == (b"400", b"malformed ZAP request")
        zap_client.send(b"1.0")  # pyzmq's own handler leaves this unanswered, then hangs
        assert zap_client.poll(3000) and zap_client.recv_multipart()[2:4] == \
            [b"400", b"malformed ZAP request"]
        assert auth.is_alive()
        assert req(b"d1", b"CURVE", raw(allowed.public))[0] == b"200"  # still serving
    finally:
        zap_client.close(0)
        zap.release()
    assert context_authenticator(ctx) is None and not auth.is_alive()
    ctx.term()


def test_authenticator_restarts_at_once_on_the_same_context():
    """Releasing the last domain stops the authenticator and frees the ZAP address at once: the
    next secured socket on that context starts a new one straight away (closing the socket
    alone frees it later, and a restart then failed with 'Address already in use')."""
    ctx = zmq.Context()
    key = KeyPair(*zmq.curve_keypair())
    previous = None
    for i in range(50):
        zap = ZapRegistration.register(ctx, f"d{i}", frozenset({key.public}))
        auth = context_authenticator(ctx)
        assert auth is not previous and auth.is_alive()
        asker = ctx.socket(zmq.REQ)
        asker.connect("inproc://zeromq.zap.01")
        asker.send_multipart([b"1.0", b"1", f"d{i}".encode(), b"", b"", b"CURVE",
                              zmq.utils.z85.decode(key.public)])
        assert asker.poll(3000) and asker.recv_multipart()[2] == b"200"
        asker.close(0)
        zap.release()
        assert not auth.is_alive()
        previous = auth
    ctx.term()


def test_one_authenticator_per_context_outlives_its_first_client(keys):
    """Two secured sockets share their context's authenticator. The first client to connect
    does not end it (the hand-made ZAP thread this replaced once died on its first client): a
    listed client gets in, an unlisted one is refused, a listed one gets in again. Closing the
    last secured socket stops it, and a new one starts cleanly."""
    d, elsewhere = keys
    ctx = zmq.Context()
    curve = ServerCurve.load(d / "server.key_secret", d / ALLOWED)
    good = ClientCurve.load(d / "good.key_secret", d / "server.key")
    stranger = ClientCurve.load(elsewhere / "stranger.key_secret", d / "server.key")
    pub = ctx.socket(zmq.XPUB)
    pub_zap = secure_server(pub, curve, ctx)
    pub.bind_to_random_port("tcp://127.0.0.1")
    auth = context_authenticator(ctx)
    for _ in range(2):
        cfg = ControlConfig(endpoint="tcp://127.0.0.1:0", curve_secret_key=d / "server.key_secret",
                            curve_allowed_clients=d / ALLOWED)
        with ControlServer(Handler(), cfg, context=ctx) as server:
            assert context_authenticator(ctx) is auth and auth.is_alive()
            for curve_keys, timeout, ok in ((good, 3000, True), (stranger, 700, False),
                                            (good, 3000, True)):
                with ControlClient(server.endpoint, timeout_ms=timeout, curve=curve_keys,
                                   context=ctx) as client:
                    if ok:
                        assert client.call("status") == {"fps": 25.0}
                    else:
                        with pytest.raises(ControlError, match="ZAP status 400"):
                            client.call("status")
                assert auth.is_alive()
            assert server.requests == 2
    pub.close(0)
    pub_zap.release()
    assert context_authenticator(ctx) is None and not auth.is_alive()
    with ControlServer(Handler(), ControlConfig(endpoint="tcp://127.0.0.1:0",
                                                curve_secret_key=d / "server.key_secret",
                                                curve_allowed_clients=d / ALLOWED),
                       context=ctx) as server:
        fresh = context_authenticator(ctx)
        assert fresh is not auth and fresh.is_alive()
        with ControlClient(server.endpoint, timeout_ms=3000, curve=good, context=ctx) as client:
            assert client.call("status") == {"fps": 25.0}
    assert context_authenticator(ctx) is None and not fresh.is_alive()
    ctx.term()


# --- CURVE on a live control channel -------------------------------------------------------------


@pytest.fixture
def keys(tmp_path):
    d = tmp_path / "curve"
    generate_keys(d, ("good",))
    write_keypair(tmp_path / "elsewhere", "stranger")  # a valid keypair that is not listed
    return d, tmp_path / "elsewhere"


def test_non_loopback_bind_needs_curve_and_only_listed_clients_get_in(keys):
    d, elsewhere = keys
    port = free_port()
    with pytest.raises(TransportError, match="not a loopback address"):
        ControlServer(Handler(), ControlConfig(endpoint=f"tcp://0.0.0.0:{port}"))
    config = ControlConfig(endpoint=f"tcp://0.0.0.0:{port}",
                           curve_secret_key=d / "server.key_secret",
                           curve_allowed_clients=d / ALLOWED)
    target = f"tcp://127.0.0.1:{port}"
    with ControlServer(Handler(), config) as server:
        assert server.secured
        good = ClientCurve.load(d / "good.key_secret", d / "server.key")
        server_public = load_keypair(d / "server.key").public
        assert ClientCurve.load(d / "good.key_secret", server_public.decode()) == good
        assert ClientCurve.load(d / "good.key_secret", server_public) == good
        with pytest.raises(ConfigError, match="is not a key"):
            ClientCurve.load(d / "good.key_secret", b"short")
        with ControlClient(target, timeout_ms=3000, curve=good) as client:
            assert client.call("status") == {"fps": 25.0}

        stranger = ClientCurve.load(elsewhere / "stranger.key_secret", d / "server.key")
        with ControlClient(target, timeout_ms=700, curve=stranger) as client:
            with pytest.raises(ControlError, match="refused this client's CURVE handshake "
                                                   r"\(authentication failed, ZAP status 400\)"):
                client.call("status")

        # the right client key but the wrong server key: the handshake cannot complete
        impostor = ClientCurve(good.keys, KeyPair(*zmq.curve_keypair()).public)
        with ControlClient(target, timeout_ms=700, curve=impostor) as client:
            with pytest.raises(ControlError, match="refused|no reply|could not send"):
                client.call("status")

        with ControlClient(target, timeout_ms=700) as client:  # no CURVE at all
            # the mechanisms never agree: the request waits unsent or unanswered, by timing
            # (a busy machine's CI saw "could not send ... within 700 ms")
            with pytest.raises(ControlError, match="no reply|could not send"):
                client.call("status")

        assert server.requests == 1  # nothing from the refused clients reached the handler
        with ControlClient(target, timeout_ms=3000, curve=good) as client:
            assert client.call("status") == {"fps": 25.0}


def test_curve_server_without_a_zap_handler_refuses_everyone(keys):
    """Fail closed: ZAP_ENFORCE_DOMAIN means a CURVE socket with no ZAP handler lets no one in
    (libzmq's legacy default would let any CURVE client in)."""
    d, _ = keys
    server_keys = load_keypair(d / "server.key_secret", need_secret=True)
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.CURVE_SERVER, 1)
    router.setsockopt(zmq.CURVE_SECRETKEY, server_keys.secret)
    router.setsockopt(zmq.ZAP_DOMAIN, b"nobody-serves-this")
    router.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    req = ctx.socket(zmq.REQ)
    secure_client(req, ClientCurve.load(d / "good.key_secret", d / "server.key"))
    req.connect(f"tcp://127.0.0.1:{port}")
    req.send(b"hello")
    assert router.poll(700) == 0
    req.close(0)
    router.close(0)
    ctx.term()


def test_publisher_socket_can_be_secured_with_the_same_helpers(keys):
    """The data channel (XPUB) takes the same CURVE setup: a listed subscriber receives, an
    unlisted one receives nothing."""
    d, elsewhere = keys
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    zap = secure_server(pub, ServerCurve.load(d / "server.key_secret", d / ALLOWED), ctx)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    subs = {}
    for name, secret in (("good", d / "good.key_secret"),
                         ("stranger", elsewhere / "stranger.key_secret")):
        sub = ctx.socket(zmq.SUB)
        secure_client(sub, ClientCurve.load(secret, d / "server.key"))
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        subs[name] = sub
    assert pub.poll(3000)  # the good subscriber's subscription arrives
    assert pub.recv() == b"\x01"
    for _ in range(20):
        pub.send(b"motion")
    assert subs["good"].poll(3000) and subs["good"].recv() == b"motion"
    assert subs["stranger"].poll(300) == 0
    for s in (*subs.values(), pub):
        s.close(0)
    zap.release()
    ctx.term()


@pytest.mark.slow
def test_publisher_and_subscriber_classes_take_curve_keys(keys):
    """`serve --curve-data` / `listen --curve-key`: the Publisher and Subscriber themselves. A
    listed subscriber decodes the motion; an unlisted one and a plaintext one get nothing."""
    import numpy as np
    from vasa_bridge.motion.frame import MotionFrame
    from vasa_bridge.transport.publisher import Publisher, PublisherConfig
    from vasa_bridge.transport.subscriber import Subscriber, SubscriberConfig
    d, elsewhere = keys
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    server = ServerCurve.load(d / "server.key_secret", d / ALLOWED)
    assert "secret" not in repr(PublisherConfig(curve=server))  # keys stay out of printed configs
    clients = {"good": ClientCurve.load(d / "good.key_secret", d / "server.key"),
               "stranger": ClientCurve.load(elsewhere / "stranger.key_secret", d / "server.key"),
               "plaintext": None}
    with Publisher(PublisherConfig(endpoint=endpoint, curve=server)) as pub:
        subs = {k: Subscriber(SubscriberConfig(endpoint=endpoint, curve=c))
                for k, c in clients.items()}
        try:
            pub.wait_for_subscribers(1, timeout_s=3.0)
            got = {k: [] for k in subs}
            for i in range(30):
                pub.motion(MotionFrame.from_named({"jawOpen": 0.5}), pts=i * 40_000_000)
                for k, sub in subs.items():
                    m = sub.recv(timeout_ms=20)
                    if m is not None:
                        got[k].append(m)
            assert got["good"] and got["good"][0].kind == "motion"
            assert np.isclose(got["good"][0].motion_frame()["jawOpen"], 0.5)
            assert got["stranger"] == [] and got["plaintext"] == []
        finally:
            for sub in subs.values():
                sub.close()


def test_curve_data_and_listen_keys_are_checked_on_the_command_line(tmp_path, capsys):
    from vasa_bridge.cli import main
    assert main(["listen", "--curve-key", str(tmp_path / "x.key_secret"), "--count", "1"]) == 2
    assert "--curve-key and --curve-server go together" in capsys.readouterr().err
    assert main(["serve", "--curve-data", "--no-frames", "--motion", "loudness"]) == 2
    assert "--curve-data needs --curve-secret and --curve-allowed" in capsys.readouterr().err


# --- load_portrait limits ------------------------------------------------------------------------


def _refused(req, config, folders=None):
    with pytest.raises(RequestError) as info:
        parse_load_portrait(req, config, folders)
    return info.value.code, str(info.value)


def test_image_bytes_header_checks_without_decoding():
    cfg = ControlConfig(max_image_side=512, max_image_bytes=200_000)
    ok = png(300, 200)
    assert parse_load_portrait({"cmd": "load_portrait", "image": ok}, cfg) == {"image": ok}
    code, text = _refused({"cmd": "load_portrait", "image": png(513, 10)}, cfg)
    assert code == "too_large" and "513x10 pixels: the limit is 512" in text
    # A header that claims 100000x100000 pixels and has no pixel data: refused from the header
    # alone (decoding it would need 30 GB).
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
            + struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT")))
    code, text = _refused({"cmd": "load_portrait", "image": bomb}, cfg)
    assert code == "too_large" and "too many pixels: the limit is 512 pixels a side" in text
    ihdr = struct.pack(">IIBBBBB", 6000, 40, 8, 2, 0, 0, 0)  # under Pillow's bomb limit
    wide = bomb.replace(bomb[16:33], ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))
    code, text = _refused({"cmd": "load_portrait", "image": wide}, cfg)
    assert code == "too_large" and "6000x40 pixels" in text
    code, text = _refused({"cmd": "load_portrait", "image": b"<html>not an image</html>"}, cfg)
    assert code == "bad_argument" and "is not a PNG, JPEG or WebP image (starts with b'<html>no'" \
        in text
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")  # a real image, but not a format we accept
    assert _refused({"cmd": "load_portrait", "image": gif.getvalue()}, cfg)[0] == "bad_argument"
    code, text = _refused({"cmd": "load_portrait", "image": b"\x00" * 200_001}, cfg)
    assert code == "too_large" and "200001 bytes: the limit is 200000" in text
    webp = io.BytesIO()
    Image.new("RGB", (64, 32)).save(webp, "WEBP")
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 32)).save(jpeg, "JPEG")
    for data in (webp.getvalue(), jpeg.getvalue()):
        assert parse_load_portrait({"cmd": "load_portrait", "image": data}, cfg)["image"] == data


@pytest.fixture
def portraits(tmp_path):
    """allowed/ with a good portrait and some traps; outside/ with a private image."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    (allowed / "face.png").write_bytes(png(64, 64))
    (allowed / "sub" / "face.JPG").write_bytes(png(32, 32))  # the suffix decides, not the bytes
    (allowed / "notes.txt").write_text("hello")
    (allowed / "big.png").write_bytes(png(600, 20))
    (allowed / "fake.png").write_text("not really a png")
    (allowed / "dir.png").mkdir()
    (outside / "private.png").write_bytes(png(16, 16))
    (outside / "secret.txt").write_text("password")
    (allowed / "link_out.png").symlink_to(outside / "private.png")
    (allowed / "link_txt.png").symlink_to(outside / "secret.txt")
    (allowed / "linked_dir").symlink_to(outside)
    (outside / "link_in.png").symlink_to(allowed / "face.png")
    return allowed, outside


def test_portrait_paths_must_resolve_inside_allowed_folders(portraits):
    allowed, outside = portraits
    cfg = ControlConfig(portrait_dirs=(allowed,), max_image_side=512)
    folders = portrait_folders(cfg)

    def load(path):
        return parse_load_portrait({"cmd": "load_portrait", "path": str(path)}, cfg, folders)

    assert load(allowed / "face.png") == {"path": str((allowed / "face.png").resolve())}
    assert load(allowed / "sub" / ".." / "sub" / "face.JPG")["path"] == \
        str((allowed / "sub" / "face.JPG").resolve())
    # a symlink outside that points in is fine: what counts is where the file really is
    assert load(outside / "link_in.png")["path"] == str((allowed / "face.png").resolve())
    forbidden = [allowed / ".." / "outside" / "private.png", outside / "private.png",
                 allowed / "link_out.png", allowed / "link_txt.png",
                 allowed / "linked_dir" / "private.png", outside / "does_not_exist.png",
                 "/etc/passwd", "relative/../../x.png"]
    for path in forbidden:
        code, text = _refused({"cmd": "load_portrait", "path": str(path)}, cfg, folders)
        assert code == "forbidden" and "outside the allowed portrait folders" in text, path
    for name, code, text in [("notes.txt", "bad_argument", "'.txt' file: expected one of"),
                             ("missing.png", "bad_argument", "does not exist"),
                             ("dir.png", "bad_argument", "is not a file"),
                             ("fake.png", "bad_argument", "is not a PNG, JPEG or WebP"),
                             ("big.png", "too_large", "600x20 pixels: the limit is 512")]:
        got = _refused({"cmd": "load_portrait", "path": str(allowed / name)}, cfg, folders)
        assert got[0] == code and text in got[1], (name, got)
    assert _refused({"cmd": "load_portrait", "path": "a\0b.png"}, cfg, folders)[0] == \
        "bad_argument"
    assert _refused({"cmd": "load_portrait", "path": ""}, cfg, folders)[0] == "bad_argument"
    small = ControlConfig(portrait_dirs=(allowed,), max_image_bytes=100)
    assert _refused({"cmd": "load_portrait", "path": str(allowed / "face.png")}, small,
                    folders)[0] == "too_large"


def test_portrait_folder_defaults_and_refusals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert portrait_folders(ControlConfig()) == (tmp_path.resolve(),)
    monkeypatch.chdir("/")
    assert portrait_folders(ControlConfig()) == ()  # never the whole disk by default
    with pytest.raises(ConfigError, match="is the filesystem root"):
        portrait_folders(ControlConfig(portrait_dirs=("/",)))
    with pytest.raises(ConfigError, match="is not a folder"):
        portrait_folders(ControlConfig(portrait_dirs=(tmp_path / "nope",)))
    code, text = _refused({"cmd": "load_portrait", "path": "/tmp/x.png"}, ControlConfig(), ())
    assert code == "forbidden" and "none (send the image bytes instead)" in text


def test_load_portrait_limits_apply_over_the_wire(portraits, endpoint):
    allowed, outside = portraits
    handler = Handler()
    cfg = ControlConfig(endpoint=endpoint, portrait_dirs=(allowed,), max_image_side=512)
    with ControlServer(handler, cfg), ControlClient(endpoint, timeout_ms=3000) as client:
        assert client.call("load_portrait", path=str(allowed / "face.png")) == \
            {"path": str((allowed / "face.png").resolve())}
        assert client.call("load_portrait", image=png(40, 40)) == {"bytes": len(png(40, 40))}
        for req, code in [({"path": str(allowed / "link_out.png")}, "forbidden"),
                          ({"image": png(700, 8)}, "too_large"),
                          ({"image": b"GIF89a" + b"\x00" * 20}, "bad_argument")]:
            reply = client.request({"cmd": "load_portrait", **req})
            assert reply["ok"] is False and reply["code"] == code, reply
        assert len(handler.loaded) == 2  # refusals never reached the handler


# --- CLI -----------------------------------------------------------------------------------------


def test_keys_cli_writes_keys_and_prints_public_keys(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="vasa-bridge")
    add_cli(parser.add_subparsers(dest="command"))
    d = tmp_path / "k"
    args = parser.parse_args(["keys", "--dir", str(d), "--client", "obs", "unity"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    server = load_keypair(d / "server.key_secret", need_secret=True)
    assert f"server public key: {server.public.decode()}" in out
    for name in ("obs", "unity"):
        assert load_keypair(d / f"{name}.key").public.decode() in out
        assert (d / ALLOWED / f"{name}.key").is_file()
    assert server.secret.decode() not in out
    # a second run adds a client and keeps the server key (clients already given it still work)
    args = parser.parse_args(["keys", "--dir", str(d), "--client", "phone"])
    assert args.func(args) == 0
    assert load_keypair(d / "server.key_secret", need_secret=True) == server
    assert server.public.decode() in capsys.readouterr().out
    assert sorted(p.name for p in (d / ALLOWED).iterdir()) == ["obs.key", "phone.key",
                                                               "unity.key"]
    if os.name == "posix":
        assert mode(d / "phone.key_secret") == 0o600


def test_control_cli_options_build_the_config(tmp_path):
    parser = argparse.ArgumentParser()
    add_cli_options(parser)
    default = ControlConfig()
    assert config_from_args(parser.parse_args([]), default.endpoint, False) == default
    generate_keys(tmp_path)
    args = parser.parse_args(["--curve-secret", str(tmp_path / "server.key_secret"),
                              "--curve-allowed", str(tmp_path / ALLOWED),
                              "--portrait-dir", str(tmp_path), "--portrait-dir", "/tmp",
                              "--max-image-side", "1024"])
    network = f"tcp://0.0.0.0:{free_port()}"
    cfg = config_from_args(args, network, False)
    assert (cfg.endpoint, cfg.insecure, cfg.portrait_dirs, cfg.max_image_side) == \
        (network, False, (str(tmp_path), "/tmp"), 1024)
    assert cfg.curve_secret_key == str(tmp_path / "server.key_secret")
    with ControlServer(Handler(), cfg) as server:  # network bind allowed: keys are set
        assert server.secured
    with pytest.raises(ConfigError, match="--max-image-side is 0"):
        config_from_args(parser.parse_args(["--max-image-side", "0"]), default.endpoint, False)


def test_load_portrait_framing_is_checked():
    cfg = ControlConfig(max_image_side=512, max_image_bytes=200_000)
    ok = png(300, 200)
    got = parse_load_portrait({"cmd": "load_portrait", "image": ok, "framing": "head"}, cfg)
    assert got == {"image": ok, "framing": "head"}
    code, text = _refused({"cmd": "load_portrait", "image": ok, "framing": "knees"}, cfg)
    assert code == "bad_argument" and "framing 'knees' is unknown" in text
    code, _ = _refused({"cmd": "load_portrait", "image": ok, "framing": 3}, cfg)
    assert code == "bad_argument"
