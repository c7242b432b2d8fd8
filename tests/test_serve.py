"""The runtime end to end: a real file's audio in, motion + frames + audio out over ZeroMQ, with
consistent pts; control commands; NPC streams; a portrait swap mid-stream."""

import io
import threading
import time

import numpy as np
import pytest
import skimage.data

from vasa_bridge.audio.sources import RATE, ArraySource
from vasa_bridge.runtime.engine import FpsAdapter, LoudnessEngine
from vasa_bridge.runtime.commands import Commands
from vasa_bridge.runtime.serve import Runtime, ServeConfig
from vasa_bridge.transport import (ControlClient, ControlConfig, ControlServer, Publisher,
                                   PublisherConfig, Subscriber, SubscriberConfig)


def bursts(seconds=2.4):
    """Silence, 0.6 s of a loud vowel-like tone, silence, another burst."""
    t = np.arange(int(seconds * RATE)) / RATE
    env = ((t > 0.4) & (t < 1.0)) | ((t > 1.6) & (t < 2.0))
    return (0.3 * np.sin(2 * np.pi * 180 * t) * env).astype(np.float32)


@pytest.fixture(scope="module")
def renderer_state():
    from vasa_bridge.face.portrait import PortraitConfig
    from vasa_bridge.render.base import RenderConfig, get_backend
    renderer = get_backend("cpu", RenderConfig())
    return renderer, renderer.prepare(skimage.data.astronaut(), PortraitConfig(size=256))


def collect(sub, until, timeout=15.0):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline and not until(got):
        m = sub.recv(timeout_ms=200)
        if m is not None:
            got.append(m)
    return got


