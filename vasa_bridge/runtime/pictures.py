"""The main face's picture: render its newest motion frame when the loop has room, at the level
`governor.PictureGovernor` chooses, and publish it (docs/runtime.md, Overload).

The loop offers every main-face frame (`offer`) and, once per hop, asks for a picture
(`render`). Only the newest offered frame can get one: an older one was already late. A loop
that is far behind skips pictures until it catches up, but never goes `max_gap_s` without one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from ..audio.sources import RATE
from ..outputs.sink import FanOut
from .governor import PictureConfig, PictureGovernor, degraded_sizes
from .protocols import FrameSink, MotionPublisher, Renderer, Stamp
from .stats import Stats, StageTimer
from .streams import Output, Stream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PictureSettings:
    fps: float  # target picture rate
    frames: bool  # pictures at all (serve --no-frames: False)
    max_behind_s: float  # the loop is "behind" (the level steps down) this late
    max_gap_s: float  # even when behind, a picture at least this often
    degrade: bool  # step the level down when starved


class PictureStage:
    """Renders, stamps and publishes the main face's pictures; `fault(stage, error)` reports a
    renderer or frame-sink failure (the picture, or that sink, is skipped for the frame)."""

    def __init__(self, settings: PictureSettings, publisher: MotionPublisher, main: Stream, *,
                 renderer: Renderer | None, portrait: Any, stamp: Stamp | None,
                 prepare_at: Callable[..., Any] | None, portrait_source: Any,
                 frame_sinks: Sequence[FrameSink], stats: Stats, timer: StageTimer,
                 clock: Callable[[], float], fault: Callable[[str, BaseException], None]) -> None:
        self.settings = settings
        self.publisher = publisher
        self.main = main
        self.renderer = renderer
        self.portrait = portrait
        self.stamp = stamp
        self.frame_sinks = FanOut(frame_sinks)
        self._prepare_at = prepare_at
        self._source = portrait_source
        self._framing: str | None = None  # load_portrait's framing (None: serve's)
        self._scaled: dict[int, Any] = {}  # frame width -> the current portrait at that width
        self._scaling: threading.Thread | None = None
        self.stats = stats
        self._timer = timer
        self._clock = clock
        self._fault = fault
        full = portrait.size[0] if portrait is not None and hasattr(portrait, "size") else None
        self.governor = self._new_governor(full)
        self._newest: Output | None = None
        self._last_t: float | None = None  # when the last picture left
        self._last_index: int | None = None  # its frame index
        self._render_s: float | None = None  # this hop's render time, for the governor
        self._width = full or 0  # the last picture's width

    @property
    def on(self) -> bool:
        return bool(self.settings.frames and self.renderer is not None and
                    self.portrait is not None)

    def _new_governor(self, full: int | None) -> PictureGovernor:
        """Picture levels for a portrait `full` pixels wide: smaller sizes only when they can be
        prepared (`prepare_at`), then fewer frames."""
        s = self.settings
        sizes = degraded_sizes(full) if full and self._prepare_at is not None else ()
        return PictureGovernor(PictureConfig(fps=s.fps, behind_s=s.max_behind_s, sizes=sizes),
                               full)

    def swap_portrait(self, state: Any, source: Any, framing: str | None) -> None:
        """A portrait from `load_portrait` (between hops)."""
        self.portrait, self._source, self._framing = state, source, framing
        self._scaled = {}  # degraded sizes are prepared again from the new portrait
        full = state.size[0] if hasattr(state, "size") else None
        if full != self.governor.full_size:  # other sizes to step through
            self.governor = self._new_governor(full)
        self.publisher.event("portrait_loaded", pts=self.main.pts, stream=self.main.id,
                             data={"size": list(getattr(state, "size", (0, 0)))})

    def offer(self, out: Output) -> None:
        """The main face's newest frame; the one it replaces gets no picture (late)."""
        if self._newest is not None and self.on:
            self.stats.frames_late += 1
        self._newest = out

    def render(self, arrived: float, end: int, caught_up: bool,
               heard: float | None = None) -> None:
        """Picture the newest offered frame if the loop has caught up (or the last picture is
        getting old), at the governor's level. `arrived`: when this hop's audio (up to sample
        `end`) was due; `heard`: when that sound was captured (a microphone's input latency
        earlier), the start of the delay a viewer sees (default: `arrived`)."""
        s = self.settings
        newest, self._newest = self._newest, None
        self._render_s = None
        if newest is None:
            return
        if not self.on:
            self.stats.latency_ms.append((self._clock() - arrived) * 1000)
            return
        now = self._clock()
        level = self.governor.level  # stays at the full level when degrading is off
        if self._last_index is not None and newest.index - self._last_index < level.every:
            self.stats.frames_degraded += 1
            return
        overdue = self._last_t is None or now - self._last_t >= s.max_gap_s
        if not caught_up and not overdue:
            self.stats.frames_late += 1  # a newer frame is already due: render that one instead
            return
        portrait = self._portrait_at(level.size)
        try:
            with self._timer("render") as lap:
                image = self._draw(portrait, newest)
        except Exception as e:
            self.stats.frames_failed += 1
            self._fault("render", e)
            return
        self.publisher.frame(image, pts=newest.pts, stream=self.main.id)
        # The frame shows sound captured (end - pts) before this hop's audio was.
        heard = arrived if heard is None else heard
        self.stats.av_delay_ms.append((self._clock() - heard + end / RATE - newest.pts / 1e9)
                                      * 1000)
        full = getattr(self.portrait, "size", None)
        if len(self.frame_sinks):
            for e in self.frame_sinks.send(_at_size(image, full), newest.pts):
                self._fault("sink", e)
        now = self._clock()
        self._render_s = lap.s
        self._width = image.shape[1]
        self._last_t, self._last_index = now, newest.index
        self.stats.latency_ms.append((now - arrived) * 1000)
        self.stats.frame_times.append(now)
        self.stats.frames_published += 1

    def _draw(self, portrait: Any, out: Output) -> np.ndarray:
        image = self.renderer.render(portrait, out.motion)
        if self.stamp is not None:
            image = self.stamp(image)
        if image.shape[2] == 3:  # opaque RGBA (cv2: ~0.04 ms at 512², numpy's concatenate ~1.2)
            image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2RGBA)
        return image

    def _portrait_at(self, width: int | None) -> Any:
        """The current portrait at frame width `width` (None: its own); while a smaller one is
        being prepared (on a helper thread, ~0.1 s), the full one."""
        if width is None or self._prepare_at is None or self._source is None:
            return self.portrait
        if width in self._scaled:
            return self._scaled[width]
        if self._scaling is None or not self._scaling.is_alive():
            source, portrait, framing = self._source, self.portrait, self._framing

            def prepare():
                try:
                    state = self._prepare_at(source, width) if framing is None else \
                        self._prepare_at(source, width, framing)
                except Exception as e:  # no degraded size, then: the level still skips frames
                    log.warning("could not prepare the portrait at %d px: %s", width, e)
                    state = portrait
                if self.portrait is portrait:  # not replaced meanwhile
                    self._scaled[width] = state
            self._scaling = threading.Thread(target=prepare, name="vasa-rescale", daemon=True)
            self._scaling.start()
        return self.portrait

    def govern(self, now: float, lag_s: float, work_s: float) -> None:
        """After each hop: tell the governor what it cost; publish a level change."""
        if not self.settings.degrade or not self.on:
            return
        g = self.governor
        before = g.index
        if g.observe(now, lag_s, work_s, self._render_s, self._width):
            self.publisher.event(
                "picture_level", pts=self.main.pts, stream=self.main.id,
                message=("down: " if g.index > before else "up: ") + g.describe(),
                data={"level": g.index, "size": g.level.size or g.full_size,
                      "every": g.level.every, "reason": g.reason or None})
            log.info("picture level %d (%s)", g.index, g.describe())

    def status(self) -> dict:
        """The true picture rate over the last second and why it is below the target."""
        s, g = self.settings, self.governor
        now = self._clock()
        fps = float(sum(1 for t in list(self.stats.frame_times) if t > now - 1.0))
        reasons = []
        if not s.frames or self.renderer is None:
            reasons.append("frames off")
        elif self.portrait is None:
            reasons.append("no portrait")
        else:
            if g.index > 0:
                reasons.append(g.reason or "cpu-starved")
                reasons.append(g.describe())
            if self._last_t is None or now - self._last_t > 1.0:
                reasons.append("stalled")
            elif fps < 0.9 * s.fps / g.level.every and "cpu-starved" not in reasons:
                reasons.append("catching up")

        return {"fps": fps, "target_fps": s.fps, "size": self._width or None,
                "every": g.level.every, "level": g.index, "reason": ", ".join(reasons) or None}


def _at_size(image: np.ndarray, size: Any) -> np.ndarray:
    """Frame sinks (a webcam) keep one size: a degraded picture is scaled back up."""
    if size is None or (image.shape[1], image.shape[0]) == tuple(size):
        return image
    import cv2
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_LINEAR)
