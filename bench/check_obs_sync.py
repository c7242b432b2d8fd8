"""docs/streaming.md in a real OBS: the microphone and the VASA Bridge source side by side.

A private PulseAudio null sink plays the part of the room: short tone bursts go into it, and its
monitor is the microphone for both `vasa-bridge serve --mic` and OBS's own *Audio Input
Capture*. OBS records the scene (one mixed audio track, as a stream would carry it) four times:
the microphone alone; both sources, no offset (the echo docs/streaming.md warns of); both, with
the microphone's Sync Offset set to the runtime's `av_delay_ms`; the VASA Bridge source alone
(Way 1).

It prints, per recording, how many copies of each burst it holds and how far apart they are
(onsets of the peak envelope); OBS's own Desktop Audio and Mic/Aux are muted first. Then,
for each way of docs/streaming.md, where the viewer's eye meets their ear: when the recorded
picture's mouth starts to move after each burst they hear (the face in its head framing,
fitted to the 320x240 canvas; motion energy in the mouth's box, 30 fps).

    xvfb-run -a env PYTHONPATH=. .venv/bin/python bench/check_obs_sync.py \
        --plugin-dir obs-plugin/build-ci/plugin/vasa-bridge

Needs pulseaudio, paplay, obs and obsws-python (FACTS.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from obs_session import ObsSession  # noqa: E402

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


def onsets_ms(recording: Path, *, absolute: bool = False) -> np.ndarray:
    """Times (ms) where the recording's 1 ms peak envelope rises past a tenth of its peak (from
    the first sound sample; `absolute`: on the container's clock, the one its pictures use)."""
    import av
    with av.open(str(recording)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        frames = list(c.decode(stream))
        chunks = [f.to_ndarray().reshape(-1, len(f.layout.channels)) if not f.format.is_planar
                  else f.to_ndarray().T for f in frames]
    audio = np.concatenate(chunks).astype(np.float64).mean(axis=1)
    hop = rate // 1000
    env = np.abs(audio[:len(audio) // hop * hop]).reshape(-1, hop).max(axis=1)
    above = env > 0.1 * env.max()
    on = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    peaks = [float(env[t:t + 30].max()) for t in on]
    if absolute:
        on = on + float(frames[0].time) * 1000
    return on, np.array(peaks)


def mouth_motion(recording: Path, box: tuple[float, float, float, float]):
    """(times ms on the container's clock, motion energy) of the recorded picture in `box`
    (x0, y0, x1, y1 as fractions of the frame: the face's mouth), frame to frame."""
    import av
    times, energy, last = [], [], None
    with av.open(str(recording)) as c:
        for f in c.decode(c.streams.video[0]):
            g = f.to_ndarray(format="gray").astype(np.float32)
            h, w = g.shape
            x0, y0, x1, y1 = box
            roi = g[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
            if last is not None:
                times.append(float(f.time) * 1000)
                energy.append(float(np.abs(roi - last).mean()))
            last = roi
    return np.array(times), np.array(energy)


def lips_after_voice(recording: Path, box) -> list[float]:
    """Per burst the viewer hears: when the mouth starts to move (the first frame whose motion
    energy passes half of that burst's peak over the frames before it) minus when the sound
    starts, in ms. Positive: the lips come late."""
    voice, _ = onsets_ms(recording, absolute=True)
    t, e = mouth_motion(recording, box)
    out = []
    for v in voice:
        win = (t >= v - 300) & (t < v + 500)
        if win.sum() < 5:
            continue
        base = np.median(e[(t >= v - 300) & (t < v)]) if ((t >= v - 300) & (t < v)).any() \
            else e[win].min()
        peak = e[win].max()
        if peak <= base:
            continue
        first = np.flatnonzero(win & (e > base + 0.5 * (peak - base)))[0]
        out.append(round(float(t[first] - v), 1))
    return out


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


def record(s: ObsSession, clip: Path, name: str) -> Path:
    before = set(s.rec_dir.iterdir())
    s.obs.start_record()
    time.sleep(0.5)
    subprocess.run(["paplay", str(clip)], env=s.env, check=True)
    time.sleep(1.0)
    s.obs.stop_record()
    time.sleep(1.5)
    new = sorted(set(s.rec_dir.iterdir()) - before)
    if not new:
        raise RuntimeError(f"{name}: OBS wrote no recording in {s.rec_dir}")
    return new[-1]


def lips_in_the_content(clip: Path, work: Path, box) -> list[float]:
    """The same measure on the face rendered offline from the same bursts (`vasa-bridge render`,
    head framing, sound and pictures on one timeline in the file): where the lips meet the voice
    with no streaming at all, the mark the two ways are read against (the model's lips lead a
    sound, as speakers' do)."""
    out = work / "content.mp4"
    cli = str(Path(sys.executable).parent / "vasa-bridge")
    subprocess.run([cli, "render", "--audio", str(clip), "--framing", "head", "--size", "240",
                    "--quiet", "--no-credentials", "-o", str(out)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return lips_after_voice(out, box)


def set_sync_offset(s: ObsSession, name: str, offset_ms: int) -> None:
    """OBS (libobs source_output_audio_data) re-places a running source's audio at its new
    offset only when the offset changes from a non-zero one: a first change from 0 keeps
    appending at the old place. Typing a number in Advanced Audio Properties passes through its
    first digits; set it in two steps, as typing does."""
    s.obs.set_input_audio_sync_offset(name, offset_ms - 1)
    time.sleep(0.5)
    s.obs.set_input_audio_sync_offset(name, offset_ms)
    time.sleep(2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin-dir", type=Path, required=True)
    args = ap.parse_args()
    with ObsSession(args.plugin_dir, ["--mic", "--framing", "head"],
                    prefix="vasa-obs-sync-") as s:
        s.obs.create_input(s.scene, "mic", "pulse_input_capture", {"device_id": "room.monitor"},
                           True)
        s.add_vasa_source(fit=True)
        clip = s.work / "bursts.wav"
        bursts(clip)
        time.sleep(3)  # serve warm, sources connected
        with ControlClient(s.control) as c:
            c.call("status")
        s.mute_obs_own_audio()
        s.obs.set_input_volume("mic", vol_mul=0.33)
        s.obs.set_input_mute("VASA face", True)
        describe("microphone only", onsets_ms(record(s, clip, "mic only")))
        s.obs.set_input_mute("VASA face", False)
        lag = describe("both, no offset (the echo)", onsets_ms(record(s, clip, "both")))
        with ControlClient(s.control) as c:
            delay = c.call("status")["av_delay_ms"]
        offset = int(round(delay))
        set_sync_offset(s, "mic", offset)
        read = s.obs.get_input_audio_sync_offset("mic").input_audio_sync_offset
        print(f"runtime av_delay_ms {delay}: microphone Sync Offset {read} ms; the VASA "
              f"source's sound came {lag} ms after the microphone's")
        describe("both, microphone delayed", onsets_ms(record(s, clip, "offset")))
        s.obs.set_input_audio_sync_offset("mic", 0)
        s.obs.set_input_mute("mic", True)
        describe("VASA source only", onsets_ms(record(s, clip, "vasa only")))
        # Where the viewer's eye meets their ear: the lips in the recorded picture against
        # the sound they hear, for both ways. The frame is 30 fps: a step is 33 ms.
        mouth = (0.40, 0.60, 0.60, 0.90)  # the mouth of the head framing, fitted to the canvas
        s.obs.set_input_mute("VASA face", False)
        way1 = lips_after_voice(record(s, clip, "way 1 lips"), mouth)
        print(f"Way 1 (the source's sound): lips after the voice {way1} ms (median "
              f"{np.median(way1) if way1 else None})")
        s.obs.set_input_mute("VASA face", True)
        s.obs.set_input_mute("mic", False)
        set_sync_offset(s, "mic", offset)
        way2 = lips_after_voice(record(s, clip, "way 2 lips"), mouth)
        print(f"Way 2 (the microphone, Sync Offset {offset} ms): lips after the voice {way2} ms "
              f"(median {np.median(way2) if way2 else None})")
        mark = lips_in_the_content(clip, s.work, mouth)
        mid = float(np.median(mark)) if mark else None
        print(f"the same bursts rendered offline (no streaming): lips after the voice {mark} ms "
              f"(median {mid})")
        if mid is not None and way1 and way2:
            print(f"against it, the voice a viewer hears comes {mid - np.median(way1):+.0f} ms "
                  f"(Way 1) and {mid - np.median(way2):+.0f} ms (Way 2) from where the lips "
                  f"put it (+: later; one picture frame is 33-40 ms)")
    print(f"work folder (recordings, obs.log): {s.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
