"""CPU renderer on the astronaut: identity at rest, stability, output formats, refusals."""

import numpy as np
import pytest
import skimage.data

from vasa_bridge.errors import RenderError
from vasa_bridge.face import PortraitConfig, mesh as M
from vasa_bridge.motion import MotionFrame, MotionTrack
from vasa_bridge.render import RenderConfig, get_backend, render_track


@pytest.fixture(scope="module")
def cpu():
    backend = get_backend("cpu")
    return backend, backend.prepare(skimage.data.astronaut())


def _psnr(a, b, mask):
    err = ((a.astype(float) - b.astype(float)) ** 2)[mask].mean()
    return 10 * np.log10(255.0 ** 2 / max(err, 1e-12))


def _face_mask(state):
    import cv2
    lm = state.portrait.landmarks
    m = np.zeros(state.portrait.image.shape[:2], np.uint8)
    cv2.fillConvexPoly(m, cv2.convexHull(lm[:468, :2].astype(np.float32)).astype(np.int32), 1)
    return m.astype(bool)


def test_rest_reproduces_the_photo_exactly(cpu):
    backend, state = cpu
    out = backend.render(state, MotionFrame.neutral())
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    assert np.array_equal(out, state.portrait.image)


def test_tiny_motion_is_identity_inside_the_face(cpu):
    """The whole warp + layers path with all shapes ~0 (not the rest shortcut)."""
    backend, state = cpu
    frame = MotionFrame.from_named({"jawOpen": 1e-4}, head_rotation=(0, 1e-4, 0))
    out = backend.render(state, frame)
    assert _psnr(out, state.portrait.image, _face_mask(state)) >= 35.0


def test_rest_frames_are_identical_and_frames_independent(cpu):
    backend, state = cpu
    a = backend.render(state, MotionFrame.from_named({"jawOpen": 0.5}))
    backend.render(state, MotionFrame.from_named({}, head_rotation=(0, 15, 0)))
    b = backend.render(state, MotionFrame.from_named({"jawOpen": 0.5}))
    assert np.array_equal(a, b)
    r1 = backend.render(state, MotionFrame.neutral())
    r2 = backend.render(state, MotionFrame.neutral(time=3.0))
    assert np.array_equal(r1, r2)


@pytest.mark.parametrize("channel,values", [
    ("jawOpen", np.linspace(0, 1, 41)),
    ("eyeBlinkLeft", np.linspace(0, 1, 41)),
    ("yaw", np.linspace(-20, 20, 41)),
])
def test_smooth_sweeps_have_no_pops(cpu, channel, values):
    """Frame-to-frame change stays close to the sweep's typical step: no frame jumps."""
    backend, state = cpu
    frames = []
    for v in values:
        if channel == "yaw":
            f = MotionFrame.from_named({}, head_rotation=(0, v, 0))
        else:
            f = MotionFrame.from_named({channel: v})
        frames.append(backend.render(state, f).astype(np.float32))
    steps = np.array([np.abs(b - a).mean() for a, b in zip(frames, frames[1:])])
    assert steps.max() <= 3.0 * np.median(steps) + 0.05, steps.round(3)


def test_motion_is_where_it_should_be(cpu):
    backend, state = cpu
    img = state.portrait.image.astype(np.float32)
    lm = state.portrait.landmarks
    jaw = backend.render(state, MotionFrame.from_named({"jawOpen": 1.0})).astype(np.float32)
    diff = np.abs(jaw - img).mean(2)
    chin_v = int(lm[M.CHIN, 1])
    eye_v = int(lm[M.RIGHT_EYE_OUTER, 1])
    assert diff[chin_v - 20:chin_v + 10].mean() > 5 * diff[eye_v - 10:eye_v + 10].mean()
    assert diff[:40].max() == 0  # the background above the head does not move
    # The mouth opening is dark inside (the cavity), not stretched lips.
    mu, mv = lm[[M.LIP_UPPER_INNER_MID, M.LIP_LOWER_INNER_MID], :2].mean(0)
    inner = jaw[int(mv) + 5:int(mv) + 12, int(mu) - 5:int(mu) + 5].mean()
    assert inner < 0.6 * img[int(mv) - 40:int(mv) - 30, int(mu) - 5:int(mu) + 5].mean()
    blink = backend.render(state, MotionFrame.from_named({"eyeBlinkLeft": 1.0})).astype(np.float32)
    iris = lm[M.LEFT_IRIS[0], :2].astype(int)
    patch = (slice(iris[1] - 2, iris[1] + 3), slice(iris[0] - 2, iris[0] + 3))
    # The dark iris is covered by (lighter) lid skin; the other eye is untouched.
    assert blink[patch].mean() > img[patch].mean() + 20
    other = lm[M.RIGHT_IRIS[0], :2].astype(int)
    assert np.abs(blink[other[1], other[0]] - img[other[1], other[0]]).max() == 0


