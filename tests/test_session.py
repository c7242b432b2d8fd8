"""vasa_bridge.session: serve's start-up and shut-down, without the command line."""

import socket
import threading
import time
from contextlib import ExitStack

import numpy as np
import pytest
import soundfile as sf

from conftest import free_port
from vasa_bridge.errors import ConfigError, VasaError
from vasa_bridge.runtime.serve import ServeConfig
from vasa_bridge.session import PanelConfig, Session, SessionConfig, open_sinks
from vasa_bridge.transport import ControlConfig


def _bindable(*endpoints: str, wait_s: float = 0.0) -> bool:
    """Whether every tcp:// endpoint can be bound again (its owner closed it), trying for up
    to `wait_s` (ZeroMQ releases a closed socket's port on its I/O thread, a moment later)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with ExitStack() as stack:
                for e in endpoints:
                    host, port = e.removeprefix("tcp://").rsplit(":", 1)
                    s = stack.enter_context(socket.socket())
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, int(port)))
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def test_config_refuses_mistakes_before_any_work():
    with pytest.raises(ConfigError, match="--once needs --audio"):
        SessionConfig(serve=ServeConfig(stop_after_source=True))
    with pytest.raises(ConfigError, match="--virtualcam needs frames"):
        SessionConfig(serve=ServeConfig(frames=False), virtualcam="")
    with pytest.raises(ConfigError, match="--threads is 0"):
        SessionConfig(serve=ServeConfig(), threads=0)
    assert SessionConfig(serve=ServeConfig(), motion="loudness", threads=0).threads == 0
    with pytest.raises(ConfigError, match="expected a VmcConfig or a VtsConfig"):
        open_sinks(("vmc",))


def test_a_file_runs_to_its_end_and_everything_is_closed(tmp_path, capsys):
    t = np.arange(16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(
        np.float32)
    sf.write(tmp_path / "one_second.wav", speech, 16000)
    pub, ctl = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
    config = SessionConfig(serve=ServeConfig(frames=False, stop_after_source=True), pub=pub,
                           control=ControlConfig(endpoint=ctl),
                           audio=str(tmp_path / "one_second.wav"), motion="loudness")
    stop = threading.Event()
    with Session(config) as session:
        assert not _bindable(pub) and not _bindable(ctl)
        session.run(stop)  # --once: returns when the file ends
        with pytest.raises(RuntimeError, match="runs once"):
            session.run(stop)
        assert session.commands.status()["published"]["motion"] >= 25  # 1 s at 25 fps
    assert stop.is_set() and _bindable(pub, ctl, wait_s=2)
    with pytest.raises(RuntimeError, match="before the session started"):
        session.run(stop)  # closed
    err = capsys.readouterr().err
    assert f"data {pub}, control {ctl}, audio from {tmp_path / 'one_second.wav'}, motion " \
           f"loudness" in err
    assert "[serve] stopped: " in err


def test_a_session_serves_with_one_blas_thread_and_gives_the_rest_back(tmp_path):
    """OpenBLAS's idle threads spin between the live loop's small products: `serve` on this
    2-core machine used 165 % CPU with them and 68-72 % with one, at the same latency. A session
    holds BLAS to one thread while it is open, and gives the process its threads back after."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info()  # numpy's, scipy's
                if i["user_api"] == "blas"}
    before = blas_threads()
    assert before, "numpy's BLAS is not seen"
    if max(before.values()) == 1:
        pytest.skip("BLAS runs one thread on this machine already: nothing to tell apart")
    pub, ctl = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
    config = SessionConfig(serve=ServeConfig(frames=False), pub=pub,
                           control=ControlConfig(endpoint=ctl), motion="loudness",
                           greeting=False)
    with Session(config):
        assert set(blas_threads().values()) == {1}
    assert blas_threads() == before


