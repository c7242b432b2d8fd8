"""Real talking videos -> dataset clips: face mesh (video mode, irises) per frame, the geometric
solver against a neutral face calibrated per video, smoothing, resampling to the dataset fps,
and the sound track (PyAV, 16 kHz mono).

`vasa-bridge dataset video talk1.mp4 talk2.mov --out DIR [--speaker NAME]` appends to DIR; a
video already there (same file hash) is skipped. Format and choices: docs/data.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError, FaceNotFoundError, not_a_file
from ..face.mesh import NUM_LANDMARKS
from ..face.solver import Measurements, Reference, SolverConfig, measure, solve
from ..motion import MotionTrack
from ..motion.conversions import euler_to_matrix
from ..native_log import quiet_native
from .dataset import SAMPLE_RATE, SPLITS, check_one_split, open_for_append, write_clip, \
    write_json, write_manifest
from .phonemes import PhonemeTimeline

_OPEN_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)


@dataclass(frozen=True)
class VideoConfig:
    fps: float = 25.0  # dataset motion frames per second (the video's own rate is resampled)
    neutral_percentile: float = 10.0  # the mouth's rest = this percentile of its opening; the
    #   calmest frames (activity at or below it) give the face shape
    neutral_max_frames: int = 25  # at most this many calm frames are averaged into the shape
    smooth_s: float = 0.2  # Savitzky-Golay window, seconds (5 frames at 25 fps)
    smooth_order: int = 2  # Savitzky-Golay polynomial order
    max_gap_s: float = 0.5  # a longer run of unusable frames cuts the video into two clips
    min_clip_s: float = 1.0  # pieces shorter than this are dropped
    max_clip_s: float = 12.0  # longer pieces are cut into equal clips up to this long
    max_side: int = 640  # frames are downscaled to this longest side before the face mesh
    solver: SolverConfig = field(default_factory=SolverConfig)

    def __post_init__(self) -> None:
        if not 1.0 <= self.fps <= 120.0:
            raise DataError(f"fps is {self.fps}: expected 1..120 frames per second")
        if not 0.0 < self.neutral_percentile <= 50.0:
            raise DataError(f"neutral_percentile is {self.neutral_percentile}: expected (0, 50]")
        if self.smooth_order < 1 or self.smooth_s < 0:
            raise DataError(f"smoothing ({self.smooth_s} s, order {self.smooth_order}) is "
                            f"invalid: expected a window >= 0 s and an order >= 1")
        if not 0 < self.min_clip_s <= self.max_clip_s:
            raise DataError(f"clip lengths {self.min_clip_s}..{self.max_clip_s} s are invalid: "
                            f"expected 0 < min <= max")
        if self.max_side < 64:
            raise DataError(f"max_side is {self.max_side}: expected at least 64 pixels")


@dataclass(frozen=True)
class VideoProbe:
    path: Path
    width: int
    height: int
    fps: float  # the video stream's average frame rate
    frames: int  # the container's frame count (0 when it does not say)
    duration_s: float


@dataclass(frozen=True)
class FaceFrames:
    """The usable frames of one video: exactly one face found."""

    times: np.ndarray  # (N,) seconds from the first audio sample
    landmarks: np.ndarray  # (N, 478, 3) pixels in the (downscaled) frame
    size: tuple[int, int]  # (width, height) of the frames the landmarks are in
    total: int  # frames decoded
    no_face: int  # frames dropped: no face found
    several_faces: int  # frames dropped: more than one face


@dataclass(frozen=True)
class VideoClip:
    audio: np.ndarray  # (S,) float32 16 kHz mono
    motion: MotionTrack  # at config.fps; frame k at offset_s + k / fps in the video
    offset_s: float  # where the clip starts, seconds from the video's first audio sample


def _open(path: Path):
    import av

    if not path.is_file():
        raise DataError(f"video {str(path)!r} {not_a_file(path)}: expected a video file")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, *_OPEN_ERRORS) as e:
        raise DataError(f"video {str(path)!r} is unreadable ({type(e).__name__}: {e}): expected "
                        f"a file FFmpeg reads (mp4, mov, mkv, webm, avi)") from None


def probe(path: str | Path) -> VideoProbe:
    """Check that `path` is a readable video with a picture and a sound track."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise DataError(f"video {str(path)!r} has no video stream: expected a talking video "
                            f"(picture and sound)")
        if not c.streams.audio:
            raise DataError(f"video {str(path)!r} has no audio stream: expected a talking video "
                            f"with its sound (motion without speech cannot train audio -> "
                            f"motion)")
        vs = c.streams.video[0]
        rate = float(vs.average_rate or vs.guessed_rate or 0.0)
        duration = float(c.duration / 1e6) if c.duration else 0.0
        return VideoProbe(path, vs.codec_context.width, vs.codec_context.height, rate,
                          int(vs.frames or 0), duration)


