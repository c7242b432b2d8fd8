"""The acoustic head (model/acoustic_mouth.py): the lip aperture heard frame by frame from the
acoustic model's phone posteriors, and how the live mouth takes it (model/phones.py)."""

import numpy as np
import pytest

from conftest import sphinx_recording
from vasa_bridge.errors import DataError
from vasa_bridge.model.config import CLOSE, JAW

pytest.importorskip("pocketsphinx")

from vasa_bridge.model.acoustic import phone_posteriors  # noqa: E402
from vasa_bridge.model.acoustic_mouth import (AcousticMouth, AcousticMouthConfig,  # noqa: E402
                                              MouthTrainConfig, inputs, shipped_mouth,
                                              train_acoustic_mouth)
from vasa_bridge.model.phones import (LivePhones, PhoneConfig, live_track,  # noqa: E402
                                      with_heard_aperture)

FPS = 25.0
goforward = sphinx_recording  # "go forward ten meters", a real voice


def aligned(audio, text, n):
    from vasa_bridge.data.align import align
    from vasa_bridge.model.transcript import teacher_mouth_at
    return teacher_mouth_at(align(audio, text), np.arange(n) / FPS)


def test_inputs_are_the_window_around_each_frame_averaged_in_steps():
    config = AcousticMouthConfig(before=3, after=2, group=3)
    post = np.arange(20 * 2, dtype=np.float32).reshape(20, 2) / 100 + 0.01
    x = inputs(post, np.array([0, 2, 4]), FPS, config)  # frames 0, 8, 16 of the posteriors
    assert x.shape == (3, 2 * 2)
    logp = np.log(post + config.floor)
    # frame 2 = posterior frame 8: frames 5..7 and 8..10, each step averaged
    np.testing.assert_allclose(x[1], np.concatenate([logp[5:8].mean(0), logp[8:11].mean(0)]),
                               rtol=1e-6)
    # frame 0 repeats the first posterior frame before it; frame 4 the last after it
    np.testing.assert_allclose(x[0, :2], logp[[0, 0, 0]].mean(0), rtol=1e-6)
    np.testing.assert_allclose(x[2, 2:], logp[[16, 17, 18]].mean(0), rtol=1e-6)
    # a stream's kept rows: the same inputs from rows starting at frame 5
    np.testing.assert_allclose(inputs(post[5:], np.array([2]), FPS, config, first=5), x[1:2])
    with pytest.raises(DataError, match="multiple"):
        AcousticMouthConfig(before=3, after=2, group=4)


def test_the_shipped_head_hears_a_real_voice_open_and_close():
    """goforward, a real voice the head never trained on: its jawOpen follows the teacher on
    the transcript's alignment, and the silence around the words keeps the lips together."""
    audio = goforward()
    head = shipped_mouth()
    assert head.meta["clips"] > 1000 and "festival:slt" in head.meta["exclude_speakers"]
    n = int(len(audio) / 16000 * FPS)
    heard = head.predict(inputs(phone_posteriors(audio), np.arange(n), FPS, head.config))
    assert heard.shape == (n, 2) and heard.min() >= 0 and heard.max() <= 1
    ref = aligned(audio, "go forward ten meters", n)
    r = max(np.corrcoef(heard[k:, 0], ref[:n - k, JAW])[0, 1] for k in range(2))
    assert r > 0.7
    speech = ref[:, JAW] > 0.2
    assert heard[speech, 0].mean() > 3 * heard[ref[:, JAW] < 0.01, 0].mean()


def test_a_head_saved_and_loaded_predicts_the_same_and_a_bad_file_is_named(tmp_path):
    head = shipped_mouth()
    path = tmp_path / "head.npz"
    head.save(path)
    again = AcousticMouth.load(path)
    x = np.random.default_rng(0).normal(size=(5, head.mean.size)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), head.predict(x))
    assert again.config == head.config
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz.*train-mouth"):
        AcousticMouth.load(bad)


def test_the_heard_aperture_is_mixed_in_and_seals_stay_sealed():
    rng = np.random.default_rng(1)
    shapes = rng.uniform(0, 1, (40, 52)).astype(np.float32)
    shapes[:10, CLOSE] = shapes[:10, JAW]  # sealed: gap 0
    shapes[10:, JAW] = rng.uniform(0.2, 1.0, 30)
    shapes[10:, CLOSE] = 0.0  # apart
    heard = rng.uniform(0, 1, (40, 2)).astype(np.float32)
    heard[:10, 1] = 0.0  # the head would part the sealed lips
    out = with_heard_aperture(shapes, heard, 0.5)
    np.testing.assert_allclose(out[:, JAW], 0.5 * shapes[:, JAW] + 0.5 * heard[:, 0], rtol=1e-6)
    np.testing.assert_allclose(out[10:, CLOSE], 0.5 * heard[10:, 1], rtol=1e-6, atol=1e-7)
    assert np.all(out[:10, JAW] - out[:10, CLOSE] <= 1e-6)  # still sealed
    others = [c for c in range(52) if c not in (JAW, CLOSE)]
    np.testing.assert_array_equal(out[:, others], shapes[:, others])
    known = np.arange(40) % 2 == 0
    part = with_heard_aperture(shapes, heard, 0.5, known)
    np.testing.assert_array_equal(part[~known], shapes[~known])
    np.testing.assert_array_equal(part[known], out[known])