def test_rgba_output_and_track(cpu):
    backend = get_backend("cpu", RenderConfig(alpha=True))
    state = backend.prepare(skimage.data.astronaut())
    out = backend.render(state, MotionFrame.from_named({}, head_rotation=(0, 10, 0)))
    assert out.shape == (512, 512, 4)
    assert out[5, 5, 3] < 30 and out[int(state.portrait.landmarks[1, 1]), 256, 3] > 240
    track = MotionTrack(np.zeros((3, 52)), np.zeros((3, 3)), np.zeros((3, 3)), fps=25)
    frames = list(render_track(backend, state, track))
    assert len(frames) == 3 and all(f.shape == (512, 512, 4) for f in frames)


@pytest.mark.parametrize("size", [256, 1024])
def test_other_sizes(size):
    backend = get_backend("cpu")
    state = backend.prepare(skimage.data.astronaut(), PortraitConfig(size=size))
    out = backend.render(state, MotionFrame.from_named({"jawOpen": 0.6},
                                                       head_rotation=(5, 10, 0)))
    assert out.shape == (size, size, 3)


def test_refusals(cpu):
    backend, state = cpu
    with pytest.raises(RenderError, match="expected 64..1024"):
        PortraitConfig(size=2048)
    with pytest.raises(RenderError, match="multiple of 8"):
        backend.prepare(skimage.data.astronaut(), PortraitConfig(size=300))
    with pytest.raises(RenderError, match="unknown render backend"):
        get_backend("vulkan")
    from dataclasses import replace
    with pytest.raises(RenderError, match="prepared by 'other'"):
        backend.render(replace(state, backend="other"), MotionFrame.neutral())


@pytest.mark.parametrize("euler", [(20, 0, 0), (-20, 0, 0), (0, 20, 0), (0, -20, 0)])
def test_solver_reads_the_rigs_own_geometry(cpu, euler):
    """No detector: the rig's turned 3D mesh, reported with mediapipe's flatter depth, comes back
    as the commanded rotation (rig and solver agree on the face's depth)."""
    from vasa_bridge.face import calibrate, solve
    from vasa_bridge.face import units as U
    from vasa_bridge.face.solver import deepen

    import dataclasses

    _, state = cpu
    # The near-side edge grading (`Rig.edge_dz`) is deliberately not a rigid motion: off here.
    rig = dataclasses.replace(state.cache.rig, edge_dz=np.zeros(state.cache.rig.num_mesh))
    n = rig.num_mesh

    def landmarks(rot):
        uv, z = rig.positions_depth(np.zeros(52), np.asarray(rot, float), np.zeros(3))
        p = np.stack([uv[:n, 0], -uv[:n, 1], z[:n]], axis=1)  # contract frame, real depth
        return M.to_pixels(deepen(p, 1.0 / U.LANDMARK_DEPTH_SCALE))

    ref = calibrate(landmarks((0, 0, 0)), state.size)
    got = solve(landmarks(euler), state.size, ref).head_rotation
    assert np.abs(got - euler).max() < 0.2, got


def test_near_side_edge_moves_with_the_contour(cpu):
    """Yaw 20: on the near side, mesh points next to the contour (which the face mesh puts up
    to 0.4 IOD deeper at the same place) move with it, so the skin edge stays continuous; the
    far side is left to the silhouette slide (unchanged)."""
    import dataclasses

    _, state = cpu
    rig = state.cache.rig
    raw = dataclasses.replace(rig, edge_dz=np.zeros(rig.num_mesh))
    rest = state.cache.rest_uv
    oval = np.array(M.FACE_OVAL)
    for yaw in (-20.0, 20.0):
        rot = np.array([0.0, yaw, 0.0])
        uv, uv_raw = (r.positions(np.zeros(52), rot, np.zeros(3)) for r in (rig, raw))
        near_side = np.sign(rest[:rig.num_mesh, 0] - rest[oval, 0].mean()) == -np.sign(yaw)
        d = np.linalg.norm(rest[:rig.num_mesh, None] - rest[oval][None], axis=2)  # (n, C)
        band = np.flatnonzero((d.min(1) < 0.06 * rig.iod_px) & (d.min(1) > 0) & near_side)
        assert band.size >= 3
        closest = oval[np.argmin(d[band], axis=1)]
        def spread(p):  # how far the band points move apart from their contour point (pixels)
            return np.abs((p[band] - rest[band]) - (p[closest] - rest[closest]))[:, 0].max()
        assert spread(uv) < 0.7 * spread(uv_raw), (yaw, spread(uv), spread(uv_raw))
        far = np.flatnonzero(~near_side & (np.abs(rest[:rig.num_mesh, 1]
                                                  - rest[oval, 1].mean()) < rig.iod_px))
        assert np.allclose(uv[far], uv_raw[far])


