"""Every conversion out of the motion contract, in one place.

- head pose: Euler (pitch, yaw, roll in degrees, order R = Ry(yaw) Rx(pitch) Rz(roll)) <->
  quaternion (x, y, z, w), slerp, and the change to Unity's left-handed frame;
- blendshapes -> VRM 1.0 expression presets and VRM 0.x names (the formulas are in
  docs/protocol.md, "Conversions");
- resampling a track to another frame rate (linear for blendshapes and translation, slerp for
  rotation).
"""

from __future__ import annotations

import numpy as np

from ..errors import MotionFormatError
from .frame import MotionFrame, MotionTrack
from .names import INDEX

# ---------------------------------------------------------------------------------------------
# Rotations. Quaternions are (x, y, z, w), as Unity and VMC write them.


def euler_to_quat(euler_deg: np.ndarray) -> np.ndarray:
    """(..., 3) pitch, yaw, roll in degrees -> (..., 4) unit quaternions, q = qy(yaw) qx(pitch) qz(roll)."""
    e = np.radians(np.asarray(euler_deg, np.float64)) / 2.0
    cp, sp = np.cos(e[..., 0]), np.sin(e[..., 0])
    cy, sy = np.cos(e[..., 1]), np.sin(e[..., 1])
    cr, sr = np.cos(e[..., 2]), np.sin(e[..., 2])
    # qy * qx, then * qz (Hamilton products written out).
    x = cy * sp * cr + sy * cp * sr
    y = sy * cp * cr - cy * sp * sr
    z = cy * cp * sr - sy * sp * cr
    w = cy * cp * cr + sy * sp * sr
    return np.stack([x, y, z, w], axis=-1)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) (x, y, z, w) -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = (q[..., i] for i in range(4))
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def euler_to_matrix(euler_deg: np.ndarray) -> np.ndarray:
    """(..., 3) degrees -> (..., 3, 3); R = Ry(yaw) Rx(pitch) Rz(roll)."""
    return quat_to_matrix(euler_to_quat(euler_deg))


def matrix_to_euler(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) pitch, yaw, roll in degrees (inverse of euler_to_matrix).

    With R = Ry Rx Rz: R[1,2] = -sin(pitch), R[0,2] / R[2,2] = tan(yaw), R[1,0] / R[1,1] = tan(roll).
    """
    m = np.asarray(m, np.float64)
    pitch = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    yaw = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    roll = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    return np.degrees(np.stack([pitch, yaw, roll], axis=-1))


def quat_to_euler(q: np.ndarray) -> np.ndarray:
    return matrix_to_euler(quat_to_matrix(q))


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of (..., 4) quaternions, shortest arc; t broadcasts as (...,)."""
    q0 = np.asarray(q0, np.float64)
    q1 = np.asarray(q1, np.float64)
    t = np.asarray(t, np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)  # the other hemisphere is the same rotation the long way
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    a = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    b = np.where(near, t, np.sin(t * theta) / safe)
    out = a * q0 + b * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def to_unity_quaternion(euler_deg: np.ndarray) -> np.ndarray:
    """Head rotation in Unity's left-handed frame (x = the avatar's right, y up, z = the avatar's
    forward), as (x, y, z, w). The mirror of x flips yaw and roll: q_unity = (qx, -qy, -qz, qw)."""
    q = euler_to_quat(euler_deg)
    return q * np.array([1.0, -1.0, -1.0, 1.0])


