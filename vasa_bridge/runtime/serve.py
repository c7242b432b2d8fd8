"""`vasa-bridge serve`: audio in, a living face out — motion, frames and sound over ZeroMQ.

One worker thread runs the loop on the media clock of the audio (a capture device's own clock,
or real time for files and network clips):

    for each output frame's span of audio:
        for each stream: audio -> speech gate -> engine -> motion frames (output fps)
            each frame: idle life under speech motion -> publish motion + its audio
        main face's newest frame, renderer free -> render (at the picture level) -> publish

Streams: the main face (`default`, fed by the microphone, a file, or clips) and any number of
clip-driven streams (game NPCs) created by the control channel's `speak`; NPC streams are
motion + audio only.

Overload (docs/runtime.md): motion and audio are published for every frame, always. The picture
is rendered for the newest motion frame whenever the loop has caught up (a loop that is always a
little late still renders every frame; one that is far behind skips pictures until it catches
up, but never goes `max_gap_s` without one), and `picture.PictureGovernor` steps the picture
down (smaller size, then fewer frames) while the loop is starved and back up when there is room.

Faults: a failure inside one stream (its gate or engine) resets that stream — fresh engine, its
queued clips dropped, idle motion for the audio already taken — counts it, and publishes a
`stream_reset` event; a renderer or sink failure skips that picture or that sink for the frame,
counted and published the same way. The other streams go on.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..audio.features import resample
from ..audio.sources import RATE, ArraySource, ClipQueue, ClockPacer, check_clip
from ..errors import BusyError, ConfigError, VasaError
from ..model.config import EMOTIONS  # the set the model was trained with (serve_cli reuses it)
from ..motion.frame import MotionFrame
from ..outputs.sink import FanOut
from ..protocol import wire
from ..transport.publisher import Publisher
from .engine import FpsAdapter, MotionEngine, PrebakedEngine
from .idle import IdleConfig, IdleLife
from .picture import PictureConfig, PictureGovernor, degraded_sizes
from .speech import SpeechGate, blend

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


@dataclass
class Stats:
    frames_published: int = 0  # pictures sent (main face)
    frames_late: int = 0  # skipped while the loop caught up (a newer frame was already due)
    frames_degraded: int = 0  # skipped by the picture level (render one frame in N)
    frames_failed: int = 0  # the renderer or stamp raised
    motion_published: int = 0  # motion messages, every stream
    audio_samples: int = 0  # audio samples published, every stream
    latency_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=500))
    stage_ms: dict = field(default_factory=lambda: {k: collections.deque(maxlen=500)
                                                    for k in ("motion", "render", "publish")})
    frame_times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))
    loop_lag_ms: collections.deque = field(  # per hop: done - audio due (behind real time)
        default_factory=lambda: collections.deque(maxlen=100000))
    failures: collections.Counter = field(default_factory=collections.Counter)  # by stage
    refused_clips: int = 0  # speak calls refused (bad samples, busy)
    av_delay_ms: collections.deque = field(  # main face: its sound arrived -> its frame out
        default_factory=lambda: collections.deque(maxlen=500))

    @property
    def frames_dropped(self) -> int:
        """Main motion frames with no picture, for any reason."""
        return self.frames_late + self.frames_degraded + self.frames_failed


def _pct(values, q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 2)


class StreamState:
    """One face's audio timeline, engine, gate and idle life."""

    def __init__(self, stream: str, source: Any, engine: MotionEngine, fps: float,
                 seed: int) -> None:
        self.id = stream
        self.source = source
        self.engine = engine
        self.adapter = FpsAdapter(engine.fps, fps)
        self.gate = SpeechGate()
        self.idle = IdleLife(IdleConfig(fps=fps), seed=seed)
        self.position = 0  # samples of this stream's timeline read so far
        self.out_index = 0  # output frames published
        self.audio = collections.deque()  # (start position, samples) waiting for their frame
        self.audio_start = 0  # timeline position of self.audio's first sample
        self.quiet_s = 0.0
        self.resting = False  # NPC engine paused in silence: idle life only
        self.failures = 0  # resets after a failure inside this stream
        self.last_event_t = -1e9  # when a failure event was last published (clock seconds)
        self.mouths: collections.deque = collections.deque()  # MouthOverlay per clip with text

    def mouth(self, shapes: np.ndarray, index: int) -> np.ndarray:
        """Output frame `index`'s shapes with the articulation of a clip's transcript, if one is
        playing (overlays are dropped once played)."""
        while self.mouths and self.mouths[0].end <= index:
            self.mouths.popleft()
        for overlay in tuple(self.mouths):  # a copy: the control thread may append meanwhile
            shapes = overlay.apply(shapes, index)
        return shapes

    def take_audio(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) of the timeline from the buffered audio (consumed)."""
        buf = np.concatenate([a for _, a in self.audio]) if self.audio else np.zeros(0, np.float32)
        offset = start - self.audio_start
        out = buf[max(offset, 0):end - self.audio_start]
        rest = buf[end - self.audio_start:]
        self.audio.clear()
        if len(rest):
            self.audio.append((end, rest))
        self.audio_start = end
        return out


class Runtime:
    """The serve loop and the control handler. `run()` blocks until `stop()`; `close()` joins.
    `prepare(image)` makes a portrait state for `load_portrait`; it is called as
    `prepare(image, framing)` when a request names a framing ("bust" or "head")."""

    def __init__(self, config: ServeConfig, publisher: Publisher, *,
                 engine_factory: Callable[[], MotionEngine], main_source: Any = None,
                 pacer: Any = None, renderer: Any = None, portrait: Any = None,
                 prepare: Callable[..., Any] | None = None, stamp: Callable | None = None,
                 sinks: Sequence[Any] = (), frame_sinks: Sequence[Any] = (),
                 clip_baker: Any = None, prepare_at: Callable[[Any, int], Any] | None = None,
                 portrait_source: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        """`clip_baker` (optional): an object with `fps` and `bake(audio_16k, emotion, seed) ->
        list[MotionFrame]`; NPC streams then bake each clip whole when it arrives instead of
        running live windows (see PrebakedEngine).

        `prepare_at(source, width) -> state` (optional) prepares the portrait `source` (what
        `prepare` was given; `portrait_source` for the initial portrait) at a smaller frame
        width, for degraded pictures; without it the picture steps down in frame share only.
        `clock` and `sleep` (default: waiting on the stop event) let tests run the loop on a
        fake clock."""
        self.config = config
        self.publisher = publisher
        self._engine_factory = engine_factory
        self._clock = clock
        self._sleep = sleep or self._wait
        self.pacer = pacer or ClockPacer(clock)
        self.renderer = renderer
        self._portrait = portrait
        self._prepare = prepare
        self._prepare_at = prepare_at
        self._portrait_source = portrait_source
        self._portrait_framing: str | None = None  # load_portrait's framing (None: serve's)
        self._scaled: dict[int, Any] = {}  # frame width -> the current portrait at that width
        self._scaling: threading.Thread | None = None
        self._pending_portrait: Any = None
        self.stamp = stamp
        self.clip_baker = clip_baker
        self.sinks = FanOut(sinks)
        self.frame_sinks = FanOut(frame_sinks)
        self.stats = Stats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conditions = {"emotion": config.emotion, "gaze": (0.0, 0.0), "head_motion": 1.0}
        self._pending_conditions: dict[str, dict] = {}
        self._bakes = 0  # clips baked so far: the next bake's seed
        self._reserved: dict[str, int] = collections.Counter()  # samples being prepared
        self._aligner: Any = None  # data.align.Aligner, made on the first speak with text
        self._aligner_lock = threading.Lock()
        main = main_source if main_source is not None else ClipQueue()
        # Where a file ends (stop_after_source); microphones and clips never end.
        self.source_end = len(main.audio) if isinstance(main, ArraySource) and len(main.audio) \
            else None
        self.streams: dict[str, StreamState] = {
            config.stream: self._new_stream(config.stream, main, seed=0)}
        self._cpu0 = (time.process_time(), time.monotonic())
        full = portrait.size[0] if portrait is not None and hasattr(portrait, "size") else None
        self.governor = self._new_governor(full)
        self._newest: tuple[MotionFrame, int, int] | None = None  # (motion, index, count)
        self._last_picture_t: float | None = None
        self._last_picture_index: int | None = None
        self._render_s: float | None = None  # this hop's render time, for the governor
        self._picture_width = full or 0
        self.started = False

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _new_governor(self, full: int | None) -> PictureGovernor:
        """Picture levels for a portrait `full` pixels wide: smaller sizes only when they can be
        prepared (`prepare_at`), then fewer frames."""
        c = self.config
        sizes = degraded_sizes(full) if full and self._prepare_at is not None else ()
        return PictureGovernor(PictureConfig(fps=c.fps, behind_s=c.max_behind_s, sizes=sizes),
                               full)

    # -- streams -------------------------------------------------------------------------------

    def _new_stream(self, stream: str, source: Any, seed: int,
                    engine: MotionEngine | None = None) -> StreamState:
        engine = engine or self._engine_factory()
        engine.set_conditions(emotion=self._conditions["emotion"])
        self.publisher.add_stream(stream)
        return StreamState(stream, source, engine, self.config.fps, seed)

    # -- control handler (called from the control thread) ------------------------------------

    def picture_status(self) -> dict:
        """The true picture rate over the last second and why it is below the target."""
        c = self.config
        now = self._clock()
        fps = float(sum(1 for t in list(self.stats.frame_times) if t > now - 1.0))
        reasons = []
        if not c.frames or self.renderer is None:
            reasons.append("frames off")
        elif self._portrait is None:
            reasons.append("no portrait")
        else:
            if self.governor.index > 0:
                reasons.append(self.governor.reason or "cpu-starved")
                reasons.append(self.governor.describe())
            if self._last_picture_t is None or now - self._last_picture_t > 1.0:
                reasons.append("stalled")
            elif fps < 0.9 * c.fps / self.governor.level.every and "cpu-starved" not in reasons:
                reasons.append("catching up")
        return {"fps": fps, "target_fps": c.fps, "size": self._picture_width or None,
                "every": self.governor.level.every, "level": self.governor.index,
                "reason": ", ".join(reasons) or None}

    def status(self) -> dict:
        s = self.stats
        cpu_t, wall_t = time.process_time(), time.monotonic()
        cpu = (cpu_t - self._cpu0[0]) / max(wall_t - self._cpu0[1], 1e-9)
        self._cpu0 = (cpu_t, wall_t)
        picture = self.picture_status()
        with self._lock:
            queued = {sid: round(getattr(st.source, "queued_samples", 0) / RATE, 2)
                      for sid, st in self.streams.items()}
        return {
            "fps": picture["fps"], "picture": picture, "streams": sorted(self.streams),
            "latency_ms": {"p50": _pct(s.latency_ms, 0.5), "p95": _pct(s.latency_ms, 0.95)},
            "av_delay_ms": _pct(s.av_delay_ms, 0.5),  # mic Sync Offset (docs/streaming.md)
            "stage_ms": {k: _pct(v, 0.5) for k, v in s.stage_ms.items()},
            "drops": {"frames": s.frames_dropped, "late": s.frames_late,
                      "degraded": s.frames_degraded, "failed": s.frames_failed,
                      "publisher": dict(self.publisher.stats.dropped)},
            "failures": dict(s.failures), "refused_clips": s.refused_clips,
            "queued_s": queued,
            "published": {"frames": s.frames_published, "motion": s.motion_published,
                          "audio_samples": s.audio_samples},
            "cpu": round(cpu, 3), "conditions": dict(self._conditions),
            "portrait": self._portrait is not None,
            "provenance": {"watermark": str(getattr(self.stamp, "payload", "")) or None,
                           "label": bool(getattr(getattr(self.stamp, "config", None), "label",
                                                 False))},
        }

    def set(self, emotion: str | None = None, gaze: list | None = None,
            head_motion: float | None = None, stream: str | None = None) -> dict:
        if emotion is not None and emotion not in EMOTIONS:
            raise ConfigError(f"emotion is {emotion!r}: expected one of {list(EMOTIONS)}")
        values = {k: v for k, v in (("emotion", emotion), ("gaze", gaze),
                                    ("head_motion", head_motion)) if v is not None}
        with self._lock:
            self._conditions.update(values)
            for sid in ([stream] if stream else list(self.streams)):
                self._pending_conditions.setdefault(sid, {}).update(values)
        return dict(self._conditions)

    def speak(self, audio: np.ndarray, rate: int, stream: str, text: str | None = None,
              language: str = "en") -> dict:
        """Queue a clip for `stream` (an NPC stream is created on first use). Every entry point
        (control, web, --audio-in) comes through here: the samples are checked (finite, not
        absurdly loud; clipped to [-1, 1]), the queues capped (BusyError names the limit), and
        the slow work — resampling, aligning a transcript, baking an NPC line — is done on the
        caller's thread, never holding the loop's lock.

        With `text` (the words spoken), their forced alignment drives the mouth while the clip
        plays (model/transcript.py); a transcript that does not fit, or a language without an
        aligner, leaves the mouth to the audio, logs one warning and says so in the reply's
        `text`."""
        try:
            wire.check_stream(stream)
            audio = check_clip(audio, rate)
            needed = int(np.ceil(len(audio) * RATE / int(rate)))
            with self._lock:
                self._reserve(stream, needed)
        except VasaError:
            self.stats.refused_clips += 1
            raise
        try:
            return self._speak(audio, int(rate), stream, text, language)
        finally:
            with self._lock:
                self._reserved[stream] -= needed
                if self._reserved[stream] <= 0:
                    del self._reserved[stream]

    def _reserve(self, stream: str, samples: int) -> None:
        """Count `samples` against the caps, or raise BusyError naming the one exceeded."""
        c = self.config
        state = self.streams.get(stream)
        mine = (getattr(state.source, "queued_samples", 0) if state else 0) + \
            self._reserved.get(stream, 0)
        total = sum(getattr(st.source, "queued_samples", 0) for st in self.streams.values()) + \
            sum(self._reserved.values())
        if (mine + samples) / RATE > c.max_queued_s:
            raise BusyError(f"stream {stream!r} has {mine / RATE:.1f} s of audio queued; this "
                            f"clip ({samples / RATE:.1f} s) would pass the limit of "
                            f"{c.max_queued_s:g} s per stream: wait for it to play")
        if (total + samples) / RATE > c.max_total_queued_s:
            raise BusyError(f"{total / RATE:.1f} s of audio is queued across all streams; this "
                            f"clip ({samples / RATE:.1f} s) would pass the limit of "
                            f"{c.max_total_queued_s:g} s in total: wait for it to play")
        self._reserved[stream] += samples

    def _speak(self, audio: np.ndarray, rate: int, stream: str, text: str | None,
               language: str) -> dict:
        audio = np.clip(resample(audio, rate, RATE), -1.0, 1.0)  # resampling may overshoot a bit
        timeline, outcome = self._align(audio, text, language) if text is not None else \
            (None, None)
        frames = None
        if self.clip_baker is not None and stream != self.config.stream:
            hop = RATE / self.clip_baker.fps  # pad to whole frames: motion and sound stay aligned
            padded = int(np.ceil(len(audio) / hop - 1e-9) * hop + 0.5)
            audio = np.concatenate([audio, np.zeros(padded - len(audio), np.float32)])
            with self._lock:
                self._bakes += 1
                seed = self._bakes
            frames = self.clip_baker.bake(audio, self._conditions["emotion"], seed)
        with self._lock:
            state = self.streams.get(stream)
            if state is None:
                npcs = len(self.streams) - 1
                if npcs >= self.config.max_streams:
                    raise BusyError(f"there are already {npcs} NPC streams: the limit is "
                                    f"{self.config.max_streams}")
                engine = PrebakedEngine(self.clip_baker.fps) if frames is not None else None
                source = ClipQueue()
                state = self._new_stream(stream, source, seed=len(self.streams),
                                         engine=engine)
                state.out_index = self._main_index()  # an NPC joins the main face's timeline
                state.position = int(round(state.out_index * RATE / self.config.fps))
                state.audio_start = state.position
                source.position = state.position
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
            if timeline is not None:
                from ..model.transcript import MouthOverlay
                state.mouths.append(MouthOverlay.at(timeline, first_sample, len(audio), RATE,
                                                    self.config.fps))
        start = (self._main_index() / self.config.fps) + ahead
        reply = {"stream": stream, "pts": int(start * 1e9), "duration": len(audio) / RATE}
        if outcome is not None:
            reply["text"] = outcome.as_dict()
        return reply

    def _align(self, audio: np.ndarray, text: str, language: str):
        """Forced alignment of a clip's transcript -> (phone timeline or None, TextOutcome).
        On the control thread: ~2 % of the clip's duration once the decoder is loaded."""
        from ..errors import DataError
        from ..model.transcript import TranscriptConfig, align_text, has_aligner
        config = TranscriptConfig(language=language)
        with self._aligner_lock:
            if self._aligner is None and has_aligner(language):
                from ..data.align import Aligner
                try:
                    self._aligner = Aligner()
                except DataError:
                    pass  # pocketsphinx missing: align_text says so
            timeline, outcome = align_text(audio, text, config, self._aligner)
        if outcome.used:
            log.info("speak: %s", outcome.message)
        else:
            log.warning("speak: %s", outcome.message)
        return timeline, outcome

    def load_portrait(self, path: str | None = None, image: bytes | None = None,
                      framing: str | None = None) -> dict:
        if self._prepare is None:
            raise ConfigError("this runtime renders no frames (--no-frames): no portrait to load")
        if image is not None:
            import io
            from PIL import Image
            try:
                source = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
            except Exception as e:
                raise ConfigError(f"image bytes are not a readable PNG/JPEG/WebP ({e})") from None
        else:
            source = path
        # slow (~0.3 s): off the loop (the control's worker)
        state = self._prepare(source) if framing is None else self._prepare(source, framing)
        with self._lock:
            self._pending_portrait = (state, source, framing)
        return {"size": list(getattr(state, "size", (0, 0))),
                "warnings": list(getattr(getattr(state, "portrait", None), "warnings", []))}

    def stop(self) -> dict:
        self._stop.set()
        return {}

    # -- the loop ------------------------------------------------------------------------------

    def _main_index(self) -> int:
        return self.streams[self.config.stream].out_index

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
            end = int(round((hop + 1) * RATE / c.fps))
            wait = self.pacer.wait_s(end)
            if wait > 0:
                self._sleep(min(wait, 0.05))
                continue
            arrived = self.pacer.due(end)
            t0 = self._clock()
            self._apply_pending()
            with self._lock:
                streams = list(self.streams.values())
            for state in streams:
                self._step_isolated(state, end)
            next_end = int(round((hop + 2) * RATE / c.fps))
            self._picture(arrived, end, caught_up=self.pacer.wait_s(next_end) > 0)
            done = self._clock()
            self.stats.loop_lag_ms.append((done - arrived) * 1000)
            self._govern(done, done - arrived, done - t0)
            self.publisher.hello(pts=int(hop * 1e9 / c.fps))
            hop += 1
            if c.stop_after_source and self.source_end is not None and \
                    end > self.source_end + c.tail_s * RATE:
                break
        return self.stats

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending_conditions = self._pending_conditions, {}
            portrait, self._pending_portrait = self._pending_portrait, None
        for sid, values in pending.items():
            if sid in self.streams:
                try:
                    self.streams[sid].engine.set_conditions(
                        emotion=values.get("emotion"), gaze=values.get("gaze"),
                        head_motion=values.get("head_motion"))
                except Exception as e:
                    self._failed(self.streams[sid], "engine", e)
        if portrait is not None:
            state, source, framing = portrait
            self._portrait, self._portrait_source = state, source
            self._portrait_framing = framing
            self._scaled = {}  # degraded sizes are prepared again from the new portrait
            full = state.size[0] if hasattr(state, "size") else None
            if full != self.governor.full_size:  # other sizes to step through
                self.governor = self._new_governor(full)
            self.publisher.event("portrait_loaded", pts=self._pts(self._main_index()),
                                 stream=self.config.stream,
                                 data={"size": list(getattr(state, "size", (0, 0)))})

    def _pts(self, index: int) -> int:
        return int(round(index * 1e9 / self.config.fps))

    # -- one stream, one hop -------------------------------------------------------------------

    def _step_isolated(self, state: StreamState, end: int) -> None:
        """`_step`, with a failure inside the stream contained: reset it, count it, say it."""
        try:
            self._step(state, end)
        except Exception as e:
            self._failed(state, "engine", e)
            try:
                self._reset(state, end)
            except Exception as e2:  # the engine cannot even be rebuilt: try again next hop
                log.error("stream %r could not be reset: %s", state.id, e2)

    def _step(self, state: StreamState, end: int) -> None:
        hop_s = (end - state.position) / RATE
        chunk = state.source.read(state.position, end)
        state.position = end
        state.audio.append((end - len(chunk), chunk))
        event = state.gate.update(chunk, hop_s)
        if event is not None:
            self.publisher.event(event, pts=self._pts(state.out_index), stream=state.id)
        t0 = self._clock()
        frames = self._motion(state, chunk, hop_s)
        t_motion = self._clock() - t0
        if state.id == self.config.stream:
            self.stats.stage_ms["motion"].append(t_motion * 1000)
        for f in frames:
            self._publish_motion(state, f)

    def _publish_motion(self, state: StreamState, f: MotionFrame | None) -> None:
        """Output frame `state.out_index`: idle life under `f` (None: idle only) and its audio."""
        c = self.config
        j = state.out_index
        a = int(round(j * RATE / c.fps))
        b = int(round((j + 1) * RATE / c.fps))
        audio = state.take_audio(a, b)
        idle = state.idle.frame(j)
        motion = blend(idle, f, state.gate.weight) if f is not None else idle
        pts = self._pts(j)
        # A clip with its words: the mouth is the transcript's throughout the clip, not eased
        # in and out with the speech gate like the rest of the face.
        shapes = state.mouth(motion.blendshapes, j) if state.mouths else motion.blendshapes
        motion = MotionFrame(shapes, motion.head_rotation, motion.head_translation, pts / 1e9)
        t1 = self._clock()
        self.publisher.motion(motion, pts=pts, stream=state.id,
                              extra={"speaking": state.gate.speaking})
        if len(audio):
            self.publisher.audio(audio, pts=pts, rate=RATE, stream=state.id)
        self.stats.motion_published += 1
        self.stats.audio_samples += len(audio)
        state.out_index += 1
        if state.id == c.stream:
            for e in self.sinks.send(motion):
                self._failed(state, "sink", e)
            self.stats.stage_ms["publish"].append((self._clock() - t1) * 1000)
            if self._newest is not None and self._pictures_on:  # older: it gets no picture
                self._no_picture("late")
            self._newest = (motion, j, pts)

    def _reset(self, state: StreamState, end: int) -> None:
        """After a failure: the audio already taken is published with idle motion (nothing of
        the timeline is lost), the stream's queued clips are dropped (the one that broke it among
        them), and a fresh engine, adapter and gate start from here."""
        c = self.config
        if state.position < end:  # the source itself failed: silence for this hop
            state.audio.append((state.position, np.zeros(end - state.position, np.float32)))
            state.position = end
        while int(round((state.out_index + 1) * RATE / c.fps)) <= state.position:
            self._publish_motion(state, None)
        if isinstance(state.source, ClipQueue):
            state.source.clear()
        state.mouths.clear()
        prebaked = isinstance(state.engine, PrebakedEngine)
        state.engine = PrebakedEngine(state.engine.fps) if prebaked else self._engine_factory()
        state.engine.set_conditions(emotion=self._conditions["emotion"])
        state.adapter = FpsAdapter(state.engine.fps, c.fps)
        state.gate = SpeechGate()
        state.quiet_s, state.resting = 0.0, False

    def _failed(self, state: StreamState, stage: str, error: BaseException) -> None:
        """Count a failure inside `state`'s `stage`; publish a `stream_reset` (or, for a
        renderer or sink, `stream_error`) event — at most one a second per stream."""
        self.stats.failures[stage] += 1
        state.failures += 1
        message = f"{stage} failed: {type(error).__name__}: {error}"[:300]
        if state.failures <= 3:
            log.warning("stream %r: %s", state.id, message)
        now = self._clock()
        if now - state.last_event_t >= 1.0:
            state.last_event_t = now
            name = "stream_reset" if stage == "engine" else "stream_error"
            self.publisher.event(name, pts=self._pts(state.out_index), stream=state.id,
                                 message=message.splitlines()[0] if message else None,
                                 data={"stage": stage, "count": self.stats.failures[stage]})

    def _motion(self, state: StreamState, chunk: np.ndarray, hop_s: float) -> list:
        """Engine frames at the output rate; for a resting NPC, None per frame (idle only)."""
        is_npc = state.id != self.config.stream
        if isinstance(state.engine, PrebakedEngine):  # clips baked on arrival: no model here
            return state.adapter.push(state.engine.push(chunk))
        if is_npc:
            state.quiet_s = 0.0 if (state.source.busy or state.gate.speaking) else \
                state.quiet_s + hop_s
            if state.quiet_s > self.config.npc_idle_after_s and not state.resting:
                state.resting = True
            if state.resting and (state.source.busy or state.gate.speaking):
                state.resting = False  # speech again: a fresh engine, aligned to now
                state.engine = self._engine_factory()
                state.engine.set_conditions(emotion=self._conditions["emotion"])
                state.adapter = FpsAdapter(state.engine.fps, self.config.fps)
            if state.resting:
                return [None]
        frames = state.adapter.push(state.engine.push(chunk))
        return frames

    # -- the picture ---------------------------------------------------------------------------

    @property
    def _pictures_on(self) -> bool:
        return bool(self.config.frames and self.renderer is not None and
                    self._portrait is not None)

    def _no_picture(self, why: str) -> None:
        if why == "late":
            self.stats.frames_late += 1
        elif why == "degraded":
            self.stats.frames_degraded += 1
        else:
            self.stats.frames_failed += 1

    def _picture(self, arrived: float, end: int, caught_up: bool) -> None:
        """Render the main face's newest motion frame if the loop has caught up (or the last
        picture is getting old), at the governor's level."""
        c = self.config
        newest, self._newest = self._newest, None
        self._render_s = None
        if newest is None:
            return
        motion, index, pts = newest
        if not self._pictures_on:
            self.stats.latency_ms.append((self._clock() - arrived) * 1000)
            return
        now = self._clock()
        level = self.governor.level  # stays at the full level when degrading is off
        if self._last_picture_index is not None and index - self._last_picture_index < \
                level.every:
            self._no_picture("degraded")
            return
        overdue = self._last_picture_t is None or now - self._last_picture_t >= c.max_gap_s
        if not caught_up and not overdue:
            self._no_picture("late")  # a newer frame is already due: render that one instead
            return
        portrait = self._portrait_for(level.size)
        t0 = self._clock()
        try:
            image = self.renderer.render(portrait, motion)
            if self.stamp is not None:
                image = self.stamp(image)
            if image.shape[2] == 3:
                image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)],
                                       2)
        except Exception as e:
            self._no_picture("failed")
            self._failed(self.streams[c.stream], "render", e)
            return
        t1 = self._clock()
        self.publisher.frame(image, pts=pts, stream=c.stream)
        # The frame shows sound that arrived (end - pts) before this hop's audio did.
        self.stats.av_delay_ms.append((self._clock() - arrived + end / RATE - pts / 1e9) * 1000)
        full = getattr(self._portrait, "size", None)
        if len(self.frame_sinks):
            for e in self.frame_sinks.send(self._at_size(image, full), pts):
                self._failed(self.streams[c.stream], "sink", e)
        now = self._clock()
        self._render_s = t1 - t0
        self._picture_width = image.shape[1]
        self._last_picture_t = now
        self._last_picture_index = index
        self.stats.stage_ms["render"].append((t1 - t0) * 1000)
        self.stats.latency_ms.append((now - arrived) * 1000)
        self.stats.frame_times.append(now)
        self.stats.frames_published += 1

    @staticmethod
    def _at_size(image: np.ndarray, size: Any) -> np.ndarray:
        """Frame sinks (a webcam) keep one size: a degraded picture is scaled back up."""
        if size is None or (image.shape[1], image.shape[0]) == tuple(size):
            return image
        import cv2
        return cv2.resize(image, tuple(size), interpolation=cv2.INTER_LINEAR)

    def _portrait_for(self, width: int | None) -> Any:
        """The current portrait at frame width `width` (None: its own); while a smaller one is
        being prepared (on a helper thread, ~0.1 s), the full one."""
        if width is None or self._prepare_at is None or self._portrait_source is None:
            return self._portrait
        if width in self._scaled:
            return self._scaled[width]
        if self._scaling is None or not self._scaling.is_alive():
            source, portrait = self._portrait_source, self._portrait
            framing = self._portrait_framing

            def prepare():
                try:
                    state = self._prepare_at(source, width) if framing is None else \
                        self._prepare_at(source, width, framing)
                except Exception as e:  # no degraded size, then: the level still skips frames
                    log.warning("could not prepare the portrait at %d px: %s", width, e)
                    state = portrait
                if self._portrait is portrait:  # not replaced meanwhile
                    self._scaled[width] = state
            self._scaling = threading.Thread(target=prepare, name="vasa-rescale", daemon=True)
            self._scaling.start()
        return self._portrait

    def _govern(self, now: float, lag_s: float, work_s: float) -> None:
        if not self.config.degrade or not self._pictures_on:
            return
        before = self.governor.index
        if self.governor.observe(now, lag_s, work_s, self._render_s, self._picture_width):
            level = self.governor.level
            size = level.size or self.governor.full_size
            self.publisher.event(
                "picture_level", pts=self._pts(self._main_index()), stream=self.config.stream,
                message=("down: " if self.governor.index > before else "up: ") +
                self.governor.describe(),
                data={"level": self.governor.index, "size": size, "every": level.every,
                      "reason": self.governor.reason or None})
            log.info("picture level %d (%s)", self.governor.index, self.governor.describe())
