"""docs/streaming.md in a real OBS: the microphone and the VASA Bridge source side by side.

A private PulseAudio null sink plays the part of the room: short tone bursts go into it, and its
monitor is the microphone for both `vasa-bridge serve --mic` and OBS's own *Audio Input
Capture*. OBS records the scene (one mixed audio track, as a stream would carry it) four times:
the microphone alone; both sources, no offset (the echo docs/streaming.md warns of); both, with
the microphone's Sync Offset set to the runtime's `av_delay_ms`; the VASA Bridge source alone
(Way 1).

It prints, per recording, how many copies of each burst it holds and how far apart they are
(onsets of the peak envelope); OBS's own Desktop Audio and Mic/Aux are muted first.

    xvfb-run -a env PYTHONPATH=. .venv/bin/python bench/check_obs_sync.py \
        --plugin-dir obs-plugin/build-ci/plugin/vasa-bridge

Needs pulseaudio, paplay, obs and obsws-python (FACTS.md).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "obs-plugin" / "tests"))

from smoke_obs import connect, free_port  # noqa: E402  (the OBS smoke test's helpers)

from vasa_bridge.transport import ControlClient  # noqa: E402

RATE = 48000


def bursts(path: Path, n: int = 6, every_s: float = 0.9) -> None:
    """n 40 ms bursts of 1 kHz (a click the ear and the envelope both find), every_s apart."""
    import soundfile as sf
    t = np.arange(int(0.04 * RATE)) / RATE
    burst = 0.6 * np.sin(2 * np.pi * 1000 * t) * np.hanning(len(t))
    out = np.zeros(int((n * every_s + 0.5) * RATE))
    for k in range(n):
        i = int((0.3 + k * every_s) * RATE)
        out[i:i + len(burst)] = burst
    sf.write(str(path), out.astype(np.float32), RATE)


def onsets_ms(recording: Path) -> np.ndarray:
    """Times (ms) where the recording's 1 ms peak envelope rises past a quarter of its peak."""
    import av
    with av.open(str(recording)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [f.to_ndarray().reshape(-1, len(f.layout.channels)) if not f.format.is_planar
                  else f.to_ndarray().T for f in c.decode(stream)]
    audio = np.concatenate(chunks).astype(np.float64).mean(axis=1)
    hop = rate // 1000
    env = np.abs(audio[:len(audio) // hop * hop]).reshape(-1, hop).max(axis=1)
    above = env > 0.1 * env.max()
    on = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    peaks = [float(env[t:t + 30].max()) for t in on]
    return on, np.array(peaks)


def describe(name: str, found, every_ms: float = 900.0) -> float | None:
    """Print the onsets (and each copy's peak: the microphone plays at a third of the VASA
    source's level, so the copies can be told apart); return the median spacing."""
    on, peaks = found
    groups: list[list[tuple[int, float]]] = []
    for t, p in zip(on.tolist(), peaks.tolist()):
        if groups and t - groups[-1][0][0] < every_ms / 2:
            groups[-1].append((t, p))
        else:
            groups.append([(t, p)])
    spacing = [g[1][0] - g[0][0] for g in groups if len(g) > 1]
    lag = float(np.median(spacing)) if spacing else None
    order = ["/".join(f"{p:.2f}" for _, p in g) for g in groups]
    print(f"{name}: {len(groups)} bursts, peaks per copy {order}, second copy after {spacing} ms"
          + (f" (median {lag:.0f} ms)" if lag else ""))
    return lag


def write_profile(home: Path, rec_dir: Path) -> None:
    prof = home / ".config/obs-studio/basic/profiles/Untitled"
    prof.mkdir(parents=True, exist_ok=True)
    (prof / "basic.ini").write_text(
        "[General]\nName=Untitled\n\n[Output]\nMode=Simple\n\n"
        f"[SimpleOutput]\nFilePath={rec_dir}\nRecFormat=mkv\nRecQuality=Stream\n"
        "VBitrate=800\nABitrate=160\n\n[Video]\nBaseCX=320\nBaseCY=240\nOutputCX=320\n"
        "OutputCY=240\nFPSCommon=30\n\n[Audio]\nSampleRate=48000\nChannelSetup=Mono\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin-dir", type=Path, required=True)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vasa-obs-sync-"))
    pa_dir = work / "pulse"
    pa_dir.mkdir()
    (pa_dir / "pa.pa").write_text(
        "load-module module-native-protocol-unix\nload-module module-null-sink sink_name=room\n"
        "set-default-source room.monitor\nset-default-sink room\n")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(pa_dir))
    procs = []

    def start(cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        procs.append(p)
        return p

    try:
        start(["pulseaudio", "-n", "-F", str(pa_dir / "pa.pa"), "--daemonize=no",
               "--exit-idle-time=-1"], env=dict(env, HOME=str(work)),
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        pub, ctl = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
        start([sys.executable, "-m", "vasa_bridge.cli", "serve", "--mic", "--no-http",
               "--no-greeting", "--pub", pub, "--control", ctl],
              env=dict(env, PYTHONPATH=str(ROOT)), cwd=ROOT, stderr=subprocess.DEVNULL)
        home = work / "home"
        port, password = free_port(), secrets.token_hex(16)
        config = home / ".config" / "obs-studio"
        shutil.copytree(args.plugin_dir, config / "plugins" / "vasa-bridge")
        (config / "global.ini").write_text(
            "[General]\nFirstRun=true\nEnableAutoUpdates=false\n\n[OBSWebSocket]\n"
            f"FirstLoad=false\nServerEnabled=true\nServerPort={port}\nAuthRequired=true\n"
            f"ServerPassword={password}\nAlertsEnabled=false\n")
        rec_dir = work / "rec"
        rec_dir.mkdir()
        write_profile(home, rec_dir)
        obs = start(["obs", "--multi", "--disable-shutdown-check", "--minimize-to-tray"],
                    env=dict(env, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config")),
                    stdout=open(work / "obs.log", "w"), stderr=subprocess.STDOUT, cwd=home)
        client = connect(port, password, obs, 60)
        scene = client.get_current_program_scene().current_program_scene_name
        client.create_input(scene, "mic", "pulse_input_capture", {"device_id": "room.monitor"},
                            True)
        client.create_input(scene, "VASA face", "vasa_bridge_source",
                            {"endpoint": pub, "stream": "default"}, True)
        clip = work / "bursts.wav"
        bursts(clip)
        time.sleep(3)  # serve warm, sources connected
        with ControlClient(ctl) as c:
            c.call("status")

        def record(name: str) -> Path:
            before = set(rec_dir.iterdir())
            client.start_record()
            time.sleep(0.5)
            subprocess.run(["paplay", str(clip)], env=env, check=True)
            time.sleep(1.0)
            client.stop_record()
            time.sleep(1.5)
            new = sorted(set(rec_dir.iterdir()) - before)
            if not new:
                raise RuntimeError(f"{name}: OBS wrote no recording in {rec_dir}")
            return new[-1]

        specials = client.get_special_inputs()
        for special in (getattr(specials, a) for a in specials.attrs()):
            if isinstance(special, str) and special:  # OBS's own Desktop Audio / Mic/Aux would add copies of the room
                client.set_input_mute(special, True)
        client.set_input_volume("mic", vol_mul=0.33)
        client.set_input_mute("VASA face", True)
        describe("microphone only", onsets_ms(record("mic only")))
        client.set_input_mute("VASA face", False)
        lag = describe("both, no offset (the echo)", onsets_ms(record("both")))
        with ControlClient(ctl) as c:
            delay = c.call("status")["av_delay_ms"]
        offset = int(round(delay))
        client.set_input_audio_sync_offset("mic", offset)
        time.sleep(2)  # OBS applies the offset to the next audio it buffers
        read = client.get_input_audio_sync_offset("mic").input_audio_sync_offset
        print(f"runtime av_delay_ms {delay}: microphone Sync Offset {read} ms; the VASA "
              f"source's sound came {lag} ms after the microphone's")
        describe("both, microphone delayed", onsets_ms(record("offset")))
        client.set_input_audio_sync_offset("mic", 0)
        client.set_input_mute("mic", True)
        describe("VASA source only", onsets_ms(record("vasa only")))
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT if p.args[0] == sys.executable else signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    print(f"work folder (recordings, obs.log): {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
