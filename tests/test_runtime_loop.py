"""The serve loop alone: a fake pacer on a fake clock and a recording publisher, no sockets.

The main face and an NPC voice on one timeline; a failure inside one stream resets that stream
only; the picture governor's path; every pts from the one time source (runtime/timebase.py)."""

import re

import numpy as np
import pytest

from vasa_bridge.audio.protocols import AudioSource, Pacer
from vasa_bridge.audio.sources import RATE, ArraySource, ClipQueue, ClockPacer
from vasa_bridge.motion.frame import MotionFrame
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.engine import LoudnessEngine
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.runtime.streams import MainFace, NpcVoice
from vasa_bridge.runtime.timebase import Timebase


def tone(seconds, start=0.0, stop=None, level=0.3):
    """Silence, then a loud 180 Hz tone from `start` to `stop` (s), then silence."""
    t = np.arange(int(seconds * RATE)) / RATE
    on = (t >= start) & (t < (seconds if stop is None else stop))
    return (level * np.sin(2 * np.pi * 180 * t) * on).astype(np.float32)


class Clock:
    """Time that moves only when the loop sleeps or a fake stage spends it."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


class FakePacer:
    """Sample position `end` is due at end / RATE on the fake clock; after `limit` samples the
    runtime is stopped."""

    def __init__(self, clock, limit, capture_s=0.0):
        self.clock, self.limit, self.runtime = clock, limit, None
        self.capture_s = capture_s  # the device's input latency
        self.started = False

    def start(self):
        self.started = True

    def wait_s(self, end):
        if end > self.limit:
            self.runtime.stop()
        return end / RATE - self.clock.t

    def due(self, end):
        return end / RATE

    def capture_delay_s(self):
        return self.capture_s


class Recording:
    """Publisher stand-in: every message, hello included, in the order it was sent."""

    def __init__(self, clock):
        self.clock = clock
        self.sent = []  # (kind, pts, stream, payload)
        self.streams = []
        self.stats = type("S", (), {"dropped": {}})()

    def add_stream(self, stream):
        self.streams.append(stream)

    def hello(self, *, pts=0, force=False):
        self.sent.append(("hello", pts, "", None))
        return True

    def motion(self, frame, *, pts, stream, extra=None):
        self.sent.append(("motion", pts, stream, (frame, extra)))
        return True

    def audio(self, samples, *, pts, rate, stream):
        assert rate == RATE
        self.sent.append(("audio", pts, stream, np.array(samples)))
        return True

    def event(self, name, *, pts, stream, message=None, data=None):
        self.sent.append(("event", pts, stream, (name, message, data)))
        return True

    def frame(self, image, *, pts, stream):
        self.sent.append(("frame", pts, stream, image.shape))
        return True

    def of(self, kind, stream="default"):
        return [m for m in self.sent if m[0] == kind and m[2] == stream]

    def events(self, name):
        return [m for m in self.sent if m[0] == "event" and m[3][0] == name]


def loop(seconds, *, config=None, capture_s=0.0, **kw):
    clock = Clock()
    pacer = FakePacer(clock, int(seconds * RATE), capture_s)
    rec = Recording(clock)
    rt = Runtime(config or ServeConfig(frames=False), rec, engine_factory=kw.pop(
        "engine_factory", LoudnessEngine), pacer=pacer, clock=clock, sleep=clock.sleep, **kw)
    pacer.runtime = rt
    return rt, rec, clock


def test_fakes_and_the_real_parts_meet_the_protocols():
    clock = Clock()
    assert isinstance(FakePacer(clock, 0), Pacer) and isinstance(ClockPacer(clock), Pacer)
    assert isinstance(ArraySource(np.zeros(4)), AudioSource)
    assert isinstance(ClipQueue(), AudioSource)


def test_the_main_face_and_an_npc_share_one_timeline():
    """The main face from a file, an NPC line queued 1 s in: both publish one motion frame per
    output frame with its audio, the NPC joining at the main face's frame; all sound arrives,
    in order, at the pts of the frame it belongs to."""
    main_audio = tone(3.0, 0.4, 1.2)
    rt, rec, clock = loop(3.0, main_source=ArraySource(main_audio))
    commands = Commands(rt)
    line = tone(1.0, 0.0, 0.8)

    class SpeakAtOneSecond(FakePacer):
        def wait_s(self, end):
            if end > RATE and "npc1" not in rt.streams:
                reply.update(commands.speak(line, RATE, "npc1"))
            return super().wait_s(end)
    reply = {}
    rt.pacer = SpeakAtOneSecond(clock, 3 * RATE)
    rt.pacer.runtime = rt
    rt.run()
    tb = Timebase(25.0)
    main, npc = rec.of("motion"), rec.of("motion", "npc1")
    assert [m[1] for m in main] == [tb.pts(j) for j in range(75)]
    first = npc[0][1]
    assert reply["pts"] == first == tb.pts(25)  # where the main face was when the line came
    assert [m[1] for m in npc] == [tb.pts(j) for j in range(25, 75)]
    heard = np.concatenate([m[3] for m in rec.of("audio")])
    np.testing.assert_array_equal(heard, main_audio)
    npc_audio = rec.of("audio", "npc1")
    assert npc_audio[0][1] == first
    np.testing.assert_array_equal(np.concatenate([m[3] for m in npc_audio])[:len(line)], line)
    for stream in ("default", "npc1"):  # each audio message at its motion frame's pts
        spans = {m[1]: len(m[3]) for m in rec.of("audio", stream)}
        assert set(spans) <= {m[1] for m in rec.of("motion", stream)}
        assert set(spans.values()) == {RATE // 25}
    # The mouth follows each stream's own sound, not the other's.
    jaw = lambda msgs, a, b: np.mean([m[3][0]["jawOpen"] for m in msgs  # noqa: E731
                                      if a <= m[1] / 1e9 < b])
    assert jaw(main, 0.6, 1.1) > 0.3 and jaw(main, 1.6, 2.9) < 0.05
    assert jaw(npc, 1.2, 1.7) > 0.3 and jaw(npc, 2.4, 2.9) < 0.05
    speech = [(m[2], m[3][0]) for m in rec.sent if m[0] == "event"]
    assert ("default", "speech_start") in speech and ("npc1", "speech_start") in speech
    assert rt.stats.failures == {}


class FailingOnce:
    """An AudioSource whose read raises once, at sample position `at`."""

    busy = False

    def __init__(self, audio, at):
        self.inner, self.at, self.failed = ArraySource(audio), at, False

    def read(self, start, end):
        if not self.failed and start <= self.at < end:
            self.failed = True
            raise OSError("capture device vanished")
        return self.inner.read(start, end)


def test_a_failing_source_resets_only_the_main_face():
    """The main face's source raises once: its stream is reset (a stream_reset event, silence
    and idle motion for that hop, a fresh engine) and its timeline has no gap; the NPC's
    engine and gate are the same objects before and after, and its line plays whole."""
    audio = tone(2.0, 0.2, 1.8)
    rt, rec, _ = loop(2.0, main_source=FailingOnce(audio, RATE))
    line = tone(1.5, 0.0, 1.5)
    Commands(rt).speak(line, RATE, "npc1")
    main_engine, npc = rt.main.engine, rt.streams["npc1"]
    npc_engine, npc_gate = npc.engine, npc.gate
    rt.run()
    resets = rec.events("stream_reset")
    assert [(m[2], m[3][2]["stage"]) for m in resets] == [("default", "engine")]
    assert "OSError: capture device vanished" in resets[0][3][1]
    assert resets[0][1] == Timebase(25.0).pts(25)  # the hop it failed in
    assert rt.main.engine is not main_engine  # fresh, after the failure
    assert npc.engine is npc_engine and npc.gate is npc_gate
    for stream in ("default", "npc1"):
        pts = [m[1] for m in rec.of("motion", stream)]
        assert pts == [Timebase(25.0).pts(j) for j in range(50)], stream
    heard = np.concatenate([m[3] for m in rec.of("audio")])
    hop = slice(RATE, RATE + RATE // 25)  # the hop whose read failed: silence, then on
    assert not heard[hop].any() and len(heard) == len(audio)
    np.testing.assert_array_equal(heard[hop.stop:], audio[hop.stop:])
    npc_heard = np.concatenate([m[3] for m in rec.of("audio", "npc1")])
    np.testing.assert_array_equal(npc_heard[:len(line)], line)
    assert rt.stats.failures == {"engine": 1}


def test_a_failing_npc_engine_resets_only_that_npc():
    """An NPC's engine raises: that NPC's queued line is dropped and it gets a fresh engine; the
    main face's engine is untouched and keeps its sound; `stream_reset` names the NPC."""
    made = []

    class Breaks(LoudnessEngine):
        def push(self, audio):
            if len(made) == 2 and self is made[1] and self._index > 10:
                raise FloatingPointError("features overflowed to NaN")
            return super().push(audio)

    def factory():
        made.append(Breaks())
        return made[-1]
    audio = tone(2.0, 0.2, 1.8)
    rt, rec, _ = loop(2.0, main_source=ArraySource(audio), engine_factory=factory)
    Commands(rt).speak(tone(1.5), RATE, "npc1")
    rt.run()
    assert [(m[2]) for m in rec.events("stream_reset")] == ["npc1"]
    assert rt.main.engine is made[0] and rt.streams["npc1"].engine is made[2]
    assert rt.streams["npc1"].source.queued_samples == 0  # its line went with the reset
    np.testing.assert_array_equal(np.concatenate([m[3] for m in rec.of("audio")]), audio)
    assert [m[1] for m in rec.of("motion", "npc1")] == [Timebase(25.0).pts(j) for j in range(50)]


