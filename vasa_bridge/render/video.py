"""Writing rendered frames: H.264 MP4 with AAC audio, VP9 WebM (alpha as yuva420p) with Opus
audio, or a PNG sequence. `render_file` is what `vasa-bridge render` calls."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import RenderError, check_writable
from ..face.portrait import PortraitConfig
from ..motion.frame import MotionTrack
from .base import RenderConfig, get_backend

log = logging.getLogger("vasa_bridge.render")


@dataclass(frozen=True)
class OutputSpec:
    kind: str  # "mp4", "webm" or "png"
    path: Path  # file, directory, or pattern with %d
    alpha: bool  # write the person alpha


def output_spec(path: str | Path, alpha: bool) -> OutputSpec:
    p = Path(path)
    text = str(path)
    suffix = p.suffix.lower()
    if suffix in (".mp4", ".mov", ".m4v"):
        if alpha:
            raise RenderError(f"output {text!r} is H.264, which has no alpha: expected a .webm "
                              f"file or a PNG directory/pattern with --alpha")
        return OutputSpec("mp4", p, False)
    if suffix == ".webm":
        return OutputSpec("webm", p, alpha)
    if "%" in text:
        try:
            names = {text % 0, text % 1}
        except (TypeError, ValueError):
            names = set()
        if len(names) != 2 or Path(text % 0).suffix.lower() != ".png":
            raise RenderError(f"output {text!r} is not a PNG pattern: expected one %d (or "
                              f"%05d) in a name ending in .png, such as frames/%05d.png")
        return OutputSpec("png", p, alpha)
    if suffix == "" or p.is_dir():
        return OutputSpec("png", p, alpha)
    if suffix == ".png":
        raise RenderError(f"output {text!r} is one PNG: expected a directory or a pattern such "
                          f"as frames/%05d.png for a sequence")
    raise RenderError(f"output {text!r} has an unknown extension {suffix!r}: expected .mp4, "
                      f".webm, or a directory / %d pattern for PNGs")


def prepare_output(spec: OutputSpec) -> Path:
    """Create the folder the output goes into (the PNG directory itself, or the parent of a file
    or pattern) and check it is writable, so a bad -o fails in one line before any work."""
    if spec.kind != "png" and spec.path.is_dir():
        raise RenderError(f"output {str(spec.path)!r} is a folder: expected a {spec.kind} file "
                          f"name to write")
    folder = spec.path if spec.kind == "png" and "%" not in str(spec.path) else spec.path.parent
    folder = folder if str(folder) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RenderError(f"output folder {str(folder)!r} cannot be created ({e.strerror or e}): "
                          f"expected a folder you can write to") from None
    check_writable(folder, RenderError)
    return folder


def _png_name(spec: OutputSpec, i: int) -> Path:
    if "%" in str(spec.path):
        return Path(str(spec.path) % i)
    return spec.path / f"{i:06d}.png"


def write_pngs(frames: Iterable[np.ndarray], spec: OutputSpec) -> int:
    import cv2

    n = 0
    for i, img in enumerate(frames):
        name = _png_name(spec, i)
        name.parent.mkdir(parents=True, exist_ok=True)
        bgr = cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA if img.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(name), bgr):
            raise RenderError(f"could not write {str(name)!r}: expected a writable path")
        n += 1
    stale = n  # frames an earlier, longer render left under the same names: not this one's
    while _png_name(spec, stale).is_file():
        _png_name(spec, stale).unlink()
        stale += 1
    if stale > n:
        log.info("removed %d frames (%s on) of an earlier render", stale - n,
                 _png_name(spec, n).name)
    return n


def write_video(frames: Iterable[np.ndarray], spec: OutputSpec, fps: float, size: tuple[int, int],
                audio: np.ndarray | None = None, sample_rate: int | None = None,
                crf: int = 20) -> int:
    """Encode frames (H, W, 3|4) uint8 RGB(A) with PyAV; audio is float32 in [-1, 1], (S,) mono
    or (S, 2) stereo."""
    import av
    from fractions import Fraction

    spec.path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rate = Fraction(fps).limit_denominator(1001)
    n = 0
    if audio is not None:
        audio = np.asarray(audio, np.float32)
        if not (audio.ndim == 1 or audio.ndim == 2 and audio.shape[1] == 2):
            raise RenderError(f"audio has shape {audio.shape}: expected (S,) mono or (S, 2) "
                              f"stereo samples")
    layout = "stereo" if audio is not None and audio.ndim == 2 else "mono"
    with av.open(str(spec.path), mode="w") as container:
        if spec.kind == "mp4":
            vs = container.add_stream("libx264", rate=rate)
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": str(crf), "preset": "medium"}
        else:
            vs = container.add_stream("libvpx-vp9", rate=rate)
            vs.pix_fmt = "yuva420p" if spec.alpha else "yuv420p"
            vs.options = {"crf": str(crf + 10), "b:v": "0", "deadline": "good", "cpu-used": "4"}
        vs.width, vs.height = w, h
        astream = None
        if audio is not None and sample_rate:
            astream = container.add_stream("aac" if spec.kind == "mp4" else "libopus",
                                           rate=sample_rate if spec.kind == "mp4" else 48000)
            astream.layout = layout
        for img in frames:
            fmt = "rgba" if img.shape[2] == 4 else "rgb24"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=fmt)
            for packet in vs.encode(frame):
                container.mux(packet)
            n += 1
        for packet in vs.encode():
            container.mux(packet)
        if astream is not None:
            # packed float: (1, S) mono, or (1, 2S) stereo with left and right interleaved
            samples = np.ascontiguousarray(audio).reshape(1, -1)
            af = av.AudioFrame.from_ndarray(samples, format="flt", layout=layout)
            af.sample_rate = int(sample_rate)
            resampler = av.AudioResampler(format=astream.codec_context.format.name,
                                          layout=layout, rate=astream.codec_context.sample_rate)
            fifo = av.AudioFifo()
            for r in resampler.resample(af) + resampler.resample(None):
                fifo.write(r)
            chunk = astream.codec_context.frame_size or 1024
            for part in fifo.read_many(chunk, partial=True):
                for packet in astream.encode(part):
                    container.mux(packet)
            for packet in astream.encode(None):
                container.mux(packet)
    return n


def render_file(image, track: MotionTrack, output: str | Path, *,
                portrait_config: PortraitConfig = PortraitConfig(),
                render_config: RenderConfig = RenderConfig(), backend: str = "cpu",
                progress: bool = True, stamp=None,
                sound: tuple[np.ndarray, int] | None = None) -> int:
    """Render a whole track of one portrait (a path, an array, or an analysed `Portrait`) to a
    video file or PNG sequence; returns frames.
    `stamp` (a provenance.Stamp) marks every frame and signs the finished file.
    `sound` ((S,) or (S, 2) float32 samples, their rate) is muxed instead of the track's own mono
    audio: a speech file's sound as recorded (model.bake.bake_file_sound)."""
    spec = output_spec(output, render_config.alpha)
    renderer = get_backend(backend, render_config)
    state = renderer.prepare(image, portrait_config)  # the face module logs its warnings
    frames = (renderer.render(state, f) for f in track)
    if stamp is not None:
        frames = (stamp(f) for f in frames)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=len(track), unit="frame", desc="render")
    if spec.kind == "png":
        return write_pngs(frames, spec)
    # Written and signed under a temporary name, then renamed: an interrupted or failed render
    # leaves no truncated, unsigned file under the name asked for.
    final = Path(output)
    partial = final.with_name(f".{final.stem}.partial{final.suffix}")
    try:
        audio, rate = sound if sound is not None else (track.audio, track.sample_rate)
        n = write_video(frames, replace(spec, path=partial), track.fps, state.size, audio, rate)
        if stamp is not None:
            stamp.sign_in_place(partial, title=final.name)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return n