def read_audio(path: str | Path) -> tuple[np.ndarray, float]:
    """The first audio stream as (S,) float32 mono at 16 kHz, and its start time in seconds."""
    import av

    path = Path(path)
    chunks: list[np.ndarray] = []
    start: float | None = None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    with _open(path) as c:
        if not c.streams.audio:
            raise DataError(f"video {str(path)!r} has no audio stream: expected a talking video "
                            f"with its sound")
        try:
            for frame in c.decode(audio=0):
                if start is None and frame.time is not None:
                    start = float(frame.time)
                for r in resampler.resample(frame):
                    chunks.append(r.to_ndarray().reshape(-1))
            for r in resampler.resample(None):
                chunks.append(r.to_ndarray().reshape(-1))
        except av.error.FFmpegError as e:
            raise DataError(f"video {str(path)!r}: its audio cannot be decoded ({e}): expected "
                            f"an undamaged file") from None
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(audio) == 0:
        raise DataError(f"video {str(path)!r} has an empty audio stream: expected its sound")
    return np.clip(audio, -1.0, 1.0), start or 0.0


def _landmarks(result, w: int, h: int) -> list[np.ndarray]:
    faces = []
    for lm in result.multi_face_landmarks or ():
        a = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], np.float64)
        if a.shape == (NUM_LANDMARKS, 3):
            faces.append(a)
    return faces


def track_faces(path: str | Path, config: VideoConfig = VideoConfig(), audio_start: float = 0.0,
                progress: bool = False) -> FaceFrames:
    """Run the face mesh over every frame (video mode: it tracks between frames). A fresh graph
    per video, so tracking never carries over from the previous one. Frames are turned upright
    by the container's display rotation (phone videos), as a player shows them. Frames with no
    face or more than one are dropped and counted (it looks for two faces so that a second one
    is noticed). Times are seconds from `audio_start`."""
    import av
    import mediapipe as mp

    path = Path(path)
    info = probe(path)
    scale = min(1.0, config.max_side / max(info.width, info.height))
    w, h = max(2, round(info.width * scale)), max(2, round(info.height * scale))
    times, marks = [], []
    size = (w, h)
    total = no_face = several = 0
    # mediapipe's graph logs from its own threads while it starts (TensorFlow Lite, absl's
    # `W0000 ...` lines): the face detector at the first frame, the landmark model at the first
    # face. Held back until then (native_log, as face/detect.py does), and the progress bar
    # starts then (its lines would be held back with them, and run into them).
    quiet = contextlib.ExitStack()
    quiet.enter_context(quiet_native())
    try:
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=2,
                                               refine_landmarks=True,
                                               min_detection_confidence=0.5,
                                               min_tracking_confidence=0.5)
    except BaseException:
        quiet.close()
        raise
    bar = None
    try:
        with _open(path) as c:
            try:
                for i, frame in enumerate(c.decode(video=0)):
                    t = float(frame.time) if frame.time is not None else i / (info.fps or 25.0)
                    rgb = frame.to_ndarray(format="rgb24", width=w, height=h)
                    turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise
                    if turns:
                        rgb = np.ascontiguousarray(np.rot90(rgb, turns))
                    size = (rgb.shape[1], rgb.shape[0])
                    faces = _landmarks(mesh.process(rgb), *size)
                    if faces:
                        quiet.close()
                        if progress and bar is None:
                            from tqdm import tqdm
                            bar = tqdm(total=info.frames or None, initial=total, unit="frame",
                                       desc=path.name, leave=False)
                    total += 1
                    if not faces:
                        no_face += 1
                    elif len(faces) > 1:
                        several += 1
                    else:
                        times.append(t - audio_start)
                        marks.append(faces[0].astype(np.float32))  # 5.7 kB per frame
                    if bar is not None:
                        bar.update(1)
            except av.error.FFmpegError as e:
                raise DataError(f"video {str(path)!r}: frame {total} cannot be decoded ({e}): "
                                f"expected an undamaged file") from None
    finally:
        quiet.close()
        mesh.close()
        if bar is not None:
            bar.close()
    lm = np.stack(marks) if marks else np.zeros((0, NUM_LANDMARKS, 3), np.float32)
    order = np.argsort(np.asarray(times, np.float64), kind="stable")
    return FaceFrames(np.asarray(times, np.float64)[order], lm[order], size, total, no_face,
                      several)


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x, axis=0)
    mad = np.median(np.abs(x - med), axis=0) * 1.4826
    return (x - med) / np.maximum(mad, 1e-6)


