"""The web control panel and OBS browser-source overlay (`vasa-bridge web`, `serve --http`).

`app` (routes, the server thread), `security` (refusals, token), `viewers` (the WebSocket
fan-out). The server (aiohttp) loads on first use, so building the command line stays fast."""

from ..transport.endpoints import DEFAULT_HTTP

__all__ = ["DEFAULT_HTTP", "WebConfig", "WebHandle", "build_app", "start_in_thread"]


def __getattr__(name: str):
    if name in __all__:  # the rest from app, on first use
        from . import app
        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
