"""Audio features: shapes, causality, streaming == offline, normalisation, resampling, bad input."""

import numpy as np
import pytest

from vasa_bridge.audio.features import (FeatureConfig, FeatureStream, extract, num_frames,
                                        prepare_audio, to_float_mono)
from vasa_bridge.audio.io import load_speech, read_audio
from vasa_bridge.audio.pcm import MAX_RATE, MIN_RATE
from vasa_bridge.errors import AudioError

SR = 16000


def speechlike(seconds=4.0, sr=SR, seed=0, gain=0.3):
    """Harmonic bursts with a moving pitch and noise consonants: syllables at ~4 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    noise = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 4 * t + 2.5) > 0.9)
    room = 0.003 * rng.standard_normal(t.size)  # a recording's noise floor, scaled with the gain
    return (gain * (0.5 * env * voiced + 0.2 * noise + room)).astype(np.float32)


def test_shape_and_frame_count():
    cfg = FeatureConfig()
    x = speechlike(2.01)
    f = extract(x, SR)
    assert f.shape == (num_frames(x.size), cfg.dim) == (51, 164)
    assert f.dtype == np.float32 and np.isfinite(f).all()


@pytest.mark.parametrize("chunk", [1, 37, 640, 641, 16000])
def test_streaming_equals_offline(chunk):
    x = speechlike(3.3, seed=1)
    whole = extract(x, SR)
    s = FeatureStream()
    parts = [s.push(x[i:i + chunk]) for i in range(0, x.size, chunk)] + [s.flush()]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5, rtol=0)


def test_causal_future_audio_does_not_change_past_frames():
    x = speechlike(3.0, seed=2)
    y = x.copy()
    y[SR * 2:] = np.random.default_rng(0).standard_normal(y.size - SR * 2) * 0.5
    fx, fy = extract(x, SR), extract(y, SR)
    np.testing.assert_array_equal(fx[:50], fy[:50])  # frames ending at or before 2.0 s
    assert not np.allclose(fx[51:], fy[51:])


def test_speaker_normalisation_removes_gain_after_warmup():
    x = speechlike(30.0, seed=3)
    loud, quiet = extract(x, SR), extract(x * 0.1, SR)  # -20 dB
    mel = slice(0, 40)
    early = np.abs(loud[:10, mel] - quiet[:10, mel]).mean()
    late = np.abs(loud[-100:, mel] - quiet[-100:, mel]).mean()
    assert late < 0.1 < 0.5 < early  # the 20 dB offset is learned away by the running mean
    # the absolute level channel keeps the difference
    assert loud[-100:, 40].mean() > quiet[-100:, 40].mean() + 0.5


def test_silence_does_not_update_statistics():
    s = FeatureStream()
    s.push(np.zeros(SR * 5, np.float32))
    assert s.speech_frames == 0
    f = s.push(speechlike(1.0))
    assert s.speech_frames > 10 and np.isfinite(f).all()


def test_digital_silence_is_finite():
    f = extract(np.zeros(SR, np.float32), SR)
    assert np.isfinite(f).all() and f.shape == (25, 164)
    assert (f[:, 40] <= -1.0).all()  # level channel says "silent"


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000])
def test_any_rate_resamples_to_the_same_features(rate):
    from scipy.signal import resample_poly
    x = speechlike(2.0, seed=4)
    y = resample_poly(x, rate, SR).astype(np.float32)
    fy, fx = extract(y, rate), extract(x, SR)
    n = min(len(fx), len(fy))
    assert abs(len(fx) - len(fy)) <= 1
    bands = slice(0, 40) if rate > 8000 else slice(0, 30)  # 8 kHz has no band above 4 kHz
    corr = np.corrcoef(fx[:n, bands].ravel(), fy[:n, bands].ravel())[0, 1]
    assert corr > 0.95


def test_stereo_is_mixed_and_int_pcm_scaled():
    x = speechlike(1.0)
    stereo = np.stack([x, x], axis=1)
    np.testing.assert_allclose(to_float_mono(stereo, SR), x, atol=1e-7)
    pcm16 = np.round(x * 32767).astype(np.int16)
    np.testing.assert_allclose(to_float_mono(pcm16, SR), x, atol=1e-4)
    pcm8 = np.round(x * 127 + 128).astype(np.uint8)
    np.testing.assert_allclose(to_float_mono(pcm8, SR), x, atol=1e-2)


@pytest.mark.parametrize("audio, rate, match", [
    (np.zeros(0, np.float32), SR, "empty"),
    (np.array([0.0, np.nan, 0.1], np.float32), SR, "non-finite"),
    (np.array([0.0, np.inf], np.float32), SR, "non-finite"),
    (np.ones(100, np.float32) * 20000, SR, "peaks at 20000"),
    (np.zeros(100, np.float32), 100, "sample rate is 100 Hz"),
    (np.zeros(100, np.float32), 16000.5, "integer number of Hz"),
    (np.zeros((2, 1000), np.float32), SR, "channel-first"),
    (np.zeros((2, 3, 4), np.float32), SR, "expected \\(samples,\\)"),
    (np.array(["a"]), SR, "dtype"),
])
def test_bad_audio_is_refused_clearly(audio, rate, match):
    with pytest.raises(AudioError, match=match):
        extract(audio, rate)


def test_stream_refuses_nan_chunk():
    with pytest.raises(AudioError, match="non-finite"):
        FeatureStream().push(np.array([np.nan], np.float32))


@pytest.mark.slow
def test_an_hour_is_processed_in_bounded_chunks():
    # an hour of near-silence: ~90k frames; runs through the same stream in 30 s chunks
    x = np.zeros(SR * 3600, np.float32)
    x[::997] = 1e-4
    f = extract(x, SR)
    assert f.shape == (90000, 164) and np.isfinite(f).all()


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_read_soundfile_formats(tmp_path, suffix):
    import soundfile as sf
    x = speechlike(1.0, sr=22050)
    path = tmp_path / f"s{suffix}"
    sf.write(str(path), np.stack([x, x], 1), 22050)
    audio, rate = read_audio(path)
    assert rate == 22050 and audio.shape == (22050, 2)
    mono, r = load_speech(path)
    assert r == SR and abs(mono.size - SR) <= 1


def test_read_mp3(tmp_path):
    av = pytest.importorskip("av")
    x = speechlike(1.0, sr=44100)
    path = tmp_path / "s.mp3"
    with av.open(str(path), "w") as out:
        st = out.add_stream("mp3", rate=44100, layout="mono")
        frame = av.AudioFrame.from_ndarray((x[None] * 32767).astype(np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 44100
        for p in st.encode(frame):
            out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    audio, rate = read_audio(path)
    assert rate == 44100 and audio.ndim == 1 and abs(audio.size - 44100) < 3000
    assert 0.05 < np.abs(audio).max() < 1.0


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(AudioError, match="does not exist"):
        read_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="cannot read"):
        read_audio(bad)
    bad_mp3 = tmp_path / "bad.mp3"
    bad_mp3.write_bytes(b"\x00" * 100)
    with pytest.raises(AudioError):
        read_audio(bad_mp3)


def test_prepare_audio_resamples_length():
    x = np.zeros(44100, np.float32)
    assert prepare_audio(x, 44100).size == SR


def test_features_do_not_depend_on_the_blas_thread_count(tmp_path):
    """A batch bakes in processes with different thread counts (Ray workers run with one):
    the same audio must give the same features, bit for bit."""
    import os
    import subprocess
    import sys
    np.save(tmp_path / "x.npy", speechlike(2.0))
    code = ("import sys, numpy as np; from vasa_bridge.audio.features import extract; "
            "np.save(sys.argv[2], extract(np.load(sys.argv[1]), 16000))")
    for threads in (1, 2):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npy"),
                        str(tmp_path / f"f{threads}.npy")], env=env, check=True)
    one, two = np.load(tmp_path / "f1.npy"), np.load(tmp_path / "f2.npy")
    assert one.shape[0] > 10 and np.array_equal(one, two)


def test_decode_audio_from_bytes_matches_the_file(tmp_path):
    import soundfile as sf
    from vasa_bridge.audio.io import decode_audio
    x = speechlike(0.5, sr=22050)
    path = tmp_path / "s.flac"
    sf.write(str(path), x, 22050)
    audio, rate = decode_audio(path.read_bytes(), "s.flac")
    ref, ref_rate = read_audio(path)
    assert rate == ref_rate == 22050 and np.array_equal(audio, ref)
    with pytest.raises(AudioError, match="cannot read 'junk.wav'"):
        decode_audio(b"not audio", "junk.wav")


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def _flac_claiming(path, total: int) -> None:
    """A short FLAC whose STREAMINFO claims `total` samples (36-bit field)."""
    import soundfile as sf
    sf.write(str(path), speechlike(0.2), 16000, format="FLAC")
    b = bytearray(path.read_bytes())
    packed = int.from_bytes(b[18:26], "big")
    packed = (packed & ~(2**36 - 1)) | total
    b[18:26] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("total", [0, 2**32, 2**36 - 1])
def test_flac_header_claiming_huge_length_is_never_allocated(tmp_path, total):
    import tracemalloc
    path = tmp_path / "claim.flac"
    _flac_claiming(path, total)
    tracemalloc.start()
    try:
        try:
            audio, rate = read_audio(path)  # was MemoryError (2^36), 16 GiB (2^32), ValueError (0)
            assert rate == 16000 and 0 < len(audio) <= 0.2 * 16000
        except AudioError as e:
            assert "claim.flac" in str(e) and "expected" in str(e)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20


def test_decoding_stops_past_the_sample_limit(tmp_path, monkeypatch):
    import soundfile as sf
    from vasa_bridge.audio import io as audio_io
    monkeypatch.setattr(audio_io, "MAX_SAMPLES", 1000)
    monkeypatch.setattr(audio_io, "BLOCK_FRAMES", 256)
    sf.write(str(tmp_path / "long.wav"), speechlike(0.5), 16000)
    with pytest.raises(AudioError, match="'.*long.wav' decodes to more than 1024 samples: the "
                                         "limit is 1000"):
        read_audio(tmp_path / "long.wav")


def test_mp3_with_undecodable_tags_is_an_audio_error(tmp_path):
    import io

    import av
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(speechlike(0.1)[None], format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            out.mux(packet)
    data = bytearray(buf.getvalue())
    text = data.index(b"Lavf")  # the ID3v2 TSSE frame, declared UTF-8 (encoding byte 3)
    assert data[text - 1] == 3
    data[text] = 0xCC  # not UTF-8: PyAV raised UnicodeDecodeError while opening the file
    path = tmp_path / "tags.mp3"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"cannot decode '.*tags\.mp3' \(.*\): expected"):
        read_audio(path)


def test_load_speech_names_the_file_when_its_rate_is_refused(tmp_path):
    import soundfile as sf
    import struct
    path = tmp_path / "rate.wav"
    sf.write(str(path), speechlike(0.2), 16000, subtype="PCM_16")
    b = bytearray(path.read_bytes())
    struct.pack_into("<I", b, b.index(b"fmt ") + 12, 999)  # sample rate 999 Hz
    path.write_bytes(bytes(b))
    with pytest.raises(AudioError, match=r"'.*rate\.wav': sample rate is 999 Hz: expected"):
        load_speech(path)


@pytest.mark.parametrize("rate", [6000, MIN_RATE - 1, MIN_RATE, 44100, MAX_RATE, MAX_RATE + 1,
                                  250000])
def test_a_speak_clip_and_a_speech_file_take_the_same_sample_rates(tmp_path, rate):
    """`speak` took 8-192 kHz and a file (`serve --audio`, `render --audio`: load_speech)
    4-384 kHz: a 6 kHz or 250 kHz file played that the same clip sent with speak could not.
    One range now, audio.pcm's, refused naming the value and the range."""
    import soundfile as sf
    from vasa_bridge.transport.control.schema import RequestError, parse_speak
    pcm = (np.sin(np.arange(rate // 10) * 0.05) * 8000).astype(np.int16)  # 0.1 s
    path = tmp_path / "clip.wav"
    sf.write(str(path), pcm, rate)
    speak = {"cmd": "speak", "audio": pcm.tobytes(), "rate": rate}
    if MIN_RATE <= rate <= MAX_RATE:
        assert len(load_speech(path)) == 2 and parse_speak(speak, max_audio_s=10)["rate"] == rate
        return
    expected = rf"{rate} Hz: expected {MIN_RATE}\.\.{MAX_RATE} Hz$"
    with pytest.raises(AudioError, match=rf"'.*clip\.wav': sample rate is {expected}"):
        load_speech(path)
    with pytest.raises(RequestError, match=f"speak rate is {expected}"):
        parse_speak(speak, max_audio_s=10)
