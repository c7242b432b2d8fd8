"""The geometric solver on landmarks moved by known amounts (no rendering involved)."""

import numpy as np
import pytest
import skimage.data

from vasa_bridge.errors import FaceNotFoundError
from vasa_bridge.face import calibrate, detect_faces, measure, mesh as M, solve, units as U
from vasa_bridge.face.canonical import mirror_pairs
from vasa_bridge.face.solver import SolverConfig, canonical_face, deepen
from vasa_bridge.motion.conversions import euler_to_matrix

SIZE = (512, 512)


@pytest.fixture(scope="module")
def rest():
    return detect_faces(skimage.data.astronaut())[0].landmarks


def _rotate(landmarks, euler, pivot_depth=60.0):
    """Rotate pixel landmarks rigidly about a point behind the eyes; orthographic projection.

    The face turned is as deep as a real one (mediapipe's depth times LANDMARK_DEPTH_SCALE), and
    the depth is reported back flattened again, as the face mesh would.
    """
    p = deepen(M.to_points3d(landmarks), U.LANDMARK_DEPTH_SCALE)
    r, l = M.eye_centres(p)
    pivot = (r + l) / 2 - [0, 0, pivot_depth]
    q = (p - pivot) @ euler_to_matrix(np.asarray(euler, float)).T + pivot
    return M.to_pixels(deepen(q, 1.0 / U.LANDMARK_DEPTH_SCALE))


def _move(landmarks, indices, dy_iod=0.0, dx_iod=0.0):
    out = landmarks.copy()
    iod = M.interocular(M.to_points3d(landmarks))
    out[list(indices), 1] -= dy_iod * iod  # image v grows downwards
    out[list(indices), 0] += dx_iod * iod
    return out


def test_calibrated_rest_is_zero(rest):
    ref = calibrate(rest, SIZE)
    f = solve(rest, SIZE, ref)
    assert np.abs(f.head_rotation).max() < 1e-3
    assert np.abs(f.head_translation).max() < 1e-6
    assert f.blendshapes.max() < 1e-4


@pytest.mark.parametrize("euler", [(0, 20, 0), (0, -20, 0), (15, 0, 0), (-15, 0, 0), (0, 0, 20),
                                   (10, -12, 8)])
@pytest.mark.parametrize("pose", ["3d", "pnp"])
def test_head_pose_recovers_rotation(rest, euler, pose):
    cfg = SolverConfig(pose=pose)
    ref = calibrate(rest, SIZE, cfg)
    got = solve(_rotate(rest, euler), SIZE, ref, cfg).head_rotation
    assert np.abs(got - euler).max() < (0.01 if pose == "3d" else 1.0), (euler, got)


def test_3d_pose_reads_the_depth_when_image_points_lag(rest):
    """The face mesh places untextured points (nose bridge, forehead, contour) near a frontal
    prior while its depth follows the pose. With the image motion of those points halved, the 3D
    fit still reads most of a 15 degree pitch (~11); image-only PnP reads about half (~7)."""
    ref3, refp = calibrate(rest, SIZE), calibrate(rest, SIZE, SolverConfig(pose="pnp"))
    turned = _rotate(rest, (15, 0, 0))
    lag = [i for i in M.RIGID if i not in (33, 133, 263, 362)]
    seen = turned.copy()
    seen[lag, :2] = (rest[lag, :2] + turned[lag, :2]) / 2  # image motion halved, depth kept
    r, l = M.eye_centres(turned)
    r0, l0 = M.eye_centres(rest)
    seen[lag, :2] += ((r + l) / 2 - (r0 + l0) / 2)[:2] / 2  # but the head's shift is all there
    got3 = solve(seen, SIZE, ref3).head_rotation[0]
    gotp = solve(seen, SIZE, refp, SolverConfig(pose="pnp")).head_rotation[0]
    assert got3 > 10 and gotp < 8.5, (got3, gotp)


def test_unknown_pose_mode_is_refused(rest):
    with pytest.raises(ValueError, match="expected '3d' or 'pnp'"):
        measure(rest, SIZE, config=SolverConfig(pose="affine"))


def test_rotation_signs_follow_the_contract(rest):
    ref = calibrate(rest, SIZE)
    nose = M.NOSE_TIP
    turned = _rotate(rest, (0, 20, 0))
    assert turned[nose, 0] > rest[nose, 0]  # yaw > 0: the face turns to the viewer's right
    assert solve(turned, SIZE, ref).head_rotation[1] > 15
    down = _rotate(rest, (15, 0, 0))
    assert down[nose, 1] > rest[nose, 1]  # pitch > 0 looks down: nose moves down the image
    assert solve(down, SIZE, ref).head_rotation[0] > 10