@pytest.mark.slow
def test_serve_publishes_motion_frames_and_audio_in_sync(endpoint, renderer_state):
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    from vasa_bridge.provenance.watermark import Detector
    renderer, state = renderer_state
    audio = bursts()
    stamp = Stamp(StampConfig(label=False, credentials=False))
    config = ServeConfig(stop_after_source=True, tail_s=0.2)
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint)) as sub:
        for _ in range(100):  # slow joiner
            pub.hello(force=True)
            if sub.recv(timeout_ms=20):
                break
        rt = Runtime(config, pub, engine_factory=LoudnessEngine, main_source=ArraySource(audio),
                     renderer=renderer, portrait=state, stamp=stamp)
        t = threading.Thread(target=rt.run, daemon=True)
        t.start()
        t.join(30)
        assert not t.is_alive()
        msgs = collect(sub, lambda g: False, timeout=1.0)
    motion = [m for m in msgs if m.kind == "motion"]
    frames = [m for m in msgs if m.kind == "frame"]
    sound = [m for m in msgs if m.kind == "audio"]
    events = [m.header["name"] for m in msgs if m.kind == "event"]
    n = len(motion)
    assert n >= int((2.4 + 0.2) * 25) - 1
    assert [m.seq for m in motion] == list(range(n))  # nothing lost
    pts = np.array([m.pts for m in motion])
    np.testing.assert_array_equal(np.diff(pts), 40_000_000)
    assert [m.pts for m in sound] == list(pts[:len(sound)])  # audio tied to motion by pts
    played = np.concatenate([m.audio_samples()[:, 0] for m in sound]).astype(np.float32) / 32767
    np.testing.assert_allclose(played[:len(audio)], audio, atol=2 / 32767)  # all of it, in order
    assert set(m.pts for m in frames) <= set(pts) and len(frames) + rt.stats.frames_dropped == n
    assert len(frames) >= n * 0.9
    jaw = np.array([m.motion_frame()["jawOpen"] for m in motion])
    times = pts / 1e9
    assert jaw[(times > 0.6) & (times < 0.95)].mean() > 0.3  # the mouth answers the sound
    assert jaw[(times > 1.2) & (times < 1.5)].mean() < 0.1  # and closes in the pause
    assert events.count("speech_start") == 2 and events.count("speech_end") >= 1
    img = frames[len(frames) // 2].image()
    assert img.shape == (256, 256, 4) and (img[..., 3] == 255).all()
    det = Detector().detect(img[..., :3])  # a frame off the wire carries the watermark
    assert det.present and det.payload == stamp.payload


@pytest.mark.slow
def test_control_drives_a_running_runtime(endpoint, renderer_state, tmp_path):
    from PIL import Image
    renderer, state = renderer_state
    from vasa_bridge.face.portrait import PortraitConfig
    prepare = lambda image: renderer.prepare(image, PortraitConfig(size=192))  # noqa: E731
    portrait2 = tmp_path / "p2.png"
    Image.fromarray(skimage.data.astronaut()[::-1, ::-1].copy()).save(portrait2)
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint)) as sub:
        rt = Runtime(ServeConfig(), pub, engine_factory=LoudnessEngine, renderer=renderer,
                     portrait=state, prepare=prepare)
        stop = threading.Event()
        t = threading.Thread(target=rt.run, args=(stop,), daemon=True)
        t.start()
        try:
            with ControlServer(Commands(rt), ControlConfig(
                    endpoint="tcp://127.0.0.1:*",  # any free port
                    portrait_dirs=(tmp_path,))) as server, \
                    ControlClient(server.endpoint, timeout_ms=20000) as client:  # loaded CI
                assert collect(sub, lambda g: any(m.kind == "frame" for m in g))
                status = client.call("status")
                assert status["streams"] == ["default"] and status["portrait"] is True
                assert client.call("set", emotion="happy")["emotion"] == "happy"
                bad = client.request({"cmd": "set", "emotion": "smug"})
                assert bad["ok"] is False and "expected one of" in bad["error"]
                assert bad["code"] == "bad_argument"  # as docs/protocol.md and /api/set say
                clip = bursts(1.0)
                r = client.speak(clip, RATE, stream="npc1")
                assert r["stream"] == "npc1" and r["duration"] == pytest.approx(1.0)
                npc = collect(sub, lambda g: sum(m.kind == "motion" and m.stream == "npc1"
                                                 for m in g) >= 20)
                npc_motion = [m for m in npc if m.kind == "motion" and m.stream == "npc1"]
                assert len(npc_motion) >= 20
                assert not any(m.kind == "frame" and m.stream == "npc1" for m in npc)
                assert max(m.motion_frame()["jawOpen"] for m in npc_motion) > 0.2
                # a stream's own values: the others' and the defaults stay (they changed all)
                assert client.call("set", emotion="sad", stream="npc1")["emotion"] == "sad"
                assert client.call("status")["conditions"]["emotion"] == "happy"
                nobody = client.request({"cmd": "set", "emotion": "sad", "stream": "nobody"})
                assert nobody["code"] == "bad_argument" and nobody["error"].startswith(
                    "stream 'nobody' is not running: expected one of ['default', 'npc1']")
                assert client.call("status")["conditions"]["emotion"] == "happy"
                info = client.call("load_portrait", path=str(portrait2))
                assert info["size"] == [192, 192]
                after = collect(sub, lambda g: any(m.kind == "frame" and m.header["width"] == 192
                                                   for m in g))
                assert any(m.kind == "event" and m.header["name"] == "portrait_loaded"
                           for m in after)
                # image bytes are read as a file is: a 16-bit greyscale PNG (decoded apart, it
                # came out white: "no face found")
                grey = np.asarray(Image.fromarray(skimage.data.astronaut()).convert("L"))
                buf = io.BytesIO()
                Image.fromarray(grey.astype(np.uint16) * 257).save(buf, "PNG")
                assert client.call("load_portrait", image=buf.getvalue())["size"] == [192, 192]
                nope = client.request({"cmd": "load_portrait", "path": str(tmp_path / "no.png")})
                assert nope["ok"] is False
                again = collect(sub, lambda g: sum(m.kind == "motion" and m.stream == "default"
                                                   for m in g) >= 5)
                assert len(again) >= 5  # still running after the refused request
                client.call("stop")
                t.join(5)
                assert not t.is_alive()
        finally:
            stop.set()


