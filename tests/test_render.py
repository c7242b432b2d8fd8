"""CPU renderer on the astronaut: identity at rest, stability, output formats, refusals."""

import cv2
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
    for depth, want in ((np.array([0, 0, 0, 5, 5, 5.0]), "B"),
                        (np.array([5, 5, 5, 0, 0, 0.0]), "A")):
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
def _inner_rows(img, lm, iod, depth=0.35):
    """Mean luminance of the opening's middle columns, per row from the upper inner lip down."""
    u = int(round(lm[[M.LIP_UPPER_INNER_MID, M.LIP_LOWER_INNER_MID], 0].mean()))
    v0 = int(round(lm[M.LIP_UPPER_INNER_MID, 1]))
    half = max(int(0.08 * iod), 2)
    lum = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return lum[v0:v0 + int(depth * iod), u - half:u + half + 1].mean(1)


@pytest.mark.parametrize("portrait", ["biden", "obama_standing"])
def test_a_closed_mouth_opens_onto_teeth_and_a_shaded_cavity(portrait):
    """A photo with closed lips: opening the jaw shows the synthetic upper teeth just under the
    upper lip (bright, riding the skull: at the same height for jawOpen 0.6 and 0.9) and a
    cavity below them that is darker than the teeth (and than the tongue further down)."""
    from bench.portraits import load

    backend = get_backend("cpu")
    state = backend.prepare(load(portrait))
    iod = state.cache.rig.iod_px
    profiles = []
    for jaw in (0.6, 0.9):
        frame = MotionFrame.from_named({"jawOpen": jaw})
        img = backend.render(state, frame)
        uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
        gap = uv[M.LIP_LOWER_INNER_MID, 1] - uv[M.LIP_UPPER_INNER_MID, 1]
        p = _inner_rows(img, uv[:M.NUM_LANDMARKS], iod, gap / iod)
        teeth = p[:int(0.06 * iod)].max()
        # From the teeth's window down to the lower lip: the cavity, then the tongue's back
        # (at jawOpen 0.6 the cavity is two rows under the teeth and the tongue fills the rest).
        below = p[int(0.06 * iod):int(gap - 0.06 * iod)]
        cavity = below.min()
        tongue = below[int(np.argmin(below)):].max()
        assert below.size >= 2 and teeth > 1.5 * cavity and tongue > 1.5 * cavity, (
            jaw, teeth, below)
        profiles.append(p)
    # The teeth's edge (steepest fall in brightness) is at the same height for both openings.
    edges = [int(np.argmin(np.diff(p[:int(0.12 * iod)]))) for p in profiles]
    assert abs(edges[0] - edges[1]) <= max(1, int(0.02 * iod)), edges


@pytest.mark.parametrize("portrait", ["astronaut", "obama_standing"])
def test_the_drawn_lower_teeth_stand_apart_and_the_tongues_groove_is_faint(portrait):
    """The synthetic lower row, across its middle teeth just under their edge: the gaps between
    teeth darken it to under 0.745 of its brightest (0.68 / 0.72 here; with the gaps at 0.15
    of a tooth, 0.75 / 0.77, the row read as a flat grey band). The tongue's median groove, a
    quarter of the way down its back, is at least 0.85 as bright as the tongue beside it (0.90;
    at 0.3 deep it was 0.81 and read as a line drawn down the tongue)."""
    from bench.portraits import load

    state = get_backend("cpu").prepare(load(portrait))
    mouth, lm = state.cache.mouth, state.portrait.landmarks[:, :2]
    iod = mouth.iod
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    mid = lm[[M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]], 0].mean()
    half = 0.5 * np.linalg.norm(lm[M.MOUTH_LEFT] - lm[M.MOUTH_RIGHT])
    lower = lm[list(M.LIPS_INNER_LOWER)]
    order = np.argsort(lower[:, 0])
    edge = np.interp(mid, lower[order, 0], lower[order, 1]) - 0.015 * iod  # LOWER_OVERBITE
    teeth = mouth.lower_teeth
    y = int(round(edge + 0.03 * iod - teeth.origin[1]))
    x0, x1 = (int(round(v - teeth.origin[0])) for v in (mid - 0.35 * half, mid + 0.35 * half))
    row = teeth.rgb[y, x0:x1] @ lum
    assert teeth.alpha[y, x0:x1].min() > 0.99
    assert row.min() / row.max() < 0.745, row.min() / row.max()
    tongue = mouth.tongue.rgb @ lum
    ty, tx = int(round(0.15 * iod)), int(round(mid - mouth.tongue.origin[0]))
    d = int(0.13 * half)
    groove = tongue[ty, tx] / (0.5 * (tongue[ty, tx - d] + tongue[ty, tx + d]))
    assert groove > 0.85, groove


@pytest.mark.parametrize("portrait", ["biden", "obama_standing"])
def test_the_drawn_lower_row_is_lit_as_teeth_not_a_grey_band(portrait):
    """Photos that hide their teeth: the drawn lower row, facing up into the mouth behind the
    upper teeth, is lit at least 0.62 of the upper row (its brightest teeth: 0.67 here). At
    0.53-0.54 a small opening showed it as a grey band along the lower lip, read as an outline
    drawn round the cavity."""
    from bench.portraits import load

    mouth = get_backend("cpu").prepare(load(portrait)).cache.mouth
    lum = np.array([0.299, 0.587, 0.114], np.float32)

    def lit(sprite):  # its brightest teeth, where it is whole
        return float(np.percentile((sprite.rgb @ lum)[sprite.alpha > 0.99], 90))
    assert lit(mouth.lower_teeth) / lit(mouth.upper_teeth) > 0.62, (
        lit(mouth.lower_teeth), lit(mouth.upper_teeth))


def test_open_photo_teeth_ride_the_skull_when_the_head_turns(cpu):
    """The astronaut shows her upper teeth at rest: turned with no expression, the mouth's
    inside stays the photo's (bright teeth, no synthetic cavity opening up), as a rigid turn."""
    backend, state = cpu
    img = state.portrait.image.astype(np.float32)
    lm = state.portrait.landmarks
    rest_rows = _inner_rows(img, lm, state.cache.rig.iod_px)
    for yaw in (-15.0, 15.0):
        frame = MotionFrame.from_named({}, head_rotation=(0, yaw, 0))
        out = backend.render(state, frame)
        uv = state.cache.rig.positions(frame.blendshapes, frame.head_rotation, np.zeros(3))
        rows = _inner_rows(out, uv[:M.NUM_LANDMARKS], state.cache.rig.iod_px)
        n = min(len(rows), len(rest_rows), int(0.08 * state.cache.rig.iod_px))
        assert np.abs(rows[:n] - rest_rows[:n]).mean() < 25, (yaw, rows[:n], rest_rows[:n])


