"""One contract for every speech engine, plus augmentation checks."""

import numpy as np
import pytest

from vasa_bridge.data.augment import apply_augmentation, draw_augmentation
from vasa_bridge.data.engines import ENGINES, SAMPLE_RATE, Prosody, open_engine
from vasa_bridge.data.text import LANGUAGES, SENTENCES, make_text
from vasa_bridge.errors import DataError, EngineUnavailable


@pytest.fixture(scope="module", params=ENGINES)
def engine(request):
    eng = open_engine(request.param)  # CI installs both (data/ci.sh); missing = failure
    yield eng
    eng.close()


def test_engine_contract(engine):
    voices = engine.voices("en")
    assert voices and all(v.engine == engine.name and v.speaker for v in voices)
    text = "Hello there, is this the 42nd time?"
    spoken = []
    for voice in (voices[0], voices[-1]):
        utt = engine.synth(text, voice, Prosody())
        spoken.append(utt)
        tl = utt.phonemes
        assert utt.audio.dtype == np.float32 and utt.audio.ndim == 1
        assert np.abs(utt.audio).max() > 0.05
        # the timeline covers the audio: from 0 to its end, no overlaps
        assert tl.starts[0] == pytest.approx(0, abs=1e-6)
        assert tl.ends[-1] == pytest.approx(len(utt.audio) / SAMPLE_RATE, abs=0.02)
        assert np.all(tl.starts[1:] >= tl.ends[:-1] - 1e-6)
        assert sum(lab != "sil" for lab in tl.labels) >= 15
        # speech energy sits in the non-silent segments
        speech = tl.speech_mask(np.arange(len(utt.audio)) / SAMPLE_RATE)
        assert np.mean(utt.audio[speech] ** 2) > 5 * np.mean(utt.audio[~speech] ** 2)
    # rate changes the duration
    slow = engine.synth(text, voices[0], Prosody(rate=0.8))
    fast = engine.synth(text, voices[0], Prosody(rate=1.25))
    assert slow.duration > fast.duration * 1.2
    # an utterance is the same samples whatever the engine spoke before it (espeak-ng's wave
    # generator kept its phase across utterances until the library was loaded afresh for each)
    again = engine.synth(text, voices[0], Prosody())
    assert np.array_equal(again.audio, spoken[0].audio)
    assert again.phonemes.labels == spoken[0].phonemes.labels


def test_every_festival_voice_speaks_with_phone_timings():
    # kal and ked (festvox-kallpc16k, festvox-kdlpc16k) are diphone voices cut from recordings of
    # two real US men, slt an HTS voice; scripts/setup.sh --test installs all three
    from vasa_bridge.data.engines.festival import VOICES
    eng = open_engine("festival")
    try:
        voices = {v.name: v for v in eng.voices("en")}
        assert set(voices) == {k for k, v in VOICES.items() if v[3] == "en"}, sorted(voices)
        assert voices["voice_ked_diphone"].speaker == "festival:ked"
        text = "Bob bought a big black bag of five fresh figs."
        utts = {name: eng.synth(text, v, Prosody()) for name, v in voices.items()}
        for name, utt in utts.items():
            _says_bob_bought(name, utt)
        kal, ked = utts["voice_kal_diphone"], utts["voice_ked_diphone"]
        n = min(len(kal.audio), len(ked.audio))
        assert abs(np.corrcoef(kal.audio[:n], ked.audio[:n])[0, 1]) < 0.5  # another voice
        # the diphone voices take the corpus's pitch and rate variation
        low = eng.synth(text, voices["voice_ked_diphone"], Prosody(pitch=0.8))
        high = eng.synth(text, voices["voice_ked_diphone"], Prosody(pitch=1.25))
        slow = eng.synth(text, voices["voice_ked_diphone"], Prosody(rate=0.8))
    finally:
        eng.close()
    assert _mean_f0(high.audio) > 1.2 * _mean_f0(low.audio)
    assert slow.duration > ked.duration * 1.1


