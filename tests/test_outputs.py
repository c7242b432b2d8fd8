"""The outputs stage: one MotionSink contract and the FanOut that `serve` and `replay` feed every
sink through."""

import threading

import numpy as np
import pytest

from vasa_bridge.errors import TransportError
from vasa_bridge.motion import MotionFrame, MotionTrack
from vasa_bridge.outputs import FanOut, MotionSink
from vasa_bridge.transport.replay import ReplayConfig, replay


class Recording(MotionSink):
    name = "recording"

    def __init__(self):
        super().__init__()
        self.times = []

    def _send(self, frame):
        self.times.append(frame.time)
        self.stats["sent"] += 1

    def _close(self):
        pass


class Broken:
    """Raises on every `fail_every`-th send (1: always), and when closed."""

    name = "broken"

    def __init__(self, fail_every=1):
        self.fail_every, self.calls, self.closed = fail_every, 0, False

    def send(self, *args):
        self.calls += 1
        if self.calls % self.fail_every == 0:
            raise OSError(f"send {self.calls} failed")

    def close(self):
        self.closed = True
        raise OSError("close failed")


def frame(t):
    return MotionFrame(np.zeros(52), np.zeros(3), np.zeros(3), t)


def test_a_failing_sink_is_counted_and_the_others_still_get_the_frame(caplog):
    first, broken, last = Recording(), Broken(fail_every=2), Recording()
    fan = FanOut([first, broken, last])
    errors = [fan.send(frame(i / 25)) for i in range(10)]
    assert first.times == last.times == pytest.approx([i / 25 for i in range(10)])
    assert [len(e) for e in errors] == [0, 1] * 5  # every second send of the broken one
    assert all(isinstance(e[0], OSError) for e in errors if e)
    assert fan.failures == [0, 5, 0]
    assert first.stats == last.stats == {"frames": 10, "sent": 10, "errors": 0}
    warned = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(warned) == 3  # logged for its first three failures, counted for all


def test_fan_out_passes_every_argument_on_for_picture_sinks():
    got = []

    class Picture:
        def send(self, image, pts):
            got.append((image.shape, pts))

        def close(self):
            pass

    assert FanOut([Picture(), Picture()]).send(np.zeros((4, 6, 4), np.uint8), 123) == []
    assert got == [((4, 6, 4), 123)] * 2


def test_close_closes_every_sink_even_when_one_fails():
    first, broken, last = Recording(), Broken(), Recording()
    with FanOut([first, broken, last]) as fan:
        assert len(fan) == 3 and list(fan) == [first, broken, last]
    assert first.closed and broken.closed and last.closed
    with pytest.raises(TransportError, match="recording sink is closed: send\\(\\) was called "
                                             "after close\\(\\)"):
        first.send(frame(0.0))
    assert FanOut([first]).send(frame(0.0))[0].args[0].startswith("recording sink is closed")


class _Publisher:
    def __init__(self):
        self.motion_pts = []

    def add_stream(self, s):
        pass

    def hello(self, **kw):
        pass

    def event(self, name, **kw):
        pass

    def motion(self, frame, pts, stream):
        self.motion_pts.append(pts)

    def audio(self, *a, **kw):
        pass


def test_replay_feeds_its_sinks_through_the_fan_out():
    track = MotionTrack(np.zeros((6, 52)), np.zeros((6, 3)), np.zeros((6, 3)), 25.0)
    now = [0.0]

    def sleep(s):
        now[0] += s

    pub, good, broken = _Publisher(), Recording(), Broken(fail_every=3)
    result = replay(track, pub, ReplayConfig(), sinks=[broken, good], stop=threading.Event(),
                    clock=lambda: now[0], sleep=sleep)
    assert result.frames == 6 and len(pub.motion_pts) == 6
    assert good.times == pytest.approx([i / 25 for i in range(6)])  # after the broken one
    assert result.sink_errors == 2 and broken.calls == 6
    assert not good.closed  # the caller owns the sinks
