"""The serve loop's one time source: output frame k <-> audio sample <-> pts.

Every stream shares the main face's timeline: output frame k covers samples
[sample(k), sample(k + 1)) and is published at pts(k) nanoseconds of media time. Motion, its
audio, events, pictures and the heartbeat all take their pts from here, and a published
`MotionFrame.time` is that pts in seconds (what a subscriber's `Message.motion_frame()` reads
back). Pure: no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..audio.sources import RATE


@dataclass(frozen=True)
class Timebase:
    fps: float  # output frames per second

    def sample(self, index: int) -> int:
        """The first audio sample of output frame `index` (16 kHz)."""
        return int(round(index * RATE / self.fps))

    def pts(self, index: int) -> int:
        """Output frame `index`'s media time, ns."""
        return int(round(index * 1e9 / self.fps))

    def seconds(self, index: int) -> float:
        """Output frame `index`'s media time, s."""
        return index / self.fps
