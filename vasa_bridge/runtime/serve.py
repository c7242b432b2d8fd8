"""`vasa-bridge serve`: audio in, a living face out — motion, frames and sound over ZeroMQ.

One worker thread runs the loop on the media clock of the audio (a capture device's own clock,
or real time for files and network clips). Per output frame's span of audio (`Runtime._hop`):

    for each stream: audio -> speech gate -> motion -> blend with idle life -> publish
    main face's newest frame, if the loop has room -> render (at the picture level) -> publish

Streams (streams.py): the main face (`default`, fed by the microphone, a file, or clips) and any
number of clip-driven NPC voices created by the control channel's `speak` (commands.py); NPC
streams are motion + audio only. Every pts comes from one `Timebase` (timebase.py).

Overload (docs/runtime.md): motion and audio are published for every frame, always; the picture
(pictures.py) is rendered for the newest motion frame whenever the loop has caught up, and
`governor.PictureGovernor` steps it down (smaller size, then fewer frames) while the loop is
starved and back up when there is room.

Faults: a failure inside one stream (its source, gate or engine) resets that stream — the audio
already taken published with idle motion, its queued clips dropped, a fresh engine — counts it,
and publishes a `stream_reset` event; a renderer or sink failure skips that picture or that sink
for the frame, counted and published as `stream_error`. The other streams go on.
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..audio.protocols import AudioSource, Pacer
from ..audio.sources import RATE, ArraySource, ClipQueue, ClockPacer
from ..errors import BusyError, ConfigError
from ..model.config import EMOTIONS  # the set the model was trained with (cli/serve.py reuses it)
from ..motion.frame import MotionFrame
from ..outputs.sink import FanOut, MotionSink
from ..protocol import wire
from .engine import MotionEngine, PrebakedEngine
from .pictures import PictureSettings, PictureStage
from .protocols import ClipBaker, FrameSink, MotionPublisher, Portrait, Renderer, \
    Stamp
from .stats import Stats, StageTimer
from .streams import MainFace, NpcVoice, Output, Stream
from .timebase import Timebase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    fps: float = 25.0  # output frames per second (motion and pictures)
    frames: bool = True  # render and publish pictures for the main face
    alpha: bool = False  # RGBA with the person cut out (else opaque)
    stream: str = wire.DEFAULT_STREAM  # the main face's stream id
    emotion: str = "neutral"  # initial emotion condition
    max_behind_s: float = 0.12  # the loop is "behind" (picture level steps down) this late
    max_gap_s: float = 0.25  # even when behind, render a picture at least this often
    degrade: bool = True  # step the picture down (size, then frame share) when starved
    stop_after_source: bool = False  # stop once the file source has played (plus tail_s)
    tail_s: float = 0.6  # idle after the file, before stopping
    max_streams: int = 64  # NPC streams at most
    npc_idle_after_s: float = 1.0  # an NPC stream's engine rests after this much silence
    max_queued_s: float = 240.0  # audio queued for one stream at most (speak answers busy)
    max_total_queued_s: float = 600.0  # audio queued across all streams at most

    def __post_init__(self) -> None:
        if not 1 <= self.fps <= 120:
            raise ConfigError(f"fps is {self.fps}: expected 1..120 (25, 30 or 60 as a rule)")
        if self.emotion not in EMOTIONS:
            raise ConfigError(f"emotion is {self.emotion!r}: expected one of {list(EMOTIONS)}")
        wire.check_stream(self.stream)
        if not 0 < self.max_queued_s <= self.max_total_queued_s:
            raise ConfigError(f"max_queued_s is {self.max_queued_s} and max_total_queued_s "
                              f"{self.max_total_queued_s}: expected 0 < per stream <= total")


class Hearing:
    """One daemon thread that works out the mouths of clips as they play (`Runtime.queue_clip(
    heard=)`), in the order they were queued; it ends after IDLE_S without work and starts
    again with the next clip. A call that fails leaves that clip the live engine's mouth."""

    IDLE_S = 5.0

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def close(self) -> None:
        """The loop stopped: what is left is not heard, and a call cut short says nothing."""
        self._closed = True

    def submit(self, late, call: Callable[[], Any], played: Callable[[], bool]) -> None:
        """`late.fill(call())` on the hearing thread (`late`: a transcript.LateMouth), unless
        the clip has `played` to its end by then (a starved machine falling behind)."""
        with self._lock:
            self._jobs.put((late, call, played))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vasa-hearing",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                late, call, played = self._jobs.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            if self._closed or played():
                late.fill(None)
                continue
            t0 = time.monotonic()
            try:
                timeline = call()
            except Exception as e:  # noqa: BLE001 - the clip plays on with the live mouth
                if not self._closed:  # (at exit the phone worker is closed under the call)
                    log.warning("a clip's words were not heard (%s): its mouth is the live one",
                                e)
                timeline = None
            try:
                late.fill(timeline)
            except Exception as e:  # noqa: BLE001 - the thread goes on to the next clip
                log.warning("a clip's heard mouth could not be laid over it (%r): its mouth is "
                            "the live one", e)
                late.done = True  # the loop waits for no more of it
                continue
            log.info("the words of %.1f s of speech heard in %.2f s: %s", late.seconds,
                     time.monotonic() - t0, _what_was_heard(timeline))