def test_jaw_blink_smile_brow_gaze(rest):
    ref = calibrate(rest, SIZE)
    lower = [i for i in range(468) if rest[i, 1] > rest[M.LIP_LOWER_INNER_MID, 1] - 1]
    jaw = _move(rest, lower, dy_iod=-0.5 * U.JAW_CHIN_DROP)
    assert solve(jaw, SIZE, ref)["jawOpen"] == pytest.approx(0.5, abs=0.05)

    # Close the subject's left eye: its upper lid onto its lower lid.
    closed = rest.copy()
    for up, low in M.LEFT_LID_PAIRS:
        closed[up, :2] = closed[low, :2]
    f = solve(closed, SIZE, ref)
    assert f["eyeBlinkLeft"] > 0.95 and f["eyeBlinkRight"] < 0.05

    smile = _move(rest, [M.MOUTH_LEFT], dy_iod=U.SMILE_LIFT, dx_iod=U.SMILE_OUT)
    f = solve(smile, SIZE, ref)
    assert f["mouthSmileLeft"] > 0.9 and f["mouthSmileRight"] < 0.05

    brows = _move(rest, M.RIGHT_BROW_INNER + M.LEFT_BROW_INNER, dy_iod=0.5 * U.BROW_INNER_UP)
    assert solve(brows, SIZE, ref)["browInnerUp"] == pytest.approx(0.5, abs=0.05)

    eye_w = np.linalg.norm(rest[M.LEFT_EYE_OUTER, :2] - rest[M.LEFT_EYE_INNER, :2])
    iod = M.interocular(M.to_points3d(rest))
    look = _move(rest, M.LEFT_IRIS + M.RIGHT_IRIS, dx_iod=U.GAZE_H * eye_w / iod)
    f = solve(look, SIZE, ref)  # irises move to the viewer's right = the subject's left
    assert f["eyeLookOutLeft"] > 0.9 and f["eyeLookInRight"] > 0.9
    assert f["eyeLookInLeft"] == 0 and f["eyeLookOutRight"] == 0


def test_mouth_width_and_funnel(rest):
    ref = calibrate(rest, SIZE)
    m0 = measure(rest, SIZE, ref.model)
    narrow = _move(_move(rest, [M.MOUTH_LEFT, 291 - 0], dx_iod=-U.FUNNEL_IN), [M.MOUTH_RIGHT],
                   dx_iod=U.FUNNEL_IN)
    m1 = measure(narrow, SIZE, ref.model)
    assert m1.mouth_width == pytest.approx(m0.mouth_width - 2 * U.FUNNEL_IN, abs=0.02)
    opened = _move(_move(narrow, M.LIPS_INNER_UPPER[1:-1], dy_iod=U.FUNNEL_OPEN),
                   M.LIPS_INNER_LOWER[1:-1], dy_iod=-U.FUNNEL_OPEN)
    f = solve(opened, SIZE, ref)
    assert f["mouthFunnel"] > 0.8 and f["mouthPucker"] < 0.2


def test_translation_and_scale(rest):
    ref = calibrate(rest, SIZE)
    iod = M.interocular(M.to_points3d(rest))
    shifted = rest + [iod, 0, 0]  # one interocular distance to the right
    f = solve(shifted, SIZE, ref)
    assert f.head_translation[0] == pytest.approx(U.IOD_M, rel=0.02)
    centre = rest[:, :2].mean(0)
    bigger = rest.copy()
    bigger[:, :2] = (rest[:, :2] - centre) * 1.1 + centre
    bigger[:, 2] *= 1.1
    assert solve(bigger, SIZE, ref).head_translation[2] > 0.04  # closer to the camera


def test_uncalibrated_uses_the_canonical_face(rest):
    f = solve(rest, SIZE)  # the canonical face is built from this very portrait
    assert f.blendshapes.max() < 0.2
    can = canonical_face()
    pairs = mirror_pairs(can)
    mutual = pairs[pairs] == np.arange(len(pairs))
    assert mutual.mean() > 0.95
    assert np.allclose(can[mutual, 0], -can[pairs[mutual], 0], atol=1e-4)  # symmetric in x
    assert np.allclose(can[mutual, 1:], can[pairs[mutual], 1:], atol=1e-4)


def test_bad_landmarks():
    with pytest.raises(FaceNotFoundError, match="expected \\(478, 3\\)"):
        solve(np.zeros((468, 3)), SIZE)