@pytest.mark.parametrize("portrait", ["obama", "astronaut"])
def test_an_open_photos_teeth_turn_and_nod_as_a_rigid_surface(portrait):
    """Photos that show their teeth, turned (yaw ±20) and nodded (pitch ±15) with no
    expression: inside the opening, the frame is the rest frame's teeth as a rigid arch would
    show them: a surface facing the camera (foreshortened by cos(yaw) across, cos(pitch) down,
    about the opening's centre), each column then moved as the inner upper lip moves there
    beyond that surface (its middle nearer the camera than its corners): normalised correlation
    over 0.9, and at least 0.75 as many bright (teeth) pixels as at rest. The skull's affine
    fitted on the upper lip's two thin rows sheared them (obama 0.27 / 0.29 at yaw ∓20, teeth
    slanted like streaks) and squashed them (-0.02 at pitch 15, 3 % of the bright pixels: a
    dark hole)."""
    from bench.portraits import load

    backend = get_backend("cpu")
    state = backend.prepare(load(portrait))
    rig = state.cache.rig
    lum = np.array([0.299, 0.587, 0.114], np.float32)

    def luma_and_opening(rot):
        frame = MotionFrame.from_named({}, head_rotation=rot)
        img = backend.render(state, frame)[..., :3].astype(np.float32) @ lum
        uv = rig.positions(frame.blendshapes, frame.head_rotation, np.zeros(3))
        ring = uv[list(M.INNER_MOUTH_RING)]
        mask = np.zeros(img.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(ring).astype(np.int32)], 1)
        return img, mask, ring.mean(0)

    def lip(rot):
        return rig.positions(np.zeros(52), np.asarray(rot), np.zeros(3))[list(M.LIPS_INNER_UPPER)]

    rest, rest_mask, rest_centre = luma_and_opening((0.0, 0.0, 0.0))
    rest_bright = (rest[rest_mask > 0] > 150).mean()
    assert rest_bright > 0.5  # teeth fill the opening at rest
    h, w = rest.shape
    for pitch, yaw in ((15.0, 0.0), (-15.0, 0.0), (0.0, 20.0), (0.0, -20.0)):
        img, mask, centre = luma_and_opening((pitch, yaw, 0.0))
        linear = np.diag([np.cos(np.radians(yaw)), np.cos(np.radians(pitch))])
        rigid = np.hstack([linear, (centre - linear @ rest_centre)[:, None]])
        now = lip((pitch, yaw, 0.0))
        bend = now - (lip((0.0, 0.0, 0.0)) @ linear.T + rigid[:, 2])
        order = np.argsort(now[:, 0])
        xs = np.arange(w, dtype=np.float64)
        dx, dy = (np.interp(xs, now[order, 0], bend[order, k]) for k in (0, 1))
        inv = cv2.invertAffineTransform(rigid)
        px, py = xs[None, :] - dx[None, :], np.arange(h, dtype=np.float64)[:, None] - dy[None, :]
        want = cv2.remap(rest, (inv[0, 0] * px + inv[0, 1] * py + inv[0, 2]).astype(np.float32),
                         (inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]).astype(np.float32),
                         cv2.INTER_LINEAR)
        core = cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0
        ncc = np.corrcoef(img[core], want[core])[0, 1]
        bright = (img[mask > 0] > 150).mean() / rest_bright
        assert ncc > 0.9 and bright >= 0.75, (pitch, yaw, ncc, bright)


@pytest.mark.parametrize("portrait", ["obama", "astronaut"])
def test_a_turned_open_photo_shows_its_own_mouth_not_the_drawn_one(portrait):
    """Photos that show their teeth, turned, nodded or rolled with no expression: the opening
    holds the photo's own mouth. The drawn inside (cavity, synthetic teeth, tongue) is painted
    pure green here to find it: at most 8 green pixels a frame, 12 over the nine poses (0-4 a
    frame, 4 / 3 in all here, at pitch -15, since the teeth and the interior bend as the inner
    lips' arches do, `pose_bends`; 0-13 a frame before, 26 / 7 over the first seven poses, 12
    and 5 at pitch -15, at pitch 20 and the far corner of a 20° turn; 53 at pitch -15 on obama
    with the upper arch bent alone). The photo's
    interior stopped at its opening and split at its teeth's edge, so a pose moved them a pixel
    or two apart from the opening and from each other: 16-158 green pixels a frame, 453 / 318
    in all (a dashed
    grey line of drawn lower teeth along the lower lip, from pitch 5 on); and a nod changed the
    lip gap on screen, which faded the part below the teeth as if the jaw opened."""
    from bench.portraits import load

    backend = get_backend("cpu")
    state = backend.prepare(load(portrait))
    mouth = state.cache.mouth
    for sprite in (mouth.lower_teeth, mouth.upper_teeth, mouth.tongue):
        sprite.rgb[:] = (0, 255, 0)
    mouth.cavity_deep[:] = (0, 255, 0)
    mouth.cavity_lip[:] = (0, 255, 0)
    counts = []
    for rot in ((5, 0, 0), (10, 0, 0), (20, 0, 0), (-10, 0, 0), (0, 10, 0), (0, -20, 0),
                (0, 0, 10), (-15, 0, 0), (10, -10, 5)):
        out = backend.render(state, MotionFrame.from_named({}, head_rotation=rot))
        rgb = out[..., :3].astype(np.int32)
        counts.append(int((rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2]) > 30).sum()))
    assert max(counts) <= 8 and sum(counts) <= 12, counts
    # and the green is there to find: a jaw opening shows the drawn inside
    opened = backend.render(state, MotionFrame.from_named({"jawOpen": 0.6}))[..., :3]
    assert (opened[..., 1].astype(np.int32) - opened[..., 0] > 30).sum() > 200


@pytest.mark.parametrize("shapes", [
    {"mouthSmileLeft": 0.7, "mouthSmileRight": 0.7},
    {"mouthSmileLeft": 1.0},
    {"mouthUpperUpLeft": 0.5, "mouthUpperUpRight": 0.5},
    {"jawOpen": 0.3, "mouthSmileLeft": 0.6, "mouthSmileRight": 0.6},
])
def test_a_raised_upper_lip_uncovers_the_photos_own_teeth(cpu, shapes, monkeypatch):
    """The astronaut smiling or sneering (her upper lip raised off the teeth she shows at
    rest): under the lip, across the middle of the mouth, the photo's own teeth go on up to it
    about as lit as the photo has them under its lip at rest (9 columns in 10 at 0.88 of it or
    more: 0.89-0.92), apart from the smile's buccal corridors darkening them towards its
    corners (left out here: `BUCCAL_DARK` 0). The layer drew a dashed grey line there (the
    lip's edge over a half-covered edge of the photo's inside, and shadowed synthetic teeth
    where the lip rose): 0.76-0.86."""
    from vasa_bridge.render import mouth

    monkeypatch.setattr(mouth, "BUCCAL_DARK", 0.0)
    backend, state = cpu
    rig = state.cache.rig
    luma = np.array([0.299, 0.587, 0.114])
    frame = MotionFrame.from_named(shapes)
    out = backend.render(state, frame).astype(np.float32) @ luma
    photo = state.portrait.image.astype(np.float32) @ luma

    def lip(blendshapes):
        p = rig.positions(blendshapes, np.zeros(3), np.zeros(3))[list(M.LIPS_INNER_UPPER)]
        order = np.argsort(p[:, 0])
        return lambda x: np.interp(x, p[order, 0], p[order, 1])

    rest, now = lip(np.zeros(52)), lip(frame.blendshapes)
    left, right = state.cache.rest_uv[[M.MOUTH_RIGHT, M.MOUTH_LEFT], 0]
    mid, half = (left + right) / 2, (right - left) / 2
    n = int(round(0.06 * rig.iod_px))  # rows under the lip

    def under(img, edge, x):
        top = int(np.ceil(edge(x))) + 1
        return img[top:top + n, x].mean()

    ratios = [under(out, now, x) / under(photo, rest, x)
              for x in range(int(mid - 0.6 * half), int(mid + 0.6 * half) + 1)]
    assert np.percentile(ratios, 10) >= 0.88, np.round(ratios, 2)


