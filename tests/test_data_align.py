"""Aligned path: synthesise with an engine, align with pocketsphinx, compare with the engine's
own phone timings; then build a dataset from the recording through the CLI."""

import argparse

import numpy as np
import pytest
import soundfile as sf

from vasa_bridge.data.align import (Aligner, SpeechEdges, align, compare_timelines, normalise_text,
                                    number_words, speech_frames, trim_to_speech)
from vasa_bridge.cli.data import add_cli
from vasa_bridge.data.dataset import open_dataset
from vasa_bridge.data.engines import Prosody, open_engine
from vasa_bridge.errors import DataError

TEXT = "Please take a seat and tell me what happened at the station this morning."


def test_number_words_and_normalisation():
    assert number_words(42) == "forty two"
    assert number_words(1969) == "one thousand nine hundred sixty nine"
    assert normalise_text("It's 3 o'clock, Bob!") == ["it's", "three", "o'clock", "bob"]
    # what scripts and subtitles write: ordinals, money, symbols
    assert " ".join(normalise_text("The 1st & 22nd floors: $1, £20, 50% off @ 3rd St.")) == \
        "the first and twenty second floors one dollar twenty pounds fifty percent off at third st"
    assert " ".join(normalise_text("12th, 20th, 100th")) == "twelfth twentieth one hundredth"


@pytest.mark.slow
@pytest.mark.parametrize("engine,voice", [("festival", "voice_kal_diphone"),
                                          ("festival", "voice_ked_diphone"),
                                          ("festival", "voice_cmu_us_slt_arctic_hts"),
                                          ("espeak", "en-us+m1")])
def test_alignment_matches_engine_timings(engine, voice):
    eng = open_engine(engine)
    try:
        v = next(x for x in eng.voices("en") if x.name == voice)
        utt = eng.synth(TEXT, v, Prosody())
    finally:
        eng.close()
    aligned = align(utt.audio, TEXT)
    assert aligned.phoneset == "arpabet"
    assert aligned.ends[-1] == pytest.approx(utt.duration, abs=0.02)
    r = compare_timelines(utt.phonemes, aligned)
    assert r["matched"] >= 0.75, r
    assert r["median_ms"] <= 30, r  # measured here: 10-12 ms
    assert r["p90_ms"] <= 80, r
    # a shifted timeline compares worse: the measure can fail
    assert compare_timelines(utt.phonemes, aligned.shifted(0.1))["median_ms"] > 60


def test_words_nothing_can_pronounce_are_named():
    # a word outside the CMU dictionary gets espeak-ng's pronunciation (tests/test_pronounce.py);
    # one too long for any word gets none, and is named
    with pytest.raises(DataError, match="'" + "z" * 45 + "'.*espeak-ng gave no pronunciation"):
        align(np.zeros(16000, np.float32), "hello " + "z" * 45)


def test_aligned_dataset_through_the_cli(tmp_path):
    eng = open_engine("festival")
    try:
        kal = next(x for x in eng.voices("en") if x.name == "voice_kal_diphone")
        parts = [eng.synth(t, kal, Prosody()) for t in
                 (TEXT, "Bob bought a big black bag.", "Why would anyone wait until June?")]
    finally:
        eng.close()
    # one 44.1 kHz stereo recording with pauses between the sentences
    gap = np.zeros(int(0.6 * 16000), np.float32)
    audio16 = np.concatenate([np.concatenate([p.audio, gap]) for p in parts])
    from scipy.signal import resample_poly
    audio = resample_poly(audio16, 441, 160).astype(np.float32)
    wav = tmp_path / "take1.wav"
    sf.write(wav, np.stack([audio, audio], axis=1), 44100)
    txt = tmp_path / "script.txt"
    txt.write_text(" ".join(p.text for p in parts))

    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    out = tmp_path / "mine"
    args = parser.parse_args(["dataset", "aligned", str(wav), str(txt), "--out", str(out),
                              "--speaker", "alice", "--max-clip", "6"])
    assert args.func(args) == 0
    ds = open_dataset(out, "train")
    assert len(ds) >= 2  # cut at the pauses
    total = sum(c.duration for c in ds)
    assert total == pytest.approx(len(audio16) / 16000, abs=0.05)
    for clip in ds:
        assert clip.meta["speaker"] == "recording:alice"
        assert clip.meta["pronounced_by_rule"] == []  # every word of TEXT is in the dictionary
        assert len(clip.motion) == int(np.ceil(clip.duration * 25 - 1e-9))
        assert clip.phonemes.ends[-1] == pytest.approx(clip.duration, abs=0.02)
    # the same recording again is skipped
    assert args.func(args) == 0
    assert len(open_dataset(out, "train")) == len(ds)