def _features(m: Measurements) -> np.ndarray:
    """(7,) what `activity` looks at: chin, lip gap, mean lid aperture, mean brow height,
    rotation (3,)."""
    return np.r_[m.chin, m.lip_gap, m.aperture.mean(),
                 np.r_[m.brow_inner, m.brow_outer].mean(), m.rotation]


def activity(features: np.ndarray) -> np.ndarray:
    """(N,) how far each frame is from a calm face, from (N, 7) `_features`: jaw and lips open
    beyond the video's median, lids lower than usual, brows moved either way (robust z-scores),
    head turned from its median pose (per 5°)."""
    chin, gap, lids, brows = (features[:, i] for i in range(4))
    rot = features[:, 4:7]  # (N, 3) degrees
    pose = np.abs(rot - np.median(rot, axis=0)).sum(axis=1) / 5.0
    return (np.maximum(-_robust_z(chin), 0) + np.maximum(_robust_z(gap), 0)
            + np.maximum(-_robust_z(lids), 0) + np.abs(_robust_z(brows)) + pose)


# The mouth's opening: these take the `neutral_percentile` (or its complement), the rest medians.
_MOUTH_LOW = ("lip_gap", "upper_lip")  # small when closed
_MOUTH_HIGH = ("chin", "lower_lip")  # high when closed


def neutral_reference(landmarks: np.ndarray, size: tuple[int, int],
                      config: VideoConfig = VideoConfig()) -> tuple[Reference, np.ndarray]:
    """The video's neutral face, returned with the indices of the calm frames used.

    1. The calmest frames (activity at or below `neutral_percentile`, at most
       `neutral_max_frames`) are averaged into the person's own face shape: the PnP model.
    2. Every frame is measured against that model. The neutral is the median of each
       measurement (eyes open, usual head pose, gaze and brows), except the mouth, which takes
       the `neutral_percentile` of its opening: a talking mouth closes on every /p b m/ and in
       pauses but spends most frames open, so its median would read as a half-open rest and
       clip the small openings to 0.
    Only scalars are kept per frame (long videos), and the neutral's points are the model.
    """
    feats = np.stack([_features(measure(lm, size, None, config.solver)) for lm in landmarks])
    score = activity(feats)
    cut = np.percentile(score, config.neutral_percentile)
    calm = np.flatnonzero(score <= cut)
    calm = calm[np.argsort(score[calm], kind="stable")][:config.neutral_max_frames]
    model = np.mean([measure(landmarks[i], size, None, config.solver).points for i in calm],
                    axis=0)  # (478, 3) face frame, IOD units
    names = [f.name for f in fields(Measurements) if f.name != "points"]
    per_frame: dict[str, list] = {n: [] for n in names}
    for lm in landmarks:
        m = measure(lm, size, model, config.solver)
        for n in names:
            per_frame[n].append(np.asarray(getattr(m, n), np.float64))
    values: dict = {"points": model}
    for n in names:
        q = (config.neutral_percentile if n in _MOUTH_LOW else
             100 - config.neutral_percentile if n in _MOUTH_HIGH else 50.0)
        a = np.percentile(np.stack(per_frame[n]), q, axis=0)
        values[n] = float(a) if a.ndim == 0 else a
    neutral = Measurements(**values)
    return Reference(model=model, neutral=neutral,
                     rotation_matrix=euler_to_matrix(neutral.rotation)), np.sort(calm)