def test_a_smile_starting_does_not_make_the_lips_edge_jump(cpu):
    """The astronaut at jawOpen 0.2, her smile going 0.005 -> 0.01 (the lip rising by a fraction
    of a pixel): a few pixels change by more than 5 levels (8), as for any small step. The
    opaque stretch under a raised lip switched on at once there: 67 pixels along the lip."""
    backend, state = cpu

    def frame(smile):
        return backend.render(state, MotionFrame.from_named(
            {"mouthSmileLeft": smile, "mouthSmileRight": smile, "jawOpen": 0.2})).astype(float)

    jump = np.abs(frame(0.01) - frame(0.005)).max(2)
    assert (jump > 5).sum() < 20, (jump > 5).sum()


def test_press_seals_an_open_photo_and_roll_puts_teeth_on_the_lower_lip(cpu):
    """mouthPress closes the astronaut's parted lips (the opening's area goes to ~0);
    mouthRollLower brings the upper teeth down over the top of a closed photo's lower lip
    (biden), and raises an open photo's lower lip up to where its teeth end (obama's /f/, the
    viseme FF: the lower third of the opening's middle is tooth, at least 0.75 as bright as the
    brightest there; 0.38 when the lip stayed below them, a dark crescent under the teeth)."""
    from bench.portraits import load
    from vasa_bridge.data.visemes import SHAPES
    from vasa_bridge.render.warp import _signed_area2

    backend, state = cpu
    rig = state.cache.rig
    ring = list(M.INNER_MOUTH_RING)

    def area(shapes):
        uv = rig.positions(MotionFrame.from_named(shapes).blendshapes, np.zeros(3), np.zeros(3))
        p = uv[ring]
        return abs(float(_signed_area2(p[:1].repeat(len(p) - 2, 0), p[1:-1], p[2:]).sum()) / 2)

    rest = area({})
    assert rest > 50
    assert area({"mouthPressLeft": 0.35, "mouthPressRight": 0.35}) < 0.05 * rest
    state = backend.prepare(load("biden"))
    rig = state.cache.rig
    img = state.portrait.image.astype(np.float32)
    roll = backend.render(state, MotionFrame.from_named({"mouthRollLower": 1.0})).astype(float)
    uv = rig.positions(MotionFrame.from_named({"mouthRollLower": 1.0}).blendshapes, np.zeros(3),
                       np.zeros(3))
    u, v = np.round(uv[M.LIP_LOWER_INNER_MID]).astype(int)
    # Just below the lower lip's inner edge: red lip at rest, (less red) tooth enamel when rolled.
    band = (slice(v + 1, v + 3), slice(u - 4, u + 5))

    def redness(a):
        return float((a[band][..., 0] - a[band][..., 2]).mean())

    assert redness(roll) < redness(img) - 10, (redness(roll), redness(img))

    state = backend.prepare(load("obama"))
    frame = MotionFrame.from_named(dict(SHAPES["FF"].targets))
    lum = backend.render(state, frame)[..., :3].astype(np.float32) @ np.array(
        [0.299, 0.587, 0.114], np.float32)
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    u = int(round(uv[M.LIP_UPPER_INNER_MID, 0]))
    top, bottom = uv[M.LIP_UPPER_INNER_MID, 1], uv[M.LIP_LOWER_INNER_MID, 1]
    column = lum[int(np.ceil(top)):int(np.floor(bottom)) + 1, u - 3:u + 4].mean(1)
    lower = column[-max(len(column) // 3, 2):]
    assert lower.min() > 0.75 * column.max(), column.round()


def test_positions_of_a_subset_match_the_full_rig(cpu):
    _, state = cpu
    rig = state.cache.rig
    idx = np.array([13, 14, 61, 152, 234, 454])
    f = MotionFrame.from_named({"jawOpen": 0.5, "mouthSmileLeft": 0.7}, head_rotation=(5, 18, -4))
    full = rig.positions_depth(f.blendshapes, f.head_rotation, np.array([0.01, 0, 0.05]))
    part = rig.positions_depth(f.blendshapes, f.head_rotation, np.array([0.01, 0, 0.05]), idx)
    assert np.allclose(full[0][idx], part[0]) and np.allclose(full[1][idx], part[1])


def test_what_rides_the_jaw_stays_on_the_lower_lip_as_the_head_turns(cpu):
    """Head pose alone (pitch +-16, yaw 20 degrees), the jaw's affine (what the photo's inside
    below its upper teeth and the drawn lower teeth ride) takes the rest inner lower lip to
    within 2 px RMS of where the rig puts it: 1.2-1.5 px. Posed as the chin's points were, it
    was 3.6-4.4 px off, the inside slid against the lip, and the face mesh read the pitch
    sweep 0.4 degrees worse (docs/renderer.md). With the jaw open too it still moves the lip's
    middle down with the jaw."""
    from vasa_bridge.render.mouth import motion_affines

    _, state = cpu
    prep = state.cache
    low = list(M.LIPS_INNER_LOWER[1:-1])
    rest = np.hstack([prep.rest_uv[low], np.ones((len(low), 1))])
    for rot in ((16, 0, 0), (-16, 0, 0), (0, 20, 0)):
        f = MotionFrame.from_named({}, head_rotation=rot)
        _, jaw = motion_affines(prep.rig, prep.rest_uv, f.blendshapes, f.head_rotation,
                                np.zeros(3))
        lip = prep.rig.positions(f.blendshapes, f.head_rotation, np.zeros(3))[low]
        rms = np.sqrt(((rest @ jaw.T - lip) ** 2).sum(1).mean())
        assert rms < 2.0, (rot, rms)
    still = MotionFrame.from_named({}, head_rotation=(16, 0, 0))
    opened = MotionFrame.from_named({"jawOpen": 0.6}, head_rotation=(16, 0, 0))
    mid = rest[low.index(14)]
    (_, a), (_, b) = (motion_affines(prep.rig, prep.rest_uv, f.blendshapes, f.head_rotation,
                                     np.zeros(3)) for f in (still, opened))
    assert (b @ mid)[1] - (a @ mid)[1] > 0.1 * prep.rig.iod_px


def test_sealed_lips_meet_as_lips_not_a_line_of_teeth(cpu):
    """PP on the astronaut (teeth showing at rest): the lips meet, the mouth layer draws nothing
    (no anti-aliased outline of a closed opening), and the warp's copy of the photo has its
    mouth inside filled from the lips, so no teeth are squeezed between the lips."""
    import cv2

    from vasa_bridge.render.mouth import motion_affines

    backend, state = cpu
    prep = state.cache
    frame = MotionFrame.from_named({"mouthPressLeft": 0.35, "mouthPressRight": 0.35})
    uv = prep.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))[:M.NUM_LANDMARKS]
    skull, jaw = motion_affines(prep.rig, prep.rest_uv, frame.blendshapes, np.zeros(3),
                                np.zeros(3))
    img = state.portrait.image.astype(np.float32)
    out = img.copy()
    prep.mouth.draw(out, uv, skull, jaw)
    assert np.array_equal(out, img)
    ring = np.round(state.portrait.landmarks[list(M.INNER_MOUTH_RING), :2]).astype(np.int32)
    inside = cv2.fillPoly(np.zeros(img.shape[:2], np.uint8), [ring], 1).astype(bool)
    near = cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    a = prep.source[..., 3:]
    photo = img - (1 - a) * prep.plate  # the premultiplied photo, as the source would be
    changed = np.abs(prep.source[..., :3] - photo).max(2) > 1
    assert changed[inside].mean() > 0.5 and not changed[~near].any()


