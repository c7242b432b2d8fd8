"""`doctor` covers every input and output the command line offers, each with its fix."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from test_list_devices import Machine
from vasa_bridge import doctor


def test_virtual_camera_needs_a_loopback_device_on_linux(tmp_path):
    pytest.importorskip("pyvirtualcam")
    check = doctor._virtual_camera("linux", tmp_path)
    assert not check.ok and "no v4l2loopback device" in check.detail
    assert "modprobe v4l2loopback" in check.fix
    dev = tmp_path / "devices/virtual/video4linux/video7"
    dev.mkdir(parents=True)
    (dev / "name").write_text("vasa-bridge\n")
    check = doctor._virtual_camera("linux", tmp_path)
    assert check.ok and "/dev/video7 (vasa-bridge)" in check.detail
    assert "OBS's virtual camera" in doctor._virtual_camera("darwin", tmp_path).detail


def test_obs_plugin_is_looked_for_where_obs_loads_it(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    check = doctor._obs_plugin("linux", tmp_path)
    assert not check.ok and "obs-plugin/README.md" in check.fix
    so = tmp_path / ".config/obs-studio/plugins/vasa-bridge/bin/64bit/vasa-bridge.so"
    assert str(so) in check.detail
    so.parent.mkdir(parents=True)
    so.write_bytes(b"")
    assert doctor._obs_plugin("linux", tmp_path).ok
    mac = doctor.obs_plugin_dirs("darwin", tmp_path)[0]
    assert mac == tmp_path / "Library/Application Support/obs-studio/plugins/vasa-bridge.plugin"


def test_every_cli_input_and_output_has_a_check():
    text, code = doctor.report(doctor.run_checks())
    for name in ("audio input devices", "audio files", "web panel", "VMC output",
                 "VTube Studio output", "virtual camera", "video encoding", "content credentials",
                 "ONNX Runtime", "OBS plugin", "Chromium"):
        assert f"] {name}" in text, name
    for line in text.splitlines():  # every missing piece says how to get it
        if line.startswith("[-- ]") or line.startswith("[ERR]"):
            nxt = text.splitlines()[text.splitlines().index(line) + 1]
            assert nxt.strip().startswith("fix: "), line


def test_the_speech_engines_are_checked_as_the_corpus_runs_them(monkeypatch):
    """espeak-ng comes as a library in a wheel (no program: a machine without the espeak-ng
    package still makes corpora); festival and flite are programs."""
    import shutil
    monkeypatch.setattr(shutil, "which", lambda program, **kw: None)  # no program anywhere
    text, _ = doctor.report(doctor.run_checks())
    espeak = next(line for line in text.splitlines() if "] espeak-ng (speech corpus)" in line)
    assert espeak.startswith("[ok ]"), espeak
    for name in ("festival (speech corpus)", "flite (speech corpus"):
        line = next(line for line in text.splitlines() if f"] {name}" in line)
        assert line.startswith("[-- ]"), line


def test_no_capture_device_names_the_cause_that_serve_list_devices_names(tmp_path):
    """This machine as it is (no microphone, no sound server: CI's), with a private
    $XDG_RUNTIME_DIR: doctor's audio line names the cause `audio.sources.why_no_input` finds
    (the cause on the line, the step on its fix line), and nothing of
    PortAudio's own reaches stderr."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PULSE_SERVER", None)
    why = subprocess.run([sys.executable, "-c", "from vasa_bridge.audio.sources import *; "
                          "print(list_input_devices(), *why_no_input(capture_facts()), sep='|')"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert why.returncode == 0 and why.stderr == "", why
    devices, cause, step = why.stdout.rstrip("\n").split("|")
    if devices != "[]":
        pytest.skip(f"this machine has a capture device: {devices}")
    script = Path(sys.executable).with_name("vasa-bridge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vasa_bridge.cli"]
    r = subprocess.run([*command, "doctor"], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=60)
    assert r.returncode in (0, 1) and r.stderr == "", r
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "] audio input devices: " in line)
    assert lines[at] == f"[-- ] audio input devices: none found (serve --mic): {cause}"
    assert lines[at + 1] == f"       fix: {step}, or use --audio FILE"


def test_portaudio_missing_is_told_as_serve_tells_it(monkeypatch, tmp_path):
    machine = Machine(monkeypatch, tmp_path)
    machine.import_fails(OSError("PortAudio library not found"))
    check = doctor._audio_devices()
    assert (check.ok, check.detail, check.fix) == (
        False, "none found (serve --mic): PortAudio did not load (OSError: PortAudio library not "
               "found)",
        "install it: `apt-get install libportaudio2` (Debian/Ubuntu) or `brew install portaudio` "
        "(macOS), or use --audio FILE")
    machine.portaudio(devices=[("HDMI 0", 0, 8), ("USB mic", 1, 0), ("pulse", 32, 32)])
    check = doctor._audio_devices()
    assert (check.ok, check.detail) == (True, "2: USB mic, pulse")