class Portrait:
    def __init__(self, width):
        self.size = (width, width)


class CostlyRenderer:
    """A blank picture that costs `cost(t)` fake seconds at 512 px, scaled by area."""

    def __init__(self, clock, cost):
        self.clock, self.cost = clock, cost

    def render(self, portrait, motion):
        w = portrait.size[0]
        self.clock.t += self.cost(self.clock.t) * (w / 512) ** 2
        return np.zeros((w, w, 3), np.uint8)


def test_the_picture_governor_steps_down_under_load_and_back_up():
    """Pictures cost 80 ms (two frames' budget) from 2 s to 6 s: the level steps down (a
    `picture_level` event, smaller pictures), and back to full size once the load ends; motion
    never misses a frame, and each picture carries the pts of a published motion frame."""
    clock = Clock()
    renderer = CostlyRenderer(clock, lambda t: 0.08 if 2.0 <= t < 6.0 else 0.005)
    rt, rec, clock = loop(9.0, config=ServeConfig(), main_source=ArraySource(tone(9.0)),
                          renderer=renderer, portrait=Portrait(512),
                          prepare_at=lambda source, width: Portrait(width),
                          portrait_source="face")
    renderer.clock = clock
    rt.run()
    motion = [m[1] for m in rec.of("motion")]
    assert motion == [Timebase(25.0).pts(j) for j in range(len(motion))]
    frames = rec.of("frame")
    assert {m[1] for m in frames} <= set(motion)
    assert len(frames) + rt.stats.frames_dropped == len(motion)
    levels = [m[3] for m in rec.events("picture_level")]
    assert levels[0][1].startswith("down") and levels[0][2]["reason"] == "cpu-starved"
    assert levels[-1][1].startswith("up") and levels[-1][2]["level"] == 0
    widths = np.array([m[3][1] for m in frames])
    assert (widths < 512).any() and widths[-10:].tolist() == [512] * 10
    status = Commands(rt).status()["picture"]
    assert status["level"] == 0 and status["size"] == 512