def test_a_live_stream_hears_the_aperture_of_every_frame_as_the_clip_does():
    """Live, frame k is asked for with 120 ms of audio after it (the model's 80, the phone
    layer's hold of 40): the head has its 60 ms then, and gives what the whole clip's
    posteriors give."""
    audio = goforward()
    n = int(len(audio) / 16000 * FPS)
    track = live_track(audio, n, FPS, 0.08)
    assert track.heard_known.all()
    # without the hold the 60 ms after a frame are not yet scored when it is asked for
    assert not live_track(audio, n, FPS, 0.08, PhoneConfig(hold_s=0.0)).heard_known.any()
    look = 0.08 + PhoneConfig().hold_s
    head = shipped_mouth()
    whole = head.predict(inputs(phone_posteriors(audio), np.arange(n), FPS, head.config))
    # (the last two frames' 60 ms run past the clip's end: live, that is the last hop's padding)
    np.testing.assert_allclose(track.heard[:n - 2], whole[:n - 2], atol=1e-5)
    # frame by frame, LivePhones.steer is what the track gives the clip
    model = np.random.default_rng(2).uniform(0, 0.5, (n, 52)).astype(np.float32)
    live = LivePhones(FPS)
    got, k = [], 0
    for i in range(0, len(audio) + 4000, 640):
        chunk = audio[i:i + 640]
        live.push(np.pad(chunk, (0, 640 - len(chunk))))  # whole hops, as serve pushes them
        while k < n and (k / FPS + look) * 16000 <= i + 640 + 1e-6:
            got.append(live.steer(model[k], k))
            k += 1
    np.testing.assert_allclose(np.array(got), track.steer(model, PhoneConfig()), atol=1e-6)
    off = live_track(audio, n, FPS, 0.08, PhoneConfig(acoustic_weight=0.0))
    assert not off.heard_known.any()


def test_training_writes_a_head_that_loads_and_learns(tmp_path):
    from vasa_bridge.data.synth import SynthConfig, synth_dataset
    data = tmp_path / "data"
    synth_dataset(SynthConfig(out=str(data), hours=0.01, languages=("en",), seed=5, workers=1,
                              validation_fraction=0.3), progress=False)
    out = tmp_path / "head.npz"
    small = AcousticMouthConfig(hidden=(16, 8))
    result = train_acoustic_mouth(MouthTrainConfig(data=(str(data),), out=str(out), epochs=3,
                                                   workers=1, head=small))
    assert result["clips"] >= 3 and result["losses"][-1] < result["losses"][0]
    head = AcousticMouth.load(out)
    assert head.config == small and head.meta["clips"] == result["clips"]
    with pytest.raises(DataError, match="no train clips in en"):
        train_acoustic_mouth(MouthTrainConfig(data=(str(data),), out=str(out), workers=1,
                                              exclude_speakers=tuple(
                                                  r["speaker"] for r in _rows(data))))


def test_a_cached_dataset_is_not_scored_again_and_fits_the_same_head(tmp_path, monkeypatch):
    from vasa_bridge.data.synth import SynthConfig, synth_dataset
    from vasa_bridge.model import acoustic_mouth
    data = tmp_path / "data"
    synth_dataset(SynthConfig(out=str(data), hours=0.01, languages=("en",), seed=5, workers=1,
                              validation_fraction=0.3), progress=False)
    small = AcousticMouthConfig(hidden=(16, 8))
    cache = tmp_path / "cache"

    def fit(name, **kw):
        config = MouthTrainConfig(data=(str(data),), out=str(tmp_path / name), epochs=2,
                                  workers=1, head=small, **kw)
        return train_acoustic_mouth(config), AcousticMouth.load(tmp_path / name)

    plain, head = fit("plain.npz")
    first, head1 = fit("first.npz", cache=str(cache))
    assert len(list(cache.glob("data-*.npz"))) == 1
    scored = []
    real = acoustic_mouth._clip_rows
    monkeypatch.setattr(acoustic_mouth, "_clip_rows", lambda job: scored.append(1) or real(job))
    second, head2 = fit("second.npz", cache=str(cache))
    assert not scored, "a cached dataset was scored again"
    # the same rows, cached or not: the same head
    for (w, b), (w1, b1), (w2, b2) in zip(head.layers, head1.layers, head2.layers):
        np.testing.assert_array_equal(w, w1)
        np.testing.assert_array_equal(w1, w2)
    assert plain["frames"] == first["frames"] == second["frames"]
    # another set of speakers left out is another cache entry, scored anew
    speaker = _rows(data)[0]["speaker"]
    fit("third.npz", cache=str(cache), exclude_speakers=(speaker,))
    assert scored and len(list(cache.glob("data-*.npz"))) == 2
    # a damaged entry is named, not trained on
    for f in cache.glob("data-*.npz"):
        f.write_bytes(b"not an npz")
    with pytest.raises(DataError, match="cached rows .* cannot be read"):
        fit("fourth.npz", cache=str(cache))