def solve_frames(landmarks: np.ndarray, size: tuple[int, int], reference: Reference,
                 config: VideoConfig = VideoConfig()) -> tuple[np.ndarray, ...]:
    """(N, 478, 3) -> blendshapes (N, 52), head rotation (N, 3) deg, head translation (N, 3) m."""
    out = [solve(lm, size, reference, config.solver) for lm in landmarks]
    return (np.stack([f.blendshapes for f in out]), np.stack([f.head_rotation for f in out]),
            np.stack([f.head_translation for f in out]))


def pieces(times: np.ndarray, end_s: float, frame_s: float,
           config: VideoConfig = VideoConfig()) -> list[tuple[float, float]]:
    """(start, end) seconds of the clips to keep: runs of usable frames split where more than
    `max_gap_s` has none, cut into equal parts up to `max_clip_s`, each at least `min_clip_s`."""
    if len(times) == 0:
        return []
    breaks = np.flatnonzero(np.diff(times) > config.max_gap_s)
    starts = np.maximum(np.r_[times[0], times[breaks + 1]], 0.0)  # no picture before the sound
    ends = np.r_[times[breaks], times[-1]] + frame_s
    out = []
    for t0, t1 in zip(starts, np.minimum(ends, end_s)):
        n = math.ceil((t1 - t0) / config.max_clip_s - 1e-9)
        for k in range(max(n, 1)):
            a, b = t0 + (t1 - t0) * k / max(n, 1), t0 + (t1 - t0) * (k + 1) / max(n, 1)
            if b - a >= config.min_clip_s:
                out.append((float(a), float(b)))
    return out


def smooth(values: np.ndarray, fps: float, config: VideoConfig = VideoConfig()) -> np.ndarray:
    """Savitzky-Golay along time (axis 0): a local quadratic fit over `smooth_s`, which removes
    the face mesh's frame-to-frame jitter but keeps the height of a 70 ms blink or a quick /p/
    closure better than a moving average of the same width."""
    from scipy.signal import savgol_filter

    n = len(values)
    win = int(round(config.smooth_s * fps)) | 1  # odd
    win = min(win, n if n % 2 else n - 1)
    if win <= config.smooth_order:
        return values
    return savgol_filter(values, win, config.smooth_order, axis=0, mode="interp")


def resample_piece(times: np.ndarray, values: np.ndarray, t0: float, n: int,
                   fps: float) -> np.ndarray:
    """Linear interpolation of (N, D) values at times onto t0 + k / fps, k < n (held at the
    ends). Euler angles are interpolated linearly: faces turn far less than the ±180° wrap."""
    grid = t0 + np.arange(n) / fps
    return np.stack([np.interp(grid, times, values[:, d]) for d in range(values.shape[1])], 1)


def extract_clips(path: str | Path, config: VideoConfig = VideoConfig(),
                  progress: bool = False) -> tuple[list[VideoClip], dict]:
    """One video -> its clips and a report (frame counts, neutral frames, seconds kept)."""
    path = Path(path)
    info = probe(path)
    audio, audio_start = read_audio(path)
    faces = track_faces(path, config, audio_start, progress)
    report = {"frames": faces.total, "no_face": faces.no_face,
              "several_faces": faces.several_faces, "used": len(faces.times),
              "video_fps": round(info.fps, 4), "size": list(faces.size)}
    if len(faces.times) < 3:
        raise FaceNotFoundError(
            f"video {str(path)!r}: {len(faces.times)} of {faces.total} frames show exactly one "
            f"face ({faces.no_face} none, {faces.several_faces} several): expected one face in "
            f"most frames")
    ref, calm = neutral_reference(faces.landmarks, faces.size, config)
    shapes, rot, trans = solve_frames(faces.landmarks, faces.size, ref, config)
    report["neutral_frames"] = len(calm)
    report["neutral_times_s"] = [round(float(faces.times[i]), 3) for i in calm[:10]]
    frame_s = 1.0 / (info.fps or config.fps)
    clips = []
    for t0, t1 in pieces(faces.times, len(audio) / SAMPLE_RATE, frame_s, config):
        a = audio[int(round(t0 * SAMPLE_RATE)):int(round(t1 * SAMPLE_RATE))]
        n = math.ceil(len(a) / SAMPLE_RATE * config.fps - 1e-9)
        sel = (faces.times >= t0 - frame_s) & (faces.times <= t1 + frame_s)
        ts = faces.times[sel]

        def grid(v):
            return smooth(resample_piece(ts, v[sel], t0, n, config.fps), config.fps, config)

        motion = MotionTrack(np.clip(grid(shapes), 0.0, 1.0).astype(np.float32),
                             grid(rot).astype(np.float32), grid(trans).astype(np.float32),
                             config.fps, audio=a, sample_rate=SAMPLE_RATE)
        clips.append(VideoClip(a, motion, t0))
    report["clips"] = len(clips)
    report["seconds_kept"] = round(sum(len(c.audio) for c in clips) / SAMPLE_RATE, 3)
    report["seconds_total"] = round(len(audio) / SAMPLE_RATE, 3)
    return clips, report


