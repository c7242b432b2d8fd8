"""Quiet third-party native libraries unless asked (`--verbose`).

mediapipe's TensorFlow Lite and absl write straight to file descriptor 2, below Python's
`sys.stderr`, when a graph is built and on its first frames ("Created TensorFlow Lite XNNPACK
delegate", "All log messages before absl::InitializeLog()", `W0000 ... .cc:NNN] ...`). No
environment variable turns absl's off in mediapipe 0.10.21, so `quiet_native()` points fd 2 at
a temporary file for the span of such a call and writes back every line that is not known
chatter: real errors (absl `E`/`F` lines, Python tracebacks, other threads' messages) still
reach the terminal, only later.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading

_state = {"verbose": False, "depth": 0, "saved": None, "file": None}
_lock = threading.Lock()

# Lines that carry no news for a user: informational and warning lines of TensorFlow Lite and
# absl (error and fatal lines are kept).
_CHATTER = re.compile(
    r"^(INFO: Created TensorFlow Lite"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )")


def set_verbose(verbose: bool) -> None:
    """Called once by the CLI. Quiet (the default) also sets the environment switches that the
    libraries read at import (TensorFlow's and glog's minimum levels), unless the user set them."""
    _state["verbose"] = bool(verbose)
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("GLOG_minloglevel", "2")


def is_chatter(line: str) -> bool:
    return bool(_CHATTER.match(line))


@contextlib.contextmanager
def quiet_native():
    """Hold back native chatter on fd 2 while the block runs (re-entrant, thread-safe: the first
    caller redirects, the last one restores and writes back what was not chatter)."""
    if _state["verbose"]:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            try:
                sys.stderr.flush()
                tmp = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(tmp.fileno(), 2)
            except (OSError, ValueError):  # no fd 2 (embedded, closed): nothing to quiet
                tmp = saved = None
            _state["saved"], _state["file"] = saved, tmp
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["saved"] is not None:
                saved, tmp = _state["saved"], _state["file"]
                _state["saved"] = _state["file"] = None
                with contextlib.suppress(ValueError, OSError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                text = tmp.read().decode("utf-8", "replace")
                tmp.close()
                kept = [line for line in text.splitlines() if not is_chatter(line)]
                if kept:
                    sys.stderr.write("\n".join(kept) + "\n")
                    sys.stderr.flush()
