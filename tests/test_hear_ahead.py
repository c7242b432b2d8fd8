"""`serve --mic --hear-ahead`: the live face played a few seconds late, each phrase of the voice
heard whole before it plays (audio/ahead.py). A microphone is hardware we lack here: the
capture is a fake with MicSource's reading and pacing, everything after it is real."""

import threading

import numpy as np
import pytest

from conftest import sphinx_recording
from vasa_bridge.audio.sources import RATE
from vasa_bridge.errors import ConfigError
from vasa_bridge.audio.ahead import MAX_PHRASE_S, PRE_ROLL_S, DelayLine, Phrases

HOP = RATE // 25
goforward = sphinx_recording  # "go forward ten meters", a real voice


class FakeMic:
    """MicSource's reading (each span once, in order) and pacing, from an array; `hold()` True
    makes the loop wait (the hearing thread catching up, as real time would let it)."""

    def __init__(self, audio, limit, hold=lambda: False):
        self.audio, self.limit, self.hold, self.runtime = audio, limit, hold, None
        self.read_to = 0

    def read(self, start, end):
        assert start == self.read_to, (start, self.read_to)  # a capture is read once, in order
        self.read_to = end
        out = np.zeros(end - start, np.float32)
        got = self.audio[start:end]
        out[:len(got)] = got
        return out

    def start(self):
        pass

    def wait_s(self, end):
        if end > self.limit:
            self.runtime.stop()
        return 0.01 if self.hold() else 0.0

    def due(self, end):
        return 0.0

    def capture_delay_s(self):
        return 0.02