def test_the_engines_later_work_runs_after_the_picture_and_counts_in_the_hop():
    """Each hop: the engines' frames, then the main face's picture, then `settle()` (the motion
    model's work on audio no frame out yet needed), for every stream. Its cost is not between
    the sound and the picture, but it is the loop's work: the loop lag and the governor see it."""
    clock = Clock()
    order = []

    class Deferring(LoudnessEngine):
        def push(self, audio):
            order.append("push")
            return super().push(audio)

        def settle(self):
            order.append("settle")
            clock.t += 0.008  # the model's 8 ms

    class Recorded(CostlyRenderer):
        def render(self, portrait, motion):
            order.append("picture")
            return super().render(portrait, motion)

    renderer = Recorded(clock, lambda t: 0.005)
    rt, rec, clock = loop(2.0, config=ServeConfig(), main_source=ArraySource(tone(2.0)),
                          renderer=renderer, portrait=Portrait(512), engine_factory=Deferring)
    renderer.clock = clock
    Commands(rt).speak(tone(0.5), RATE, "npc1")
    rt.run()
    # per hop: both streams' frames, the picture, then both streams settle
    letters = "".join({"push": "a", "picture": "i", "settle": "s"}[x] for x in order)
    assert re.fullmatch("(aa?i?ss?)+", letters), letters[:40]
    assert order.count("picture") > 40
    assert all(order[k + 1] == "settle" for k, x in enumerate(order[:-1]) if x == "picture")
    # the loop lag counts the settling: a 5 ms picture + 8 ms for each of the two streams
    assert np.median(rt.stats.loop_lag_ms) >= 21.0 - 1e-6
    assert len(rec.of("motion")) == len(rec.of("audio")) == 50