@pytest.mark.parametrize("portrait", ["biden", "astronaut"])
def test_a_smile_darkens_the_inside_towards_the_corner_it_draws_back(portrait):
    """Biden (closed lips: the inside is all drawn) and the astronaut (her own teeth showing) at
    jawOpen 0.5 with mouthSmileLeft 0.8, the layer drawn with and without the smile's buccal
    corridors: the outer quarter of the opening on the smiling side (the subject's left, the
    image's right) is darker (0.75 of its luminance without), and so are the teeth in that half
    past 0.3 of it (biden 0.87, the astronaut's own teeth 0.92: they used to keep their light,
    1.0, and ended in a bright edge against the darkened corner); the other half the same."""
    import cv2

    from bench.portraits import load
    from vasa_bridge.render.mouth import motion_affines, smile_sides

    backend = get_backend("cpu")
    state = backend.prepare(load(portrait))
    prep = state.cache
    frame = MotionFrame.from_named({"jawOpen": 0.5, "mouthSmileLeft": 0.8})
    uv = prep.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))[:M.NUM_LANDMARKS]
    skull, jaw = motion_affines(prep.rig, prep.rest_uv, frame.blendshapes, np.zeros(3),
                                np.zeros(3))
    assert smile_sides(frame.blendshapes) == pytest.approx((0.0, 0.8))
    img = state.portrait.image.astype(np.float32)
    plain, smiling = img.copy(), img.copy()
    prep.mouth.draw(plain, uv, skull, jaw)
    prep.mouth.draw(smiling, uv, skull, jaw, smiles=smile_sides(frame.blendshapes))
    ring = np.round(uv[list(M.INNER_MOUTH_RING), :2]).astype(np.int32)
    inside = cv2.fillPoly(np.zeros(img.shape[:2], np.uint8), [ring], 1).astype(bool)
    cx = uv[[M.MOUTH_LEFT, M.MOUTH_RIGHT], 0].mean()
    half = abs(uv[M.MOUTH_LEFT, 0] - uv[M.MOUTH_RIGHT, 0]) / 2
    xs = np.arange(img.shape[1])[None, :]
    outer = inside & (xs > cx + 0.5 * half)
    assert outer.sum() > 20
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    ratio = (smiling[outer] @ lum).mean() / (plain[outer] @ lum).mean()
    assert ratio < 0.8, ratio
    # the teeth there (the photo's own on the astronaut) darken too
    bright = plain @ lum
    teeth = inside & (xs > cx + 0.3 * half) & (bright > 0.6 * bright[inside].max())
    assert teeth.sum() > 10
    shade = (smiling[teeth] @ lum).mean() / (plain[teeth] @ lum).mean()
    assert shade < 0.95, shade
    assert np.array_equal(smiling[:, :int(cx) - 1], plain[:, :int(cx) - 1])


def _seam_ratio(img, uv, iod) -> float:
    """Median over the middle 60 % of the mouth of (darkest luminance within 0.03 IOD of where
    the inner lips meet) / (the lips' 0.06 IOD above and below it)."""
    lum = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    up, lo = uv[list(M.LIPS_INNER_UPPER), :2], uv[list(M.LIPS_INNER_LOWER), :2]
    up, lo = up[np.argsort(up[:, 0])], lo[np.argsort(lo[:, 0])]
    cx = uv[[M.MOUTH_LEFT, M.MOUTH_RIGHT], 0].mean()
    half = abs(uv[M.MOUTH_LEFT, 0] - uv[M.MOUTH_RIGHT, 0]) / 2
    d, o = int(round(0.03 * iod)), int(round(0.06 * iod))
    ratios = []
    for x in range(int(cx - 0.6 * half), int(cx + 0.6 * half) + 1):
        y = int(round(0.5 * (np.interp(x, up[:, 0], up[:, 1]) + np.interp(x, lo[:, 0], lo[:, 1]))))
        ratios.append(lum[y - d:y + d + 1, x].min() / (0.5 * (lum[y - o, x] + lum[y + o, x])))
    return float(np.median(ratios))


@pytest.mark.parametrize("portrait", ["astronaut", "obama"])
def test_sealed_lips_over_a_photo_of_teeth_meet_at_a_seam(portrait):
    """PP on a photo showing its teeth: where the lips meet there is a shadowed seam, as dark
    against the lips as the closed photos' own (biden, obama_standing, donilon and obama_desk:
    0.54-0.67 of the lips' brightness by `_seam_ratio`); the warp alone brings the two lips
    together without one (0.83-0.89). A photo with closed lips keeps its own."""
    from bench.portraits import load
    from vasa_bridge.data.visemes import SHAPES

    backend = get_backend("cpu")
    state = backend.prepare(load(portrait))
    frame = MotionFrame.from_named(SHAPES["PP"].targets)
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    ratio = _seam_ratio(backend.render(state, frame), uv, state.cache.rig.iod_px)
    assert 0.5 < ratio < 0.72, ratio
    closed = backend.prepare(load("biden"))
    assert closed.cache.mouth.interior_upper is None
    uv = closed.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    assert _seam_ratio(backend.render(closed, frame), uv, closed.cache.rig.iod_px) < 0.72


@pytest.mark.parametrize("portrait, floor", [("astronaut", 0.6), ("obama", 0.45)])
def test_a_raised_upper_lip_uncovers_lit_teeth_on_a_photo_of_teeth(portrait, floor):
    """mouthUpperUp on a photo showing its teeth lit right up to the lip: the band the lip
    uncovers (between the raised inner lip and where it lay) shows teeth and gums about as lit
    as the photo's teeth (astronaut 0.72, obama 0.57 of them: the photo's own teeth going on up
    into the gum; 0.66, 0.51 with synthetic crowns and gums), not the lip's shadow (0.50, 0.38
    when the upper lip's shadow fell on them, a dark band above the teeth)."""
    from bench.portraits import load

    backend = get_backend("cpu")
    state = backend.prepare(load(portrait))
    frame = MotionFrame.from_named({"mouthUpperUpLeft": 1.0, "mouthUpperUpRight": 1.0})
    img = backend.render(state, frame)
    w = np.array([0.299, 0.587, 0.114], np.float32)
    lum, photo = img[..., :3].astype(np.float32) @ w, state.portrait.image.astype(np.float32) @ w
    rest = state.portrait.landmarks[:, :2]
    now = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    up_now, up_rest = (p[list(M.LIPS_INNER_UPPER)] for p in (now, rest))
    up_now, up_rest = (p[np.argsort(p[:, 0])] for p in (up_now, up_rest))
    cx = rest[[M.MOUTH_LEFT, M.MOUTH_RIGHT], 0].mean()
    half = abs(rest[M.MOUTH_LEFT, 0] - rest[M.MOUTH_RIGHT, 0]) / 2
    band, teeth = [], []
    for x in range(int(cx - 0.5 * half), int(cx + 0.5 * half) + 1):
        a = np.interp(x, up_now[:, 0], up_now[:, 1])
        b = np.interp(x, up_rest[:, 0], up_rest[:, 1])
        band += [lum[y, x] for y in range(int(np.ceil(a + 0.5)), int(np.floor(b - 0.5)) + 1)]
        teeth.append(photo[int(b) + 2:int(b) + 6, x].mean())
    assert len(band) > 50
    assert np.mean(band) > floor * np.mean(teeth), (np.mean(band), np.mean(teeth))