def test_fps_adapter_resamples_in_time():
    from vasa_bridge.motion import MotionFrame
    frames = [MotionFrame.from_named({"jawOpen": k / 10}, time=k / 25) for k in range(11)]
    out = FpsAdapter(25, 50).push(frames)
    assert [round(f.time, 4) for f in out] == [round(j / 50, 4) for j in range(21)]
    np.testing.assert_allclose([f["jawOpen"] for f in out], np.arange(21) / 20, atol=1e-6)
    same = FpsAdapter(25, 25).push(frames)
    assert same == frames


def test_loudness_engine_chunking_does_not_matter():
    audio = bursts(1.2)
    whole = LoudnessEngine().push(audio)
    eng = LoudnessEngine()
    parts = []
    for i in range(0, len(audio), 777):
        parts += eng.push(audio[i:i + 777])
    assert whole == parts and len(whole) == 30


@pytest.mark.slow
def test_audio_pushed_over_zeromq_makes_an_npc_speak(endpoint):
    import zmq
    from vasa_bridge.protocol import wire
    from vasa_bridge.transport.audio_in import AudioInlet
    inlet_ep = endpoint.rsplit(":", 1)[0] + f":{int(endpoint.rsplit(':', 1)[1]) + 2}"
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion",),
                                        stream="guard")) as sub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine)
        stop = threading.Event()
        worker = threading.Thread(target=rt.run, args=(stop,), daemon=True)
        worker.start()
        inlet = AudioInlet(Commands(rt), inlet_ep)
        push = zmq.Context.instance().socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(inlet_ep)
        try:
            clip = bursts(1.0)
            push.send_multipart([b"nonsense"])  # refused, counted, the inlet keeps serving
            push.send_multipart(wire.encode_audio(clip, stream="guard", seq=0, pts=0, sent=0,
                                                  rate=RATE, format="f32"))
            got = collect(sub, lambda g: len(g) >= 20)
            assert len(got) >= 20 and max(m.motion_frame()["jawOpen"] for m in got) > 0.2
            assert inlet.clips == 1 and inlet.refused == 1
        finally:
            push.close(0)
            inlet.close()
            stop.set()
            worker.join(5)


@pytest.mark.slow
def test_npc_lines_are_baked_whole_and_stay_aligned_with_their_sound(endpoint):
    """With a clip baker, an NPC's clip is turned into motion when it arrives; the published
    motion then follows that baked motion frame for frame, in step with the clip's audio."""
    from vasa_bridge.motion import MotionFrame

    class RampBaker:
        fps = 25.0

        def bake(self, audio, emotion, seed, language="en", hear=True):  # jawOpen = frame index / 100: easy to follow
            n = int(round(len(audio) * self.fps / RATE))
            return [MotionFrame.from_named({"jawOpen": min(k / 100, 1.0)}) for k in range(n)]

    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "audio"),
                                        stream="npc7")) as sub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine,
                     clip_baker=RampBaker())
        stop = threading.Event()
        worker = threading.Thread(target=rt.run, args=(stop,), daemon=True)
        worker.start()
        try:
            clip = 0.3 * np.ones(int(1.01 * RATE), np.float32)  # 25.25 frames: padded to 26
            r = Commands(rt).speak(clip, RATE, "npc7")
            assert r["stream"] == "npc7"
            got = collect(sub, lambda g: sum(m.kind == "motion" for m in g) >= 40)
        finally:
            stop.set()
            worker.join(5)
    motion = [m for m in got if m.kind == "motion"]
    audio = {m.pts: m.audio_samples()[:, 0] for m in got if m.kind == "audio"}
    loud = [m for m in motion if m.pts in audio and np.abs(audio[m.pts]).max() > 0.2 * 32767]
    assert len(loud) == 26  # every frame of the clip's sound ...
    jaws = [m.motion_frame()["jawOpen"] for m in loud]
    # ... carries the baked ramp, in order (idle life underneath is the same small offset)
    assert all(b > a for a, b in zip(jaws[5:], jaws[6:]))
    assert jaws[-1] - jaws[5] == pytest.approx(0.20, abs=0.03)


