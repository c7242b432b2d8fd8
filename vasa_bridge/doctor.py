"""`vasa-bridge doctor`: what is installed and usable, with a fix hint for each missing piece."""

from __future__ import annotations

import ctypes.util
import importlib
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False  # the core (replay, listen, serve) cannot work without it


def _module(name: str) -> tuple[bool, str, object]:
    try:
        mod = importlib.import_module(name)
    except Exception as e:  # an installed but broken package raises anything
        return False, f"{type(e).__name__}: {e}".splitlines()[0][:120], None
    return True, getattr(mod, "__version__", "installed"), mod


def _python(name: str, module: str, fix: str, required: bool = False) -> Check:
    ok, detail, _ = _module(module)
    return Check(name, ok, detail, fix, required)


def _mediapipe() -> Check:
    ok, detail, mp = _module("mediapipe")
    fix = "pip install mediapipe==0.10.21 (the last release that ships the face mesh models)"
    if not ok:
        return Check("mediapipe face mesh", False, detail, fix)
    root = Path(mp.__file__).parent
    model = root / "modules/face_landmark/face_landmark_with_attention.tflite"
    seg = root / "modules/selfie_segmentation/selfie_segmentation.tflite"
    missing = [p.name for p in (model, seg) if not p.exists()]
    if missing:
        return Check("mediapipe face mesh", False, f"{detail}, models missing: {missing}", fix)
    return Check("mediapipe face mesh", True, f"{detail}, face mesh + iris + selfie segmentation")


def _onnxruntime() -> Check:
    ok, detail, ort = _module("onnxruntime")
    fix = "pip install onnxruntime-gpu (or onnxruntime on macOS)"
    if not ok:
        return Check("ONNX Runtime", False, detail, fix)
    providers = ort.get_available_providers()
    # onnxruntime-gpu lists CUDA whatever the hardware, and a session silently falls back to the
    # CPU: the driver library is what tells whether the GPU path can work.
    driver = ctypes.util.find_library("cuda")
    if "CUDAExecutionProvider" not in providers:
        note = " (CPU only: GPU inference needs onnxruntime-gpu and an NVIDIA driver)"
    elif driver is None:
        note = " (CUDA provider installed, but no NVIDIA driver found: inference runs on the CPU)"
    else:
        note = f" (NVIDIA driver: {driver})"
    return Check("ONNX Runtime", True, f"{detail}: {', '.join(providers)}{note}")


def _audio_devices() -> Check:
    """`serve --mic`: a capture device. None: the cause and the next step that `serve
    --list-devices` gives (audio.sources.why_no_input)."""
    name = "audio input devices"
    try:
        from .audio.sources import capture_facts, list_input_devices, why_no_input
    except Exception as e:  # the core itself is broken (numpy): its own check says how to fix it
        return Check(name, False, f"{type(e).__name__}: {e}".splitlines()[0][:120],
                     "install the core first (numpy)")
    devices = list_input_devices()
    if not devices:
        cause, step = why_no_input(capture_facts())
        return Check(name, False, f"none found (serve --mic): {cause}",
                     f"{step}, or use --audio FILE")
    names = ", ".join(n for _, n in devices[:3])
    return Check(name, True, f"{len(devices)}: {names}")


def _virtual_camera(platform: str = sys.platform, sysfs: Path = Path("/sys")) -> Check:
    """`serve --virtualcam`: pyvirtualcam, and on Linux a v4l2loopback device to write to."""
    name = "virtual camera (serve --virtualcam)"
    ok, detail, _ = _module("pyvirtualcam")
    if not ok:
        return Check(name, False, detail, "pip install pyvirtualcam (or: pip install "
                                          "'vasa-bridge[virtualcam]')")
    if not platform.startswith("linux"):
        return Check(name, True, f"pyvirtualcam {detail}: uses OBS's virtual camera (install OBS "
                                 f"and start its virtual camera once)")
    devices = sorted(sysfs.glob("devices/virtual/video4linux/video*"))
    if not devices:
        return Check(name, False, f"pyvirtualcam {detail}, but no v4l2loopback device",
                     "sudo apt-get install v4l2loopback-dkms && sudo modprobe v4l2loopback "
                     "exclusive_caps=1 card_label=vasa-bridge")
    labels = []
    for d in devices:
        try:
            label = (d / "name").read_text().strip()
        except OSError:
            label = "?"
        labels.append(f"/dev/{d.name} ({label})")
    return Check(name, True, f"pyvirtualcam {detail}: {', '.join(labels)}")


def obs_plugin_dirs(platform: str = sys.platform, home: Path | None = None,
                    environ=os.environ) -> list[Path]:
    """Where OBS looks for our plugin, per platform (obs-plugin/README.md)."""
    home = home or Path.home()
    if platform.startswith("linux"):
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        return [config / "obs-studio/plugins/vasa-bridge/bin/64bit/vasa-bridge.so",
                home / ".var/app/com.obsproject.Studio/config/obs-studio/plugins/vasa-bridge/"
                       "bin/64bit/vasa-bridge.so"]  # the Flatpak's
    if platform == "darwin":
        return [home / "Library/Application Support/obs-studio/plugins/vasa-bridge.plugin"]
    program_data = Path(environ.get("PROGRAMDATA", "C:/ProgramData"))
    return [program_data / "obs-studio/plugins/vasa-bridge/bin/64bit/vasa-bridge.dll"]


