"""Where batch lines are baked: in this process, in a process pool, or on Ray.

The driver sends chunks of `Job`s (the audio file's bytes and the line's settings) and gets back
`Outcome`s (the encoded output files), so workers need no shared disk and the driver alone writes.
Each worker process loads the model once (`_denoiser` keeps it) and bakes every job it is sent.
All three backends yield the outcomes of one chunk at a time, as chunks finish, with at most
`inflight` chunks submitted and not yet gathered (memory stays bounded on any batch size).
Their log records print on the driver as its own: a pool's workers send them as they come
(`_relay`), a Ray task returns them with its outcomes (`_task`). Workers and tasks hold BLAS to one
thread (the driver keeps its own setting): each runs one line at a time on its one CPU, and
OpenBLAS's idle extra threads only spin (`bench/bench_batch.py --modes pool-blas,pool`).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from logging.handlers import QueueHandler
from typing import Iterable, Iterator

from ..errors import ConfigError, VasaError
from ..model.bake import BakeConfig

log = logging.getLogger(__name__)

_DENOISERS: dict = {}  # (model path, threads) -> OnnxDenoiser, one per worker process
_ALIGNER = None  # data.align.Aligner, one per worker process, made for the first transcript
_RECOGNIZERS: dict = {}  # PhoneConfig -> model.phones.PhoneRecognizer, one per worker process


@dataclass(frozen=True)
class Job:
    number: int  # the manifest line
    name: str  # the audio file's path: its suffix picks the decoder, errors name it
    data: bytes  # the audio file's bytes
    config: BakeConfig  # this line's settings (steering and seed resolved)
    suffixes: tuple  # output formats, e.g. (".npz", ".json")
    text: str | None = None  # the words spoken: the mouth follows their forced alignment


@dataclass
class Outcome:
    number: int
    files: dict = field(default_factory=dict)  # suffix -> encoded bytes
    duration: float = 0.0  # seconds of audio
    error: str | None = None


def _denoiser(model: str | None, threads: int):
    key = (model, threads)
    if key not in _DENOISERS:
        from ..model.onnx_runtime import OnnxDenoiser
        _DENOISERS[key] = OnnxDenoiser(model, threads=threads)
    return _DENOISERS[key]


def _recognizer(phones):
    """The worker's phone recogniser for `phones` (a PhoneConfig, or None: the phone layer off):
    its decoders (the phone loop, the word search, the aligner) cost ~0.7 s to load."""
    if phones is None:
        return None
    if phones not in _RECOGNIZERS:
        from ..errors import DataError
        from ..model.phones import PhoneRecognizer
        try:
            _RECOGNIZERS[phones] = PhoneRecognizer(phones)
        except DataError:
            return None  # no pocketsphinx: apply_phones says so, as for a line baked alone
    return _RECOGNIZERS[phones]


def _aligner(text: str | None, language: str):
    """The worker's one forced aligner (a pocketsphinx decoder costs ~0.25 s to load), for a
    line whose transcript will be aligned; None otherwise or without pocketsphinx (align_text
    then says why, as it does for a line baked alone)."""
    from ..model.transcript import has_aligner
    if text is None or not text.strip() or not has_aligner(language):
        return None
    global _ALIGNER
    if _ALIGNER is None:
        from ..data.align import Aligner
        from ..errors import DataError
        try:
            _ALIGNER = Aligner()
        except DataError:
            return None
    return _ALIGNER


def warm(model: str | None, threads: int, logs=None, levels: tuple = ()) -> None:
    """Load the model now (a pool initializer), so the first chunk does not pay for it. Ctrl-C
    reaches the whole process group: the batch (`pool`) decides what stops, not each worker.
    `logs`: a queue for this process's log records at the driver's `levels` ((name, level)),
    so they print in the driver's format and clear of its progress bar. BLAS runs one thread
    from here on: this process is the pool's, and bakes one line at a time."""
    import signal

    from threadpoolctl import threadpool_limits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if logs is not None:
        logging.getLogger().handlers = [QueueHandler(logs)]
        for name, level in levels:
            logging.getLogger(name).setLevel(level)
    _denoiser(model, threads)
    # After the model, so what its imports loaded is held too (numpy's OpenBLAS). scipy's own
    # OpenBLAS, loaded later by the first line (scipy.special), does no BLAS work and sleeps.
    threadpool_limits(limits=1, user_api="blas")


