"""Check files for the vasa_bridge watermark and content credentials.

Images are read with OpenCV; videos (anything OpenCV cannot read as an image) with PyAV. For a
video, up to `max_frames` frames spread over the whole file are checked one by one, and the same
frames are averaged: the mark is fixed to the frame while the picture moves, so averaging keeps
the mark and blurs the picture, which finds marks that single, heavily compressed frames lose.
The verdict is a vote: a payload decoded (CRC-16 match) from two or more frames, or from the
averaged frame, counts as present.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import VasaError
from .credentials import CredentialReport, read_credentials
from .payload import Payload
from .watermark import Detection, Detector

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
MIN_SIDE = 48  # pixels: the detector needs this much of a frame
MAX_PIXELS = 80_000_000  # an image header declaring more is refused before decoding
MAX_IMAGE_BYTES = 256 * 2**20  # image files are read whole
EXPECTED_IMAGE = "expected a PNG, JPEG, WebP, BMP or TIFF image"


class VerifyError(VasaError):
    """A file could not be read as an image or a video."""


@dataclass(frozen=True)
class VerifyConfig:
    max_frames: int = 32  # video frames checked, spread over the file
    trust_anchors: Path | None = None  # PEM roots for C2PA 'Trusted'
    check_credentials: bool = True


@dataclass(frozen=True)
class VerifyResult:
    path: Path
    kind: str  # 'image' or 'video'
    present: bool
    payload: Payload | None
    confidence: float  # 0..1 (see watermark.Detection)
    frames_checked: int = 1
    frames_marked: int = 0  # frames whose own decode gave the winning payload
    averaged: Detection | None = None  # video: detection on the averaged frames
    credentials: CredentialReport = field(default_factory=lambda: CredentialReport(found=False))


def _check_declared_size(path: Path, data: bytes) -> None:
    """Refuse an image whose header declares more than MAX_PIXELS, without decoding it. Formats
    Pillow cannot parse are left to OpenCV (which has its own limit of 2^30 pixels)."""
    import io
    import warnings

    from PIL import Image
    limit = f"expected at most {MAX_PIXELS // 1_000_000} megapixels"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Image.DecompressionBombError as e:
        raise VerifyError(f"{path}: {e}: {limit}") from None
    except Exception:  # noqa: BLE001 - any failure here only means "OpenCV decides"
        return
    if w * h > MAX_PIXELS:
        raise VerifyError(f"{path}: the header declares {w}x{h} pixels: {limit}")


def _read_image(path: Path) -> np.ndarray | None:
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise VerifyError(f"{path}: {size} bytes: {EXPECTED_IMAGE} of at most {MAX_IMAGE_BYTES} "
                          f"bytes")
    data = path.read_bytes()
    _check_declared_size(path, data)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # empty buffer, or past OpenCV's own pixel limit
        return None
    if img is None:
        return None
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 3:
        img = img[..., [2, 1, 0]] if img.shape[2] == 3 else img[..., [2, 1, 0, 3]]  # BGR(A) -> RGB(A)
    return np.ascontiguousarray(img)


def _video_lumas(path: Path, max_frames: int) -> list[np.ndarray]:
    """Luma planes of up to `max_frames` frames spread evenly over the video."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VerifyError(f"{path}: no video stream (expected an image or a video file)")
            stream = container.streams.video[0]
            w, h = stream.codec_context.width, stream.codec_context.height
            if w * h > MAX_PIXELS:
                raise VerifyError(f"{path}: video frames of {w}x{h} pixels: expected at most "
                                  f"{MAX_PIXELS // 1_000_000} megapixels")
            total = stream.frames or 0
            step = max(1, -(-total // max_frames)) if total else 1
            lumas = []
            for i, frame in enumerate(container.decode(stream)):
                if i % step == 0:
                    if min(frame.width, frame.height) < MIN_SIDE:
                        raise VerifyError(f"{path}: video frames of {frame.width}x{frame.height} "
                                          f"pixels: expected at least {MIN_SIDE}x{MIN_SIDE} to "
                                          f"carry the watermark")
                    lumas.append(frame.to_ndarray(format="gray").astype(np.float32))
                    if len(lumas) >= max_frames:
                        break
    except (av.FFmpegError, UnicodeDecodeError) as e:  # tags are decoded as UTF-8
        raise VerifyError(f"{path}: not a readable image or video ({e}): expected an image or "
                          f"a video file") from e
    if not lumas:
        raise VerifyError(f"{path}: the video has no decodable frames: expected at least one")
    return lumas


def verify_file(path: Path, detector: Detector, config: VerifyConfig = VerifyConfig()) -> VerifyResult:
    path = Path(path)
    if not path.is_file():
        raise VerifyError(f"{path}: no such file: expected an image or a video file")
    creds = read_credentials(path, config.trust_anchors) if config.check_credentials \
        else CredentialReport(found=False)
    image = _read_image(path) if path.suffix.lower() in IMAGE_EXTENSIONS else None
    if image is not None:
        if min(image.shape[:2]) < MIN_SIDE:
            raise VerifyError(f"{path}: {image.shape[1]}x{image.shape[0]} pixels: expected at "
                              f"least {MIN_SIDE}x{MIN_SIDE} to carry the watermark")
        det = detector.detect(image)
        return VerifyResult(path, "image", det.present, det.payload, det.confidence,
                            frames_marked=int(det.present), credentials=creds)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise VerifyError(f"{path}: not a readable {path.suffix} image: {EXPECTED_IMAGE}")
    lumas = _video_lumas(path, config.max_frames)
    return _vote(path, lumas, detector, creds)


def _vote(path: Path, lumas: list[np.ndarray], detector: Detector, creds: CredentialReport) -> VerifyResult:
    per_frame = []
    periods: list[float] | None = None
    for luma in lumas:
        det = detector.detect_luma(luma, periods)
        per_frame.append(det)
        if det.present and periods is None:
            # the geometry is the same in every frame: reuse the scale that worked
            periods = [det.scale * 128.0]
    averaged = detector.detect_luma(np.mean(lumas, axis=0)) if len(lumas) > 1 else per_frame[0]
    votes = Counter(d.payload for d in per_frame if d.present)
    winner, count = votes.most_common(1)[0] if votes else (None, 0)
    if averaged.present and (winner is None or count < 2 or averaged.payload == winner):
        winner = averaged.payload
        count = sum(d.payload == winner for d in per_frame)
        present = True
    else:
        present = winner is not None and (count >= 2 or len(lumas) == 1)
    confs = [d.confidence for d in per_frame if d.payload == winner] if present else []
    confidence = max([averaged.confidence if averaged.payload == winner else 0.0] + confs) if present \
        else max(d.confidence for d in per_frame + [averaged])
    return VerifyResult(path, "video", present, winner if present else None, float(confidence),
                        frames_checked=len(lumas), frames_marked=count if present else 0,
                        averaged=averaged, credentials=creds)


def describe(result: VerifyResult) -> str:
    """One line for humans."""
    if result.present:
        mark = f"watermark PRESENT {result.payload} confidence={result.confidence:.2f}"
    else:
        mark = f"watermark not found (confidence={result.confidence:.2f})"
    if result.kind == "video":
        mark += f" frames={result.frames_marked}/{result.frames_checked}"
    c = result.credentials
    if not c.found:
        cred = "c2pa: none"
    else:
        cred = f"c2pa: {c.state}"
        if c.ai_generated:
            cred += ", AI-generated (trainedAlgorithmicMedia)"
        if c.generator:
            cred += f" by {c.generator}"
        if c.signer:
            cred += f", signed by {c.signer!r}"
        if c.errors:
            cred += f", errors: {', '.join(c.errors)}"
    return f"{result.path}: {mark}; {cred}"


def to_json(result: VerifyResult) -> dict:
    p = result.payload
    c = result.credentials
    return {
        "path": str(result.path), "kind": result.kind, "present": result.present,
        "payload": None if p is None else {"generator_id": p.generator_id, "session_id": p.session_id},
        "confidence": round(result.confidence, 4),
        "frames_checked": result.frames_checked, "frames_marked": result.frames_marked,
        "c2pa": {"found": c.found, "state": c.state, "ai_generated": c.ai_generated,
                 "generator": c.generator, "signer": c.signer, "errors": list(c.errors)},
    }
