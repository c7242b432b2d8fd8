"""The phone layer (model/phones.py): phones recognised in real voices steer the mouth, offline
(bake) and live (serve's ModelEngine), English only, and never in the way of the rest."""

import numpy as np
import pytest

from conftest import sphinx_recording
from vasa_bridge.errors import ConfigError, DataError
from vasa_bridge.model.config import JAW
from vasa_bridge.model.acoustic_mouth import heard_aperture
from vasa_bridge.model.phones import (LivePhones, PhoneConfig, PhoneRecognizer, blend,
                                      live_track, phones_for, with_heard_aperture)
from vasa_bridge.model.transcript import MODEL_CHANNELS, teacher_mouth_at
from vasa_bridge.motion.names import INDEX

pytest.importorskip("pocketsphinx")

FPS = 25.0
goforward = sphinx_recording  # pocketsphinx-testdata's "go forward ten meters" (a real voice)


def aligned_mouth(audio, text, n):
    from vasa_bridge.data.align import align
    return teacher_mouth_at(align(audio, text), np.arange(n) / FPS)


def test_recognised_phones_of_a_real_voice_give_the_aligned_mouth_shape():
    audio = goforward()
    # the phone loop (live, and offline where no word fits): the words' own test is below
    timeline = PhoneRecognizer(PhoneConfig(words=False)).timeline(audio)
    assert timeline.phoneset == "arpabet"
    assert timeline.ends[-1] == pytest.approx(len(audio) / 16000, abs=0.011)
    speech = [lab for lab in timeline.labels if lab != "sil"]
    assert 8 <= len(speech) <= 40 and {"f", "r"} & set(speech)
    n = int(len(audio) / 16000 * FPS)
    heard = teacher_mouth_at(timeline, np.arange(n) / FPS)
    ref = aligned_mouth(audio, "go forward ten meters", n)
    assert np.corrcoef(heard[:, JAW], ref[:, JAW])[0, 1] > 0.8
    # and silence is heard as silence: the mouth stays shut
    quiet = PhoneRecognizer().timeline(np.zeros(16000, np.float32))
    assert set(quiet.labels) == {"sil"}


def test_blend_takes_articulation_from_the_phones_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    model = rng.random((10, 52)).astype(np.float32)
    phones = rng.random((10, 52)).astype(np.float32)
    out = blend(model, phones, PhoneConfig(teacher_weight=0.25))
    np.testing.assert_array_equal(out[:, MODEL_CHANNELS], model[:, MODEL_CHANNELS])
    funnel = INDEX["mouthFunnel"]
    np.testing.assert_array_equal(out[:, funnel], phones[:, funnel])
    np.testing.assert_allclose(out[:, JAW], 0.25 * phones[:, JAW] + 0.75 * model[:, JAW],
                               rtol=1e-6)
    known = np.arange(10) >= 4
    part = blend(model, phones, known=known)
    np.testing.assert_array_equal(part[:4], model[:4])
    assert not np.array_equal(part[4:], model[4:])


def test_words_that_fit_closely_give_the_baked_mouth_whole():
    """A real voice whose recognised words fit closely ("go forward ten meters", words fit over
    `seal_min_fit`): the baked mouth is the teacher's on the words, jaw and lip seal too, as a
    clip played to the live face gets it; head, eyes, brows and expression stay the model's.
    Words not trusted with the seals (`seal_min_fit=None`) are blended: half the jaw; and then
    `acoustic_weight` of the lip aperture is what the acoustic head hears, as live."""
    from vasa_bridge.model.phones import apply_phones
    from vasa_bridge.model.transcript import TEACHER_CHANNELS
    audio = goforward()
    n = int(len(audio) / 16000 * FPS)
    rec = PhoneRecognizer()
    heard = rec.hear(audio)
    assert heard.words_fit >= PhoneConfig().seal_min_fit
    words = teacher_mouth_at(heard.timeline, np.arange(n) / FPS)
    model = np.random.default_rng(4).uniform(0, 1, (n, 52)).astype(np.float32)
    out = apply_phones(model, audio, 16000, FPS, recognizer=rec)
    np.testing.assert_allclose(out[:, TEACHER_CHANNELS], words[:, TEACHER_CHANNELS], atol=1e-6)
    assert JAW in TEACHER_CHANNELS and INDEX["mouthClose"] in TEACHER_CHANNELS
    np.testing.assert_array_equal(out[:, MODEL_CHANNELS], model[:, MODEL_CHANNELS])
    loose = apply_phones(model, audio, 16000, FPS, PhoneConfig(seal_min_fit=None,
                                                               acoustic_weight=0.0), rec)
    np.testing.assert_allclose(loose[:, JAW], 0.5 * (words[:, JAW] + model[:, JAW]), rtol=1e-6)
    heard = apply_phones(model, audio, 16000, FPS, PhoneConfig(seal_min_fit=None), rec)
    np.testing.assert_allclose(heard, with_heard_aperture(
        loose, heard_aperture(audio, 16000, n, FPS), PhoneConfig().acoustic_weight), atol=1e-6)
    assert np.abs(heard[:, JAW] - loose[:, JAW]).max() > 0.05