def bake_job(job: Job) -> Outcome:
    """One line: decode, bake, encode. Any failure becomes the line's one-line error."""
    from ..audio.features import prepare_audio
    from ..audio.io import decode_audio
    from ..model.bake import bake_audio_text
    from ..motion.io import encode
    try:
        den = _denoiser(job.config.model, job.config.threads)
        fc = den.config.features
        audio, rate = decode_audio(job.data, job.name)
        audio = prepare_audio(audio, rate, fc)  # the one resample: bake_audio_text's is a no-op
        aligner = _aligner(job.text, job.config.transcript.language)
        track = bake_audio_text(audio, fc.sample_rate, job.config, den, job.text, aligner,
                                recognizer=_recognizer(job.config.phones))[0]
        files = {s: encode(track, s) for s in job.suffixes}
    except VasaError as e:
        return Outcome(job.number, error=str(e))
    except Exception as e:  # a batch lists a line that broke the code and goes on with the rest
        log.debug("line %d failed", job.number, exc_info=True)
        return Outcome(job.number, error=f"{type(e).__name__}: {e}")
    return Outcome(job.number, files, len(audio) / fc.sample_rate)


def bake_chunk(jobs: list) -> list:
    """A chunk of jobs in this process (the unit a pool worker or a Ray task runs)."""
    return [bake_job(j) for j in jobs]


