"""The web server's refusals: which requests may reach the panel's pages and API.

Binds 127.0.0.1 by default. Any other bind needs a token (generated and printed once when not
given) on every request: `?token=`, header `X-Vasa-Token`, or the cookie the pages get. A
request whose Origin is not exactly this panel's own (`http://HOST:PORT` as the browser reached
it) is refused, `Origin: null` included (sandboxed frames, `file:` and `data:` pages); so is a
POST or WebSocket that the browser marks cross-site (`Sec-Fetch-Site`), and a Host name that is
not ours on a loopback bind (DNS rebinding). `/api/set` takes only `Content-Type:
application/json`, and no API takes a `text/*` body (those skip the CORS preflight): 415. Every
refusal is counted by reason (`/api/status`: `web.refused`).
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import logging
import secrets

from aiohttp import web

from ..errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_COOKIE = "vasa_token"
MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # an HTTP body or a WebSocket message, at most
JSON_TYPE = "application/json"


def parse_http(value: str) -> tuple[str, int]:
    """'HOST:PORT', ':PORT', 'PORT' or 'HOST' -> (host, port)."""
    value = value.strip()
    host, port = "127.0.0.1", 8765
    if value.startswith("["):  # [::1]:8765
        end = value.find("]")
        host, rest = value[1:end], value[end + 1:]
        port_s = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port_s = value.split(":")
        host = host or "127.0.0.1"
    elif value.isdigit():
        port_s = value
    else:
        host, port_s = value, ""
    if port_s:
        if not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
            raise ConfigError(f"--http {value!r}: expected HOST:PORT with a port in 0..65535")
        port = int(port_s)
    return host, port


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    return not is_loopback_host(host)


def host_name(host_header: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1'; '[::1]:8765' -> '::1'."""
    if host_header.startswith("["):
        return host_header[1:host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def json_error(status: int, message: str, code: str = "bad_argument") -> web.Response:
    return web.json_response({"ok": False, "error": message, "code": code}, status=status)


def own_origin(request: web.Request) -> str:
    """The origin of pages this server served, as the browser reached it."""
    return f"{request.scheme}://{request.host}"


def origin_refusal(request: web.Request) -> str | None:
    """Why this request may not reach the panel's API, or None. A browser names the page that
    made a request in `Origin` (`null` for an opaque origin: a sandboxed iframe, a `file:` or
    `data:` page); only our own pages may act. Requests without Origin (curl, scripts, page
    navigations) pass, unless the browser marks a POST or WebSocket as cross-site."""
    origin = request.headers.get("Origin")
    own = own_origin(request)
    if origin == "null":
        return (f"requests from an opaque origin (Origin: null: a sandboxed frame, a file: or "
                f"data: page) are refused: expected this panel's own origin {own!r}")
    if origin is not None and origin != own:
        return (f"requests from origin {short(origin)} are refused: expected this panel's own "
                f"origin {own!r}")
    acting = request.method not in ("GET", "HEAD") or request.path == "/ws"
    site = request.headers.get("Sec-Fetch-Site")
    if origin is None and acting and site not in (None, "same-origin", "none"):
        return (f"a {short(site, 20)[1:-1]} {request.method} to {short(request.path)[1:-1]} is "
                f"refused: expected a request from this panel's own pages")
    return None


def short(text: str, limit: int = 80) -> str:
    """A sender's string for an error line: repr (escapes), cut to `limit` characters."""
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def media_type_refusal(request: web.Request, json_only: bool) -> str | None:
    """Why this POST's Content-Type is refused (415), or None. `text/*` bodies are what a page
    of another origin can post without a CORS preflight; JSON endpoints take only JSON."""
    raw = request.headers.get("Content-Type")
    media = (raw or "").split(";", 1)[0].strip().lower()
    if json_only and media != JSON_TYPE:
        return (f"{short(request.path)[1:-1]} body has Content-Type {short(raw or '')}: "
                f"expected '{JSON_TYPE}'")
    if media.startswith("text/"):
        return (f"{short(request.path)[1:-1]} body has Content-Type {short(raw)}: expected a "
                f"file's own type (audio/wav, image/png, application/octet-stream, "
                f"multipart/form-data)")
    return None


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """(token, generated): a non-loopback bind without a token gets a fresh one."""
    if token is None and needs_token(host):
        return secrets.token_urlsafe(18), True
    return token, False


def request_guard(bind_host: str, token: str | None, refused: collections.Counter):
    """The aiohttp middleware that applies every refusal above before a route runs, counting
    each in `refused` (reason -> requests). A `?token=` that is right sets the cookie."""

    @web.middleware
    async def guard(request: web.Request, handler):
        if not needs_token(bind_host) and not is_loopback_host(host_name(request.host)):
            refused["host"] += 1
            return web.Response(status=403, text=f"Host {short(request.host)} is not this "
                                                 f"server: expected 127.0.0.1 or localhost")
        why = origin_refusal(request)
        if why is not None:
            refused["origin"] += 1
            if refused["origin"] <= 5:  # then only counted: a page may retry for ever
                log.warning("refused %s %s: %s", request.method, short(request.path), why)
            return web.Response(status=403, text=why)
        set_cookie = False
        if token is not None:
            given = (request.query.get("token") or request.headers.get("X-Vasa-Token")
                     or request.cookies.get(TOKEN_COOKIE) or "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                refused["token"] += 1
                return web.Response(status=401, text="missing or wrong token: add ?token=... "
                                                     "(printed when the server started)")
            set_cookie = request.query.get("token") is not None
        if request.method == "POST":
            why = media_type_refusal(request, json_only=request.path == "/api/set")
            if why is not None:
                refused["media_type"] += 1
                return json_error(415, why, "unsupported_media_type")
        response = await handler(request)
        if set_cookie and not isinstance(response, web.WebSocketResponse):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return response

    return guard
