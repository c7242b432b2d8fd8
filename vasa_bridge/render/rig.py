"""The rig: ARKit blendshapes + head pose -> 2D positions of the face mesh and head control points.

Each blendshape owns a displacement basis (478, 3) built procedurally on the portrait's own
frontalised mesh in the face frame (interocular units, x to the viewer's right, y up, z towards
the camera; magnitudes from `face.units`). A frame's mesh is

    P = P_rest + iod * R0 @ sum_s w_s * B_s          (expression, in the photo's head pose R0)
    P' = pivot + R_cmd @ (P - pivot) + T             (head rotation about a pivot in the skull)

projected orthographically (u = x, v = -y) and scaled about the pivot for head_translation z.
The mesh's depth is mediapipe's times `units.LANDMARK_DEPTH_SCALE` (mediapipe's is flatter than a
real face); `positions_depth` also returns it, for the z-buffer where the turned mesh folds.
Head control points beyond the mesh (three rings around the face oval: hair, ears, neck) follow
the head with a weight that fades towards the neck; a fourth ring and the image border stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..face import mesh as M
from ..face import units as U
from ..face.solver import deepen
from ..motion.conversions import euler_to_matrix
from ..motion.names import INDEX, NUM_BLENDSHAPES

RING_SCALES = (1.2, 1.45, 1.75)  # head rings, in face-oval radii
STATIC_RING = 2.6  # this ring and the image border never move
NECK_WEIGHTS = (0.85, 0.55, 0.25)  # how much the rings below the chin follow the head
RING_EXPRESSION = (0.6, 0.3, 0.1)  # how much of the oval's expression motion each ring takes
PIVOT = np.array([0.0, -0.4, -1.6])  # head rotation centre in the face frame (IOD): in the skull
EDGE_DEPTH_BAND = 0.2  # IOD: on the near side of a turn, mesh points this close to the contour
EDGE_DEPTH_SHARE = 0.6  # move this share of the way to the contour's depth (1: yaw 20 reads 22.7)


# Internal basis rows after the 52 ARKit ones: the part of mouthPress that seals the photo's own
# lip gap (an open-mouthed photo), full from SEAL_AT of mouthPress on; and the part of
# mouthRollLower that brings the lower lip up across that gap under the upper teeth (/f v/),
# full from TUCK_AT on and less where the lips are sealed; the part of mouthFunnel +
# mouthPucker that undoes a smiling photo's smile (round), and of mouthPucker that brings its
# upper lip down over its teeth (cover) (`coefficients`).
EXTRA = ("sealRight", "sealLeft", "tuckRight", "tuckLeft", "roundRight", "roundLeft",
         "coverRight", "coverLeft")
NUM_ROWS = NUM_BLENDSHAPES + len(EXTRA)
ROW = {**INDEX, **{name: NUM_BLENDSHAPES + i for i, name in enumerate(EXTRA)}}  # basis row by name
SEAL_AT = 0.3
TUCK_AT = 0.5
# How far across the photo's own lip gap the tucked lower lip's inner edge rises: past the
# edge of the teeth an open photo shows under its upper lip (most of the gap), so the teeth
# rest on the lip.
TUCK_SHARE = 0.65
# An open photo's tucked lower lip rises to where its teeth end (`Rig.with_tuck`) and this
# share of its gap past that: the teeth rest on the lip (a dark line stayed between them).
TUCK_OVER = 0.15
# Rounded lips (mouthFunnel + mouthPucker, full at 1) on a photo that smiles undo ROUND_SHARE of
# its smile at each corner: the smile's own motion (units.SMILE_LIFT up, SMILE_OUT out) times
# how far the photo's corner sits above ROUND_NEUTRAL (IOD over the lips' middle), in smiles.
# The unsmiling test portraits' corners sit 0.02-0.16 under it (nothing to undo; brennan's
# right, a turned face, 0.03 over); the two that smile with their teeth 0.07-0.12 over it.
ROUND_SHARE = 1.0
ROUND_NEUTRAL = 0.0
ROUND_COVER = 0.4  # a pout brings the upper lip this share of the photo's lip gap down


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _gauss(q: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    d2 = np.sum((q[:, :2] - centre[:2]) ** 2, axis=1)
    return np.exp(-d2 / (2 * sigma * sigma))


def _interp_contour(q: np.ndarray, contour: tuple[int, ...], x: np.ndarray) -> np.ndarray:
    """Height of a contour (point indices, any x order) at positions x (clamped to its ends)."""
    pts = q[list(contour), :2]
    order = np.argsort(pts[:, 0])
    return np.interp(x, pts[order, 0], pts[order, 1])


def soften_edge_depth(p: np.ndarray, contour: np.ndarray, band: float) -> np.ndarray:
    """(N,) depth of the points p (N, 3) with the depth step at the contour graded out.

    The photo's skin edge is carried by the contour points and by mesh points lying on or just
    inside it, which the face mesh gives depths up to 0.4 IOD apart at the same place in the
    image. A turn moves a point sideways by sin(yaw) times its depth, so those points spread
    apart along the edge and the silhouette shows steps (the near cheek below the ear at
    yaw 20). Here each point within `band` (pixels) of the contour polyline (C,) takes the
    contour's depth there, blended to its own with the distance (smoothstep), so the motion
    at the edge is continuous along it. Used on the near side of a turn only (`Rig.edge_dz`):
    on the far side the raw depth's overhang is what `Silhouette.slide` pushes the contour to.
    """
    a = p[contour, :2]  # (C, 2) segment starts; the polyline is closed
    ab = np.roll(a, -1, axis=0) - a
    rel = p[:, None, :2] - a[None]  # (N, C, 2)
    t = np.clip(np.einsum("ncd,cd->nc", rel, ab) / np.maximum(np.sum(ab * ab, 1), 1e-9), 0, 1)
    dist = np.linalg.norm(rel - t[..., None] * ab[None], axis=2)  # (N, C)
    k = np.argmin(dist, axis=1)
    za = p[contour, 2]
    n = np.arange(len(p))
    z_edge = za[k] + t[n, k] * (np.roll(za, -1)[k] - za[k])
    w = _smooth(dist[n, k] / band)
    return z_edge + w * (p[:, 2] - z_edge)


def lip_band_points(q: np.ndarray) -> list[int]:
    """The mesh points inside the red of the lips (between the outer and the inner lip rings,
    not on them): the face mesh's two middle rings of each lip, 40 points."""
    import cv2

    on_rings = set(M.OUTER_MOUTH_RING) | set(M.INNER_MOUTH_RING)
    outer = q[list(M.OUTER_MOUTH_RING), :2].astype(np.float32)
    inner = q[list(M.INNER_MOUTH_RING), :2].astype(np.float32)
    return [i for i in range(len(q)) if i not in on_rings
            and cv2.pointPolygonTest(outer, (float(q[i, 0]), float(q[i, 1])), False) >= 0
            and cv2.pointPolygonTest(inner, (float(q[i, 0]), float(q[i, 1])), False) < 0]


