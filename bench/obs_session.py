"""A real OBS beside a real `vasa-bridge serve`, for the bench checks that need both
(check_obs_sync.py, check_obs_overload.py).

`ObsSession` starts, in a private folder: a PulseAudio server whose null sink `room` plays the
part of the room (its monitor is the default source), `serve` with the arguments given, and OBS
(under the caller's Xvfb) with obs-websocket on a free port, our plugin copied into its
profile, and a recording profile at 320x240. `with ObsSession(...) as s:` gives `s.obs` (an
obsws-python client), `s.scene`, `s.pub`, `s.control`, `s.env` (for paplay) and `s.obs_log`;
leaving it stops everything. Needs pulseaudio, paplay, obs and obsws-python (FACTS.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "obs-plugin" / "tests"))

from smoke_obs import connect, free_port  # noqa: E402  (the OBS smoke test's helpers)


def write_profile(home: Path, rec_dir: Path) -> None:
    prof = home / ".config/obs-studio/basic/profiles/Untitled"
    prof.mkdir(parents=True, exist_ok=True)
    (prof / "basic.ini").write_text(
        "[General]\nName=Untitled\n\n[Output]\nMode=Simple\n\n"
        f"[SimpleOutput]\nFilePath={rec_dir}\nRecFormat=mkv\nRecQuality=Stream\n"
        "VBitrate=800\nABitrate=160\n\n[Video]\nBaseCX=320\nBaseCY=240\nOutputCX=320\n"
        "OutputCY=240\nFPSCommon=30\n\n[Audio]\nSampleRate=48000\nChannelSetup=Mono\n")


class ObsSession:
    def __init__(self, plugin_dir: Path, serve_args: list[str], *, prefix: str = "vasa-obs-"):
        self.plugin_dir = Path(plugin_dir)
        self.serve_args = list(serve_args)
        self.work = Path(tempfile.mkdtemp(prefix=prefix))
        self.rec_dir = self.work / "rec"
        self.obs_log = self.work / "obs.log"
        self._procs: list[subprocess.Popen] = []

    def _start(self, cmd, **kw) -> subprocess.Popen:
        p = subprocess.Popen(cmd, **kw)
        self._procs.append(p)
        return p

    def __enter__(self) -> "ObsSession":
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        pa_dir = self.work / "pulse"
        pa_dir.mkdir()
        (pa_dir / "pa.pa").write_text(
            "load-module module-native-protocol-unix\nload-module module-null-sink "
            "sink_name=room\nset-default-source room.monitor\nset-default-sink room\n")
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(pa_dir))
        self._start(["pulseaudio", "-n", "-F", str(pa_dir / "pa.pa"), "--daemonize=no",
                     "--exit-idle-time=-1"], env=dict(self.env, HOME=str(self.work)),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        self.pub, self.control = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
        self.serve = self._start(
            [sys.executable, "-m", "vasa_bridge.cli", "serve", "--no-http", "--no-greeting",
             "--pub", self.pub, "--control", self.control, *self.serve_args],
            env=dict(self.env, PYTHONPATH=str(ROOT)), cwd=ROOT, stderr=subprocess.DEVNULL)
        home = self.work / "home"
        port, password = free_port(), secrets.token_hex(16)
        config = home / ".config" / "obs-studio"
        shutil.copytree(self.plugin_dir, config / "plugins" / "vasa-bridge")
        (config / "global.ini").write_text(
            "[General]\nFirstRun=true\nEnableAutoUpdates=false\n\n[OBSWebSocket]\n"
            f"FirstLoad=false\nServerEnabled=true\nServerPort={port}\nAuthRequired=true\n"
            f"ServerPassword={password}\nAlertsEnabled=false\n")
        self.rec_dir.mkdir()
        write_profile(home, self.rec_dir)
        obs = self._start(["obs", "--multi", "--disable-shutdown-check", "--minimize-to-tray"],
                          env=dict(self.env, HOME=str(home),
                                   XDG_CONFIG_HOME=str(home / ".config")),
                          stdout=open(self.obs_log, "w"), stderr=subprocess.STDOUT, cwd=home)
        self.obs = connect(port, password, obs, 60)
        self.scene = self.obs.get_current_program_scene().current_program_scene_name

    def mute_obs_own_audio(self) -> None:
        """OBS's own Desktop Audio and Mic/Aux would add copies of the room."""
        specials = self.obs.get_special_inputs()
        for special in (getattr(specials, a) for a in specials.attrs()):
            if isinstance(special, str) and special:
                self.obs.set_input_mute(special, True)

    def add_vasa_source(self, name: str = "VASA face", *, fit: bool = False) -> None:
        """The VASA Bridge source on the main stream; `fit`: scaled into the canvas, centred
        (else at its own size from the top-left corner)."""
        self.obs.create_input(self.scene, name, "vasa_bridge_source",
                              {"endpoint": self.pub, "stream": "default"}, True)
        if fit:
            item = self.obs.get_scene_item_id(self.scene, name).scene_item_id
            self.obs.set_scene_item_transform(self.scene, item, {
                "boundsType": "OBS_BOUNDS_SCALE_INNER", "boundsAlignment": 0,
                "boundsWidth": 320.0, "boundsHeight": 240.0, "positionX": 0.0,
                "positionY": 0.0})

    def close(self) -> None:
        for p in reversed(self._procs):
            p.send_signal(signal.SIGINT if p.args[0] == sys.executable else signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self._procs.clear()

    def __exit__(self, *exc) -> None:
        self.close()