def test_a_seal_is_left_to_the_head_unless_it_lies_between_sounds():
    """Where the blend seals the lips (gap under 0.1) and the acoustic head hears them apart,
    the seal is kept only on frames between sounds; where the head too hears them sealed, or
    with no `seal_between`, it is kept everywhere."""
    shapes = np.zeros((3, 52), np.float32)
    shapes[:, JAW], shapes[:, INDEX["mouthClose"]] = 0.3, 0.25  # gap 0.05: sealed
    heard = np.array([[0.4, 0.0], [0.4, 0.0], [0.3, 0.25]], np.float32)  # apart, apart, sealed
    kept = with_heard_aperture(shapes, heard, 0.67)
    out = with_heard_aperture(shapes, heard, 0.67, seal_between=np.array([True, False, False]))
    gap = out[:, JAW] - out[:, INDEX["mouthClose"]]
    assert np.allclose(kept[:, JAW] - kept[:, INDEX["mouthClose"]], 0.05)
    assert abs(gap[0] - 0.05) < 1e-6 and abs(gap[2] - 0.05) < 1e-6
    assert gap[1] > 0.2  # parted: 0.33 x 0.05 + 0.67 x 0.4
    np.testing.assert_array_equal(out[[0, 2]], kept[[0, 2]])


def test_frames_between_sounds_are_told_from_a_voices_onset_and_end():
    """`LivePhones.between_sounds`: a 10 ms frame loud (within 30 dB of the loudest so far)
    within 80 ms before the frame and one within 80 ms after it. A quiet room, a burst, a 60 ms
    gap, a burst, a pause, a burst, a pause: the gap is between sounds; the end of the second
    burst, the pauses and the third burst's onset are not. Before anything louder has been
    heard the room's own noise is the loudest so far, so the first onset keeps its seal, as
    every seal was kept before. A stream that has not heard past the frame says nothing, and
    with the rule off (None) neither."""
    rng = np.random.default_rng(0)

    def noise(s, db):
        return (rng.standard_normal(int(s * 16000)) * 10 ** (db / 20)).astype(np.float32)
    # 0-0.5 quiet, 0.5-0.8 loud, 0.8-0.86 gap, 0.86-1.16 loud, 1.16-1.66 quiet, 1.66-1.96
    # loud, 1.96-2.46 quiet
    audio = np.concatenate([noise(0.5, -70), noise(0.3, -20), noise(0.06, -70),
                            noise(0.3, -20), noise(0.5, -70), noise(0.3, -20), noise(0.5, -70)])
    live = LivePhones(FPS, PhoneConfig(acoustic_weight=0.0))
    assert live.between_sounds(0) is None  # nothing heard yet
    live.push(audio)
    assert live.between_sounds(21) is True  # 0.84 s, in the gap
    assert live.between_sounds(5) is True  # the quiet room before any louder sound
    for t in (1.16, 1.4, 1.64, 2.2):  # the second burst's end, a pause, an onset, a pause
        assert live.between_sounds(int(round(t * FPS))) is False, t
    off = LivePhones(FPS, PhoneConfig(acoustic_weight=0.0, seal_between_db=None))
    off.push(audio)
    assert off.between_sounds(21) is None
    with pytest.raises(DataError, match="seal_between_db is 0.5: expected 1..80 dB"):
        PhoneConfig(seal_between_db=0.5)