def test_both_italian_festival_voices_speak_with_ipa_phones():
    # lp (a woman) and pc (a man): Italian diphone voices cut from real recordings
    # (festvox-italp16k, festvox-itapc16k; scripts/setup.sh --test installs them)
    from vasa_bridge.data.engines.festival import italian_ipa
    from vasa_bridge.data.visemes import to_visemes
    assert [italian_ipa(x) for x in ("a1", "dZ", "nf", "E1", "#", "p")] == \
        ["ˈa", "dʒ", "ɱ", "ˈɛ", "_", "p"]
    eng = open_engine("festival")
    try:
        voices = {v.speaker: v for v in eng.voices("it")}
        assert set(voices) == {"festival:lp", "festival:pc"}
        assert voices["festival:lp"].gender == "female" and eng.voices("de") == []
        text = "Il babbo porta il bambino al parco, perché piove."
        utts = {k: eng.synth(text, v, Prosody()) for k, v in voices.items()}
        slow = eng.synth(text, voices["festival:pc"], Prosody(rate=0.8))
    finally:
        eng.close()
    for speaker, utt in utts.items():
        tl = utt.phonemes
        assert tl.phoneset == "ipa" and tl.labels[0] == "sil", (speaker, tl.labels[:3])
        assert tl.ends[-1] == pytest.approx(utt.duration, abs=0.02)
        sounded = [lab for lab in tl.labels if lab != "sil"]
        # babbo (its double b: two segments), porta, bambino, parco, perché, piove
        assert [lab for lab in sounded if lab in ("b", "m", "p")] == \
            ["b", "b", "b", "p", "b", "m", "b", "p", "p", "p"], (speaker, sounded)
        assert "ˈe" in sounded and "ˈɔ" in sounded  # "perché" read as Latin-1, "porta"'s open o
        assert sum(to_visemes(lab, "ipa") == ("PP",) for lab in sounded) == 10
        speech = tl.speech_mask(np.arange(len(utt.audio)) / SAMPLE_RATE)
        assert np.mean(utt.audio[speech] ** 2) > 5 * np.mean(utt.audio[~speech] ** 2)
    lp, pc = utts["festival:lp"], utts["festival:pc"]
    assert _mean_f0(lp.audio) > 1.4 * _mean_f0(pc.audio)  # a woman, a man
    assert slow.duration > pc.duration * 1.1


def test_every_flite_voice_speaks_with_phone_timings():
    # awb, rms and slt: clustergen voices, each a model of one real speaker's recordings
    # (flite's built-in voices; scripts/setup.sh --test installs flite)
    from vasa_bridge.data.engines.flite import VOICES
    eng = open_engine("flite")
    try:
        voices = {v.name: v for v in eng.voices("en")}
        assert set(voices) == set(VOICES), sorted(voices)
        assert eng.voices("de") == []
        assert voices["awb"].speaker == "flite:awb" and voices["slt"].gender == "female"
        text = "Bob bought a big black bag of five fresh figs."
        utts = {name: eng.synth(text, v, Prosody()) for name, v in voices.items()}
        for name, utt in utts.items():
            _says_bob_bought(name, utt)
        awb, rms = utts["awb"], utts["rms"]
        n = min(len(awb.audio), len(rms.audio))
        assert abs(np.corrcoef(awb.audio[:n], rms.audio[:n])[0, 1]) < 0.5  # another voice
        assert _mean_f0(utts["slt"].audio) > 1.4 * _mean_f0(rms.audio)  # a woman, a man
        slow = eng.synth(text, voices["rms"], Prosody(rate=0.8))
        with pytest.raises(EngineUnavailable, match="flite voice 'kal'"):
            eng.synth(text, voices["rms"].__class__("flite", "kal", "en", "flite:kal"))
    finally:
        eng.close()
    assert slow.duration > rms.duration * 1.1