# --- overload and faults, on a fake clock (deterministic: no sleeps, no sockets) ---------------


class FakeClock:
    """Time that moves only when the loop waits (plus `wake_late_s`, a starved scheduler giving
    the CPU back late) or when a fake stage spends it."""

    def __init__(self):
        self.t = 0.0
        self.wake_late_s = lambda t: 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds + self.wake_late_s(self.t)


class Recorder:
    """Publisher stand-in: keeps what the runtime publishes, with the fake time it was sent."""

    def __init__(self, clock):
        self.clock = clock
        self.sent = []  # (kind, pts, stream, payload, fake time)
        self.stats = type("S", (), {"dropped": {}})()

    def add_stream(self, stream):
        pass

    def hello(self, **kw):
        return True

    def motion(self, frame, *, pts, stream, extra=None):
        self.sent.append(("motion", pts, stream, frame, self.clock.t))

    def audio(self, samples, *, pts, rate, stream):
        self.sent.append(("audio", pts, stream, np.array(samples), self.clock.t))

    def event(self, name, *, pts, stream, message=None, data=None):
        self.sent.append(("event", pts, stream, (name, message, data), self.clock.t))

    def frame(self, image, *, pts, stream):
        self.sent.append(("frame", pts, stream, image.shape, self.clock.t))

    def of(self, kind, stream="default"):
        return [m for m in self.sent if m[0] == kind and m[2] == stream]


class FakePortrait:
    def __init__(self, width):
        self.size = (width, width)


class CostlyRenderer:
    """Renders a blank picture and spends fake time on it: `cost_512(t)` for a 512² frame,
    scaled by area (rendering is per pixel)."""

    def __init__(self, clock, cost_512):
        self.clock, self.cost_512 = clock, cost_512
        self.calls = 0

    def render(self, state, motion):
        self.calls += 1
        w = state.size[0]
        self.clock.t += self.cost_512(self.clock.t) * (w / 512) ** 2
        return np.zeros((w, w, 3), np.uint8)


def fake_runtime(seconds, clock, renderer, **config):
    rec = Recorder(clock)
    audio = bursts(seconds)
    rt = Runtime(ServeConfig(stop_after_source=True, tail_s=0.0, **config), rec,
                 engine_factory=LoudnessEngine, main_source=ArraySource(audio),
                 renderer=renderer, portrait=FakePortrait(512),
                 prepare_at=lambda source, width: FakePortrait(width), portrait_source="face",
                 clock=clock, sleep=clock.sleep)
    return rt, rec, audio


def gaps(times):
    return np.diff(np.array(times)) if len(times) > 1 else np.array([np.inf])


def test_a_loop_that_is_always_a_little_late_still_renders():
    """Regression: every hop done 0.15 s after it was due (a busy machine wakes us late) made the
    old loop drop every picture. Now it renders the newest frame each time it catches up."""
    clock = FakeClock()
    clock.wake_late_s = lambda t: 0.15
    rt, rec, audio = fake_runtime(6.0, clock, CostlyRenderer(clock, lambda t: 0.005))
    rt.run()
    motion = rec.of("motion")
    frames = rec.of("frame")
    n = len(motion)
    assert [m[1] for m in motion] == [int(round(j * 1e9 / 25)) for j in range(n)]  # no gap
    assert n >= 6 * 25 - 1
    played = np.concatenate([m[3] for m in rec.of("audio")])
    np.testing.assert_array_equal(played[:len(audio)], audio)  # every sample, in order
    assert len(frames) >= n / 8  # one picture per wake-up, at least
    assert gaps([f[4] for f in frames]).max() <= rt.config.max_gap_s + 0.2
    assert len(frames) + rt.stats.frames_dropped == n
    assert rt.governor.index == 0  # cheap pictures: nothing to gain by degrading them