def test_offline_phones_follow_the_recognised_words():
    """Offline the recogniser also hears words (pocketsphinx's English language model) and the
    phones are their forced alignment; where they do not align, the phone loop's phones and
    `apply_phones` keeps the model's mouth, with the lip aperture the acoustic head hears."""
    from vasa_bridge.model.phones import apply_phones
    audio = goforward()
    rec = PhoneRecognizer()
    heard = rec.hear(audio)
    assert heard.words == "go forward ten meters" and heard.words_fit > -14
    n = int(len(audio) / 16000 * FPS)
    ref = aligned_mouth(audio, "go forward ten meters", n)
    np.testing.assert_allclose(teacher_mouth_at(heard.timeline, np.arange(n) / FPS), ref,
                               atol=1e-5)  # the words' alignment, exactly
    loop = PhoneRecognizer(PhoneConfig(words=False)).hear(audio)
    assert loop.fit == heard.fit and loop.words is None
    assert not np.allclose(teacher_mouth_at(loop.timeline, np.arange(n) / FPS), ref)

    class Refuses:
        def align(self, audio, text):
            raise DataError("pocketsphinx could not align the recording to its transcript")
    rec._aligner = Refuses()
    fallback = rec.hear(audio)
    assert fallback.words is None and fallback.timeline.labels == loop.timeline.labels
    shapes = np.random.default_rng(2).uniform(0, 1, (n, 52)).astype(np.float32)
    out = apply_phones(shapes, audio, 16000, FPS, recognizer=rec)
    np.testing.assert_allclose(out, with_heard_aperture(
        shapes, heard_aperture(audio, 16000, n, FPS), PhoneConfig().acoustic_weight), atol=1e-6)
    off = apply_phones(shapes, audio, 16000, FPS, PhoneConfig(acoustic_weight=0.0), rec)
    assert np.array_equal(off, shapes)


def test_words_heard_in_a_few_places_of_a_sentence_are_not_its_transcript(monkeypatch):
    """A search that hears a few words of a sentence (espeak-ng's zac saying "Bob bought a map
    of Boston, maybe more maps by May." was heard as "or are we", which aligned closely and
    shut the mouth over the rest) does not give the mouth: its words hold under half the voiced
    frames. Here the search of "go forward ten meters" is made to hear only "ten"; the whole
    sentence's words hold nearly all the voiced frames and are kept."""
    import vasa_bridge.model.phones as phones
    from vasa_bridge.model.phones import _covered, _levels
    real = goforward()
    voiced = _levels(real) >= -42.0
    kept = PhoneRecognizer().hear(real)
    assert kept.words == "go forward ten meters"
    assert _covered(kept.timeline, voiced) > 0.85
    everything = phones.searched_words(real)
    monkeypatch.setattr(phones, "searched_words",
                        lambda audio: [w for w in everything if w[0] == "ten"])
    loose = PhoneRecognizer(PhoneConfig(words_min_cover=0.0)).hear(real)
    assert loose.words == "ten" and loose.words_fit > PhoneConfig().words_min_fit
    assert _covered(loose.timeline, voiced) < 0.5
    heard = PhoneRecognizer().hear(real)
    assert heard.words is None and heard.fit == loose.fit == kept.fit
    with pytest.raises(DataError, match="words_min_cover is 1.5"):
        PhoneConfig(words_min_cover=1.5)


def test_offline_mouth_seals_the_words_bilabials():
    """A real voice's /m/ ("something", pocketsphinx-testdata): the baked mouth seals it even
    where the model's own mouth stays apart, and only there."""
    from vasa_bridge.model.phones import apply_phones
    audio = sphinx_recording("something")
    n = int(len(audio) / 16000 * FPS)
    rec = PhoneRecognizer()
    timeline = rec.hear(audio).timeline
    model = np.zeros((n, 52), np.float32)
    model[:, JAW] = 0.3  # a model that never closes its lips
    out = apply_phones(model, audio, 16000, FPS, recognizer=rec)
    gap = out[:, JAW] - out[:, INDEX["mouthClose"]]
    t = np.arange(n) / FPS
    bilabials = [(s, e) for label, s, e in zip(timeline.labels, timeline.starts, timeline.ends)
                 if label == "m"]
    assert len(bilabials) == 2  # someWhere, someThing
    words = teacher_mouth_at(timeline, t)
    words_gap = words[:, JAW] - words[:, INDEX["mouthClose"]]
    for s, e in bilabials:
        near = (t >= s - 0.04) & (t < e + 0.04)
        # the lips meet as the words' own mouth has them meet, not merely under the 0.1 line
        assert gap[near].min() < 0.1 and gap[near].min() <= words_gap[near].min() + 1e-6, (s, e)
    # and only there: the lips meet exactly where the words' own mouth has them meet
    np.testing.assert_array_equal(gap < 0.1, words[:, JAW] - words[:, INDEX["mouthClose"]] < 0.1)
    assert (gap >= 0.1).mean() > 0.5
    loop = apply_phones(model, audio, 16000, FPS, PhoneConfig(seal_min_fit=None,
                                                              acoustic_weight=0.0), rec)
    assert (loop[:, JAW] - loop[:, INDEX["mouthClose"]]).min() >= 0.1  # no rule: never sealed


