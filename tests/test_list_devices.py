"""`serve --list-devices` with no capture device, and `serve --mic` with one that will not open:
one line that names the cause found and the next step. sounddevice is the device boundary: the
tests give it the view of each machine (a stand-in module, or an import that fails), and the
rest of the machine through its real channels: $XDG_RUNTIME_DIR's sockets, a `pactl` on $PATH,
/dev/snd. Two tests run the real thing: the CLI on this machine, and a real PulseAudio with no
source; there, and wherever PortAudio's libraries (ALSA, JACK) write their own lines on stderr,
our one line is all the terminal shows (native_log.quiet_portaudio)."""

import importlib.abc
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from conftest import ROOT
from vasa_bridge import cli
from vasa_bridge.audio import sources

ERROR = "vasa-bridge serve: error: no audio input device found: "
NULL_SINK = "`pactl load-module module-null-sink sink_name=vasa`"


class Machine:
    """The sound stack of a pretend Linux machine: what PortAudio lists, the programs on $PATH,
    a sound server's socket in $XDG_RUNTIME_DIR, /dev/snd."""

    def __init__(self, monkeypatch, tmp_path):
        self.monkeypatch, self.tmp = monkeypatch, tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.runtime = tmp_path / "runtime"
        self.runtime.mkdir()
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(self.runtime))
        monkeypatch.delenv("PULSE_SERVER", raising=False)
        # raising=False: the old code has none of these, and must fail on the message itself
        monkeypatch.setattr(sources, "SOUND_CARDS", tmp_path / "dev-snd", raising=False)
        monkeypatch.setattr(sources, "SYSTEM_PULSE", tmp_path / "run-pulse-native",
                            raising=False)
        self.portaudio()

    def portaudio(self, apis=("ALSA", "OSS"), devices=(), open_error=None):
        """sounddevice as PortAudio would show it: `devices` are (name, inputs, outputs)."""
        sd = types.ModuleType("sounddevice")
        infos = [{"name": n, "max_input_channels": i, "max_output_channels": o,
                  "default_samplerate": 44100.0} for n, i, o in devices]
        sd.query_hostapis = lambda: tuple({"name": a} for a in apis)
        sd.query_devices = lambda device=None, kind=None: infos if device is None and \
            kind is None else next(d for d in infos if d["max_input_channels"])
        sd.PortAudioError = type("PortAudioError", (Exception,), {})
        sd.check_input_settings = lambda **kw: None

        def stream(**kw):
            raise sd.PortAudioError(open_error)
        sd.InputStream = stream
        self.monkeypatch.setitem(sys.modules, "sounddevice", sd)

    def import_fails(self, error):
        """`import sounddevice` raises `error` (as it does with PortAudio missing)."""
        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "sounddevice":
                    raise error
        self.monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
        self.monkeypatch.setattr(sys, "meta_path", [Refuse(), *sys.meta_path])

    def program(self, name, body="exit 0"):
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def pulse(self, sources_listed=None, pactl_body=None):
        """A PulseAudio socket in $XDG_RUNTIME_DIR, and a pactl that lists these sources."""
        (self.runtime / "pulse").mkdir()
        (self.runtime / "pulse" / "native").touch()
        if pactl_body is None:
            pactl_body = "".join(f"echo '{i}\t{s}\tmodule-null-sink.c\ts16le 2ch 44100Hz\tIDLE'\n"
                                 for i, s in enumerate(sources_listed or ()))
        self.program("pactl", pactl_body or "exit 0")
        return f"{self.runtime}/pulse/native"

    def sound_cards(self):
        (self.tmp / "dev-snd").mkdir()


@pytest.fixture
def machine(monkeypatch, tmp_path):
    return Machine(monkeypatch, tmp_path)


