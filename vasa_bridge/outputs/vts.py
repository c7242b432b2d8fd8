"""VTube Studio plugin: motion frames -> `InjectParameterDataRequest` over VTube Studio's public
API.

Flow (DenchiSoft/VTubeStudio README, "Authentication" and "Feeding in data"):
1. connect to ws://localhost:8001 (the user can change the port; "Start API" must be on);
2. `AuthenticationRequest` with the token stored from a previous run; without one (or if it was
   revoked), `AuthenticationTokenRequest` first: VTube Studio shows a popup and the user clicks
   "Allow"; the token is then saved for next time;
3. optionally `ParameterCreationRequest` for our custom parameters;
4. `InjectParameterDataRequest` with the latest values whenever a new frame arrives, and at least
   every `keepalive_s` while no frame arrives (a parameter not re-sent within 1 s falls back to
   face tracking).

The WebSocket runs on an asyncio loop in its own thread. `send()` only maps the frame (a few
microseconds) and hands the values over, latest wins. Connection loss, VTube Studio restarting or a
denied popup are logged once per change of state and retried with exponential backoff; they never
raise into the caller. The mapping is `vts_parameters` (docs/vtuber.md, "VTube Studio mapping").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, VasaError
from ..motion.frame import MotionFrame
from ..motion.names import ARKIT_NAMES, INDEX, to_pascal
from .sink import MotionSink

log = logging.getLogger("vasa_bridge.vts")

DEFAULT_VTS = "ws://localhost:8001"
API_NAME = "VTubeStudioPublicAPI"
API_VERSION = "1.0"

# VTube Studio error IDs (Files/ErrorID.cs in DenchiSoft/VTubeStudio).
ERR_API_ACCESS_DEACTIVATED = 1
ERR_REQUIRES_AUTHENTICATION = 8
ERR_TOKEN_REQUEST_DENIED = 50
ERR_TOKEN_REQUEST_ONGOING = 51
ERR_INJECT_PARAM_NOT_FOUND = 453
ERR_INJECT_PARAM_CONTROLLED_BY_OTHER_PLUGIN = 454

# The default input parameters we drive, with the range we send in (VTube Studio's own ranges for
# them: FaceAngle ±30 degrees, FacePosition ±10, expression inputs 0..1, eye gaze ±1).
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "FaceAngleX": (-30.0, 30.0), "FaceAngleY": (-30.0, 30.0), "FaceAngleZ": (-30.0, 30.0),
    "FacePositionX": (-10.0, 10.0), "FacePositionY": (-10.0, 10.0), "FacePositionZ": (-10.0, 10.0),
    "MouthOpen": (0.0, 1.0), "MouthSmile": (0.0, 1.0),
    "EyeOpenLeft": (0.0, 1.0), "EyeOpenRight": (0.0, 1.0),
    "EyeLeftX": (-1.0, 1.0), "EyeLeftY": (-1.0, 1.0),
    "EyeRightX": (-1.0, 1.0), "EyeRightY": (-1.0, 1.0),
    "BrowLeftY": (0.0, 1.0), "BrowRightY": (0.0, 1.0),
    "CheekPuff": (0.0, 1.0), "TongueOut": (0.0, 1.0),
}
# Custom parameters: VasaJawOpen, VasaEyeBlinkLeft, ... (alphanumeric, <= 32 characters).
CUSTOM_PREFIX = "Vasa"
CUSTOM_NAMES: tuple[str, ...] = tuple(CUSTOM_PREFIX + to_pascal(n) for n in ARKIT_NAMES)
CM_PER_M = 100.0  # FacePosition unit: we send centimetres


def default_token_path() -> Path:
    """Where the VTube Studio plugin token is kept between runs (the user's config directory)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "vasa_bridge" / "vts_token.txt"


@dataclass(frozen=True)
class VtsConfig:
    url: str = DEFAULT_VTS
    token_path: Path | None = None  # where the token is kept; None: keep it in memory only
    plugin_name: str = "vasa_bridge"  # 3..32 characters, shown in VTube Studio's popup
    plugin_developer: str = "vasa_bridge developers"  # 3..32 characters
    custom_parameters: bool = False  # also create and feed Vasa<ArkitName> (52 params, 0..1)
    mirror: bool = False  # swap left/right and negate horizontal values
    face_found: bool = True  # tell VTube Studio the face is found while we drive it
    keepalive_s: float = 0.5  # resend the latest values this often while idle (VTS drops at 1 s)
    request_timeout_s: float = 5.0  # a reply slower than this counts as a dead connection
    approval_timeout_s: float = 120.0  # how long the user has to click "Allow"
    reconnect_min_s: float = 0.5  # first retry delay; doubles up to reconnect_max_s
    reconnect_max_s: float = 10.0
    denied_retry_s: float = 60.0  # wait before asking again after the user clicked "Deny"

    def __post_init__(self) -> None:
        if url_port(self.url) is None:
            raise ConfigError(f"VTube Studio url is {self.url!r}: expected ws://HOST:PORT such "
                              f"as {DEFAULT_VTS} (a host, and a port in [1, 65535])")
        for name in ("plugin_name", "plugin_developer"):
            v = getattr(self, name)
            if not 3 <= len(v) <= 32:
                raise ConfigError(f"VTube Studio {name} is {v!r} ({len(v)} characters): expected "
                                  f"3 to 32 characters")
        if not 0.05 <= self.keepalive_s <= 0.9:
            raise ConfigError(f"VTube Studio keepalive_s is {self.keepalive_s!r}: expected "
                              f"seconds in [0.05, 0.9] (VTube Studio drops a parameter after 1 s)")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ConfigError(f"VTube Studio reconnect delays are {self.reconnect_min_s!r}.."
                              f"{self.reconnect_max_s!r} s: expected 0 < min <= max")


def url_port(url: str) -> int | None:
    """The port of a ws://HOST:PORT (or wss://) URL; None when it is not one (no host, no port
    or one out of range, spaces): VTube Studio always listens on an explicit port."""
    from urllib.parse import urlsplit
    try:
        u = urlsplit(str(url))
        port = u.port
    except ValueError:  # "Port out of range 0-65535", a bad IPv6 literal
        return None
    if u.scheme not in ("ws", "wss") or not u.hostname or port is None or \
            not 1 <= port <= 65535 or any(c.isspace() for c in str(url)):
        return None
    return port


# ---------------------------------------------------------------------------------------------
# Mapping (pure).


def vts_parameters(frame: MotionFrame, *, mirror: bool = False,
                   custom: bool = False) -> dict[str, float]:
    """One frame -> {VTube Studio input parameter: value}, each within PARAMETER_RANGES.

    Signs follow Live2D's standard parameters as seen on screen: FaceAngleX > 0 turns the face to
    the viewer's right (our yaw), FaceAngleY > 0 looks up (-pitch), FaceAngleZ > 0 tilts the top of
    the head to the viewer's right (-roll); EyeX > 0 looks to the viewer's right, EyeY > 0 up.
    "Left" is the subject's left, as in ARKit.
    """
    s = frame.blendshapes
    b = lambda name: float(s[INDEX[name]])  # noqa: E731
    pitch, yaw, roll = (float(v) for v in frame.head_rotation)
    x, y, z = (float(v) * CM_PER_M for v in frame.head_translation)
    brow_up = b("browInnerUp")
    v = {
        "FaceAngleX": yaw,
        "FaceAngleY": -pitch,
        "FaceAngleZ": -roll,
        "FacePositionX": x,
        "FacePositionY": y,
        "FacePositionZ": z,
        "MouthOpen": b("jawOpen") - b("mouthClose"),
        # 0.5 is neutral: VTube Studio maps 0..1 onto ParamMouthForm -1..1 (frown..smile).
        "MouthSmile": 0.5 + 0.5 * ((b("mouthSmileLeft") + b("mouthSmileRight")) / 2
                                   - (b("mouthFrownLeft") + b("mouthFrownRight")) / 2),
        "EyeOpenLeft": 1.0 - b("eyeBlinkLeft"),
        "EyeOpenRight": 1.0 - b("eyeBlinkRight"),
        # The subject's left eye looking "out" looks to the subject's left = the viewer's right.
        "EyeLeftX": b("eyeLookOutLeft") - b("eyeLookInLeft"),
        "EyeLeftY": b("eyeLookUpLeft") - b("eyeLookDownLeft"),
        "EyeRightX": b("eyeLookInRight") - b("eyeLookOutRight"),
        "EyeRightY": b("eyeLookUpRight") - b("eyeLookDownRight"),
        # 0.5 is neutral: raised (inner + outer up) above, lowered (browDown) below.
        "BrowLeftY": 0.5 + 0.5 * ((brow_up + b("browOuterUpLeft")) / 2 - b("browDownLeft")),
        "BrowRightY": 0.5 + 0.5 * ((brow_up + b("browOuterUpRight")) / 2 - b("browDownRight")),
        "CheekPuff": b("cheekPuff"),
        "TongueOut": b("tongueOut"),
    }
    if mirror:
        for k in ("FaceAngleX", "FaceAngleZ", "FacePositionX", "EyeLeftX", "EyeRightX"):
            v[k] = -v[k]
        for a, c in (("EyeOpenLeft", "EyeOpenRight"), ("EyeLeftX", "EyeRightX"),
                     ("EyeLeftY", "EyeRightY"), ("BrowLeftY", "BrowRightY")):
            v[a], v[c] = v[c], v[a]
    out = {k: float(np.clip(val, *PARAMETER_RANGES[k])) for k, val in v.items()}
    if custom:
        out.update((n, float(val)) for n, val in zip(CUSTOM_NAMES, s))
    return out


# ---------------------------------------------------------------------------------------------
# The plugin.


class VtsApiError(VasaError):
    """VTube Studio answered a request with an APIError."""

    def __init__(self, request: str, error_id: int, message: str) -> None:
        super().__init__(f"VTube Studio refused {request}: error {error_id}: {message}")
        self.request, self.error_id, self.api_message = request, error_id, message


class VtsDenied(VasaError):
    """The user clicked "Deny" in VTube Studio's plugin popup."""


_STATES = ("connecting", "authenticating", "waiting_for_approval", "ready", "denied",
           "disconnected", "closed")


class VtsPlugin(MotionSink):
    """A VTube Studio plugin fed with motion frames. See the module docstring."""

    name = "vts"

    def __init__(self, config: VtsConfig) -> None:
        super().__init__()
        self.config = config
        self.stats.update(resent=0, connects=0, reconnects=0, denied=0, last_error="")
        self._state = "connecting"
        self._cond = threading.Condition()
        self._latest: dict[str, float] | None = None
        self._seq = 0
        self._token: str | None = None
        self._req = 0
        self._logged_errors: set[int] = set()
        self._logged_refusals: set[tuple[int, str]] = set()  # VtsApiErrors ending a session
        self._loop = asyncio.new_event_loop()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="vts-plugin",
                                        daemon=True)
        self._thread.start()
        ready.wait()

    # -- caller side ---------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """One of connecting, authenticating, waiting_for_approval, ready, denied, disconnected,
        closed."""
        return self._state

    def wait_for_state(self, *states: str, timeout: float = 5.0) -> bool:
        """Block until the plugin is in one of `states`; False on timeout."""
        for s in states:
            if s not in _STATES:
                raise ValueError(f"state {s!r}: expected one of {_STATES}")
        with self._cond:
            return self._cond.wait_for(lambda: self._state in states, timeout)

    def _send(self, frame: MotionFrame) -> None:
        values = vts_parameters(frame, mirror=self.config.mirror,
                                custom=self.config.custom_parameters)
        with self._cond:
            self._latest = values
            self._seq += 1
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the worker's loop is gone; never raise into the caller
            self.stats["errors"] += 1

    def _close(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=5.0)
        self._set_state("closed")

    # -- worker side ---------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        with self._cond:
            self._state = state
            self._cond.notify_all()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._main())
        ready.set()
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    async def _main(self) -> None:
        from websockets.asyncio.client import connect

        cfg = self.config
        self._token = self._load_token()
        delay = cfg.reconnect_min_s
        was_down = False  # log "unreachable" once per outage, "reconnected" once after it
        while True:
            self._set_state("connecting")
            wait = delay  # exponential backoff: min, 2 min, 4 min, ... max
            try:
                async with connect(cfg.url, open_timeout=cfg.request_timeout_s, close_timeout=1.0,
                                   max_size=2**22) as ws:
                    self.stats["connects"] += 1
                    if self.stats["connects"] > 1:
                        self.stats["reconnects"] += 1
                    if was_down:
                        log.info("VTube Studio: reconnected to %s", cfg.url)
                    was_down = False
                    try:
                        await self._session(ws)
                    except (asyncio.CancelledError, VtsDenied, VtsApiError):
                        # close() or a refusal: a normal close, not websockets' 1011 "internal
                        # error" that leaving the `async with` on an exception sends.
                        await asyncio.shield(ws.close())
                        raise
            except VtsDenied as e:
                self.stats["denied"] += 1
                self._note_error(str(e))
                self._set_state("denied")
                log.error("%s", e)
                wait = cfg.denied_retry_s
            except VtsApiError as e:
                self._note_error(str(e))
                key = (e.error_id, e.api_message)  # logged once until a session works again
                if key not in self._logged_refusals:
                    self._logged_refusals.add(key)
                    if e.error_id == ERR_API_ACCESS_DEACTIVATED:
                        log.error("VTube Studio: the plugin API is off. Turn on \"Start API "
                                  "(allow plugins)\" in VTube Studio's settings; retrying")
                    else:
                        log.warning("%s; reconnecting", e)
            except (OSError, asyncio.TimeoutError, TimeoutError) as e:
                self._note_error(f"cannot reach VTube Studio at {cfg.url}: {e}")
                if not was_down:
                    log.warning("VTube Studio: cannot reach %s (%s). Is VTube Studio running "
                                "with the API on (port %s)? Retrying in the background",
                                cfg.url, e, url_port(cfg.url))
                was_down = True
            except Exception as e:  # websockets' ConnectionClosed / InvalidHandshake / bad JSON
                self._note_error(f"VTube Studio connection lost: {type(e).__name__}: {e}")
                if not was_down:
                    log.warning("VTube Studio: connection to %s lost (%s: %s); reconnecting",
                                cfg.url, type(e).__name__, e)
                was_down = True
            if self._state == "ready":  # a working session ended (VTS restarted): retry soon
                wait = delay = cfg.reconnect_min_s
            if self._state != "denied":
                self._set_state("disconnected")
            await asyncio.sleep(wait)
            delay = min(delay * 2, cfg.reconnect_max_s)

    def _note_error(self, message: str) -> None:
        self.stats["errors"] += 1
        self.stats["last_error"] = message

    async def _request(self, ws, message_type: str, data: dict | None = None,
                       timeout: float | None = -1.0) -> dict:
        """Send one request and return the `data` of its reply; APIError raises VtsApiError."""
        self._req += 1
        rid = f"vasa-{self._req}"
        msg = {"apiName": API_NAME, "apiVersion": API_VERSION, "requestID": rid,
               "messageType": message_type}
        if data is not None:
            msg["data"] = data
        await ws.send(json.dumps(msg))
        timeout = self.config.request_timeout_s if timeout == -1.0 else timeout

        async def reply_to_us() -> dict:
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("requestID") == rid:
                    return reply  # anything else is an event or a stale reply: skip it

        reply = await asyncio.wait_for(reply_to_us(), timeout)
        body = reply.get("data") or {}
        if reply.get("messageType") == "APIError":
            raise VtsApiError(message_type, int(body.get("errorID", -1)),
                              str(body.get("message", "")))
        return body

    async def _session(self, ws) -> None:
        cfg = self.config
        state = await self._request(ws, "APIStateRequest")
        if state.get("active") is False:
            raise VtsApiError("APIStateRequest", ERR_API_ACCESS_DEACTIVATED, "API not active")
        self._set_state("authenticating")
        await self._authenticate(ws)
        if cfg.custom_parameters:
            for name, arkit in zip(CUSTOM_NAMES, ARKIT_NAMES):
                await self._request(ws, "ParameterCreationRequest", {
                    "parameterName": name,
                    "explanation": f"vasa_bridge: ARKit {arkit}, 0..1",
                    "min": 0, "max": 1, "defaultValue": 0})
        self._set_state("ready")
        self._logged_refusals.clear()
        log.info("VTube Studio: plugin %r authenticated at %s; driving %d parameters",
                 cfg.plugin_name, cfg.url,
                 len(PARAMETER_RANGES) + (len(CUSTOM_NAMES) if cfg.custom_parameters else 0))
        last_seq, last_sent = -1, -1e9
        while True:
            with self._cond:
                values, seq = self._latest, self._seq
            if values is None or seq == last_seq:
                # Nothing new: wait for a frame, but resend before VTube Studio drops us.
                timeout = None if values is None else max(
                    0.0, cfg.keepalive_s - (time.monotonic() - last_sent))
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()
                with self._cond:
                    values, seq = self._latest, self._seq
                if values is None:
                    continue
            await self._inject(ws, values)
            self.stats["sent"] += 1
            if seq == last_seq:
                self.stats["resent"] += 1
            last_seq, last_sent = seq, time.monotonic()

    async def _inject(self, ws, values: dict[str, float]) -> None:
        data = {"faceFound": self.config.face_found, "mode": "set",
                "parameterValues": [{"id": k, "value": v} for k, v in values.items()]}
        try:
            await self._request(ws, "InjectParameterDataRequest", data)
        except VtsApiError as e:
            if e.error_id in (ERR_REQUIRES_AUTHENTICATION, ERR_TOKEN_REQUEST_DENIED):
                # The user revoked our access: forget the token and start over.
                self._forget_token()
                raise
            self._note_error(str(e))
            if e.error_id not in self._logged_errors:  # e.g. 454: another plugin drives it
                self._logged_errors.add(e.error_id)
                hint = (" (another plugin is already setting one of these parameters)"
                        if e.error_id == ERR_INJECT_PARAM_CONTROLLED_BY_OTHER_PLUGIN else "")
                log.warning("%s%s; further errors of this kind are only counted", e, hint)

    async def _authenticate(self, ws) -> None:
        cfg = self.config
        who = {"pluginName": cfg.plugin_name, "pluginDeveloper": cfg.plugin_developer}
        if self._token:
            reply = await self._request(ws, "AuthenticationRequest",
                                        {**who, "authenticationToken": self._token})
            if reply.get("authenticated"):
                return
            log.warning("VTube Studio: the stored token was not accepted (%s); asking for a new "
                        "one", reply.get("reason", "revoked?"))
            self._forget_token()
        self._set_state("waiting_for_approval")
        log.warning("VTube Studio: please click \"Allow\" in the VTube Studio window to let "
                    "plugin %r control the model", cfg.plugin_name)
        try:
            reply = await self._request(ws, "AuthenticationTokenRequest", who,
                                        timeout=cfg.approval_timeout_s)
        except VtsApiError as e:
            if e.error_id == ERR_TOKEN_REQUEST_DENIED:
                raise VtsDenied(
                    f"VTube Studio: the user denied plugin {cfg.plugin_name!r} access. Click "
                    f"\"Allow\" when VTube Studio asks again in {cfg.denied_retry_s:g} s, or "
                    f"restart vasa_bridge to be asked now") from None
            raise
        except asyncio.TimeoutError:
            raise VtsDenied(f"VTube Studio: nobody clicked \"Allow\" within "
                            f"{cfg.approval_timeout_s:g} s; asking again in "
                            f"{cfg.denied_retry_s:g} s") from None
        token = str(reply.get("authenticationToken", ""))
        if not token:
            raise VtsApiError("AuthenticationTokenRequest", -1, "reply has no authenticationToken")
        self._token = token
        self._save_token(token)
        reply = await self._request(ws, "AuthenticationRequest",
                                    {**who, "authenticationToken": token})
        if not reply.get("authenticated"):
            self._forget_token()
            raise VtsApiError("AuthenticationRequest", -1,
                              f"a token just issued was refused: {reply.get('reason', '')}")

    # -- token file ----------------------------------------------------------------------------

    def _load_token(self) -> str | None:
        p = self.config.token_path
        if p is None or not Path(p).is_file():
            return None
        try:
            token = Path(p).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as e:
            log.warning("VTube Studio: cannot read the token file %s (%s); asking for a new token",
                        p, e)
            return None
        return token or None

    def _save_token(self, token: str) -> None:
        p = self.config.token_path
        if p is None:
            return
        p = Path(p)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(token + "\n")
            os.replace(tmp, p)
        except OSError as e:
            log.warning("VTube Studio: cannot save the token to %s (%s); you will be asked to "
                        "allow the plugin again next time", p, e)

    def _forget_token(self) -> None:
        self._token = None
        p = self.config.token_path
        if p is not None:
            try:
                Path(p).unlink(missing_ok=True)
            except OSError:
                pass
