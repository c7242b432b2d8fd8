"""The web control panel and OBS browser-source overlay (`vasa-bridge web`, `serve --http`).

The server (aiohttp) loads on first use, so building the command line stays fast."""

__all__ = ["DEFAULT_HTTP", "WebConfig", "WebHandle", "build_app", "start_in_thread"]


def __getattr__(name: str):
    if name in __all__:
        from . import server
        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
