"""What the photo does not show, drawn over the warped frame: the eyeballs (sclera plate + iris
sprite, cut by the current lids) and the background plate that shows where the head moved away
(the inside of the mouth is `mouth.py`).

Each layer works in a small box around its feature, so its cost does not grow with the frame.
At rest every layer reproduces the photo (up to a one-pixel iris rim).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import mesh as M

AA_SHIFT = 2  # sub-pixel bits for anti-aliased polygons
_AA = 1 << AA_SHIFT


def fill_background(image: np.ndarray, person_alpha: np.ndarray, levels: int = 7) -> np.ndarray:
    """(H, W, 3) float32 background plate: the person removed and filled from the surroundings
    by push-pull (a mask-weighted image pyramid), so uncovered background is plausible."""
    grown = cv2.dilate(person_alpha, np.ones((9, 9), np.uint8))
    known = np.clip(1.0 - 2.0 * grown, 0.0, 1.0).astype(np.float32)
    img = image.astype(np.float32)
    pyr = [(img * known[..., None], known)]
    for _ in range(levels):
        c, k = pyr[-1]
        if min(k.shape) < 4:
            break
        pyr.append((cv2.pyrDown(c), cv2.pyrDown(k)))
    c, k = pyr[-1]
    if k.max() <= 1e-6:  # no background at all: a flat mid grey
        filled = np.full(c.shape, 127.0, np.float32)
    else:
        filled = c / np.maximum(k, 1e-6)[..., None]
        filled[k <= 1e-6] = (c.reshape(-1, 3).sum(0) / max(k.sum(), 1e-6))
    for c, k in reversed(pyr[:-1]):
        up = cv2.pyrUp(filled, dstsize=(k.shape[1], k.shape[0]))
        own = c / np.maximum(k, 1e-6)[..., None]
        w = np.clip(k * 4.0, 0.0, 1.0)[..., None]  # trust a level once it has some support
        filled = own * w + up * (1 - w)
    return filled.astype(np.float32)


def _poly_mask(shape: tuple[int, int], poly: np.ndarray) -> np.ndarray:
    """Anti-aliased (h, w) float32 coverage of a polygon given in box pixel coordinates."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly * _AA).astype(np.int32)], 255, cv2.LINE_AA, AA_SHIFT)
    return m.astype(np.float32) * (1.0 / 255.0)


def _box(points: np.ndarray, margin: float, w: int, h: int) -> tuple[int, int, int, int] | None:
    x0 = int(np.floor(points[:, 0].min() - margin))
    y0 = int(np.floor(points[:, 1].min() - margin))
    x1 = int(np.ceil(points[:, 0].max() + margin)) + 1
    y1 = int(np.ceil(points[:, 1].max() + margin)) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def _polygon_in_box(poly: np.ndarray, margin: float, w: int, h: int):
    """(box, coverage mask in the box) of a polygon inside the (w, h) frame; None when the box is
    empty."""
    box = _box(poly, margin, w, h)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return box, _poly_mask((y1 - y0, x1 - x0), poly - [x0, y0])


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity taking the two source points onto the two destination points."""
    s = complex(*(src[1] - src[0]))
    d = complex(*(dst[1] - dst[0]))
    z = d / s if abs(s) > 1e-9 else 1.0
    a, b = z.real, z.imag
    t = dst[0] - np.array([a * src[0][0] - b * src[0][1], b * src[0][0] + a * src[0][1]])
    return np.array([[a, -b, t[0]], [b, a, t[1]]], np.float64)


@dataclass(frozen=True)
class EyeLayer:
    ring: np.ndarray  # (K,) landmark indices of the lid contour
    corners: tuple[int, int]  # outer, inner corner landmark
    iris_centre: int  # landmark of the iris centre
    origin: np.ndarray  # (2,) the box's top-left in the photo
    plate: np.ndarray  # (h, w, 3) float32 eyeball without the iris (sclera filled in)
    sprite: np.ndarray  # (h, w, 3) float32 iris completed under the lids
    sprite_alpha: np.ndarray  # (h, w) float32 soft iris disc
    rest: np.ndarray  # (3, 2) rest positions of outer corner, inner corner, iris centre

    @classmethod
    def prepare(cls, image: np.ndarray, landmarks: np.ndarray, side: str) -> "EyeLayer":
        right = side == "right"
        ring = M.RIGHT_EYE_RING if right else M.LEFT_EYE_RING
        iris = M.RIGHT_IRIS if right else M.LEFT_IRIS
        corners = ((M.RIGHT_EYE_OUTER, M.RIGHT_EYE_INNER) if right
                   else (M.LEFT_EYE_OUTER, M.LEFT_EYE_INNER))
        uv = landmarks[:, :2]
        width = float(np.linalg.norm(uv[corners[0]] - uv[corners[1]]))
        h, w = image.shape[:2]
        box = _box(uv[list(ring)], 0.5 * width, w, h)
        x0, y0, x1, y1 = box
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        origin = np.array([x0, y0], np.float64)
        c = uv[iris[0]] - origin
        radius = float(np.mean(np.linalg.norm(uv[list(iris[1:])] - uv[iris[0]], axis=1)))
        radius = max(radius, 1.5)
        yy, xx = np.mgrid[0:y1 - y0, 0:x1 - x0].astype(np.float32)
        dist = np.hypot(xx - c[0], yy - c[1])
        opening = _poly_mask(crop.shape[:2], uv[list(ring)] - origin) > 0.5
        disc = (dist <= radius * 1.15).astype(np.uint8)
        plate = cv2.inpaint(crop, disc, 3, cv2.INPAINT_TELEA)
        hidden = ((dist <= radius * 1.1) & ~opening).astype(np.uint8)
        sprite = cv2.inpaint(crop, hidden, 2, cv2.INPAINT_TELEA) if hidden.any() else crop
        alpha = np.clip(radius * 1.05 - dist + 0.5, 0.0, 1.0).astype(np.float32)
        rest = np.stack([uv[corners[0]], uv[corners[1]], uv[iris[0]]]).astype(np.float64)
        return cls(np.asarray(ring), corners, iris[0], origin, plate.astype(np.float32),
                   sprite.astype(np.float32), alpha, rest)

    def draw(self, out: np.ndarray, uv: np.ndarray) -> None:
        """Draw the eyeball inside the current lid opening. out: (H, W, 3) float32, in place;
        uv: (478, 2) current landmark positions."""
        h, w = out.shape[:2]
        found = _polygon_in_box(uv[self.ring], 1.0, w, h)
        if found is None:
            return
        (x0, y0, x1, y1), mask = found
        if mask.max() <= 0.0:
            return  # eye shut
        a = _similarity(self.rest[:2], uv[list(self.corners)])
        a[:, 2] += a[:, :2] @ self.origin - [x0, y0]  # plate box -> output box
        size = (x1 - x0, y1 - y0)
        plate = cv2.warpAffine(self.plate, a, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        # The iris goes where the rig put its centre (gaze), not where the lids' similarity would.
        at_rest = a[:, :2] @ (self.rest[2] - self.origin) + a[:, 2]
        b = a.copy()
        b[:, 2] += (uv[self.iris_centre] - [x0, y0]) - at_rest
        sprite = cv2.warpAffine(self.sprite, b, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        sa = cv2.warpAffine(self.sprite_alpha, b, size, flags=cv2.INTER_LINEAR)[..., None]
        eye = plate + (sprite - plate) * sa
        roi = out[y0:y1, x0:x1]
        m = mask[..., None]
        roi += (eye - roi) * m
