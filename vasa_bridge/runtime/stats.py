"""What the serve loop counts and times, and the one timer every stage goes through."""

from __future__ import annotations

import collections
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

STAGES = ("motion", "model_ahead", "render", "publish")  # model_ahead: `Runtime._settle`


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
                                                    for k in STAGES})
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


def pct(values, q: float) -> float | None:
    """The q-quantile of `values` (nearest rank), rounded to 0.01; None when empty."""
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 2)


class Lap:
    s: float | None = None  # seconds the timed block took (None until it finished)


class StageTimer:
    """`with timer("render") as lap:` times a stage on the loop's clock into `stats.stage_ms`
    (`keep=False`: timed, not recorded — NPC streams). A block that raises records nothing."""

    def __init__(self, stats: Stats, clock: Callable[[], float]) -> None:
        self._ms = stats.stage_ms
        self._clock = clock

    @contextmanager
    def __call__(self, stage: str, keep: bool = True) -> Iterator[Lap]:
        lap = Lap()
        t0 = self._clock()
        yield lap
        lap.s = self._clock() - t0
        if keep:
            self._ms[stage].append(lap.s * 1000)
