"""pocketsphinx in a child process (model/sphinx_worker.py): the same phones and alignments as
in-process, errors raised again in the caller, a dead child started again, and the runtime's
clip baker using it."""

import os

import numpy as np
import pytest

pytest.importorskip("pocketsphinx")

from vasa_bridge.data.align import Aligner  # noqa: E402
from vasa_bridge.errors import DataError  # noqa: E402
from vasa_bridge.model.phones import PhoneConfig, PhoneRecognizer  # noqa: E402
from vasa_bridge.model.sphinx_worker import SphinxWorker, shared_worker  # noqa: E402
from vasa_bridge.motion import load  # noqa: E402
from vasa_bridge.samples import example_track_path  # noqa: E402


def _front_center():
    """A real recorded voice saying "front center" (alsa-utils)."""
    from vasa_bridge.model.realvoice import ALSA_DIR
    from vasa_bridge.data.align import read_audio
    path = os.path.join(ALSA_DIR, "Front_Center.wav")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is missing: install alsa-utils")
    return read_audio(path)


@pytest.fixture(scope="module")
def speech():
    return load(example_track_path()).audio[:3 * 16000]


def test_decodes_in_another_process_what_the_caller_would(speech):
    with SphinxWorker() as worker:
        assert worker.call("pid") != os.getpid()
        remote = worker.recognizer(PhoneConfig()).timeline(speech, 16000)
        local = PhoneRecognizer(PhoneConfig()).timeline(speech, 16000)
        assert remote.labels == local.labels and len(remote.labels) > 5
        np.testing.assert_allclose(remote.starts, local.starts)
        voice = _front_center()
        timeline, score = worker.aligner().align(voice, "front center")
        timeline2, score2 = Aligner().align(voice, "front center")
        assert timeline.labels == timeline2.labels and score == score2 and score.words == 2


def test_errors_come_back_as_the_same_exception(speech):
    with SphinxWorker() as worker:
        with pytest.raises(DataError, match="no words"):
            worker.aligner().align(speech, "")
        with pytest.raises(DataError, match="16000 Hz"):
            worker.recognizer().timeline(speech, 8000)
        assert worker.call("pid") > 0  # still answering


def test_a_dead_child_is_started_again(speech):
    with SphinxWorker() as worker:
        first = worker.call("pid")
        worker._child.kill()
        worker._child.wait()
        assert len(worker.recognizer().timeline(speech, 16000).labels) > 5
        assert worker.call("pid") != first and worker.restarts == 1


def test_the_runtime_bakes_npc_clips_with_the_shared_worker(speech):
    from vasa_bridge.runtime.model_engine import load_model
    _, baker = load_model()
    frames = baker.bake(speech, "neutral", seed=1)
    assert len(frames) == int(np.ceil(len(speech) / 16000 * baker.fps - 1e-9))
    assert shared_worker()._child is not None and shared_worker()._child.poll() is None


def test_npc_lines_can_hear_the_phone_loop_instead_of_words():
    # serve --npc-phone-loop: a line is queued ~5x sooner (bench/bench_clip_bake.py --no-words)
    from vasa_bridge.model.bake import BakeConfig, bake_audio
    from vasa_bridge.model.phones import PhoneConfig, PhoneRecognizer
    from vasa_bridge.model.streaming import Steering
    from vasa_bridge.runtime.model_engine import load_model
    voice = _front_center()
    loop = PhoneConfig(words=False)
    _, baker = load_model(phones=loop)
    frames = np.stack([f.blendshapes for f in baker.bake(voice, "neutral", seed=1)])
    local = bake_audio(voice, 16000, BakeConfig(steering=Steering(emotion="neutral"), seed=1,
                                                keep_audio=False, phones=loop))
    np.testing.assert_allclose(frames, local.blendshapes, atol=1e-5)  # the loop's mouth
    assert PhoneRecognizer(loop).hear(voice).words is None  # no word search ran
    _, with_words = load_model()
    worded = np.stack([f.blendshapes for f in with_words.bake(voice, "neutral", seed=1)])
    assert np.abs(worded - frames).max() > 0.05  # the words' mouth is another


