import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from vasa_bridge import cli
from vasa_bridge.motion import load
from vasa_bridge.transport.replay import frame_schedule

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def run_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "vasa_bridge.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV, cwd=ROOT)


def start_cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "vasa_bridge.cli", *args], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def start_listener(*args):
    """Start `listen` and return once it is subscribed (its config line is printed just before
    it connects; ZeroMQ then needs a moment for the handshake)."""
    proc = start_cli("listen", *args)
    first = proc.stderr.readline()
    assert first.startswith("[listen]"), first
    time.sleep(0.5)
    return proc, first


@pytest.mark.slow
def test_replay_into_listen_json_and_a_plain_pyzmq_script(endpoint):
    """The issue's acceptance check: replay publishes the example track; listen --count 100
    --json and a script written from docs/protocol.md alone both decode 100 motion messages at
    the track's rate."""
    listener, first = start_listener("--sub", endpoint, "--count", "100", "--json",
                                     "--timeout", "30")
    plain = subprocess.Popen([sys.executable, str(ROOT / "examples/plain_subscriber.py"),
                              endpoint, "100"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=ENV)
    time.sleep(1.5)  # both subscribers connect before the first frame
    replayer = start_cli("replay", str(ROOT / "examples/talk.npz"), "--pub", endpoint)
    out, err = listener.communicate(timeout=60)
    plain_out, plain_err = plain.communicate(timeout=60)
    replayer.communicate(timeout=60)
    assert listener.returncode == 0, err
    headers = [json.loads(line) for line in out.splitlines()]
    assert len(headers) == 100
    assert all(h["topic"] == "motion/default/" and h["v"] == 1 for h in headers)
    seqs = [h["seq"] for h in headers]
    assert seqs == list(range(seqs[0], seqs[0] + 100))
    pts = np.array([h["pts"] for h in headers])
    np.testing.assert_array_equal(np.diff(pts), 40_000_000)  # 25 fps media clock
    stats = json.loads(err.strip().splitlines()[-1].removeprefix("[listen] "))
    assert stats["rate_per_s"]["motion"] == pytest.approx(25.0, rel=0.1)
    assert plain.returncode == 0, plain_err
    lines = plain_out.splitlines()
    assert len(lines) == 100 and lines[0].startswith("motion/default/ seq=")
    track = load(ROOT / "examples/talk.npz")
    first_seq = int(lines[0].split("seq=")[1].split()[0])
    jaw = float(lines[0].split("jawOpen=")[1].split()[0])
    assert jaw == pytest.approx(track.frame(first_seq)["jawOpen"], abs=1e-3)


@pytest.mark.slow
def test_replay_publishes_audio_that_tiles_the_track(endpoint):
    listener, _ = start_listener("--sub", endpoint, "--topics", "audio", "--json",
                                 "--timeout", "3")
    replayer = run_cli("replay", str(ROOT / "examples/talk.npz"), "--pub", endpoint, "--wait", "1")
    out, _ = listener.communicate(timeout=60)
    assert replayer.returncode == 0, replayer.stderr
    headers = [json.loads(line) for line in out.splitlines()]
    track = load(ROOT / "examples/talk.npz")
    assert len(headers) == len(track)
    assert sum(h["samples"] for h in headers) == len(track.audio)
    assert all(h["rate"] == 16000 and h["format"] == "s16" for h in headers)


def test_replay_says_in_its_hello_that_it_sends_no_pictures(endpoint):
    """docs/protocol.md: a hello's `capabilities` is what the publisher sends. Replay's said
    "frame" too, and an OBS source on it waited for a face that never came."""
    listener, _ = start_listener("--sub", endpoint, "--topics", "hello", "--json", "--count", "1",
                                 "--timeout", "10")
    replayer = run_cli("replay", str(ROOT / "examples/talk.npz"), "--pub", endpoint, "--wait", "1")
    out, _ = listener.communicate(timeout=60)
    assert replayer.returncode == 0, replayer.stderr
    hello = json.loads(out.splitlines()[0])
    assert hello["topic"].startswith("hello") and hello["capabilities"] == ["motion", "audio",
                                                                             "event"], hello


def test_replay_wait_says_what_it_waits_for_and_ctrl_c_stops_the_wait(endpoint):
    """`replay --wait` said nothing while it waited (up to 10 s: it looked hung), and Ctrl-C
    took effect only when the wait ran out. It names the address and how to stop, and stops
    at once."""
    import signal
    replayer = start_cli("replay", "--pub", endpoint, "--wait", "1")
    try:
        lines = [replayer.stderr.readline() for _ in range(3)]
        assert lines[1].startswith("[replay] publishing on"), lines
        assert lines[2].startswith(f"[replay] waiting up to 10 s for 1 subscription on "
                                   f"{endpoint} before the first frame"), lines
        assert "Ctrl-C stops" in lines[2]
        started = time.monotonic()
        replayer.send_signal(signal.SIGINT)
        _, err = replayer.communicate(timeout=30)
    finally:
        replayer.kill()
    assert time.monotonic() - started < 3.0  # was the rest of the 10 s
    assert replayer.returncode == 0 and "[replay] 0 frames" in err, err


def test_replay_says_when_no_subscriber_came_in_time(endpoint, caplog):
    """The wait ran out and the replay went on without a word: now one warning line."""
    from vasa_bridge.motion import MotionTrack
    from vasa_bridge.transport import Publisher, PublisherConfig
    from vasa_bridge.transport.replay import ReplayConfig, replay

    track = MotionTrack(np.zeros((2, 52)), np.zeros((2, 3)), np.zeros((2, 3)), 25.0)
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub:
        result = replay(track, pub, ReplayConfig(wait_subscribers=1, wait_timeout_s=0.2))
    assert result.frames == 2
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"0 of 1 subscriptions after 0.2 s on {endpoint}: replaying anyway"]