def test_the_head_learns_from_the_languages_asked(tmp_path):
    """train-mouth --languages: another language's clips join only when asked (the Italian
    festival voices are two more real speakers); a dataset's cache entry changes only when
    the clips it gives change."""
    from vasa_bridge.cli.model import _languages
    from vasa_bridge.data.synth import SynthConfig, synth_dataset
    from vasa_bridge.model.acoustic_mouth import cache_name, training_rows
    data = tmp_path / "data"
    synth_dataset(SynthConfig(out=str(data), hours=0.01, languages=("en", "it"), seed=5,
                              workers=1, validation_fraction=0.3), progress=False)
    rows = [r for r in _rows(data) if r["split"] == "train"]
    by_lang = {lang: sum(r["language"] == lang for r in rows) for lang in ("en", "it")}
    assert by_lang["en"] and by_lang["it"]
    small = AcousticMouthConfig(hidden=(16, 8))

    def config(langs, root=data):
        return MouthTrainConfig(data=(str(root),), out=str(tmp_path / "h.npz"), workers=1,
                                head=small, languages=langs)

    got = {langs: training_rows(config(langs)) for langs in (("en",), ("it",), ("en", "it"))}
    assert got[("en",)][2] == by_lang["en"] and got[("it",)][2] == by_lang["it"]
    assert got[("en", "it")][2] == by_lang["en"] + by_lang["it"]
    assert len(got[("en", "it")][0]) == len(got[("en",)][0]) + len(got[("it",)][0])
    assert cache_name(data, config(("en",))) != cache_name(data, config(("en", "it")))
    english = tmp_path / "english"  # no Italian clips: the same rows, the same cache entry
    synth_dataset(SynthConfig(out=str(english), hours=0.005, languages=("en",), seed=5,
                              workers=1, validation_fraction=0.3), progress=False)
    assert cache_name(english, config(("en",), english)) == \
        cache_name(english, config(("en", "it"), english))
    with pytest.raises(DataError, match="no train clips in de"):
        training_rows(config(("de",)))
    assert _languages("en, it") == ("en", "it")
    with pytest.raises(DataError, match="--languages 'en,xx'"):
        _languages("en,xx")


def test_clips_left_out_for_their_language_are_counted_in_one_line(tmp_path, caplog):
    """`dataset video` labels clips 'und' unless given --language, and train-mouth (English
    phones) left them out without a word; another language's clips are named with the option
    that takes them."""
    import logging

    import skimage.data

    from vasa_bridge.data.synth import SynthConfig, synth_dataset
    from vasa_bridge.data.video import build_video
    from vasa_bridge.face.portrait import PortraitConfig, analyse_portrait
    from vasa_bridge.model.acoustic_mouth import training_rows
    from vasa_bridge.render.video import OutputSpec, write_video
    face = analyse_portrait(skimage.data.astronaut(), PortraitConfig(size=256)).image
    video = tmp_path / "talk.mp4"
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(1.2 * 16000)) / 16000)
    write_video([face] * 30, OutputSpec("mp4", video, False), 25.0, (256, 256),
                tone.astype(np.float32), 16000)
    videos = tmp_path / "videos"
    build_video([video], videos, log=lambda line: None)
    mixed = tmp_path / "mixed"
    synth_dataset(SynthConfig(out=str(mixed), hours=0.01, languages=("en", "it"), seed=5,
                              workers=1, validation_fraction=0.3), progress=False)
    italian = sum(r["split"] == "train" and r["language"] == "it" for r in _rows(mixed))
    assert italian

    def said(*data):
        caplog.clear()
        config = MouthTrainConfig(data=tuple(str(d) for d in data), out=str(tmp_path / "h.npz"),
                                  workers=1, head=AcousticMouthConfig(hidden=(16, 8)))
        with caplog.at_level(logging.INFO, logger="vasa_bridge"):
            try:
                training_rows(config)
            except DataError as e:
                assert "no train clips in en" in str(e)
        return [(r.levelname, r.getMessage()) for r in caplog.records
                if r.name == "vasa_bridge.model.acoustic_mouth"]

    assert said(videos) == [("WARNING", (
        f"dataset {str(videos)!r}: skipped 1 train clip whose language is not in --languages en "
        f"(1 'und'): 'und' (undetermined) is what `dataset video` writes without --language: "
        f"extract those videos again, into a new folder, with `dataset video --language en` to "
        f"take them"))]
    assert said(mixed) == [("INFO", (
        f"dataset {str(mixed)!r}: skipped {italian} train clips whose language is not in "
        f"--languages en ({italian} 'it'): add it to --languages to take them"))]


def _rows(data):
    from vasa_bridge.data.dataset import read_manifest
    return read_manifest(data)
