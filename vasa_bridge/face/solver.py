"""Geometric solver: 478 face-mesh landmarks -> ARKit blendshapes and head pose (`MotionFrame`).

Pipeline, one frame:
1. Head rotation: the rigid landmarks (forehead, nose, eye corners, cheekbones: `mesh.RIGID`)
   aligned in 3D (orthogonal Procrustes, as mediapipe's own face-geometry module does) with a 3D
   face model: the canonical face shipped in `vasa_bridge/assets/canonical_face.npy`, or a
   neutral reference of the same person (`calibrate`), which is more accurate. The landmarks'
   depth is mediapipe's regressed z, made as deep as a real face (`units.LANDMARK_DEPTH_SCALE`).
   `SolverConfig(pose="pnp")` fits the image positions alone instead (cv2.solvePnP): on rendered
   and real faces the mesh places untextured points (nose bridge, forehead, the face contour)
   close to a frontal prior, so image-only PnP reads pitch at about half strength, while the
   mesh's depth follows the pose it sees (docs/renderer.md, "Measured").
2. Frontalise: undo that rotation and express the points in the face frame (origin between the
   eyes, unit = interocular distance, x to the viewer's right, y up, z towards the camera).
3. Measure scale-free geometry (`Measurements`: lid apertures, lip gap, chin drop, mouth width,
   corner lift, brow heights, iris positions).
4. Blendshapes = change from the neutral reference divided by the rig's amplitudes
   (`face.units`), clipped to [0, 1].

Both fits treat the camera as (nearly) orthographic: mediapipe's landmark depth is
weak-perspective. For "pnp", focal = 10 image widths by default; pass the real focal length for
metric translation from real videos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import FaceNotFoundError
from ..motion.conversions import euler_to_matrix, matrix_to_euler
from ..motion.frame import MotionFrame
from ..motion.names import INDEX, NUM_BLENDSHAPES
from . import mesh as M
from . import units as U

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class SolverConfig:
    pose: str = "3d"  # head rotation from: "3d" (landmarks with depth) or "pnp" (image points)
    focal: float = 10.0  # camera focal length for "pnp", in image widths (10 ~ orthographic)
    depth_scale: float = U.LANDMARK_DEPTH_SCALE  # landmark depth -> real face depth
    gaze: bool = True  # solve eyeLook* from the irises
    min_aperture: float = 0.05  # eye aperture (in eye widths) treated as fully closed


@dataclass(frozen=True)
class Measurements:
    """Scale-free geometry of one face in its own frontal frame (see module doc)."""

    rotation: np.ndarray  # (3,) pitch, yaw, roll in degrees, vs the model's frontal pose
    translation: np.ndarray  # (3,) eye midpoint in pixels (u, v) and the model's fitted depth
    iod_px: float  # interocular distance in pixels
    aperture: np.ndarray  # (2,) right, left: lid gap / eye width
    lip_gap: float  # inner lips, upper minus lower, IOD
    upper_lip: float  # height of the upper inner lip midpoint, IOD (y up)
    lower_lip: float  # height of the lower inner lip midpoint, IOD
    chin: float  # height of the chin, IOD (negative: below the eyes)
    mouth_width: float  # corner to corner, IOD
    corner_lift: np.ndarray  # (2,) right, left corner heights, IOD
    corner_out: np.ndarray  # (2,) right, left corner distance from the midline, IOD
    brow_inner: np.ndarray  # (2,) right, left inner brow heights, IOD
    brow_outer: np.ndarray  # (2,) right, left outer brow heights, IOD
    iris: np.ndarray  # (2, 2) right, left iris centre (x, y) from the eye centre, eye widths
    points: np.ndarray = field(repr=False)  # (478, 3) frontalised face-frame points, IOD

    def as_dict(self) -> dict[str, float]:
        out = {"pitch": self.rotation[0], "yaw": self.rotation[1], "roll": self.rotation[2],
               "iod_px": self.iod_px, "lip_gap": self.lip_gap, "chin": self.chin,
               "mouth_width": self.mouth_width}
        for i, side in enumerate(("right", "left")):
            out[f"aperture_{side}"] = self.aperture[i]
            out[f"corner_lift_{side}"] = self.corner_lift[i]
            out[f"brow_inner_{side}"] = self.brow_inner[i]
            out[f"iris_x_{side}"] = self.iris[i, 0]
            out[f"iris_y_{side}"] = self.iris[i, 1]
        return {k: float(v) for k, v in out.items()}


@dataclass(frozen=True)
class Reference:
    """A neutral face (eyes open, mouth closed, looking ahead) that motion is measured against."""

    model: np.ndarray  # (478, 3) frontal face-frame points, IOD: the PnP model
    neutral: Measurements  # the neutral face's own measurements (rotation vs `model`: ~0)
    rotation_matrix: np.ndarray  # (3, 3) the neutral head pose vs the model


@lru_cache(maxsize=4)
def canonical_face(depth_scale: float = U.LANDMARK_DEPTH_SCALE) -> np.ndarray:
    """(478, 3) the canonical frontal face in the face frame (IOD units), symmetric in x.

    The asset keeps mediapipe's own depth; `depth_scale` deepens it like measured landmarks.
    """
    path = ASSETS / "canonical_face.npy"
    face = np.load(path).astype(np.float64)
    face[:, 2] *= depth_scale
    face.setflags(write=False)
    return face


def deepen(points3d: np.ndarray, depth_scale: float) -> np.ndarray:
    """(478, 3) contract-frame points with their depth about the eyes scaled by `depth_scale`
    (mediapipe's z is flatter than a real face: `units.LANDMARK_DEPTH_SCALE`)."""
    p = np.array(points3d, np.float64)
    r, l = M.eye_centres(p)
    c = (r[2] + l[2]) / 2
    p[:, 2] = c + depth_scale * (p[:, 2] - c)
    return p


def align_pose(points3d: np.ndarray, model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation of the rigid landmarks in 3D against `model` (orthogonal Procrustes, Kabsch).

    points3d: (478, 3) contract-frame points (pixels, depth already `deepen`ed); model: (478, 3)
    face frame, IOD units. Returns the rotation (3, 3) mapping face-frame vectors to camera
    vectors, and the translation (3,) (pixels) of the model's origin, at the fitted scale.
    """
    idx = list(M.RIGID)
    a = model[idx]
    b = points3d[idx]
    ca, cb = a.mean(0), b.mean(0)
    u, sv, vt = np.linalg.svd((b - cb).T @ (a - ca))  # (3, 3) cross-covariance
    d = np.sign(np.linalg.det(u @ vt))  # a reflection is not a head pose
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    scale = (sv * [1.0, 1.0, d]).sum() / max(((a - ca) ** 2).sum(), 1e-12)  # pixels per IOD
    return rot, cb - scale * rot @ ca


def face_frame(points3d: np.ndarray, rotation_matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """Frontalise (478, 3) contract-frame pixel points with the head rotation -> (IOD points,
    interocular distance in pixels)."""
    r, l = M.eye_centres(points3d)
    q = (points3d - (r + l) / 2) @ rotation_matrix  # row-vector form of R^T (p - c)
    iod = float(np.linalg.norm(l - r))
    return q / iod, iod


def head_pose(landmarks: np.ndarray, model: np.ndarray, image_size: tuple[int, int],
              focal: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """PnP of the rigid landmarks against `model` (face frame, IOD units).

    landmarks: (478, 3) pixels (u, v, depth) as `detect.detect_faces` gives them.
    image_size: (width, height) of the image the landmarks are in.
    Returns the rotation matrix (3, 3) mapping face-frame vectors to camera vectors in the
    contract's frame, and the translation (3,) of the model's origin in OpenCV camera coordinates.
    """
    w, h = image_size
    idx = list(M.RIGID)
    flip = np.array([1.0, -1.0, -1.0])
    obj = (model[idx] * flip).astype(np.float64)  # contract frame -> OpenCV (y down, z away)
    img = np.asarray(landmarks, np.float64)[idx, :2]
    f = focal * w
    cam = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], np.float64)
    # A first guess from the weak-perspective fit keeps LM away from the mirrored solution.
    iod = M.interocular(M.to_points3d(landmarks))
    r0, l0 = M.eye_centres(np.asarray(landmarks, np.float64))
    c = (r0 + l0) / 2
    t0 = np.array([(c[0] - w / 2) / iod, (c[1] - h / 2) / iod, f / iod], np.float64)
    rvec = np.zeros(3, np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam, None, rvec.copy(), t0.copy(),
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise FaceNotFoundError("head pose: solvePnP found no solution for these landmarks: "
                                "expected a face mesh of 478 points")
    r_cv, _ = cv2.Rodrigues(rvec)
    c_flip = np.diag(flip)
    return c_flip @ r_cv @ c_flip, tvec.ravel()


def measure(landmarks: np.ndarray, image_size: tuple[int, int], model: np.ndarray | None = None,
            config: SolverConfig = SolverConfig()) -> Measurements:
    """Head pose and scale-free face geometry from (478, 3) pixel landmarks."""
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (M.NUM_LANDMARKS, 3) or not np.isfinite(lm).all():
        raise FaceNotFoundError(f"landmarks have shape {lm.shape}: expected ({M.NUM_LANDMARKS}, "
                                f"3) finite pixels from a face mesh with irises")
    model = canonical_face(config.depth_scale) if model is None else model
    p3 = deepen(M.to_points3d(lm), config.depth_scale)
    if config.pose == "3d":
        rot, tvec = align_pose(p3, model)
    elif config.pose == "pnp":
        rot, tvec = head_pose(lm, model, image_size, config.focal)
    else:
        raise ValueError(f"SolverConfig.pose is {config.pose!r}: expected '3d' or 'pnp'")
    q, iod = face_frame(p3, rot)

    def aperture(pairs, outer, inner):
        width = np.linalg.norm(q[outer, :2] - q[inner, :2])
        return np.mean([q[u, 1] - q[d, 1] for u, d in pairs]) / width

    def iris(centre, outer, inner):
        width = np.linalg.norm(q[outer, :2] - q[inner, :2])
        mid = (q[outer] + q[inner]) / 2
        return (q[centre, :2] - mid[:2]) / width

    r_c, l_c = M.eye_centres(lm)
    return Measurements(
        rotation=matrix_to_euler(rot),
        translation=np.array([(r_c[0] + l_c[0]) / 2, (r_c[1] + l_c[1]) / 2, tvec[2]]),
        iod_px=iod,
        aperture=np.array([aperture(M.RIGHT_LID_PAIRS, M.RIGHT_EYE_OUTER, M.RIGHT_EYE_INNER),
                           aperture(M.LEFT_LID_PAIRS, M.LEFT_EYE_OUTER, M.LEFT_EYE_INNER)]),
        lip_gap=float(q[M.LIP_UPPER_INNER_MID, 1] - q[M.LIP_LOWER_INNER_MID, 1]),
        upper_lip=float(q[M.LIP_UPPER_INNER_MID, 1]),
        lower_lip=float(q[M.LIP_LOWER_INNER_MID, 1]),
        chin=float(q[M.CHIN, 1]),
        mouth_width=float(np.linalg.norm(q[M.MOUTH_LEFT, :2] - q[M.MOUTH_RIGHT, :2])),
        corner_lift=np.array([q[M.MOUTH_RIGHT, 1], q[M.MOUTH_LEFT, 1]]),
        corner_out=np.array([-q[M.MOUTH_RIGHT, 0], q[M.MOUTH_LEFT, 0]]),
        brow_inner=np.array([q[list(M.RIGHT_BROW_INNER), 1].mean(),
                             q[list(M.LEFT_BROW_INNER), 1].mean()]),
        brow_outer=np.array([q[list(M.RIGHT_BROW_OUTER), 1].mean(),
                             q[list(M.LEFT_BROW_OUTER), 1].mean()]),
        iris=np.array([iris(M.RIGHT_IRIS[0], M.RIGHT_EYE_OUTER, M.RIGHT_EYE_INNER),
                       iris(M.LEFT_IRIS[0], M.LEFT_EYE_OUTER, M.LEFT_EYE_INNER)]),
        points=q,
    )


def calibrate(landmarks: np.ndarray, image_size: tuple[int, int],
              config: SolverConfig = SolverConfig()) -> Reference:
    """Make a neutral reference from one frame of the person at rest.

    The frame's frontalised points become the PnP model, so later rotations are measured against
    the person's own face shape, relative to this frame's pose.
    """
    first = measure(landmarks, image_size, None, config)
    model = first.points
    neutral = measure(landmarks, image_size, model, config)
    return Reference(model=model, neutral=neutral,
                     rotation_matrix=euler_to_matrix(neutral.rotation))


def canonical_reference(config: SolverConfig = SolverConfig()) -> Reference:
    """The reference to use without calibration: the canonical face at rest."""
    model = canonical_face(config.depth_scale)
    flat = model * [1.0, 1.0, 1.0 / config.depth_scale]  # as the face mesh would report it
    pts = M.to_pixels(flat * 100.0) + np.array([500.0, 500.0, 0.0])  # a 100-px face, frontal
    neutral = measure(pts, (1000, 1000), model, config)
    return Reference(model=model, neutral=neutral, rotation_matrix=np.eye(3))


def _clip01(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def blendshapes_from(m: Measurements, ref: Measurements,
                     config: SolverConfig = SolverConfig()) -> np.ndarray:
    """(52,) ARKit coefficients from a face's measurements vs a neutral's (unsolved shapes 0)."""
    out = np.zeros(NUM_BLENDSHAPES, np.float32)

    def put(name: str, value: float) -> None:
        out[INDEX[name]] = _clip01(value)

    jaw = (ref.chin - m.chin) / U.JAW_CHIN_DROP
    put("jawOpen", jaw)
    for i, side in enumerate(("Right", "Left")):
        closed = max(ref.aperture[i] - config.min_aperture, 1e-3)
        put(f"eyeBlink{side}", (ref.aperture[i] - m.aperture[i]) / closed)
        put(f"eyeWide{side}", (m.aperture[i] - ref.aperture[i])
            / max(ref.aperture[i] * U.EYE_WIDE_OPEN, 1e-3))
        lift = m.corner_lift[i] - ref.corner_lift[i]
        out_ = m.corner_out[i] - ref.corner_out[i]
        # Jaw opening drags the corners down a little; remove the part the jaw explains.
        lift_corr = lift + 0.25 * U.JAW_CHIN_DROP * _clip01(jaw)
        put(f"mouthSmile{side}", (0.6 * lift_corr / U.SMILE_LIFT + 0.4 * out_ / U.SMILE_OUT))
        put(f"mouthFrown{side}", -lift_corr / U.FROWN_DROP)
        put(f"mouthStretch{side}", (out_ - max(lift_corr, 0.0) * U.SMILE_OUT / U.SMILE_LIFT)
            / U.STRETCH_OUT)
        put(f"browDown{side}", (ref.brow_inner[i] - m.brow_inner[i]) / U.BROW_DOWN)
        put(f"browOuterUp{side}", (m.brow_outer[i] - ref.brow_outer[i]) / U.BROW_OUTER_UP)
    put("browInnerUp", float(np.mean(m.brow_inner - ref.brow_inner)) / U.BROW_INNER_UP)
    narrow = (ref.mouth_width - m.mouth_width) / 2
    opened = (m.lip_gap - ref.lip_gap) - (ref.chin - m.chin) * (U.JAW_LOWER_LIP_DROP
                                                               / U.JAW_CHIN_DROP)
    funnel = _clip01(opened / (2 * U.FUNNEL_OPEN))
    put("mouthFunnel", narrow / U.FUNNEL_IN * funnel)
    put("mouthPucker", narrow / U.PUCKER_IN * (1 - funnel))
    if config.gaze:
        d = m.iris - ref.iris  # (2, 2) right, left; x to the viewer's right, y up
        # The subject's right eye looks In (to the nose) when its iris moves to the viewer's right.
        put("eyeLookInRight", d[0, 0] / U.GAZE_H)
        put("eyeLookOutRight", -d[0, 0] / U.GAZE_H)
        put("eyeLookOutLeft", d[1, 0] / U.GAZE_H)
        put("eyeLookInLeft", -d[1, 0] / U.GAZE_H)
        for i, side in enumerate(("Right", "Left")):
            put(f"eyeLookUp{side}", d[i, 1] / U.GAZE_V)
            put(f"eyeLookDown{side}", -d[i, 1] / U.GAZE_V)
    return out


def solve(landmarks: np.ndarray, image_size: tuple[int, int], reference: Reference | None = None,
          config: SolverConfig = SolverConfig(), time: float = 0.0) -> MotionFrame:
    """(478, 3) pixel landmarks -> MotionFrame of blendshapes and head pose.

    With a `reference` (from `calibrate` on a neutral frame of the same person) the head pose is
    relative to that frame and the blendshapes are changes from it. Without, the canonical face
    is the reference: the pose is absolute and the blendshapes carry the person's own resting
    shape as a bias.
    Head translation: the eye midpoint's motion in metres (x right, y up, z towards the camera),
    from the interocular distance (`units.IOD_M`).
    """
    ref = reference if reference is not None else canonical_reference(config)
    m = measure(landmarks, image_size, ref.model, config)
    rel = euler_to_matrix(m.rotation) @ ref.rotation_matrix.T
    rotation = matrix_to_euler(rel)
    scale = U.IOD_M / ref.neutral.iod_px if reference is not None else U.IOD_M / m.iod_px
    if reference is not None:
        du = m.translation[:2] - ref.neutral.translation[:2]
        # A bigger face is closer: at distance d the face's image size goes as 1/d.
        dz = U.CAMERA_DISTANCE_M * (1.0 - ref.neutral.iod_px / m.iod_px)
        translation = np.array([du[0] * scale, -du[1] * scale, dz])
    else:
        translation = np.zeros(3)
    translation = np.clip(translation, -10, 10)
    return MotionFrame(blendshapes_from(m, ref.neutral, config), np.clip(rotation, -180, 180),
                       translation, time)