def list_devices(capsys) -> str:
    """The one line `serve --list-devices` prints, after the common start; exit code 2."""
    code = cli.main(["serve", "--list-devices"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), (code, out, err)
    assert err.startswith(ERROR) and err.endswith("\n") and err.count("\n") == 1, err
    return err[len(ERROR):-1]


def test_portaudio_missing_says_to_install_it(machine, capsys):
    machine.import_fails(OSError("PortAudio library not found"))
    assert list_devices(capsys) == (
        "PortAudio did not load (OSError: PortAudio library not found); install it: "
        "`apt-get install libportaudio2` (Debian/Ubuntu) or `brew install portaudio` (macOS), "
        "or use --audio FILE")


def test_sounddevice_missing_says_to_install_it(machine, capsys):
    machine.import_fails(ModuleNotFoundError("No module named 'sounddevice'"))
    assert list_devices(capsys) == (
        "sounddevice did not load (ModuleNotFoundError: No module named 'sounddevice'); install "
        "it: `pip install sounddevice`, or use --audio FILE")


def test_no_device_at_all_in_a_container_without_a_sound_server(machine, capsys):
    machine.program("pulseaudio")
    assert list_devices(capsys) == (
        "PortAudio lists no device at all (host APIs: ALSA, OSS): no PulseAudio/PipeWire server "
        "socket was found and /dev/snd is missing (a container started without --device "
        "/dev/snd?); start one: `pulseaudio --start`, or give the container /dev/snd, or use "
        "--audio FILE")


def test_no_device_no_runtime_dir_and_no_server_installed(machine, capsys, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert list_devices(capsys) == (
        "PortAudio lists no device at all (host APIs: ALSA, OSS): no PulseAudio/PipeWire server "
        "socket was found ($XDG_RUNTIME_DIR is unset) and /dev/snd is missing (a container "
        "started without --device /dev/snd?); install and start one: `apt-get install "
        "pulseaudio`, then `pulseaudio --start`, or give the container /dev/snd, or use --audio "
        "FILE")


def test_no_device_although_dev_snd_exists_points_at_its_permissions(machine, capsys):
    machine.sound_cards()
    machine.program("pipewire")
    assert list_devices(capsys) == (
        "PortAudio lists no device at all (host APIs: ALSA, OSS) although /dev/snd exists, and "
        "no PulseAudio/PipeWire server socket was found: this user may not open /dev/snd; check "
        "`ls -l /dev/snd` (the audio group), or start one: `systemctl --user start pipewire "
        "pipewire-pulse`, or use --audio FILE")


def test_output_only_devices_are_counted(machine, capsys):
    machine.sound_cards()
    machine.program("pulseaudio")
    machine.portaudio(devices=[("HDA Intel PCH: HDMI 0 (hw:0,3)", 0, 8),
                               ("HDA Intel PCH: HDMI 1 (hw:0,7)", 0, 8),
                               ("HDA Intel PCH: ALC3246 Analog (hw:0,0)", 0, 2)])
    assert list_devices(capsys) == (
        "PortAudio lists 3 output-only devices and no input (host APIs: ALSA, OSS): no sound "
        "card here can capture, and no PulseAudio/PipeWire server socket was found; plug in or "
        "enable a microphone, or start one: `pulseaudio --start` and load a null sink, whose "
        f"monitor is a capture device: {NULL_SINK}, or use --audio FILE")
    machine.portaudio(devices=[("HDMI 0", 0, 8)])
    assert list_devices(capsys).startswith("PortAudio lists 1 output-only device and no input ")


def test_a_server_without_a_source_says_to_load_a_null_sink(machine, capsys):
    socket = machine.pulse(sources_listed=[])
    assert list_devices(capsys) == (
        f"PortAudio lists no device at all (host APIs: ALSA, OSS): the sound server at {socket} "
        f"runs but has no source; load a null sink, whose monitor is a capture device: "
        f"{NULL_SINK}, or plug in a microphone, or use --audio FILE")


def test_a_server_portaudio_cannot_reach_names_alsas_plugin(machine, capsys):
    socket = machine.pulse(sources_listed=["vasa.monitor"])
    assert list_devices(capsys) == (
        f"PortAudio lists no device at all (host APIs: ALSA, OSS) although a sound server runs "
        f"at {socket}: ALSA's plugin for it is missing; install it: `apt-get install "
        f"libasound2-plugins` (PulseAudio) or `apt-get install pipewire-alsa` (PipeWire), or use "
        f"--audio FILE")


def test_a_server_that_does_not_answer_or_hangs_says_to_restart_it(machine, capsys, monkeypatch):
    expected = (
        "PortAudio lists no device at all (host APIs: ALSA, OSS): a PulseAudio socket exists "
        "({}) but the server does not answer `pactl`; restart it: `pulseaudio -k; pulseaudio "
        "--start` (PipeWire: `systemctl --user restart pipewire-pulse`), or use --audio FILE")
    socket = machine.pulse(pactl_body="echo 'Connection failure: Connection refused' >&2; exit 1")
    assert list_devices(capsys) == expected.format(socket)
    monkeypatch.setattr(sources, "PACTL_TIMEOUT_S", 0.3, raising=False)
    machine.program("pactl", "exec /bin/sleep 30")  # a hung server: pactl never returns
    t0 = time.monotonic()
    assert list_devices(capsys) == expected.format(socket)
    assert time.monotonic() - t0 < 5


def test_macos_and_windows_are_told_of_the_privacy_settings(machine, capsys, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    machine.portaudio(apis=("Core Audio",), devices=[("MacBook Pro Speakers", 0, 2)])
    assert list_devices(capsys) == (
        "PortAudio lists 1 output-only device and no input (host APIs: Core Audio); plug in a "
        "microphone and allow this program to use it (macOS, Windows: the Microphone page of "
        "the privacy settings), or use --audio FILE")


def test_a_listed_device_that_will_not_open_on_a_server_without_source(machine):
    """ALSA's "pulse" and "default" devices are listed whether or not the server has a source:
    the cause shows when one is opened."""
    socket = machine.pulse(sources_listed=[])
    error = ("Error opening InputStream: Unanticipated host error [PaErrorCode -9999]: "
             "'Input/output error' [ALSA error -5]")
    machine.portaudio(devices=[("pulse", 32, 32), ("default", 32, 32)], open_error=error)
    with pytest.raises(sources.AudioDeviceError) as e:
        sources.MicSource(None)
    assert str(e.value) == (
        f"input device 'pulse' cannot be opened ({error}): the sound server at {socket} has no "
        f"source; load a null sink, whose monitor is a capture device: {NULL_SINK}, or plug in "
        f"a microphone")
    # a source behind it: the device itself is the suspect
    machine.program("pactl", "echo '1\tvasa.monitor\tmodule-null-sink.c\ts16le 2ch\tIDLE'")
    with pytest.raises(sources.AudioDeviceError) as e:
        sources.MicSource(None)
    assert str(e.value) == (
        f"input device 'pulse' cannot be opened ({error}): check that a microphone is connected "
        f"and not in use, or pick another with --mic (see --list-devices)")


def test_what_alsa_says_while_a_device_will_not_open_stays_off_the_terminal(machine, capfd):
    """PortAudio's libraries write their own lines on fd 2 while a stream opens: they stay off
    the terminal, and ALSA's message, which PortAudio's error text lacks, joins our error."""
    error = ("Error opening InputStream: Unanticipated host error [PaErrorCode -9999]: "
             "'Input/output error' [ALSA error -5]")
    machine.portaudio(devices=[("default", 32, 32)], open_error=error)
    sd = sys.modules["sounddevice"]
    opening = sd.InputStream

    def stream(**kw):
        os.write(2, b"ALSA lib pcm_pulse.c:758:(pulse_prepare) PulseAudio: Unable to create "
                    b"stream: No such entity\n\n"
                    b"Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1812\n")
        opening(**kw)
    sd.InputStream = stream
    with pytest.raises(sources.AudioDeviceError) as e:
        sources.MicSource(None)
    assert str(e.value).startswith(
        f"input device 'default' cannot be opened ({error}; ALSA: PulseAudio: Unable to create "
        f"stream: No such entity): ")
    assert capfd.readouterr().err == ""


def _cli(*args, env, timeout=60):
    script = Path(sys.executable).with_name("vasa-bridge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vasa_bridge.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


def test_the_real_cli_on_this_machine_names_its_cause(tmp_path):
    """This machine as it is (no microphone, no sound server: CI's), with a private
    $XDG_RUNTIME_DIR so that no server of the user's is found."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PULSE_SERVER", None)
    r = _cli("serve", "--list-devices", env=env)
    if r.returncode == 0:
        pytest.skip(f"this machine has a capture device: {r.stdout!r}")
    assert r.returncode == 2 and r.stdout == "", r
    assert r.stderr.startswith(ERROR) and r.stderr.count("\n") == 1, r.stderr
    mic = _cli("serve", "--mic", "--no-http", "--no-frames", "--motion", "loudness",
               "--control", "none", "--pub", "tcp://127.0.0.1:*", env=env)
    assert mic.returncode == 2 and mic.stdout == "", mic
    assert mic.stderr.startswith("vasa-bridge serve: error: the default input device is not "
                                 "available (") and mic.stderr.count("\n") == 1, mic.stderr
    line = r.stderr[len(ERROR):-1]
    assert line.endswith(", or use --audio FILE")
    try:
        import sounddevice as sd
        apis = ", ".join(a["name"] for a in sd.query_hostapis())
    except OSError:
        assert line.startswith("PortAudio did not load (OSError: "), line
        return
    if Path("/dev/snd").exists() or Path("/run/pulse/native").exists():
        assert line.startswith("PortAudio lists "), line  # a cause, whichever this machine has
        return
    start = ("start one: `pulseaudio --start`" if shutil.which("pulseaudio") else
             "start one: `systemctl --user start pipewire pipewire-pulse`"
             if shutil.which("pipewire") else
             "install and start one: `apt-get install pulseaudio`, then `pulseaudio --start`")
    assert line == (
        f"PortAudio lists no device at all (host APIs: {apis}): no PulseAudio/PipeWire server "
        f"socket was found and /dev/snd is missing (a container started without --device "
        f"/dev/snd?); {start}, or give the container /dev/snd, or use --audio FILE")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pulseaudio") is None or shutil.which("pactl") is None,
                    reason="PulseAudio is not installed (CI installs pulseaudio "
                           "pulseaudio-utils libasound2-plugins)")
def test_a_real_pulseaudio_without_a_source(tmp_path):
    """A real server with no sink and no source: ALSA's "pulse" device is listed, and opening it
    says that the server has no source, in one line: PortAudio's own lines ("ALSA lib
    pcm_pulse.c:758:(pulse_prepare) PulseAudio: Unable to create stream: No such entity",
    "Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c' ...", six more) go to the
    debug log, which -v shows."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (tmp_path / "pa.pa").write_text("load-module module-native-protocol-unix\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": str(runtime),
           "HOME": str(tmp_path)}
    env.pop("PULSE_SERVER", None)
    server = subprocess.Popen(["pulseaudio", "-n", "-F", str(tmp_path / "pa.pa"),
                               "--daemonize=no", "--exit-idle-time=-1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True,
                              timeout=5).returncode == 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("PulseAudio did not start")
        listed = _cli("serve", "--list-devices", env=env)
        if listed.returncode != 0:  # no ALSA plugin: nothing reaches the server
            assert "ALSA's plugin for it is missing" in listed.stderr, listed.stderr
            assert listed.stderr.count("\n") == 1, listed.stderr
            return
        assert listed.stderr == "", listed.stderr
        mic = ("serve", "--mic", "--no-http", "--no-frames", "--motion", "loudness",
               "--control", "none", "--pub", "tcp://127.0.0.1:*")
        r = _cli(*mic, env=env)
        assert r.returncode == 2, r
        assert r.stderr.count("\n") == 1, r.stderr  # ours, and nothing of PortAudio's
        last = r.stderr.splitlines()[-1]
        assert last.startswith("vasa-bridge serve: error: input device "), last
        assert last.endswith(f"): the sound server at {runtime}/pulse/native has no source; "
                             f"load a null sink, whose monitor is a capture device: "
                             f"{NULL_SINK}, or plug in a microphone"), last
        verbose = _cli(*mic, "-v", env=env)
        assert verbose.returncode == 2, verbose
        lines = verbose.stderr.splitlines()
        assert lines[-1] == last
        raw = [line for line in lines if line.startswith(("ALSA lib ", "Expression '"))]
        assert raw == [], verbose.stderr  # in the log, not as they were written
        assert any(line.startswith("DEBUG vasa_bridge.native_log: ALSA lib ") for line in lines)
    finally:
        server.terminate()
        server.wait(10)


def test_a_device_that_opens_but_will_not_start_is_a_one_line_error(machine):
    """PortAudio can open a stream and then fail to start it (the device taken by another
    program meanwhile): that was PortAudioError's traceback out of the loop's first hop."""
    machine.portaudio(devices=[("default", 32, 32)])
    sd = sys.modules["sounddevice"]

    class Stream:
        def __init__(self, **kw):
            pass

        def start(self):
            raise sd.PortAudioError("Error starting stream: Device unavailable [PaErrorCode "
                                    "-9985]")
    sd.InputStream = Stream
    mic = sources.MicSource(None)
    with pytest.raises(sources.AudioDeviceError) as e:
        mic.start()
    assert str(e.value).startswith(
        "input device 'default' cannot be started (Error starting stream: Device unavailable "
        "[PaErrorCode -9985]): ") and "\n" not in str(e.value)


def test_sounddevice_missing_is_a_one_line_error_naming_the_install(machine):
    machine.import_fails(ModuleNotFoundError("No module named 'sounddevice'"))
    with pytest.raises(sources.AudioDeviceError) as e:
        sources.MicSource(None)
    assert str(e.value) == ("sounddevice did not load (ModuleNotFoundError: No module named "
                            "'sounddevice'); install it: `pip install sounddevice`")
