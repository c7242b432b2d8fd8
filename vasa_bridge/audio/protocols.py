"""What the serve loop needs from audio: a source to read a stream's timeline from, and a pacer
that says when each sample position is due.

Positions are samples of the stream's own 16 kHz mono timeline, counted from its start.
Implementations: `sources.ArraySource` (a decoded file), `sources.ClipQueue` (clips queued by
`speak`), `sources.MicSource` (a capture device; also the pacer on its own clock) and
`sources.ClockPacer` (real time, for files and clips).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class AudioSource(Protocol):
    @property
    def busy(self) -> bool:
        """Queued speech is still to play (a clip queue); False for files and microphones."""
        ...

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) as float32 in [-1, 1]; silence where there is none. Reads are
        consecutive: `start` is the previous read's `end` (a microphone that overflowed may
        return fewer samples, the newest ones)."""
        ...


@runtime_checkable
class Pacer(Protocol):
    def start(self) -> None:
        """Position 0 is due now."""
        ...

    def wait_s(self, end: int) -> float:
        """Seconds until sample position `end` is due (<= 0: it is)."""
        ...

    def due(self, end: int) -> float:
        """The clock time (the runtime's clock) at which position `end` is (or was) due."""
        ...

    def capture_delay_s(self) -> float:
        """How long before it was due the sound was captured: a device's input latency (what
        a viewer's delay includes beyond ours); 0 for a clock."""
        ...