def test_phones_bordering_silence_are_cut_back_to_the_speech_level():
    edges = SpeechEdges()
    speech = np.zeros(200, bool)  # 2 s of 10 ms frames: speech 0.30-0.80 and 1.20-1.50
    speech[30:80] = speech[120:150] = True
    segs = [("f", 0.10, 0.40), ("ay", 0.40, 0.70), ("v", 0.70, 0.95), ("sil", 0.95, 1.05),
            ("t", 1.05, 1.30), ("uw", 1.30, 1.80)]
    out = trim_to_speech(segs, speech, edges)
    assert out[0] == ("f", pytest.approx(0.30 - edges.onset_s), 0.40)  # leading silence
    assert out[1] == segs[1]  # inside the speech: untouched
    assert out[2] == ("v", 0.70, pytest.approx(0.80 + edges.hang_s))  # runs into a pause
    assert out[3] == segs[3]
    assert out[4] == ("t", pytest.approx(1.20 - edges.onset_s), 1.30)
    assert out[5] == ("uw", 1.30, pytest.approx(1.50 + edges.hang_s))  # trailing silence
    # a phone with no loud frame keeps the shortest phone at its speech side
    loud = np.r_[np.zeros(30, bool), np.ones(30, bool), np.zeros(60, bool)]  # 0.30-0.60
    quiet = trim_to_speech([("ah", 0.30, 0.60), ("t", 0.60, 1.10)], loud, edges)
    assert quiet[1] == ("t", 0.60, pytest.approx(0.60 + edges.min_phone_s))
    # no speech found at all: nothing is cut
    assert trim_to_speech(segs, np.zeros(200, bool), edges) == segs


def test_speech_frames_find_speech_over_the_clips_own_noise_floor():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    audio = 0.002 * rng.standard_normal(32000)  # noise at -54 dB
    audio[8000:24000] += 0.3 * np.sin(2 * np.pi * 220 * t)  # a 1 s tone from 0.5 s
    sp = np.flatnonzero(speech_frames(audio.astype(np.float32)))
    assert sp[0] == pytest.approx(50, abs=1) and sp[-1] + 1 == pytest.approx(150, abs=1)
    assert speech_frames(np.zeros(1600, np.float32)).sum() == 0