def test_the_picture_steps_down_under_cpu_starvation_and_back_up_after():
    """From t = 4 s to 12 s the CPU is starved (every render costs 6x, wake-ups come 0.05 s
    late): the picture steps down (smaller, then fewer frames if need be), keeps coming, and
    status says why; after the load ends it is back at full size and full rate within ~1 s."""
    clock = FakeClock()
    starved = lambda t: 4.0 <= t < 12.0  # noqa: E731
    clock.wake_late_s = lambda t: 0.05 if starved(t) else 0.0
    renderer = CostlyRenderer(clock, lambda t: 0.072 if starved(t) else 0.012)
    rt, rec, _ = fake_runtime(16.0, clock, renderer)
    seen = {}
    original = renderer.render

    def render(state, motion):  # look at status mid-overload, as a control client would
        if 9.0 <= clock.t and "mid" not in seen:
            seen["mid"] = Commands(rt).status()
        return original(state, motion)
    renderer.render = render
    rt.run()
    motion, frames = rec.of("motion"), rec.of("frame")
    assert [m[1] for m in motion] == [int(round(j * 1e9 / 25)) for j in range(len(motion))]
    times = np.array([f[4] for f in frames])
    widths = np.array([f[3][1] for f in frames])
    during = (times > 5.0) & (times < 12.0)
    assert gaps(times[during]).max() <= 0.5  # pictures keep coming
    assert during.sum() / 7.0 >= 10  # at least 10 pictures a second through the overload
    # ... smaller ones (a smaller portrait is prepared on a helper thread: the first few frames
    # of a level may still be at the size before it)
    assert (widths[during] < 512).mean() > 0.9
    levels = [m[3] for m in rec.of("event") if m[3][0] == "picture_level"]
    assert levels and levels[0][2]["reason"] == "cpu-starved" and "down" in levels[0][1]
    assert levels[-1][2]["level"] == 0 and levels[-1][2]["size"] == 512
    mid = seen["mid"]["picture"]
    assert "cpu-starved" in mid["reason"] and "degraded to" in mid["reason"]
    assert mid["fps"] >= 10 and seen["mid"]["fps"] == mid["fps"]
    after = times > 13.0  # back to every frame at full size within a second of the load ending
    assert (widths[after] == 512).all() and after.sum() >= 0.95 * 25 * (times[-1] - 13.0)
    assert rt.picture_status()["reason"] is None


def test_status_reports_the_picture_rate_of_the_last_second():
    clock = FakeClock()
    renderer = CostlyRenderer(clock, lambda t: 0.01)
    rt, rec, _ = fake_runtime(3.0, clock, renderer)
    rt.run()
    status = Commands(rt).status()
    assert status["picture"]["fps"] == pytest.approx(25, abs=1)
    clock.t += 5.0  # nothing rendered since: the rate says so, and why
    status = Commands(rt).status()
    assert status["fps"] == 0 and "stalled" in status["picture"]["reason"]


class Exploding:
    """LoudnessEngine, except that the engines numbered in `fail` (in order of creation) raise on
    their 20th push (`at` "push") or in the work they leave for after the picture (`at`
    "settle": the motion model's, `ModelEngine.settle`)."""
    made = 0
    fail = set()
    at = "push"

    def __init__(self):
        Exploding.made += 1
        self.inner = LoudnessEngine()
        self.fps = self.inner.fps
        self.lookahead_s = 0.0
        self.pushes = self.settles = 0
        self.doomed = Exploding.made in Exploding.fail

    def set_conditions(self, **kw):
        self.inner.set_conditions(**kw)

    def settle(self):
        self.settles += 1
        if self.doomed and Exploding.at == "settle" and self.settles == 20:
            raise FloatingPointError("features overflowed to NaN")
        self.inner.settle()

    def push(self, audio):
        self.pushes += 1
        if self.doomed and Exploding.at == "push" and self.pushes == 20:
            raise FloatingPointError("features overflowed to NaN")
        return self.inner.push(audio)


