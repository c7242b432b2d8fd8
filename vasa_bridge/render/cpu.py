"""CPU backend: the rig's control points -> low-resolution piecewise-affine field -> cv2.remap
of the moving region only -> person over the background plate -> eye and mouth layers."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..face import mesh as M
from ..errors import RenderError
from ..face.portrait import Portrait, PortraitConfig, analyse_portrait
from ..motion.frame import MotionFrame
from ..motion.names import INDEX
from .base import ImageInput, PortraitState, RenderConfig, check_state
from .layers import EyeLayer, fill_background
from .mouth import (MouthLayer, crease_weights, lift_weight, motion_affines, opening_area,
                    pose_bends, posed_lips, posed_rest_lip, posed_rest_lower, protrusion,
                    smile_sides)
from .rig import TUCK_OVER, Rig, Silhouette, build_rig, build_silhouette, seal_weight
from .warp import (WarpGrid, backward_field, grid_arrays, grid_from_arrays, make_grid,
                   moving_box, resolve_folds, upsample)


log = logging.getLogger("vasa_bridge.render")

FOLD_MARGIN_IOD = 0.15  # re-rasterise this far around a fold (the inverse iteration blurs there)


@dataclass(frozen=True)
class Prepared:
    portrait: Portrait
    rig: Rig
    rest_uv: np.ndarray  # (N, 2) rest control-point positions
    grid: WarpGrid
    head_triangles: np.ndarray  # (T, 3) the grid's triangles whose corners all follow the head
    source: np.ndarray  # (H, W, 4) float32: premultiplied person (image - (1 - a) plate), a
    plate: np.ndarray  # (H, W, 3) float32 background with the person filled in
    base: np.ndarray  # (H, W, 3) uint8 the photo (frame at rest)
    base_alpha: np.ndarray  # (H, W) uint8 person alpha at rest
    eyes: tuple[EyeLayer, ...]
    mouth: MouthLayer | None
    face_box: tuple[int, int, int, int]  # grid-node box (r0, r1, c0, c1) around the face mesh
    silhouette: Silhouette  # keeps the face contour on the turned face's edge


GRID_CACHE_VERSION = 1  # bump when make_grid changes what it builds


def _grid(rest_uv: np.ndarray, w: int, h: int, step: int, use: np.ndarray,
          cache_dir: str | None) -> WarpGrid:
    """make_grid, kept in `cache_dir` by a hash of its inputs: the triangulation (and scipy's
    spatial module, ~0.3 s to import) is the slowest part of preparing a photo seen before."""
    if cache_dir is None:
        return make_grid(rest_uv, w, h, step, use)
    key = hashlib.blake2b(digest_size=20)
    key.update(f"grid v{GRID_CACHE_VERSION} {w}x{h} step {step} numpy {np.__version__} ".encode())
    for a in (np.ascontiguousarray(rest_uv, np.float64), use.astype(np.bool_)):
        key.update(repr(a.shape).encode())
        key.update(a.tobytes())
    path = Path(cache_dir) / f"grid-{key.hexdigest()}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return grid_from_arrays(z)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError) as e:
        log.warning("warp grid cache %s is unreadable (%s): building it again", path, e)
    grid = make_grid(rest_uv, w, h, step, use)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **grid_arrays(grid))
        os.replace(tmp, path)
    except OSError as e:
        log.warning("cannot write the warp grid cache in %s (%s)", path.parent, e)
    return grid


def grid_step_for(width: int, config: RenderConfig) -> int:
    if config.grid_step:
        return config.grid_step
    return 4 if width <= 512 else 8


def prepare_geometry(image: ImageInput, portrait_config: PortraitConfig,
                     config: RenderConfig) -> Prepared:
    """Everything per photo that does not depend on the backend's array library."""
    if portrait_config.size % 8:
        raise RenderError(f"size is {portrait_config.size}: expected a multiple of 8 pixels")
    portrait = image if isinstance(image, Portrait) else analyse_portrait(image,
                                                                          portrait_config)
    img = portrait.image
    h, w = img.shape[:2]
    rig = build_rig(portrait.landmarks, portrait.rest.rotation, (w, h), portrait.rest.points)
    zeros = np.zeros(52)
    rest_uv = rig.positions(zeros, np.zeros(3), np.zeros(3))
    use = np.ones(len(rest_uv), bool)
    use[list(M.RIGHT_IRIS) + list(M.LEFT_IRIS)] = False  # the eye layer moves the irises
    step = grid_step_for(w, config)
    grid = _grid(rest_uv, w, h, step, use, config.cache_dir)
    a = portrait.person_alpha.astype(np.float32)
    plate = fill_background(img, a)
    mouth = MouthLayer.prepare(img, portrait.landmarks, rig.iod_px,
                               portrait.rest_lip_gap) if config.mouth else None
    if mouth is not None and mouth.teeth_share is not None:
        rig = rig.with_tuck(1.0 - mouth.teeth_share + TUCK_OVER)  # /f v/: up to their edge
    warp_img = img
    if mouth is not None and mouth.interior_upper is not None:
        # An open photo mouth: its inside is drawn by the mouth layer (which rides skull and
        # jaw); the warp's copy is filled from the lips, so lips pressed together meet as lips
        # (not the teeth squashed into a white line).
        ring = np.round(portrait.landmarks[list(M.INNER_MOUTH_RING), :2]).astype(np.int32)
        hole = cv2.dilate(cv2.fillPoly(np.zeros(img.shape[:2], np.uint8), [ring], 1),
                          np.ones((3, 3), np.uint8))
        warp_img = cv2.inpaint(img, hole, 3, cv2.INPAINT_TELEA)
    source = np.concatenate([warp_img.astype(np.float32) - (1.0 - a)[..., None] * plate,
                             a[..., None]], axis=2)
    eyes = ()
    if config.eyes and not portrait.eyes_closed:
        eyes = (EyeLayer.prepare(img, portrait.landmarks, "right"),
                EyeLayer.prepare(img, portrait.landmarks, "left"))
    uv = rest_uv[:M.NUM_LANDMARKS]
    pad = 0.6 * rig.iod_px
    r0 = int(max((uv[:, 1].min() - pad) // step, 0))
    r1 = int(min((uv[:, 1].max() + pad) // step + 1, grid.shape[0]))
    c0 = int(max((uv[:, 0].min() - pad) // step, 0))
    c1 = int(min((uv[:, 0].max() + pad) // step + 1, grid.shape[1]))
    head_tri = grid.triangles[(rig.follow[grid.triangles] > 0).all(1)]  # mesh and head rings
    return Prepared(portrait, rig, rest_uv, grid, head_tri, np.ascontiguousarray(source), plate,
                    img.copy(), np.round(a * 255).astype(np.uint8), eyes, mouth,
                    (r0, r1, c0, c1), build_silhouette(rig, rest_uv))


def fold_fix(prep: Prepared, uv: np.ndarray, depth: np.ndarray):
    """Where the turned face mesh folds over itself: (grid node indices, z-buffered source
    positions) for the backward map, the nearer surface showing (`warp.resolve_folds`); None
    when nothing folds. Both backends use it."""
    return resolve_folds(prep.grid, prep.head_triangles, prep.rest_uv, uv, depth,
                         margin=FOLD_MARGIN_IOD * prep.rig.iod_px + prep.grid.step)


def depth_order(prep: Prepared, field: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> None:
    """Replace the (rows, cols, 2) backward map in place by the z-buffered one where the mesh
    folds (`fold_fix`)."""
    fix = fold_fix(prep, uv, depth)
    if fix is not None:
        node, src = fix
        field.reshape(-1, 2)[node] = src


def is_rest(frame: MotionFrame) -> bool:
    return (not frame.blendshapes.any() and not frame.head_rotation.any()
            and not frame.head_translation.any())


def rest_image(prep: Prepared, alpha: bool) -> np.ndarray:
    """The frame for a neutral pose: the photo itself (RGBA with the person's alpha)."""
    return np.dstack([prep.base, prep.base_alpha]) if alpha else prep.base.copy()


def posed_points(prep: Prepared, frame: MotionFrame) -> tuple[np.ndarray, np.ndarray]:
    """Image positions and depths of the control points for `frame`, silhouette slid."""
    pos, depth = prep.rig.positions_depth(frame.blendshapes, frame.head_rotation,
                                          frame.head_translation)
    return prep.silhouette.slide(pos), depth


def union(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int]):
    if a is None:
        return b
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def draw_mouth(prep: Prepared, rgb: np.ndarray, uv: np.ndarray, frame: MotionFrame,
               origin=(0, 0)) -> None:
    """The mouth layer over a warped image whose top-left is `origin` in the frame (both
    backends); uv: landmark positions in `rgb`'s pixels."""
    roll_lower = float(frame.blendshapes[INDEX["mouthRollLower"]])
    if prep.mouth is None:
        return
    if prep.mouth.interior_upper is not None:  # a photo showing its teeth: sealed, a seam
        seal = seal_weight(frame.blendshapes)
        if seal > 0.0:
            prep.mouth.draw_seam(rgb, uv, seal)
    else:  # closed lips: a smile deepens the creases at the corners it draws back
        creases = crease_weights(frame.blendshapes)
        if max(creases) > 0.0:
            prep.mouth.draw_seam(rgb, uv, creases, creases_only=True)
    prep.mouth.draw_pout(rgb, uv, float(np.clip(frame.blendshapes[INDEX["mouthPucker"]], 0, 1)))
    if roll_lower <= 0.0 and opening_area(uv) < 1.0:
        return  # closed lips, nothing rolled in: the layer would draw nothing
    head = posed_lips(prep.rig, frame.blendshapes, frame.head_rotation, frame.head_translation)
    skull, jaw = motion_affines(prep.rig, prep.rest_uv, frame.blendshapes, frame.head_rotation,
                                frame.head_translation, head)
    bends = tuple(b.shifted(origin) for b in pose_bends(prep.rest_uv, head, skull))
    skull[:, 2] -= origin
    jaw[:, 2] -= origin
    rest_lip = rest_lower = None
    if prep.mouth.interior_upper is not None:
        rest_lip, rest_lower = posed_rest_lip(head) - origin, posed_rest_lower(head) - origin
    prep.mouth.draw(rgb, uv, skull, jaw, roll_lower, lift_weight(frame.blendshapes),
                    protrusion(frame.blendshapes), rest_lip, rest_lower,
                    smile_sides(frame.blendshapes), bends)


def finish(prep: Prepared, rgb: np.ndarray, alpha: np.ndarray, box_px, uv: np.ndarray,
           want_alpha: bool, frame: MotionFrame) -> np.ndarray:
    """Layers over the warped box, then paste into a copy of the photo."""
    x0, y0, x1, y1 = box_px
    local = uv - [x0, y0]
    draw_mouth(prep, rgb, local, frame, (x0, y0))
    for eye in prep.eyes:
        eye.draw(rgb, local)
    out = prep.base.copy()
    np.add(rgb, 0.5, out=rgb)
    np.clip(rgb, 0, 255, out=rgb)
    out[y0:y1, x0:x1] = rgb
    if not want_alpha:
        return out
    a = prep.base_alpha.copy()
    a[y0:y1, x0:x1] = np.clip(alpha * 255 + 0.5, 0, 255)
    return np.dstack([out, a])


class CpuBackend:
    name = "cpu"

    def __init__(self, config: RenderConfig = RenderConfig()):
        self.config = config

    def prepare(self, image: ImageInput,
                portrait_config: PortraitConfig = PortraitConfig()) -> PortraitState:
        prep = prepare_geometry(image, portrait_config, self.config)
        return PortraitState(self.name, prep.portrait, self.config, prep)

    def render(self, state: PortraitState, frame: MotionFrame) -> np.ndarray:
        check_state(state, self.name)
        prep: Prepared = state.cache
        if is_rest(frame):
            return rest_image(prep, self.config.alpha)
        pos, depth = posed_points(prep, frame)
        field = backward_field(prep.grid, pos - prep.rest_uv, self.config.inverse_iterations,
                               self.config.inverse_relax)
        depth_order(prep, field, pos, depth)
        box = union(moving_box(field, prep.grid), prep.face_box)
        r0, r1, c0, c1 = box
        g = prep.grid.step
        m = upsample(field, prep.grid, box)
        warped = cv2.remap(prep.source, m, None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        a = warped[..., 3:]
        rgb = warped[..., :3] + (1.0 - a) * prep.plate[r0 * g:r1 * g, c0 * g:c1 * g]
        return finish(prep, rgb, a[..., 0], (c0 * g, r0 * g, c1 * g, r1 * g),
                      pos[:M.NUM_LANDMARKS], self.config.alpha, frame)