def _level_extent(audio, rel_db=40.0):
    """(start, end) s of a clean recording: the first and last 10 ms block within `rel_db` of
    its loudest block (independent of `speech_frames`, which adapts to the noise floor)."""
    b = audio[: len(audio) // 160 * 160].reshape(-1, 160).astype(np.float64)
    db = 10 * np.log10((b ** 2).mean(axis=1) + 1e-12)
    k = np.flatnonzero(db > db.max() - rel_db)
    return k[0] * 0.01, (k[-1] + 1) * 0.01


def _speech_extent(timeline):
    spoken = [(s, e) for lab, s, e in zip(timeline.labels, timeline.starts, timeline.ends)
              if lab != "sil"]
    return spoken[0][0], spoken[-1][1]


def _real_clips_or_skip():
    from vasa_bridge.model.realvoice import real_clips
    try:
        return real_clips()
    except DataError as e:
        pytest.skip(str(e))


def test_real_recordings_end_where_their_speech_ends():
    # alsa-utils' announcements are studio-clean with 100-200 ms of trailing silence, into which
    # pocketsphinx lets the last phone run (measured: 70-100 ms past the speech on 6 of 8).
    clips = [c for c in _real_clips_or_skip() if c.name.startswith("alsa/")]
    raw, trimmed = Aligner(edges=None), Aligner()
    over = []
    for clip in clips:
        _, end = _level_extent(clip.audio)
        over.append(_speech_extent(raw.align(clip.audio, clip.text)[0])[1] - end)
        last = _speech_extent(trimmed.align(clip.audio, clip.text)[0])[1]
        assert -0.08 <= last - end <= 0.045, (clip.name, last, end)
    assert sum(o > 0.06 for o in over) >= 4, over  # without the cut the check fails


def test_real_recordings_start_where_their_speech_starts():
    # cards 001 and 004 begin with 130-180 ms of room noise that the first phone takes
    clips = {c.name: c for c in _real_clips_or_skip()}
    raw, trimmed = Aligner(edges=None), Aligner()
    for name in ("sphinx/cards/001", "sphinx/cards/004"):
        clip = clips[name]
        b = clip.audio[: len(clip.audio) // 160 * 160].reshape(-1, 160).astype(np.float64)
        db = 10 * np.log10((b ** 2).mean(axis=1) + 1e-12)
        onset = np.flatnonzero(db > np.percentile(db, 10) + 12)[0] * 0.01
        first = _speech_extent(trimmed.align(clip.audio, clip.text)[0])[0]
        assert -0.06 <= first - onset <= 0.03, (name, first, onset)
        assert _speech_extent(raw.align(clip.audio, clip.text)[0])[0] < onset - 0.1


def test_unusable_recordings_and_transcripts_are_data_errors(tmp_path):
    # found by tests/test_fuzz_files.py (issue 16): a non-UTF-8 transcript raised
    # UnicodeDecodeError after the dataset folder was made; a FLAC header claiming 2^36 samples
    # raised MemoryError; NaN float samples went into the dataset
    from vasa_bridge.data.align import build_aligned, read_audio
    wav = tmp_path / "ok.wav"
    sf.write(str(wav), np.zeros(1600, np.float32), 16000)
    text = tmp_path / "latin1.txt"
    text.write_bytes(b"caf\xe9\n")
    with pytest.raises(DataError, match=r"latin1\.txt' is not UTF-8 text"):
        build_aligned(wav, text, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    flac = tmp_path / "claim.flac"
    sf.write(str(flac), np.zeros(1600, np.float32), 16000, format="FLAC")
    b = bytearray(flac.read_bytes())
    b[18:26] = ((int.from_bytes(b[18:26], "big") & ~(2**36 - 1)) | (2**36 - 1)).to_bytes(8, "big")
    flac.write_bytes(bytes(b))
    try:
        assert len(read_audio(flac)) <= 1600
    except DataError as e:
        assert "claim.flac" in str(e)
    nan = tmp_path / "nan.wav"
    sf.write(str(nan), np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav' is not usable .*non-finite"):
        read_audio(nan)


def test_transcript_cuts_pair_each_pause_with_its_own_words_when_the_text_repeats():
    from vasa_bridge.data.align import transcript_cuts
    # the same sentence four times, 6 s each with 0.4 s pauses; the search mishears a word in
    # two of them and hears an extra one in another
    sentence = "the ten of clubs and the seven of hearts".split()
    words, heard, t = sentence * 4, [], 0.0
    for k in range(4):
        said = list(sentence)
        if k == 1:
            said[1] = "tan"
        if k == 2:
            said.insert(4, "uh")
        if k == 3:
            said[7] = "off"
        for w in said:
            heard.append((w, t, t + 0.6))
            t += 0.6
        t += 0.4
    cuts = transcript_cuts(words, heard, stretch_s=5.0)
    assert [n for _, n in cuts] == [9, 18, 27]  # each cut after a whole sentence
    ends = [s for w, s, e in heard if w == "the"][2::2]  # where sentences 2-4 start
    assert [c for c, _ in cuts] == pytest.approx([e - 0.2 for e in ends])
    assert transcript_cuts(words, heard, stretch_s=100.0) == []  # nothing long enough
    quiet = [(w, s + 100 * (k >= 18), e + 100 * (k >= 18))  # 100 s silent before sentence 3
             for k, (w, s, e) in enumerate(heard)]
    assert [n for _, n in transcript_cuts(words, quiet, stretch_s=5.0)] == [9, 18, 27]
    assert transcript_cuts(words, [], stretch_s=5.0) == []


def _cards_recording(cycles: int):
    """pocketsphinx-testdata's cards 001-005 (one speaker), `cycles` times over with 0.25 s
    gaps: (audio, transcript, [(start s, end s, transcript)] per recording)."""
    from vasa_bridge.model.realvoice import real_clips
    clips = [c for c in real_clips() if c.name.startswith("sphinx/cards/")]
    gap = np.zeros(4000, np.float32)
    parts, texts, spans, t = [], [], [], 0.0
    for _ in range(cycles):
        for c in clips:
            parts += [c.audio, gap]
            texts.append(c.text)
            spans.append((t, t + len(c.audio) / 16000, c.text))
            t += (len(c.audio) + len(gap)) / 16000
    return np.concatenate(parts), " ".join(texts), spans


@pytest.mark.slow
def test_a_long_recording_is_aligned_in_stretches_as_its_parts_are():
    audio, text, spans = _cards_recording(4)  # 43 s; `long_s` lowered so it counts as long
    timeline, score = Aligner(long_s=20.0, stretch_s=8.0).align(audio, text)
    assert score.stretches >= 3 and score.per_frame >= -18 and score.words == len(
        normalise_text(text))
    assert timeline.ends[-1] == pytest.approx(len(audio) / 16000, abs=0.01)
    whole, whole_score = Aligner(long_s=1e9).align(audio, text)
    assert whole_score.stretches == 1
    one_by_one = Aligner()
    for s, e, words in spans:  # every recording's words land where it says them
        own = one_by_one.align(audio[int(s * 16000):int(e * 16000)], words)[0]
        part = timeline.slice(s, e)  # re-timed to start at 0, as `own`
        r = compare_timelines(own, part)
        assert r["matched"] >= 0.9 and r["median_ms"] <= 20, (words, r)


def parse_and_run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_dataset_aligned_refuses_words_not_said_and_leaves_out_speech_without_words(
        tmp_path, capsys):
    # A user's recording with the wrong transcript went into the training set as it was; one
    # whose transcript lacks a sentence taught the model a shut mouth through that sentence.
    audio, text, spans = _cards_recording(2)  # cards 001-005 twice, one real speaker, 21.8 s
    wav = tmp_path / "cards.wav"
    sf.write(str(wav), audio, 16000)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(" ".join(t for _, _, t in spans[4::-1]))  # the cards in the wrong order
    with pytest.raises(DataError, match=r"wrong\.txt' does not fit .*cards\.wav' \(alignment "
                                        r"score -\d+\.\d per frame, expected >= -25\)"):
        parse_and_run(["dataset", "aligned", str(wav), str(wrong), "--out",
                       str(tmp_path / "refused")])
    assert not (tmp_path / "refused").exists()
    partial = tmp_path / "partial.txt"  # the last card's words left out
    partial.write_text(" ".join(t for _, _, t in spans[:-1]))
    assert parse_and_run(["dataset", "aligned", str(wav), str(partial), "--out",
                          str(tmp_path / "ds"), "--max-clip", "6"]) == 0
    out = capsys.readouterr()
    assert "left out 1 clip(s)" in out.err and "has no words for" in out.err
    s, e, _ = spans[-1]
    kept = [(c.meta["offset_s"], c.meta["offset_s"] + c.duration)
            for c in open_dataset(tmp_path / "ds")]
    assert len(kept) >= 2 and not any(a < e and b > s for a, b in kept)  # not the last card
    assert sum(b - a for a, b in kept) >= 10.0  # the rest is kept


def _alsa_takes_or_skip(tmp_path, names):
    """alsa-utils' announcements (one real voice) with their words as transcripts."""
    from pathlib import Path
    alsa = Path("/usr/share/sounds/alsa")
    if not all((alsa / f"{n}.wav").is_file() for n in names):
        pytest.skip("alsa-utils' sounds are not installed")
    takes = {}
    for n in names:
        text = tmp_path / f"{n}.txt"
        text.write_text(n.replace("_", " ") + "\n")
        takes[n] = (alsa / f"{n}.wav", text)
    return takes


def test_dataset_aligned_keeps_each_speaker_in_one_split(tmp_path):
    # A user's second take added with --split validation put the same speaker in both splits
    # (validated on their own training voice); `eval --data` on a folder without a validation
    # split then crashed with a traceback (np.concatenate of nothing).
    from vasa_bridge.data.align import build_aligned
    from vasa_bridge.model.evaluate import EvalConfig, evaluate
    takes = _alsa_takes_or_skip(tmp_path, ("Front_Center", "Front_Left"))
    out = tmp_path / "my takes ü"
    assert build_aligned(*takes["Front_Center"], out, speaker="me")["clips"] == 1
    with pytest.raises(DataError, match=r"my takes ü' has 0 'validation' clips from --start 0: "
                                        r"expected at least one"):
        evaluate(EvalConfig(data=str(out)), progress=False)  # the shipped model
    with pytest.raises(DataError, match=r"speaker 'me' is already in the 'train' split of "
                                        r".*, this run asks 'validation'"):
        build_aligned(*takes["Front_Left"], out, speaker="me", split="validation")
    assert build_aligned(*takes["Front_Left"], out, speaker="friend",
                         split="validation")["clips"] == 1
    assert open_dataset(out, "train").speakers == {"recording:me"}
    assert open_dataset(out, "validation").speakers == {"recording:friend"}


def test_a_recording_already_in_the_dataset_is_named_with_its_speaker_and_split(tmp_path,
                                                                               capsys):
    """A take added again under another speaker and split was skipped as "already in OUT",
    not saying that it is there as another speaker's, in the other split."""
    from vasa_bridge.cli import main
    takes = _alsa_takes_or_skip(tmp_path, ("Front_Center",))
    wav, text = takes["Front_Center"]
    out = tmp_path / "takes"
    assert main(["dataset", "aligned", str(wav), str(text), "--out", str(out),
                 "--speaker", "me"]) == 0
    capsys.readouterr()
    assert main(["dataset", "aligned", str(wav), str(text), "--out", str(out),
                 "--speaker", "friend", "--split", "validation"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == \
        f"{wav}: already in {out} (speaker 'me', train split), skipped"
    assert open_dataset(out, "all").speakers == {"recording:me"}


def test_dataset_aligned_refusals_name_the_files(tmp_path):
    # "pocketsphinx could not align ... (check both files)" named neither file, an empty
    # transcript was named by its empty text (''), and a folder given as the transcript was
    # said not to exist.
    from vasa_bridge.data.align import build_aligned
    takes = _alsa_takes_or_skip(tmp_path, ("Rear_Right",))
    wav, _ = takes["Rear_Right"]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("seven of hearts and a glass of milk\n")
    with pytest.raises(DataError, match=r"Rear_Right\.wav' with transcript '.*wrong\.txt': "
                                        r"pocketsphinx could not align"):
        build_aligned(wav, wrong, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    with pytest.raises(DataError, match=r"transcript '.*empty\.txt' has no words: expected the "
                                        r"English words said in '.*Rear_Right\.wav'"):
        build_aligned(wav, empty, tmp_path / "refused")
    with pytest.raises(DataError, match=r"transcript '.*' is a folder: expected a text file"):
        build_aligned(wav, tmp_path, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_train_takes_every_dataset_folder_it_is_given(tmp_path, capsys):
    # `train --data synth --data mine` used only the last folder and said nothing, so a user
    # could not train on a synthetic corpus and their own recordings together.
    from vasa_bridge.cli import main
    from vasa_bridge.data.align import build_aligned
    takes = _alsa_takes_or_skip(tmp_path, ("Front_Center", "Front_Left", "Rear_Right"))
    build_aligned(*takes["Front_Center"], tmp_path / "a", speaker="me")
    build_aligned(*takes["Front_Left"], tmp_path / "b", speaker="you")
    build_aligned(*takes["Rear_Right"], tmp_path / "b", speaker="them", split="validation")
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "a"), "--data", str(tmp_path / "b"),
                 "--out", str(tmp_path / "run"), "--steps", "2", "--batch", "2", "--width", "32",
                 "--layers", "1", "--heads", "2", "--eval-every", "2"]) == 0
    assert "[train] 2 training and 1 validation clips from 2 folders" in capsys.readouterr().err