class _Kept(QueueHandler):
    """Keeps a task's log records, made ready to send as a pool's are (the message formatted,
    no arguments or traceback objects)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.records: list = []

    def enqueue(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _task(levels: tuple, fn, *args) -> tuple:
    """`fn(*args)` as a Ray task: with one BLAS thread, and its log records at the driver's
    `levels` ((name, level)) kept from the worker's own handlers and returned with the result,
    (result, records), for the driver to print once as its own (Ray would have printed them
    bare with log_to_driver, or dropped them). The worker is left as it was found."""
    from threadpoolctl import threadpool_limits
    root, kept = logging.getLogger(), _Kept()
    handlers, was = root.handlers, [(name, logging.getLogger(name).level) for name, _ in levels]
    root.handlers = [kept]
    try:
        for name, level in levels:
            logging.getLogger(name).setLevel(level)
        with threadpool_limits(limits=1, user_api="blas"):
            result = fn(*args)
    finally:
        root.handlers = handlers
        for name, level in was:
            logging.getLogger(name).setLevel(level)
    return result, kept.records


def _driver_levels() -> tuple:
    """What the driver logs, (name, level): the workers log no more (and no less) than that."""
    return tuple((name, logging.getLogger(name).getEffectiveLevel())
                 for name in ("", "vasa_bridge"))


def _failed(chunk: list, reason: str) -> list:
    return [Outcome(j.number, error=reason) for j in chunk]


# --- backends ----------------------------------------------------------------------------------


def serial(chunks: Iterable[list]) -> Iterator[list]:
    for chunk in chunks:
        yield bake_chunk(chunk)


def pool(chunks: Iterable[list], workers: int, model: str | None, threads: int,
         inflight: int) -> Iterator[list]:
    """A process pool of `workers` (spawned: the same on Linux, macOS and Windows)."""
    ctx = multiprocessing.get_context("spawn")
    logs, relayed = ctx.Queue(), threading.Event()
    ex = ProcessPoolExecutor(workers, mp_context=ctx, initializer=warm,
                             initargs=(model, threads, logs, _driver_levels()))
    relay = threading.Thread(target=_relay, args=(logs, relayed), name="bake-worker-logs",
                             daemon=True)
    relay.start()
    finished = False
    try:
        it = iter(chunks)
        pending: dict = {}
        while True:
            while len(pending) < inflight and (chunk := next(it, None)) is not None:
                pending[ex.submit(bake_chunk, chunk)] = chunk
            if not pending:
                finished = True
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                chunk = pending.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool as e:  # a worker died (killed, out of memory)
                    yield _failed(chunk, f"the worker process died ({e})")
    finally:
        if finished:
            ex.shutdown(wait=True)
        else:
            _stop_now(ex)
        relayed.set()  # the workers are gone: what they logged is in the queue
        relay.join(5)  # a worker killed mid-record must not hang the batch's exit


def _relay(logs, done: threading.Event) -> None:
    """Handle the workers' log records here, as this process's own (its handlers, its format),
    until `done` and the queue is empty."""
    while True:
        try:
            record = logs.get(timeout=0.1)
        except queue.Empty:
            if done.is_set():
                return
            continue
        except (EOFError, OSError):
            return
        logging.getLogger(record.name).handle(record)


def _stop_now(ex: ProcessPoolExecutor) -> None:
    """Stopped early (Ctrl-C, an error): queued chunks are dropped and the workers ended at
    once; the chunks they held were not recorded, so a resumed batch bakes them (the workers
    write nothing themselves). Waiting for them made a second Ctrl-C hang the batch."""
    manager = getattr(ex, "_executor_manager_thread", None)
    # CPython's exit hook (`concurrent.futures.process._python_exit`) writes to each pool's
    # wake-up pipe without the pool's lock; when a second Ctrl-C cut this function short, the
    # manager thread was still closing that pipe at exit ("Bad file descriptor", a traceback
    # after the stop, twice in CI). This pool is woken and ended here: off the hook's list first.
    from concurrent.futures import process
    if manager is not None:
        getattr(process, "_threads_wakeups", {}).pop(manager, None)
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join(5)
    if manager is not None:  # it sees its workers gone, closes its pipe and ends
        manager.join(5)


def ray_capacity() -> int:
    import ray
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def start_ray(address: str, num_cpus: int | None) -> bool:
    """Connect to Ray unless this process already has; True when this call started it.
    "auto": the cluster RAY_ADDRESS or `ray start` names, else a new local one of `num_cpus`."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'vasa-bridge[ray]'") from None
    if ray.is_initialized():
        return False
    quiet = dict(log_to_driver=False)
    if address == "auto":
        try:
            ray.init(address="auto", **quiet)
        except ConnectionError:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
    else:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, ValueError) as e:
            raise ConfigError(f"--ray {address!r}: cannot connect ({e}); expected auto, local, "
                              f"HOST:PORT of a running cluster or ray://HOST:PORT") from None
    return True


def on_ray(chunks: Iterable[list], inflight: int) -> Iterator[list]:
    """One Ray task per chunk on the cluster this process is connected to (`start_ray`); what
    a task logged is handled here, as this process's own, before its outcomes are yielded."""
    import ray
    task = ray.remote(num_cpus=1, max_retries=1)(_task)
    levels = _driver_levels()
    it = iter(chunks)
    pending: dict = {}
    try:
        while True:
            while len(pending) < inflight and (chunk := next(it, None)) is not None:
                pending[task.remote(levels, bake_chunk, chunk)] = chunk
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                chunk = pending.pop(ref)
                try:
                    outcomes, records = ray.get(ref)
                except ray.exceptions.RayError as e:
                    text = str(e).strip()
                    first = text.splitlines()[0] if text else type(e).__name__
                    yield _failed(chunk, f"the Ray task failed ({first})")
                    continue
                for record in records:  # a retried task's records: those of the try that ended
                    logging.getLogger(record.name).handle(record)
                yield outcomes
    finally:  # stopped early (Ctrl-C): the cluster need not finish what nobody will gather
        for ref in pending:
            ray.cancel(ref)
