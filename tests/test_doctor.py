"""`doctor` covers every input and output the command line offers, each with its fix."""

import pytest

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
    monkeypatch.setattr(shutil, "which", lambda program: None)  # no program anywhere
    text, _ = doctor.report(doctor.run_checks())
    espeak = next(line for line in text.splitlines() if "] espeak-ng (speech corpus)" in line)
    assert espeak.startswith("[ok ]"), espeak
    for name in ("festival (speech corpus)", "flite (speech corpus"):
        line = next(line for line in text.splitlines() if f"] {name}" in line)
        assert line.startswith("[-- ]"), line