def _follow_lip_edges(q: np.ndarray, B: np.ndarray) -> None:
    """In place: every lip band point (`lip_band_points`) moves as its lip's edges around it,
    in every row: at its x, the inner edge's and the outer edge's displacements blended by
    where it lies between them. A lip then moves as a band that keeps its texture: the shapes
    that move the lip rings (seal, press, roll, pucker, funnel, the lower lip's lens-shaped
    drop) moved the rings but not the points between them, so the triangles of the red sheared
    into a sawtooth of lip and skin (a sealed obama's upper lip)."""
    x, y = q[:, 0], q[:, 1]
    mid = 0.5 * (_interp_contour(q, M.LIPS_INNER_UPPER, x)
                 + _interp_contour(q, M.LIPS_INNER_LOWER, x))
    for b in lip_band_points(q):
        upper = y[b] > mid[b]  # the face frame's y is up
        inner_ring = M.LIPS_INNER_UPPER if upper else M.LIPS_INNER_LOWER
        outer_ring = M.LIPS_OUTER_UPPER if upper else M.LIPS_OUTER_LOWER
        yi = _interp_contour(q, inner_ring, x[b:b + 1])[0]
        yo = _interp_contour(q, outer_ring, x[b:b + 1])[0]
        t = float(np.clip((y[b] - yi) / (yo - yi), 0.0, 1.0)) if abs(yo - yi) > 1e-6 else 0.5
        di = _ring_disp(q, B, inner_ring, x[b])
        do = _ring_disp(q, B, outer_ring, x[b])
        B[:, b, :] = (1.0 - t) * di + t * do


def _ring_disp(q: np.ndarray, B: np.ndarray, ring: tuple[int, ...], at: float) -> np.ndarray:
    """(NUM_ROWS, 3) the displacement of a lip ring at x = `at`, interpolated between its points
    (clamped at its ends), in every row."""
    pts = np.array(ring)
    order = pts[np.argsort(q[pts, 0])]
    xs = q[order, 0]
    k = int(np.clip(np.searchsorted(xs, at), 1, len(xs) - 1))
    w = float(np.clip((at - xs[k - 1]) / max(xs[k] - xs[k - 1], 1e-9), 0.0, 1.0))
    return (1.0 - w) * B[:, order[k - 1], :] + w * B[:, order[k], :]


