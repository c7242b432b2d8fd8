"""Property tests of the viseme teacher on engine timelines and hand-made ones."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vasa_bridge.data.engines import Prosody, open_engine
from vasa_bridge.data.phonemes import PhonemeTimeline
from vasa_bridge.data.teacher import Speaker, TeacherConfig, teach, viseme_segments
from vasa_bridge.data.visemes import ARPABET, VISEME_INDEX, arpabet_to_visemes, ipa_to_visemes
from vasa_bridge.motion.names import INDEX

SENTENCES = ("Bob met my mom at the pub by the bay.",
             "Father saw a large apple, but why? Maybe it was Pam.",
             "Please put the map back, Amy!")


@pytest.fixture(scope="module")
def espeak():
    return open_engine("espeak")


def _utterances(espeak):
    voices = espeak.voices("en")
    for k, text in enumerate(SENTENCES):
        yield espeak.synth(text, voices[k * 7 % len(voices)], Prosody(rate=1.0 + 0.1 * k))


def _timeline(*segs, phoneset="arpabet"):
    return PhonemeTimeline.from_segments(segs, phoneset, merge_silence=False)


def test_tables_cover_the_cmu_phone_set():
    cmu = ("aa ae ah ao aw ay b ch d dh eh er ey f g hh ih iy jh k l m n ng ow oy p r s sh t th "
           "uh uw v w y z zh").split()
    for phone in cmu:
        assert phone in ARPABET, phone
    assert arpabet_to_visemes("AY1") == ("aa", "I")
    assert ipa_to_visemes("ˈaɪ") == ("aa", "I")
    assert ipa_to_visemes("tʃ") == ("CH",)
    assert ipa_to_visemes("m") == ("PP",)
    assert ipa_to_visemes("ʘ") == ("HH",)  # unknown symbols are transparent


def test_bilabials_reach_closure(espeak):
    checked = 0
    for utt in _utterances(espeak):
        for seed in range(3):
            track = teach(utt.phonemes, utt.audio, seed=seed)
            t = track.times
            jaw = track.blendshapes[:, INDEX["jawOpen"]]
            gap = jaw - track.blendshapes[:, INDEX["mouthClose"]]
            press = track.blendshapes[:, INDEX["mouthPressLeft"]]
            vis, starts, ends = viseme_segments(utt.phonemes)
            for s, e in zip(starts[vis == VISEME_INDEX["PP"]], ends[vis == VISEME_INDEX["PP"]]):
                # the lips lead the audio by up to ~60 ms; allow one frame either side
                win = (t >= s - 0.06 - 1 / track.fps) & (t <= e + 1 / track.fps)
                assert win.any()
                sealed = (gap[win] <= 0.01) & (jaw[win] <= 0.1) & (press[win] >= 0.2)
                assert sealed.any(), (utt.text, s, e, gap[win], jaw[win])
                checked += 1
    assert checked >= 20


def test_open_vowels_open_the_jaw(espeak):
    # hand-made: a long /aa/ between silences opens the jaw far more than /m/ or /iy/
    tl = _timeline(("sil", 0, 0.5), ("aa", 0.5, 0.8), ("sil", 0.8, 1.5), ("m", 1.5, 1.65),
                   ("sil", 1.65, 2.3), ("iy", 2.3, 2.55), ("sil", 2.55, 3.2))
    track = teach(tl, None, config=TeacherConfig(nonverbal=0.0), seed=1)
    jaw = track.blendshapes[:, INDEX["jawOpen"]]
    t = track.times
    assert jaw[(t > 0.5) & (t < 0.8)].max() >= 0.4
    assert jaw[(t > 1.4) & (t < 1.7)].max() <= 0.1
    assert jaw[(t > 2.2) & (t < 2.6)].max() < jaw[(t > 0.5) & (t < 0.8)].max() - 0.2
    # engine timelines: every long open vowel opens the jaw more than the clip's bilabials
    for utt in _utterances(espeak):
        track = teach(utt.phonemes, utt.audio, seed=4)
        jaw, t = track.blendshapes[:, INDEX["jawOpen"]], track.times
        vis, starts, ends = viseme_segments(utt.phonemes)
        open_vowel = vis == VISEME_INDEX["aa"]
        for s, e in zip(starts[open_vowel], ends[open_vowel]):
            if e - s >= 0.1:
                assert jaw[(t >= s - 0.04) & (t <= e)].max() >= 0.25, (utt.text, s)


def test_silence_relaxes():
    tl = _timeline(("sil", 0, 0.2), ("b", 0.2, 0.3), ("aa", 0.3, 0.6), ("m", 0.6, 0.7),
                   ("sil", 0.7, 3.7), ("w", 3.7, 3.8), ("uw", 3.8, 4.1), ("sil", 4.1, 4.5))
    for seed in range(5):
        track = teach(tl, None, seed=seed)
        t = track.times
        rest = (t > 1.3) & (t < 3.2)
        mouth = [INDEX[n] for n in INDEX if n.startswith(("mouth", "jaw", "tongue"))]
        assert track.blendshapes[np.ix_(rest, [INDEX["jawOpen"]])].max() < 0.05
        assert track.blendshapes[np.ix_(rest, mouth)].max() <= 0.12
        speaking = (t > 0.3) & (t < 0.6)
        assert track.blendshapes[speaking, INDEX["jawOpen"]].max() > 0.3


def _blink_onsets(track) -> int:
    lid = track.blendshapes[:, INDEX["eyeBlinkLeft"]] > 0.5
    return int(np.sum(lid[1:] & ~lid[:-1]) + lid[0])


def test_blink_rate_is_plausible():
    # two minutes of 3 s phrases with 0.6 s pauses
    segs, t = [], 0.0
    while t < 120:
        segs += [("aa", t, t + 1.5), ("m", t + 1.5, t + 1.6), ("iy", t + 1.6, t + 3.0),
                 ("sil", t + 3.0, t + 3.6)]
        t += 3.6
    tl = _timeline(*segs)
    rates = []
    for seed in range(8):
        track = teach(tl, None, seed=seed)
        rate = _blink_onsets(track) / (track.duration / 60)
        assert 6 <= rate <= 45, rate
        rates.append(rate)
    assert 12 <= np.mean(rates) <= 32, rates
    # blinks cluster at phrase ends: more blink onsets within 0.4 s after a phrase end than chance
    track = teach(tl, None, seed=0)
    lid = track.blendshapes[:, INDEX["eyeBlinkLeft"]] > 0.5
    onsets = track.times[1:][lid[1:] & ~lid[:-1]]
    after_end = np.mod(onsets - 3.0, 3.6) < 0.4
    assert after_end.mean() > 0.4 / 3.6 * 1.5


def test_questions_raise_the_brows_and_nonverbal_off_is_still(espeak):
    tl = _timeline(("sil", 0, 0.3), ("w", 0.3, 0.4), ("ay", 0.4, 0.8), ("sil", 0.8, 1.5))
    ask = teach(tl, None, seed=3, question=True)
    say = teach(tl, None, seed=3, question=False)
    end = (ask.times > 0.5) & (ask.times < 1.0)
    assert ask.blendshapes[end, INDEX["browInnerUp"]].mean() > \
        say.blendshapes[end, INDEX["browInnerUp"]].mean() + 0.1
    utt = next(_utterances(espeak))
    moving = teach(utt.phonemes, utt.audio, seed=2)
    assert moving.head_rotation.std(axis=0).max() > 0.3
    still = teach(utt.phonemes, utt.audio, seed=2, config=TeacherConfig(nonverbal=0.0))
    assert np.all(still.head_rotation == 0)
    assert np.all(still.blendshapes[:, INDEX["eyeBlinkLeft"]] == 0)


def test_seeded_and_speaker_strength(espeak):
    utt = next(_utterances(espeak))
    a = teach(utt.phonemes, utt.audio, seed=11)
    b = teach(utt.phonemes, utt.audio, seed=11)
    c = teach(utt.phonemes, utt.audio, seed=12)
    assert a == b
    assert not np.array_equal(a.blendshapes, c.blendshapes)
    rng = np.random.default_rng(0)
    base = Speaker.draw(rng, TeacherConfig(speaker_jitter=0.0))
    weak = teach(utt.phonemes, None, speaker=Speaker(**{**base.__dict__, "articulation": 0.6}))
    strong = teach(utt.phonemes, None, speaker=Speaker(**{**base.__dict__, "articulation": 1.2}))
    j = INDEX["jawOpen"]
    assert strong.blendshapes[:, j].mean() > weak.blendshapes[:, j].mean() * 1.5
    assert len(a) == int(np.ceil(utt.duration * 25 - 1e-9))


labels = st.sampled_from(["sil", "aa", "m", "f", "th", "uw", "iy", "s", "k", "ow", "hh", "zz"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(labels, st.floats(0.005, 0.6)), min_size=1, max_size=30),
       st.integers(0, 2**31 - 1), st.sampled_from([10.0, 25.0, 60.0]))
def test_any_timeline_gives_a_valid_track(segments, seed, fps):
    segs, t = [], 0.0
    for lab, d in segments:
        segs.append((lab, t, t + d))
        t += d
    tl = _timeline(*segs)
    track = teach(tl, None, seed=seed, config=TeacherConfig(fps=fps))  # MotionTrack validates
    assert len(track) == max(1, int(np.ceil(tl.duration * fps - 1e-9)))
    assert np.all(track.blendshapes >= 0) and np.all(track.blendshapes <= 1)
