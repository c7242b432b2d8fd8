"""VTube Studio plugin against a stand-in server that follows VTube Studio's documented API
(tests/vts_standin.py; it is not VTube Studio), plus the pure parameter mapping."""

from __future__ import annotations

import logging
import socket
import time

import numpy as np
import pytest
from vts_standin import DEFAULT_PARAMETERS, VtsStandIn

from vasa_bridge.errors import ConfigError, TransportError
from vasa_bridge.motion import MotionFrame, MotionTrack
from vasa_bridge.outputs.vts import (CUSTOM_NAMES, PARAMETER_RANGES, VtsConfig, VtsPlugin,
                                     vts_parameters)


def _cfg(url: str, tmp_path, **kw) -> VtsConfig:
    base = dict(url=url, token_path=tmp_path / "cfg" / "vts_token.txt", reconnect_min_s=0.05,
                reconnect_max_s=0.2, denied_retry_s=0.3, request_timeout_s=2.0)
    base.update(kw)
    return VtsConfig(**base)


def _track(n: int = 20, seed: int = 0) -> MotionTrack:
    rng = np.random.default_rng(seed)
    shapes = rng.uniform(0, 1, (n, 52)).astype(np.float32)
    shapes[:, 17] = np.arange(n) / n  # jawOpen: a distinct value per frame
    shapes[:, 18] = 0.0  # mouthClose: so MouthOpen == jawOpen identifies the frame
    return MotionTrack(shapes, rng.uniform(-45, 45, (n, 3)), rng.uniform(-0.2, 0.2, (n, 3)), 25.0)