def build_basis(q: np.ndarray) -> np.ndarray:
    """(NUM_ROWS, 478, 3) displacement per unit of each blendshape (then the `EXTRA` rows),
    face frame, IOD units.

    q: (478, 3) the portrait's frontalised rest mesh (face frame, IOD units).
    """
    n = q.shape[0]
    B = np.zeros((NUM_ROWS, n, 3))
    x, y = q[:, 0], q[:, 1]

    def put(name, disp):
        B[ROW[name]] += disp

    outer_upper_idx = [i for i in M.LIPS_OUTER_UPPER if i not in (61, 291)]
    outer_lower_idx = [i for i in M.LIPS_OUTER_LOWER if i not in (61, 291)]
    inner_upper_idx = [i for i in M.LIPS_INNER_UPPER if i not in (78, 308)]
    inner_lower_idx = [i for i in M.LIPS_INNER_LOWER if i not in (78, 308)]
    upper_lip = set(M.LIPS_OUTER_UPPER + M.LIPS_INNER_UPPER) - {61, 291, 78, 308}
    lower_lip = set(M.LIPS_OUTER_LOWER + M.LIPS_INNER_LOWER) - {61, 291, 78, 308}
    corners = (M.MOUTH_RIGHT, M.MOUTH_LEFT)
    lips_mid = 0.5 * (q[M.LIP_UPPER_INNER_MID, 1] + q[M.LIP_LOWER_INNER_MID, 1])  # height
    mouth_c = q[list(M.OUTER_MOUTH_RING)].mean(0)
    half_w = abs(q[M.MOUTH_LEFT, 0] - q[M.MOUTH_RIGHT, 0]) / 2
    # Mouth midline: halfway between the inner lips, as a function of x.
    mid = (_interp_contour(q, M.LIPS_INNER_UPPER, x) + _interp_contour(q, M.LIPS_INNER_LOWER, x)) / 2
    chin_y = q[M.CHIN, 1]

    # --- jaw: everything below the mouth midline drops; the lower lip a bit less than the chin.
    below = _smooth((mid - y) / 0.05 + 0.5)
    for i in upper_lip:
        below[i] = 0.0
    # The lower lip drops most at the middle and less towards the corners, so the opening is a
    # lens, not a box with square corners.
    for i in lower_lip:
        r = min(abs(x[i] - mouth_c[0]) / max(half_w, 1e-6), 1.0)
        below[i] = 0.35 + 0.65 * np.sqrt(1.0 - r * r)
    for i in corners + (78, 308):
        below[i] = 0.35
    depth = np.clip((mid - y) / max(mid.mean() - chin_y, 1e-3), 0.0, 1.0)  # 0 at mouth, 1 at chin
    drop = U.JAW_LOWER_LIP_DROP + (U.JAW_CHIN_DROP - U.JAW_LOWER_LIP_DROP) * depth
    lateral = 1.0 - 0.65 * _smooth((np.abs(x - mouth_c[0]) - half_w) / 0.6)
    jaw_w = below * lateral
    jaw = np.zeros((n, 3))
    jaw[:, 1] = -drop * jaw_w
    jaw[:, 2] = -0.25 * drop * jaw_w  # the chin swings back as the jaw rotates
    put("jawOpen", jaw)
    # mouthClose brings each lower-lip point, and the corners, back up by their own share of the
    # jaw's drop there: a lift the same all along the lip raised the points next to the corners
    # (which drop 0.35 as far) above where they rest, and the corners, left dropped under the
    # closed lips, drew dark hooks down from their ends.
    lower_only = np.zeros((n, 3))
    for i in lower_lip | set(corners) | {78, 308}:
        lower_only[i, 1] = -jaw[i, 1] * U.MOUTH_CLOSE_LIFT
    put("mouthClose", lower_only)  # coefficient is min(mouthClose, jawOpen): see `coefficients`
    put("jawLeft", np.stack([U.JAW_SIDE * jaw_w, 0 * x, 0 * x], 1))
    put("jawRight", np.stack([-U.JAW_SIDE * jaw_w, 0 * x, 0 * x], 1))
    put("jawForward", np.stack([0 * x, -0.02 * jaw_w, U.JAW_FORWARD * jaw_w], 1))

    # --- mouth corners
    near_mouth = _gauss(q, mouth_c, 0.45)
    # Each lip's red height at every x as a share of its height at the middle (0..1).
    red_share = []
    for outer_ring, inner_ring, mid_i, mid_o in (
            (M.LIPS_OUTER_UPPER, M.LIPS_INNER_UPPER, M.LIP_UPPER_INNER_MID, M.LIP_UPPER_OUTER_MID),
            (M.LIPS_OUTER_LOWER, M.LIPS_INNER_LOWER, M.LIP_LOWER_INNER_MID, M.LIP_LOWER_OUTER_MID)):
        height = np.abs(_interp_contour(q, outer_ring, x) - _interp_contour(q, inner_ring, x))
        red_share.append(np.clip(height / max(abs(q[mid_o, 1] - q[mid_i, 1]), 1e-6), 0.0, 1.0))
    lips_w = np.zeros(n)
    for i in upper_lip | lower_lip:
        lips_w[i] = 1.0
    for side, c in (("Right", M.MOUTH_RIGHT), ("Left", M.MOUTH_LEFT)):
        sgn = -1.0 if side == "Right" else 1.0  # outwards in x
        g = _gauss(q, q[c], 0.22)
        put(f"mouthSmile{side}", np.stack([sgn * U.SMILE_OUT * g, U.SMILE_LIFT * g,
                                           -0.03 * g], 1))
        put(f"mouthFrown{side}", np.stack([0 * g, -U.FROWN_DROP * g, 0 * g], 1))
        put(f"mouthStretch{side}", np.stack([sgn * U.STRETCH_OUT * g, -0.02 * g, 0 * g], 1))
        put(f"mouthDimple{side}", np.stack([-sgn * U.DIMPLE_BACK * g, 0.01 * g,
                                            -U.DIMPLE_BACK * g], 1))
        side_w = _smooth(0.5 + sgn * (x - mouth_c[0]) / (2 * half_w)) * lips_w
        upper_side = side_w * np.isin(np.arange(n), list(upper_lip))
        lower_side = side_w * np.isin(np.arange(n), list(lower_lip))
        # Press: the red of each lip flattens against the other (outer edges towards the lip
        # line) and the lips roll in a little; the seal closes the photo's own gap.
        # The flattening is a share of the red's own height, PRESS_THIN at the middle: towards
        # the corners, where the red tapers to nothing, a fixed amount turned the lip inside out.
        outer_up_side = side_w * np.isin(np.arange(n), outer_upper_idx) * red_share[0]
        outer_low_side = side_w * np.isin(np.arange(n), outer_lower_idx) * red_share[1]
        put(f"mouthPress{side}", np.stack([0 * x, U.PRESS_THIN * (outer_low_side - outer_up_side),
                                           -0.02 * (outer_low_side + outer_up_side)], 1))
        # Seal: each inner upper point and its inner lower partner (same place along the
        # lips) meet halfway, so the opening closes to nothing; the outer edges follow their
        # inner points, keeping each lip's thickness.
        seal = np.zeros((n, 3))
        for iu, il, ou, ol in zip(inner_upper_idx, inner_lower_idx, outer_upper_idx,
                                  outer_lower_idx):
            mid = (q[iu] + q[il]) / 2  # in 3D: the photo's head pose then keeps them together
            for inner, outer_i in ((iu, ou), (il, ol)):
                d = (mid - q[inner]) * side_w[inner]
                seal[inner] += d
                seal[outer_i] += d
        put(f"seal{side}", seal)
        # Tuck: the lower lip (inner edge and, keeping its thickness, outer edge) rises most of
        # the way across the photo's gap towards the upper lip; nothing where there is no gap.
        tuck = np.zeros((n, 3))
        for iu, il, ol in zip(inner_upper_idx, inner_lower_idx, outer_lower_idx):
            d = TUCK_SHARE * (q[iu] - q[il]) * side_w[il]
            tuck[il] += d
            tuck[ol] += d
        put(f"tuck{side}", tuck)
        # Round: the photo's own smile undone at this corner (rounded lips bring it in and down).
        smiled = max(float(q[c, 1] - lips_mid) - ROUND_NEUTRAL, 0.0) / U.SMILE_LIFT
        rnd = -ROUND_SHARE * smiled * np.stack([sgn * U.SMILE_OUT * g, U.SMILE_LIFT * g,
                                                -0.03 * g], 1)
        put(f"round{side}", rnd)
        # Cover (mouthPucker, lips pushed together and out): the upper lip comes down over the
        # teeth the photo's smile shows, its inner edge ROUND_COVER of the photo's own lip gap,
        # its outer edge half that (it pouts). Not for mouthFunnel, whose lips flare apart.
        cover = np.zeros((n, 3))
        for iu, il, ou in zip(inner_upper_idx, inner_lower_idx, outer_upper_idx):
            d = ROUND_COVER * min(smiled, 1.0) * (q[il] - q[iu]) * side_w[iu]
            cover[iu] += d
            cover[ou] += 0.5 * d
        put(f"cover{side}", cover)
        put(f"mouthLowerDown{side}", np.stack([0 * x, -U.LOWER_DOWN * lower_side, 0 * x], 1))
        put(f"mouthUpperUp{side}", np.stack([0 * x, U.UPPER_UP * upper_side, 0 * x], 1))
    is_upper = np.isin(np.arange(n), list(upper_lip)).astype(float)
    is_lower = np.isin(np.arange(n), list(lower_lip)).astype(float)
    towards_mid = -np.sign(x - mouth_c[0]) * _smooth(np.abs(x - mouth_c[0]) / half_w)
    # Pucker: corners together and the lips pushed forward and pouted (each lip's red grows
    # outwards: the upper lip's edge up, the lower's down), the mouth stays closed.
    # Funnel: corners together and the lips flared apart into a round opening.
    mid_w = 1 - _smooth(np.abs(x - mouth_c[0]) / half_w)  # 1 at the middle, 0 at the corners
    outer_upper = np.isin(np.arange(n), outer_upper_idx).astype(float)
    outer_lower = np.isin(np.arange(n), outer_lower_idx).astype(float)
    put("mouthPucker", np.stack([U.PUCKER_IN * towards_mid * near_mouth,
                                 U.PUCKER_POUT * (outer_upper - outer_lower) * (0.4 + 0.6 * mid_w),
                                 0.08 * lips_w], 1))
    put("mouthFunnel", np.stack([U.FUNNEL_IN * towards_mid * near_mouth,
                                 U.FUNNEL_OPEN * (is_upper - is_lower) * mid_w,
                                 0.05 * lips_w], 1))
    # Roll: a lip turns in over its teeth: its red thins (the outer edge moves to the inner one)
    # and the inner edge goes back; the lower lip also rises under the upper teeth (/f v/).
    inner_lower = np.isin(np.arange(n), inner_lower_idx).astype(float)
    inner_upper = np.isin(np.arange(n), inner_upper_idx).astype(float)
    put("mouthRollUpper", np.stack([0 * x, -U.ROLL_IN * outer_upper * (0.4 + 0.6 * mid_w),
                                    -0.04 * (outer_upper + inner_upper)], 1))
    put("mouthRollLower", np.stack([0 * x, (U.ROLL_IN * outer_lower + U.ROLL_TUCK * inner_lower)
                                    * (0.4 + 0.6 * mid_w),
                                    -0.04 * (outer_lower + inner_lower)], 1))
    put("mouthShrugUpper", np.stack([0 * x, U.SHRUG * is_upper, 0 * x], 1))
    chin_g = _gauss(q, q[M.CHIN] + [0, 0.25, 0], 0.35)
    put("mouthShrugLower", np.stack([0 * x, U.SHRUG * np.maximum(is_lower, chin_g), 0 * x], 1))
    put("mouthLeft", np.stack([U.MOUTH_SIDE * near_mouth, 0 * x, 0 * x], 1))
    put("mouthRight", np.stack([-U.MOUTH_SIDE * near_mouth, 0 * x, 0 * x], 1))

    # --- eyes: lids. The eyeball itself is a separate layer (`layers.EyeLayer`).
    for side, upper, lower, outer, inner in (
            ("Right", M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER, M.RIGHT_EYE_OUTER, M.RIGHT_EYE_INNER),
            ("Left", M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER, M.LEFT_EYE_OUTER, M.LEFT_EYE_INNER)):
        x0, x1 = sorted((q[outer, 0], q[inner, 0]))
        up_y = _interp_contour(q, upper, x)
        low_y = _interp_contour(q, lower, x)
        aperture = np.clip(up_y - low_y, 0.0, None)  # lid gap at each x
        inside_x = _smooth((x - x0) / 0.06) * _smooth((x1 - x) / 0.06)
        above = y - up_y  # height above the upper lid
        lid_w = inside_x * np.exp(-np.clip(above, 0, None) / 0.10) * (above > -0.02)
        lid_w[list(upper[1:-1])] = inside_x[list(upper[1:-1])]
        lid_w[[outer, inner]] = 0.0
        lid_w[list(lower)] = 0.0
        below_lid = low_y - y
        low_w = inside_x * np.exp(-np.clip(below_lid, 0, None) / 0.10) * (below_lid > -0.02)
        low_w[list(lower[1:-1])] = inside_x[list(lower[1:-1])]
        low_w[[outer, inner]] = 0.0
        low_w[list(upper)] = 0.0
        iris_idx = list(M.RIGHT_IRIS if side == "Right" else M.LEFT_IRIS)
        lid_w[iris_idx] = 0.0
        low_w[iris_idx] = 0.0
        # Blink: the upper lid comes down 90% of the gap, the lower lid rises 10%: they meet.
        put(f"eyeBlink{side}", np.stack([0 * x, -0.9 * aperture * lid_w, 0 * x], 1)
            + np.stack([0 * x, 0.1 * aperture * low_w, 0 * x], 1))
        put(f"eyeWide{side}", np.stack([0 * x, U.EYE_WIDE_OPEN * aperture * lid_w, 0 * x], 1))
        put(f"eyeSquint{side}", np.stack([0 * x, U.EYE_SQUINT_UP * aperture * low_w, 0 * x], 1))
        width = abs(q[outer, 0] - q[inner, 0])
        iris_move = np.zeros((n, 3))
        iris_move[iris_idx, 0] = U.GAZE_H * width
        towards_nose = 1.0 if side == "Right" else -1.0  # right eye's nose side is +x
        put(f"eyeLookIn{side}", towards_nose * iris_move)
        put(f"eyeLookOut{side}", -towards_nose * iris_move)
        iris_up = np.zeros((n, 3))
        iris_up[iris_idx, 1] = U.GAZE_V * width
        put(f"eyeLookUp{side}", iris_up)
        put(f"eyeLookDown{side}", -iris_up)

    # --- brows and forehead
    brow_inner = {"Right": q[list(M.RIGHT_BROW_INNER)].mean(0),
                  "Left": q[list(M.LEFT_BROW_INNER)].mean(0)}
    brow_outer = {"Right": q[list(M.RIGHT_BROW_OUTER)].mean(0),
                  "Left": q[list(M.LEFT_BROW_OUTER)].mean(0)}
    eye_line = 0.05  # points below the eye line do not follow the brows
    above_eyes = _smooth((y - eye_line) / 0.2)
    gi = (_gauss(q, brow_inner["Right"], 0.25) + _gauss(q, brow_inner["Left"], 0.25)) * above_eyes
    put("browInnerUp", np.stack([0 * x, U.BROW_INNER_UP * np.clip(gi, 0, 1), 0 * x], 1))
    for side in ("Right", "Left"):
        sgn = -1.0 if side == "Right" else 1.0
        g = _gauss(q, (brow_inner[side] + brow_outer[side]) / 2, 0.3) * above_eyes
        put(f"browDown{side}", np.stack([-sgn * 0.02 * g, -U.BROW_DOWN * g, 0 * x], 1))
        go = _gauss(q, brow_outer[side], 0.22) * above_eyes
        put(f"browOuterUp{side}", np.stack([0 * x, U.BROW_OUTER_UP * go, 0 * x], 1))
        cheek = q[M.RIGHT_CHEEK if side == "Right" else M.LEFT_CHEEK]
        puff_c = (cheek + q[corners[0] if side == "Right" else corners[1]]) / 2
        gp = _gauss(q, puff_c, 0.3)
        put("cheekPuff", np.stack([sgn * U.CHEEK_PUFF_OUT * gp, 0 * x, 0.03 * gp], 1))
        gs = _gauss(q, cheek + [0, 0.1, 0], 0.25) * (y < 0)
        put(f"cheekSquint{side}", np.stack([0 * x, U.CHEEK_SQUINT_UP * gs, 0 * x], 1))
        wing = q[M.RIGHT_NOSE_WING if side == "Right" else M.LEFT_NOSE_WING]
        gn = _gauss(q, wing, 0.12)
        put(f"noseSneer{side}", np.stack([0 * x, U.NOSE_SNEER_UP * gn, 0 * x], 1))
    _follow_lip_edges(q, B)
    return B