def test_a_taken_panel_port_fails_when_asked_for_and_is_skipped_otherwise(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        http = f"127.0.0.1:{busy.getsockname()[1]}"
        pub = f"tcp://127.0.0.1:{free_port()}"
        config = SessionConfig(serve=ServeConfig(frames=False), pub=pub, motion="loudness",
                               panel=PanelConfig(http=http, explicit=True))
        with pytest.raises(VasaError, match="cannot serve HTTP"):
            with Session(config) as session:
                session.run(threading.Event())  # the panel's error stops the loop
        assert _bindable(pub, wait_s=2)

        stop = threading.Event()
        config = SessionConfig(serve=ServeConfig(frames=False), pub=pub, motion="loudness",
                               panel=PanelConfig(http=http, explicit=False))
        with Session(config) as session:
            timer = threading.Timer(4.0, stop.set)  # the panel is tried, the ready line shown
            timer.start()
            session.run(stop)
            timer.join()
    err = capsys.readouterr().err
    assert "[serve] panel off: " in err and f"data {pub}, control off" in err
    assert _bindable(pub, wait_s=2)


@pytest.mark.parametrize("argv, kinds", [(["serve"], ("motion", "frame", "audio", "event")),
                                         (["serve", "--no-frames"], ("motion", "audio", "event"))])
def test_the_hello_offers_pictures_only_when_serve_sends_them(argv, kinds):
    """docs/protocol.md: a hello's `capabilities` is what the publisher sends; `--no-frames`
    said "frame" too."""
    from vasa_bridge.cli import build_parser
    from vasa_bridge.cli.serve import session_config
    config = session_config(build_parser().parse_args(argv))
    assert Session(config)._publisher_config().capabilities == kinds


def test_the_ready_line_says_where_the_vtuber_apps_are_fed(tmp_path, capsys):
    """`serve --vmc ... --vts ...` said nothing of them in its ready line: a streamer could not
    tell from it whether, or where, VSeeFace or VTube Studio were being fed."""
    from vasa_bridge.outputs.vmc import VmcConfig
    from vasa_bridge.outputs.vts import VtsConfig
    sf.write(tmp_path / "s.wav", np.zeros(8000, np.float32), 16000)
    pub, ctl = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
    vmc, vts = free_port(), free_port()
    config = SessionConfig(serve=ServeConfig(frames=False, stop_after_source=True), pub=pub,
                           control=ControlConfig(endpoint=ctl), audio=str(tmp_path / "s.wav"),
                           motion="loudness",
                           outputs=(VmcConfig(port=vmc), VmcConfig(host="::1", port=vmc),
                                    VtsConfig(url=f"ws://127.0.0.1:{vts}")))
    with Session(config) as session:
        session.run(threading.Event())
    err = capsys.readouterr().err
    assert f"motion loudness, VMC 127.0.0.1:{vmc}, VMC [::1]:{vmc}, VTube Studio " \
           f"ws://127.0.0.1:{vts}" in err, err


@pytest.mark.parametrize("cache", [False, True])
def test_a_portraits_warnings_are_said_once_not_again_at_each_smaller_size(tmp_path, caplog,
                                                                           monkeypatch, cache):
    """A photo with parted lips warns when it is loaded; the smaller copies the picture governor
    prepares under CPU load keep the warning in `Portrait.warnings` but do not log it again
    (`serve` printed it three times: at start and once per smaller size)."""
    import skimage.data
    from PIL import Image

    from vasa_bridge.session import PortraitSetup, _portrait
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    photo = tmp_path / "me.png"
    Image.fromarray(skimage.data.astronaut()).save(photo)
    config = SessionConfig(serve=ServeConfig(), motion="loudness",
                           portrait=PortraitSetup(image=str(photo), size=256, cache=cache))
    with caplog.at_level("WARNING"):
        _, prepare, prepare_at, state, _ = _portrait(config)
        said = [r.getMessage() for r in caplog.records if "mouth is open at rest" in r.getMessage()]
        assert len(said) == 1 and said[0].startswith(f"{photo}: ")
        smaller = [prepare_at(str(photo), size) for size in (192, 128)]
        again = [r.getMessage() for r in caplog.records
                 if "mouth is open at rest" in r.getMessage()]
        assert again == said  # nothing more said
        assert all(any("mouth is open" in w for w in s.portrait.warnings) for s in smaller)
        assert [s.size for s in smaller] == [(192, 192), (128, 128)]
        prepare(str(photo))  # loaded again (load_portrait): said again
        assert sum("mouth is open at rest" in r.getMessage() for r in caplog.records) == 2