@pytest.mark.parametrize("at", ["push", "settle"])
def test_a_failing_engine_resets_its_stream_and_the_others_go_on(at):
    """Engines 1 (the main face's) and 3 (npc2's) fail mid-stream, in their frames or in the
    work left for after the picture: each of those streams is reset (counted, a stream_reset
    event) and goes on with no gap in its motion timeline; the main face loses no sound; npc1
    plays its whole clip untouched."""
    clock = FakeClock()
    Exploding.made, Exploding.fail, Exploding.at = 0, {1, 3}, at
    rec = Recorder(clock)
    audio = bursts(3.0)
    rt = Runtime(ServeConfig(stop_after_source=True, tail_s=0.0, frames=False), rec,
                 engine_factory=Exploding, main_source=ArraySource(audio),
                 clock=clock, sleep=clock.sleep)
    clip1 = bursts(2.0)
    Commands(rt).speak(clip1, RATE, "npc1")  # engine 2
    Commands(rt).speak(bursts(2.0), RATE, "npc2")  # engine 3: fails
    rt.run()
    for stream in ("default", "npc1", "npc2"):
        pts = [m[1] for m in rec.of("motion", stream)]
        assert pts == [int(round(j * 1e9 / 25)) for j in range(len(pts))], stream
        assert len(pts) >= 3 * 25 - 1, stream
    played = np.concatenate([m[3] for m in rec.of("audio")])
    np.testing.assert_array_equal(played[:len(audio)], audio)  # the main face lost no sound
    npc1 = np.concatenate([m[3] for m in rec.of("audio", "npc1")])
    np.testing.assert_array_equal(npc1[:len(clip1)], clip1)
    assert max(m[3]["jawOpen"] for m in rec.of("motion", "npc1")) > 0.2
    resets = [m for m in rec.sent if m[0] == "event" and m[3][0] == "stream_reset"]
    assert sorted(m[2] for m in resets) == ["default", "npc2"]
    assert all("overflowed to NaN" in m[3][1] and m[3][2]["stage"] == "engine" for m in resets)
    assert rt.stats.failures["engine"] == 2 and Commands(rt).status()["failures"] == {"engine": 2}
    assert rt.streams["npc2"].source.queued_samples == 0  # its clip went with the reset


# --- hostile input at the runtime's entry points --------------------------------------------


class NullPublisher(Recorder):
    def __init__(self):
        super().__init__(FakeClock())


def test_speak_refuses_samples_that_would_overflow_the_features():
    """Regression: finite float samples of 1e20 overflowed the features to NaN and `serve` exited
    after answering ok. Now speak refuses them (and NaN) with a clear error, counts them, clips
    what merely clips a little, and the runtime runs on."""
    from vasa_bridge.errors import AudioError
    rt = Runtime(ServeConfig(frames=False), NullPublisher(), engine_factory=LoudnessEngine)
    loud = np.full(1600, 1e20, np.float32)
    with pytest.raises(AudioError, match=r"peaks at 1e\+20: expected samples in \[-1, 1\]"):
        Commands(rt).speak(loud, RATE, "npc1")
    nan = bursts(0.5)
    nan[100] = np.nan
    with pytest.raises(AudioError, match="non-finite sample nan at index"):
        Commands(rt).speak(nan, RATE, "npc1")
    assert rt.stats.refused_clips == 2 and "npc1" not in rt.streams
    hot = np.full(1600, 1.5, np.float32)  # over full scale, not absurd: clipped
    assert Commands(rt).speak(hot, RATE, "npc1")["duration"] == pytest.approx(0.1)
    assert rt.streams["npc1"].source.read(0, 1600).max() == 1.0


