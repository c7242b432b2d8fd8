"""The acoustic front end (model/acoustic.py): pocketsphinx's en-us model scored frame by frame,
as its own decoder would score it."""

import difflib

import numpy as np
import pytest

from conftest import sphinx_recording
from vasa_bridge.errors import DataError

pytest.importorskip("pocketsphinx")

from vasa_bridge.model.acoustic import (PhoneScores, cepstra, load_acoustic,  # noqa: E402
                                        phone_posteriors)
from vasa_bridge.model.phones import PhoneConfig, _decoder, _segments  # noqa: E402



def phone_loop(feed):
    dec = _decoder(PhoneConfig())
    dec.start_utt()
    feed(dec)
    dec.end_utt()
    return [seg[0] for seg in _segments(dec)]


@pytest.mark.parametrize("name", ["goforward", "something"])
def test_our_cepstra_are_the_ones_pocketsphinx_makes(name):
    """pocketsphinx's phone loop fed our cepstra recognises what it recognises from the audio."""
    from vasa_bridge.audio.pcm import to_s16
    audio = sphinx_recording(name)
    heard = phone_loop(lambda d: d.process_raw(to_s16(audio).tobytes(), full_utt=True))
    ceps = np.ascontiguousarray(cepstra(load_acoustic(), audio), np.float32)
    ours = phone_loop(lambda d: d.process_cep(ceps.reshape(-1).view(np.uint8), full_utt=True))
    assert len(heard) > 12
    assert difflib.SequenceMatcher(None, heard, ours).ratio() > 0.85, (heard, ours)


def test_the_best_phone_of_each_frame_follows_the_words():
    """Frame by frame, without a search, the most likely phone is the phone loop's at most
    frames of speech: "go forward ten meters"."""
    audio = sphinx_recording("goforward")
    post = phone_posteriors(audio)
    model = load_acoustic()
    assert post.shape == (1 + (len(audio) - 410) // 160, model.n_phones)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-5)
    best = [model.names[i] for i in post.argmax(axis=1)]
    dec = _decoder(PhoneConfig())
    from vasa_bridge.audio.pcm import to_s16
    dec.start_utt()
    dec.process_raw(to_s16(audio).tobytes(), full_utt=True)
    dec.end_utt()
    agree = total = 0
    for label, s, e in _segments(dec):
        if label in ("SIL", "+NSN+", "+SPN+"):
            continue
        frames = range(int(round(s * 100)), min(int(round(e * 100)), len(best)))
        total += len(frames)
        agree += sum(best[j] == label for j in frames)
    assert total > 80 and agree / total > 0.5, (agree, total)
    # the silence before the voice is heard as silence
    assert best[:5].count("SIL") >= 4


def test_a_stream_scored_in_pieces_equals_the_whole_clip():
    audio = sphinx_recording("goforward")
    whole = phone_posteriors(audio)
    scores = PhoneScores()
    rng = np.random.default_rng(1)
    k, got = 0, 0
    while k < len(audio):
        n = int(rng.integers(1, 3000))
        got += len(scores.push(audio[k:k + n]))
        k += n
        # a frame is scored once 55.6 ms of audio after its start is in, not later
        assert scores.frames == max(0, (min(k, len(audio)) - 410) // 160 + 1 - 3)
    got += len(scores.finish())
    assert got == len(whole)
    np.testing.assert_array_equal(scores.posteriors, whole)
    with pytest.raises(DataError, match="after finish"):
        scores.push(audio[:160])
    # a live stream keeps its last rows only, trimmed as they are scored
    kept = PhoneScores(keep=50)
    for i in range(0, len(audio), 640):
        kept.push(audio[i:i + 640])
        assert kept.first == max(0, kept.frames - 50)
    kept.finish()
    assert kept.first == len(whole) - 50
    np.testing.assert_array_equal(kept.posteriors, whole[-50:])
    fresh = PhoneScores()
    with pytest.raises(DataError, match="1 non-finite samples"):
        fresh.push(np.array([0.1, np.nan, 0.2], np.float32))
    fresh.push(audio)  # refused before any state moved: the stream goes on as if never sent
    fresh.finish()
    np.testing.assert_array_equal(fresh.posteriors, whole)


def test_audio_at_another_rate_is_refused_with_the_rate_named():
    with pytest.raises(DataError, match="16000 Hz audio: got 44100 Hz"):
        phone_posteriors(np.zeros(44100, np.float32), 44100)


@pytest.mark.parametrize("lead", ["zeros", "quiet noise"])
def test_a_pause_before_the_voice_does_not_change_how_it_is_heard(lead):
    """A microphone hears a voice after a pause. The running cepstral mean holds through
    frames under CMN_GATE_DB, so the voice's frames score as they do with no pause before
    them: "go forward ten meters" after 3 s of digital silence or of a quiet room (-66 dBFS),
    the same best phone on at least 98 % of its frames (here 100 % and 99.6 %; with the mean
    taken over the pause as well: 20 % after zeros, 71 % after the quiet room)."""
    audio = sphinx_recording("goforward")
    n = 3 * 16000
    pause = np.zeros(n, np.float32) if lead == "zeros" else \
        (0.0005 * np.random.default_rng(3).standard_normal(n)).astype(np.float32)
    alone = phone_posteriors(audio)
    after = phone_posteriors(np.concatenate([pause, audio]))[n // 160:][:len(alone)]
    same = (alone.argmax(axis=1) == after.argmax(axis=1)).mean()
    assert same >= 0.98, same


def test_likelihoods_in_blocks_are_the_whole_clips(monkeypatch):
    # (scored whole, a 133 s clip took 5 GB; in blocks memory stays bounded, the numbers equal)
    from vasa_bridge.model import acoustic
    model = acoustic.load_acoustic()
    feats = np.random.default_rng(3).standard_normal((acoustic.LIKELIHOOD_BLOCK * 2 + 37, 39))
    blocks = acoustic.log_likelihoods(model, feats)
    monkeypatch.setattr(acoustic, "LIKELIHOOD_BLOCK", 10 ** 9)
    assert np.array_equal(blocks, acoustic.log_likelihoods(model, feats))