def test_folds_show_the_nearer_surface():
    """Two layers over the same pixels: the z-buffer picks the nearer one's source."""
    from scipy.sparse import csr_matrix

    from vasa_bridge.render.warp import WarpGrid, resolve_folds

    rest = np.array([[10, 10], [30, 10], [10, 30],  # layer A: stays
                     [40, 10], [60, 10], [40, 30]], float)  # layer B: flips over A
    now = rest.copy()
    now[3:] = [[10, 10], [10, 30], [30, 10]]
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    grid = WarpGrid(4, (16, 16), np.zeros((16, 16, 2), np.float32), csr_matrix((256, 6)), tris)
    node = 3 * 16 + 3  # (13.5, 13.5) in pixels: inside both layers
    for depth, want in ((np.array([0, 0, 0, 5, 5, 5.0]), "B"), (np.array([5, 5, 5, 0, 0, 0.0]), "A")):
        nodes, src = resolve_folds(grid, tris, rest, now, depth, margin=2.0)
        s = src[list(nodes).index(node)]
        if want == "A":
            assert np.allclose(s, [13.5, 13.5])  # A did not move
        else:  # B's affine map: (10,10)->(40,10), (10,30)->(60,10), (30,10)->(40,30)
            assert np.allclose(s, [40 + 3.5, 10 + 3.5])
    assert resolve_folds(grid, tris, rest, rest, depth, margin=2.0) is None  # nothing folds


@pytest.mark.parametrize("yaw", [-20.0, 20.0])
def test_turned_contour_stays_on_the_silhouette(cpu, yaw):
    """Turned away, the cheek overhangs mediapipe's contour points; `Silhouette.slide` pushes
    them (and the rings) out to the edge, so no triangle at the contour folds (a fold there
    showed skin and hair in ragged steps along the far cheek). Nothing moves at rest."""
    from vasa_bridge.render.warp import fold_triangles

    _, state = cpu
    prep = state.cache
    sil = prep.silhouette
    assert sil.slide(prep.rest_uv) is prep.rest_uv
    uv = prep.rig.positions(np.zeros(52), np.array([0.0, yaw, 0.0]), np.zeros(3))
    slid = sil.slide(uv)
    edge = np.r_[sil.oval, sil.rings[0]]

    def edge_folds(p):
        t = prep.head_triangles[fold_triangles(prep.head_triangles, prep.rest_uv, p)]
        return int(np.isin(t, edge).any(1).sum())

    before, after = edge_folds(uv), edge_folds(slid)
    assert before >= 5 and after <= before // 2, (before, after)
    reach, _ = sil.extent(slid)
    # Every contour point on or beyond its neighbours (one pass: the contour's normals turn a
    # little as it moves, so within 0.02 IOD).
    assert (reach <= sil.floor + 0.02 * prep.rig.iod_px).all(), reach - sil.floor


def test_a_cached_warp_grid_renders_the_same_without_triangulating(tmp_path, monkeypatch):
    from vasa_bridge.render import cpu as C
    photo = skimage.data.astronaut()
    config = PortraitConfig(size=256)
    frame = MotionFrame(np.full(52, 0.3), np.array([4.0, -8.0, 2.0]), np.zeros(3), 0.0)
    plain = get_backend("cpu", RenderConfig())
    cached = get_backend("cpu", RenderConfig(cache_dir=str(tmp_path)))
    want = plain.render(plain.prepare(photo, config), frame)
    first = cached.render(cached.prepare(photo, config), frame)  # builds and keeps the grid
    assert len(list(tmp_path.glob("grid-*.npz"))) == 1

    def no_triangulation(*a, **k):
        raise AssertionError("the grid should have come from the cache")
    monkeypatch.setattr(C, "make_grid", no_triangulation)
    again = cached.render(cached.prepare(photo, config), frame)
    np.testing.assert_array_equal(first, want)
    np.testing.assert_array_equal(again, want)
    tmp_path.joinpath(next(tmp_path.glob("grid-*.npz")).name).write_bytes(b"broken")
    monkeypatch.undo()
    np.testing.assert_array_equal(cached.render(cached.prepare(photo, config), frame), want)