def test_flite_phone_lines_are_read_as_segments():
    from vasa_bridge.data.engines.flite import parse_phones
    assert parse_phones("pau:0.269 g:0.319 ow:0.456\n") == [
        ("pau", 0.0, 0.269), ("g", 0.269, 0.319), ("ow", 0.319, 0.456)]
    assert parse_phones("") == []
    assert parse_phones("noise line\npau:0.1 x:y b:0.2") == [("pau", 0.0, 0.1), ("b", 0.1, 0.2)]
    # a line per utterance, its times from 0: the second follows the first
    two = parse_phones("pau:0.2 g:0.3 pau:1.0 \npau:0.1 s:0.4 pau:0.5 \n")
    assert [s for _, s, _ in two] == pytest.approx([0.0, 0.2, 0.3, 1.0, 1.1, 1.4])
    assert two[-1][2] == pytest.approx(1.5)


def test_a_flite_text_of_several_sentences_keeps_its_phones_on_its_audio():
    """flite speaks each sentence as an utterance; the phones of the later ones are where their
    sound is (the times of each printed line start again at 0)."""
    eng = open_engine("flite")
    try:
        voice = [v for v in eng.voices("en") if v.name == "rms"][0]
        utt = eng.synth("Go forward. Then stop! And wait, please.", voice, Prosody())
    finally:
        eng.close()
    tl = utt.phonemes
    labels = [lab for lab in tl.labels if lab != "sil"]
    assert labels[-4:] == ["p", "l", "iy", "z"], labels
    assert tl.ends[-1] == pytest.approx(utt.duration, abs=0.02)
    assert np.all(np.diff(tl.starts) > 0)
    speech = tl.speech_mask(np.arange(len(utt.audio)) / SAMPLE_RATE)
    assert np.mean(utt.audio[speech] ** 2) > 5 * np.mean(utt.audio[~speech] ** 2)
    # the last sentence's /p/ closure: quiet against its /iy/ (a closure misplaced by a
    # sentence would fall on sound)
    t = np.arange(len(utt.audio)) / SAMPLE_RATE
    seg = {lab: (s, e) for lab, s, e in zip(tl.labels, tl.starts, tl.ends)}
    s, e = seg["iy"]
    assert s > 2.0, "the last sentence's phones sit after the first two"
    vowel = utt.audio[(t >= s) & (t < e)]
    assert np.sqrt(np.mean(vowel ** 2)) > 0.02


def _says_bob_bought(name, utt) -> None:
    """"Bob bought a big black bag of five fresh figs." with its phones on its audio: ARPAbet
    from 0 to the audio's end, its 6 /b/ and 3 /f/, the sound inside the phones."""
    tl = utt.phonemes
    assert tl.phoneset == "arpabet" and tl.starts[0] == pytest.approx(0, abs=1e-6)
    assert tl.ends[-1] == pytest.approx(utt.duration, abs=0.02)
    labels = [lab for lab in tl.labels if lab != "sil"]
    assert labels[:3] == ["b", "aa", "b"], (name, labels[:6])
    assert labels.count("b") == 6 and labels.count("f") == 3, (name, labels)
    speech = tl.speech_mask(np.arange(len(utt.audio)) / SAMPLE_RATE)
    assert np.mean(utt.audio[speech] ** 2) > 5 * np.mean(utt.audio[~speech] ** 2)


def _mean_f0(audio: np.ndarray) -> float:
    """Median pitch (Hz) of the voiced 40 ms frames, by autocorrelation (60-300 Hz)."""
    f0 = []
    for k in range(0, len(audio) - 640, 320):
        x = audio[k:k + 640] - audio[k:k + 640].mean()
        if np.sqrt(np.mean(x ** 2)) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[639:]
        lo, hi = SAMPLE_RATE // 300, SAMPLE_RATE // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0.append(SAMPLE_RATE / lag)
    return float(np.median(f0))