def test_baked_lips_meet_at_a_bilabial_the_model_leaves_a_hair_apart():
    """The /m/ of "meters" (goforward, a real voice): a model whose lips stay a hair apart (lip
    gap 0.05, under the 0.1 that counts as sealed) is sealed there, as the words are; the baked
    mouth then has the words' own lip gap (the lips meet), not the blend's 0.025."""
    from vasa_bridge.model.phones import apply_phones
    audio = goforward()
    n = int(len(audio) / 16000 * FPS)
    rec = PhoneRecognizer()
    timeline = rec.hear(audio).timeline
    close = INDEX["mouthClose"]
    model = np.zeros((n, 52), np.float32)
    model[:, JAW], model[:, close] = 0.3, 0.25
    out = apply_phones(model, audio, 16000, FPS, recognizer=rec)
    t = np.arange(n) / FPS
    words = teacher_mouth_at(timeline, t)
    (s, e), = [(s, e) for label, s, e in zip(timeline.labels, timeline.starts, timeline.ends)
               if label == "m"]
    words_gap = words[:, JAW] - words[:, close]
    at = (t >= s - 0.04) & (t < e + 0.04) & (words_gap < 0.1)  # the words' seal (lips lead)
    assert at.any() and words_gap[at].min() < 0.01
    np.testing.assert_allclose(out[at, JAW] - out[at, close], words_gap[at], atol=1e-6)
    # the jaw is the words' throughout (one source: it does not jump where the lips meet)
    np.testing.assert_allclose(out[:, JAW], words[:, JAW], atol=1e-6)


def test_live_phones_follow_the_offline_ones_with_the_streams_lookahead():
    audio = goforward()
    n = int(len(audio) / 16000 * FPS)
    mouths, known = live_track(audio, n, FPS, 0.08)[:2]
    assert known.mean() > 0.9  # phones from the first 50 ms or so on
    loop = PhoneRecognizer(PhoneConfig(words=False))  # live decodes the phone loop
    offline = teacher_mouth_at(loop.timeline(audio), np.arange(n) / FPS)
    r = max(np.corrcoef(mouths[k:, JAW], offline[:n - k, JAW])[0, 1] for k in range(3))
    assert r > 0.8  # the same phones, decided with 80 ms of look-ahead (a frame or two late)


