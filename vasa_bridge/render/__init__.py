"""Portrait renderers: one photo + a MotionFrame -> an image. See `base` for the interface."""

from .base import Backend, PortraitState, RenderConfig, get_backend, render_track

__all__ = ["Backend", "PortraitState", "RenderConfig", "get_backend", "render_track"]