def test_the_lower_lip_moves_as_a_band_and_the_opening_is_a_lens(cpu):
    """jawOpen 1: the lower lip's red keeps its thickness (within 10%) while it drops by more
    than its own thickness, and the opening narrows towards the corners (a lens, not a box)."""
    _, state = cpu
    rig = state.cache.rig
    rest = state.cache.rest_uv
    uv = rig.positions(MotionFrame.from_named({"jawOpen": 1.0}).blendshapes, np.zeros(3),
                       np.zeros(3))
    thick_rest = rest[M.LIP_LOWER_OUTER_MID, 1] - rest[M.LIP_LOWER_INNER_MID, 1]
    thick = uv[M.LIP_LOWER_OUTER_MID, 1] - uv[M.LIP_LOWER_INNER_MID, 1]
    drop = uv[M.LIP_LOWER_INNER_MID, 1] - rest[M.LIP_LOWER_INNER_MID, 1]
    assert abs(thick - thick_rest) < 0.1 * thick_rest and drop > thick_rest
    lower = list(M.LIPS_INNER_LOWER)
    moved = (uv[lower, 1] - rest[lower, 1])[1:-1]  # corners excluded
    middle = moved[len(moved) // 2]
    assert moved[0] < 0.8 * middle and moved[-1] < 0.8 * middle, moved


def test_a_toned_print_gets_a_mouth_in_its_own_tone():
    """A sepia print (biden's photo made monochrome and toned): the synthetic teeth, tongue and
    cavity take the print's tone (its red/green and blue/green ratios), not a pink tongue and
    red mucosa in a brown picture; the colour photo keeps its colours (the tongue is redder)."""
    import cv2

    from bench.portraits import load

    tone = np.array([1.0, 0.92, 0.78], np.float32)
    photo = load("biden")
    grey = photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    sepia = np.clip(grey[..., None] * tone / (tone @ [0.299, 0.587, 0.114]), 0, 255)
    backend = get_backend("cpu")
    frame = MotionFrame.from_named({"jawOpen": 0.8})
    ratios = []
    for img in (sepia.astype(np.uint8), photo):
        state = backend.prepare(img)
        out = backend.render(state, frame).astype(np.float32)
        uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
        ring = np.round(uv[list(M.INNER_MOUTH_RING)]).astype(np.int32)
        inside = cv2.erode(cv2.fillPoly(np.zeros(out.shape[:2], np.uint8), [ring], 1),
                           np.ones((3, 3), np.uint8)).astype(bool)
        px = out[inside]
        px = px[px[:, 1] > 20]  # ratios of the darkest pixels are rounding noise
        assert len(px) > 50
        ratios.append((np.median(px[:, 0] / px[:, 1]), np.median(px[:, 2] / px[:, 1])))
    (rg, bg), (rg_colour, _) = ratios
    assert abs(rg - tone[0] / tone[1]) < 0.06 and abs(bg - tone[2] / tone[1]) < 0.06, ratios
    assert rg_colour > rg + 0.15, ratios


def test_the_mouth_is_drawn_as_soft_as_the_photo():
    """The photo's blur is measured around the lips: the sharp astronaut gets none added; the
    same photo blurred (sigma 2) is measured near 2 and its drawn mouth is blurred by most of
    it, so crisp synthetic teeth do not sit in a blurred face."""
    import cv2

    from vasa_bridge.render.mouth import extra_blur, photo_blur

    backend = get_backend("cpu")
    sharp = backend.prepare(skimage.data.astronaut())
    soft = backend.prepare(cv2.GaussianBlur(skimage.data.astronaut(), (0, 0), 2.0))
    assert sharp.cache.mouth.soften == 0.0
    outer = soft.portrait.landmarks[list(M.OUTER_MOUTH_RING), :2]
    assert 1.6 < photo_blur(soft.portrait.image, outer) < 2.6
    assert 1.3 < soft.cache.mouth.soften == extra_blur(soft.portrait.image, outer)
    frame = MotionFrame.from_named({"jawOpen": 0.8})
    # The drawn opening's sharpest step (the teeth's edges) is gentler than that of the same
    # layer unblurred, drawn over the same soft frame.
    import dataclasses

    from vasa_bridge.render.mouth import motion_affines

    prep = soft.cache
    uv = prep.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))[:M.NUM_LANDMARKS]
    skull, jaw = motion_affines(prep.rig, prep.rest_uv, frame.blendshapes, np.zeros(3),
                                np.zeros(3))
    base = backend.render(soft, frame).astype(np.float32)
    a, b = base.copy(), base.copy()
    prep.mouth.draw(a, uv, skull, jaw)
    dataclasses.replace(prep.mouth, soften=0.0).draw(b, uv, skull, jaw)
    ring = np.round(uv[list(M.INNER_MOUTH_RING)]).astype(np.int32)
    inside = cv2.fillPoly(np.zeros(a.shape[:2], np.uint8), [ring], 1).astype(bool)

    def steepest(img):
        g = img @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.abs(np.diff(g, axis=0))[inside[1:]].max()

    assert steepest(a) < 0.8 * steepest(b), (steepest(a), steepest(b))


def _with_and_without(monkeypatch, backend, state, frame, **off):
    """(RGB float32 as rendered, RGB float32 with the render.mouth constants `off` set)."""
    from vasa_bridge.render import mouth

    on = backend.render(state, frame)[..., :3].astype(np.float32)
    with monkeypatch.context() as m:
        for name, value in off.items():
            m.setattr(mouth, name, value)
        return on, backend.render(state, frame)[..., :3].astype(np.float32)


def test_a_closed_lip_smile_deepens_the_creases_at_its_corner(monkeypatch):
    """mouthSmileLeft on a closed mouth in a pale beard (dahlgren): the lips' line next to the
    corner it draws back (the image's right) darkens, as a smile's crease does (0.85 of the
    luminance without it); the other corner's half of the mouth is as without it, and a photo
    showing its teeth (whose smile opens to the layer) is untouched. Without the crease the face
    mesh lost the smiling corner in the beard (docs/renderer.md)."""
    from bench.portraits import load

    backend = get_backend("cpu")
    frame = MotionFrame.from_named({"mouthSmileLeft": 1.0})
    state = backend.prepare(load("dahlgren"))
    assert state.cache.mouth.interior_upper is None
    creased, plain = _with_and_without(monkeypatch, backend, state, frame, CREASE_DARK=0.0)
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    w = np.array([0.299, 0.587, 0.114], np.float32)
    ratio = (creased @ w) / np.maximum(plain @ w, 1.0)
    smiling, other = uv[M.MOUTH_LEFT], uv[M.MOUTH_RIGHT]  # 291 (image right), 61
    cx, half = 0.5 * (smiling[0] + other[0]), 0.5 * abs(smiling[0] - other[0])
    y0, y1 = int(smiling[1] - 0.1 * half), int(smiling[1] + 0.1 * half) + 1
    near = ratio[y0:y1, int(cx + 0.5 * half):int(smiling[0]) + 1]
    assert near.min() < 0.9, near.min()
    assert np.array_equal(creased[:, :int(cx - 0.5 * half)], plain[:, :int(cx - 0.5 * half)])
    teeth = backend.prepare(load("astronaut"))
    assert np.array_equal(*_with_and_without(monkeypatch, backend, teeth, frame, CREASE_DARK=0.0))