def test_log_lines_read_as_the_level_and_the_message_and_verbose_names_the_logger():
    """Lines read "WARNING vasa_bridge.audio.io: ...": the logger's name, for developers. A user
    sees "warning: ..." and info as plain text; -v keeps the names, for debugging."""
    code = ("import logging, sys; from vasa_bridge import cli; "
            "cli.configure_logging(sys.argv[1:] == ['-v']); "
            "log = logging.getLogger('vasa_bridge.audio.io'); "
            "log.info('a note'); log.warning('a doubt'); log.error('a fault')")
    for argv, expected in (([], ["a note", "warning: a doubt", "error: a fault"]),
                           (["-v"], ["INFO vasa_bridge.audio.io: a note",
                                     "WARNING vasa_bridge.audio.io: a doubt",
                                     "ERROR vasa_bridge.audio.io: a fault"])):
        r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                           timeout=60, env=ENV, cwd=ROOT)
        assert r.returncode == 0 and r.stderr.splitlines() == expected, r.stderr


def test_frame_schedule_is_pure_and_monotonic():
    due, pts = zip(*(frame_schedule(i, 25.0, 1.0) for i in range(500)))
    assert np.all(np.diff(pts) == 40_000_000) and pts[0] == 1_000_000_000
    assert due[25] == pytest.approx(1.0)


def test_replay_with_a_fake_clock_paces_and_loops():
    from vasa_bridge.motion import MotionTrack
    from vasa_bridge.transport.replay import ReplayConfig, replay

    class FakePublisher:
        def __init__(self):
            self.sent = []

        def add_stream(self, s): pass

        def hello(self, **kw): pass

        def event(self, name, **kw): self.sent.append(("event", name, kw["pts"]))

        def motion(self, frame, pts, stream): self.sent.append(("motion", pts, now[0]))

        def audio(self, *a, **kw): pass

    now = [100.0]
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    track = MotionTrack(np.zeros((5, 52)), np.zeros((5, 3)), np.zeros((5, 3)), 10.0)
    pub = FakePublisher()
    import threading
    stop = threading.Event()

    class Sink:
        frames = []

        def send(self, f):
            self.frames.append(f.time)
            if len(self.frames) == 12:
                stop.set()

        def close(self): pass

    sink = Sink()
    result = replay(track, pub, ReplayConfig(loop=True), sinks=[sink], stop=stop,
                    clock=lambda: now[0], sleep=sleep)
    motion = [m for m in pub.sent if m[0] == "motion"]
    assert result.frames == 12 and len(motion) == 12
    assert [m[1] for m in motion] == [i * 100_000_000 for i in range(12)]  # pts keeps going
    assert [round(m[2] - 100.0, 6) for m in motion] == [round(i * 0.1, 6) for i in range(12)]
    assert sink.frames == pytest.approx([i * 0.1 for i in range(12)])


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    r = run_cli("replay", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("vasa-bridge replay: error: ")
    assert "not a readable .npz" in r.stderr
    r = run_cli("replay", str(tmp_path / "missing.npz"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run_cli("replay", "--stream", "bad id!")
    assert r.returncode == 2 and "stream id 'bad id!' is invalid" in r.stderr


def test_replay_refuses_a_busy_port_in_one_line(endpoint):
    import zmq
    s = zmq.Context.instance().socket(zmq.PUB)
    s.bind(endpoint)
    try:
        r = run_cli("replay", "--pub", endpoint)
        assert r.returncode == 2 and "cannot bind publisher" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        s.close(0)


@pytest.mark.slow
def test_doctor_reports_every_check():
    r = run_cli("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("ZeroMQ", "msgpack", "mediapipe face mesh", "ONNX Runtime", "audio input",
                 "libobs", "mono"):
        assert name in r.stdout
    assert "core ready" in r.stdout


@pytest.mark.slow
def test_doctor_gives_a_fix_for_what_is_missing(monkeypatch):
    from vasa_bridge import doctor
    monkeypatch.setattr(doctor.shutil, "which", lambda name, **kw: None)
    text, code = doctor.report(doctor.run_checks())
    assert code == 0  # programs are optional
    assert "[-- ] OBS Studio: not found" in text and "fix: install OBS Studio" in text


@pytest.mark.slow
def test_demo_runs_end_to_end():
    r = run_cli("demo", timeout=60)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stderr.strip().splitlines()[-1].removeprefix("[demo] "))
    assert summary["received"]["motion"] == 200 and summary["malformed"] == 0


def test_parser_has_the_documented_subcommands():
    parser = cli.build_parser()
    text = parser.format_help()
    for name in ("replay", "listen", "doctor", "demo"):
        assert name in text


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "soon"])
def test_listen_refuses_a_timeout_that_is_not_a_positive_number(value, capsys):
    # (-5 and 0 were taken, and listen stopped at once with exit 0)
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["listen", "--timeout", value])
    assert e.value.code == 2
    assert "argument --timeout: " in capsys.readouterr().err
    assert cli.build_parser().parse_args(["listen", "--timeout", "2.5"]).timeout == 2.5


