"""Portrait analysis, once per photo: load, pick the face, crop, landmarks, person mask, checks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..native_log import quiet_native
from ..errors import FaceNotFoundError, FaceTooSmallError, ImageReadError, RenderError
from . import mesh as M
from .detect import DetectedFace, detect_faces, segment_person
from .image import LoadedImage, from_array, load_image
from .solver import Measurements, SolverConfig, measure

log = logging.getLogger("vasa_bridge.face")

MAX_SIZE = 1024  # pixels, the largest working width


# Framings: (crop side, crop centre below the face centre), both in face heights. "bust" is
# head and shoulders; "head" a tight crop of the head, for an avatar in a corner of a stream.
FRAMINGS = {"bust": (3.2, 0.45), "head": (2.3, -0.05)}


@dataclass(frozen=True)
class PortraitConfig:
    size: int = 512  # working width in pixels (the crop is square when `crop`)
    crop: bool = True  # crop around head and shoulders; False keeps the whole picture
    crop_scale: float = 3.2  # side of the crop in face heights (brow to chin)
    crop_down: float = 0.45  # crop centre below the face centre, in face heights
    face_index: int | None = None  # which face (0 = largest); None = largest, warn if several
    min_face_px: int = 64  # smallest face width in the source photo, pixels
    closed_eye_aperture: float = 0.12  # lid gap / eye width below which the eyes count as closed
    open_mouth_gap: float = 0.12  # inner lip gap / mouth width above which the mouth is open
    max_faces: int = 4  # faces mediapipe looks for
    open_mouth_ok: bool = False  # parted lips are this photo's known rest pose: no warning

    def __post_init__(self) -> None:
        if not 64 <= int(self.size) <= MAX_SIZE:
            raise RenderError(f"size is {self.size}: expected 64..{MAX_SIZE} pixels")
        if self.face_index is not None and self.face_index < 0:
            raise RenderError(f"face_index is {self.face_index}: expected 0 or more")

    @classmethod
    def framed(cls, framing: str, **kwargs) -> "PortraitConfig":
        """The config for a named framing (`FRAMINGS`), other fields as given."""
        if framing not in FRAMINGS:
            raise RenderError(f"framing is {framing!r}: expected one of {sorted(FRAMINGS)}")
        scale, down = FRAMINGS[framing]
        return cls(crop_scale=scale, crop_down=down, **kwargs)


@dataclass(frozen=True)
class Portrait:
    image: np.ndarray  # (H, W, 3) uint8 RGB working image
    person_alpha: np.ndarray  # (H, W) float32 in [0, 1], soft person mask
    landmarks: np.ndarray  # (478, 3) pixels in `image` (u, v, depth)
    rest: Measurements  # the photo's own geometry (pose vs the canonical face, apertures, ...)
    crop_box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the crop in the source photo
    num_faces: int  # faces found in the source photo
    eyes_closed: bool
    mouth_open: bool
    warnings: tuple[str, ...]
    # inner lip gap / mouth width at rest, the smaller of the mesh's readings (`_rest_lip_gap`);
    # None: not measured (the renderer then goes by the landmarks alone)
    rest_lip_gap: float | None = None


def _choose_face(faces: list[DetectedFace], config: PortraitConfig, source: str) -> DetectedFace:
    if not faces:
        raise FaceNotFoundError(f"{source}: no face found: expected a photo with one visible "
                                f"face (frontal or up to ~45 degrees turned)")
    if config.face_index is not None:
        if config.face_index >= len(faces):
            raise FaceNotFoundError(f"{source}: face index {config.face_index} asked for, but "
                                    f"only {len(faces)} face(s) found: expected 0.."
                                    f"{len(faces) - 1}")
        return faces[config.face_index]
    return faces[0]


def _crop_box(face: DetectedFace, w: int, h: int, config: PortraitConfig) -> tuple[int, ...]:
    u0, v0, u1, v1 = face.bbox
    fh = max(v1 - v0, u1 - u0)
    side = min(int(round(config.crop_scale * fh)), w, h)
    cx = (u0 + u1) / 2
    cy = (v0 + v1) / 2 + config.crop_down * fh
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    return (x0, y0, x0 + side, y0 + side)


def _rest_lip_gap(rest: Measurements, source_landmarks: np.ndarray,
                  source_size: tuple[int, int]) -> float:
    """Inner lip gap / mouth width at rest: the smaller of the face mesh's two readings of the
    photo, the working image's (`rest`) and the source photo's. Where pressed lips show as one
    dark band with no seam (a soft photo without colour: donilon in greyscale), the mesh reads
    the band as parted lips in some crops and not in others (0.18 in the bust crop, 0.01-0.08 in
    the photo itself and in tighter or wider crops); lips that are parted (astronaut, obama)
    read open in every one (0.16-0.22)."""
    source = measure(source_landmarks, source_size, None, SolverConfig())
    return min(m.lip_gap / max(m.mouth_width, 1e-6) for m in (rest, source))


def analyse_portrait(image: str | Path | np.ndarray | LoadedImage,
                     config: PortraitConfig = PortraitConfig(), quiet: bool = False) -> Portrait:
    """Everything the renderer needs to know about one photo.

    Raises ImageReadError (unreadable), FaceNotFoundError (no face, or `face_index` missing),
    FaceTooSmallError (face narrower than `min_face_px`). Warns (log + `warnings`) when several
    faces are present, the eyes are closed or the mouth is open at rest (unless `open_mouth_ok`);
    `quiet`: in `warnings` only (a photo already analysed and warned about, at another size).
    """
    if isinstance(image, LoadedImage):
        loaded = image
    elif isinstance(image, np.ndarray):
        loaded = from_array(image)
    elif isinstance(image, (str, Path)):
        loaded = load_image(image)
    else:
        raise ImageReadError(f"portrait is a {type(image).__name__}: expected a path, an array "
                             f"or a LoadedImage")
    src = loaded.rgb
    h, w = src.shape[:2]
    if min(h, w) < 32:
        raise FaceTooSmallError(f"{loaded.source}: image is {w}x{h}: expected at least "
                                f"{config.min_face_px} pixels across the face")
    with quiet_native():  # mediapipe's graphs log from their own threads while they start
        portrait = _analyse(loaded, config)
    if not quiet:
        for msg in portrait.warnings:
            log.warning("%s: %s", loaded.source, msg)
    return portrait


def _analyse(loaded: LoadedImage, config: PortraitConfig) -> Portrait:
    src = loaded.rgb
    h, w = src.shape[:2]
    faces = detect_faces(src, max_faces=config.max_faces)
    face = _choose_face(faces, config, loaded.source)
    warnings: list[str] = []
    if len(faces) > 1 and config.face_index is None:
        warnings.append(f"{len(faces)} faces found: using the largest ({face.width:.0f} px "
                        f"wide); pick another with face_index / --face")
    if face.width < config.min_face_px:
        raise FaceTooSmallError(f"{loaded.source}: the face is {face.width:.0f} px wide: "
                                f"expected at least {config.min_face_px} px")
    if config.crop:
        box = _crop_box(face, w, h, config)
        out_w = out_h = int(config.size)
    else:
        box = (0, 0, w, h)
        out_w = int(config.size)
        # Heights round to a multiple of 8 so the renderer's warp grid tiles the frame.
        out_h = max(8, int(round(h * out_w / w / 8)) * 8)
        if out_h > MAX_SIZE:
            out_h, out_w = MAX_SIZE, max(8, int(round(w * MAX_SIZE / h / 8)) * 8)
    x0, y0, x1, y1 = box
    interp = cv2.INTER_AREA if (x1 - x0) > out_w else cv2.INTER_CUBIC
    work = cv2.resize(np.ascontiguousarray(src[y0:y1, x0:x1]), (out_w, out_h),
                      interpolation=interp)
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    expected = (face.landmarks[:, :2] - [x0, y0]) * [sx, sy]
    # Re-detect in the working image (more precise than scaling), the face closest to ours.
    again = detect_faces(work, max_faces=config.max_faces)
    if again:
        best = min(again, key=lambda f: float(np.abs(f.landmarks[:, :2] - expected).mean()))
        landmarks = best.landmarks
    else:
        landmarks = face.landmarks * [sx, sy, sx] - [x0 * sx, y0 * sy, 0]
    alpha = segment_person(work)
    if loaded.alpha is not None:
        cut = cv2.resize(loaded.alpha[y0:y1, x0:x1], (out_w, out_h), interpolation=interp)
        alpha = cut.astype(np.float32) / 255.0
    # The face itself is always person, whatever the segmenter thinks of beards and hats.
    hull = cv2.convexHull(landmarks[:M.NUM_SURFACE, :2].astype(np.float32)).astype(np.int32)
    face_mask = np.zeros(alpha.shape, np.uint8)
    cv2.fillConvexPoly(face_mask, hull, 1)
    alpha = np.maximum(alpha, face_mask.astype(np.float32))
    rest = measure(landmarks, (out_w, out_h), None, SolverConfig())
    eyes_closed = bool(rest.aperture.max() < config.closed_eye_aperture)
    lip_gap = _rest_lip_gap(rest, face.landmarks, (w, h))
    mouth_open = bool(lip_gap > config.open_mouth_gap)
    if eyes_closed:
        warnings.append(f"eyes look closed at rest (lid gap {rest.aperture.max():.2f} of the eye "
                        f"width: expected > {config.closed_eye_aperture}): blinks and gaze "
                        f"will not show; use a photo with open eyes")
    if mouth_open and not config.open_mouth_ok:
        warnings.append(f"mouth is open at rest (lip gap {lip_gap:.2f} of the mouth width: "
                        f"expected < {config.open_mouth_gap}): the rest pose keeps it open; "
                        f"jawOpen opens it further")
    return Portrait(image=work, person_alpha=alpha.astype(np.float32), landmarks=landmarks,
                    rest=rest, crop_box=tuple(int(v) for v in box), num_faces=len(faces),
                    eyes_closed=eyes_closed, mouth_open=mouth_open, warnings=tuple(warnings),
                    rest_lip_gap=lip_gap)