def test_lips_pushed_forward_shade_the_teeth_behind_them(monkeypatch):
    """mouthFunnel opens a closed mouth (biden) with its lips pushed forward, in front of the
    teeth: the lips' shadows reach further in (both lips'), so the inside is darker than with the
    shadows of lips at rest (a mean luminance under 0.8 of it), yet the teeth still show (over 0.3
    of it), and nothing outside the opening changes. A photo showing its teeth keeps its own."""
    import cv2

    from bench.portraits import load

    backend = get_backend("cpu")
    frame = MotionFrame.from_named({"mouthFunnel": 0.8})
    state = backend.prepare(load("biden"))
    assert state.cache.mouth.interior_upper is None
    flat = {"PROTRUDE_REACH": 0.0, "PROTRUDE_LOWER": 0.0}  # the shadows of lips at rest
    shaded, plain = _with_and_without(monkeypatch, backend, state, frame, **flat)
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    inside = np.zeros(shaded.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(uv[list(M.INNER_MOUTH_RING)]).astype(np.int32)], 1)
    near = cv2.dilate(inside, np.ones((7, 7), np.uint8)).astype(bool)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)
    assert inside.sum() > 50, inside.sum()
    w = np.array([0.299, 0.587, 0.114], np.float32)
    ratio = float((shaded @ w)[inside].mean() / (plain @ w)[inside].mean())
    assert 0.3 < ratio < 0.8, ratio
    assert np.array_equal(shaded[~near], plain[~near])
    teeth = backend.prepare(load("astronaut"))
    assert np.array_equal(*_with_and_without(monkeypatch, backend, teeth, frame, **flat))


def test_the_red_of_a_lip_moves_as_one_band():
    """The lips' shapes (seal, press, roll, pucker, funnel, the lower lip's drop) move the outer
    and inner lip rings; the mesh points between them (the red of each lip) move with them, so
    no triangle within one lip turns over. When they stayed behind, the visemes FF and U flipped
    5-8 triangles of the astronaut's and obama's lips and PP 40-41, a sawtooth of lip and skin
    across a sealed mouth (docs/renderer.md)."""
    import cv2

    from bench.portraits import load
    from vasa_bridge.data.visemes import SHAPES
    from vasa_bridge.render import cpu as C
    from vasa_bridge.render.rig import lip_band_points
    from vasa_bridge.render.warp import fold_triangles

    backend = get_backend("cpu")
    for name in ("astronaut", "obama"):
        prep = backend.prepare(load(name)).cache
        rest = prep.rest_uv[:, :2]
        band = set(lip_band_points(prep.rest_uv[:M.NUM_LANDMARKS]))
        assert len(band) == 40, len(band)
        ring = np.round(rest[list(M.OUTER_MOUTH_RING)]).astype(np.float32)
        assert all(cv2.pointPolygonTest(ring, tuple(map(float, rest[i])), False) >= 0
                   for i in band)
        upper = set(M.LIPS_OUTER_UPPER + M.LIPS_INNER_UPPER) - {61, 291, 78, 308}
        lower = set(M.LIPS_OUTER_LOWER + M.LIPS_INNER_LOWER) - {61, 291, 78, 308}
        mid = 0.5 * (rest[M.LIP_UPPER_INNER_MID, 1] + rest[M.LIP_LOWER_INNER_MID, 1])
        lips = upper | lower | band
        within = np.array([all(v in lips for v in t) and
                           ((rest[list(t), 1] < mid).all() or (rest[list(t), 1] > mid).all())
                           for t in prep.grid.triangles])
        assert within.sum() > 50, within.sum()
        for viseme in ("FF", "U", "O", "aa", "I"):
            uv = C.posed_points(prep, MotionFrame.from_named(SHAPES[viseme].targets))[0][:, :2]
            flipped = fold_triangles(prep.grid.triangles[within], rest, uv)
            assert len(flipped) == 0, (name, viseme, len(flipped))


def test_pressed_lips_flatten_without_turning_inside_out():
    """mouthPress flattens the red of each lip by a share of its own height (PRESS_THIN at the
    middle), so towards the corners, where the red tapers to nothing, the outer edge of a closed
    mouth stays outside its inner edge. A fixed amount turned biden's and dahlgren's lips inside
    out near the corners at full press (red heights down to -0.47 and -0.26 px)."""
    from bench.portraits import load
    from vasa_bridge.render import cpu as C

    def height_at(uv, ring, x):
        p = uv[list(ring)]
        order = np.argsort(p[:, 0])
        return np.interp(x, p[order, 0], p[order, 1])

    backend = get_backend("cpu")
    frame = MotionFrame.from_named({"mouthPressLeft": 1.0, "mouthPressRight": 1.0})
    outer_upper = [i for i in M.LIPS_OUTER_UPPER if i not in (61, 291)]
    outer_lower = [i for i in M.LIPS_OUTER_LOWER if i not in (61, 291)]
    for name in ("biden", "dahlgren"):
        prep = backend.prepare(load(name)).cache
        assert prep.mouth.interior_upper is None  # a closed mouth
        uv = C.posed_points(prep, frame)[0][:, :2]
        rest = prep.rest_uv[:, :2]
        upper = height_at(uv, M.LIPS_INNER_UPPER, uv[outer_upper, 0]) - uv[outer_upper, 1]
        lower = uv[outer_lower, 1] - height_at(uv, M.LIPS_INNER_LOWER, uv[outer_lower, 0])
        assert upper.min() > 0.0 and lower.min() > 0.0, (name, upper.min(), lower.min())
        # and it does flatten: the middle of each lip is thinner than at rest
        mid_rest = rest[M.LIP_UPPER_INNER_MID, 1] - rest[M.LIP_UPPER_OUTER_MID, 1]
        mid_now = uv[M.LIP_UPPER_INNER_MID, 1] - uv[M.LIP_UPPER_OUTER_MID, 1]
        assert mid_now < mid_rest - 0.5, (name, mid_rest, mid_now)


def _turns(ring: np.ndarray) -> np.ndarray:
    """Degrees a closed polygon (K, 2) turns at each of its points."""
    d = np.roll(ring, -1, 0) - ring
    a = np.arctan2(d[:, 1], d[:, 0])
    return np.degrees(np.abs((np.diff(np.r_[a, a[0]]) + np.pi) % (2 * np.pi) - np.pi))


def test_the_opening_is_a_smooth_curve_through_the_lips(monkeypatch):
    """The outline the mouth layer cuts an open mouth with passes through the inner lips'
    landmarks and bends smoothly between them: biden at jawOpen 0.8, no turn sharper than half
    the sharpest of the landmarks' polygon (60 degrees at a corner there; drawn as the polygon,
    the opening had kinks that read as drawn). Lips a sliver apart keep straight sides, and
    the frame differs from one cut by the polygon only along the outline."""
    from bench.portraits import load
    from vasa_bridge.render.mouth import opening_outline, smooth_ring

    backend = get_backend("cpu")
    state = backend.prepare(load("biden"))
    iod = state.cache.rig.iod_px
    frame = MotionFrame.from_named({"jawOpen": 0.8})
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))[:, :2]
    polygon = uv[list(M.INNER_MOUTH_RING)]
    outline = opening_outline(uv, iod)
    per = len(outline) // len(polygon)
    assert per >= 3 and np.allclose(outline[::per], polygon)
    assert _turns(outline).max() < 0.5 * _turns(polygon).max(), (
        _turns(outline).max(), _turns(polygon).max())
    sliver = uv.copy()
    sliver[list(M.LIPS_INNER_LOWER), 1] = sliver[list(M.LIPS_INNER_UPPER), 1] + 0.5
    bent = opening_outline(sliver, iod) - smooth_ring(sliver[list(M.INNER_MOUTH_RING)], weight=0)
    assert np.abs(bent).max() < 0.25, np.abs(bent).max()
    smooth, straight = _with_and_without(monkeypatch, backend, state, frame, SMOOTH_GAP=1e9)
    changed = np.abs(smooth - straight).max(-1) > 2
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 0
    near = [np.min(np.hypot(*(polygon - [x, y]).T)) for x, y in zip(xs, ys)]
    assert max(near) < 0.1 * iod, max(near)


