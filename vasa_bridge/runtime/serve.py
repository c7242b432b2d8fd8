"""`vasa-bridge serve`: audio in, a living face out — motion, frames and sound over ZeroMQ.

One worker thread runs the loop on the media clock of the audio (a capture device's own clock,
or real time for files and network clips):

    for each output frame's span of audio:
        for each stream: audio -> speech gate -> engine -> motion frames (output fps)
            each frame: idle life under speech motion -> publish motion + its audio
                        -> (main face, not behind) render -> stamp -> publish frame

Streams: the main face (`default`, fed by the microphone, a file, or clips) and any number of
clip-driven streams (game NPCs) created by the control channel's `speak`; NPC streams are
motion + audio only. When compute falls behind, rendered frames are dropped and counted — never
motion, never audio.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..audio.sources import RATE, ArraySource, ClipQueue, ClockPacer
from ..errors import ConfigError
from ..model.config import EMOTIONS  # the set the model was trained with (serve_cli reuses it)
from ..motion.frame import MotionFrame
from ..protocol import wire
from ..transport.publisher import Publisher
from .engine import FpsAdapter, MotionEngine, PrebakedEngine
from .idle import IdleConfig, IdleLife
from .speech import SpeechGate, blend

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ServeConfig:
    fps: float = 25.0  # output frames per second (motion and pictures)
    frames: bool = True  # render and publish pictures for the main face
    alpha: bool = False  # RGBA with the person cut out (else opaque)
    stream: str = wire.DEFAULT_STREAM  # the main face's stream id
    emotion: str = "neutral"  # initial emotion condition
    max_behind_s: float = 0.12  # drop rendered frames when the loop is this far behind
    stop_after_source: bool = False  # stop once the file source has played (plus tail_s)
    tail_s: float = 0.6  # idle after the file, before stopping
    max_streams: int = 64  # NPC streams at most
    npc_idle_after_s: float = 1.0  # an NPC stream's engine rests after this much silence

    def __post_init__(self) -> None:
        if not 1 <= self.fps <= 120:
            raise ConfigError(f"fps is {self.fps}: expected 1..120 (25, 30 or 60 as a rule)")
        if self.emotion not in EMOTIONS:
            raise ConfigError(f"emotion is {self.emotion!r}: expected one of {list(EMOTIONS)}")
        wire.check_stream(self.stream)


@dataclass
class Stats:
    frames_published: int = 0  # pictures sent (main face)
    frames_dropped: int = 0  # pictures skipped because compute fell behind
    motion_published: int = 0  # motion messages, every stream
    audio_samples: int = 0  # audio samples published, every stream
    latency_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=500))
    stage_ms: dict = field(default_factory=lambda: {k: collections.deque(maxlen=500)
                                                    for k in ("motion", "render", "publish")})
    frame_times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))
    loop_lag_ms: collections.deque = field(  # per hop: done - audio due (behind real time)
        default_factory=lambda: collections.deque(maxlen=100000))


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
                 clip_baker: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`clip_baker` (optional): an object with `fps` and `bake(audio_16k, emotion, seed) ->
        list[MotionFrame]`; NPC streams then bake each clip whole when it arrives instead of
        running live windows (see PrebakedEngine)."""
        self.config = config
        self.publisher = publisher
        self._engine_factory = engine_factory
        self._clock = clock
        self.pacer = pacer or ClockPacer(clock)
        self.renderer = renderer
        self._portrait = portrait
        self._prepare = prepare
        self._pending_portrait: Any = None
        self.stamp = stamp
        self.clip_baker = clip_baker
        self.sinks = list(sinks)
        self.frame_sinks = list(frame_sinks)
        self.stats = Stats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conditions = {"emotion": config.emotion, "gaze": (0.0, 0.0), "head_motion": 1.0}
        self._pending_conditions: dict[str, dict] = {}
        self._bakes = 0  # clips baked so far: the next bake's seed
        main = main_source if main_source is not None else ClipQueue()
        # Where a file ends (stop_after_source); microphones and clips never end.
        self.source_end = len(main.audio) if isinstance(main, ArraySource) and len(main.audio) \
            else None
        self.streams: dict[str, StreamState] = {
            config.stream: self._new_stream(config.stream, main, seed=0)}
        self._cpu0 = (time.process_time(), time.monotonic())
        self.started = False

    # -- streams -------------------------------------------------------------------------------

    def _new_stream(self, stream: str, source: Any, seed: int,
                    engine: MotionEngine | None = None) -> StreamState:
        engine = engine or self._engine_factory()
        engine.set_conditions(emotion=self._conditions["emotion"])
        self.publisher.add_stream(stream)
        return StreamState(stream, source, engine, self.config.fps, seed)

    # -- control handler (called from the control thread) ------------------------------------

    def status(self) -> dict:
        s = self.stats
        times = list(s.frame_times)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and \
            times[-1] > times[0] else 0.0
        cpu_t, wall_t = time.process_time(), time.monotonic()
        cpu = (cpu_t - self._cpu0[0]) / max(wall_t - self._cpu0[1], 1e-9)
        self._cpu0 = (cpu_t, wall_t)
        return {
            "fps": round(fps, 2), "streams": sorted(self.streams),
            "latency_ms": {"p50": _pct(s.latency_ms, 0.5), "p95": _pct(s.latency_ms, 0.95)},
            "stage_ms": {k: _pct(v, 0.5) for k, v in s.stage_ms.items()},
            "drops": {"frames": s.frames_dropped,
                      "publisher": dict(self.publisher.stats.dropped)},
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

    def speak(self, audio: np.ndarray, rate: int, stream: str) -> dict:
        from scipy.signal import resample_poly
        if rate != RATE:
            g = np.gcd(int(rate), RATE)
            audio = resample_poly(audio, RATE // g, int(rate) // g).astype(np.float32)
        frames = None
        if self.clip_baker is not None and stream != self.config.stream:
            hop = RATE / self.clip_baker.fps  # pad to whole frames: motion and sound stay aligned
            padded = int(np.ceil(len(audio) / hop - 1e-9) * hop + 0.5)
            audio = np.concatenate([audio, np.zeros(padded - len(audio), np.float32)])
            self._bakes += 1
            seed = self._bakes
            frames = self.clip_baker.bake(audio, self._conditions["emotion"], seed)
        with self._lock:
            state = self.streams.get(stream)
            if state is None:
                npcs = len(self.streams) - 1
                if npcs >= self.config.max_streams:
                    raise ConfigError(f"there are already {npcs} NPC streams: the limit is "
                                      f"{self.config.max_streams}")
                engine = PrebakedEngine(self.clip_baker.fps) if frames is not None else None
                state = self._new_stream(stream, ClipQueue(), seed=len(self.streams),
                                         engine=engine)
                state.out_index = self._main_index()  # an NPC joins the main face's timeline
                state.position = int(round(state.out_index * RATE / self.config.fps))
                state.audio_start = state.position
                self.streams[stream] = state
            if not isinstance(state.source, ClipQueue):
                raise ConfigError(f"stream {stream!r} is fed by a microphone or file: speak to "
                                  f"another stream id")
            if frames is not None:
                state.engine.enqueue(frames[:int(round(len(audio) * state.engine.fps / RATE))])
            ahead = state.source.add(audio)
        start = (self._main_index() / self.config.fps) + ahead
        return {"stream": stream, "pts": int(start * 1e9), "duration": len(audio) / RATE}

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
        # slow (~0.3 s): on the control thread, not the loop
        state = self._prepare(source) if framing is None else self._prepare(source, framing)
        with self._lock:
            self._pending_portrait = state
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
                self._stop.wait(min(wait, 0.05))
                continue
            arrived = self.pacer.due(end)
            self._apply_pending()
            with self._lock:
                streams = list(self.streams.values())
            for state in streams:
                self._step(state, end, arrived)
            self.stats.loop_lag_ms.append((self._clock() - arrived) * 1000)
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
                self.streams[sid].engine.set_conditions(
                    emotion=values.get("emotion"), gaze=values.get("gaze"),
                    head_motion=values.get("head_motion"))
        if portrait is not None:
            self._portrait = portrait
            self.publisher.event("portrait_loaded", pts=self._pts(self._main_index()),
                                 stream=self.config.stream,
                                 data={"size": list(getattr(portrait, "size", (0, 0)))})

    def _pts(self, index: int) -> int:
        return int(round(index * 1e9 / self.config.fps))

    def _step(self, state: StreamState, end: int, arrived: float) -> None:
        c = self.config
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
        for f in frames:
            j = state.out_index
            a = int(round(j * RATE / c.fps))
            b = int(round((j + 1) * RATE / c.fps))
            audio = state.take_audio(a, b)
            idle = state.idle.frame(j)
            motion = blend(idle, f, state.gate.weight) if f is not None else idle
            pts = self._pts(j)
            motion = MotionFrame(motion.blendshapes, motion.head_rotation,
                                 motion.head_translation, pts / 1e9)
            t1 = self._clock()
            self.publisher.motion(motion, pts=pts, stream=state.id,
                                  extra={"speaking": state.gate.speaking})
            if len(audio):
                self.publisher.audio(audio, pts=pts, rate=RATE, stream=state.id)
            for sink in self.sinks if state.id == c.stream else ():
                sink.send(motion)
            self.stats.motion_published += 1
            self.stats.audio_samples += len(audio)
            t_publish = self._clock() - t1
            if state.id == c.stream:
                self._frame(motion, pts, arrived)
                self.stats.stage_ms["motion"].append(t_motion * 1000)
                self.stats.stage_ms["publish"].append(t_publish * 1000)
            state.out_index += 1

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

    def _frame(self, motion: MotionFrame, pts: int, arrived: float) -> None:
        c = self.config
        if not c.frames or self.renderer is None or self._portrait is None:
            self.stats.latency_ms.append((self._clock() - arrived) * 1000)
            return
        behind = self._clock() - arrived
        if behind > c.max_behind_s:
            self.stats.frames_dropped += 1
            return
        t0 = self._clock()
        image = self.renderer.render(self._portrait, motion)
        if self.stamp is not None:
            image = self.stamp(image)
        if image.shape[2] == 3:
            image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], 2)
        t1 = self._clock()
        self.publisher.frame(image, pts=pts, stream=c.stream)
        for sink in self.frame_sinks:
            sink.send(image, pts)
        now = self._clock()
        self.stats.stage_ms["render"].append((t1 - t0) * 1000)
        self.stats.latency_ms.append((now - arrived) * 1000)
        self.stats.frame_times.append(now)
        self.stats.frames_published += 1

