"""What a user's speech file does to `vasa-bridge bake` and `render`: a stereo voice stays stereo
in the video; a silent file bakes with one warning; a file shorter than a motion frame is refused
in one line; a WAV or MP3 cut short of its header's promise is read with one warning. Real WAVs,
written with soundfile, and MP3s written with PyAV, through the real command line."""

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vasa_bridge.audio.io import decode_audio, load_speech, read_audio
from vasa_bridge.cli import main
from vasa_bridge.errors import AudioError
from vasa_bridge.model.onnx_runtime import default_model_path

VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")  # a real voice, mono, 48 kHz, 1.43 s
needs_voice = pytest.mark.skipif(not VOICE.is_file(), reason=f"{VOICE} is missing (alsa-utils)")
needs_model = pytest.mark.skipif(not default_model_path().is_file(),
                                 reason="no shipped model in vasa_bridge/assets/model/")


def voice() -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(VOICE), dtype="float32")
    return audio, rate


def warnings_from_io(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "vasa_bridge.audio.io" and r.levelno == logging.WARNING]


def baked_with_warnings(speech: Path, tmp_path: Path, caplog) -> list[str]:
    """`vasa-bridge bake --audio speech`: it succeeds and writes its track; the warnings the
    file's reading logged."""
    out = tmp_path / "t.npz"
    with caplog.at_level(logging.WARNING, logger="vasa_bridge"):
        assert main(["bake", "--audio", str(speech), "-o", str(out)]) == 0
    assert out.is_file()
    return warnings_from_io(caplog)


def cut_wav(tmp_path: Path) -> tuple[Path, float, float]:
    """The voice as a 16-bit WAV with the second half of its bytes cut off (a copy or download
    that stopped): (path, seconds left, seconds the header promises)."""
    audio, rate = voice()
    whole = tmp_path / "whole.wav"
    sf.write(str(whole), audio, rate, subtype="PCM_16")
    data = whole.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:len(data) // 2])
    held = (len(data) // 2 - 44) // 2  # 44-byte header, 2 bytes a frame
    return cut, held / rate, len(audio) / rate


@needs_model
@needs_voice
def test_render_keeps_a_stereo_voice_in_stereo(tmp_path, capsys):
    """The video carried the voice mixed to mono: a stereo file gave a mono video."""
    import av
    audio, rate = voice()
    audio = audio[:rate]  # 1 s
    tone = 0.2 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)  # right only
    speech = tmp_path / "stereo.wav"
    sf.write(str(speech), np.stack([audio, tone], 1).astype(np.float32), rate)
    out = tmp_path / "out.mp4"
    assert main(["render", "--audio", str(speech), "-o", str(out), "--size", "128", "--quiet",
                 "--no-label", "--no-credentials"]) == 0
    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        assert (stream.layout.name, stream.codec_context.sample_rate) == ("stereo", rate)
        left, right = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[:, :rate]

    def at_1khz(x):
        spectrum = np.abs(np.fft.rfft(x))
        return spectrum[np.argmin(np.abs(np.fft.rfftfreq(len(x), 1 / rate) - 1000))]

    assert at_1khz(right) > 30 * at_1khz(left)  # the tone stayed on its side
    assert np.sqrt(np.mean((left - right) ** 2)) > 0.1  # not one channel copied twice


@needs_model
@pytest.mark.parametrize("level_db", [None, -70.0])  # all zeros; a whisper of the voice
def test_a_silent_file_bakes_with_one_warning(tmp_path, caplog, level_db):
    """A silent file baked a still face and said nothing."""
    if level_db is None:
        audio, rate, shown = np.zeros(16000, np.float32), 16000, "-inf dBFS (all zeros)"
    else:
        if not VOICE.is_file():
            pytest.skip(f"{VOICE} is missing")
        audio, rate = voice()
        audio = audio * np.float32(10 ** (level_db / 20) / np.abs(audio).max())
        shown = f"{level_db:.1f} dBFS"
    speech = tmp_path / "quiet.wav"
    sf.write(str(speech), audio, rate, subtype="FLOAT")
    assert baked_with_warnings(speech, tmp_path, caplog) == [
        f"audio file {str(speech)!r} is silent: peak {shown}, expected speech above -60 dBFS; "
        f"the face will stay at rest"]


@needs_voice
def test_speech_is_read_without_a_warning(tmp_path, caplog):
    """The checks leave a real voice, and a WAV streamed with a placeholder size, alone."""
    audio, rate = voice()
    streamed = bytearray(VOICE.read_bytes())
    at = streamed.index(b"data") + 4
    streamed[at:at + 4] = b"\xff\xff\xff\xff"  # what a recorder that never seeks back leaves
    (tmp_path / "streamed.wav").write_bytes(streamed)
    with caplog.at_level(logging.WARNING, logger="vasa_bridge"):
        got, got_rate = read_audio(VOICE)
        assert len(read_audio(tmp_path / "streamed.wav")[0]) == len(audio)
    np.testing.assert_array_equal(got, audio)
    assert got_rate == rate and warnings_from_io(caplog) == []


