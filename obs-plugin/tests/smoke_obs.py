"""Smoke test with the real `obs` binary: the published face arrives in a real OBS.

Runs under an X server (CTest wraps it in `xvfb-run -a`). In a throwaway HOME it installs the
built plugin where OBS looks for user plugins (~/.config/obs-studio/plugins/vasa-bridge/), and
pre-writes global.ini: first-run wizard skipped, obs-websocket on a free port with a random
password (obs-websocket 5.1 listens on every interface, so it never runs without auth). It
publishes a synthetic face (opaque where the face is, transparent around it) plus sound, starts
OBS, adds a "VASA Bridge" source to the scene over obs-websocket (obsws-python), and compares
GetSourceScreenshot with the published pixels.

    xvfb-run -a python obs-plugin/tests/smoke_obs.py --plugin-dir build/plugin/vasa-bridge
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: vasa_bridge
from vasa_bridge.protocol import wire  # noqa: E402

W, H = 160, 120  # pixels
FPS = 25


def face() -> np.ndarray:
    """(H, W, 4) RGBA: a face on a transparent background (the runtime's cut-out portrait)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.zeros((H, W, 4), np.uint8)
    head = ((x - W / 2) / 55) ** 2 + ((y - H / 2) / 52) ** 2 <= 1
    img[head] = (224, 172, 140, 255)  # skin
    for ex in (W / 2 - 20, W / 2 + 20):  # eyes
        img[((x - ex) / 8) ** 2 + ((y - H / 2 + 12) / 5) ** 2 <= 1] = (40, 60, 110, 255)
    mouth = (np.abs(x - W / 2) < 18) & (np.abs(y - (H / 2 + 22)) < 4)
    img[mouth] = (170, 40, 50, 255)
    img[:6, :6] = (255, 255, 255, 255)  # a white marker in the transparent corner
    return img


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish(endpoint: str, stop: threading.Event) -> None:
    """Frames and sound of stream `default`, paced at FPS, until `stop`."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    image, rate = face(), 48000
    t0, i = time.monotonic(), 0
    while not stop.is_set():
        delay = t0 + i / FPS - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        pts = i * 10**9 // FPS
        start, end = i * rate // FPS, (i + 1) * rate // FPS
        tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(start, end) / rate)).astype(np.float32)
        sent = time.time_ns()
        sock.send_multipart(wire.encode_frame(image, stream="default", seq=i, pts=pts, sent=sent))
        sock.send_multipart(wire.encode_audio(tone, stream="default", seq=i, pts=pts, sent=sent,
                                              rate=rate, format="f32"))
        i += 1
    sock.close()


def write_config(home: Path, plugin_dir: Path, port: int, password: str) -> None:
    config = home / ".config" / "obs-studio"
    shutil.copytree(plugin_dir, config / "plugins" / "vasa-bridge")
    (config / "global.ini").write_text(
        "[General]\nFirstRun=true\nEnableAutoUpdates=false\n\n"
        "[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\n"
        f"ServerPort={port}\nAuthRequired=true\nServerPassword={password}\nAlertsEnabled=false\n")


def connect(port: int, password: str, obs: subprocess.Popen, timeout_s: float):
    import obsws_python

    logging.getLogger("obsws_python").setLevel(logging.CRITICAL)  # refusals until OBS is up
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return obsws_python.ReqClient(host="127.0.0.1", port=port, password=password,
                                          timeout=5)
        except (ConnectionError, OSError) as e:
            if obs.poll() is not None:
                raise RuntimeError(f"obs exited with {obs.returncode} before its websocket "
                                   f"answered") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"no obs-websocket on port {port} after {timeout_s} s: "
                                   f"{e}") from None
            time.sleep(0.5)


def screenshot(client, name: str) -> np.ndarray:
    from PIL import Image

    data = client.get_source_screenshot(name, "png", W, H, -1).image_data
    png = base64.b64decode(data.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def compare(got: np.ndarray, want: np.ndarray) -> tuple[float, float, int]:
    """(share of opaque pixels within 3 levels, share of transparent pixels still transparent,
    worst opaque error)."""
    if got.shape != want.shape:
        return 0.0, 0.0, 255
    opaque, clear = want[..., 3] == 255, want[..., 3] == 0
    err = np.abs(got[..., :3].astype(int) - want[..., :3]).max(axis=-1)
    return (float((err[opaque] <= 3).mean()), float((got[..., 3][clear] == 0).mean()),
            int(err[opaque].max()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin-dir", type=Path, required=True,
                    help="the staged plugin: vasa-bridge/bin/64bit/vasa-bridge.so + data/")
    ap.add_argument("--obs", default="obs")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    if not (args.plugin_dir / "bin" / "64bit" / "vasa-bridge.so").is_file():
        print(f"smoke: {args.plugin_dir} has no bin/64bit/vasa-bridge.so: expected the staged "
              f"plugin (build/plugin/vasa-bridge)", file=sys.stderr)
        return 1
    if not os.environ.get("DISPLAY"):
        print("smoke: no DISPLAY: run under xvfb-run -a", file=sys.stderr)
        return 1

    home = Path(tempfile.mkdtemp(prefix="vasa-obs-smoke-"))
    port, password = free_port(), secrets.token_hex(16)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    write_config(home, args.plugin_dir, port, password)
    stop = threading.Event()
    publisher = threading.Thread(target=publish, args=(endpoint, stop), daemon=True)
    publisher.start()
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    log_path = home / "obs.log"
    t_start = time.monotonic()
    with open(log_path, "w") as log:
        obs = subprocess.Popen([args.obs, "--multi", "--disable-shutdown-check",
                                "--minimize-to-tray"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=home)
    ok = False
    try:
        client = connect(port, password, obs, args.timeout)
        version = client.get_version()
        print(f"smoke: OBS {version.obs_version}, obs-websocket {version.obs_web_socket_version}, "
              f"up in {time.monotonic() - t_start:.1f} s")
        kinds = client.get_input_kind_list(False).input_kinds
        assert "vasa_bridge_source" in kinds, f"input kinds {kinds}: expected vasa_bridge_source"
        scene = client.get_current_program_scene().current_program_scene_name
        client.create_input(scene, "VASA face", "vasa_bridge_source",
                            {"endpoint": endpoint, "stream": "default"}, True)
        want = face()
        deadline, best = time.monotonic() + 20, (0.0, 0.0, 255)
        while time.monotonic() < deadline:
            got = screenshot(client, "VASA face")
            best = compare(got, want)
            if best[0] >= 0.99 and best[1] >= 0.99:
                ok = True
                break
            time.sleep(0.25)
        print(f"smoke: screenshot {got.shape[1]}x{got.shape[0]}: {best[0]:.1%} of face pixels "
              f"within 3 levels (worst {best[2]}), {best[1]:.1%} of the cut-out still "
              f"transparent")
        settings = client.get_input_settings("VASA face").input_settings
        print(f"smoke: source settings {settings}")
    except Exception as e:  # report any failure as one line, then clean up
        print(f"smoke: FAIL: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        stop.set()
        obs.send_signal(signal.SIGTERM)
        try:
            obs.wait(10)
        except subprocess.TimeoutExpired:
            obs.kill()
            obs.wait()
        publisher.join(5)
    log_text = log_path.read_text(errors="replace")
    ours = [line for line in log_text.splitlines() if "[vasa-bridge]" in line]
    print("\n".join(f"  obs: {line}" for line in ours))
    if not any("first frame" in line for line in ours):
        print("smoke: FAIL: OBS never logged '[vasa-bridge] ... first frame'", file=sys.stderr)
        ok = False
    if not ok:
        print(f"smoke: FAIL (OBS log kept at {log_path})", file=sys.stderr)
        return 1
    shutil.rmtree(home, ignore_errors=True)
    print("smoke: the published face arrived in a real OBS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