def test_a_call_past_its_time_limit_kills_the_child_and_the_next_starts_afresh(speech):
    from vasa_bridge.model.sphinx_worker import WorkerError
    with SphinxWorker(timeout_s=0.0, timeout_per_s=0.0) as hasty:
        with pytest.raises(WorkerError, match="did not answer in 0 s"):
            hasty.recognizer().timeline(speech, 16000)  # a 3 s clip takes ~0.1 s
        hasty.timeout_s = 30.0
        assert len(hasty.recognizer().timeline(speech, 16000).labels) > 5
        assert hasty.restarts == 1


def test_an_npc_clip_still_plays_when_the_decoder_fails(caplog):
    """The clip keeps its motion (the model's mouth alone), the failure is counted and logged
    once; the next clip gets its phones again (a real voice: the phones are used)."""
    from vasa_bridge.runtime.model_engine import load_model
    _, baker = load_model()
    speech = _front_center()
    with SphinxWorker(timeout_s=0.0, timeout_per_s=0.0) as hasty:
        baker._worker = hasty
        with caplog.at_level("WARNING"):
            frames = baker.bake(speech, "neutral", seed=1)
        assert baker.phone_failures == 1 and "model's alone" in caplog.text
        hasty.timeout_s = 30.0
        again = baker.bake(speech, "neutral", seed=1)
        assert baker.phone_failures == 1 and len(again) == len(frames)
        # the same seed: the head is the same, the mouth differs by the phones it now has
        np.testing.assert_allclose(np.stack([f.head_rotation for f in frames]),
                                   np.stack([f.head_rotation for f in again]))
        assert not np.allclose(np.stack([f.blendshapes for f in frames]),
                               np.stack([f.blendshapes for f in again]))


def test_a_decode_that_fails_midway_leaves_the_next_call_working(speech):
    """An empty clip makes pocketsphinx fail inside its utterance; the decoder is made afresh
    instead of refusing every later clip ("Failed to start utterance processing")."""
    with SphinxWorker() as worker:
        with pytest.raises(Exception):
            worker.recognizer().timeline(np.zeros(0, np.float32), 16000)
        assert len(worker.recognizer().timeline(speech, 16000).labels) > 5
        assert worker.restarts == 0  # the same child, not a restart
    rec = PhoneRecognizer()
    with pytest.raises(Exception):
        rec.timeline(np.zeros(0, np.float32), 16000)
    assert len(rec.timeline(speech, 16000).labels) > 5


def test_the_clip_baker_hears_the_words_of_a_live_faces_clip():
    """`ClipBaker.hear_words` (a clip spoken to the live face): the phones of the recognised
    words, as bake trusts them (the same as in-process), or None where bake would not trust
    them with the seals (pink noise), or where the runtime hears no phones (another language,
    the phone layer off, the phone loop without words)."""
    from vasa_bridge.data.align import read_audio
    from vasa_bridge.model.phones import trusted_words
    from vasa_bridge.model.realvoice import ALSA_DIR
    from vasa_bridge.runtime.model_engine import load_model
    path = "/usr/share/pocketsphinx/test/data/goforward.raw"
    if not os.path.isfile(path):
        pytest.skip(f"{path} is missing: install pocketsphinx-testdata")
    voice = np.fromfile(path, "<i2").astype(np.float32) / 32768
    _, baker = load_model()
    timeline = baker.hear_words(voice)
    heard = PhoneRecognizer(PhoneConfig()).hear(voice, 16000)
    assert heard.words == "go forward ten meters"
    local = trusted_words(heard, PhoneConfig())
    assert timeline.labels == local.labels and "m" in timeline.labels  # of "meters"
    np.testing.assert_allclose(timeline.starts, local.starts)
    assert baker.hear_words(voice, "de") is None
    assert baker.hear_words(read_audio(os.path.join(ALSA_DIR, "Noise.wav"))) is None
    assert load_model(phones=None)[1].hear_words(voice) is None
    assert load_model(phones=PhoneConfig(words=False))[1].hear_words(voice) is None
    # a phrase heard ahead (`hear_phrase`): the same words where trusted, in the same worker
    phrase = baker.hear_phrase(voice)
    assert phrase.labels == local.labels
    assert baker.hear_phrase(voice, "de") is None