def to_unity_position(translation_m: np.ndarray) -> np.ndarray:
    """Head translation in Unity's frame (metres): x mirrors, y and z stay."""
    return np.asarray(translation_m, np.float64) * np.array([-1.0, 1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Expression presets.

VRM1_PRESETS: tuple[str, ...] = (
    "happy", "angry", "sad", "relaxed", "surprised",
    "aa", "ih", "ou", "ee", "oh",
    "blink", "blinkLeft", "blinkRight",
    "lookUp", "lookDown", "lookLeft", "lookRight",
    "neutral",
)

VRM0_FROM_VRM1: dict[str, str] = {
    "aa": "A", "ih": "I", "ou": "U", "ee": "E", "oh": "O",
    "blink": "Blink", "blinkLeft": "Blink_L", "blinkRight": "Blink_R",
    "happy": "Joy", "angry": "Angry", "sad": "Sorrow", "relaxed": "Fun",
    "surprised": "Surprised",
    "lookUp": "LookUp", "lookDown": "LookDown", "lookLeft": "LookLeft", "lookRight": "LookRight",
    "neutral": "Neutral",
}


def _get(shapes: np.ndarray, name: str) -> np.ndarray:
    return shapes[..., INDEX[name]]


def _mean(shapes: np.ndarray, *names: str) -> np.ndarray:
    return sum(_get(shapes, n) for n in names) / len(names)


def to_vrm1(shapes: np.ndarray) -> dict[str, np.ndarray]:
    """(..., 52) ARKit coefficients -> {VRM 1.0 preset: (...)} weights in [0, 1].

    The formulas (docs/protocol.md, "Conversions") keep the vowels mutually exclusive enough that
    an avatar's mouth never shows two full visemes at once, and split blinks so that
    blink + blinkLeft never exceeds eyeBlinkLeft.
    """
    s = np.asarray(shapes, np.float32)
    jaw = _get(s, "jawOpen")
    funnel = _get(s, "mouthFunnel")
    pucker = _get(s, "mouthPucker")
    spread = np.maximum(_mean(s, "mouthStretchLeft", "mouthStretchRight"),
                        _mean(s, "mouthSmileLeft", "mouthSmileRight"))
    rounded = np.maximum(funnel, pucker)
    blink_l, blink_r = _get(s, "eyeBlinkLeft"), _get(s, "eyeBlinkRight")
    both = np.minimum(blink_l, blink_r)
    out = {
        "aa": jaw - rounded - 0.5 * spread,
        "ih": spread * (1.0 - 2.0 * jaw),
        "ee": spread * 2.0 * jaw,
        "ou": pucker - 0.5 * funnel,
        "oh": funnel,
        "blink": both,
        "blinkLeft": blink_l - both,
        "blinkRight": blink_r - both,
        "happy": _mean(s, "mouthSmileLeft", "mouthSmileRight"),
        "angry": _mean(s, "browDownLeft", "browDownRight"),
        "sad": _mean(s, "mouthFrownLeft", "mouthFrownRight"),
        "relaxed": np.zeros_like(jaw),  # no ARKit shape expresses it; left to the avatar
        "surprised": 0.5 * _mean(s, "eyeWideLeft", "eyeWideRight")
        + 0.5 * _mean(s, "browOuterUpLeft", "browOuterUpRight"),
        "lookUp": _mean(s, "eyeLookUpLeft", "eyeLookUpRight"),
        "lookDown": _mean(s, "eyeLookDownLeft", "eyeLookDownRight"),
        # The subject's left: the left eye looks out, the right eye looks in.
        "lookLeft": _mean(s, "eyeLookOutLeft", "eyeLookInRight"),
        "lookRight": _mean(s, "eyeLookInLeft", "eyeLookOutRight"),
        "neutral": np.zeros_like(jaw),
    }
    return {k: np.clip(v, 0.0, 1.0).astype(np.float32) for k, v in out.items()}


def to_vrm0(shapes: np.ndarray) -> dict[str, np.ndarray]:
    """(..., 52) ARKit coefficients -> {VRM 0.x blendshape clip name: weight in [0, 1]}."""
    return {VRM0_FROM_VRM1[k]: v for k, v in to_vrm1(shapes).items()}


# ---------------------------------------------------------------------------------------------
# Resampling.


def resample(track: MotionTrack, fps: float) -> MotionTrack:
    """The same motion at another frame rate. Frame k of the result sits at start + k / fps;
    times past the last source frame hold it. Audio is carried over unchanged."""
    fps = float(fps)
    if not np.isfinite(fps) or not 0 < fps <= 1000:
        raise MotionFormatError(f"fps is {fps!r}: expected a number in (0, 1000]")
    n = max(1, int(round(len(track) * fps / track.fps)))
    src = np.arange(n) * (track.fps / fps)  # positions in source frames
    i0 = np.clip(np.floor(src).astype(int), 0, len(track) - 1)
    i1 = np.minimum(i0 + 1, len(track) - 1)
    t = np.clip(src - i0, 0.0, 1.0)
    t = np.where(i0 == i1, 0.0, t)

    def lerp(a: np.ndarray) -> np.ndarray:
        return a[i0] * (1 - t[:, None]) + a[i1] * t[:, None]

    q = euler_to_quat(track.head_rotation)
    rot = quat_to_euler(slerp(q[i0], q[i1], t))
    return MotionTrack(np.clip(lerp(track.blendshapes), 0, 1), rot, lerp(track.head_translation),
                       fps, track.audio, track.sample_rate, track.start)


def interpolate(a: MotionFrame, b: MotionFrame, t: float) -> MotionFrame:
    """The frame a fraction t of the way from a to b (linear shapes, slerp rotation)."""
    q = slerp(euler_to_quat(a.head_rotation), euler_to_quat(b.head_rotation), np.float64(t))
    return MotionFrame(a.blendshapes + (b.blendshapes - a.blendshapes) * t, quat_to_euler(q),
                       a.head_translation + (b.head_translation - a.head_translation) * t,
                       a.time + (b.time - a.time) * t)
