import numpy as np
import pytest

from vasa_bridge.audio.ringbuffer import RingBuffer
from vasa_bridge.errors import ConfigError
from vasa_bridge.motion import MotionFrame
from vasa_bridge.runtime.idle import IdleConfig, IdleLife
from vasa_bridge.audio.gate import GateConfig, SpeechGate
from vasa_bridge.runtime.speech import blend


def test_ring_buffer_reads_fixed_hops_in_order_across_the_wrap():
    rb = RingBuffer(100)
    data = np.arange(1010, dtype=np.float32)
    out = []
    for i in range(0, 1010, 37):  # odd-sized writes, fixed 40-sample reads
        rb.write(data[i:i + 37])
        while (hop := rb.read(40)) is not None:
            out.append(hop)
    got = np.concatenate(out)
    np.testing.assert_array_equal(got, data[:len(got)])
    assert len(got) == 1000 and rb.available == 10 and rb.overflowed == 0


def test_ring_buffer_overflow_drops_oldest_and_counts():
    rb = RingBuffer(10)
    rb.write(np.arange(25, dtype=np.float32))
    assert rb.overflowed == 15 and rb.available == 10
    np.testing.assert_array_equal(rb.read(10), np.arange(15, 25))
    assert rb.read(1) is None
    assert rb.total_read == 25  # media position includes what was skipped
    with pytest.raises(ConfigError, match="capacity is 0"):
        RingBuffer(0)


def test_idle_life_blinks_at_a_human_rate_and_moves():
    idle = IdleLife(IdleConfig(fps=25.0), seed=3)
    frames = [idle.frame(i) for i in range(25 * 60)]
    blink = np.array([f["eyeBlinkLeft"] for f in frames])
    starts = np.sum((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    assert 8 <= starts <= 30  # blinks per minute: people blink ~15-20
    yaw = np.array([f.head_rotation[1] for f in frames])
    assert yaw.std() > 0.3 and np.abs(yaw).max() < 5  # alive, not wild
    steps = np.abs(np.diff(np.array([f.head_rotation for f in frames]), axis=0))
    assert steps.max() < 0.5  # degrees per frame: drift, not jitter
    assert all(f["jawOpen"] == 0 for f in frames)


def test_idle_life_is_seeded():
    a = [IdleLife(seed=1).frame(i) for i in range(200)]
    b = [IdleLife(seed=1).frame(i) for i in range(200)]
    c = [IdleLife(seed=2).frame(i) for i in range(200)]
    assert a == b and a != c


def tone(seconds, level, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_speech_gate_opens_holds_through_pauses_and_ramps():
    gate = SpeechGate(GateConfig(hangover_s=0.3, ramp_s=0.12))
    hop = 0.04
    events, weights = [], []
    signal = np.concatenate([tone(0.4, 0.0), tone(1.0, 0.3), tone(0.2, 0.0), tone(0.6, 0.3),
                             tone(1.0, 0.0)])
    for i in range(0, len(signal), 640):
        ev = gate.update(signal[i:i + 640], hop)
        if ev:
            events.append((round(i / 16000, 2), ev))
        weights.append(gate.weight)
    assert [e for _, e in events] == ["speech_start", "speech_end"]  # the 0.2 s pause is held
    assert events[0][0] == pytest.approx(0.4, abs=0.05)
    assert events[1][0] == pytest.approx(2.2 + 0.3, abs=0.1)
    w = np.array(weights)
    assert np.abs(np.diff(w)).max() <= hop / 0.12 + 1e-9  # no jump: eased in and out
    assert w[-1] == 0.0 and w.max() == 1.0


def test_blend_eases_from_idle_to_speech_and_keeps_idle_blinks():
    idle = MotionFrame.from_named({"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
                                  head_rotation=(0, 10, 0))
    speech = MotionFrame.from_named({"jawOpen": 0.8}, head_rotation=(0, 0, 0), time=1.0)
    half = blend(idle, speech, 0.5)
    assert half["jawOpen"] == pytest.approx(0.4)
    assert half.head_rotation[1] == pytest.approx(5.0, abs=1e-4)
    assert half["eyeBlinkLeft"] == 1.0  # a blink is not halved by talking
    assert blend(idle, speech, 0.0) == MotionFrame(idle.blendshapes, idle.head_rotation,
                                                   idle.head_translation, 0.0)
    full = blend(idle, speech, 1.0)
    assert full["jawOpen"] == pytest.approx(0.8) and full["eyeBlinkLeft"] == 1.0
    pause = blend(idle, MotionFrame.neutral(time=1.0), 1.0)  # talking, a still frame: blinks stay
    assert pause["eyeBlinkLeft"] == 1.0 and pause["eyeBlinkRight"] == 1.0


def test_check_clip_refuses_what_would_break_the_features_and_clips_the_rest():
    import pytest
    from vasa_bridge.audio.sources import check_clip
    from vasa_bridge.errors import AudioError
    ok = check_clip(np.array([[0.5, -0.5], [1.2, 1.4]], np.float32), 16000)  # stereo, hot
    np.testing.assert_allclose(ok, [0.0, 1.0])
    assert check_clip(np.array([16384, -32768], np.int16), 8000).tolist() == [0.5, -1.0]
    mine = np.array([1.5, 0.25], np.float32)
    mine.flags.writeable = False  # e.g. np.frombuffer of a request: never written to
    assert check_clip(mine, 16000).tolist() == [1.0, 0.25] and mine[0] == 1.5
    for bad, what in ((np.array([0.1, 1e20], np.float32), r"peaks at 1e\+20"),
                      (np.array([0.1, np.inf], np.float32), "non-finite sample inf"),
                      (np.zeros(0, np.float32), "empty"),
                      (np.zeros((4, 12), np.float32), "transpose")):
        with pytest.raises(AudioError, match=what):
            check_clip(bad, 16000)
    with pytest.raises(AudioError, match="sample rate is 1 Hz"):
        check_clip(np.zeros(10, np.float32), 1)


def test_clean_samples_zeroes_non_finite_and_clips_live_blocks():
    from vasa_bridge.audio.sources import clean_samples
    block = np.array([0.2, np.nan, -np.inf, 3.0, -0.5], np.float32)
    out, bad = clean_samples(block)
    assert bad == 3 and out.tolist() == [np.float32(0.2), 0.0, 0.0, 1.0, -0.5]
    same, none = clean_samples(np.array([0.1, -0.1], np.float32))
    assert none == 0 and same.tolist() == [np.float32(0.1), np.float32(-0.1)]


def test_clip_queue_clear_drops_everything_queued():
    from vasa_bridge.audio.sources import ClipQueue
    q = ClipQueue()
    q.add(np.ones(100, np.float32))
    q.add(np.ones(50, np.float32))
    assert q.read(0, 30).sum() == 30
    assert q.clear() == 120 and not q.busy
    assert q.read(30, 60).sum() == 0
    assert q.add(np.ones(10, np.float32)) == 0.0 and q.read(60, 70).sum() == 10