@pytest.mark.parametrize("name", ["biden", "astronaut"])
def test_the_tongues_top_fades_into_the_cavity(name):
    """The tongue's back, deepest in the mouth, fades into the dark over 0.062-0.064 IOD (4
    pixels) of its middle column (its opacity from 0.1 to 0.9), not at a crisp edge: 0.016 IOD,
    one pixel, read as a pink disc pasted in at jawOpen 0.6-0.8."""
    from bench.portraits import load

    mouth = get_backend("cpu").prepare(load(name)).cache.mouth
    t = mouth.tongue
    a = t.alpha[:, t.alpha.shape[1] // 2]
    fade = np.flatnonzero(a > 0.9)[0] - np.flatnonzero(a > 0.1)[0]
    assert fade >= 0.035 * mouth.iod, (fade, mouth.iod)


def test_the_drawn_inside_has_depth_warm_lower_teeth_and_the_photos_grain(monkeypatch):
    """biden (closed lips) at jawOpen 0.9, the cavity alone (teeth and tongue made clear): it
    is darker in the middle (the throat) than towards the corners at the same depth (0.91; a
    fill darkening into the corners, 1.04) and under the upper lip than on its floor (0.68;
    0.77 before); it carries the photo's grain (its fine detail as the photo's around the lips,
    at least half the spread expected at its brightness; without the grain, a smooth fill).
    The lower row is warmer than the upper (red / blue 1.19x; 1.08x, a neutral shade, read as
    a grey comb), and the tongue's back darkens into the mouth (its top 0.69 of its middle;
    0.98, lit brightest at its top edge, it read as a disc pasted in)."""
    from bench.portraits import load
    from vasa_bridge.render import mouth as ML

    backend = get_backend("cpu")
    state = backend.prepare(load("biden"))
    mouth = state.cache.mouth
    lum = np.array([0.299, 0.587, 0.114], np.float32)

    def ratio(sprite):  # red / blue of the sprite where opaque
        rgb = sprite.rgb[sprite.alpha > 0.99]
        return rgb[:, 0].mean() / rgb[:, 2].mean()

    assert ratio(mouth.lower_teeth) > 1.1 * ratio(mouth.upper_teeth)
    t = mouth.tongue
    tongue = (t.rgb @ lum)[:, t.rgb.shape[1] // 2]
    rows = np.flatnonzero(t.alpha[:, t.rgb.shape[1] // 2] > 0.2)
    top, middle = tongue[rows[0]], tongue[rows[0] + int(0.15 * mouth.iod)]
    assert top < 0.8 * middle, (top, middle)

    for sprite in (mouth.tongue, mouth.lower_teeth, mouth.upper_teeth):
        sprite.alpha[:] = 0
    frame = MotionFrame.from_named({"jawOpen": 0.9})
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))[:, :2]
    up, lo = (uv[list(ring)] for ring in (M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER))
    cx = uv[[M.MOUTH_LEFT, M.MOUTH_RIGHT], 0].mean()
    half = abs(uv[M.MOUTH_LEFT, 0] - uv[M.MOUTH_RIGHT, 0]) / 2

    def at(img, share, down):  # luminance at share x half from the middle, down the gap
        x = cx + share * half
        y0, y1 = (np.interp(x, *p[np.argsort(p[:, 0])].T) for p in (up, lo))
        return img[int(round(y0 + down * (y1 - y0))), int(round(x))] @ lum

    grained, smooth = _with_and_without(monkeypatch, backend, state, frame, GRAIN_SHARE=0.0)
    middle, side = at(smooth, 0.0, 0.5), 0.5 * (at(smooth, -0.6, 0.5) + at(smooth, 0.6, 0.5))
    assert middle < 0.95 * side, (middle, side)
    assert at(smooth, 0.0, 0.3) < 0.72 * at(smooth, 0.0, 0.85)
    ring = np.round(uv[list(M.INNER_MOUTH_RING)]).astype(np.int32)
    inside = cv2.erode(cv2.fillPoly(np.zeros(smooth.shape[:2], np.uint8), [ring], 1),
                       np.ones((5, 5), np.uint8)).astype(bool)
    grain = (grained - smooth) @ lum
    level = np.sqrt(np.clip(smooth @ lum, 0, 255) / ML.GRAIN_AT)
    expected = ML.GRAIN_SHARE * mouth.grain * level[inside]
    assert mouth.grain > 1.0 and np.std(grain[inside]) > 0.5 * expected.mean(), (
        np.std(grain[inside]), expected.mean())


def test_pouted_lips_shade_the_chin_and_catch_the_light(monkeypatch):
    """mouthPucker 1 on biden (closed lips): the skin just under the lower lip's middle is
    darker than without the pout's shading (0.86 of it; at most 0.9) and the lower lip's red is
    brighter (1.07x; at least 1.03x); mouthFunnel alone draws no pout (the same frame without
    it)."""
    from bench.portraits import load

    backend = get_backend("cpu")
    state = backend.prepare(load("biden"))
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    frame = MotionFrame.from_named({"mouthPucker": 1.0})
    pouted, plain = _with_and_without(monkeypatch, backend, state, frame, POUT_SHADOW=0.0,
                                      POUT_SHINE=0.0)
    uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
    iod = state.cache.rig.iod_px
    u = int(round(uv[M.LIP_LOWER_INNER_MID, 0]))
    outer = uv[list(M.LIPS_OUTER_LOWER)]
    bottom = float(np.interp(u, *outer[np.argsort(outer[:, 0])].T))
    under = (slice(int(bottom) + 1, int(bottom + 0.05 * iod) + 2), slice(u - 3, u + 4))
    assert (pouted[under] @ lum).mean() < 0.9 * (plain[under] @ lum).mean()
    top = uv[M.LIP_LOWER_INNER_MID, 1]
    lip = (slice(int(round(0.6 * top + 0.4 * bottom)), int(round(0.4 * top + 0.6 * bottom)) + 1),
           slice(u - 3, u + 4))
    assert (pouted[lip] @ lum).mean() > 1.03 * (plain[lip] @ lum).mean()
    funnel = MotionFrame.from_named({"mouthFunnel": 1.0})
    a, b = _with_and_without(monkeypatch, backend, state, funnel, POUT_SHADOW=0.0,
                             POUT_SHINE=0.0)
    assert np.array_equal(a, b)


def test_rounded_lips_undo_a_smiling_photos_smile_and_the_pout_covers_its_teeth(monkeypatch):
    """The astronaut smiles with her teeth showing: /u/ (mouthPucker 0.7, mouthFunnel 0.35) on
    her kept the smile's shape, corners up and teeth bared. Rounded lips now undo the photo's
    smile at the corners (narrower: 0.80 of the width without it, at most 0.85; corners 0.11 IOD
    lower, at least 0.08) and a pout brings the upper lip down over the teeth (its inner middle
    0.06 IOD lower, at least 0.04; the opening 0.62 of its area without it, at most 0.75). Her
    rest frame is unchanged, and a photo whose corners do not sit above its lips' middle (biden)
    gets no such motion at all."""
    from bench.portraits import load
    from vasa_bridge.data.visemes import SHAPES
    from vasa_bridge.render import rig as R

    backend = get_backend("cpu")
    image = skimage.data.astronaut()
    rounded = backend.prepare(image)
    with monkeypatch.context() as m:
        m.setattr(R, "ROUND_SHARE", 0.0)
        m.setattr(R, "ROUND_COVER", 0.0)
        smiling = backend.prepare(image)
    u = MotionFrame.from_named(dict(SHAPES["U"].targets))
    zero = np.zeros(3)
    a = rounded.cache.rig.positions(u.blendshapes, zero, zero)
    b = smiling.cache.rig.positions(u.blendshapes, zero, zero)
    iod = rounded.cache.rig.iod_px
    corners = [M.MOUTH_RIGHT, M.MOUTH_LEFT]
    width = lambda p: p[M.MOUTH_LEFT, 0] - p[M.MOUTH_RIGHT, 0]  # noqa: E731
    assert width(a) < 0.85 * width(b)
    assert (a[corners, 1] - b[corners, 1] > 0.08 * iod).all()  # image v grows downwards
    assert a[M.LIP_UPPER_INNER_MID, 1] - b[M.LIP_UPPER_INNER_MID, 1] > 0.04 * iod
    from vasa_bridge.render.mouth import opening_area
    shown = [opening_area(p[:, :2]) for p in (a, b)]  # the opening the teeth show through
    assert shown[0] < 0.75 * shown[1], shown
    assert not np.array_equal(backend.render(rounded, u), backend.render(smiling, u))
    rest = MotionFrame.from_named({})
    assert np.array_equal(backend.render(rounded, rest), backend.render(smiling, rest))
    rows = [R.ROW[f"{k}{side}"] for k in ("round", "cover") for side in ("Right", "Left")]
    assert not backend.prepare(load("biden")).cache.rig.basis[rows].any()


def test_a_wide_open_mouth_shows_its_tongue(monkeypatch):
    """jawOpen 0.8: the tongue fills the lower part of the opening instead of a large dark
    crescent over a strip of it (it follows the jaw 0.2, was 0.35): the dark pixels (luminance
    under 50) between the lips' middles are 0.78 (biden, drawn inside) and 0.83 (the astronaut,
    her own teeth) of those with the tongue following at 0.35; at most 0.88."""
    from bench.portraits import load

    backend = get_backend("cpu")
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    frame = MotionFrame.from_named({"jawOpen": 0.8})
    for image in (load("biden"), skimage.data.astronaut()):
        state = backend.prepare(image)
        uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
        box = (slice(int(uv[M.LIP_UPPER_INNER_MID, 1]), int(uv[M.LIP_LOWER_INNER_MID, 1]) + 1),
               slice(int(uv[M.MOUTH_RIGHT, 0]), int(uv[M.MOUTH_LEFT, 0]) + 1))
        now, before = _with_and_without(monkeypatch, backend, state, frame, TONGUE_FOLLOW=0.35)
        dark = [int(((img[box] @ lum) < 50).sum()) for img in (now, before)]
        assert dark[0] <= 0.88 * dark[1], dark


def test_a_greyscale_photos_closed_lips_open_onto_drawn_teeth():
    """Donilon's closed lips, in greyscale, read as parted in the bust crop (no colour tells the
    pressed lips' dark band from a gap): the layer took that band for the photo's own inside, and
    the mouth opened onto a dark hole. With the portrait's smaller reading it opens, as the
    colour photo does, onto drawn teeth: the share of the opening brighter than the skin under
    the lower lip is 0.18 / 0.14 at jawOpen 0.3 / 0.6 (before: 0.05 / 0.06)."""
    from bench.portraits import load

    backend = get_backend("cpu")
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    grey = np.repeat(cv2.cvtColor(load("donilon"), cv2.COLOR_RGB2GRAY)[..., None], 3, -1)
    state = backend.prepare(grey)
    assert state.cache.mouth.interior_upper is None  # not an open photo's own inside
    for jaw in (0.3, 0.6):
        frame = MotionFrame.from_named({"jawOpen": jaw})
        uv = state.cache.rig.positions(frame.blendshapes, np.zeros(3), np.zeros(3))
        out = backend.render(state, frame)[..., :3].astype(np.float32) @ lum
        top, low = uv[M.LIP_UPPER_INNER_MID, 1], uv[M.LIP_LOWER_INNER_MID, 1]
        box = (slice(int(top), int(low) + 1),
               slice(int(uv[M.MOUTH_RIGHT, 0]), int(uv[M.MOUTH_LEFT, 0]) + 1))
        chin = out[int(low + 0.6 * (low - top)):int(low + 0.9 * (low - top)) + 1, box[1]]
        share = float((out[box] > np.median(chin)).mean())
        assert share >= 0.1, (jaw, share)


def test_a_nodded_open_photos_teeth_stay_up_under_its_lip():
    """Obama (teeth showing) nodded: the rows just under the upper lip's middle show his teeth,
    as the warp alone carries them there (its lips' middle, nearer the camera than their
    corners, moves unlike them). The teeth on the skull's affine alone slid under the lip at
    pitch -20 and left a dark band there (luminance 56 against the warp's 97)."""
    from bench.portraits import load

    lum = np.array([0.299, 0.587, 0.114], np.float32)
    with_layer = get_backend("cpu")
    warp_only = get_backend("cpu", RenderConfig(mouth=False))
    image = load("obama")
    states = (with_layer.prepare(image), warp_only.prepare(image))
    for pitch in (-20.0, -12.0, 12.0, 20.0):
        frame = MotionFrame.from_named({}, head_rotation=np.array([pitch, 0.0, 0.0]))
        uv = states[0].cache.rig.positions(frame.blendshapes, frame.head_rotation,
                                           np.zeros(3))
        x, y = uv[M.LIP_UPPER_INNER_MID]
        rows = slice(int(round(y)), int(round(y)) + 3)
        cols = slice(int(round(x)) - 4, int(round(x)) + 5)
        now, warp = ((b.render(s, frame)[rows, cols, :3].astype(np.float32) @ lum).min(axis=1)
                     for b, s in zip((with_layer, warp_only), states))
        assert (now >= 0.85 * warp).all(), (pitch, now.round(), warp.round())


@pytest.mark.parametrize("portrait", ["astronaut", "biden"])
def test_mouth_close_brings_the_lower_lip_and_corners_back_where_the_jaw_took_them(portrait):
    """mouthClose equal to jawOpen (lips together over a dropped jaw, as ARKit means it) brings
    every point of the lower lip, and the corners, back up by MOUTH_CLOSE_LIFT of what the jaw
    moved it there: none stays down, none rises past where it rests. A lift the same all along
    the lip (the corners drop only 0.35 as far as the middle) raised the points next to the
    corners over the upper lip, and the corners, never lifted, stayed down: dark hooks at the
    ends of the closed lips (the contact sheet's jawOpen 1 + mouthClose 0.8)."""
    from bench.portraits import load
    from vasa_bridge.face import units as U

    rig = get_backend("cpu").prepare(
        load(portrait) if portrait != "astronaut" else skimage.data.astronaut()).cache.rig
    rest = rig.positions(np.zeros(52), np.zeros(3), np.zeros(3))
    lower = sorted(set(M.LIPS_INNER_LOWER + M.LIPS_OUTER_LOWER) | {M.MOUTH_RIGHT, M.MOUTH_LEFT})
    for jaw in (0.3, 1.0):
        dropped = rig.positions(MotionFrame.from_named({"jawOpen": jaw}).blendshapes,
                                np.zeros(3), np.zeros(3))[lower, 1] - rest[lower, 1]
        closed = rig.positions(MotionFrame.from_named({"jawOpen": jaw, "mouthClose": jaw})
                               .blendshapes, np.zeros(3), np.zeros(3))[lower, 1] - rest[lower, 1]
        assert (dropped > 0.5).all()  # the jaw moved every one of them down
        # back up to within 1.5 x (1 - MOUTH_CLOSE_LIFT) of the drop (the jaw's swing back moves
        # them on screen too, where the photo's head is tilted), and none above where it rests
        assert (closed > -0.1).all() and \
            (closed < 1.5 * (1 - U.MOUTH_CLOSE_LIFT) * dropped + 0.1).all(), (jaw, closed, dropped)