def _obs_plugin(platform: str = sys.platform, home: Path | None = None) -> Check:
    name = "OBS plugin (the VASA Bridge source)"
    places = obs_plugin_dirs(platform, home)
    found = [p for p in places if p.exists()]
    if found:
        return Check(name, True, str(found[0]))
    return Check(name, False, f"not installed (looked for {places[0]})",
                 "build it and copy it there: obs-plugin/README.md, \"Build\" then "
                 "\"Install a build\"")


def _browser() -> Check:
    from .web.cdp import find_chromium
    path = find_chromium()
    return Check("Chromium (the web panel's browser tests)", path is not None,
                 path or "not found", "" if path else "apt-get install chromium (only the "
                                                      "browser tests need it; any browser shows "
                                                      "the panel)")


def _video_codecs() -> Check:
    ok, detail, av = _module("av")
    if not ok:
        return Check("video encoding (PyAV)", False, detail, "pip install av")
    have = [c for c in ("libx264", "aac", "libvpx-vp9") if c in av.codecs_available]
    missing = {"libx264", "aac"} - set(have)
    return Check("video encoding (PyAV)", not missing, f"{detail}: {', '.join(have)}",
                 "reinstall the av wheel from PyPI (it bundles FFmpeg with libx264)"
                 if missing else "")


def _library(name: str, lib: str, fix: str) -> Check:
    path = ctypes.util.find_library(lib)
    return Check(name, path is not None, path or "not found", "" if path else fix)


def _program(name: str, program: str, fix: str) -> Check:
    path = shutil.which(program)
    return Check(name, path is not None, path or "not found", "" if path else fix)


CHECKS: list[Callable[[], Check]] = [
    lambda: _python("numpy", "numpy", "pip install 'numpy<2'", required=True),
    lambda: _python("ZeroMQ (pyzmq)", "zmq", "pip install pyzmq", required=True),
    lambda: _python("msgpack", "msgpack", "pip install msgpack", required=True),
    _mediapipe,
    _onnxruntime,
    _audio_devices,
    lambda: _python("audio files (soundfile)", "soundfile",
                    "pip install soundfile (serve --audio, bake, render)"),
    lambda: _python("web panel (aiohttp)", "aiohttp", "pip install aiohttp (serve's panel, web)"),
    lambda: _python("VMC output (python-osc)", "pythonosc", "pip install python-osc (--vmc)"),
    lambda: _python("VTube Studio output (websockets)", "websockets",
                    "pip install websockets (--vts)"),
    _virtual_camera,
    _video_codecs,
    lambda: _python("content credentials (c2pa)", "c2pa",
                    "pip install c2pa-python==0.38.1 (render, sign, verify)"),
    lambda: _python("torch (training and export only)", "torch",
                    "pip install torch (CPU builds are enough for training the small model)"),
    lambda: _library("libzmq for C#/C consumers", "zmq",
                     "apt-get install libzmq5 (Debian/Ubuntu) or brew install zeromq"),
    lambda: _library("libobs (OBS plugin build)", "obs",
                     "apt-get install libobs-dev, or build OBS from source (obs-plugin/README.md)"),
    lambda: _program("OBS Studio", "obs", "install OBS Studio from obsproject.com"),
    _obs_plugin,
    lambda: _program("mono C# compiler (Unity package tests)", "mcs", "apt-get install mono-devel"),
    _browser,
    # The corpus speaks through espeak-ng's library from its wheel (data/engines/espeak.py), and
    # runs the festival and flite programs.
    lambda: _python("espeak-ng (speech corpus)", "espeakng_loader",
                    "pip install espeakng-loader (or the package's [data] extra)"),
    lambda: _program("festival (speech corpus)", "festival",
                     "apt-get install festival festvox-kallpc16k festvox-kdlpc16k "
                     "festvox-us-slt-hts festvox-italp16k festvox-itapc16k"),
    lambda: _program("flite (speech corpus, --engines flite)", "flite", "apt-get install flite"),
]


def run_checks() -> list[Check]:
    return [check() for check in CHECKS]


def report(checks: list[Check]) -> tuple[str, int]:
    """(printable report, exit code: 1 when a required piece is missing, else 0)."""
    lines = []
    for c in checks:
        mark = "ok " if c.ok else ("ERR" if c.required else "-- ")
        lines.append(f"[{mark}] {c.name}: {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"       fix: {c.fix}")
    missing_required = [c.name for c in checks if c.required and not c.ok]
    if missing_required:
        lines.append(f"missing required pieces: {', '.join(missing_required)}")
    else:
        lines.append("core ready: replay, listen and the wire protocol work; '--' lines are "
                     "optional features")
    return "\n".join(lines), 1 if missing_required else 0
