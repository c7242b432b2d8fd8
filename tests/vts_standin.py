"""A stand-in for VTube Studio's plugin API, for tests. It is NOT VTube Studio.

It follows the public API as documented in DenchiSoft/VTubeStudio's README (and Files/ErrorID.cs)
for the requests our plugin uses: APIStateRequest, AuthenticationTokenRequest (the "user" approves
or denies, per `approve`), AuthenticationRequest, ParameterCreationRequest,
InputParameterListRequest and InjectParameterDataRequest, with the documented validation and error
IDs. It records what it receives so tests can check it. It runs its own asyncio loop in a thread
and can be stopped and started again on the same port, as when the user restarts the app.

Default parameter ranges below are VTube Studio's declared ranges for its default inputs as we
understand them (the README shows FaceAngleX -30..30 and FacePositionX -10..10); VTube Studio itself
only refuses values outside +-1,000,000, and so does this stand-in (error 451). The ranges are
reported by InputParameterListRequest so tests can check our values against them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

API_NAME = "VTubeStudioPublicAPI"

DEFAULT_PARAMETERS: dict[str, tuple[float, float]] = {
    "FacePositionX": (-10, 10), "FacePositionY": (-10, 10), "FacePositionZ": (-10, 10),
    "FaceAngleX": (-30, 30), "FaceAngleY": (-30, 30), "FaceAngleZ": (-30, 30),
    "MouthSmile": (0, 1), "MouthOpen": (0, 1), "Brows": (0, 1),
    "TongueOut": (0, 1), "CheekPuff": (0, 1), "FaceAngry": (0, 1),
    "EyeOpenLeft": (0, 1), "EyeOpenRight": (0, 1),
    "EyeLeftX": (-1, 1), "EyeLeftY": (-1, 1), "EyeRightX": (-1, 1), "EyeRightY": (-1, 1),
    "BrowLeftY": (0, 1), "BrowRightY": (0, 1), "MouthX": (-1, 1),
    "MousePositionX": (-1, 1), "MousePositionY": (-1, 1),
}
NO_AUTH_NEEDED = {"APIStateRequest", "AuthenticationTokenRequest", "AuthenticationRequest"}
KNOWN = NO_AUTH_NEEDED | {"InjectParameterDataRequest", "ParameterCreationRequest",
                         "InputParameterListRequest", "StatisticsRequest"}


class VtsStandIn:
    def __init__(self, approve: bool = True, api_active: bool = True) -> None:
        self.approve = approve
        self.api_active = api_active
        self.port = 0
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (plugin, developer)
        self.custom: dict[str, tuple[float, float, float, str]] = {}  # name -> min, max, def, by
        self.injections: list[tuple[float, dict[str, float]]] = []  # (monotonic time, values)
        self.errors: list[tuple[str, int]] = []  # (request type, errorID) sent back
        self.requests: list[str] = []
        self.connections = 0
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "VtsStandIn":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="vts-standin")
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("VTS stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(5)
            self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve(ready))
        self._loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", self.port) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stop.wait()
            server.close(close_connections=True)

    # -- queries ------------------------------------------------------------------------------

    def count(self, request: str) -> int:
        with self.lock:
            return self.requests.count(request)

    def snapshot(self) -> list[tuple[float, dict[str, float]]]:
        with self.lock:
            return list(self.injections)

    # -- protocol -----------------------------------------------------------------------------

    async def _handle(self, ws) -> None:
        with self.lock:
            self.connections += 1
        session = {"authenticated": False}
        try:
            async for raw in ws:
                reply = await self._reply(raw, session)
                await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass  # the plugin went away, cleanly or not: VTube Studio just drops the session

    async def _reply(self, raw, session) -> dict:
        try:
            msg = json.loads(raw)
        except ValueError:
            return self._error(None, "", 2, "JSON invalid")
        if not isinstance(msg, dict):
            return self._error(None, "", 2, "JSON invalid: expected an object")
        rid = msg.get("requestID", str(uuid.uuid4()))
        mtype = msg.get("messageType")
        if msg.get("apiName") != API_NAME:
            return self._error(rid, mtype, 3, "apiName invalid")
        if msg.get("apiVersion") != "1.0":
            return self._error(rid, mtype, 4, "apiVersion invalid")
        if not (isinstance(rid, str) and 1 <= len(rid) <= 64 and rid.isascii()):
            return self._error(str(rid)[:64], mtype, 5, "requestID invalid")
        if not mtype:
            return self._error(rid, mtype, 6, "messageType missing or empty")
        if mtype not in KNOWN:
            return self._error(rid, mtype, 7, f"unknown messageType {mtype}")
        with self.lock:
            self.requests.append(mtype)
        if not self.api_active and mtype != "APIStateRequest":
            return self._error(rid, mtype, 1, "API access deactivated")
        if mtype not in NO_AUTH_NEEDED and not session["authenticated"]:
            return self._error(rid, mtype, 8, "request requires authentication")
        data = msg.get("data") or {}
        handler = getattr(self, "_on_" + mtype)
        out = await handler(data, session)
        if isinstance(out, tuple):  # (errorID, message)
            return self._error(rid, mtype, *out)
        return {"apiName": API_NAME, "apiVersion": "1.0", "timestamp": int(time.time() * 1000),
                "messageType": mtype.replace("Request", "Response"), "requestID": rid,
                "data": out}

    def _error(self, rid, mtype, error_id: int, message: str) -> dict:
        with self.lock:
            self.errors.append((mtype, error_id))
        return {"apiName": API_NAME, "apiVersion": "1.0", "timestamp": int(time.time() * 1000),
                "messageType": "APIError", "requestID": rid,
                "data": {"errorID": error_id, "message": message}}

    async def _on_APIStateRequest(self, data, session):
        return {"active": self.api_active, "vTubeStudioVersion": "stand-in",
                "currentSessionAuthenticated": session["authenticated"]}

    async def _on_StatisticsRequest(self, data, session):
        return {"uptime": 0, "framerate": 60, "vTubeStudioVersion": "stand-in"}

    @staticmethod
    def _names_ok(data) -> tuple[int, str] | None:
        name, dev = data.get("pluginName"), data.get("pluginDeveloper")
        if not (isinstance(name, str) and 3 <= len(name) <= 32):
            return 52, "pluginName invalid: expected 3 to 32 characters"
        if not (isinstance(dev, str) and 3 <= len(dev) <= 32):
            return 53, "pluginDeveloper invalid: expected 3 to 32 characters"
        return None

    async def _on_AuthenticationTokenRequest(self, data, session):
        bad = self._names_ok(data)
        if bad:
            return bad
        await asyncio.sleep(0.02)  # the user reads the popup
        if not self.approve:
            return 50, "User has denied API access for your plugin."
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = (data["pluginName"], data["pluginDeveloper"])
        return {"authenticationToken": token}

    async def _on_AuthenticationRequest(self, data, session):
        if not data.get("authenticationToken"):
            return 100, "authenticationToken missing"
        if not data.get("pluginName"):
            return 101, "pluginName missing"
        if not data.get("pluginDeveloper"):
            return 102, "pluginDeveloper missing"
        with self.lock:
            who = self.tokens.get(data["authenticationToken"])
        ok = who == (data["pluginName"], data["pluginDeveloper"])
        session["authenticated"] = ok
        session["plugin"] = data["pluginName"]
        return {"authenticated": ok,
                "reason": "Token valid. The plugin is authenticated for the duration of this "
                          "session." if ok else "Token invalid or revoked."}

    async def _on_ParameterCreationRequest(self, data, session):
        name = data.get("parameterName")
        if not (isinstance(name, str) and 4 <= len(name) <= 32 and name.isalnum()):
            return 350, "parameterName invalid: expected 4 to 32 alphanumeric characters"
        if name in DEFAULT_PARAMETERS:
            return 354, "a default parameter name is not allowed"
        vals = [data.get(k) for k in ("min", "max", "defaultValue")]
        if not all(isinstance(v, (int, float)) and abs(v) <= 1e6 for v in vals):
            return 351, "min/max/defaultValue must be numbers in [-1000000, 1000000]"
        if len(str(data.get("explanation", ""))) >= 256:
            return 353, "explanation too long"
        with self.lock:
            owner = self.custom.get(name, (0, 0, 0, session["plugin"]))[3]
            if owner != session["plugin"]:
                return 352, "parameter already created by another plugin"
            if name not in self.custom and \
                    sum(1 for c in self.custom.values() if c[3] == session["plugin"]) >= 100:
                return 355, "limit of 100 custom parameters per plugin"
            self.custom[name] = (*vals, session["plugin"])
        return {"parameterName": name}

    async def _on_InputParameterListRequest(self, data, session):
        with self.lock:
            custom = [{"name": n, "addedBy": c[3], "value": c[2], "min": c[0], "max": c[1],
                       "defaultValue": c[2]} for n, c in self.custom.items()]
        return {"modelLoaded": True, "modelName": "stand-in", "modelID": "standin",
                "customParameters": custom,
                "defaultParameters": [{"name": n, "addedBy": "VTube Studio", "value": 0,
                                       "min": lo, "max": hi, "defaultValue": 0}
                                      for n, (lo, hi) in DEFAULT_PARAMETERS.items()]}

    async def _on_InjectParameterDataRequest(self, data, session):
        mode = data.get("mode", "set")
        if mode not in ("set", "add"):
            return 455, f"mode {mode!r} unknown: expected set or add"
        values = data.get("parameterValues")
        if not values:
            return 450, "no data provided"
        got: dict[str, float] = {}
        with self.lock:
            known = set(DEFAULT_PARAMETERS) | set(self.custom)
        for pv in values:
            pid, v, w = pv.get("id"), pv.get("value"), pv.get("weight", 1.0)
            if pid not in known:
                return 453, f"parameter {pid!r} not found"
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) <= 1e6:
                return 451, f"value {v!r} for {pid} invalid: expected [-1000000, 1000000]"
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1:
                return 452, f"weight {w!r} for {pid} invalid: expected [0, 1]"
            got[pid] = float(v)
        with self.lock:
            self.injections.append((time.monotonic(), got))
        return {}
