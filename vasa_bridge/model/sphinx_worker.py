"""pocketsphinx off the runtime's interpreter lock.

pocketsphinx's decoder holds Python's GIL for the whole of a call: recognising the phones of a
3 s clip froze every other thread for 73 ms, a 120 s NPC clip for seconds. `serve` bakes and
aligns clips on control worker threads while its loop publishes 25 frames a second, so the phone
recogniser and the forced aligner it uses run in one child process instead (spawned on first use,
~0.3 s, and again if it ever dies; a plain child process, not multiprocessing, which would
import the caller's main module again). `recognizer()` and `aligner()` give objects with the same
`timeline` / `align` as the in-process `phones.PhoneRecognizer` and `data.align.Aligner`; the
results are the same, since the same code runs there.

The CLI's offline commands (`bake`, `render`, `eval`) have no loop to keep going and decode in
their own process.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading

import numpy as np

from ..errors import DataError
from .phones import PhoneConfig

# In the child: one decoder of each kind, made on first use and kept.
_recognizers: dict = {}
_aligner = None


def _forget() -> None:
    global _aligner
    _recognizers.clear()
    _aligner = None


def _hear(audio: np.ndarray, rate: int, config: PhoneConfig):
    from .phones import PhoneRecognizer
    if config not in _recognizers:
        _recognizers[config] = PhoneRecognizer(config)
    return _recognizers[config].hear(audio, rate)


def _align(audio: np.ndarray, text: str, min_fit: float | None = None):
    global _aligner
    if _aligner is None:
        from ..data.align import Aligner
        _aligner = Aligner()
    return _aligner.align(audio, text, min_fit)


def _warm(config: PhoneConfig) -> None:
    from .phones import PhoneRecognizer
    if config not in _recognizers:
        _recognizers[config] = PhoneRecognizer(config)
    _recognizers[config].warm()


def _forget_words() -> None:
    from ..data.align import forget_searched
    forget_searched()


_CALLS = {"hear": _hear, "align": _align, "warm": _warm, "forget_words": _forget_words,
          "pid": os.getpid}


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other end closed the pipe")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the other end closed the pipe mid-message")
    try:
        return pickle.loads(data)  # only ever from our own parent or child process
    except Exception as e:  # read whole: the pipe is still in step
        raise WorkerError(f"an answer of the pocketsphinx process could not be read "
                          f"({type(e).__name__}: {e})") from None


def _serve() -> None:
    """The child's loop: (name, args) in, ("ok", result) or ("error", exception) out, until
    the parent closes the pipe. A plain child process (not multiprocessing), so the caller's
    main module is never imported again."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the replies
    requests = sys.stdin.buffer
    while True:
        try:
            name, args = _receive(requests)
        except EOFError:
            return
        try:
            _send(replies, ("ok", _CALLS[name](*args)))
        except Exception as e:  # the parent raises it again: DataError for a bad alignment
            if not isinstance(e, DataError):  # a decoder may be mid-utterance: fresh ones
                _forget()
            try:
                pickle.loads(pickle.dumps(e))
            except Exception:  # (this module runs as __main__ here: its own classes would
                e = DataError(f"pocketsphinx failed: {type(e).__name__}: {e}")  # not unpickle)
            _send(replies, ("error", e))


def _reply(child: subprocess.Popen, limit: float):
    """The child's answer within `limit` seconds (TimeoutError otherwise). Read on a helper
    thread, since a pipe cannot be waited on with a timeout everywhere (select() takes only
    sockets on Windows); killing the child ends that read."""
    box: queue.Queue = queue.Queue()

    def read():
        try:
            box.put((True, _receive(child.stdout)))
        except BaseException as e:  # EOFError when the child dies; handed to the caller
            box.put((False, e))
    threading.Thread(target=read, name="vasa-sphinx-reply", daemon=True).start()
    try:
        ok, value = box.get(timeout=limit)
    except queue.Empty:
        raise TimeoutError from None
    if not ok:
        raise value
    return value


def _close_pipes(child: subprocess.Popen) -> None:
    for pipe in (child.stdin, child.stdout):
        try:
            pipe.close()
        except OSError:
            pass  # a broken pipe to a dead child


class WorkerError(DataError):
    """The pocketsphinx process died or did not answer in time; it is started again for the
    next call."""


class SphinxWorker:
    """One child process for pocketsphinx; safe to call from many threads (calls queue).

    A call that has not answered after `timeout_s` plus `timeout_per_s` per second of its audio
    (the phone loop takes ~0.04 s per second of speech, with the recognised words ~0.3 s, on
    one core) kills the child and raises `WorkerError`."""

    def __init__(self, timeout_s: float = 30.0, timeout_per_s: float = 1.0) -> None:
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.timeout_s = timeout_s
        self.timeout_per_s = timeout_per_s
        self.restarts = 0  # times the child had died or hung and was started again

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def call(self, name: str, *args, audio_s: float = 0.0):
        """`name` (a function of the child's) on `args`; `audio_s`: seconds of audio in them,
        for the time limit."""
        limit = self.timeout_s + self.timeout_per_s * audio_s
        with self._lock:  # one call at a time: the child decodes one clip after another
            if self._child is None or self._child.poll() is not None:
                if self._child is not None:
                    self.restarts += 1
                    _close_pipes(self._child)
                self._child = self._start()
            child = self._child
            try:
                _send(child.stdin, (name, args))
                status, value = _reply(child, limit)
            except (EOFError, OSError) as e:
                child.kill()
                child.wait()
                _close_pipes(child)
                what = f"did not answer in {limit:.3g} s" if isinstance(e, TimeoutError) else \
                    "stopped during a call"
                raise WorkerError(f"the pocketsphinx process {what}: expected it to answer (it "
                                  f"is started again for the next clip)") from None
        if status == "error":
            raise value
        return value

    def recognizer(self, config: PhoneConfig = PhoneConfig()) -> "RemoteRecognizer":
        return RemoteRecognizer(self, config)

    def aligner(self) -> "RemoteAligner":
        return RemoteAligner(self)

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            try:
                child.stdin.close()  # the child ends its current call, then exits
            except OSError:
                pass
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            _close_pipes(child)

    def __enter__(self) -> "SphinxWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RemoteRecognizer:
    """`phones.PhoneRecognizer.hear` / `timeline`, decoded in the worker's process."""

    def __init__(self, worker: SphinxWorker, config: PhoneConfig) -> None:
        self.worker, self.config = worker, config

    def hear(self, audio: np.ndarray, rate: int):
        audio = np.asarray(audio, np.float32)
        return self.worker.call("hear", audio, int(rate), self.config,
                                audio_s=len(audio) / max(int(rate), 1))

    def timeline(self, audio: np.ndarray, rate: int):
        return self.hear(audio, rate)[0]


class RemoteAligner:
    """`data.align.Aligner.align`, decoded in the worker's process."""

    def __init__(self, worker: SphinxWorker) -> None:
        self.worker = worker

    def align(self, audio: np.ndarray, text: str, min_fit: float | None = None):
        audio = np.asarray(audio, np.float32)
        return self.worker.call("align", audio, str(text), min_fit, audio_s=len(audio) / 16000)


_shared: SphinxWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> SphinxWorker:
    """The process's one worker (the runtime's clip baker and its transcript aligner share it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SphinxWorker()
            atexit.register(_shared.close)  # a child busy (or hung) at exit does not outlive us
        return _shared


if __name__ == "__main__":
    _serve()
