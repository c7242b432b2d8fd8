"""The faces a serve loop drives: the main face and NPC voices.

A stream owns one face's audio timeline, speech gate, motion engine (with its fps adapter), idle
life and resting rule. Per hop the loop calls `read(end)` (its audio up to sample `end`), then
`step(chunk)` (gate, then engine frames at the output rate), then `frame(motion)` once per frame
(idle life under the speech motion, with that frame's audio). Pure: no clock, no publishing —
the loop publishes what these return (serve.py).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..audio.gate import SpeechGate
from ..audio.protocols import AudioSource
from ..audio.sources import RATE, ClipQueue
from ..motion.frame import MotionFrame
from .engine import FpsAdapter, MotionEngine, PrebakedEngine
from .idle import IdleConfig, IdleLife
from .speech import blend
from .timebase import Timebase


@dataclass(frozen=True)
class Output:
    """One output frame of a stream, ready to publish."""

    index: int  # output frame index on the shared timeline
    pts: int  # Timebase.pts(index); motion.time is the same instant in seconds
    motion: MotionFrame
    audio: np.ndarray  # the samples this frame spans (float32; empty if none arrived)
    speaking: bool  # the speech gate, when the frame was made


class Stream:
    """One face's timeline. `new_engine()` makes a fresh engine with the current conditions."""

    main = False  # the main face: sinks, pictures and the stage timings follow it

    def __init__(self, stream: str, source: AudioSource, timebase: Timebase,
                 new_engine: Callable[[], MotionEngine], *, seed: int, start: int = 0) -> None:
        self.id = stream
        self.source = source
        self.timebase = timebase
        self._new_engine = new_engine
        self.engine = new_engine()
        self.adapter = FpsAdapter(self.engine.fps, timebase.fps)
        self.gate = SpeechGate()
        self.idle = IdleLife(IdleConfig(fps=timebase.fps), seed=seed)
        self.index = start  # the next output frame (frames published so far, from 0)
        self.position = timebase.sample(start)  # samples of the timeline read so far
        self.hop_s = 0.0  # the last read's span, s
        self.events: list[str] = []  # gate events not yet published
        self.mouths: collections.deque = collections.deque()  # MouthOverlay per clip with text
        self.failures = 0  # resets after a failure inside this stream
        self.last_event_t = -1e9  # when a failure event was last published (clock seconds)
        self._audio: collections.deque = collections.deque()  # samples waiting for their frame
        self._audio_start = self.position  # timeline position of self._audio's first sample

    @property
    def pts(self) -> int:
        """The next output frame's pts: where this stream is on the timeline."""
        return self.timebase.pts(self.index)

    def read(self, end: int) -> np.ndarray:
        """The source's audio up to sample `end`, also kept for the frames that span it."""
        self.hop_s = (end - self.position) / RATE
        chunk = self.source.read(self.position, end)
        self.position = end
        self._keep(end - len(chunk), chunk)
        return chunk

    def step(self, chunk: np.ndarray) -> list[MotionFrame | None]:
        """The speech gate, then motion at the output rate (None: idle life only that frame).
        Gate events wait in `events`."""
        event = self.gate.update(chunk, self.hop_s)
        if event is not None:
            self.events.append(event)
        return self._motion(chunk)

    def _motion(self, chunk: np.ndarray) -> list[MotionFrame | None]:
        return self.adapter.push(self.engine.push(chunk))

    def settle(self) -> None:
        """The engine's work that no frame out yet needed (`MotionEngine.settle`)."""
        self.engine.settle()

    def frame(self, speech: MotionFrame | None) -> Output:
        """The next output frame: idle life under `speech` (eased in and out by the gate), the
        transcript's mouth while a clip with words plays, and the frame's audio."""
        j = self.index
        audio = self._take(self.timebase.sample(j), self.timebase.sample(j + 1))
        idle = self.idle.frame(j)
        motion = blend(idle, speech, self.gate.weight) if speech is not None else idle
        # A clip with its words: the mouth is the transcript's throughout the clip, not eased
        # in and out with the speech gate like the rest of the face.
        shapes = self._mouth(motion.blendshapes, j) if self.mouths else motion.blendshapes
        pts = self.timebase.pts(j)
        self.index += 1
        return Output(j, pts, MotionFrame(shapes, motion.head_rotation, motion.head_translation,
                                          pts / 1e9), audio, self.gate.speaking)

    def flush(self, end: int) -> list[Output]:
        """After a failure: the audio already taken up to `end` (silence if the source itself
        failed), as idle frames — nothing of the timeline is lost."""
        if self.position < end:
            self._keep(self.position, np.zeros(end - self.position, np.float32))
            self.position = end
        out = []
        while self.timebase.sample(self.index + 1) <= self.position:
            out.append(self.frame(None))
        return out

    def restart(self) -> None:
        """After a failure (and `flush`): the queued clips are dropped (the one that broke it
        among them), and a fresh engine, adapter and gate start from here."""
        if isinstance(self.source, ClipQueue):
            self.source.clear()
        self.mouths.clear()
        self._renew_engine()
        self.gate = SpeechGate()

    def _renew_engine(self) -> None:
        self.engine = self._new_engine()
        self.adapter = FpsAdapter(self.engine.fps, self.timebase.fps)

    def _mouth(self, shapes: np.ndarray, index: int) -> np.ndarray:
        while self.mouths and self.mouths[0].end <= index:  # played: dropped
            self.mouths.popleft()
        for overlay in tuple(self.mouths):  # a copy: the control thread may append meanwhile
            shapes = overlay.apply(shapes, index)
        return shapes

    def _keep(self, start: int, samples: np.ndarray) -> None:
        self._audio.append((start, samples))

    def _take(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) of the timeline from the kept audio (consumed)."""
        buf = np.concatenate([a for _, a in self._audio]) if self._audio else \
            np.zeros(0, np.float32)
        offset = start - self._audio_start
        out = buf[max(offset, 0):end - self._audio_start]
        rest = buf[end - self._audio_start:]
        self._audio.clear()
        if len(rest):
            self._audio.append((end, rest))
        self._audio_start = end
        return out


class MainFace(Stream):
    """The face on screen: microphone, file or clips; its engine never rests."""

    main = True


class NpcVoice(Stream):
    """A game character's voice, fed by `speak` clips. A live engine rests after `rest_after_s`
    of silence (idle life only, no model work) and starts fresh, aligned to now, when speech
    comes back; a baked one (PrebakedEngine: lines baked on arrival) never needs to."""

    def __init__(self, stream: str, source: ClipQueue, timebase: Timebase,
                 new_engine: Callable[[], MotionEngine], *, seed: int, start: int,
                 rest_after_s: float) -> None:
        super().__init__(stream, source, timebase, new_engine, seed=seed, start=start)
        source.position = self.position  # the clip queue counts on the shared timeline
        self.rest_after_s = rest_after_s
        self.quiet_s = 0.0
        self.resting = False

    @property
    def baked(self) -> bool:
        return isinstance(self.engine, PrebakedEngine)

    def _motion(self, chunk: np.ndarray) -> list[MotionFrame | None]:
        if self.baked:
            return super()._motion(chunk)
        talking = self.source.busy or self.gate.speaking
        self.quiet_s = 0.0 if talking else self.quiet_s + self.hop_s
        if self.quiet_s > self.rest_after_s:
            self.resting = True
        if self.resting and talking:
            self.resting = False
            self._renew_engine()
        if self.resting:
            return [None]
        return super()._motion(chunk)

    def restart(self) -> None:
        super().restart()
        self.quiet_s, self.resting = 0.0, False