def _what_was_heard(timeline) -> str:
    """The hearing thread's log line's end for what a clip's hearing gave."""
    from ..model.phones import HeardPhones
    if isinstance(timeline, HeardPhones):
        return "none trusted with the lips, its phones steer the live mouth"
    if timeline is not None:
        return "their mouth from now on"
    return "none trusted with the lips, the live mouth stays"


class Runtime:
    """The serve loop. `run()` blocks until `stop()`; the control commands that steer it are
    `commands.Commands(runtime)`. `prepare(image)` makes a portrait state for `load_portrait`; it
    is called as `prepare(image, framing)` when a request names a framing ("bust" or "head")."""

    def __init__(self, config: ServeConfig, publisher: MotionPublisher, *,
                 engine_factory: Callable[[], MotionEngine],
                 main_source: AudioSource | None = None, pacer: Pacer | None = None,
                 renderer: Renderer | None = None, portrait: Portrait | None = None,
                 prepare: Callable[..., Portrait] | None = None, stamp: Stamp | None = None,
                 sinks: Sequence[MotionSink] = (), frame_sinks: Sequence[FrameSink] = (),
                 clip_baker: ClipBaker | None = None,
                 prepare_at: Callable[..., Portrait] | None = None,
                 portrait_source: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        """`clip_baker` (optional): NPC streams then bake each clip whole when it arrives instead
        of running live windows (see PrebakedEngine).

        `prepare_at(source, width) -> state` (optional) prepares the portrait `source` (what
        `prepare` was given; `portrait_source` for the initial portrait) at a smaller frame
        width, for degraded pictures; without it the picture steps down in frame share only.
        `clock` and `sleep` (default: waiting on the stop event) let tests run the loop on a
        fake clock."""
        self.config = config
        self.publisher = publisher
        self.timebase = Timebase(config.fps)
        self.engine_factory = engine_factory
        self.clip_baker = clip_baker
        self.prepare = prepare
        self.pacer: Pacer = pacer or ClockPacer(clock)
        self.sinks = FanOut(sinks)
        self._clock = clock
        self._sleep = sleep or self._stop_wait
        self.stats = Stats()
        self.timer = StageTimer(self.stats, clock)
        self.lock = threading.Lock()  # streams, conditions and what waits for the next hop
        self._stop = threading.Event()
        self._conditions = {"emotion": config.emotion, "gaze": (0.0, 0.0), "head_motion": 1.0}
        self._pending_conditions: dict[str, dict] = {}
        self._stream_conditions: dict[str, dict] = {}  # values set for one stream only
        self._pending_portrait: tuple | None = None
        self._reserved: collections.Counter = collections.Counter()  # samples being prepared
        self._hearing = Hearing()  # clips' words heard while they play (`queue_clip(heard=)`)
        main = main_source if main_source is not None else ClipQueue()
        # Where a file ends (stop_after_source); microphones and clips never end.
        self.source_end = len(main.audio) if isinstance(main, ArraySource) and len(main.audio) \
            else None
        self.main = MainFace(config.stream, main, self.timebase, self._engines(baked=False),
                             seed=0)
        publisher.add_stream(config.stream)
        self.streams: dict[str, Stream] = {config.stream: self.main}
        self.pictures = PictureStage(
            PictureSettings(config.fps, config.frames, config.max_behind_s, config.max_gap_s,
                            config.degrade), publisher, self.main,
            renderer=renderer, portrait=portrait, stamp=stamp, prepare_at=prepare_at,
            portrait_source=portrait_source, frame_sinks=frame_sinks, stats=self.stats,
            timer=self.timer, clock=clock, fault=lambda stage, e: self._fault(self.main, stage, e))
        self.started = False

    @property
    def governor(self):
        return self.pictures.governor

    def picture_status(self) -> dict:
        return self.pictures.status()

    def _engines(self, baked: bool) -> Callable[[], MotionEngine]:
        """A stream's engine maker: a fresh engine (baked: clips baked on arrival) with the
        emotion currently set."""
        def new() -> MotionEngine:
            engine = PrebakedEngine(self.clip_baker.fps) if baked else self.engine_factory()
            engine.set_conditions(emotion=self._conditions["emotion"])
            return engine
        return new

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> Stats:
        """Run until stop() (or `stop` is set, or the file ended with stop_after_source)."""
        if stop is not None:
            threading.Thread(target=lambda: (stop.wait(), self._stop.set()), daemon=True).start()
        c = self.config
        self.pacer.start()
        self.started = True
        self.publisher.hello(force=True)
        hop = 0
        while not self._stop.is_set():
            wait = self.pacer.wait_s(self.timebase.sample(hop + 1))
            if wait > 0:
                self._sleep(min(wait, 0.05))
                continue
            self._hop(hop)
            hop += 1
            if c.stop_after_source and self.source_end is not None and \
                    self.timebase.sample(hop) > self.source_end + c.tail_s * RATE:
                break
        self._hearing.close()
        return self.stats

    def stop(self) -> None:
        self._stop.set()

    def _stop_wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _hop(self, hop: int) -> None:
        """Output frame `hop`'s span of audio through every stream, then the main face's
        picture; the loop's lag feeds the picture governor."""
        end = self.timebase.sample(hop + 1)
        arrived = self.pacer.due(end)
        t0 = self._clock()
        self._apply_pending()  # conditions and a portrait set since the last hop
        with self.lock:
            streams = list(self.streams.values())
        for stream in streams:
            self._advance(stream, end)  # audio -> gate -> motion -> blend -> publish
        caught_up = self.pacer.wait_s(self.timebase.sample(hop + 2)) > 0
        heard = arrived - self.pacer.capture_delay_s()  # in the room, before the device
        self.pictures.render(arrived, end, caught_up, heard)  # render -> publish
        for stream in streams:
            self._settle(stream)  # the model's work for later frames, after the picture
        done = self._clock()
        self.stats.loop_lag_ms.append((done - arrived) * 1000)
        self.pictures.govern(done, done - arrived, done - t0)
        self.publisher.hello(pts=self.timebase.pts(hop))

    def _advance(self, stream: Stream, end: int) -> None:
        """One stream's audio up to sample `end`. A failure inside it resets it, and only it."""
        try:
            chunk = stream.read(end)  # audio
            with self.timer("motion", keep=stream.main):
                speech = stream.step(chunk)  # gate -> motion
            self._say(stream)
            for f in speech:
                self._publish(stream, stream.frame(f))  # blend (idle life under speech)
        except Exception as e:
            self._say(stream)
            self._fault(stream, "engine", e)
            self._reset(stream, end)

    def _settle(self, stream: Stream) -> None:
        """Work on the stream's audio that no frame has needed yet (the motion model's, with the
        phone layer's hold), off the sound-to-picture path; a failure resets the stream."""
        try:
            with self.timer("model_ahead", keep=stream.main):
                stream.settle()
        except Exception as e:
            self._fault(stream, "engine", e)
            self._reset(stream, stream.position)

    def _publish(self, stream: Stream, out: Output) -> None:
        """One output frame: motion, its audio, and for the main face its sinks and picture."""
        with self.timer("publish", keep=stream.main):
            self.publisher.motion(out.motion, pts=out.pts, stream=stream.id,
                                  extra={"speaking": out.speaking})
            if len(out.audio):
                self.publisher.audio(out.audio, pts=out.pts, rate=RATE, stream=stream.id)
            self.stats.motion_published += 1
            self.stats.audio_samples += len(out.audio)
            if stream.main:
                self._to_sinks(out.motion)
        if stream.main:
            self.pictures.offer(out)  # the newest main frame: the one a picture may show

    def _to_sinks(self, motion: MotionFrame) -> None:
        for e in self.sinks.send(motion):
            self._fault(self.main, "sink", e)

    # -- faults --------------------------------------------------------------------------------

    def _say(self, stream: Stream) -> None:
        """The stream's speech gate events, at its place on the timeline."""
        events, stream.events = stream.events, []
        for name in events:
            self.publisher.event(name, pts=stream.pts, stream=stream.id)

    def _reset(self, stream: Stream, end: int) -> None:
        try:
            for out in stream.flush(end):
                self._publish(stream, out)
            stream.restart()
        except Exception as e:  # the engine cannot even be rebuilt: try again next hop
            log.error("stream %r could not be reset: %s", stream.id, e)

    def _fault(self, stream: Stream, stage: str, error: BaseException) -> None:
        """Count a failure inside `stream`'s `stage`; publish a `stream_reset` (or, for a
        renderer or sink, `stream_error`) event — at most one a second per stream."""
        self.stats.failures[stage] += 1
        stream.failures += 1
        message = f"{stage} failed: {type(error).__name__}: {error}"[:300]
        if stream.failures <= 3:
            log.warning("stream %r: %s", stream.id, message)
        now = self._clock()
        if now - stream.last_event_t >= 1.0:
            stream.last_event_t = now
            name = "stream_reset" if stage == "engine" else "stream_error"
            self.publisher.event(name, pts=stream.pts, stream=stream.id,
                                 message=message.splitlines()[0] if message else None,
                                 data={"stage": stage, "count": self.stats.failures[stage]})

    # -- steering (commands.py, from the control thread) -----------------------------------

    @property
    def conditions(self) -> dict:
        with self.lock:
            return dict(self._conditions)

    def set_conditions(self, values: dict, stream: str | None = None) -> dict:
        """Checked condition values, applied before the next hop: for `stream` alone, or (None)
        for every stream. The main face's values (`conditions`, in `status`) are also the
        defaults of streams made from now on; an NPC stream's own values change only it.
        Returns the values in force for `stream` (None: the main face's). A stream that is not
        running is refused (an NPC stream starts with its first `speak`): its values would be
        dropped unseen."""
        with self.lock:
            if stream is not None and stream not in self.streams:
                raise ConfigError(f"stream {stream!r} is not running: expected one of "
                                  f"{sorted(self.streams)} (an NPC stream starts with its "
                                  f"first speak)")
            if stream is None or stream == self.main.id:
                self._conditions.update(values)
            if stream is None:
                for own in self._stream_conditions.values():
                    for key in values:
                        own.pop(key, None)
            elif stream != self.main.id:
                self._stream_conditions.setdefault(stream, {}).update(values)
            for sid in ([stream] if stream else list(self.streams)):
                self._pending_conditions.setdefault(sid, {}).update(values)
            return {**self._conditions, **self._stream_conditions.get(stream, {})}

    def swap_portrait(self, state: Portrait, source: Any, framing: str | None) -> None:
        """A prepared portrait, shown from the next hop on."""
        with self.lock:
            self._pending_portrait = (state, source, framing)

    def _apply_pending(self) -> None:
        with self.lock:
            pending, self._pending_conditions = self._pending_conditions, {}
            portrait, self._pending_portrait = self._pending_portrait, None
        for sid, values in pending.items():
            if sid in self.streams:
                try:
                    self.streams[sid].engine.set_conditions(
                        emotion=values.get("emotion"), gaze=values.get("gaze"),
                        head_motion=values.get("head_motion"))
                except Exception as e:
                    self._fault(self.streams[sid], "engine", e)
        if portrait is not None:
            self.pictures.swap_portrait(*portrait)

    def hear_file(self, heard: Callable[[np.ndarray], Any]) -> int:
        """The main face's audio known whole (a file: `ArraySource`) is heard while it plays,
        as a clip is (`queue_clip(heard=)`). Returns the number of pieces."""
        source = self.main.source
        if not isinstance(source, ArraySource) or not len(source.audio):
            return 0
        with self.lock:
            return self._hear(self.main, source.audio, 0, heard)

    def hear_piece(self, audio: np.ndarray, first_sample: int,
                   heard: Callable[[np.ndarray], Any]) -> int:
        """A piece of the main face's sound that plays from `first_sample` of the timeline (a
        phrase of `serve --mic --hear-ahead`, audio/ahead.py), heard as a clip is; `heard` may
        also give its recognised phones (`phones.HeardPhones`: `ClipBaker.hear_phrase`), which
        then steer the main engine's mouth over its frames (`ModelEngine.hear_phrase`)."""
        from ..model.transcript import PhraseMouth

        def on_phones(overlay):  # on the hearing thread: the engine the loop runs now
            hear = getattr(self.main.engine, "hear_phrase", None)
            if hear is not None:
                hear(overlay)

        with self.lock:
            return self._hear(self.main, audio, first_sample, heard,
                              lambda *at: PhraseMouth(*at, on_phones))

    def _hear(self, state: Stream, audio: np.ndarray, first_sample: int,
              heard: Callable[[np.ndarray], Any], late_mouth=None) -> int:
        """`audio` (at `first_sample` of `state`'s timeline) heard in pieces cut at pauses
        (`phones.pieces_at_pauses`: about 10 s each, so one long clip does not hold the phone
        worker from NPC lines and transcripts for long), in order, on the hearing thread; each
        piece's words give the mouth of its frames not yet played (`transcript.LateMouth`).
        Under `self.lock`. Returns the number of pieces."""
        from ..model.phones import pieces_at_pauses
        from ..model.transcript import LateMouth
        pieces = pieces_at_pauses(audio)
        for a, b in pieces:
            late = (late_mouth or LateMouth)(first_sample + a, b - a, RATE, self.config.fps)
            state.mouths.append(late)
            self._hearing.submit(late, functools.partial(heard, audio[a:b]),
                                 lambda end=late.end: state.index >= end)
        return len(pieces)

    def queued_s(self) -> dict[str, float]:
        """Seconds of audio queued per stream."""
        with self.lock:
            return {sid: round(getattr(st.source, "queued_samples", 0) / RATE, 2)
                    for sid, st in self.streams.items()}

    def reserve(self, stream: str, samples: int) -> None:
        """Count `samples` about to be queued on `stream` against the caps (until `release`),
        or raise BusyError naming the one exceeded."""
        c = self.config
        with self.lock:
            state = self.streams.get(stream)
            mine = (getattr(state.source, "queued_samples", 0) if state else 0) + \
                self._reserved.get(stream, 0)
            total = sum(getattr(st.source, "queued_samples", 0)
                        for st in self.streams.values()) + sum(self._reserved.values())
            if (mine + samples) / RATE > c.max_queued_s:
                raise BusyError(f"stream {stream!r} has {mine / RATE:.1f} s of audio queued; "
                                f"this clip ({samples / RATE:.1f} s) would pass the limit of "
                                f"{c.max_queued_s:g} s per stream: wait for it to play")
            if (total + samples) / RATE > c.max_total_queued_s:
                raise BusyError(f"{total / RATE:.1f} s of audio is queued across all streams; "
                                f"this clip ({samples / RATE:.1f} s) would pass the limit of "
                                f"{c.max_total_queued_s:g} s in total: wait for it to play")
            self._reserved[stream] += samples

    def release(self, stream: str, samples: int) -> None:
        with self.lock:
            self._reserved[stream] -= samples
            if self._reserved[stream] <= 0:
                del self._reserved[stream]

    def queue_clip(self, stream: str, audio: np.ndarray, frames: list | None = None,
                   phones: Any = None, unspoken: tuple = (),
                   heard: Callable[[np.ndarray], Any] | None = None) -> float:
        """Queue a 16 kHz clip on `stream` (an NPC voice is created on first use, joining the
        main face's timeline), with its baked motion `frames` and its transcript's phone
        timeline `phones` if any (`unspoken`: the clip's stretches of speech the transcript has
        no words for, `TextOutcome.unspoken`). `heard` (without `phones`): a slow call giving
        the phone timeline of a piece of the clip's samples, or None (`ClipBaker.hear_words`);
        it runs on the hearing thread while the clip plays, and its mouth takes over the frames
        not yet played (`_hear`).
        Returns when the clip starts, in seconds of media time."""
        c = self.config
        with self.lock:
            state = self.streams.get(stream)
            if state is None:
                npcs = len(self.streams) - 1
                if npcs >= c.max_streams:
                    raise BusyError(f"there are already {npcs} NPC streams: the limit is "
                                    f"{c.max_streams}")
                state = NpcVoice(stream, ClipQueue(), self.timebase,
                                 self._engines(baked=frames is not None),
                                 seed=len(self.streams), start=self.main.index,
                                 rest_after_s=c.npc_idle_after_s)
                self.publisher.add_stream(stream)
                self.streams[stream] = state
            if not isinstance(state.source, ClipQueue):
                raise ConfigError(f"stream {stream!r} is fed by a microphone or file: speak to "
                                  f"another stream id")
            if frames is not None:
                if not isinstance(state.engine, PrebakedEngine):
                    raise ConfigError(f"stream {stream!r} runs a live engine: its clips are not "
                                      f"baked")
                state.engine.enqueue(frames[:int(round(len(audio) * state.engine.fps / RATE))])
            ahead, first_sample = state.source.add_timed(audio)
            if phones is not None:
                from ..model.transcript import MouthOverlay
                state.mouths.append(MouthOverlay.at(phones, first_sample, len(audio), RATE,
                                                    c.fps, unspoken))
            elif heard is not None:
                self._hear(state, audio, first_sample, heard)
        return self.timebase.seconds(self.main.index) + ahead
