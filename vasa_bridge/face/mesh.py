"""Named regions of mediapipe's 478-point face mesh (468 surface points + 10 iris points).

"Right" and "left" are the SUBJECT's, as in ARKit and mediapipe: the subject's right eye is on
the viewer's left in a frontal photo. Contours run from the outer (or left-in-image) end to the
other, upper and lower halves sharing their end points.
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 478
NUM_SURFACE = 468

# Eyes: corners, then the upper and lower lid, each from the outer corner to the inner one.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
# Lid pairs across the middle of each eye (upper, lower), for the aperture.
RIGHT_LID_PAIRS = ((160, 144), (159, 145), (158, 153))
LEFT_LID_PAIRS = ((387, 373), (386, 374), (385, 380))

# Irises (refine_landmarks=True): centre then four points on the rim.
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Lips, from the right mouth corner (viewer's left) to the left one.
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # outer corners
LIP_UPPER_INNER_MID, LIP_LOWER_INNER_MID = 13, 14
LIP_UPPER_OUTER_MID, LIP_LOWER_OUTER_MID = 0, 17

# Brows: upper edge from the outer end to the inner end, then the lower edge.
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
RIGHT_BROW_INNER, LEFT_BROW_INNER = (107, 55, 66, 65), (336, 285, 296, 295)
RIGHT_BROW_OUTER, LEFT_BROW_OUTER = (70, 46, 63, 53), (300, 276, 293, 283)

NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10
RIGHT_CHEEK, LEFT_CHEEK = 50, 280
RIGHT_NOSE_WING, LEFT_NOSE_WING = 129, 358

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109)

# Points that do not move with expressions: forehead, temples, nose bridge and tip, eye corners,
# upper cheekbones. Head pose is fitted on these only.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 127, 356, 234, 454, 21, 251,
         54, 284, 103, 332, 67, 297, 109, 338, 116, 345, 117, 346, 111, 340, 98, 327, 2)


def eye_contour(upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
    """Closed polygon (upper lid outer->inner, then lower lid inner->outer) as indices."""
    return np.array(list(upper) + list(lower[-2:0:-1]), np.int32)


RIGHT_EYE_RING = eye_contour(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)
LEFT_EYE_RING = eye_contour(LEFT_EYE_UPPER, LEFT_EYE_LOWER)
INNER_MOUTH_RING = eye_contour(LIPS_INNER_UPPER, LIPS_INNER_LOWER)
OUTER_MOUTH_RING = eye_contour(LIPS_OUTER_UPPER, LIPS_OUTER_LOWER)


def to_points3d(landmarks: np.ndarray) -> np.ndarray:
    """(478, 3) pixel landmarks (u right, v down, depth towards the camera negative, as mediapipe)
    -> (478, 3) points in the motion contract's frame: x right, y up, z towards the camera."""
    p = np.asarray(landmarks, np.float64)
    return np.stack([p[:, 0], -p[:, 1], -p[:, 2]], axis=1)


def to_pixels(points3d: np.ndarray) -> np.ndarray:
    """Inverse of `to_points3d`."""
    p = np.asarray(points3d, np.float64)
    return np.stack([p[..., 0], -p[..., 1], -p[..., 2]], axis=-1)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye centres: the midpoints of each eye's corners, which blinks and gaze do
    not move (the lid contours' means would)."""
    return ((points[RIGHT_EYE_OUTER] + points[RIGHT_EYE_INNER]) / 2,
            (points[LEFT_EYE_OUTER] + points[LEFT_EYE_INNER]) / 2)


def interocular(points: np.ndarray) -> float:
    """Distance between the eye centres, the face's unit of length (about 60 mm on adults)."""
    r, l = eye_centres(points)
    return float(np.linalg.norm(l - r))
