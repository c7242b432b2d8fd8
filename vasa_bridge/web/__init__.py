"""The web control panel and OBS browser-source overlay (`vasa-bridge web`, `serve --http`)."""

from .server import DEFAULT_HTTP, WebConfig, WebHandle, build_app, start_in_thread

__all__ = ["DEFAULT_HTTP", "WebConfig", "WebHandle", "build_app", "start_in_thread"]