@needs_model
def test_a_file_shorter_than_a_frame_is_refused_in_one_line(tmp_path, capsys):
    """A 1-sample WAV baked a one-frame track."""
    speech = tmp_path / "click.wav"
    sf.write(str(speech), np.array([0.5], np.float32), 16000)
    expected = (f"audio file {str(speech)!r} is 0.0001 s long (1 sample at 16000 Hz): expected "
                f"at least one 0.04 s frame")
    for command, out in (("bake", tmp_path / "t.npz"), ("render", tmp_path / "v.mp4")):
        capsys.readouterr()
        quiet = ["--quiet"] if command == "render" else []
        assert main([command, "--audio", str(speech), "-o", str(out), *quiet]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == f"vasa-bridge {command}: error: {expected}"
        assert "Traceback" not in "\n".join(err) and not out.exists()


def test_one_frame_of_audio_is_the_least_taken(tmp_path):
    sf.write(str(tmp_path / "frame.wav"), np.full(640, 0.3, np.float32), 16000)  # 0.04 s
    sf.write(str(tmp_path / "less.wav"), np.full(639, 0.3, np.float32), 16000)
    assert read_audio(tmp_path / "frame.wav")[0].shape == (640,)
    with pytest.raises(AudioError, match=r"'.*less.wav' is 0.0399 s long \(639 samples at 16000 "
                                         r"Hz\): expected at least one 0.04 s frame"):
        read_audio(tmp_path / "less.wav")


@needs_model
@needs_voice
def test_a_truncated_wav_bakes_with_one_warning(tmp_path, caplog):
    """libsndfile reads what is there: half a line was baked and nobody was told."""
    cut, held, promised = cut_wav(tmp_path)
    assert baked_with_warnings(cut, tmp_path, caplog) == [
        f"audio file {str(cut)!r} is cut short: read {held:.3f} s of the {promised:.3f} s its "
        f"header promises (the rest of the data is missing)"]


@needs_voice
@pytest.mark.parametrize("reader", ["read_audio", "load_speech", "decode_audio"])
def test_every_way_of_reading_a_file_checks_it(tmp_path, caplog, reader):
    """bake and render (read_audio), serve --audio (load_speech) and batch workers
    (decode_audio, from the file's bytes) warn and refuse alike."""
    read = {"read_audio": read_audio, "load_speech": load_speech,
            "decode_audio": lambda p: decode_audio(Path(p).read_bytes(), str(p))}[reader]
    cut = cut_wav(tmp_path)[0]
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(8000, np.float32), 16000)
    click = tmp_path / "click.wav"
    sf.write(str(click), np.zeros(1, np.float32), 16000)
    with caplog.at_level(logging.WARNING, logger="vasa_bridge"):
        read(cut)
        read(silent)
    warned = warnings_from_io(caplog)
    assert len(warned) == 2 and "is cut short" in warned[0] and "is silent" in warned[1]
    with pytest.raises(AudioError, match="expected at least one 0.04 s frame"):
        read(click)


def mp3_of(audio: np.ndarray, rate: int, **options) -> bytes:
    """Mono `audio` as an MP3 written by PyAV, whose muxer puts a Xing/Info tag with the frame
    count first (unless `write_xing="0"`)."""
    import av
    out = io.BytesIO()
    with av.open(out, "w", format="mp3", options=options) as container:
        stream = container.add_stream("mp3", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray((audio * 32767).astype(np.int16)[None], format="s16",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize("reader", ["read_audio", "decode_audio"])
def test_a_truncated_mp3_is_read_with_one_warning(tmp_path, caplog, reader):
    """PyAV decoded what was there: an MP3 cut off at 60 % read 1.8 s of a 3 s line and nobody was
    told; cut 2 bytes into a frame, it was refused with FFmpeg's "Invalid data found". A whole
    MP3, and one with no frame count (FFmpeg guesses its length from the bitrate: 5.8 s here, for
    3.1 s of sound and a trailing tag), are read without a warning."""
    import av
    rate = 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * rate) / rate)).astype(np.float32)
    whole = mp3_of(tone, rate)
    with av.open(io.BytesIO(whole)) as container:
        starts = [p.pos for p in container.demux(audio=0) if p.size]  # each frame's first byte
    guessed = mp3_of(tone, rate, write_xing="0") + b"APETAGEX" + bytes(8000)
    files = {"whole.mp3": whole, "cut.mp3": whole[:len(whole) * 6 // 10],
             "cut_in_a_frame.mp3": whole[:starts[len(starts) // 2] + 2], "guessed.mp3": guessed}
    read = {"read_audio": lambda name: read_audio(tmp_path / name),
            "decode_audio": lambda name: decode_audio(files[name], str(tmp_path / name))}[reader]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    seconds = {}
    with caplog.at_level(logging.WARNING, logger="vasa_bridge"):
        for name in files:
            audio, got_rate = read(name)
            seconds[name] = len(audio) / got_rate
    assert seconds["whole.mp3"] == 3.0 and seconds["guessed.mp3"] < 3.2
    assert 1.0 < seconds["cut_in_a_frame.mp3"] < seconds["cut.mp3"] < 2.0
    assert warnings_from_io(caplog) == [
        f"audio file {str(tmp_path / name)!r} is cut short: read {seconds[name]:.3f} s of the "
        f"3.000 s its header promises (the rest of the data is missing)"
        for name in ("cut.mp3", "cut_in_a_frame.mp3")]
