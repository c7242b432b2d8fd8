"""Aligned path: synthesise with an engine, align with pocketsphinx, compare with the engine's
own phone timings; then build a dataset from the recording through the CLI."""

import argparse

import numpy as np
import pytest
import soundfile as sf

from vasa_bridge.data.align import align, compare_timelines, normalise_text, number_words
from vasa_bridge.data.cli import add_cli
from vasa_bridge.data.dataset import open_dataset
from vasa_bridge.data.engines import Prosody, open_engine
from vasa_bridge.errors import DataError

TEXT = "Please take a seat and tell me what happened at the station this morning."


def test_number_words_and_normalisation():
    assert number_words(42) == "forty two"
    assert number_words(1969) == "one thousand nine hundred sixty nine"
    assert normalise_text("It's 3 o'clock, Bob!") == ["it's", "three", "o'clock", "bob"]


@pytest.mark.parametrize("engine,voice", [("festival", "voice_kal_diphone"),
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


def test_out_of_dictionary_words_are_named():
    with pytest.raises(DataError, match="zxqvv"):
        align(np.zeros(16000, np.float32), "hello zxqvv")


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
        assert len(clip.motion) == int(np.ceil(clip.duration * 25 - 1e-9))
        assert clip.phonemes.ends[-1] == pytest.approx(clip.duration, abs=0.02)
    # the same recording again is skipped
    assert args.func(args) == 0
    assert len(open_dataset(out, "train")) == len(ds)


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
