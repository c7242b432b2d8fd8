"""Graceful degradation of the picture: which size and which share of frames the renderer can
afford right now. Pure (no clock): the runtime reports what each rendered frame cost and how late
the loop ran, with its own clock's times, and asks which level to render at.

Levels, best first: the full size at every frame, then each smaller size in `sizes`, then, at the
smallest size, every 2nd, 3rd ... frame (`divisors`). Motion and audio are never part of this:
they are published for every frame whatever the level.

    step down: the predicted cost of the loop's work has exceeded `busy` of its budget, or the
               loop has been behind (a hop done more than `behind_s` after it was due), while
               pictures alone cost more than `pictures_matter` of it, for `down_after_s`;
    step up:   for `up_after_s` the loop has kept up and a better level's predicted cost fits in
               `room` of its budget; it jumps straight to the best level that fits, and may
               step up again `up_again_s` later.

The cost of a frame is predicted from the render time measured at the current size, times what
a frame at the other size costs relative to one at this size, plus the rest of the hop's work.
That relative cost starts as the ratio of areas and is learned at each step down, from the last
frames before it and the first after it (both under the same load): rendering is not purely per
pixel (the 384² frame of the shipped renderer costs about 0.8 of a 512² one, not 0.56), and a
guess by area kept the picture degraded for seconds after the load had gone. The gap between
`busy` and `room`, and the two hold times, are the hysteresis: a level is not left as soon as it
was entered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PictureConfig:
    fps: float = 25.0  # target picture rate (the output frame rate)
    sizes: tuple[int, ...] = ()  # degraded frame widths, largest first (empty: no size steps)
    divisors: tuple[int, ...] = (2, 3, 5)  # then render one frame in 2, 3, 5 at the smallest size
    behind_s: float = 0.12  # a hop finished this late counts as "behind"
    busy: float = 0.9  # a frame costing more than this share of its budget is too expensive
    # step up only to a level whose frames cost at most this share. (0.6 until the live motion
    # grew to a third of the budget: 512² then never fitted again, and after any busy moment
    # the picture stayed at 256² for the rest of the session; docs/runtime.md)
    room: float = 0.75
    pictures_matter: float = 0.25  # a step down only while pictures take more than this share
    down_after_s: float = 0.4  # behind or too expensive this long -> one step down
    up_after_s: float = 0.5  # keeping up with room to spare this long -> step up
    up_again_s: float = 0.2  # after a step up, the next one may follow this soon (as the load
    # fades the running costs fall over a few tenths of a second: the first jump can fall short)
    smoothing: float = 0.3  # weight of a new measurement in the running cost estimates


@dataclass(frozen=True)
class Level:
    size: int | None  # frame width to render at; None = the portrait's own size
    every: int  # render one frame in `every`

    def describe(self, full: int | None) -> str:
        parts = []
        if self.size is not None and self.size != full:
            parts.append(f"degraded to {self.size}²")
        if self.every > 1:
            parts.append(f"every {self.every} frames")
        return ", ".join(parts) or "full"


class PictureGovernor:
    """Chooses the picture level from observed costs. `observe` after every hop; `level` is the
    level to render at; `reason` says why it is not the best one."""

    def __init__(self, config: PictureConfig = PictureConfig(), full_size: int | None = None
                 ) -> None:
        self.config = config
        self.full_size = full_size
        smallest = config.sizes[-1] if config.sizes else None
        self.levels = [Level(None, 1)] + [Level(s, 1) for s in config.sizes] + \
            [Level(smallest, d) for d in config.divisors]
        self.index = 0
        self.reason = ""  # why the level is not 0 ("cpu-starved"), empty at full quality
        self._cost: float | None = None  # render seconds per frame at `_at` width (running)
        self._at: int | None = None  # the width `_cost` was measured at
        self._relative: dict[int, float] = {}  # learned: a frame's cost at a width / full's
        self._before: tuple[int, float] | None = None  # (width, cost) just before a size change
        self._after: list[float] = []  # render times since that change
        self._other_s: float = 0.0  # the rest of a hop's work, seconds (running)
        self._bad_since: float | None = None
        self._good_since: float | None = None
        self.changes = 0

    @property
    def level(self) -> Level:
        return self.levels[self.index]

    def describe(self) -> str:
        return self.level.describe(self.full_size)

    def _width(self, level: Level, current_width: int) -> int:
        return level.size or self.full_size or current_width

    def _area(self, width: int) -> float:
        """A frame's area at `width` relative to the full width's."""
        return (width / (self.full_size or width)) ** 2

    def relative_cost(self, width: int) -> float:
        """A frame's render cost at `width` relative to one at the full width: learned at the
        steps down, the ratio of areas until then."""
        return self._relative.get(width, self._area(width))

    def predicted_render(self, level: Level, current_width: int) -> float | None:
        """Share of the hop budget pictures would take at `level`; None before the first
        measurement."""
        if self._cost is None or self._at is None:
            return None
        w = self._width(level, current_width)
        render = self._cost * self.relative_cost(w) / self.relative_cost(self._at) / level.every
        return render * self.config.fps

    def predicted_load(self, level: Level, current_width: int) -> float | None:
        """Share of the hop budget the loop would use at `level` (1 = all of it): pictures and
        the rest of the work; None before the first measurement."""
        render = self.predicted_render(level, current_width)
        return None if render is None else render + self._other_s * self.config.fps

    def _measure(self, render_s: float, width: int) -> None:
        """One render time at `width`. After a size change the running cost starts afresh, and
        after a step down the first frames at the new size (the very first skipped: caches are
        cold) against the last cost at the old one give their relative cost."""
        k = self.config.smoothing
        if width == self._at and self._cost is not None:
            self._cost = (1 - k) * self._cost + k * render_s
        else:
            # Only a step down teaches: it comes after a steady 0.4 s at the old size, while a
            # step up comes as the load fades and the old size's running cost is still falling.
            self._before = None
            if self._cost is not None and self._at is not None and width < self._at:
                self._before = (self._at, self._cost)
            self._after = []
            self._cost, self._at = render_s, width
        if self._before is None:
            return
        self._after.append(render_s)
        if len(self._after) < 5:
            return
        old, old_cost = self._before
        self._before = None
        after = sorted(self._after[1:])
        ratio = (after[1] + after[2]) / 2 / max(old_cost, 1e-9)  # new / old, median of four
        learned = self.relative_cost(old) * ratio
        self._relative[width] = min(1.0, max(self._area(width), learned))  # area <= it <= 1

    def observe(self, now: float, lag_s: float, work_s: float, render_s: float | None,
                width: int) -> bool:
        """One hop: `lag_s` how late it finished, `work_s` the loop's whole work for it,
        `render_s` the render time when a picture was made (at frame width `width`). Returns
        True when the level changed."""
        c = self.config
        k = c.smoothing
        if render_s is not None and width > 0:
            self._measure(render_s, width)
            other = max(work_s - render_s, 0.0)
        else:
            other = work_s
        self._other_s = (1 - k) * self._other_s + k * other
        load = self.predicted_load(self.level, width)
        pictures = self.predicted_render(self.level, width)
        # Behind only counts when pictures are a real share of the work: a loop that is late for
        # other reasons (the motion model on a starved CPU, a sleepy scheduler) gains little from
        # smaller pictures, and stepping down for it left 5 pictures a second where 12 fitted.
        behind = lag_s > c.behind_s and pictures is not None and pictures > c.pictures_matter
        # Likewise too dear: when the rest of the work alone nearly fills the budget, fewer
        # pictures save little (one run fell to one frame in 5, 9.5 pictures/s, where one in 2
        # kept up).
        too_dear = load is not None and load > c.busy and pictures > c.pictures_matter
        if behind or too_dear:
            self._good_since = None
            if self._bad_since is None:
                self._bad_since = now
            if now - self._bad_since >= c.down_after_s and self.index < len(self.levels) - 1:
                self.index += 1
                self.reason = "cpu-starved"
                self._bad_since = now  # hold: the next step needs its own full wait
                self.changes += 1
                return True
            return False
        self._bad_since = None
        if self.index == 0:
            self._good_since = None
            return False
        if lag_s > c.behind_s / 2:
            self._good_since = None
            return False
        if self._good_since is None:
            self._good_since = now
        if now - self._good_since < c.up_after_s:
            return False
        best = self.index
        for i in range(self.index - 1, -1, -1):  # the best level that still fits
            fits = self.predicted_load(self.levels[i], width)
            if fits is not None and fits <= c.room:
                best = i
        if best == self.index:
            return False
        self.index = best
        self.reason = "" if best == 0 else "cpu-starved"
        self._good_since = now - (c.up_after_s - c.up_again_s)
        self.changes += 1
        return True


def degraded_sizes(width: int) -> tuple[int, ...]:
    """The frame widths to step down through from `width`: three quarters, then half, each a
    multiple of 8 and at least 128 (512 -> 384, 256)."""
    out = []
    for share in (0.75, 0.5):
        w = max(128, int(width * share) // 8 * 8)
        if w < width and w not in out:
            out.append(w)
    return tuple(out)
