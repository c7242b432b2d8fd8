"""`serve --mic --hear-ahead SECONDS`: the live face a few seconds behind the voice, with the
mouth of its words.

Live, the lips can only follow what the streaming phone layer hears within 120 ms (docs/model.md:
r 0.867 against the reference on real voices, 6 of 8 /p b m/ sealed). Whole phrases are heard
much better (their words recognised and aligned, as `bake` does: r 0.96). When the face may run
behind the voice (a stream with its own delay, a recording, a talk show host reading chat), the
capture is played `delay` late (`DelayLine`, both the loop's source and its pacer: one hop of
fresh sound in, one hop of `delay` old sound out, on the device's clock); the fresh sound is cut
into phrases at the speech gate's pauses (`Phrases`), and each phrase is heard on the runtime's
hearing thread (`Runtime.hear_piece`) while it waits its turn. A phrase whose words are known
before it plays has their mouth throughout; a longer one from where they arrive (`LateMouth`).
A phrase whose words are not trusted with the lips' seals gives the live phone layer its
recognised phones for its frames instead (`transcript.PhraseMouth`, `ModelEngine.hear_phrase`).
Sound and face stay together: both are published `delay` late. Not for the 150 ms budget of the
default live path: opt-in.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from .gate import SpeechGate
from .ringbuffer import RingBuffer
from .sources import RATE

log = logging.getLogger(__name__)

MAX_DELAY_S = 4.0  # the capture's ring holds 5 s; the delay line holds the rest
MAX_PHRASE_S = 8.0  # a phrase without a pause is cut here (heard in pieces of about this)
PRE_ROLL_S = 0.3  # sound before the gate opened that belongs to the phrase (its onset)
MAX_SPAN_S = 1.0  # the loop reads one output frame's span at a time: far less than this


class DelayLine:
    """A live capture (`MicSource`) played `delay_s` late. The loop reads it in order, span by
    span: each span of fresh sound goes to `on_fresh(samples, start)` and the span `delay_s`
    older comes back (silence before the capture began). Pacing, arrival times and the rest are
    the capture's own; `capture_delay_s` adds the delay, so latency figures count it."""

    def __init__(self, inner, delay_s: float,
                 on_fresh: Callable[[np.ndarray, int], None] | None = None) -> None:
        if not 0.0 < delay_s <= MAX_DELAY_S:
            raise ValueError(f"hear-ahead delay is {delay_s} s: expected more than 0 and at "
                             f"most {MAX_DELAY_S:g} s")
        self.inner = inner
        self.delay = int(round(delay_s * RATE))
        self.on_fresh = on_fresh
        # the fresh samples not yet played: the delay, and spans of up to MAX_SPAN_S beyond it
        self._line = RingBuffer(self.delay + int(MAX_SPAN_S * RATE))

    def read(self, start: int, end: int) -> np.ndarray:
        if start != self._line.total_written:
            raise ValueError(f"delay line read at {start}: expected the next span, at "
                             f"{self._line.total_written}")
        if end - start > MAX_SPAN_S * RATE:
            raise ValueError(f"delay line read of {end - start} samples: expected at most "
                             f"{MAX_SPAN_S:g} s, one output frame's span")
        fresh = self.inner.read(start, end)
        if self.on_fresh is not None:
            try:
                self.on_fresh(fresh, start)
            except Exception as e:  # noqa: BLE001 - hearing is extra: the sound plays on
                log.warning("hear-ahead: a phrase could not be queued for hearing (%s)", e)
        self._line.write(fresh)
        out = np.zeros(end - start, np.float32)  # silence before the capture began
        first = max(start - self.delay, 0)  # the line's read position, in fresh samples
        if end - self.delay > first:
            out[first - (start - self.delay):] = self._line.read(end - self.delay - first)
        return out

    def capture_delay_s(self) -> float:
        return self.inner.capture_delay_s() + self.delay / RATE

    def __getattr__(self, name):  # start, wait_s, due, ready, arrival_time, close, ...
        return getattr(self.inner, name)


class Phrases:
    """Cuts a live voice into phrases at the speech gate's pauses: fed each fresh span in order
    (`DelayLine.on_fresh`); when the gate closes (or a phrase reaches MAX_PHRASE_S) calls
    `on_phrase(samples, start)` with the phrase from PRE_ROLL_S before the gate opened."""

    def __init__(self, on_phrase: Callable[[np.ndarray, int], None]) -> None:
        self.on_phrase = on_phrase
        self.gate = SpeechGate()
        self._recent: list[tuple[int, np.ndarray]] = []  # spans kept for the pre-roll
        self._phrase: list[np.ndarray] = []
        self._length = 0  # samples in _phrase
        self._start = 0

    def __call__(self, samples: np.ndarray, start: int) -> None:
        event = self.gate.update(samples, len(samples) / RATE)
        if self.gate.speaking or event == "speech_end":
            if not self._phrase:  # the gate just opened: the onset before it belongs here
                roll = start - int(PRE_ROLL_S * RATE)
                kept = [(s, x) for s, x in self._recent if s + len(x) > roll]
                self._start = kept[0][0] if kept else start
                self._phrase = [x for _, x in kept]
                self._length = sum(len(x) for x in self._phrase)
            self._phrase.append(samples)
            self._length += len(samples)
            if event == "speech_end" or self._length >= MAX_PHRASE_S * RATE:
                self.on_phrase(np.concatenate(self._phrase), self._start)
                self._phrase = []
                self._recent = []
                return
        self._recent.append((start, samples))
        while self._recent and self._recent[0][0] + len(self._recent[0][1]) < \
                start - int(PRE_ROLL_S * RATE):
            self._recent.pop(0)