def test_the_reported_av_delay_counts_the_microphones_input_latency():
    """`av_delay_ms` is what a viewer sees between the voice in the room and its lips: the
    capture device's input latency (60 ms here) adds to the loop's own delay, and nothing else
    (pacing and the governor still run on delivery times: the same frames come out)."""
    delays, frames = [], []
    for capture_s in (0.0, 0.06):
        clock = Clock()
        renderer = CostlyRenderer(clock, lambda t: 0.005)
        rt, rec, clock = loop(3.0, config=ServeConfig(), capture_s=capture_s,
                              main_source=ArraySource(tone(3.0)), renderer=renderer,
                              portrait=Portrait(512), portrait_source="face")
        renderer.clock = clock
        rt.run()
        delays.append(Commands(rt).status()["av_delay_ms"])
        frames.append([m[1] for m in rec.of("frame")])
    assert delays[0] > 0
    assert delays[1] - delays[0] == pytest.approx(60.0, abs=0.5)
    assert frames[0] == frames[1]


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_every_pts_comes_from_the_one_time_source(fps):
    """At 25 and 30 fps (1e9 / 30 is not whole): motion, audio, events, pictures and the
    heartbeat all carry Timebase.pts of a frame index; motion pts rise by one frame at a time
    in every stream, and a motion frame's `time` is its pts in seconds."""
    clock = Clock()
    renderer = CostlyRenderer(clock, lambda t: 0.001)
    rt, rec, clock = loop(2.0, config=ServeConfig(fps=fps), main_source=ArraySource(
        tone(2.0, 0.3, 1.2)), renderer=renderer, portrait=Portrait(64))
    renderer.clock = clock
    Commands(rt).speak(tone(0.5), RATE, "npc1")
    rt.run()
    tb = rt.timebase
    assert tb == Timebase(fps)
    index = {tb.pts(k): k for k in range(int(3 * fps))}
    kinds = set()
    for kind, pts, _, _ in rec.sent:
        assert pts in index, (kind, pts)
        kinds.add(kind)
    assert kinds == {"hello", "motion", "audio", "event", "frame"}
    for stream in ("default", "npc1"):
        ks = [index[m[1]] for m in rec.of("motion", stream)]
        assert ks == list(range(ks[0], ks[0] + len(ks)))
        assert all(m[3][0].time == m[1] / 1e9 for m in rec.of("motion", stream))
    hellos = [index[m[1]] for m in rec.sent if m[0] == "hello"]
    assert hellos[1:] == list(range(len(hellos) - 1))  # after the forced one at start: each hop


def test_an_npc_engine_rests_in_silence_and_wakes_fresh_for_speech():
    """The resting rule lives in the NPC stream: after `rest_after_s` of silence its engine is
    no longer fed (idle-only frames, None), and speech brings a fresh engine."""
    tb = Timebase(25.0)
    made = []

    def factory():
        made.append(LoudnessEngine())
        return made[-1]
    clips = ClipQueue()
    npc = NpcVoice("npc1", clips, tb, factory, seed=1, start=0, rest_after_s=0.2)
    quiet = []
    for k in range(10):  # 0.4 s of silence
        end = tb.sample(k + 1)
        quiet.append(npc.step(npc.read(end)))
    assert npc.resting and quiet[-1] == [None] and len(made) == 1
    clips.add(tone(0.2))
    end = tb.sample(11)
    frames = npc.step(npc.read(end))
    assert not npc.resting and len(made) == 2 and npc.engine is made[1]
    assert all(isinstance(f, MotionFrame) for f in frames)
    out = [npc.frame(f) for f in frames]
    assert [o.index for o in out] == [0] and out[0].pts == tb.pts(0)


def test_the_main_face_never_rests():
    tb = Timebase(25.0)
    face = MainFace("default", ArraySource(np.zeros(RATE, np.float32)), tb, LoudnessEngine,
                    seed=0)
    for k in range(20):
        assert all(f is not None for f in face.step(face.read(tb.sample(k + 1))))