def test_a_voice_starting_is_not_held_shut_by_the_silence_before_it():
    """Live, the search decides phones about 60 ms behind the newest audio and the phone in
    progress is taken to go on; after a pause that is silence, which held the lips shut for
    the first frames of every word the 80 ms look-ahead already heard. Where a 10 ms frame
    after the newest decided silence reaches the speech gate's level (`onset_db`), the frame
    keeps the model's mouth instead; once the voice's phones are decided, they steer it."""
    from vasa_bridge.model.config import CLOSE
    audio = np.concatenate([np.zeros(8000, np.float32), goforward()])
    n = int(len(audio) / 16000 * FPS)
    mouths, known = live_track(audio, n, FPS, 0.08)[:2]
    held, known_held = live_track(audio, n, FPS, 0.08, PhoneConfig(onset_db=None))[:2]
    assert known_held[1:].all()  # without the rule every frame has the phones' mouth
    freed = known_held & ~known
    freed[:2] = False
    assert freed.sum() >= 2, np.flatnonzero(freed)
    # those frames were the silence's shut lips carried into the voice
    assert np.all(held[freed, JAW] - held[freed, CLOSE] < 0.1)
    assert known[n // 2:].mean() > 0.8  # the voice's own phones steer it
    np.testing.assert_array_equal(mouths[known], held[known])  # elsewhere the same mouths


def test_live_phones_before_any_audio_and_across_long_streams():
    live = LivePhones(FPS, PhoneConfig(restart_s=1.0, pause_s=0.2))
    assert live.mouth(0) is None
    audio = goforward()
    silence = np.zeros(8000, np.float32)
    for _ in range(3):  # speech, pause, speech, pause ...: a new utterance at each long pause
        for piece in (audio, silence):
            for i in range(0, len(piece), 640):
                live.push(piece[i:i + 640])
    assert live.utterances >= 2
    k = int(live.seconds * FPS) - 3
    m = live.mouth(k)
    assert m is not None and m.shape == (52,) and np.all((m >= 0) & (m <= 1))
    assert m[JAW] < 0.1  # the stream ended in silence
    live.close()


def test_model_engine_lays_the_live_phones_over_its_frames():
    pytest.importorskip("onnxruntime")
    from vasa_bridge.model.onnx_runtime import OnnxDenoiser
    from vasa_bridge.runtime.model_engine import ModelEngine
    den = OnnxDenoiser(None, threads=1)
    audio = goforward()
    with_phones = ModelEngine(den, seed=3)
    alone = ModelEngine(den, seed=3, phones=None)
    # the phone layer holds each frame past the model's look-ahead (`PhoneConfig.hold_s`)
    assert with_phones.lookahead_s == pytest.approx(alone.lookahead_s + PhoneConfig().hold_s)
    mirror = LivePhones(with_phones.fps)
    model_frames = {}
    checked = aperture = pushed = 0
    for i in range(0, len(audio), 640):
        chunk = audio[i:i + 640]
        mirror.push(chunk)
        pushed += len(chunk)
        for b in alone.push(chunk):
            model_frames[round(b.time * alone.fps)] = b
        for a in with_phones.push(chunk):
            k = round(a.time * with_phones.fps)
            # out as soon as its look-ahead and the hold have arrived, not before
            due = (k / with_phones.fps + with_phones.lookahead_s) * 16000
            assert pushed - 640 < due <= pushed + 1e-3
            b = model_frames[k]
            heard = mirror.mouth(k)
            phones_only = b.blendshapes if heard is None else \
                blend(b.blendshapes[None], heard[None])[0]
            # the phones' mouth, and the aperture heard frame by frame (acoustic head)
            np.testing.assert_allclose(a.blendshapes, mirror.steer(b.blendshapes, k), atol=1e-6)
            np.testing.assert_array_equal(a.head_rotation, b.head_rotation)
            checked += heard is not None
            aperture += mirror.aperture(k) is not None and \
                abs(a.blendshapes[JAW] - phones_only[JAW]) > 1e-3
    assert checked > 20 and aperture > 20


def test_the_live_model_runs_after_the_frames_it_is_not_needed_for():
    """With the phone layer's hold, frame k's motion was made a push earlier: push() outputs it
    without running the model on the new audio, and settle() (after the picture, in serve) does
    that work. The frames are the same bytes whether settle() is called or not, and whatever
    the chunking; without the hold the model runs inside push(), as before."""
    pytest.importorskip("onnxruntime")
    from vasa_bridge.model.onnx_runtime import OnnxDenoiser
    from vasa_bridge.runtime.model_engine import ModelEngine

    class Counted(OnnxDenoiser):
        calls = 0

        def run(self, *args):
            Counted.calls += 1
            return super().run(*args)

    den = Counted(None, threads=1)
    audio = goforward()[:32000]

    def play(engine, step, settle):
        out, in_push, in_settle = [], 0, 0
        for i in range(0, len(audio), step):
            before = Counted.calls
            got = engine.push(audio[i:i + step])
            in_push += Counted.calls - before if got else 0
            out += got
            before = Counted.calls
            if settle:
                engine.settle()
            in_settle += Counted.calls - before
        return out, in_push, in_settle

    settled, in_push, in_settle = play(ModelEngine(den, seed=5), 640, True)
    assert len(settled) > 40 and in_push == 0 and in_settle > 40  # the model ran after them
    lazy, in_push, _ = play(ModelEngine(den, seed=5), 640, False)
    assert in_push > 40  # nobody settled: push() ran the model when a frame needed it
    # two hops a push: its second frame needs the model's work on the first hop of it
    pairs, in_push, _ = play(ModelEngine(den, seed=5), 1280, True)
    lazy_pairs, _, _ = play(ModelEngine(den, seed=5), 1280, False)
    assert in_push > 20 and len(pairs) == len(lazy_pairs) == len(lazy) == len(settled)
    for a, b, c, d in zip(settled, lazy, pairs, lazy_pairs):
        assert a.time == b.time == c.time == d.time
        np.testing.assert_array_equal(a.blendshapes, b.blendshapes)
        np.testing.assert_array_equal(c.blendshapes, d.blendshapes)  # (the phone loop itself
        for x in (b, c, d):  # hears a stream a little differently in other pieces)
            np.testing.assert_array_equal(a.head_rotation, x.head_rotation)
    alone, in_push, in_settle = play(ModelEngine(den, seed=5, phones=None), 640, True)
    assert len(alone) > 40 and in_push > 40 and in_settle == 0


def test_a_bad_chunk_is_refused_and_the_live_stream_goes_on_as_if_never_sent():
    pytest.importorskip("onnxruntime")
    from vasa_bridge.errors import AudioError
    from vasa_bridge.model.onnx_runtime import OnnxDenoiser
    from vasa_bridge.runtime.model_engine import ModelEngine
    den = OnnxDenoiser(None, threads=1)
    audio = goforward()[:16000]
    clean, hit = ModelEngine(den, seed=1), ModelEngine(den, seed=1)
    a, b = [], []
    for i in range(0, len(audio), 640):
        chunk = audio[i:i + 640]
        if i == 6400:
            with pytest.raises(AudioError, match="non-finite"):
                hit.push(np.full(640, np.nan, np.float32))
        a += clean.push(chunk)
        b += hit.push(chunk)
    assert len(a) == len(b) > 10
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.blendshapes, y.blendshapes)


