"""Quiet third-party native libraries unless asked (`--verbose`).

Two families of C libraries write straight to file descriptor 2, below Python's `sys.stderr`:

- mediapipe's TensorFlow Lite and absl, when a graph is built and on its first frames ("Created
  TensorFlow Lite XNNPACK delegate", "All log messages before absl::InitializeLog()", `W0000 ...
  .cc:NNN] ...`). No environment variable turns absl's off in mediapipe 0.10.21: `quiet_native()`.
- PortAudio and what lies under it (ALSA, its PulseAudio and JACK plugins, JACK's client), when
  sounddevice is imported, devices are queried and a stream is opened ("ALSA lib pcm_pulse.c:758:
  (pulse_prepare) PulseAudio: Unable to create stream: No such entity", "Expression 'ret' failed in
  'src/hostapi/alsa/pa_linux_alsa.c', line: 1812", "jack server is not running or cannot be
  started"): seven lines above our one-line error. `quiet_portaudio()`.

Both point fd 2 at a temporary file for the span of such a call (one redirect, shared by every
span open in any thread; fd 2 is restored when the last one ends) and sort what was written when
a span ends: known chatter goes to this module's logger at debug level (shown by `--verbose`),
every other line (Python's own output, our log lines, other threads' messages, real errors such
as absl's `E`/`F` lines) is written back to the terminal byte for byte, only later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading

log = logging.getLogger(__name__)

# "file": the temporary file fd 2 points at while "depth" spans are open, "saved": the real fd 2,
# "read": how far into the file lines were sorted, "native": the chatter lines sorted so far,
# "after": whether the last line sorted was chatter.
_state = {"verbose": False, "depth": 0, "saved": None, "file": None, "read": 0, "native": [],
          "after": False}
_lock = threading.Lock()

# Lines that carry no news for a user: informational and warning lines of TensorFlow Lite and
# absl (error and fatal lines are kept).
_CHATTER = re.compile(
    r"^(INFO: Created TensorFlow Lite"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )")

# PortAudio's own lines and those of the libraries under it. What they say that matters reaches
# the user anyway: PortAudio's error text is in our error (and `reason` adds ALSA's or JACK's).
_PORTAUDIO = re.compile(
    r"^(ALSA lib \S+:\d+:"  # ALSA's SNDERR, its plugins' too: "ALSA lib pcm.c:2664:(func) ..."
    r"|Expression '.*' failed in '\S+', line: \d+$"  # PortAudio's PA_ENSURE
    r"|Cannot connect to server (socket|request channel)"  # JACK's client, no server running
    r"|jack server is not running or cannot be started"
    r"|JackShmReadWritePtr::"
    r"|connect\(2\) call to \S+ failed"  # JACK 1's client
    r"|attempt to connect to server failed"
    r"|bt_audio_service_open: )")
_ALSA_MESSAGE = re.compile(r"^ALSA lib \S+:\d+:\(\w+\) (.+)$")


def set_verbose(verbose: bool) -> None:
    """Called once by the CLI. Quiet (the default) also sets the environment switches that the
    libraries read at import (TensorFlow's and glog's minimum levels), unless the user set them."""
    _state["verbose"] = bool(verbose)
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("GLOG_minloglevel", "2")


def is_chatter(line: str) -> bool:
    return bool(_CHATTER.match(line))


def is_portaudio(line: str) -> bool:
    """A line PortAudio, ALSA or JACK writes on their own (not an error of ours)."""
    return bool(_PORTAUDIO.match(line))


def reason(lines: list[str]) -> str:
    """What PortAudio's native `lines` (from `quiet_portaudio`) say about a failure in words
    PortAudio's error text lacks: ALSA's first message without its source location ("ALSA:
    PulseAudio: Unable to create stream: No such entity"), else JACK's missing server; "" when
    they say nothing of the kind."""
    for line in lines:
        m = _ALSA_MESSAGE.match(line.strip())
        if m:
            return f"ALSA: {m.group(1).strip()}"
    for line in lines:
        if line.startswith("jack server is not running"):
            return f"JACK: {line.strip()}"
    return ""


@contextlib.contextmanager
def quiet_native():
    """Hold back TensorFlow Lite's and absl's chatter on fd 2 while the block runs (re-entrant,
    thread-safe); `--verbose` lets it through as it comes."""
    if _state["verbose"]:
        yield []
        return
    with _span() as lines:
        yield lines


@contextlib.contextmanager
def quiet_portaudio():
    """Hold back what PortAudio, ALSA and JACK write on fd 2 while the block runs: importing
    sounddevice, querying devices, opening a stream. Keep the block to those calls (every
    thread's fd 2 output waits until it ends). Yields a list that holds, once the block is over
    (by an exception too), the lines they wrote, for `reason`; they also go to the debug log,
    which `--verbose` shows (so they are captured with it too)."""
    with _span() as lines:
        yield lines


@contextlib.contextmanager
def _span():
    """fd 2 into the shared temporary file for the block (the first span opens it, the last one
    restores fd 2); yields the list that gets the chatter lines written during the block."""
    mine: list[str] = []
    with _lock:
        if _state["depth"] == 0:
            _redirect()
            pending: list[str] = []
        else:  # earlier lines belong to the spans open before this one
            pending = _sort(final=False)
        _state["depth"] += 1
        start = len(_state["native"])
    _log(pending)
    try:
        yield mine
    finally:
        with _lock:
            _state["depth"] -= 1
            final = _state["depth"] == 0
            if final:
                _restore()
            new = _sort(final)
            mine.extend(_state["native"][start:])
            if final:
                _close()
        _log(new)


def _redirect() -> None:
    """Under _lock: point fd 2 at a new temporary file (nothing to quiet without an fd 2)."""
    with contextlib.suppress(ValueError, OSError):
        sys.stderr.flush()
    try:
        tmp = tempfile.TemporaryFile()
    except OSError:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded, closed)
        tmp.close()
        return
    try:
        os.dup2(tmp.fileno(), 2)
    except OSError:
        os.close(saved)
        tmp.close()
        return
    _state.update(saved=saved, file=tmp, read=0, native=[], after=False)


def _restore() -> None:
    """Under _lock, when the last span ends: fd 2 back where it was (what Python buffered for it
    first into the file), before the last `_sort`."""
    if _state["saved"] is not None:
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()
        os.dup2(_state["saved"], 2)


def _close() -> None:
    """Under _lock, after the last `_sort`."""
    if _state["saved"] is not None:
        os.close(_state["saved"])
        _state["file"].close()
    _state.update(saved=None, file=None, read=0, native=[], after=False)


def _sort(final: bool) -> list[str]:
    """Under _lock: sort what fd 2 received since the last call (whole lines only, unless
    `final`): chatter is kept in _state["native"] (and returned, for the log); the rest goes to
    the real fd 2 as it was written."""
    tmp = _state["file"]
    if tmp is None:
        return []
    if not final:
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()  # Python's own lines, in order with the native ones
    data = _unread(tmp.fileno(), final)
    if not final:  # another thread may be half way through a line
        data = data[:max(data.rfind(b"\n"), data.rfind(b"\r")) + 1]
    _state["read"] += len(data)
    native, kept, after_chatter = [], [], _state["after"]
    for raw in data.splitlines(keepends=True):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        # a blank line right after one of theirs is theirs (ALSA's pulse plugin ends with two)
        if is_chatter(line) or is_portaudio(line) or (after_chatter and not line.strip()):
            after_chatter = True
            if line.strip():
                native.append(line)
        else:
            after_chatter = False
            kept.append(raw)
    _state["after"] = after_chatter
    _write(_state["saved"], b"".join(kept))
    _state["native"].extend(native)
    return native


def _unread(fd: int, final: bool) -> bytes:
    """What the file holds past _state["read"]. While fd 2 points at it, they share one offset,
    which only pread leaves alone (where there is none, Windows, the file is read once fd 2 is
    restored)."""
    start = _state["read"]
    if not hasattr(os, "pread"):
        if not final:
            return b""
        os.lseek(fd, start, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    size, data = os.fstat(fd).st_size, b""
    while start + len(data) < size:
        chunk = os.pread(fd, size - start - len(data), start + len(data))
        if not chunk:
            break
        data += chunk
    return data


def _write(fd: int, data: bytes) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except OSError:  # the terminal went away: nothing left to tell it
            return
        data = data[n:]


def _log(lines: list[str]) -> None:
    """Outside _lock: a handler writing to fd 2 while another span is open lands in the file
    again, and is written back as it is (not chatter)."""
    for line in lines:
        log.debug("%s", line)