def test_espeak_speaks_every_corpus_language():
    eng = open_engine("espeak")
    for lang in LANGUAGES:
        voices = eng.voices(lang)
        assert len({v.speaker for v in voices}) >= 20
        utt = eng.synth(SENTENCES[lang][0], voices[0])
        assert utt.phonemes.phoneset == "ipa"
        assert not any(lab.startswith("(") for lab in utt.phonemes.labels)
        assert utt.duration > 0.8
    with pytest.raises(EngineUnavailable, match="no voice"):
        eng.synth("hi", voices[0].__class__("espeak", "xx-nope+m1", "xx", "espeak:m1"))


def test_every_espeak_voice_speaks_the_same_samples_whatever_came_before():
    """espeak-ng kept phases and noise generators across utterances (and seeded breathy voices
    with the time of day): each variant's utterance must not depend on what was spoken before
    it, nor on when (the C library's rand() of the speechPlayer voices included)."""
    import ctypes

    eng = open_engine("espeak")
    voices = [v for v in eng.voices("en") if v.name.startswith("en-us+")]
    assert len(voices) >= 40
    text = "Bob bought a map of Boston."
    first = [eng.synth(text, v).audio for v in voices]
    ctypes.CDLL(None).rand()  # another user of the C library's generator
    for v, audio in zip(reversed(voices), reversed(first)):
        assert np.array_equal(eng.synth(text, v).audio, audio), v.name


def test_unknown_engine_and_language_are_refused():
    with pytest.raises(DataError, match="unknown"):
        open_engine("sam")
    with pytest.raises(DataError, match="no corpus text"):
        make_text(np.random.default_rng(0), "tlh")


def test_text_is_seeded_and_varied():
    a = [make_text(np.random.default_rng([3, i]), "en") for i in range(30)]
    b = [make_text(np.random.default_rng([3, i]), "en") for i in range(30)]
    assert a == b
    kinds = {k for _, k in a}
    assert {"statement", "question"} <= kinds
    assert any(any(ch.isdigit() for ch in t) for t, _ in a)


def test_augmentation_is_seeded_and_hits_its_snr():
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    clean = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(
        np.float32)
    for _ in range(30):
        p = draw_augmentation(rng)
        y1, y2 = apply_augmentation(clean, p), apply_augmentation(clean, p)
        assert np.array_equal(y1, y2) and y1.shape == clean.shape
        assert np.abs(y1).max() <= 0.99 + 1e-6
    # noise only, 10 dB: the residual's power is a tenth of the signal's
    p = {"gain_db": 0.0, "seed": 5, "noise": {"color": "pink", "snr_db": 10.0}}
    y = apply_augmentation(clean, p)
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((y - clean) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)
    # telephone band: little energy left below 200 Hz or above 4 kHz
    noise = np.random.default_rng(1).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    y = apply_augmentation(noise, {"gain_db": 0.0, "seed": 1, "band": {"kind": "telephone"}})
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)
    inside = spec[(f > 500) & (f < 3000)].mean()
    assert spec[f > 4500].mean() < inside / 30 and spec[f < 150].mean() < inside / 30


def test_capture_chain_is_seeded_and_codecs_keep_the_audio_aligned():
    from vasa_bridge.data.augment import CODECS, draw_capture_chain
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    env = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float32)
    clean = (0.3 * np.sin(2 * np.pi * 220 * t) * env).astype(np.float32)
    kinds = set()
    for _ in range(8):
        p = draw_capture_chain(rng)
        kinds |= set(p)
        y1, y2 = apply_augmentation(clean, p), apply_augmentation(clean, p)
        assert np.array_equal(y1, y2) and y1.shape == clean.shape
        assert np.isfinite(y1).all() and np.abs(y1).max() <= 0.99 + 1e-6
    assert {"eq", "codec", "reverb", "noise"} <= kinds
    for name in CODECS:  # the codec's delay is removed: the envelope lines up at lag 0
        y = apply_augmentation(clean, {"gain_db": 0.0, "seed": 0,
                                       "codec": {"name": name, "kbps": 24}})
        assert np.corrcoef(y, clean)[0, 1] > 0.95, name