def _play_late(audio, delay, publisher, engine_factory, hear):
    """`audio` into the fake capture, played `delay` s late through a whole runtime, each
    phrase heard by `hear` (`Runtime.hear_piece`) while it waits; the loop waits for the hearing
    thread (as real time would let it). Returns the runtime, stopped."""
    from vasa_bridge.runtime.serve import Runtime, ServeConfig

    rt = None
    mic = FakeMic(audio, len(audio) + int(delay * RATE),
                  hold=lambda: not all(getattr(m, "done", True) for m in rt.main.mouths))
    line = DelayLine(mic, delay)
    rt = Runtime(ServeConfig(frames=False), publisher, engine_factory=engine_factory,
                 main_source=line, pacer=line)
    mic.runtime = rt
    line.on_fresh = Phrases(lambda x, s: rt.hear_piece(x, s + line.delay, hear))
    worker = threading.Thread(target=rt.run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    return rt


def test_the_delay_line_plays_the_capture_late_and_shows_the_fresh_sound():
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * RATE).astype(np.float32)
    seen = []
    line = DelayLine(FakeMic(audio, 10 * RATE), 0.5, lambda x, s: seen.append((s, x.copy())))
    out = np.concatenate([line.read(k, k + HOP) for k in range(0, 3 * RATE, HOP)])
    np.testing.assert_array_equal(out[:RATE // 2], 0.0)  # before the capture began
    np.testing.assert_array_equal(out[RATE // 2:], audio[:-RATE // 2])
    np.testing.assert_array_equal(np.concatenate([x for _, x in seen]), audio)  # fresh, in order
    assert [s for s, _ in seen] == list(range(0, 3 * RATE, HOP))
    assert line.capture_delay_s() == pytest.approx(0.52)  # latency figures count the delay
    assert line._line.available <= RATE // 2  # only what has yet to play is kept
    with pytest.raises(ValueError, match="expected the next span"):
        line.read(0, HOP)
    with pytest.raises(ValueError, match="at most 1 s"):  # a span the line cannot hold beside
        line.read(3 * RATE, 5 * RATE)
    with pytest.raises(ValueError, match="at most 4 s"):
        DelayLine(FakeMic(audio, 0), 5.0)


def test_phrases_are_cut_at_the_gates_pauses_with_their_onset():
    voice = goforward()
    gap = np.zeros(RATE, np.float32)
    audio = np.concatenate([gap, voice, gap, voice, gap])
    got = []
    cut = Phrases(lambda x, s: got.append((s, len(x))))
    for k in range(0, len(audio) - HOP + 1, HOP):
        cut(audio[k:k + HOP], k)
    assert len(got) == 2  # one phrase per sentence
    level = np.abs(voice) > 0.02
    onset = int(np.argmax(level))
    for (start, n), at in zip(got, (RATE, 2 * RATE + len(voice))):
        # from about PRE_ROLL_S before the voice (the gate opens a little before |x| > 0.02) ...
        roll = at + onset - PRE_ROLL_S * RATE
        assert roll - 0.2 * RATE <= start <= roll + HOP, (start, roll)
        assert start + n >= at + len(np.trim_zeros(level, "b"))  # ... to the end of the speech
    long = np.tile(voice[int(0.4 * RATE):int(2.6 * RATE)], 6)  # 13 s without a pause
    got.clear()
    cut = Phrases(lambda x, s: got.append((s, len(x))))
    for k in range(0, len(long) - HOP + 1, HOP):
        cut(long[k:k + HOP], k)
    assert got and got[0][1] <= MAX_PHRASE_S * RATE + HOP  # cut at the longest phrase


def test_serve_config_refuses_hear_ahead_without_a_microphone():
    from vasa_bridge.runtime.serve import ServeConfig
    from vasa_bridge.session import SessionConfig
    with pytest.raises(ConfigError, match="needs --mic"):
        SessionConfig(serve=ServeConfig(), hear_ahead=2.0)
    with pytest.raises(ConfigError, match="at most 4 s"):
        SessionConfig(serve=ServeConfig(), mic="default", hear_ahead=6.0)


def test_a_voice_heard_ahead_plays_late_with_the_mouth_of_its_words():
    """A real voice into the (fake) microphone with a 4 s delay: the published sound is the
    voice 4 s late, sample for sample, and while it plays the mouth is its words' (heard once
    the phrase ended, before it played): the /m/ of "meters" sealed, the jaw the teacher's."""
    from test_transcript import RecordingPublisher, sealed

    from vasa_bridge.data.align import align_scored
    from vasa_bridge.model.config import JAW
    from vasa_bridge.model.transcript import teacher_mouth_at
    from vasa_bridge.runtime.engine import LoudnessEngine

    class AligningBaker:  # the recogniser's part: the phrase's true words, force-aligned
        fps = 25.0
        asked = []

        def hear_words(self, audio, language="en"):
            self.asked.append(len(audio))
            return align_scored(audio, "go forward ten meters")[0]

    class Published(RecordingPublisher):
        def __init__(self):
            super().__init__()
            self.sound = []

        def audio(self, samples, *, pts, rate, stream="default"):
            self.sound.append(np.asarray(samples, np.float32))

    voice = goforward()
    audio = np.concatenate([np.zeros(RATE // 5, np.float32), voice, np.zeros(RATE, np.float32)])
    delay = 4.0
    pub = Published()
    baker = AligningBaker()
    _play_late(audio, delay, pub, LoudnessEngine, baker.hear_words)
    assert len(baker.asked) == 1 and 2 * RATE < baker.asked[0] < len(voice) + RATE  # the phrase
    sound = np.concatenate(pub.sound)
    d = int(delay * RATE)
    np.testing.assert_array_equal(sound[:d], 0.0)
    np.testing.assert_array_equal(sound[d:d + len(audio)], audio[:len(sound) - d])
    shapes = np.stack([f.blendshapes for s, _, f in pub.motion_frames if s == "default"])
    timeline = align_scored(audio, "go forward ten meters")[0]  # on the voice's own clock
    first = d // HOP + RATE // 5 // HOP
    n = len(voice) // HOP
    clip = shapes[first:first + n]
    ref = teacher_mouth_at(timeline, (first + np.arange(n)) / 25.0 - delay)
    assert np.corrcoef(clip[:, JAW], ref[:, JAW])[0, 1] > 0.97
    shifted = type(timeline).from_segments(
        [(lab, s + delay - first / 25.0, e + delay - first / 25.0)
         for lab, s, e in zip(timeline.labels, timeline.starts, timeline.ends)
         if e + delay - first / 25.0 > 0], "arpabet")
    assert sealed(clip, shifted, 25.0) == (1, 1)


def test_a_phrase_whose_words_are_not_trusted_steers_the_engine_with_its_phones():
    """The phrase's words are not trusted with the seals, but its phones were heard
    (`phones.HeardPhones`, as `ClipBaker.hear_phrase` gives them): they go to the main engine
    (`ModelEngine.hear_phrase`) as the mouth of the phrase's frames, delay and all, before those
    frames play; no whole mouth is laid over the engine's."""
    from vasa_bridge.model.phones import HeardPhones, PhoneRecognizer
    from vasa_bridge.runtime.engine import LoudnessEngine
    from test_transcript import RecordingPublisher

    steered = []

    pub = RecordingPublisher()

    class SteeredEngine(LoudnessEngine):
        def hear_phrase(self, overlay):
            steered.append((len(pub.motion_frames), overlay))  # frames published by then

    class PhonesBaker:
        asked = []

        def hear_phrase(self, audio, language="en"):
            self.asked.append(len(audio))
            return HeardPhones(PhoneRecognizer().hear(audio).timeline)

    voice = goforward()
    audio = np.concatenate([np.zeros(RATE // 5, np.float32), voice, np.zeros(RATE, np.float32)])
    delay = 4.0
    baker = PhonesBaker()
    rt = _play_late(audio, delay, pub, SteeredEngine, baker.hear_phrase)
    assert len(baker.asked) == 1 and len(steered) == 1
    at, overlay = steered[0]
    # the phrase's frames: from the voice's onset (less the pre-roll) to its end, 4 s late
    level = np.abs(voice) > 0.02
    onset = RATE // 5 + int(np.argmax(level)) - PRE_ROLL_S * RATE
    first = delay * 25 + onset / HOP
    assert first - 6 <= overlay.first <= first + 1, (overlay.first, first)
    assert overlay.end >= delay * 25 + (RATE // 5 + len(np.trim_zeros(level, "b"))) / HOP
    assert at < overlay.first  # heard before its first frame played
    from vasa_bridge.model.config import JAW
    assert np.ptp(overlay.shapes[:, JAW]) > 0.15  # jawOpen moves with the phones (not blank)
    assert all(m.overlay is None for m in rt.main.mouths)  # no words' mouth laid over it


def test_a_phrase_whose_phones_cannot_reach_the_engine_plays_on_with_the_live_mouth(caplog):
    """`PhraseMouth.fill` on the hearing thread: an engine that fails to take the phrase's
    phones leaves the live mouth (a warning that says so), and the thread goes on (the loop waits
    for `done`); words trusted with the seals give the mouth whole, as a clip's."""
    from vasa_bridge.data.phonemes import PhonemeTimeline
    from vasa_bridge.model.phones import HeardPhones
    from vasa_bridge.model.transcript import PhraseMouth

    timeline = PhonemeTimeline.from_segments([("M", 0.0, 0.2), ("AA", 0.2, 0.5)], "arpabet")

    def broken(overlay):
        raise RuntimeError("engine gone")

    late = PhraseMouth(RATE, RATE // 2, RATE, 25.0, broken)
    late.fill(HeardPhones(timeline))
    assert late.done and late.overlay is None
    assert "did not reach the live mouth (RuntimeError('engine gone'))" in caplog.text
    got = []
    late = PhraseMouth(RATE, RATE // 2, RATE, 25.0, got.append)
    late.fill(HeardPhones(timeline))
    assert late.overlay is None and len(got) == 1 and got[0].first == 25 and got[0].end == 38
    words = PhraseMouth(RATE, RATE // 2, RATE, 25.0, got.append)
    words.fill(timeline)
    assert words.overlay is not None and len(got) == 1
