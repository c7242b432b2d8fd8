"""The inside of the mouth, drawn over the warped frame inside the current inner-lip opening.

Back to front, in a small box around the opening:
- the cavity: lip-tinted mucosa at the lips darkening with the distance from them, darkest under
  the upper teeth and in the throat, lighter on its floor (no flat fill, no outline);
- the tongue: a mound behind the lower teeth riding the jaw, lit by the scene's light, its back
  fading into the dark;
- the lower teeth riding the jaw and the upper teeth riding the skull: procedural rows along an
  elliptic dental arch (tooth widths and crown heights from dental tables, scaled to the
  photo's mouth width), each tooth shaded as a convex crown, darker with its depth along the
  arch, with dark gaps and rounded edges between teeth, coloured like the photo's teeth or,
  when the photo hides them, like the photo's sclera (same light, similar off-white);
- a soft shadow under the upper lip; towards a smiling side's corner, the dark buccal corridor;
- the photo's grain over all of it (`photo_grain`);
- the photo's own interior when its mouth was open: the upper teeth ride the skull (and go on
  up into the gum under a raised lip); what lay below them rides the jaw and gives way to the
  synthetic layers as the lips part.
Everything is cut by the current inner-lip opening (the inner ring made a smooth curve as the
lips part: `opening_outline`), so teeth appear from behind the lips as they part. Sprites are
made once per photo (`prepare`); a frame is a few small warps.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import mesh as M
from .layers import _box, _poly_mask, _polygon_in_box
from .rig import _smooth

# Where the teeth sit: the upper lip for the upper row (moved by the head only, it rides the
# skull), the lower lip's middle and the chin for the lower row (moved by the jaw shapes).
SKULL_POINTS = tuple(sorted(set(M.LIPS_INNER_UPPER + M.LIPS_OUTER_UPPER)))
JAW_POINTS = (14, 17, 87, 317, 84, 314, 152, 148, 377, 175, 199, 200)
JAW_SHAPES = ("jawOpen", "jawLeft", "jawRight", "jawForward", "mouthClose")
# The head's pose moves what rides the jaw as it moves the inner lips around the opening: the
# photo's inside below its upper teeth lies between them. (Posed as the chin's points are, it
# slid against the lips in a pitched frame: the face mesh read the built-in portrait's pitch
# sweep 1.5 degrees off, f2d8a42's 1.1; posed as the upper lip, 1.3, but obama's yaw went from
# 2.4 to 3.0 degrees: docs/renderer.md.)
JAW_POSE = M.INNER_MOUTH_RING
# The points the head's pose alone moves in a frame, posed once (`posed_lips`): the skull's,
# the jaw's pose and the inner upper lip (`posed_rest_lip`) are picked out of them.
POSED_POINTS = tuple(sorted(set(SKULL_POINTS) | set(JAW_POSE)))
_SKULL_IN_POSED = [POSED_POINTS.index(i) for i in SKULL_POINTS]
_RING_IN_POSED = [POSED_POINTS.index(i) for i in JAW_POSE]
_INNER_UPPER_IN_POSED = [POSED_POINTS.index(i) for i in M.LIPS_INNER_UPPER]
_INNER_LOWER_IN_POSED = [POSED_POINTS.index(i) for i in M.LIPS_INNER_LOWER]
# The lower row faces up into the mouth, behind the upper teeth and lip: lit this share of the
# upper row (at 0.9 the face mesh read the astronaut's lower teeth as her lower lip; at 0.6 a
# small opening showed the row as a grey band along the lower lip, an outline round the cavity).
LOWER_SHADE = 0.75
# ... in the light the mouth's red walls throw back (a neutral shade read as a grey band),
# darkening from their tips down towards the lower lip by this share.
LOWER_TINT = np.array([1.12, 0.96, 0.92], np.float32)
LOWER_NECK_DARK = 0.2
# The gaps between the lower teeth, as dark as this share of a tooth (0.15 drew the row as a
# flat grey band in an open mouth).
LOWER_GAP_DARK = 0.4
GROOVE_DARK = 0.15  # the tongue's median groove, at its deepest
# The tongue's back lies deeper in the mouth than its front: its top is lit this share of its
# front, darkening over this share of its half height, and fades into the cavity over this much
# of 1 - r^2, r its radius on the ellipse (0.75, 0.35 and 0.2: a crisp, lit top edge read as a
# pink disc pasted in at jawOpen 0.6-0.8; darker still, 0.5 over 0.7, and faded inwards, the
# face mesh read the astronaut's jaw sweep worse: docs/renderer.md).
TONGUE_BACK_DARK = 0.65
TONGUE_BACK_SPAN = 0.6
TONGUE_TOP_FADE = 0.6
TONGUE_HALF_HEIGHT = 0.3  # IOD: the lit half-ellipsoid's vertical half axis


def _tongue_top_grow() -> float:
    """How far (in 1 - r^2) the tongue's top fades out past its ellipse: outwards from where a
    crisp edge (fade 0.2) was opaque, so what the tongue covers stays as it was."""
    return 0.8 * (TONGUE_TOP_FADE - 0.2)
# The cavity's colour (`cavity_deep`) is lit this much under the upper teeth and on its floor,
CAVITY_TOP, CAVITY_FLOOR = 0.8, 1.7
CAVITY_MIDDLE = 0.55  # ... and this much in the middle (the throat) of what it is at the corners
# The mucosa next to the lips (`cavity_lip`): the lips' colour x LIP_EDGE, giving way to the
# dark over LIP_EDGE_IOD inwards. (A darker lower lip's edge rolling in over the cavity made the
# face mesh read jawOpen and funnel worse: docs/renderer.md, "The inside in depth".)
LIP_EDGE = 0.7
LIP_EDGE_IOD = 0.1
# The photo's grain laid over the drawn inside: this share of its measured spread at
# brightness GRAIN_AT, as the square root of the brightness elsewhere.
GRAIN_SHARE = 0.6
GRAIN_AT = 128.0
TONGUE_GLOSS = 0.12  # its wet highlight, as a share of its brightest channel
SMOOTH_GAP = 0.1  # IOD: the lip gap from which the opening's outline is fully a smooth curve
LOWER_TEETH_FOLLOW = 0.9  # lower incisors move this share of the lower lip + chin's motion
# The tongue lies behind the lower teeth and drops less than they do, so its back shows only
# when the jaw is well open; then it fills the lower part of the opening (at 0.35 a wide-open
# mouth was a large dark crescent over a strip of tongue, and the face mesh read donilon's and
# the astronaut's jaw sweeps worse: docs/renderer.md).
TONGUE_FOLLOW = 0.2
TONGUE_BELOW = 0.02  # IOD: its top under the lower teeth's edge at rest
# (width, crown height) in mm, central incisor to first molar, half an arch.
UPPER_TEETH_MM = ((8.5, 10.5), (6.5, 9.0), (7.5, 10.0), (7.0, 8.0), (6.5, 7.5), (10.0, 7.0))
LOWER_TEETH_MM = ((5.0, 9.0), (5.5, 9.0), (7.0, 10.5), (7.0, 8.5), (7.0, 8.0), (11.0, 7.5))
IOD_MM = 63.0
CANINE_AT = 0.70  # the canine's distal edge, as a share of the arch's half width
UPPER_SHOW = 0.055  # IOD: upper incisal edge below the closed lips' line (hidden at rest)
LOWER_OVERBITE = 0.015  # IOD: lower incisal edge above the lower lip's inner edge at rest
SHADOW_IOD = 0.05  # reach of the upper lip's shadow
# Lips pushed forward (mouthFunnel, mouthPucker) stand further in front of the teeth: at full
# protrusion the upper lip's shadow reaches (1 + PROTRUDE_REACH) x SHADOW_IOD in, and the lower
# lip, pushed out over the lower teeth, casts one upwards as far, PROTRUDE_LOWER x as dark as
# the upper's (0.99 at its edge at full protrusion; at 1.0 the face mesh read obama_desk's
# funnel worse than f2d8a42's, at 1.8 within the noise: docs/renderer.md). Photos with closed
# lips only: an open photo's own teeth keep the light they were photographed in (on obama the
# lower lip's shadow took the face mesh's funnel reading from 0.967 to 0.918).
PROTRUDE_REACH = 2.0
PROTRUDE_LOWER = 1.8
# mouthUpperUp from which the teeth that an open photo's raised upper lip uncovers are unshadowed
LIFT_FULL = 0.25
DEPTH_IOD = 0.35  # teeth this far back along the arch are 1/e as bright
# A smile draws the mouth's corners back from the teeth, opening the dark buccal corridors:
# the inside (cavity, synthetic teeth, tongue, and an open photo's own upper teeth) darkens by
# up to this share x mouthSmile of that side, as the square of the distance from the middle.
# (With the photo's own teeth left as photographed, they ended in a bright vertical edge against
# the darkened corner where a smile widened the opening past the photo's. Darkened too, the
# photo's inside below its upper teeth made the face mesh read the astronaut's smile L worse
# than f2d8a42's: docs/renderer.md.)
BUCCAL_DARK = 0.8
# An open photo's upper lip raised off its teeth (`_under_raised_lip`): the band under the lip
# that is its shadow on the teeth, and how much more tooth shows above the photo's before gum.
LIP_SHADE_BAND = 0.04  # IOD
HIDDEN_CROWN = 0.015  # IOD
TOOTH_SAMPLE = 0.04  # IOD: the colour of the uncovered tooth, sampled this far under that band
OPEN_GAP = 0.04  # IOD: a photo whose lips part by more than this brings its own interior
TEETH_SHARE_MIN, TEETH_SHARE_MAX = 0.3, 0.9  # the bounds of `MouthLayer.teeth_share`
OWN_REACH = 0.03  # IOD: an open photo's interior reaches this far past its opening's outline
# Lips redder than the cheeks by this share (red/green ratio) or more: a colour photo (the test
# portraits: 0.11-0.33); a sepia print's are not (0.004): the mouth takes the print's tone.
MONO_REDDER = 0.08
# Sealed lips over a photo that showed its teeth: the line where they meet, a Gaussian this wide
# (IOD) darkening the skin by up to this share.
SEAM_IOD = 0.016
SEAM_DARK = 0.5
# Closed lips drawn back in a smile: the creases at the corners deepen, up to this share of the
# seam's darkness at mouthSmile 1 on that side. Without them a closed mouth in a pale beard or a
# soft photo lost its corners as it smiled (the face mesh read dahlgren's smiles at r 0.88-0.92,
# f2d8a42's crude slit at 0.94-0.97; docs/renderer.md).
CREASE_DARK = 0.5
# Softness: the mouth is drawn as sharp as a sharp photo's (measured blur <= SHARP_BLUR pixels;
# the test portraits: astronaut, obama, obama_desk 0.82-0.84, biden 0.65); a soft photo's
# (enlarged faces: donilon 1.47, brennan, obama_standing, dahlgren ~1.03) gets the difference.
SHARP_BLUR = 0.9
REBLUR = 2.0  # pixels: the re-blur `photo_blur` measures against
# Pouted lips (mouthPucker) stand out: the lower lip shades the chin just below its middle by
# up to POUT_SHADOW (1/e at POUT_REACH IOD down), and the lips' fronts catch the light
# (the lower lip's red up to POUT_SHINE brighter in its middle). Without it the rig's pucker (the
# corners in, the red grown a little) hardly showed. Not for mouthFunnel: the shading took the
# face mesh's funnel reading of biden from 0.79 to 0.75 (docs/renderer.md).
POUT_SHADOW = 0.3
POUT_REACH = 0.05
POUT_SHINE = 0.08


# Unit-variance noise, tiled over the frame: the grain laid over the drawn inside.
_GRAIN = np.random.default_rng(11).standard_normal((128, 128)).astype(np.float32)
_GRAIN_FINE = float(np.std(_GRAIN - cv2.GaussianBlur(_GRAIN, (0, 0), 1.0)))


def _line(points: np.ndarray):
    """y(x) of a polyline (K, 2), any order, clamped at its ends."""
    order = np.argsort(points[:, 0])
    px, py = points[order, 0], points[order, 1]
    return lambda x: np.interp(x, px, py)


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares affine taking src (K, 2) onto dst (K, 2)."""
    a = np.hstack([src, np.ones((len(src), 1))])
    return np.linalg.solve(a.T @ a, a.T @ dst).T  # normal equations: 3x3, well conditioned


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Sprite:
    """A small RGB + alpha picture in the photo's rest coordinates."""

    origin: np.ndarray  # (2,) top-left in the photo
    rgb: np.ndarray  # (h, w, 3) float32
    alpha: np.ndarray  # (h, w) float32
    reach: np.ndarray | None = None  # (h, w) float32: alpha added where `warp`'s reach is 1

    def warp(self, affine: np.ndarray, box_origin, size, reach: float = 0.0,
             bend: "Bend | None" = None) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, alpha) in an output box: affine maps rest photo -> output frame pixels;
        `reach` (0..1): how much of the sprite's `reach` alpha joins its alpha; `bend`: each
        output column moved further by the arch's own displacement there (`pose_bends`)."""
        t = affine.copy()
        t[:, 2] += t[:, :2] @ self.origin - np.asarray(box_origin, np.float64)
        alpha = self.alpha if self.reach is None or reach <= 0.0 else \
            self.alpha + reach * self.reach
        if bend is None or not bend.moves:
            rgb = cv2.warpAffine(self.rgb, t, size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
            a = cv2.warpAffine(alpha, t, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            return rgb, a
        # Output pixel p shows what the affine alone puts at p - bend(p's column).
        inv = cv2.invertAffineTransform(t)
        bx = np.arange(size[0], dtype=np.float64)
        d = bend.at(bx + box_origin[0])
        px = bx[None, :] - d[None, :, 0]
        py = np.arange(size[1], dtype=np.float64)[:, None] - d[None, :, 1]
        mx = (inv[0, 0] * px + inv[0, 1] * py + inv[0, 2]).astype(np.float32)
        my = (inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]).astype(np.float32)
        rgb = cv2.remap(self.rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        a = cv2.remap(alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=0)
        return rgb, a


@dataclass(frozen=True)
class Bend:
    """A row of teeth is an arch, not a flat surface: a nod or a turn moves its middle (nearer
    the camera) unlike its corners, as it moves the lips' middle unlike their corners. The
    displacement d (K, 2) of the arch's points beyond its rigid affine, at their frame x (K,),
    interpolated per column and held past the ends (`pose_bends`)."""

    x: np.ndarray
    d: np.ndarray

    @property
    def moves(self) -> bool:
        return bool(np.abs(self.d).max() > 1e-3)

    def at(self, xs: np.ndarray) -> np.ndarray:
        order = np.argsort(self.x)
        kx = self.x[order]
        return np.stack([np.interp(xs, kx, self.d[order, 0]),
                         np.interp(xs, kx, self.d[order, 1])], axis=-1)

    def shifted(self, origin) -> "Bend":
        return Bend(self.x - float(origin[0]), self.d)


def _arch_length(a: float, b: float):
    """theta -> arc length along the ellipse x = a sin(theta), z = b (1 - cos(theta))."""
    th = np.linspace(0.0, np.pi / 2, 256)
    ds = np.hypot(a * np.cos(th), b * np.sin(th))
    s = np.concatenate([[0.0], np.cumsum((ds[1:] + ds[:-1]) / 2 * np.diff(th))])
    return lambda t: np.interp(t, th, s)


def tooth_row(box: tuple[int, int, int, int], cx: float, edge, half_width: float, iod: float,
              teeth_mm, upper: bool, colour: np.ndarray, gum: np.ndarray, light_x: float,
              gap_dark: float = 0.3, supersample: int = 3) -> Sprite:
    """One row of teeth (one arch, both halves) as a sprite over `box` (x0, y0, x1, y1).

    The row stands on an elliptic arch (half width `half_width`, depth 1.2x that) centred at
    x = cx; `edge(x)` is the incisal edge's height in the photo; crowns run from it towards the
    gums (up for the upper row), with gum above them. Teeth are placed by arc length along the
    arch, so they narrow towards the corners as a real arch seen from the front.
    """
    x0, y0, x1, y1 = box
    ss = supersample
    xs = x0 + (np.arange((x1 - x0) * ss) + 0.5) / ss - 0.5
    ys = y0 + (np.arange((y1 - y0) * ss) + 0.5) / ss - 0.5
    a, b = half_width, 1.2 * half_width
    arc = _arch_length(a, b)
    X = (xs - cx) / a
    theta = np.arcsin(np.clip(X, -1.0, 1.0))
    s = arc(np.abs(theta))  # (W,) arc length from the midline
    w_mm = np.array([t[0] for t in teeth_mm])
    h_mm = np.array([t[1] for t in teeth_mm])
    canine_s = arc(np.arcsin(CANINE_AT))
    scale = canine_s / w_mm[:3].sum()  # pixels per mm along the arch
    bounds = np.concatenate([[0.0], np.cumsum(w_mm * scale)])
    k = np.clip(np.searchsorted(bounds, s, side="right") - 1, 0, len(w_mm) - 1)
    u = 2 * (s - bounds[k]) / (w_mm[k] * scale) - 1  # -1..1 across each tooth
    width = w_mm[k] * scale
    height = h_mm[k] * iod / IOD_MM
    # Rounded incisal corners (embrasures) and pointed canines; the back teeth's edges rise
    # towards the gums (curve of Spee).
    corner = np.clip((np.abs(u) - 0.55) / 0.45, 0.0, 1.0)
    recede = 0.08 * width * (1 - np.sqrt(1 - corner ** 2))
    recede = np.where(k == 2, 0.12 * width * np.abs(u) ** 1.5, recede)
    z = b * (1 - np.cos(theta))  # (W,) depth behind the front of the arch
    recede = recede + 0.05 * iod * (1 - np.cos(theta))
    # No two teeth alike: per tooth and side, a slightly longer or shorter crown, a tilted edge
    # and a shade (fixed seed: every frame and every run the same).
    rng = np.random.default_rng(2 if upper else 3)
    side = (X > 0).astype(int)
    spread = np.array([0.007 * iod, 0.005 * iod, 0.05])[:, None, None]  # length, tilt, shade
    jitter_len, jitter_tilt, jitter_shade = rng.uniform(-1, 1, (3, 2, len(w_mm))) * spread
    recede = recede + jitter_len[side, k] + jitter_tilt[side, k] * u
    sign = 1.0 if upper else -1.0
    v = sign * (edge(xs)[None, :] - ys[:, None]) - recede[None, :]  # into the tooth (pixels)
    inside = (v >= 0) & (np.abs(X) < 1)[None, :]
    crown = inside & (v <= height[None, :])
    # Shading: convex crown, dark gaps, darker further back, lit side brighter, a greyer edge.
    convex = 0.88 + 0.12 * (1 - u ** 2)
    gap = 1 - gap_dark * _smooth((np.abs(u) - 0.84) / 0.16)
    depth = np.exp(-z / (DEPTH_IOD * iod))
    light = 1 + 0.25 * light_x * np.sin(theta)
    col_shade = (convex * gap * depth * light * (1 + jitter_shade[side, k]))[None, :, None]
    edge_t = np.exp(-v / (0.02 * iod))[..., None]
    # darker towards the gum (the lower row: down into the lower lip's shade, from lit tips)
    neck = 1 - (0.1 if upper else LOWER_NECK_DARK) * np.clip(v / height[None, :], 0, 1)[
        ..., None] ** (2 if upper else 1)
    tooth = colour * col_shade * neck * (1 - edge_t * np.array([0.08, 0.07, 0.04], np.float32))
    gums = gum * (depth * light)[None, :, None] * np.ones_like(edge_t)
    rgb = np.where(crown[..., None], tooth, gums).astype(np.float32)
    fade = _smooth((np.pi * 0.47 - np.abs(theta)) / 0.12)  # the arch vanishes at the back
    alpha = (inside * fade[None, :]).astype(np.float32)
    size = (x1 - x0, y1 - y0)
    rgb = cv2.resize(rgb * alpha[..., None], size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    rgb = rgb / np.maximum(alpha, 1e-4)[..., None]
    return Sprite(np.array([x0, y0], np.float64), rgb.astype(np.float32), alpha)


def tongue_sprite(box, cx: float, top: float, half_width: float, iod: float,
                  colour: np.ndarray, light_x: float) -> Sprite:
    """The tongue's back as a lit half-ellipsoid (top at `top`), with a median groove."""
    x0, y0, x1, y1 = box
    rx, ry = half_width, TONGUE_HALF_HEIGHT * iod
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    nx = (xs[None, :] - cx) / rx
    ny = (ys[:, None] - (top + ry)) / ry
    r2 = nx * nx + ny * ny
    nz = np.sqrt(np.clip(1 - r2, 0, 1))
    light = np.array([0.3 * light_x, -0.7, 0.65])
    light /= np.linalg.norm(light)
    lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    # The median groove, faint and fading out towards the tip (a 0.3-deep line cut off at
    # ny 0.3 read as drawn down the tongue).
    groove = 1 - GROOVE_DARK * np.exp(-(nx / 0.05) ** 2) * np.clip((0.3 - ny) / 0.6, 0, 1)
    # Its back lies deeper in the mouth than its front: darker towards the top of the mound,
    # which fades into the cavity (a crisp, lit top edge read as a flat disc pasted in).
    back = TONGUE_BACK_DARK + (1 - TONGUE_BACK_DARK) * _smooth((ny + 1.0) / TONGUE_BACK_SPAN)
    # A wet surface: a soft highlight where it faces the light, off the middle of the mound.
    gloss = TONGUE_GLOSS * np.exp(-((nx - 0.25 * light_x) / 0.35) ** 2
                                  - ((ny + 0.6) / 0.15) ** 2)
    shade = (0.3 + 0.7 * lambert * groove) * back
    rgb = colour * shade[..., None] + (gloss * float(colour.max()))[..., None]
    # Its top fades into the cavity outwards (faded inwards, the dark showed more crescent).
    fade = np.where(ny < 0, TONGUE_TOP_FADE, 0.08)
    grow = np.where(ny < 0, _tongue_top_grow(), 0.0)
    alpha = _smooth((1 - r2 + grow) / fade).astype(np.float32)
    return Sprite(np.array([x0, y0], np.float64), rgb.astype(np.float32), alpha)


def _cheeks(image: np.ndarray, landmarks: np.ndarray, iod: float) -> list[np.ndarray]:
    """Mean RGB of a patch on each cheek (image left first)."""
    r = max(int(0.12 * iod), 2)
    got = []
    for i in (M.RIGHT_CHEEK, M.LEFT_CHEEK):
        u, v = np.round(landmarks[i, :2]).astype(int)
        patch = image[max(v - r, 0):v + r, max(u - r, 0):u + r].astype(np.float32)
        got.append(patch.reshape(-1, 3).mean(0) if patch.size else np.full(3, 128, np.float32))
    return got


def _sclera_luma(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Luminance of the brightest eye white (95th percentile inside the lids, off the iris);
    0 when the eyes show too few pixels."""
    uv = landmarks[:, :2]
    h, w = image.shape[:2]
    got = []
    for ring, iris in ((M.RIGHT_EYE_RING, M.RIGHT_IRIS), (M.LEFT_EYE_RING, M.LEFT_IRIS)):
        found = _polygon_in_box(uv[list(ring)], 1.0, w, h)
        if found is None:
            continue
        (x0, y0, x1, y1), mask = found
        r = np.mean(np.linalg.norm(uv[list(iris[1:])] - uv[iris[0]], axis=1)) * 1.15
        yy, xx = np.mgrid[y0:y1, x0:x1]
        keep = (mask > 0.9) & (np.hypot(xx - uv[iris[0], 0], yy - uv[iris[0], 1]) > r)
        got.append(_luma(image[y0:y1, x0:x1][keep].astype(np.float32)))
    lum = np.concatenate(got) if got else np.zeros(0, np.float32)
    return float(np.percentile(lum, 95)) if lum.size >= 6 else 0.0


def scene_colours(image: np.ndarray, landmarks: np.ndarray, iod: float):
    """(teeth, tongue) RGB for a photo that hides them: teeth are an off-white lit like the eye
    whites (or at least 1.45x the cheeks' brightness), tinted a little by the skin's cast
    (the light's colour); the tongue is a pink under the same light, in the mouth's shade."""
    cheek = np.mean(_cheeks(image, landmarks, iod), axis=0)
    cheek_l = float(_luma(cheek[None])[0])
    lum = float(np.clip(max(_sclera_luma(image, landmarks), 1.45 * cheek_l), 60.0, 235.0))
    cast = cheek / max(cheek_l, 1.0)
    hue = 0.85 * np.array([1.08, 1.0, 0.84]) + 0.15 * cast  # ivory, in the light's cast
    teeth = lum * hue / float(_luma(hue[None].astype(np.float32))[0])
    pink = np.array([1.4, 0.78, 0.76]) * (0.8 + 0.2 * cast)
    tongue = 0.5 * lum * pink / float(_luma(pink[None].astype(np.float32))[0])
    return (np.clip(teeth, 0, 255).astype(np.float32), np.clip(tongue, 0, 255).astype(np.float32))


def _light_x(image: np.ndarray, landmarks: np.ndarray, iod: float) -> float:
    """Horizontal light direction from the two cheeks' brightness (+1: from the image right)."""
    left_img, right_img = (float(_luma(c[None])[0]) for c in _cheeks(image, landmarks, iod))
    return float(np.clip(2.0 * (right_img - left_img) / max(right_img + left_img, 1.0), -1, 1))


def _upper_edge_from_photo(interior: np.ndarray, mask: np.ndarray, origin: np.ndarray,
                           fallback) -> tuple[object, float]:
    """Where the photo's upper teeth end, per column (the first bright run from the top of the
    opening), fitted by a parabola; and how much of the opening's width shows teeth."""
    lum = _luma(interior)
    inside = mask > 0.5
    vals = lum[inside]
    if vals.size < 8:
        return fallback, 0.0
    thr = 0.5 * (np.percentile(vals, 90) + np.percentile(vals, 10))
    bright = (lum > thr) & inside
    cols, edges = [], []
    for j in range(mask.shape[1]):
        rows = np.flatnonzero(inside[:, j])
        if rows.size < 2:
            continue
        run = bright[rows, j]
        first = np.argmax(run)
        if not run[first] or first > 0.4 * rows.size:
            continue
        end = first + np.argmin(run[first:]) if not run[first:].all() else rows.size
        if end >= 0.85 * rows.size and rows.size >= 6:
            # The rows touch (a broad smile): split at the dark line between them.
            prof = lum[rows, j]
            lo, hi = int(0.35 * rows.size), int(0.9 * rows.size)
            k = lo + int(np.argmin(prof[lo:hi]))
            if prof[k] < 0.85 * np.median(prof[first:]):
                end = k
        cols.append(j)
        edges.append(rows[0] + end - 0.5)
    if len(cols) < 3:
        return fallback, 0.0
    cols = np.array(cols, float) + origin[0]
    edges = np.array(edges, float) + origin[1]
    coef = np.polyfit(cols, edges, 2 if len(cols) >= 6 else 1)
    share = len(cols) / max(int(inside.any(0).sum()), 1)
    return (lambda x: np.polyval(coef, x)), share


@dataclass(frozen=True)
class MouthLayer:
    iod: float  # pixels
    upper_teeth: Sprite
    lower_teeth: Sprite
    tongue: Sprite
    interior_upper: Sprite | None  # the photo's opening above its upper teeth's edge (skull)
    interior_dark: Sprite | None  # the rest below the edge (jaw), fading as the lips part
    rest_gap: float  # pixels: the photo's own lip gap at the middle
    cavity_deep: np.ndarray  # (3,) RGB at the back of the mouth
    cavity_lip: np.ndarray  # (3,) RGB of the mucosa next to the lips
    soften: float = 0.0  # pixels: Gaussian sigma the drawn mouth is blurred by (a soft photo)
    rest_upper: np.ndarray | None = None  # (K, 2) an open photo's inner upper lip at rest
    gum: np.ndarray | None = None  # (3,) RGB of the gums
    grain: float = 0.0  # the photo's fine-detail noise around the lips (`photo_grain`), 0..255
    # An open photo showing its upper teeth: where they end, as a share of its lip gap down
    # from the upper lip at the middle (the rig's tucked lower lip rises the rest: /f v/)
    teeth_share: float | None = None

    @classmethod
    def prepare(cls, image: np.ndarray, landmarks: np.ndarray, iod: float,
                lip_gap: float | None = None) -> "MouthLayer":
        """`lip_gap`: the portrait's rest lip gap / mouth width (`Portrait.rest_lip_gap`), the
        smaller of the face mesh's readings of the photo and of this crop: where it finds the
        lips closed, this crop's landmarks alone do not make the photo an open one."""
        uv = landmarks[:, :2].astype(np.float64)
        h, w = image.shape[:2]
        outer = uv[list(M.OUTER_MOUTH_RING)]
        box = _box(outer, 2.0, w, h)
        x0, y0, x1, y1 = box
        origin = np.array([x0, y0], np.float64)
        size = (y1 - y0, x1 - x0)
        mask = _poly_mask(size, opening_outline(uv, iod) - origin)
        lips = (_poly_mask(size, outer - origin) - mask).clip(0)
        crop = image[y0:y1, x0:x1].astype(np.float32)
        lip_colour = (crop * lips[..., None]).sum((0, 1)) / max(float(lips.sum()), 1.0)
        light_x = _light_x(image, landmarks, iod)

        up_line = _line(uv[list(M.LIPS_INNER_UPPER)])
        low_line = _line(uv[list(M.LIPS_INNER_LOWER)])
        mid_x = float(uv[[M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]], 0].mean())
        half_w = 0.5 * float(np.linalg.norm(uv[M.MOUTH_LEFT] - uv[M.MOUTH_RIGHT]))
        rest_gap = float(max(low_line(mid_x) - up_line(mid_x), 0.0))
        if lip_gap is not None and lip_gap * 2 * half_w <= OPEN_GAP * iod < rest_gap:
            # Pressed lips that show as one dark band (a soft photo without colour: donilon in
            # greyscale) read as parted in this crop only: closed lips, drawn teeth, not the
            # band as the photo's own inside.
            rest_gap = lip_gap * 2 * half_w

        def closed_line(x):
            return 0.5 * (up_line(x) + low_line(x))

        def upper_edge(x):  # hidden at rest: UPPER_SHOW under the closed lips' line
            return closed_line(x) + UPPER_SHOW * iod

        interior_upper = interior_dark = None
        teeth = teeth_share = None
        if rest_gap > OPEN_GAP * iod:  # the photo's mouth is open: its own teeth and colour
            inside = crop[mask > 0.5]
            lum = _luma(inside)
            bright = inside[lum > np.percentile(lum, 70)]
            if len(bright) and _luma(bright.mean(0)[None])[0] > 1.3 * _luma(lip_colour[None])[0]:
                teeth = bright.mean(0)
            edge, share = _upper_edge_from_photo(crop, mask, origin, None)
            if edge is not None and share > 0.3:
                upper_edge = edge
                teeth_share = float(np.clip((edge(mid_x) - up_line(mid_x)) / rest_gap,
                                            TEETH_SHARE_MIN, TEETH_SHARE_MAX))
            yy = np.arange(y0, y1, dtype=np.float64)[:, None]
            xx = np.arange(x0, x1, dtype=np.float64)[None, :]
            above = np.clip(upper_edge(xx) + 0.5 - yy, 0.0, 1.0).astype(np.float32)
            # Pose alone moves the opening and the two parts a pixel or two apart, and there
            # the drawn inside showed through (a dashed grey line of drawn lower teeth along
            # the lower lip, a line under the teeth): the part below the teeth's edge reaches
            # OWN_REACH IOD up under them, and both reach as far past the opening's outline
            # (the photo's own lip pixels) while no expression moves the lips (`draw`).
            reach = OWN_REACH * iod
            k = 2 * int(np.ceil(reach)) + 1
            own = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) - mask
            under = np.clip(upper_edge(xx) + 0.5 - reach - yy, 0.0, 1.0).astype(np.float32)
            interior_upper = Sprite(origin, crop, mask * above, own * above)
            # Below the upper teeth (the photo's lower teeth tips, the dark between): rides the
            # jaw and gives way to the synthetic cavity and lower teeth as the lips part
            # (`draw`). Kept, the photo's lower teeth broke up into white specks along the lip.
            interior_dark = Sprite(origin, crop, mask * (1 - under), own * (1 - above))
        synth_teeth, tongue_col = scene_colours(image, landmarks, iod)
        teeth = synth_teeth if teeth is None else teeth.astype(np.float32)
        gum = np.clip(0.85 * lip_colour + [12, -4, -4], 0, 255).astype(np.float32)
        deep = (0.16 * lip_colour + [4, 1, 1]).astype(np.float32)
        near = (LIP_EDGE * lip_colour).astype(np.float32)  # the mucosa next to the lips
        # A toned monochrome print (sepia, black and white) has lips no redder than the skin:
        # the mouth's colours then take the print's tone at their own brightness.
        cheek = np.mean(_cheeks(image, landmarks, iod), axis=0)
        redder = (lip_colour[0] / max(lip_colour[1], 1.0)) / (cheek[0] / max(cheek[1], 1.0)) - 1
        colour = float(np.clip(redder / MONO_REDDER, 0.0, 1.0))
        if colour < 1.0:
            cast = cheek / max(float(_luma(cheek[None].astype(np.float32))[0]), 1.0)
            teeth, gum, tongue_col, deep, near = (
                np.clip(colour * c + (1 - colour) * _luma(c[None])[0] * cast, 0, 255)
                .astype(np.float32) for c in (teeth, gum, tongue_col, deep, near))

        def lower_edge(x):
            return low_line(x) - LOWER_OVERBITE * iod

        reach = 0.3 * iod + 2
        span = np.linspace(mid_x - half_w, mid_x + half_w, 32)
        ue, le = upper_edge(span), lower_edge(span)
        bx0, bx1 = int(mid_x - half_w) - 2, int(mid_x + half_w) + 3
        upper_teeth = tooth_row((bx0, int(ue.min() - reach), bx1, int(ue.max()) + 3), mid_x,
                                upper_edge, 0.92 * half_w, iod, UPPER_TEETH_MM, True, teeth, gum,
                                light_x)
        lower_teeth = tooth_row((bx0, int(le.min()) - 2, bx1, int(le.max() + reach)), mid_x,
                                lower_edge, 0.84 * half_w, iod, LOWER_TEETH_MM, False,
                                LOWER_SHADE * teeth * LOWER_TINT, gum, light_x,
                                gap_dark=LOWER_GAP_DARK)
        lo_y = float(lower_edge(np.array([mid_x]))[0])
        top = lo_y + TONGUE_BELOW * iod
        # up to where its top's fade ends, above `top` (0.045 IOD): the box cut 0.03 IOD above
        # it, where a large face's fade was still 0.03 opaque
        above = TONGUE_HALF_HEIGHT * iod * (np.sqrt(1.0 + _tongue_top_grow()) - 1.0)
        gb = (bx0, int(top - above) - 2, bx1, int(top + 0.5 * iod) + 2)
        tongue = tongue_sprite(gb, mid_x, top, 0.85 * half_w, iod, tongue_col, light_x)
        return cls(float(iod), upper_teeth, lower_teeth, tongue,
                   interior_upper, interior_dark, rest_gap, deep, near,
                   extra_blur(image, outer),
                   uv[list(M.LIPS_INNER_UPPER)] if interior_upper is not None else None, gum,
                   photo_grain(crop, lips + mask), teeth_share)

    def draw(self, out: np.ndarray, uv: np.ndarray, skull: np.ndarray, jaw: np.ndarray,
             roll_lower: float = 0.0, lifted: float = 0.0, protrude: float = 0.0,
             rest_lip: np.ndarray | None = None, rest_lower: np.ndarray | None = None,
             smiles: tuple[float, float] = (0.0, 0.0),
             bends: "tuple[Bend, Bend] | None" = None) -> None:
        """Fill the current inner-lip opening. out: (H, W, 3) float32, in place; uv: (478, 2)
        current landmark positions in `out`'s pixels; skull, jaw: 2x3 affines taking the photo's
        rest pixels to `out`'s for what rides the skull and the jaw (`motion_affines`);
        roll_lower: mouthRollLower (0..1): the upper teeth then rest on the lower lip (/f v/);
        lifted (0..1): how far the upper lip is raised off the teeth (`lift_weight`);
        protrude (0..1): how far the lips are pushed forward of the teeth (`protrusion`);
        rest_lip: (K, 2) the inner upper lip with the head's pose alone (`posed_rest_lip`):
        where the lip is raised above that, an open photo's teeth go on up under it
        (`_under_raised_lip`); rest_lower: the inner lower lip with the head's pose alone
        (`posed_rest_lower`): with rest_lip, the photo's own lip gap as the pose shows it, from
        which the part of its interior below the teeth gives way as the lips part (a nod
        changes the gap on screen, and faded it); smiles: (image left, image right) mouthSmile
        of the side whose corner is there (`smile_sides`): the inside darkens towards that
        corner; bends: (upper, lower) the inner lips' own motion under the head's pose beyond
        the skull's affine and the jaw's pose (`pose_bends`), in `out`'s pixels: what rides the
        skull bends with the upper lip, what rides the jaw with the lower."""
        h, w = out.shape[:2]
        bend, bend_lower = bends if bends is not None else (None, None)
        if roll_lower > 0.0 and self.interior_upper is None:
            # (an open photo's lower lip rises under its own teeth: the rig's tuck rows)
            self._teeth_on_lower_lip(out, uv, skull, min(2.0 * roll_lower, 1.0), bend)
        area = opening_area(uv)
        if area < 1.0:
            return  # closed (or sealed) lips: the warp is all there is (no anti-aliased outline)
        ring = opening_outline(uv, self.iod)
        found = _polygon_in_box(ring, 2.0, w, h)
        if found is None:
            return
        (x0, y0, x1, y1), mask = found
        # A sliver's anti-aliased outline covers more than its area: no brighter than its area.
        # (So is every opening's, by ~12 %: they are drawn 87-91 % opaque. Drawn whole, each
        # pixel's share inside the outline, the face mesh read the astronaut's blink and smile
        # and obama_standing's funnel worse: docs/renderer.md, "A soft edge".)
        mask *= min(1.0, area / max(float(mask.sum()), 1e-6))
        iod = self.iod
        size = (x1 - x0, y1 - y0)
        tongue = skull + TONGUE_FOLLOW * (jaw - skull)
        jaw = skull + LOWER_TEETH_FOLLOW * (jaw - skull)
        # Cavity: mucosa colour at the lips, darkening inwards and towards the corners.
        inside = (mask > 0.3).astype(np.uint8)
        dist = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)
        corners = uv[[M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]]]
        cx = float(corners[:, 0].mean())
        half = max(float(np.abs(corners[1, 0] - corners[0, 0])) / 2, 1.0)
        side = np.clip(np.abs(xs - cx) / half, 0, 1)[None, :]
        # Down the opening, column by column: 0 at the upper lip, 1 at the lower.
        upper_line = _line(uv[list(M.LIPS_INNER_UPPER)])
        lower_line = _line(uv[list(M.LIPS_INNER_LOWER)])
        upper, lower = upper_line(xs), lower_line(xs)
        down = np.clip((ys[:, None] - upper[None, :]) / np.maximum(lower - upper, 1.0)[None, :],
                       0.0, 1.0)
        # The cavity: darkest under the upper teeth and in the middle (the throat), a little
        # light on its floor and towards the corners (a flat fill read as drawn); the mucosa
        # next to the lips, giving way to the dark inwards.
        light = CAVITY_TOP + (CAVITY_FLOOR - CAVITY_TOP) * _smooth(down)
        light = light * (CAVITY_MIDDLE + (1 - CAVITY_MIDDLE) * side ** 2)
        canvas = self.cavity_deep * light[..., None]
        near = np.exp(-dist / (LIP_EDGE_IOD * iod)) * (1 - 0.5 * side ** 2)
        canvas = (canvas + (self.cavity_lip - canvas) * near[..., None]).astype(np.float32)
        for sprite, aff, bent in ((self.tongue, tongue, None), (self.lower_teeth, jaw, bend_lower),
                                  (self.upper_teeth, skull, bend)):
            rgb, a = sprite.warp(aff, (x0, y0), size, bend=bent)
            canvas += (rgb - canvas) * a[..., None]
        buccal = None
        if max(smiles) > 0.0:
            # A smile draws the corners back from the teeth: the dark buccal corridors.
            s = np.where(xs < cx, smiles[0], smiles[1])[None, :]
            buccal = (1 - BUCCAL_DARK * s * side ** 2)[..., None]
            canvas *= buccal
        # The upper lip shades what is just below it.
        below = np.clip(ys[:, None] - upper[None, :], 0, None)
        if self.interior_upper is not None:
            protrude = 0.0  # an open photo's teeth: lit as photographed
        reach = SHADOW_IOD * iod * (1.0 + PROTRUDE_REACH * protrude)
        shadow = 0.55 * np.exp(-below / reach)
        if protrude > 0.0:  # the lower lip, pushed forward, shades what is just above it
            above = np.clip(lower[None, :] - ys[:, None], 0, None)
            lower_dark = min(PROTRUDE_LOWER * protrude * 0.55, 1.0)
            shadow = 1 - (1 - shadow) * (1 - lower_dark * np.exp(-above / reach))
        if self.rest_upper is not None and lifted > 0.0:
            # An open photo shows its teeth lit right up to the lip: where the lip is raised
            # off them (mouthUpperUp, /f v/), what it uncovers is as lit as the photo's teeth.
            top = np.hstack([self.rest_upper, np.ones((len(self.rest_upper), 1))]) @ skull.T
            if bend is not None:
                top = top + bend.at(top[:, 0])
            uncovered = np.clip(_line(top)(xs)[None, :] - ys[:, None] + 0.5, 0.0, 1.0)
            shadow *= 1.0 - min(lifted, 1.0) * uncovered
        canvas *= (1 - shadow)[..., None]
        if self.grain > 0.0:
            # The photo's grain: a drawn inside without it reads as pasted in. A fixed pattern
            # in the frame's pixels (no flicker; the same frame renders the same bytes).
            g = _GRAIN[np.arange(y0, y1) % _GRAIN.shape[0]][:, np.arange(x0, x1)
                                                             % _GRAIN.shape[1]]
            # Shot noise: weaker in the dark (the cavity), as sqrt of the brightness.
            level = np.sqrt(np.clip(_luma(canvas), 0.0, 255.0) / GRAIN_AT)
            canvas += (GRAIN_SHARE * self.grain * g * level)[..., None]
        if self.interior_upper is not None:
            # The photo's own interior: at rest exactly the photo; the part below its upper
            # teeth rides the jaw and gives way to the layers above as the lips part past the
            # photo's gap or the jaw drops (a lower lip tucked up under the teeth over a
            # dropped jaw, /f v/, parts no lips: the photo's lower teeth showed under them).
            p = np.append(self.rest_upper.mean(0), 1.0)
            drop = float((jaw @ p)[1] - (skull @ p)[1])
            opened = max(opened_share(cx, upper_line, lower_line, self.rest_gap, rest_lip,
                                      rest_lower, iod), float(_smooth(drop / (0.06 * iod))))
            # Past the outline (`prepare`) only while no expression moves the corners: a
            # smile moves them many pixels, and the photo's lip pixels filled its corridors.
            reach = 0.0
            if rest_lip is not None:
                moved = np.abs(corners - rest_lip[[0, -1]]).max()
                reach = 1.0 - float(_smooth(moved / (0.5 * OWN_REACH * iod)))
            rgb, a = self.interior_dark.warp(jaw, (x0, y0), size, reach, bend_lower)
            canvas += (rgb - canvas) * (a * (1 - opened))[..., None]
            rgb, a = self.interior_upper.warp(skull, (x0, y0), size, reach, bend)
            if rest_lip is not None:
                rgb, a = self._under_raised_lip(rgb, a, _line(rest_lip)(xs), upper, ys,
                                                (x0, y0))
            if buccal is not None:
                rgb *= buccal
            canvas += (rgb - canvas) * a[..., None]
        if self.soften > 0.0:
            # As soft as the photo around it: crisp teeth in a blurred face look pasted in.
            canvas = cv2.GaussianBlur(canvas, (0, 0), self.soften)
            mask = cv2.GaussianBlur(mask, (0, 0), self.soften)
        # (A sharp photo's edge blurred all the same, 0.7 px, read less drawn at 5x, but the
        # face mesh read the astronaut's smiles and obama_desk's funnel worse than f2d8a42's:
        # docs/renderer.md, "A soft edge".)
        roi = out[y0:y1, x0:x1]
        roi += (canvas - roi) * mask[..., None]

    def _under_raised_lip(self, rgb: np.ndarray, a: np.ndarray, rest: np.ndarray,
                          upper: np.ndarray, ys: np.ndarray, box_origin):
        """An open photo's interior (rgb, a: riding the skull, in a box at `box_origin`;
        changed in place and returned) where
        the upper lip is raised above where the photo had it (`upper`, `rest`: its inner edge's
        y per column of the box, now and with the head's pose alone). The teeth stay on the
        skull and the lip uncovers more of them: from the lip down to the photo's first row of
        tooth under its lip (LIP_SHADE_BAND IOD under it), each column shows that row's tooth
        going on up, into the gum from HIDDEN_CROWN IOD above where the lip lay, darkened as
        the photo's band under its lip is (the lip's shadow moves with the lip). The layer drew
        a dark strip of shadowed synthetic teeth there, out of line with the photo's own, or a
        flat band of gum (docs/renderer.md)."""
        lift = np.maximum(rest - upper, 0.0)
        if float(lift.max()) < 0.05:
            return rgb, a  # nowhere raised
        iod = self.iod
        band = LIP_SHADE_BAND * iod
        first = rest + band  # the photo's first row of tooth under its lip
        # Only the rows from the highest lip to the lowest such row change.
        r0 = max(int(np.floor(upper.min() - 2 - box_origin[1])), 0)
        r1 = min(int(np.ceil(first.max() + 1 - box_origin[1])), len(ys))
        if r1 <= r0:
            return rgb, a
        ys = ys[r0:r1]
        y = ys[:, None] - upper[None, :]  # pixels under the lip now
        cols = np.arange(rgb.shape[1], dtype=np.float32)

        def rows(img, at, border):  # img sampled at (H', W) source rows (frame y)
            map_y = (at - box_origin[1]).astype(np.float32)
            map_x = np.ascontiguousarray(np.broadcast_to(cols[None, :], map_y.shape))
            return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=border,
                             borderValue=0)

        # The tooth's colour from a little further in, clear of the dark gaps at its top.
        replicate = cv2.BORDER_REPLICATE
        tooth = rows(rgb, first[None, :] + TOOTH_SAMPLE * iod, replicate)  # (1, W, 3)
        tooth_a = rows(a, first[None, :], cv2.BORDER_CONSTANT)  # (1, W)
        under = rows(rgb, rest[None, :] + np.clip(y, 0.0, band), replicate)  # the band, moved up
        shade = np.clip(_luma(under) / np.maximum(_luma(tooth), 1.0), 0.0, 1.0)
        shade = cv2.GaussianBlur(shade, (0, 0), sigmaX=0.02 * iod, sigmaY=1e-3)[..., None]
        above = first[None, :] - ys[:, None]  # pixels above the first row of tooth
        gum = _smooth((above - band - HIDDEN_CROWN * iod) / (0.02 * iod))[..., None]
        uncovered = (tooth + (self.gum - tooth) * gum) * shade
        zone = ((y >= -1.5) & (above > 0)).astype(np.float32)  # from the lip to that row
        raised = zone * np.clip(lift, 0.0, 1.0)[None, :]  # the photo itself where not raised
        rgb[r0:r1] += (uncovered - rgb[r0:r1]) * raised[..., None]  # in place: sampled above
        # As opaque as that row from the lip down: the photo's lip edge, half inside its
        # opening, let the layers behind show through in a dashed grey line. Eased in over the
        # first pixel the lip rises, so a smile starting does not make the lip's edge jump.
        a[r0:r1] += (tooth_a - a[r0:r1]) * zone * min(float(lift.max()), 1.0)
        return rgb, a

    def draw_seam(self, out: np.ndarray, uv: np.ndarray, weight: float | tuple[float, float],
                  creases_only: bool = False) -> None:
        """Lips pressed together over a photo that showed its teeth: the shadowed line where
        they meet (the warp brings the two lips together, but the photo has no seam there). The
        line runs along the inner lips from corner to corner, darkest in the middle and at the
        corners' creases; `weight` (0..1): how far the lips are sealed, or (image left, image
        right): each half its own, blended across the middle. `creases_only`: the corners'
        creases alone, fading in towards them (a closed-lip smile: `crease_weights`)."""
        h, w = out.shape[:2]
        up = uv[list(M.LIPS_INNER_UPPER)]
        lo = uv[list(M.LIPS_INNER_LOWER)]
        lips = np.vstack([up, lo])
        x_a, x_b = float(lips[:, 0].min()), float(lips[:, 0].max())
        reach = SEAM_IOD * self.iod * 4
        x0, x1 = max(int(np.floor(x_a)) - 1, 0), min(int(np.ceil(x_b)) + 2, w)
        y0 = max(int(np.floor(lips[:, 1].min() - reach)), 0)
        y1 = min(int(np.ceil(lips[:, 1].max() + reach)) + 1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        line = 0.5 * (_line(up)(xs) + _line(lo)(xs))[None, :]
        r = np.clip(np.abs(xs - 0.5 * (x_a + x_b)) / max(0.5 * (x_b - x_a), 1.0), 0, 1)
        # darker into the corners' creases, fading out past them
        along = ((r * r if creases_only else 0.7 + 0.3 * r * r)
                 * (1 - _smooth((r - 0.85) / 0.15)))[None, :]
        if isinstance(weight, tuple):
            right = _smooth((xs - 0.5 * (x_a + x_b)) / max(0.5 * (x_b - x_a), 1.0) + 0.5)
            weight = (weight[0] + (weight[1] - weight[0]) * right)[None, :]
        across = np.exp(-0.5 * ((ys - line) / (SEAM_IOD * self.iod)) ** 2)
        dark = SEAM_DARK * weight * along * across
        roi = out[y0:y1, x0:x1]
        roi *= (1 - dark)[..., None].astype(np.float32)

    def draw_pout(self, out: np.ndarray, uv: np.ndarray, weight: float) -> None:
        """Pouted lips (mouthPucker, 0..1): the lower lip stands out over the chin and shades
        the skin just below it (darkest under its middle), and its front catches the light.
        out: (H, W, 3) float32, in place; uv: landmark positions in its pixels."""
        if weight <= 0.0:
            return
        h, w = out.shape[:2]
        iod = self.iod
        outer_lo = uv[list(M.LIPS_OUTER_LOWER)]
        inner_lo = uv[list(M.LIPS_INNER_LOWER)]
        outer_up = uv[list(M.LIPS_OUTER_UPPER)]
        x_a, x_b = float(outer_lo[:, 0].min()), float(outer_lo[:, 0].max())
        reach = POUT_REACH * iod
        x0, x1 = max(int(np.floor(x_a)) - 1, 0), min(int(np.ceil(x_b)) + 2, w)
        y0 = max(int(np.floor(outer_up[:, 1].min())) - 1, 0)
        y1 = min(int(np.ceil(outer_lo[:, 1].max() + 3 * reach)) + 1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        half = max(0.5 * (x_b - x_a), 1.0)
        mid = np.clip(1 - np.abs(xs - 0.5 * (x_a + x_b)) / half, 0, 1)[None, :]  # 1 mid, 0 ends
        lo_out = _line(outer_lo)(xs)[None, :]
        below = ys - lo_out
        shade = POUT_SHADOW * weight * np.sqrt(mid) * np.clip(below / 1.5 + 0.5, 0, 1) \
            * np.exp(-np.clip(below, 0, None) / reach)
        lo_in = _line(inner_lo)(xs)[None, :]
        red = np.clip(lo_out - ys, 0, None) * np.clip(ys - lo_in, 0, None)
        band = np.maximum(lo_out - lo_in, 1.0)
        shine = POUT_SHINE * weight * mid * np.clip(4 * red / band ** 2, 0, 1)
        roi = out[y0:y1, x0:x1]
        roi *= ((1 - shade) * (1 + shine))[..., None].astype(np.float32)

    def _teeth_on_lower_lip(self, out: np.ndarray, uv: np.ndarray, skull: np.ndarray,
                            weight: float, bend: "Bend | None" = None) -> None:
        """/f v/: the lower lip rolled in under the upper teeth, whose edges then lie over its
        top (between the upper lip and the teeth's edge), with a soft shadow below them."""
        h, w = out.shape[:2]
        found = _polygon_in_box(uv[list(M.OUTER_MOUTH_RING)], 2.0, w, h)
        if found is None:
            return
        (x0, y0, x1, y1), _ = found
        size = (x1 - x0, y1 - y0)
        rgb, a = self.upper_teeth.warp(skull, (x0, y0), size, bend=bend)
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        upper_line = _line(uv[list(M.LIPS_INNER_UPPER)])
        upper = upper_line(xs)[None, :]
        lower = _line(uv[list(M.LIPS_INNER_LOWER)])(xs)[None, :]
        outer = _line(uv[list(M.LIPS_OUTER_LOWER)])(xs)[None, :]
        span = (xs > uv[M.MOUTH_RIGHT, 0]) & (xs < uv[M.MOUTH_LEFT, 0])
        on_lip = np.clip(ys - np.maximum(upper, lower) + 0.5, 0, 1) * np.clip(outer - ys, 0, 1)
        cover = (a * on_lip * span[None, :] * weight).astype(np.float32)
        if self.soften > 0.0:
            rgb = cv2.GaussianBlur(rgb, (0, 0), self.soften)
            cover = cv2.GaussianBlur(cover, (0, 0), self.soften)
        roi = out[y0:y1, x0:x1]
        # The teeth's edge shades the lip just below it.
        edge_shadow = np.clip(ys - np.maximum(upper, lower), 0, None)
        shade = 1 - 0.35 * weight * on_lip * (1 - a) * np.exp(-edge_shadow / (0.04 * self.iod))
        roi *= shade[..., None].astype(np.float32)
        roi += (rgb - roi) * cover[..., None]


def opened_share(cx: float, upper_line, lower_line, rest_gap: float,
                 rest_lip: np.ndarray | None, rest_lower: np.ndarray | None, iod: float) -> float:
    """An open photo: how far (0..1) its lips are parted past its own gap at the middle (x = cx),
    the inner lips' lines (`_line`) as they are now, the gap as the head's pose alone shows it
    when given (a nod is no opening)."""
    mid = float(lower_line(cx) - upper_line(cx))
    rest = rest_gap
    if rest_lip is not None and rest_lower is not None:
        rest = float(_line(rest_lower)(cx) - _line(rest_lip)(cx))
    return float(_smooth((mid - rest) / (0.06 * iod)))


def photo_grain(crop: np.ndarray, exclude: np.ndarray) -> float:
    """The photo's fine-detail noise (0..255, a standard deviation) around the mouth: the robust
    spread of its luminance minus a 1-pixel blur of it, off the lips and the opening (`exclude`
    > 0.5), scaled to what `_GRAIN`'s pattern, blurred the same way, keeps of itself."""
    lum = _luma(crop)
    fine = lum - cv2.GaussianBlur(lum, (0, 0), 1.0)
    keep = exclude < 0.5
    if keep.sum() < 64:
        return 0.0
    spread = 1.4826 * float(np.median(np.abs(fine[keep] - np.median(fine[keep]))))
    return spread / _GRAIN_FINE


def photo_blur(image: np.ndarray, outer: np.ndarray) -> float:
    """Blur (Gaussian sigma, pixels) of the photo's strongest edges around the lips (outer: the
    outer lip ring), by re-blurring: an edge of blur s blurred again by r keeps 1 / R of its
    peak gradient, R = sqrt(s^2 + r^2) / s. Includes the Sobel kernel's own ~0.8 px."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = _box(outer, 2.5, w, h)
    g = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    g = g.astype(np.float32)

    def grad(a):
        return np.hypot(cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3),
                        cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3))

    g0, g1 = grad(g), grad(cv2.GaussianBlur(g, (0, 0), REBLUR))
    strong = g0 > np.percentile(g0, 95)
    if not strong.any():
        return 0.0
    ratio = float(np.median(g0[strong] / np.maximum(g1[strong], 1e-3)))
    return REBLUR / float(np.sqrt(max(ratio * ratio - 1.0, 1e-3)))


def extra_blur(image: np.ndarray, outer: np.ndarray) -> float:
    """Sigma (pixels) to blur the drawn mouth by so it is as soft as the photo: none for a
    sharp photo (`SHARP_BLUR` or less), and only what the photo has beyond that."""
    s = photo_blur(image, outer)
    return float(np.sqrt(s * s - SHARP_BLUR ** 2)) if s > SHARP_BLUR else 0.0


def opening_outline(uv: np.ndarray, iod: float) -> np.ndarray:
    """The inner-lip opening's outline at landmark positions uv (478, 2): the inner ring made a
    smooth curve (`smooth_ring`), fully from a lip gap of SMOOTH_GAP IOD at the middle, less
    below it (a sliver between nearly closed lips keeps its straight sides)."""
    gap = float(uv[M.LIP_LOWER_INNER_MID, 1] - uv[M.LIP_UPPER_INNER_MID, 1])
    return smooth_ring(uv[list(M.INNER_MOUTH_RING)],
                       weight=min(max(gap / (SMOOTH_GAP * iod), 0.0), 1.0))


def smooth_ring(points: np.ndarray, per: int = 4, weight: float = 1.0) -> np.ndarray:
    """A closed polygon (K, 2) refined into a smooth closed curve through its points
    (centripetal Catmull-Rom, `per` points a side, K * per in all): the opening's outline then
    has no kinks where the lips' landmarks bend."""
    p1 = np.asarray(points, np.float64)
    p0, p2, p3 = np.roll(p1, 1, 0), np.roll(p1, -1, 0), np.roll(p1, -2, 0)
    frac = (np.arange(per) / per)[None, :, None]
    straight = p1[:, None, :] + (p2 - p1)[:, None, :] * frac  # (K, per, 2): the polygon's sides
    if weight <= 0.0:
        return straight.reshape(-1, 2)

    def knot(a, b):  # (K, 1, 1): the square root of the chord, never zero
        return np.sqrt(np.maximum(np.linalg.norm(b - a, axis=1), 1e-6))[:, None, None]

    t0 = np.zeros((len(p1), 1, 1))
    t1 = t0 + knot(p0, p1)
    t2 = t1 + knot(p1, p2)
    t3 = t2 + knot(p2, p3)
    t = t1 + (t2 - t1) * frac  # (K, per, 1)
    q0, q1, q2, q3 = (q[:, None, :] for q in (p0, p1, p2, p3))

    def lerp(a, b, ta, tb):
        return ((tb - t) * a + (t - ta) * b) / (tb - ta)

    a1, a2, a3 = lerp(q0, q1, t0, t1), lerp(q1, q2, t1, t2), lerp(q2, q3, t2, t3)
    c = lerp(lerp(a1, a2, t0, t2), lerp(a2, a3, t1, t3), t1, t2)
    return (straight + weight * (c - straight)).reshape(-1, 2)


def opening_area(uv: np.ndarray) -> float:
    """Area in pixels of the inner-lip opening at landmark positions uv (478, 2); under 1 the
    lips are closed and the mouth layer draws no interior."""
    ring = uv[list(M.INNER_MOUTH_RING)]
    return 0.5 * abs(float(np.dot(ring[:, 0], np.roll(ring[:, 1], -1))
                           - np.dot(ring[:, 1], np.roll(ring[:, 0], -1))))


def lift_weight(blendshapes: np.ndarray) -> float:
    """How far the upper lip is raised off the teeth (0..1): mouthUpperUp, full from
    LIFT_FULL."""
    from ..motion.names import INDEX

    up = max(float(blendshapes[INDEX["mouthUpperUpLeft"]]),
             float(blendshapes[INDEX["mouthUpperUpRight"]]))
    return min(max(up, 0.0) / LIFT_FULL, 1.0)


def protrusion(blendshapes: np.ndarray) -> float:
    """How far the lips are pushed forward of the teeth (0..1): mouthFunnel or mouthPucker."""
    from ..motion.names import INDEX

    return min(max(float(blendshapes[INDEX["mouthFunnel"]]),
                   float(blendshapes[INDEX["mouthPucker"]]), 0.0), 1.0)


def smile_sides(blendshapes: np.ndarray) -> tuple[float, float]:
    """(image left, image right): mouthSmile (0..1) of the side whose corner is there (the
    subject's right is the image's left)."""
    from ..motion.names import INDEX

    return tuple(min(max(float(blendshapes[INDEX[n]]), 0.0), 1.0)
                 for n in ("mouthSmileRight", "mouthSmileLeft"))


def crease_weights(blendshapes: np.ndarray) -> tuple[float, float]:
    """How deep a closed-lip smile's corner creases are, (image left, image right): the smile
    of that side (`smile_sides`) x CREASE_DARK."""
    return tuple(CREASE_DARK * s for s in smile_sides(blendshapes))


def posed_lips(rig, blendshapes: np.ndarray, rotation: np.ndarray,
               translation: np.ndarray) -> np.ndarray:
    """(len(POSED_POINTS), 2) frame pixels of the lips' points moved by the head pose alone:
    where the photo's lips would be without the expression (`motion_affines`' skull and the
    jaw's pose; `posed_rest_lip`)."""
    return rig.positions_depth(np.zeros_like(blendshapes), rotation, translation,
                               np.array(POSED_POINTS))[0]


def posed_rest_lip(head: np.ndarray) -> np.ndarray:
    """(K, 2) the inner upper lip (`M.LIPS_INNER_UPPER`) out of `posed_lips`' points."""
    return head[_INNER_UPPER_IN_POSED]


def posed_rest_lower(head: np.ndarray) -> np.ndarray:
    """(K, 2) the inner lower lip (`M.LIPS_INNER_LOWER`) out of `posed_lips`' points."""
    return head[_INNER_LOWER_IN_POSED]


def motion_affines(rig, rest_uv: np.ndarray, blendshapes: np.ndarray, rotation: np.ndarray,
                   translation: np.ndarray,
                   head: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(skull, jaw) 2x3 affines, photo pixels -> frame pixels: the head pose's rotation
    (`Rig.pose_linear`), placed where it takes the rig's upper lip; and the rig's lower lip and
    chin moved by the jaw shapes in the photo's pose, then posed as the inner lips around the
    opening are by the head alone (`JAW_POSE`).
    head: `posed_lips`' points when the caller has them (computed here when not)."""
    from ..motion.names import INDEX

    skull_idx, jaw_idx = np.array(SKULL_POINTS), np.array(JAW_POINTS)
    if head is None:
        head = posed_lips(rig, blendshapes, rotation, translation)
    jaw = _jaw_pose(rest_uv, head)  # the head's pose as the inner lips have it ...
    jaw_only = np.zeros_like(blendshapes)
    for name in JAW_SHAPES:
        jaw_only[INDEX[name]] = blendshapes[INDEX[name]]
    if jaw_only.any():  # ... after the jaw shapes, in the photo's pose
        still = np.zeros(3)
        moved = rig.positions_depth(jaw_only, still, still, jaw_idx)[0]
        jaw = jaw @ np.vstack([fit_affine(rest_uv[jaw_idx], moved), [0.0, 0.0, 1.0]])
    # The skull's: the head's rotation itself (the photo's teeth turn as one rigid surface),
    # placed where it takes the upper lip. Fitted on the upper lip's two thin rows of points,
    # at depths that differ along them, it sheared and squashed: on obama at yaw 20 each row
    # of teeth slid 1.2 px sideways per row down; at pitch 15 they kept 5 % of their height.
    linear = rig.pose_linear(rotation, translation)
    shift = head[_SKULL_IN_POSED].mean(0) - linear @ rest_uv[skull_idx].mean(0)
    return np.hstack([linear, shift[:, None]]), jaw


def pose_bends(rest_uv: np.ndarray, head: np.ndarray, skull: np.ndarray) -> tuple[Bend, Bend]:
    """(upper, lower): how the head's pose alone moves the inner upper and lower lips beyond the
    skull's affine and the jaw's pose (`motion_affines`), in frame pixels; the rows of teeth
    behind them, and the photo's interior, curve as they do. Obama nodded 20 degrees had the
    middle of his inner upper lip 3 px above the skull's affine (its corners 4-5 px below):
    his teeth, on the affine alone, slid under the lip and left a dark band above them, and
    the drawn inside showed between his own interior and the lips at the corners."""
    def bend(affine, idx, posed):
        moved = np.hstack([rest_uv[idx], np.ones((len(idx), 1))]) @ affine.T
        return Bend(posed[:, 0].copy(), posed - moved)

    return (bend(skull, list(M.LIPS_INNER_UPPER), head[_INNER_UPPER_IN_POSED]),
            bend(_jaw_pose(rest_uv, head), list(M.LIPS_INNER_LOWER), head[_INNER_LOWER_IN_POSED]))


def _jaw_pose(rest_uv: np.ndarray, head: np.ndarray) -> np.ndarray:
    """2x3: the head's pose as the inner lips around the opening have it (`JAW_POSE`), photo's
    rest pixels -> frame pixels (`motion_affines` composes the jaw's own motion after it)."""
    return fit_affine(rest_uv[np.array(JAW_POSE)], head[_RING_IN_POSED])
