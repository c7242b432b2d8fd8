"""`vasa-bridge serve` as a user starts it: a subprocess on the built-in defaults."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from conftest import ROOT
from vasa_bridge.transport import ControlClient, Subscriber, SubscriberConfig


def start_serve(tmp_path, *args):
    """serve on ports the system picks (ZeroMQ `*`, HTTP port 0): its ready line names them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("DISPLAY", None)
    return subprocess.Popen([sys.executable, "-m", "vasa_bridge.cli", "serve", "--pub",
                             "tcp://127.0.0.1:*", "--control", "tcp://127.0.0.1:*", "--http",
                             "127.0.0.1:0", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def named(ready, what, pattern=r"tcp://127\.0\.0\.1:(\d+)"):
    """The bound address the ready line gives after `what` (a real port, never `*` or 0)."""
    m = re.search(rf"{what} ({pattern})", ready)
    assert m and int(m.group(2)) > 0, (what, ready)
    return m.group(1)


def stop(proc):
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return err.splitlines()


@pytest.mark.slow
def test_default_serve_is_quiet_greets_and_shows_the_panel(tmp_path):
    proc = start_serve(tmp_path)
    try:
        ready = proc.stderr.readline()
        assert ready.startswith("[serve] ready in "), ready
        assert float(ready.split()[3]) > 0, ready  # counted from the command's start
        pub, control = named(ready, "data"), named(ready, "control")
        http = named(ready, "panel", r"http://127\.0\.0\.1:(\d+)(?=/)")
        # the hello starts 0.5 s after the ready line: time enough to subscribe
        with Subscriber(SubscriberConfig(endpoint=pub, kinds=("audio",))) as sub:
            with urllib.request.urlopen(f"{http}/", timeout=10) as r:
                assert r.status == 200 and b"<html" in r.read().lower()
            loud, deadline = 0, time.time() + 15  # the ~2.6 s hello, heard on the wire
            while time.time() < deadline and loud < 16000:
                m = sub.recv(timeout_ms=200)
                if m is not None:
                    a = m.audio_samples()
                    loud += int((np.abs(a) > 1000).sum())
            assert loud >= 16000, f"only {loud} loud samples: no greeting heard"
            with ControlClient(control) as client:
                status = client.call("status")
            # A frame cannot show sound before the hop that carries it has arrived (40 ms at
            # 25 fps), and the model looks ahead further still.
            assert 40 <= status["av_delay_ms"] < 2000, status
    finally:
        lines = stop(proc)
    # Nothing but the ready line while it runs (no TensorFlow Lite / absl / matplotlib lines, no
    # warning about the built-in portrait), then the one line at Ctrl-C.
    assert len(lines) == 1 and lines[0].startswith("[serve] stopped: "), lines
    assert list((tmp_path / "cache" / "vasa-bridge" / "portraits").glob("*.npz"))


@pytest.mark.slow
def test_verbose_and_no_greeting(tmp_path):
    proc = start_serve(tmp_path, "--no-greeting", "--no-http", "--verbose", "--motion",
                       "loudness")
    try:
        lines = []
        while not lines or not lines[-1].startswith("[serve] ready"):
            lines.append(proc.stderr.readline().rstrip("\n"))
            assert lines[-1] or proc.poll() is None, lines
        assert "panel" not in lines[-1]
        assert any(line.startswith("[serve] fps=25.0") for line in lines)  # the config
        with Subscriber(SubscriberConfig(endpoint=named(lines[-1], "data"),
                                         kinds=("audio",))) as sub:
            peak, heard, deadline = 0, 0, time.time() + 3
            while time.time() < deadline:
                m = sub.recv(timeout_ms=200)
                if m is not None:
                    heard += 1
                    peak = max(peak, int(np.abs(m.audio_samples()).max()))
            assert heard >= 25, heard  # the audio was heard (25 blocks a second) ...
            assert peak == 0  # ... and it is silence: no hello
    finally:
        stop(proc)


def test_list_devices_prints_index_and_name_a_line(monkeypatch, capsys):
    """(With none it is an error naming the cause: tests/test_list_devices.py.)"""
    from vasa_bridge import cli
    from vasa_bridge.audio import sources
    monkeypatch.setattr(sources, "list_input_devices", lambda: [(0, "pulse"), (3, "USB mic")])
    assert cli.main(["serve", "--list-devices"]) == 0
    assert capsys.readouterr() == ("0: pulse\n3: USB mic\n", "")


def test_virtualcam_without_a_device_fails_before_the_start_up_work(tmp_path):
    import pytest
    pytest.importorskip("pyvirtualcam")
    if any(n.startswith("video") for n in os.listdir("/dev")):
        pytest.skip("this machine has a video device")
    proc = start_serve(tmp_path, "--virtualcam")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines() == [err.strip()] and "modprobe v4l2loopback" in err
    assert not (tmp_path / "cache").exists()  # no portrait was analysed: it stopped first


@pytest.mark.slow
def test_a_panel_port_in_use_stops_serve_in_one_line(tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # start_serve asks for any free --http port; a second --http wins (argparse: the last)
        proc = start_serve(tmp_path, "--motion", "loudness", "--no-greeting", "--http",
                           f"127.0.0.1:{port}")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert err.splitlines() == [err.strip()] and "cannot serve HTTP" in err