def test_language_decides_and_bad_settings_are_refused():
    assert phones_for("en") == PhoneConfig() and phones_for("en-GB") is not None
    assert phones_for("de") is None and phones_for("fr") is None
    assert phones_for("en", enabled=False) is None
    with pytest.raises(ConfigError, match="'english!'"):
        phones_for("english!")
    with pytest.raises(DataError, match="teacher_weight is 1.5"):
        PhoneConfig(teacher_weight=1.5)
    with pytest.raises(DataError, match="hold_s is 0.5"):
        PhoneConfig(hold_s=0.5)
    with pytest.raises(DataError, match="16000 Hz"):
        PhoneRecognizer().timeline(np.zeros(100, np.float32), rate=48000)


def test_cli_language_and_no_phones_reach_the_engines(tmp_path):
    from vasa_bridge.cli import build_parser
    from vasa_bridge.cli.model import _bake_config
    from vasa_bridge.cli.serve import session_config
    parser = build_parser()
    assert session_config(parser.parse_args(["serve", "--no-http"])).phones == PhoneConfig()
    assert session_config(parser.parse_args(["serve", "--no-http", "--language", "de"])).phones \
        is None
    assert session_config(parser.parse_args(["serve", "--no-http", "--no-phones"])).phones is None
    assert session_config(parser.parse_args(["serve", "--no-http", "--npc-phone-loop"])).phones \
        == PhoneConfig(words=False)
    assert session_config(parser.parse_args(["serve", "--no-http", "--npc-phone-loop",
                                             "--no-phones"])).phones is None
    bake = parser.parse_args(["bake", "--audio", "a.wav", "-o", str(tmp_path / "t.npz"),
                              "--no-phones"])
    assert _bake_config(bake).phones is None
    bake = parser.parse_args(["bake", "--audio", "a.wav", "-o", str(tmp_path / "t.npz")])
    assert _bake_config(bake).phones == PhoneConfig()


def _espeak(text, voice):
    from vasa_bridge.data.engines import open_engine
    from vasa_bridge.data.engines.base import Prosody
    try:
        eng = open_engine("espeak")
    except DataError as e:
        pytest.skip(str(e))
    try:
        v = next(x for x in eng.voices("en") if x.name == voice)
        utt = eng.synth(text, v, Prosody())
    finally:
        eng.close()
    from vasa_bridge.audio.features import resample
    from vasa_bridge.data.engines.base import SAMPLE_RATE
    return resample(utt.audio, SAMPLE_RATE, 16000)