def test_queued_audio_is_capped_per_stream_and_in_total():
    """Regression: 40 clips of 120 s were all accepted (78 minutes queued, +320 MB). Now a
    stream holds at most max_queued_s and all streams max_total_queued_s; beyond, `busy`."""
    from vasa_bridge.errors import BusyError
    rt = Runtime(ServeConfig(frames=False), NullPublisher(), engine_factory=LoudnessEngine)
    clip = np.zeros(120 * RATE, np.float32)
    answers = []
    for i in range(40):
        try:
            Commands(rt).speak(clip, RATE, f"npc{i % 3}")
            answers.append("ok")
        except BusyError as e:
            answers.append(str(e))
    assert answers[:5] == ["ok"] * 5  # 600 s: the total
    busy = answers[5:]  # each names the limit it would pass: the stream's (240 s) or the total
    assert all("limit of 600 s in total" in a or "limit of 240 s per stream" in a for a in busy)
    assert sum("in total" in a for a in busy) >= 10
    assert sum(st.source.queued_samples for st in rt.streams.values()) == 5 * 120 * RATE
    rt2 = Runtime(ServeConfig(frames=False), NullPublisher(), engine_factory=LoudnessEngine)
    Commands(rt2).speak(clip, RATE, "npc1")
    Commands(rt2).speak(clip, RATE, "npc1")
    with pytest.raises(BusyError, match=r"stream 'npc1' has 240\.0 s of audio queued; .* limit "
                                        r"of 240 s per stream"):
        Commands(rt2).speak(clip[:RATE], RATE, "npc1")
    assert Commands(rt2).speak(clip[:RATE], RATE, "npc2")["stream"] == "npc2"  # other streams still can
    assert rt2.stats.refused_clips == 1


@pytest.mark.slow
def test_a_nan_audio_message_to_audio_in_is_refused_and_counted(endpoint):
    """Regression: one NaN audio message to --audio-in made `serve` exit. Now it is refused,
    counted, and the next good clip plays."""
    import zmq
    from vasa_bridge.protocol import wire
    from vasa_bridge.transport.audio_in import AudioInlet
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "event"),
                                        stream="guard")) as sub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine)
        stop = threading.Event()
        worker = threading.Thread(target=rt.run, args=(stop,), daemon=True)
        worker.start()
        inlet_ep = endpoint.rsplit(":", 1)[0] + f":{int(endpoint.rsplit(':', 1)[1]) + 2}"
        inlet = AudioInlet(Commands(rt), inlet_ep)
        push = zmq.Context.instance().socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(inlet_ep)
        try:
            bad = bursts(1.0)
            bad[::7] = np.nan
            loud = np.full(RATE, 1e20, np.float32)
            for clip in (bad, loud, bursts(1.0)):
                push.send_multipart(wire.encode_audio(clip, stream="guard", seq=0, pts=0, sent=0,
                                                      rate=RATE, format="f32"))
            got = collect(sub, lambda g: sum(m.kind == "motion" for m in g) >= 30)
            motion = [m for m in got if m.kind == "motion"]
            assert len(motion) >= 30 and max(m.motion_frame()["jawOpen"] for m in motion) > 0.2
            assert inlet.clips == 1 and inlet.refused == 2 and rt.stats.refused_clips == 2
            assert worker.is_alive() and rt.stats.failures == {}
        finally:
            push.close(0)
            inlet.close()
            stop.set()
            worker.join(5)


def test_a_failing_renderer_or_sink_skips_and_is_counted():
    clock = FakeClock()
    calls = {"render": 0}

    class Flaky(CostlyRenderer):
        def render(self, state, motion):
            calls["render"] += 1
            if calls["render"] % 10 == 0:
                raise MemoryError("render buffer")
            return super().render(state, motion)

    class BadSink:
        def send(self, motion):
            raise OSError("VMC receiver went away")

        def close(self):
            pass

    rec = Recorder(clock)
    rt = Runtime(ServeConfig(stop_after_source=True, tail_s=0.0), rec,
                 engine_factory=LoudnessEngine, main_source=ArraySource(bursts(2.0)),
                 renderer=Flaky(clock, lambda t: 0.005), portrait=FakePortrait(256),
                 sinks=[BadSink()], clock=clock, sleep=clock.sleep)
    rt.run()
    n = len(rec.of("motion"))
    assert n >= 49 and rt.stats.frames_failed == calls["render"] // 10 >= 4
    assert len(rec.of("frame")) == calls["render"] - rt.stats.frames_failed
    assert rt.stats.failures["sink"] == n and rt.stats.failures["render"] >= 4
    errors = [m[3] for m in rec.of("event") if m[3][0] == "stream_error"]
    assert 2 <= len(errors) <= 4  # rate-limited: at most one a second per stream
    assert {e[2]["stage"] for e in errors} <= {"sink", "render"}
