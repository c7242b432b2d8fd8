"""The blend of idle life and speech-driven motion by the speech gate's weight (audio/gate.py),
so the face eases into and out of talking. Pure."""

from __future__ import annotations

from ..motion.conversions import interpolate
from ..motion.frame import MotionFrame


def blend(idle: MotionFrame, speech: MotionFrame, weight: float) -> MotionFrame:
    """Idle life under speech motion: weight 0 is idle, 1 is the speech motion. Blinks from idle
    life survive while speaking when the speech motion has none (max of the two)."""
    out = interpolate(idle, speech, weight)
    if weight <= 0.0:
        return out
    shapes = out.blendshapes.copy()
    for name_index in (0, 7):  # eyeBlinkLeft, eyeBlinkRight
        shapes[name_index] = max(shapes[name_index], idle.blendshapes[name_index])
    return MotionFrame(shapes, out.head_rotation, out.head_translation, speech.time)