def coefficients(blendshapes: np.ndarray) -> np.ndarray:
    """(52,) motion values -> (NUM_ROWS,) basis coefficients (mouthClose only undoes an open
    jaw; mouthPress also seals the photo's own lip gap, fully from SEAL_AT on)."""
    c = np.zeros(NUM_ROWS)
    c[:NUM_BLENDSHAPES] = blendshapes
    c[INDEX["mouthClose"]] = min(c[INDEX["mouthClose"]], c[INDEX["jawOpen"]])
    tuck = min(max(c[INDEX["mouthRollLower"]], 0.0) / TUCK_AT, 1.0)
    pucker = max(c[INDEX["mouthPucker"]], 0.0)
    rounded = min(max(c[INDEX["mouthFunnel"]], 0.0) + pucker, 1.0)
    for side in ("Right", "Left"):
        seal = min(max(c[INDEX[f"mouthPress{side}"]], 0.0) / SEAL_AT, 1.0)
        c[ROW[f"seal{side}"]] = seal
        c[ROW[f"tuck{side}"]] = tuck * (1.0 - seal)
        c[ROW[f"round{side}"]] = rounded
        c[ROW[f"cover{side}"]] = min(pucker, 1.0)
    return c


def seal_weight(blendshapes: np.ndarray) -> float:
    """How far mouthPress seals the photo's own lip gap (0..1, the mean of the two sides' `EXTRA`
    rows in `coefficients`)."""
    c = coefficients(blendshapes)
    return float((c[ROW["sealRight"]] + c[ROW["sealLeft"]]) / 2)