def file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def build_video(paths: Sequence[str | Path], out: str | Path, *, speaker: str | None = None,
                split: str = "train", language: str = "und",
                config: VideoConfig = VideoConfig(), progress: bool = False,
                log=print) -> dict:
    """Extract every video in `paths` and append its clips to the dataset at `out`.

    Each video's speaker is `speaker` or its file stem (stored as "video:NAME"); a speaker stays
    in one split. All files are probed before any work, so a bad file fails fast.
    """
    if split not in SPLITS:
        raise DataError(f"split {split!r} is unknown: expected one of {SPLITS}")
    if not paths:
        raise DataError("no videos given: expected one or more video files")
    paths = [Path(p) for p in paths]
    for p in paths:
        probe(p)
    out = Path(out)
    new = not out.exists()
    info, rows = open_for_append(out, "video", config.fps,
                                 {"video": asdict(config), "videos": {}})
    summary = {"videos": 0, "skipped": 0, "clips": 0, "seconds": 0.0, "reports": {}}
    index = max((r["index"] for r in rows), default=-1) + 1
    for p in paths:
        name = speaker or p.stem
        key = f"video:{name}"
        check_one_split(info["videos"].values(), key, name, split, out)
        digest = file_sha1(p)
        if digest in info["videos"]:
            there = info["videos"][digest]
            log(f"{p}: already in {out} (speaker {there['speaker'].removeprefix('video:')!r}, "
                f"{there['split']} split), skipped")
            summary["skipped"] += 1
            continue
        try:
            clips, report = extract_clips(p, config, progress)
        except Exception:  # re-raised; FaceNotFoundError is not a DataError
            if new and not any(out.iterdir()):
                out.rmdir()  # made for these videos, still empty: a refusal leaves nothing
            raise
        made = []
        for clip in clips:
            meta = {"engine": "video", "voice": name, "speaker": f"video:{name}",
                    "gender": "unknown", "language": language, "text": None, "kind": None,
                    "seed": None, "index": index, "teacher_seed": None, "style": None,
                    "augmentation": None, "split": split, "source": "video", "video": str(p),
                    "video_sha1": digest, "offset_s": round(clip.offset_s, 4),
                    "extraction": {k: report[k] for k in ("frames", "no_face", "several_faces",
                                                          "used", "neutral_frames")}}
            made.append(write_clip(out, index, clip.audio, _NO_PHONEMES, clip.motion, meta))
            index += 1
        rows += made
        info["videos"][digest] = {"path": str(p), "speaker": f"video:{name}", "split": split,
                                  "clips": len(made), **report}
        write_json(out / "dataset.json", info)
        write_manifest(out, rows)
        log(f"{p}: {report['frames']} frames, dropped {report['no_face']} without a face and "
            f"{report['several_faces']} with several; neutral from {report['neutral_frames']} "
            f"frames; {len(made)} clips, {report['seconds_kept']:.1f} of "
            f"{report['seconds_total']:.1f} s kept")
        summary["videos"] += 1
        summary["clips"] += len(made)
        summary["seconds"] += report["seconds_kept"]
        summary["reports"][str(p)] = report
    return summary


# Videos carry no phoneme timing; clips store an empty timeline (the format requires one).
_NO_PHONEMES = PhonemeTimeline((), np.zeros(0), np.zeros(0), "arpabet")