def test_a_voice_the_recogniser_does_not_know_keeps_the_models_mouth():
    """pocketsphinx's acoustic model was trained on real speech; many espeak-ng voices score
    below real voices on it, and their heard phones only blur the model's mouth (offline: bake,
    render, NPC clips): the phones do not steer it, only the aperture the acoustic head hears
    (which, with the model's mouth alone, lost little on them: docs/model.md)."""
    config = PhoneConfig()
    real = goforward()
    synthetic = _espeak("the quick brown fox jumps over the lazy dog near the river bank",
                        "en+m1")
    rec = PhoneRecognizer(config)
    real_fit, synthetic_fit = rec.hear(real)[1], rec.hear(synthetic)[1]
    assert real_fit >= config.min_fit > synthetic_fit, (real_fit, synthetic_fit)
    from vasa_bridge.model.phones import apply_phones
    rng = np.random.default_rng(0)
    for audio, kept in ((real, False), (synthetic, True)):
        n = int(len(audio) / 16000 * FPS)
        shapes = rng.uniform(0, 1, (n, 52)).astype(np.float32)
        out = apply_phones(shapes, audio, 16000, FPS, config, rec)
        only_heard = with_heard_aperture(shapes, heard_aperture(audio, 16000, n, FPS),
                                         config.acoustic_weight)
        assert np.allclose(out, only_heard, atol=1e-6) == kept


def test_too_few_phones_to_judge_keep_the_models_mouth():
    """Noise or a hum: the recogniser hears (almost) no phone, and its silence would shut a
    mouth that is sounding; the model's mouth is kept."""
    from vasa_bridge.model.phones import apply_phones
    rng = np.random.default_rng(1)
    t = np.arange(32000) / 16000
    for audio in (0.1 * rng.standard_normal(32000).astype(np.float32),
                  (0.3 * np.sin(2 * np.pi * 120 * t)).astype(np.float32)):
        assert PhoneRecognizer().hear(audio).fit is None
        shapes = rng.uniform(0, 1, (50, 52)).astype(np.float32)
        assert np.array_equal(apply_phones(shapes, audio, 16000, FPS), shapes)


def test_a_transcript_that_fits_spares_hearing_the_phones():
    """`bake --text`: a transcript that aligns gives the mouth, so the phones (the word search
    costs ~0.3 x real time) are not heard; one that does not fit falls back to them."""
    from vasa_bridge.model.bake import BakeConfig, bake_audio_text
    audio = goforward()

    class Counting(PhoneRecognizer):
        calls = 0

        def hear(self, audio, rate=16000):
            Counting.calls += 1
            return super().hear(audio, rate)
    rec = Counting()
    config = BakeConfig(phones=PhoneConfig(), keep_audio=False)
    _, outcome = bake_audio_text(audio, 16000, config, text="go forward ten meters",
                                 recognizer=rec)
    assert outcome.used and Counting.calls == 0
    _, outcome = bake_audio_text(audio, 16000, config, recognizer=rec,
                                 text="she sells sea shells by the sea shore every summer")
    assert not outcome.used and Counting.calls == 1


def test_a_clip_whose_transcript_does_not_fit_is_searched_for_words_once(monkeypatch):
    """A wrong transcript of a clip of 8 s or more: the aligner searches the clip's words to
    retry the transcript in stretches, and the phone layer searches them again for the audio's
    mouth (~0.2 x real time each). The second search reuses the first's words, and gives the
    same words and the same mouth as a search of its own."""
    from vasa_bridge.data import align as A
    from vasa_bridge.model import phones as P
    from vasa_bridge.model.bake import BakeConfig, bake_audio_text
    one = goforward()
    audio = np.concatenate([np.concatenate([one, np.zeros(4000, np.float32)])] * 3)
    assert len(audio) / 16000 >= 8.0  # the aligner's retry in stretches
    calls = []  # word searches (the phone loop's decoder has an `allphone` model)
    real = A.decode_whole

    def counting(dec, pcm):
        if dec.config["allphone"] is None:
            calls.append(len(pcm))
        return real(dec, pcm)
    monkeypatch.setattr(A, "decode_whole", counting)
    monkeypatch.setattr(P, "decode_whole", counting)
    config = BakeConfig(phones=PhoneConfig(), keep_audio=False)
    track, outcome = bake_audio_text(audio, 16000, config,
                                     text="she sells sea shells by the sea shore every summer")
    assert not outcome.used
    assert calls == [len(audio)]  # one word search of the whole clip, for both
    fresh = A.word_search()
    real(fresh, audio)
    assert A.searched_words(audio) == A.heard_words(fresh)
    assert len(calls) == 1  # kept
    A.forget_searched()
    alone, _ = bake_audio_text(audio, 16000, config)  # searched afresh
    assert len(calls) == 2
    np.testing.assert_array_equal(track.blendshapes, alone.blendshapes)


