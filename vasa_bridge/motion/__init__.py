"""The motion contract: ARKit-52 blendshapes + head pose over time, its files and conversions."""

from .frame import MotionFrame, MotionTrack
from .names import ARKIT_NAMES, NUM_BLENDSHAPES
from .io import load, save

__all__ = ["MotionFrame", "MotionTrack", "ARKIT_NAMES", "NUM_BLENDSHAPES", "load", "save"]