@dataclass(frozen=True)
class Rig:
    """Everything the per-frame geometry needs, in the portrait's pixel frame."""

    points: np.ndarray  # (N, 3) rest control points, contract frame in pixels (478 mesh + rings)
    basis: np.ndarray  # (NUM_ROWS, N*3) pixel displacement per unit blendshape, camera frame
    follow: np.ndarray  # (N,) how much each point follows the head (1 face, 0 static)
    pivot: np.ndarray  # (3,) head rotation centre, contract frame, pixels
    iod_px: float  # interocular distance in pixels
    num_mesh: int  # the first num_mesh points are the face mesh (478)
    edge_dz: np.ndarray  # (num_mesh,) pixels: depth change that grades the step at the contour
    outward: np.ndarray  # (num_mesh, 2) unit image direction of each mesh point from the oval centre

    def with_tuck(self, share: float) -> "Rig":
        """This rig with mouthRollLower's tucked lower lip rising `share` (0..1) of the photo's
        own lip gap (an open photo: to where its upper teeth end) instead of TUCK_SHARE."""
        basis = self.basis.copy()
        basis[[ROW["tuckRight"], ROW["tuckLeft"]]] *= share / TUCK_SHARE
        return replace(self, basis=basis)

    def positions(self, blendshapes: np.ndarray, rotation_deg: np.ndarray,
                  translation_m: np.ndarray) -> np.ndarray:
        """(N, 2) image positions (u, v) of every control point for one motion frame."""
        return self.positions_depth(blendshapes, rotation_deg, translation_m)[0]

    def pose_linear(self, rotation_deg: np.ndarray, translation_m: np.ndarray) -> np.ndarray:
        """(2, 2) the head pose's in-plane part, image axes (u, v): how a rigid surface facing
        the camera (one depth) that follows the head is turned, foreshortened and scaled, the
        rotation's image block times the weak perspective of translation z (`positions_depth`).
        Its translation depends on the surface's depth; this part does not."""
        rot = euler_to_matrix(np.asarray(rotation_deg, np.float64))
        s = self._perspective(translation_m)[1]
        return s * np.array([[rot[0, 0], -rot[0, 1]], [-rot[1, 0], rot[1, 1]]])

    def _perspective(self, translation_m: np.ndarray) -> tuple[np.ndarray, float]:
        """(head translation in pixels, the weak perspective's scale about the pivot): closer
        (translation z) is bigger."""
        t = np.asarray(translation_m, np.float64) / U.IOD_M * self.iod_px  # metres -> pixels
        d0 = U.CAMERA_DISTANCE_M / U.IOD_M * self.iod_px
        return t, d0 / max(d0 - t[2], 1e-3 * d0)

    def positions_depth(self, blendshapes: np.ndarray, rotation_deg: np.ndarray,
                        translation_m: np.ndarray, idx: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) image positions (u, v) and (N,) depth (pixels, larger = nearer the camera) of
        every control point for one motion frame (or of the mesh points `idx` only). The depth
        orders surfaces where the turned mesh folds over itself (the nose over the cheek or
        the upper lip)."""
        c = coefficients(blendshapes)
        nz = np.flatnonzero(c)
        p = self.points if idx is None else self.points[idx]
        follow = self.follow if idx is None else self.follow[idx]
        if nz.size:
            b = self.basis[nz]
            if idx is not None:
                b = b.reshape(len(nz), -1, 3)[:, idx]
            p = p + (c[nz] @ b.reshape(len(nz), -1)).reshape(-1, 3)
        rot = euler_to_matrix(np.asarray(rotation_deg, np.float64))
        moved = (p - self.pivot) @ rot.T + self.pivot
        # head_translation z: closer is bigger, about the pivot (weak perspective).
        t, s = self._perspective(translation_m)
        moved[:, :2] = (moved[:, :2] - self.pivot[:2]) * s + self.pivot[:2] + t[:2]
        out = p + follow[:, None] * (moved - p)
        uv = np.stack([out[:, 0], -out[:, 1]], axis=1)  # contract -> (u, v)
        z = out[:, 2]
        # Near side of a turn: the mesh points at the contour move with the contour's depth
        # (`soften_edge_depth`), so the skin edge they carry stays continuous. A point's image
        # motion per pixel of depth is s * (R[0, 2], -R[1, 2]); the near side is where that
        # motion points inwards. (The far side keeps the raw depth: `Silhouette.slide`.)
        per_depth = s * np.array([rot[0, 2], -rot[1, 2]])
        norm = float(np.hypot(*per_depth))
        if norm > 1e-9:
            n = self.num_mesh if idx is None else len(idx)  # `idx`: mesh points only
            outward = self.outward if idx is None else self.outward[idx]
            edge_dz = self.edge_dz if idx is None else self.edge_dz[idx]
            # full where the outward direction is within ~40 deg of inwards motion, none at 75
            near = _smooth(-2.0 * (outward @ (per_depth / norm)) - 0.5)  # (n,)
            dz = near * edge_dz
            uv[:n] += dz[:, None] * per_depth
            z[:n] += dz * rot[2, 2]
        return uv, z


def build_rig(landmarks: np.ndarray, rest_rotation_deg: np.ndarray, image_size: tuple[int, int],
              frontal: np.ndarray) -> Rig:
    """Make the rig of one portrait.

    landmarks: (478, 3) pixels; rest_rotation_deg: the photo's head pose vs the canonical face;
    frontal: (478, 3) the frontalised mesh (IOD units) from `solver.measure(...).points`.
    """
    w, h = image_size
    p_mesh = M.to_points3d(landmarks)
    iod = M.interocular(p_mesh)
    r0 = euler_to_matrix(np.asarray(rest_rotation_deg, np.float64))
    r_eye, l_eye = M.eye_centres(p_mesh)
    centre = (r_eye + l_eye) / 2
    # Real face depth (units.LANDMARK_DEPTH_SCALE), about the eyes (their centre stays), along
    # the camera axis so that the rest positions stay exactly the photo's.
    p_mesh = deepen(p_mesh, U.LANDMARK_DEPTH_SCALE)
    edge_dz = EDGE_DEPTH_SHARE * (soften_edge_depth(p_mesh, np.array(M.FACE_OVAL),
                                                    EDGE_DEPTH_BAND * iod) - p_mesh[:, 2])
    basis_face = build_basis(frontal)  # (NUM_ROWS, 478, 3) face frame, IOD
    basis_mesh = iod * basis_face @ r0.T  # camera frame, pixels
    oval = np.array(M.FACE_OVAL)
    oc = p_mesh[oval].mean(0)
    chin_v = p_mesh[M.CHIN, 1]
    rings, follow, ring_basis = [], [], []
    for k, (scale, neck_w, expr) in enumerate(zip(RING_SCALES, NECK_WEIGHTS, RING_EXPRESSION)):
        r = oc + (p_mesh[oval] - oc) * [scale, scale, 1.0]
        r[:, 2] = p_mesh[oval, 2] - (scale - 1.0) * 1.2 * iod  # the head recedes behind the oval
        below_chin = _smooth((chin_v - r[:, 1]) / (0.4 * iod) + 0.5) * (r[:, 1] < oc[1])
        follow.append(1.0 - (1.0 - neck_w) * below_chin)
        rings.append(r)
        ring_basis.append(expr * basis_mesh[:, oval, :])
    static = oc + (p_mesh[oval] - oc) * [STATIC_RING, STATIC_RING, 1.0]
    border = []
    for t in np.linspace(0, 1, 9)[:-1]:
        border += [(t * w, 0), (w, t * h), (w - t * w, h), (0, h - t * h)]
    border = np.array([(u, -v, 0.0) for u, v in border])
    # Static ring points outside the picture are dropped (the border holds the edge).
    static = static[(static[:, 0] > 2) & (static[:, 0] < w - 2) & (-static[:, 1] > 2)
                    & (-static[:, 1] < h - 2)]
    points = np.concatenate([p_mesh] + rings + [static, border])
    n_static = len(static) + len(border)
    follow_all = np.concatenate([np.ones(len(p_mesh))] + follow + [np.zeros(n_static)])
    basis = np.concatenate([basis_mesh] + ring_basis
                           + [np.zeros((NUM_ROWS, n_static, 3))], axis=1)
    pivot = centre + iod * (r0 @ PIVOT)
    outward = p_mesh[:, :2] - oc[:2]
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-9)
    outward[:, 1] *= -1  # contract (x, y up) -> image (u, v down)
    return Rig(points=points, basis=basis.reshape(NUM_ROWS, -1), follow=follow_all,
               pivot=pivot, iod_px=iod, num_mesh=len(p_mesh), edge_dz=edge_dz, outward=outward)


@dataclass(frozen=True)
class Silhouette:
    """Keeps the face contour on the turned face's silhouette (`slide`).

    mediapipe's contour points (the face oval) lie on the photo's silhouette, which on a real
    head is a line, not a fixed place on the skin: turned away, the cheek in front of them
    becomes the new silhouette and they pass behind it. In a 2D warp that is a fold at the
    edge: the band of skin between the contour and the cheek turns over, and the rings (hair,
    ear, background) start under the cheek, so the edge showed skin and hair in ragged steps.
    Here each contour point is pushed out to the silhouette instead (the outermost mesh point
    near it, along the contour's outward normal), and the rings beyond it follow, less with
    distance: the skin at the edge is compressed into a smooth contour, the hair and background
    beyond are stretched over what the cheek uncovered, and nothing folds there.
    """

    oval: np.ndarray  # (C,) indices of the contour points, in order around the face
    rings: np.ndarray  # (R, C) indices of the ring points beyond each contour point
    ring_share: np.ndarray  # (R,) how much of the contour's push each ring takes
    neighbours: np.ndarray  # (C, K) mesh points near each contour point (padded by repeats)
    floor: np.ndarray  # (C,) pixels: how far out the neighbours reach at rest (>= 0)

    def extent(self, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(C,) how far beyond each contour point its neighbours reach (pixels, along (C, 2)
        the outward unit normals of the contour), for positions uv (N, 2)."""
        o = uv[self.oval]  # (C, 2)
        tangent = np.roll(o, -1, axis=0) - np.roll(o, 1, axis=0)
        normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        normal *= np.sign(np.sum(normal * (o - o.mean(0)), axis=1, keepdims=True) + 1e-12)
        reach = np.einsum("ckd,cd->ck", uv[self.neighbours] - o[:, None], normal).max(1)
        return reach, normal

    def slide(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) positions with the contour pushed out to the silhouette (a copy when it
        moves; zero push at rest and wherever nothing overhangs the contour)."""
        reach, normal = self.extent(uv)
        push = np.maximum(reach - self.floor, 0.0)  # (C,) pixels
        if not push.any():
            return uv
        uv = uv.copy()
        shift = push[:, None] * normal  # (C, 2)
        uv[self.oval] += shift
        for idx, share in zip(self.rings, self.ring_share):
            uv[idx] += share * shift
        return uv


def build_silhouette(rig: Rig, rest_uv: np.ndarray, radius_iod: float = 0.35) -> Silhouette:
    """The contour and its neighbourhoods on the rest positions (N, 2) of `rig`."""
    oval = np.array(M.FACE_OVAL)
    c = len(oval)
    n = rig.num_mesh
    rings = n + np.arange(len(RING_SCALES) * c).reshape(len(RING_SCALES), c)
    mesh = rest_uv[:n]
    d = np.linalg.norm(mesh[None] - rest_uv[oval][:, None], axis=2)  # (C, n)
    near = d < radius_iod * rig.iod_px
    near[np.arange(c), oval] = False
    k = max(int(near.sum(1).max()), 1)
    neighbours = np.empty((c, k), np.int64)
    for i in range(c):
        idx = np.flatnonzero(near[i])
        if idx.size == 0:
            idx = np.array([oval[i]])
        neighbours[i] = np.resize(idx, k)
    # Ring 1 sits only 0.2 oval radii out and the push reaches 0.2 IOD at 20 degrees of yaw:
    # it moves as much as the contour, the outer rings less, so the band beyond stays ordered.
    share = np.array([1.0, 0.6, 0.3])[:len(RING_SCALES)]
    sil = Silhouette(oval, rings, share, neighbours, np.zeros(c))
    reach, _ = sil.extent(rest_uv)
    # Pushed only past what already reaches beyond the contour at rest (the photo's own
    # overhang): nothing moves at rest, and the push grows from zero with the turn.
    return Silhouette(oval, rings, share, neighbours, np.maximum(reach, 0.0))