def test_a_long_clips_words_are_aligned_a_stretch_at_a_time():
    """Aligned whole, a long clip's words cost gigabytes (a 600 s clip: 6 GB) and fit worse, so
    they are aligned in stretches cut at pauses; the stretches tile the clip."""
    from vasa_bridge.model.phones import _word_chunks
    one = goforward()
    audio = np.concatenate([np.concatenate([one, np.zeros(8000, np.float32)])] * 6)
    total = len(audio) / 16000
    rec = PhoneRecognizer(PhoneConfig(align_chunk_s=5.0))
    heard = rec.hear(audio)
    from vasa_bridge.data.align import searched_words
    chunks = _word_chunks(searched_words(audio), total, 5.0)  # kept: not searched again
    assert len(chunks) >= 3 and chunks[0][0] == 0.0 and chunks[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))  # contiguous, no word twice
    assert " ".join(c[2] for c in chunks) == heard.words
    assert heard.words.count("forward") == 6 and heard.words_fit > -14
    from vasa_bridge.data.align import Aligner
    scores = [Aligner().align(audio[int(a * 16000):int(b * 16000)], words)[1]
              for a, b, words in chunks]  # each stretch aligned on its own, fits by speech
    assert heard.words_fit == pytest.approx(sum(s.per_frame * s.speech_s for s in scores)
                                            / sum(s.speech_s for s in scores))
    assert heard.timeline.ends[-1] == pytest.approx(total, abs=0.011)
    assert np.all(np.diff(heard.timeline.starts) >= 0)
    n = int(total * FPS)
    whole = PhoneRecognizer(PhoneConfig(align_chunk_s=1000.0)).hear(audio)
    t = np.arange(n) / FPS
    a, b = (teacher_mouth_at(h.timeline, t)[:, JAW] for h in (heard, whole))
    assert np.corrcoef(a, b)[0, 1] > 0.9  # the same words, the same mouth


def test_a_phrase_heard_whole_gives_the_live_mouth_its_phones():
    """`serve --mic --hear-ahead`: a phrase heard whole before it plays. Words that fit closely
    are its mouth whole (`phrase_phones` gives their timeline); a voice whose words are not
    trusted but whose phones are scored gives `HeardPhones`, and a hum gives None. Given to the
    live phone layer (`LivePhones.hear_phrase`), the phrase's phones are the phones' mouth of
    its frames in place of those decided as the audio streamed in; the frames outside it keep
    the streaming mouth."""
    from vasa_bridge.model.phones import HeardPhones, phrase_phones
    from vasa_bridge.model.transcript import MouthOverlay

    config = PhoneConfig()
    rec = PhoneRecognizer(config)
    real = goforward()
    got = phrase_phones(rec.hear(real), config)
    assert got is not None and not isinstance(got, HeardPhones)  # its words, trusted
    synthetic = _espeak("the quick brown fox jumps over the lazy dog near the river bank",
                        "en+m1")  # a voice under min_fit: no words trusted, phones scored
    heard = rec.hear(synthetic)
    got = phrase_phones(heard, config)
    assert isinstance(got, HeardPhones) and got.timeline is heard.timeline
    hum = (0.3 * np.sin(2 * np.pi * 120 * np.arange(32000) / 16000)).astype(np.float32)
    assert phrase_phones(rec.hear(hum), config) is None

    n = int(len(synthetic) / 16000 * FPS)
    start = 16000  # the phrase: the second second of the stream on
    overlay = MouthOverlay.at(got.timeline, start, len(synthetic) - start, 16000, FPS)
    streamed = live_track(synthetic, n, FPS, 0.08)
    steered = live_track(synthetic, n, FPS, 0.08, phrases=[(8000, overlay)])
    inside = np.arange(overlay.first, min(overlay.end, n))
    np.testing.assert_array_equal(steered.mouths[inside], overlay.shapes[inside - overlay.first])
    assert steered.known[inside].all()
    assert not np.array_equal(streamed.mouths[inside], steered.mouths[inside])
    before = np.arange(overlay.first)
    np.testing.assert_array_equal(steered.mouths[before], streamed.mouths[before])
    np.testing.assert_array_equal(steered.heard, streamed.heard)  # the head hears the same
