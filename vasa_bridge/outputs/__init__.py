"""Outputs: where motion and pictures go besides the wire — VTuber apps over VMC and VTube
Studio, and a virtual camera. `serve` and `replay` feed them through one `FanOut`."""

from .sink import FanOut, MotionSink

__all__ = ["FanOut", "MotionSink"]