def _wait(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def _mouths(server: VtsStandIn) -> list[float]:
    return [v["MouthOpen"] for _, v in server.snapshot()]


def _send_each_and_wait(plugin: VtsPlugin, server: VtsStandIn, track: MotionTrack) -> None:
    """Send frame i, then wait until the stand-in has it: proves every frame is injected
    without depending on scheduling on a busy machine."""
    for f in track:
        plugin.send(f)
        want = f["jawOpen"]
        assert _wait(lambda: any(abs(m - want) < 1e-6 for m in _mouths(server)[-3:]), 3.0), \
            f"frame at t={f.time} (MouthOpen {want}) never reached the stand-in"


# ---------------------------------------------------------------------------------------------
# Mapping.


def test_mapping_neutral_and_signs():
    v = vts_parameters(MotionFrame.neutral())
    assert set(v) == set(PARAMETER_RANGES)
    assert v["MouthOpen"] == 0 and v["EyeOpenLeft"] == v["EyeOpenRight"] == 1
    assert v["MouthSmile"] == v["BrowLeftY"] == v["BrowRightY"] == 0.5
    assert all(v[k] == 0 for k in ("FaceAngleX", "FaceAngleY", "FaceAngleZ", "EyeLeftX"))

    f = MotionFrame.from_named({"jawOpen": 0.7, "mouthClose": 0.2, "eyeBlinkLeft": 1.0,
                                "mouthSmileLeft": 1.0, "mouthSmileRight": 1.0,
                                "eyeLookOutLeft": 0.6, "eyeLookInRight": 0.6,
                                "browDownRight": 1.0, "tongueOut": 0.3, "cheekPuff": 0.4},
                               head_rotation=(10.0, 20.0, 5.0), head_translation=(0.03, -0.02, 0.5))
    v = vts_parameters(f)
    assert v["FaceAngleX"] == pytest.approx(20)  # yaw: face turns to the viewer's right
    assert v["FaceAngleY"] == pytest.approx(-10)  # pitch > 0 looks down; FaceAngleY > 0 is up
    assert v["FaceAngleZ"] == pytest.approx(-5)
    assert v["FacePositionX"] == pytest.approx(3) and v["FacePositionY"] == pytest.approx(-2)
    assert v["FacePositionZ"] == 10  # 50 cm clipped to the +-10 range
    assert v["MouthOpen"] == pytest.approx(0.5) and v["MouthSmile"] == pytest.approx(1.0)
    assert v["EyeOpenLeft"] == 0 and v["EyeOpenRight"] == 1
    assert v["EyeLeftX"] == pytest.approx(0.6) and v["EyeRightX"] == pytest.approx(0.6)
    assert v["BrowRightY"] == 0 and v["BrowLeftY"] == 0.5
    assert v["TongueOut"] == pytest.approx(0.3) and v["CheekPuff"] == pytest.approx(0.4)

    m = vts_parameters(f, mirror=True)
    assert m["FaceAngleX"] == pytest.approx(-20) and m["FaceAngleZ"] == pytest.approx(5)
    assert m["EyeOpenRight"] == 0 and m["EyeOpenLeft"] == 1
    assert m["EyeLeftX"] == pytest.approx(-0.6) and m["BrowLeftY"] == 0
    assert m["FaceAngleY"] == v["FaceAngleY"] and m["MouthOpen"] == v["MouthOpen"]


def test_mapping_stays_in_range_for_any_motion():
    rng = np.random.default_rng(7)
    for _ in range(300):
        f = MotionFrame(rng.uniform(0, 1, 52), rng.uniform(-180, 180, 3), rng.uniform(-1, 1, 3))
        for mirror in (False, True):
            v = vts_parameters(f, mirror=mirror, custom=True)
            for k, (lo, hi) in PARAMETER_RANGES.items():
                assert lo <= v[k] <= hi, (k, v[k])
                # Our ranges agree with the stand-in's copy of VTube Studio's defaults.
                assert DEFAULT_PARAMETERS[k] == (lo, hi)
            assert [v[n] for n in CUSTOM_NAMES] == pytest.approx(f.blendshapes.tolist())


def test_bad_config_names_the_value(tmp_path):
    with pytest.raises(ConfigError, match="url is 'localhost:8001'"):
        VtsConfig(url="localhost:8001")
    with pytest.raises(ConfigError, match="keepalive_s is 1.5"):
        VtsConfig(keepalive_s=1.5)
    with pytest.raises(ConfigError, match="plugin_name is 'ab'"):
        VtsConfig(plugin_name="ab")


# ---------------------------------------------------------------------------------------------
# Against the stand-in.


@pytest.mark.slow
def test_authenticates_injects_every_frame_and_keeps_alive(tmp_path):
    track = _track()
    with VtsStandIn() as server:
        cfg = _cfg(server.url, tmp_path)
        with VtsPlugin(cfg) as plugin:
            assert plugin.wait_for_state("ready")
            assert server.count("AuthenticationTokenRequest") == 1
            assert cfg.token_path.read_text().strip() in server.tokens  # stored for next time
            _send_each_and_wait(plugin, server, track)
            n_after_frames = len(server.snapshot())
            time.sleep(1.6)  # idle: the plugin must resend before VTube Studio's 1 s timeout
            inj = server.snapshot()
            stats = dict(plugin.stats)
        assert plugin.state == "closed"
    assert not server.errors, server.errors  # every request valid for the documented API
    assert stats["frames"] == len(track) and stats["errors"] == 0
    # Every frame arrived, in order, with values the app accepts.
    mouths = [v["MouthOpen"] for _, v in inj]
    want = [f["jawOpen"] for f in track]
    it = iter(mouths)
    assert all(any(abs(m - w) < 1e-6 for m in it) for w in want), "frames missing or reordered"
    for _, v in inj:
        assert set(v) == set(PARAMETER_RANGES)
        for k, x in v.items():
            lo, hi = DEFAULT_PARAMETERS[k]
            assert lo <= x <= hi, (k, x)
    assert inj[n_after_frames - 1][1] == pytest.approx(vts_parameters(track.frame(-1)))
    # Idle: the latest values again, never more than keepalive (0.5 s, plus slack) apart.
    idle = inj[n_after_frames - 1:]
    assert len(idle) >= 3 and stats["resent"] >= 2
    assert all(v == idle[0][1] for _, v in idle)
    gaps = np.diff([t for t, _ in idle] + [time.monotonic()])
    assert gaps.max() < 0.9, gaps


@pytest.mark.slow
def test_reuses_stored_token_and_reconnects_after_restart(tmp_path, caplog):
    track = _track(n=6, seed=1)
    caplog.set_level(logging.INFO, logger="vasa_bridge.vts")
    server = VtsStandIn().start()
    try:
        cfg = _cfg(server.url, tmp_path)
        with VtsPlugin(cfg) as p:  # first run: the user allows the plugin
            assert p.wait_for_state("ready")
        assert server.count("AuthenticationTokenRequest") == 1
        with VtsPlugin(cfg) as plugin:  # next run: the stored token, no popup
            assert plugin.wait_for_state("ready")
            assert server.count("AuthenticationTokenRequest") == 1
            assert server.count("AuthenticationRequest") == 2
            _send_each_and_wait(plugin, server, _track(n=3, seed=2))

            server.stop()  # VTube Studio quits...
            assert plugin.wait_for_state("disconnected", "connecting")
            for f in track:
                plugin.send(f)  # ...and the caller never notices
            time.sleep(0.3)  # a few failed reconnects with backoff
            server.start()  # ...and comes back on the same port, with the same tokens
            assert plugin.wait_for_state("ready", timeout=5)
            assert _wait(lambda: any(abs(m - track.frame(-1)["jawOpen"]) < 1e-6
                                     for m in _mouths(server)), 3)
            stats = dict(plugin.stats)
        assert stats["reconnects"] >= 1 and stats["connects"] >= 2
        assert server.count("AuthenticationTokenRequest") == 1  # no new popup after a restart
        assert "lost" in caplog.text and "reconnected" in caplog.text  # once per outage
    finally:
        server.stop()


def test_denied_token_gives_a_clear_error_and_never_raises(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vasa_bridge.vts")
    with VtsStandIn(approve=False) as server:
        cfg = _cfg(server.url, tmp_path)
        with VtsPlugin(cfg) as plugin:
            assert plugin.wait_for_state("denied")
            for f in _track(n=5):
                plugin.send(f)  # no exception into the caller
            assert plugin.stats["denied"] >= 1
            assert "denied plugin 'vasa_bridge' access" in plugin.stats["last_error"]
            # It asks again later (denied_retry_s): the user may now click "Allow".
            server.approve = True
            assert plugin.wait_for_state("ready", timeout=3)
            assert _wait(lambda: len(server.snapshot()) >= 1)
        assert (("AuthenticationTokenRequest", 50) in server.errors)
        assert not cfg.token_path.exists() or cfg.token_path.read_text().strip() in server.tokens
    msgs = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("denied plugin 'vasa_bridge' access" in m and "Allow" in m for m in msgs), msgs


def test_revoked_token_asks_again(tmp_path):
    with VtsStandIn() as server:
        cfg = _cfg(server.url, tmp_path)
        cfg.token_path.parent.mkdir(parents=True)
        cfg.token_path.write_text("a-token-vts-no-longer-knows\n")
        with VtsPlugin(cfg) as plugin:
            assert plugin.wait_for_state("ready")
        assert server.count("AuthenticationTokenRequest") == 1
        assert cfg.token_path.read_text().strip() in server.tokens


def test_custom_parameters_are_created_and_fed(tmp_path):
    with VtsStandIn() as server:
        with VtsPlugin(_cfg(server.url, tmp_path, custom_parameters=True)) as plugin:
            assert plugin.wait_for_state("ready")
            f = _track(n=1, seed=3).frame(0)
            plugin.send(f)
            assert _wait(lambda: len(server.snapshot()) >= 1)
        assert set(server.custom) == set(CUSTOM_NAMES) and "VasaJawOpen" in server.custom
        v = server.snapshot()[0][1]
        assert [v[n] for n in CUSTOM_NAMES] == pytest.approx(f.blendshapes.tolist())
        assert not server.errors


def test_standin_refuses_what_vts_refuses(tmp_path):
    """The stand-in is only useful if it can fail: an unknown parameter gets error 453."""
    import asyncio
    import json

    from websockets.asyncio.client import connect

    async def go(url):
        async with connect(url) as ws:
            def req(t, data=None):
                return json.dumps({"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0",
                                   "requestID": t, "messageType": t, "data": data})
            await ws.send(req("InjectParameterDataRequest", {"parameterValues": [
                {"id": "FaceAngleX", "value": 1}]}))
            unauth = json.loads(await ws.recv())
            who = {"pluginName": "tester", "pluginDeveloper": "tester"}
            await ws.send(req("AuthenticationTokenRequest", who))
            token = json.loads(await ws.recv())["data"]["authenticationToken"]
            await ws.send(req("AuthenticationRequest", {**who, "authenticationToken": token}))
            await ws.recv()
            await ws.send(req("InjectParameterDataRequest", {"parameterValues": [
                {"id": "NotAParameter", "value": 1}]}))
            unknown = json.loads(await ws.recv())
            await ws.send(req("InjectParameterDataRequest", {"parameterValues": [
                {"id": "FaceAngleX", "value": 2e6}]}))
            too_big = json.loads(await ws.recv())
            return unauth, unknown, too_big

    with VtsStandIn() as server:
        unauth, unknown, too_big = asyncio.run(go(server.url))
    assert unauth["messageType"] == "APIError" and unauth["data"]["errorID"] == 8
    assert unknown["data"]["errorID"] == 453 and too_big["data"]["errorID"] == 451


def test_vts_not_running_never_raises(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vasa_bridge.vts")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    plugin = VtsPlugin(_cfg(f"ws://127.0.0.1:{port}", tmp_path))
    for f in _track(n=5):
        plugin.send(f)
    assert _wait(lambda: plugin.stats["errors"] >= 3)  # retrying with backoff
    assert plugin.state in ("connecting", "disconnected")
    t0 = time.monotonic()
    plugin.close()
    assert time.monotonic() - t0 < 2.0 and plugin.state == "closed"
    with pytest.raises(TransportError, match="after close"):
        plugin.send(MotionFrame.neutral())
    warnings = [r for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(warnings) == 1  # logged once per outage, not once per retry
    assert f"127.0.0.1:{port}" in warnings[0].getMessage()


def test_api_off_backs_off_logs_once_and_closes_normally(tmp_path, caplog, monkeypatch):
    """VTube Studio answering with its API off: one error line, not one per retry; retries
    back off to reconnect_max_s although each connection opens; each is closed normally
    (1000), not with websockets' 1011 "internal error"."""
    import asyncio

    caplog.set_level(logging.INFO, logger="vasa_bridge.vts")
    close_codes: list[int | None] = []
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay, *a, **kw):
        if 0.05 <= delay <= 0.2:  # the plugin's retry waits, not websockets' own timers
            waits.append(delay)
        return await real_sleep(delay, *a, **kw)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)

    class Recording(VtsStandIn):
        async def _handle(self, ws) -> None:
            await super()._handle(ws)
            close_codes.append(ws.close_code)

    with Recording(api_active=False) as server:
        with VtsPlugin(_cfg(server.url, tmp_path)) as plugin:
            plugin.send(MotionFrame.neutral())
            assert _wait(lambda: len(close_codes) >= 4 and len(waits) >= 4)
            assert plugin.state == "disconnected"
        assert not server.snapshot()
    off = [r for r in caplog.records if "API is off" in r.getMessage()]
    assert len(off) == 1, [r.getMessage() for r in caplog.records]
    assert waits[:4] == pytest.approx([0.05, 0.1, 0.2, 0.2])
    assert set(close_codes[:4]) == {1000}


@pytest.mark.parametrize("url", ["ws://localhost", "ws://127.0.0.1:99999", "ws://127.0.0.1:0",
                                 "ws://", "ws://:8001", "ws://127.0.0.1:8001/a b",
                                 "ws://[::1:8001"])
def test_urls_vts_cannot_be_at_are_refused_at_once(url):
    """These used to start a plugin that retried forever ('connection lost (ValueError: Port
    out of range)', 'hostname isn't provided') or knocked on port 80."""
    with pytest.raises(ConfigError, match=r"url is .*expected ws://HOST:PORT .*port in"):
        VtsConfig(url=url)


@pytest.mark.parametrize("url", ["ws://localhost", "ws://127.0.0.1:99999", "ws://:8001",
                                 "http://127.0.0.1:8001"])
def test_the_cli_refuses_a_vts_url_naming_the_option(url):
    """`--vts ws://localhost` was refused as "VTube Studio url is ...": a name the user never
    typed. The library's own message (above) still names VtsConfig's field."""
    import argparse
    from vasa_bridge.cli import options
    parser = argparse.ArgumentParser()
    options.add_output_options(parser)
    with pytest.raises(ConfigError) as refused:
        options.output_configs(parser.parse_args([f"--vts={url}"]))
    hint = "" if url.startswith("ws://") else \
        " (write --vts=URL when a positional argument follows)"
    assert str(refused.value) == (f"--vts is {url!r}: expected a WebSocket URL ws://HOST:PORT "
                                  f"such as ws://localhost:8001, with a port in [1, 65535]{hint}")


def test_urls_vts_can_be_at_are_accepted():
    from vasa_bridge.outputs.vts import url_port
    assert url_port("ws://localhost:8001") == 8001
    assert url_port("ws://[::1]:47024") == 47024 and url_port("wss://host:8001/") == 8001
    VtsConfig(url="ws://[::1]:47024")