@pytest.mark.parametrize("argv, message", [
    (["bake", "--audio", "x.wav"], "the following arguments are required: -o/--output"),
    (["serve", "--fps", "abc"], "argument --fps: invalid float value: 'abc'"),
    (["bakee"], "argument COMMAND: invalid choice: 'bakee'"),
    (["dataset"], "the following arguments are required: SUBCOMMAND"),
])
def test_a_mistyped_command_line_is_one_line_naming_the_help(argv, message, capsys):
    # (argparse printed its whole usage block above the error: fifteen lines for bake)
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2
    assert len(err) == 1, err
    prog = "vasa-bridge" if argv[0] == "bakee" else f"vasa-bridge {argv[0]}"
    assert err[0].startswith(f"{prog}: error: {message}"), err[0]
    assert err[0].endswith(f"(`{prog} --help` lists the "
                           f"{'commands' if prog == 'vasa-bridge' else 'options'})")


def test_the_bare_command_shows_its_commands(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    err = capsys.readouterr().err
    assert e.value.code == 2
    for name in ("serve", "render", "bake", "web", "doctor"):
        assert f"\n    {name} " in err, name
    assert err.strip().splitlines()[-1] == ("vasa-bridge: error: the following arguments are "
                                            "required: COMMAND")


def test_bake_says_what_it_does_in_a_line_and_its_settings_with_verbose(tmp_path, capsys):
    """(every bake printed its whole resolved config, ~1,000 characters of JSON)"""
    import soundfile as sf
    wav = tmp_path / "a.wav"
    sf.write(str(wav), (0.3 * np.sin(np.arange(12000) * 0.05)).astype(np.float32), 16000)
    out = tmp_path / "a.npz"
    assert cli.main(["bake", "--audio", str(wav), "-o", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"[bake] {wav} -> {out} (emotion neutral, seed 0, mouth from the audio)",
                   f"[bake] {out}: 19 frames at 25 fps (0.76 s)"], err
    for argv in (["bake", "-v"], ["-v", "bake"]):
        try:
            assert cli.main([*argv, "--audio", str(wav), "-o", str(out), "--seed", "3"]) == 0
        finally:
            cli.configure_logging(False)  # -v set the package's loggers (and native ones) to debug
        shown = [line for line in capsys.readouterr().err.splitlines()
                 if line.startswith("[bake] {")]
        assert len(shown) == 1 and json.loads(shown[0].removeprefix("[bake] "))["seed"] == 3


def test_outputs_and_options_that_cannot_work_are_one_line_errors_before_any_work(tmp_path,
                                                                                 capsys):
    """Each of these was a traceback (exit 1), or an error only after the whole bake."""
    import soundfile as sf
    from vasa_bridge.motion import MotionTrack, save
    wav = tmp_path / "a.wav"
    sf.write(str(wav), (0.1 * np.sin(np.arange(8000) * 0.05)).astype(np.float32), 16000)
    track = save(MotionTrack(np.zeros((10, 52), np.float32), np.zeros((10, 3)),
                             np.zeros((10, 3)), 25.0), tmp_path / "t.npz")
    folder = tmp_path / "taken.npz"
    folder.mkdir()
    (tmp_path / "taken.mp4").mkdir()
    (tmp_path / "lines").mkdir()
    sf.write(str(tmp_path / "lines" / "l.wav"), np.zeros(1600, np.float32), 16000)
    cases = [
        (["bake", "--audio", str(wav), "-o", str(folder)], "output '.*taken.npz' is a folder: "
                                                           "expected a file name"),
        (["bake", "--manifest", str(tmp_path / "lines"), "-o", str(wav)],
         "output '.*a.wav' is a file: expected a folder for the batch's tracks"),
        (["bake", "--audio", str(wav), "-o", str(tmp_path / "o.npz"), "--seed", "-1"],
         "argument --seed: -1 is not a whole number 0..2\\^63-1"),
        (["bake", "--audio", str(wav), "-o", str(tmp_path / "o.npz"), "--mouth-temperature",
          "inf"], "argument --mouth-temperature: inf is not a finite number >= 0"),
        (["bake", "--audio", str(wav), "-o", str(tmp_path / "o.npz"), "--guidance", "emotion"],
         "--guidance 'emotion': expected NAME=SCALE such as emotion=2"),
        (["render", "--motion", str(track), "-o", str(tmp_path / "taken.mp4")],
         "output '.*taken.mp4' is a folder: expected a mp4 file name"),
        (["render", "--motion", str(track), "-o", str(tmp_path / "p" / "%d_%d.png")],
         "output .* is not a PNG pattern: expected one %d"),
        (["render", "--motion", str(track), "-o", str(tmp_path / "p" / "%05d")],
         "output .* is not a PNG pattern"),
        (["bake", "--audio", str(wav), "-o", str(tmp_path / "o.npz"), "--text", "  "],
         r"--text is blank: expected the words spoken \(or no --text\)"),
        (["bake", "--audio", str(tmp_path), "-o", str(tmp_path / "o.npz")],
         "audio file '.*' is a folder: expected a WAV"),
        (["render", "--image", str(tmp_path), "--motion", str(track), "-o",
          str(tmp_path / "o.mp4")], "portrait '.*' is a folder: expected an image file"),
    ]
    import re
    for argv, message in cases:
        try:
            code = cli.main(argv)
        except SystemExit as e:  # argparse's refusals
            code = e.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, (argv, err)
        assert re.search(f"vasa-bridge {argv[0]}: error: {message}", err[-1]), (argv, err[-1])
        assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "o.npz").exists()


def test_an_os_error_is_one_line_naming_the_path(capsys):
    def refuse(args):
        raise PermissionError(13, "Permission denied", "/srv/ro/x.npz")
    parser = cli.build_parser()
    args = parser.parse_args(["listen"])
    args.func = refuse
    parser.parse_args = lambda argv=None: args
    original = cli.build_parser
    cli.build_parser = lambda: parser
    try:
        assert cli.main([]) == 2
    finally:
        cli.build_parser = original
    assert capsys.readouterr().err.strip() == (
        "vasa-bridge listen: error: cannot use '/srv/ro/x.npz': Permission denied (expected a "
        "path this user can read or write, a file where a file is named and a folder where a "
        "folder is)")


@pytest.mark.slow
def test_replay_feeds_vmc(tmp_path):
    """`replay --vmc` drives a VMC receiver: one Apply per frame, jawOpen as PascalCase."""
    import threading
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer
    from vasa_bridge.motion import MotionTrack, save

    T = 10
    shapes = np.zeros((T, 52), np.float32)
    shapes[:, 17] = np.linspace(0, 0.9, T)  # jawOpen
    path = save(MotionTrack(shapes, np.zeros((T, 3)), np.zeros((T, 3)), 25.0), tmp_path / "t.npz")
    seen = {"apply": 0, "jaw": []}
    d = Dispatcher()
    d.map("/VMC/Ext/Blend/Apply", lambda *a: seen.__setitem__("apply", seen["apply"] + 1))
    d.map("/VMC/Ext/Blend/Val", lambda addr, name, v: seen["jaw"].append(v) if name == "JawOpen"
          else None)
    server = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        r = run_cli("replay", str(path), "--pub", "tcp://127.0.0.1:*", f"--vmc=127.0.0.1:{port}")
        assert r.returncode == 0, r.stderr
        deadline = time.time() + 5
        while seen["apply"] < T and time.time() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert seen["apply"] == T
    np.testing.assert_allclose(seen["jaw"], np.linspace(0, 0.9, T), atol=1e-6)
