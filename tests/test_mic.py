"""The microphone path on a real, paced capture device: a PulseAudio null sink whose monitor is
the default source; bursts played into the sink with paplay are what the runtime hears."""

import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

from vasa_bridge.audio.sources import (RATE, AudioDeviceError, CaptureBuffer, LinearResampler,
                                       MicSource)

needs_pulse = pytest.mark.skipif(shutil.which("pulseaudio") is None or
                                 shutil.which("paplay") is None,
                                 reason="PulseAudio is not installed (CI installs pulseaudio "
                                        "pulseaudio-utils libasound2-plugins)")


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    run = tmp_path_factory.mktemp("pulse")
    os.chmod(run, 0o700)
    (run / "pa.pa").write_text(
        "load-module module-native-protocol-unix\n"
        "load-module module-null-sink sink_name=vasa_sink\n"
        "set-default-sink vasa_sink\nset-default-source vasa_sink.monitor\n")
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(run)
    proc = subprocess.Popen(["pulseaudio", "-n", "-F", str(run / "pa.pa"), "--daemonize=no",
                             "--exit-idle-time=-1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["pactl", "info"], capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("PulseAudio did not start")
    _refresh_portaudio()
    yield run
    proc.terminate()
    proc.wait(5)
    if old is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = old


def _refresh_portaudio():
    """PortAudio lists devices once, when sounddevice is first imported; if another test imported
    it before this server existed, list again."""
    try:
        import sounddevice as sd
    except OSError:
        return
    sd._terminate()
    sd._initialize()


def wait_until(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.slow
@needs_pulse
def test_microphone_is_paced_by_the_device_clock(pulse):
    mic = MicSource(None)
    mic.start()
    try:
        assert wait_until(lambda: mic.ring.total_written > 0)
        n0, t0 = mic.ring.total_written, time.monotonic()
        time.sleep(1.0)
        rate = (mic.ring.total_written - n0) / (time.monotonic() - t0)
        assert rate == pytest.approx(RATE, rel=0.1)
        assert mic.ring.overflowed == 0
        assert mic.capture_delay_s() == pytest.approx(mic._stream.latency)  # PortAudio's own
        assert 0.0 < mic.capture_delay_s() < 1.0
    finally:
        mic.close()


@pytest.mark.slow
@needs_pulse
def test_serve_mouth_answers_a_burst_played_into_the_device(pulse, tmp_path, endpoint):
    import soundfile as sf
    from vasa_bridge.runtime.engine import LoudnessEngine
    from vasa_bridge.runtime.serve import Runtime, ServeConfig
    from vasa_bridge.transport import Publisher, PublisherConfig, Subscriber, SubscriberConfig

    t = np.arange(int(0.6 * RATE)) / RATE
    sf.write(tmp_path / "burst.wav", (0.4 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), RATE)
    mic = MicSource(None)
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("motion", "event"))) as sub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine,
                     main_source=mic, pacer=mic)
        worker = threading.Thread(target=rt.run, daemon=True)
        worker.start()
        try:
            assert wait_until(lambda: mic.ring.total_written > 0)
            time.sleep(0.3)
            subprocess.run(["paplay", str(tmp_path / "burst.wav")], check=True, timeout=10)
            time.sleep(0.5)
        finally:
            rt.stop()
            worker.join(5)
            mic.close()
        msgs = list(sub.messages(timeout_ms=300))
    jaw = [m.motion_frame()["jawOpen"] for m in msgs if m.kind == "motion"]
    events = [m.header["name"] for m in msgs if m.kind == "event"]
    assert max(jaw) > 0.3 and jaw[0] < 0.05  # quiet, then the mouth opens with the sound
    assert "speech_start" in events
    seqs = [m.seq for m in msgs if m.kind == "motion"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no motion lost


def test_a_missing_device_is_a_clear_error():
    with pytest.raises(AudioDeviceError, match=r"input device 'no such mic' is not available"):
        MicSource("no such mic")
    from vasa_bridge.audio.sources import list_input_devices
    if not list_input_devices():  # this machine (CI): no microphone at all
        with pytest.raises(AudioDeviceError, match=r"^the default input device is not "
                                                   r"available \(.*\): no input device was "
                                                   r"found \(plug in a microphone"):
            MicSource(None)


def test_linear_resampler_chunked_equals_whole():
    x = np.sin(np.arange(48000) * 0.01).astype(np.float32)
    whole = LinearResampler(48000, 16000)(x)
    r = LinearResampler(48000, 16000)
    parts = np.concatenate([r(x[i:i + 1234]) for i in range(0, len(x), 1234)])
    assert abs(len(whole) - 16000) <= 1
    np.testing.assert_allclose(parts, whole[:len(parts)], atol=1e-6)
    assert len(whole) - len(parts) <= 1
    np.testing.assert_allclose(whole[:1000], x[::3][:1000], atol=1e-6)


def test_capture_buffer_copies_on_the_device_side_and_resamples_on_the_readers():
    """A device that only opens at 48 kHz: the callback's `write` keeps its samples as they came;
    reading RATE spans resamples them, chunk by chunk equal to resampling the whole signal."""
    now = [10.0]
    cap = CaptureBuffer(48000, clock=lambda: now[0])
    x = np.sin(np.arange(48000) * 0.01).astype(np.float32)
    for i in range(0, 9600, 480):  # 0.2 s in 10 ms blocks
        cap.write(x[i:i + 480])
        now[0] += 0.01
    assert cap.ring.available == 9600  # nothing resampled on the device's side
    np.testing.assert_array_equal(cap.ring.read(9600), x[:9600])
    cap = CaptureBuffer(48000, clock=lambda: now[0])
    arrived = []
    for i in range(0, 48000, 480):
        cap.write(x[i:i + 480])
        arrived.append(now[0])
        now[0] += 0.01
    assert cap.ready(15000) and not cap.ready(16001)
    assert cap.wait_s(16320) == pytest.approx(320 / RATE, abs=1 / RATE)
    got = np.concatenate([cap.read(a, a + 320) for a in range(0, 15680, 320)])
    np.testing.assert_allclose(got, LinearResampler(48000, RATE)(x)[:15680], atol=1e-6)
    # a RATE position maps back to the block that delivered it (sample 3200 = 48 kHz 9600)
    assert cap.arrival_time(3200) == arrived[20] and cap.arrival_time(3199) == arrived[19]
    assert cap.arrival_time(16000) is None


def test_capture_buffer_at_the_contracts_rate_reads_what_was_written():
    cap = CaptureBuffer(RATE, capacity_s=0.1)
    cap.write(np.array([0.5, np.nan, 2.0] + [0.25] * 1597, np.float32))
    assert cap.ready(1600) and not cap.ready(1601) and cap.wait_s(1920) == 320 / RATE
    out = cap.read(0, 320)
    assert out[:3].tolist() == [0.5, 0.0, 1.0] and cap.bad_samples == 2
    cap.write(np.full(1600, 0.5, np.float32))  # the reader fell behind: the oldest are lost
    assert cap.ring.overflowed == 1280
    assert cap.read(320, 640).tolist() == [0.0] * 320  # lost: silence keeps the timeline
    span = cap.read(1500, 1820)  # straddles the loss: silence, then what is still there
    assert span[:100].tolist() == [0.0] * 100 and span[100:].tolist() == [0.5] * 220


@pytest.mark.slow
@needs_pulse
def test_a_voice_heard_ahead_on_a_real_device_plays_late_with_its_words(pulse, tmp_path,
                                                                       endpoint):
    """serve --mic --hear-ahead 4 on a real, paced device: a real voice played into it comes out
    4 s later (sound and face), and its phrase was heard whole in the meantime: its words'
    mouth is ready before it plays."""
    from pathlib import Path

    import soundfile as sf
    from vasa_bridge.audio.ahead import DelayLine, Phrases
    from vasa_bridge.runtime.engine import LoudnessEngine
    from vasa_bridge.runtime.model_engine import load_model
    from vasa_bridge.runtime.serve import Runtime, ServeConfig
    from vasa_bridge.transport import Publisher, PublisherConfig, Subscriber, SubscriberConfig

    raw = Path("/usr/share/pocketsphinx/test/data/goforward.raw")
    if not raw.is_file():
        pytest.skip(f"{raw} is missing: install pocketsphinx-testdata")
    voice = np.frombuffer(raw.read_bytes(), "<i2").astype(np.float32) / 32768
    sf.write(tmp_path / "voice.wav", voice, RATE)
    baker = load_model()[1]
    baker.warm()  # as the session does at start
    line = DelayLine(MicSource(None), 4.0)
    with Publisher(PublisherConfig(endpoint=endpoint)) as pub, \
            Subscriber(SubscriberConfig(endpoint=endpoint, kinds=("audio",))) as sub:
        rt = Runtime(ServeConfig(frames=False), pub, engine_factory=LoudnessEngine,
                     main_source=line, pacer=line, clip_baker=baker)
        line.on_fresh = Phrases(lambda x, s: rt.hear_piece(x, s + line.delay, baker.hear_words))
        worker = threading.Thread(target=rt.run, daemon=True)
        worker.start()
        try:
            assert wait_until(lambda: rt.main.index > 10)
            played_at = rt.main.index  # output frame when the voice goes in
            subprocess.run(["paplay", str(tmp_path / "voice.wav")], check=True, timeout=10)
            assert wait_until(lambda: len(rt.main.mouths) == 1 and rt.main.mouths[0].done, 10)
            late = rt.main.mouths[0]
            heard_at = rt.main.index
            assert late.overlay is not None  # its words were trusted
            assert heard_at <= late.overlay.first  # known before it played
            assert wait_until(lambda: rt.main.index > late.end + 5, 10)
        finally:
            rt.stop()
            worker.join(5)
            line.close()
        sound = [(m.pts, m.audio_samples()[:, 0]) for m in sub.messages(timeout_ms=300)]
    loud = [pts for pts, x in sound if np.abs(x).max() > 0.1 * 32767]
    assert loud and loud[0] >= (played_at + 4 * 25) * 40_000_000  # out 4 s after it went in


def test_a_device_that_stops_delivering_becomes_silence_in_real_time(caplog):
    """Unplugging the microphone (or its sound server going away) stops the callbacks. The
    microphone paces the whole runtime, so without this the face, clips and NPC streams froze
    with no message: now, after stall_s without a block, the timeline goes on in real time as
    silence, said once in the log."""
    import logging
    caplog.set_level(logging.WARNING, logger="vasa_bridge.audio.sources")
    now = [100.0]
    cap = CaptureBuffer(RATE, clock=lambda: now[0], stall_s=2.0, name="microphone 'usb'")
    cap.start()
    for _ in range(10):  # 0.2 s of sound in 20 ms blocks
        cap.write(np.full(320, 0.5, np.float32))
        now[0] += 0.02
    assert cap.written == 3200 and cap.lost is None
    now[0] += 1.5  # a hiccup shorter than stall_s: still waiting for the device
    assert not cap.ready(3201) and cap.lost is None
    now[0] += 1.0  # 2.52 s since the last block
    assert cap.ready(3201) and cap.lost is not None
    assert abs(cap.written - (3200 + 2.52 * RATE)) <= 1
    span = cap.read(3000, 3640)  # the device's last samples, then silence
    assert span[:200].tolist() == [0.5] * 200 and span[200:].tolist() == [0.0] * 440
    now[0] += 1.0
    assert cap.wait_s(cap.written + RATE) == pytest.approx(1.0, abs=1 / RATE)  # paced by the clock
    cap.write(np.full(320, 0.9, np.float32))  # a late block from a device that came back
    assert cap.read(3640, 3960).tolist() == [0.0] * 320
    lost = [r.getMessage() for r in caplog.records if "stopped delivering" in r.getMessage()]
    assert len(lost) == 1 and "microphone 'usb'" in lost[0], lost


def test_a_device_that_never_delivers_is_noticed_too():
    now = [0.0]
    cap = CaptureBuffer(48000, clock=lambda: now[0], stall_s=2.0)
    assert cap.written == 0 and cap.lost is None  # not started: nothing is due yet
    now[0] += 5.0
    assert cap.written == 0
    cap.start()
    now[0] += 2.5
    assert abs(cap.written - 2.5 * RATE) <= 1 and cap.read(0, 320).tolist() == [0.0] * 320


def _null_sink(action: str) -> None:
    if action == "unload":
        subprocess.run(["pactl", "unload-module", "module-null-sink"], check=True, timeout=10)
    else:
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=vasa_sink"],
                       check=True, timeout=10, capture_output=True)
        subprocess.run(["pactl", "set-default-source", "vasa_sink.monitor"], check=True,
                       timeout=10)


@pytest.mark.slow
@needs_pulse
def test_unplugging_a_real_device_while_capturing_and_opening_one_with_no_source(pulse):
    """The sink behind the capture removed mid-stream: PortAudio's callbacks stop, and the
    capture goes on as silence in real time instead of freezing the runtime. Then, with no
    source at all, opening the default device is a one-line AudioDeviceError, not a raw
    PortAudioError traceback."""
    mic = MicSource(None)
    mic.capture.stall_s = 0.3
    mic.start()
    try:
        assert wait_until(lambda: mic.ring.total_written > 0)
        _null_sink("unload")
        try:
            assert wait_until(lambda: mic.ready(mic.capture.written + 1) and
                              mic.capture.lost is not None)
            end = mic.capture.written
            assert wait_until(lambda: mic.ready(end + RATE // 10))  # time goes on
        finally:
            mic.close()
        with pytest.raises(AudioDeviceError, match=r"input device .* cannot be opened \("):
            MicSource(None)
    finally:
        _null_sink("load")
