import ctypes
import logging
import os
import subprocess
import sys
import threading

import pytest

from conftest import ROOT
from vasa_bridge import native_log

CHATTER = (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
           b"WARNING: All log messages before absl::InitializeLog() is called are written to "
           b"STDERR\n"
           b"W0000 00:00:1796341121.748643   11985 inference_feedback_manager.cc:114] Feedback "
           b"manager requires a model with a single signature inference.\n")


def test_native_chatter_is_held_back_and_the_rest_written_back(capfd):
    native_log.set_verbose(False)
    with native_log.quiet_native():
        os.write(2, CHATTER)
        os.write(2, b"E0000 00:00:1.0  1 graph.cc:9] a real error\nTraceback: something else\n")
        with native_log.quiet_native():  # re-entrant: the inner span does not restore early
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"still inside\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err.splitlines() == ["E0000 00:00:1.0  1 graph.cc:9] a real error",
                                "Traceback: something else", "still inside", "after"]


def test_spans_from_two_threads_share_one_redirect(capfd):
    native_log.set_verbose(False)
    inside, release = threading.Event(), threading.Event()

    def other():
        with native_log.quiet_native():
            inside.set()
            release.wait(5)
            os.write(2, CHATTER + b"from the other thread\n")

    t = threading.Thread(target=other)
    with native_log.quiet_native():
        t.start()
        inside.wait(5)
    release.set()  # the first span ended; the other's is still open
    t.join(5)
    assert capfd.readouterr().err.splitlines() == ["from the other thread"]


def test_verbose_lets_everything_through(capfd):
    native_log.set_verbose(True)
    try:
        with native_log.quiet_native():
            os.write(2, CHATTER)
    finally:
        native_log.set_verbose(False)
    assert capfd.readouterr().err.encode() == CHATTER


# What PortAudio and the libraries under it write on fd 2 (recorded on a machine without a sound
# card, and with a PulseAudio server without a source): ALSA's SNDERR lines, the blank line the
# pulse plugin adds, PortAudio's PA_ENSURE lines, JACK's client with no server.
ALSA = (b"ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear\n"
        b"ALSA lib pcm_pulse.c:758:(pulse_prepare) PulseAudio: Unable to create stream: No such "
        b"entity\n\n"
        b"Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1812\n")
JACK = (b"Cannot connect to server socket err = No such file or directory\n"
        b"Cannot connect to server request channel\n"
        b"jack server is not running or cannot be started\n"
        b"JackShmReadWritePtr::~JackShmReadWritePtr - Init not done for -1, skipping unlock\n")
PORTAUDIO_LINES = [line for line in (ALSA + JACK).decode().splitlines() if line]


def _native_write(data: bytes) -> None:
    """Write as a C library does: libc's write(2) on fd 2, below Python."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.write(2, data, len(data)) == len(data)


def test_portaudio_lines_are_withheld_from_fd_2_and_go_to_the_debug_log(capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="vasa_bridge.native_log")
    native_log.set_verbose(False)
    with native_log.quiet_portaudio() as lines:
        os.write(2, ALSA)
        _native_write(JACK)
        os.write(2, b"a line of ours\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "a line of ours\nafter\n"
    assert lines == PORTAUDIO_LINES
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == \
        [("vasa_bridge.native_log", logging.DEBUG, line) for line in PORTAUDIO_LINES]
    assert native_log.reason(lines) == "ALSA: Unknown PCM cards.pcm.rear"
    assert native_log.reason(PORTAUDIO_LINES[4:]) == \
        "JACK: jack server is not running or cannot be started"
    assert native_log.reason(["Expression 'r' failed in 'a.c', line: 1"]) == ""


def test_portaudio_lines_are_captured_with_verbose_too_and_fd_2_comes_back_on_error(capfd):
    """--verbose shows them through the debug log (with the logger's name), and an error raised
    by the open (PortAudioError) leaves fd 2 restored and the lines in the list."""
    native_log.set_verbose(True)
    try:
        with pytest.raises(RuntimeError, match="will not open"):
            with native_log.quiet_portaudio() as lines:
                _native_write(ALSA)
                raise RuntimeError("will not open")
    finally:
        native_log.set_verbose(False)
    os.write(2, b"restored\n")
    assert capfd.readouterr().err == "restored\n"
    assert lines == PORTAUDIO_LINES[:3]
    assert native_log._state["depth"] == 0 and native_log._state["saved"] is None


def test_two_threads_opening_devices_at_once_lose_no_line_and_restore_fd_2(capfd):
    native_log.set_verbose(False)
    before = os.fstat(2)
    go = threading.Barrier(2)

    def opener(name):
        go.wait(5)
        for i in range(100):
            with native_log.quiet_portaudio() as lines:
                _native_write(ALSA)
                os.write(2, f"{name} {i}\n".encode())
            assert lines[:3] == PORTAUDIO_LINES[:3]  # its own, perhaps the other's after them

    threads = [threading.Thread(target=opener, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert native_log._state["depth"] == 0 and native_log._state["saved"] is None
    err = capfd.readouterr().err.splitlines()
    for name in ("a", "b"):  # every line of theirs, once, in order
        assert [line for line in err if line.startswith(f"{name} ")] == \
            [f"{name} {i}" for i in range(100)]
    assert len(err) == 200, err


SCRIPT = """
import ctypes, logging, sys
from vasa_bridge.cli import configure_logging
from vasa_bridge.native_log import quiet_portaudio
configure_logging(sys.argv[1] == "verbose")
try:
    import sounddevice as sd
except OSError:
    sd = None
libc = ctypes.CDLL(None)
print("before", file=sys.stderr)
with quiet_portaudio() as lines:
    print("a print", file=sys.stderr)
    logging.getLogger("vasa_bridge.test").warning("a warning of ours")
    if sd is not None:  # PortAudio starts again: it probes ALSA's devices and JACK, which talk
        sd._lib.Pa_Terminate()
        sd._lib.Pa_Initialize()
    libc.write(2, b"ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear\\n",
               71)
    libc.write(2, b"somebody else's native line\\n", 28)
print("after", file=sys.stderr)
print(len(lines))
"""


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_a_process_starting_portaudio_keeps_its_own_lines_in_order(mode):
    """A fresh process (PortAudio started again for real: its ALSA and JACK lines, where this
    machine has them): Python's lines and our log lines come through untouched and in order,
    PortAudio's only in the debug log."""
    r = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                       timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    err = r.stderr.splitlines()
    debug = [line for line in err if line.startswith("DEBUG vasa_bridge.native_log: ")]
    rest = [line for line in err if line not in debug]
    ours = "warning: a warning of ours" if mode == "quiet" else \
        "WARNING vasa_bridge.test: a warning of ours"
    assert rest == ["before", "a print", ours, "somebody else's native line", "after"], r.stderr
    captured = int(r.stdout)
    assert captured >= 1
    if mode == "verbose":  # every line PortAudio's libraries wrote, and in the log only
        assert len(debug) == captured
        assert debug[-1].endswith("Unknown PCM cards.pcm.rear")
    else:
        assert debug == []
