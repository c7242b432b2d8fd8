"""The viewer hub: every WebSocket watching the runtime, what each wants, and the fan-out of the
runtime's messages to them. Runs on the web server's event loop.

Small messages (audio, motion, status, events) queue per viewer, oldest dropped past
`client_queue`; frames go through a latest-only slot, so a slow viewer skips frames instead of
falling behind (`dropped_frames`).
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from typing import Callable

from aiohttp import WSMsgType, web

from .security import MAX_UPLOAD_BYTES


class Viewer:
    """One WebSocket: what it wants, and a latest-only slot for frames."""

    def __init__(self, ws: web.WebSocketResponse, stream: str, media: bool, motion: bool,
                 panel: bool, maxlen: int) -> None:
        self.ws = ws
        self.stream = stream
        self.media = media  # frames + audio
        self.motion = motion
        self.panel = panel  # status updates
        self.queue: collections.deque = collections.deque(maxlen=maxlen)
        self.frame: bytes | None = None
        self.wake = asyncio.Event()
        self.dropped_frames = 0

    def post(self, item) -> None:
        self.queue.append(item)
        self.wake.set()

    def post_frame(self, packet: bytes) -> None:
        if self.frame is not None:
            self.dropped_frames += 1
        self.frame = packet
        self.wake.set()


class ViewerHub:
    """The viewers of one web server. `deliver` fans a message from the runtime out to those
    who want it; `ws_handler` is the `/ws` route. `welcome(panel)` gives the messages a new
    viewer gets first (the hello, and the status for a panel)."""

    def __init__(self, client_queue: int, welcome: Callable[[bool], list]) -> None:
        self.client_queue = client_queue  # small messages queued per viewer
        self._welcome = welcome
        self.viewers: set[Viewer] = set()
        self.wanted: frozenset = frozenset()  # streams whose frames some viewer shows

    @property
    def dropped_frames(self) -> int:
        return sum(v.dropped_frames for v in self.viewers)

    def _update_wanted(self) -> None:
        self.wanted = frozenset(v.stream for v in self.viewers if v.media)

    def deliver(self, kind: str, stream: str, item) -> None:
        """A message of `kind` for `stream`: to every viewer that wants it."""
        for v in self.viewers:
            if kind == "frame":
                if v.media and v.stream == stream:
                    v.post_frame(item)
            elif kind == "audio":
                if v.media and v.stream == stream:
                    v.post(item)
            elif kind == "motion":
                if v.motion and v.stream == stream:
                    v.post(item)
            elif kind == "event":
                if v.stream == stream or v.panel:
                    v.post(item)
            elif kind == "hello":
                v.post(item)

    def post_panels(self, msg: dict) -> None:
        """A status update: to the viewers that are control panels."""
        for v in self.viewers:
            if v.panel:
                v.post(msg)

    async def close(self) -> None:
        for v in list(self.viewers):
            await v.ws.close()

    async def ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        q = request.query
        # No permessage-deflate: JPEG does not shrink, and deflating 1 MiB raw RGBA frames costs
        # more than the whole rest of the feed (bench/bench_web.py).
        ws = web.WebSocketResponse(heartbeat=10, max_msg_size=MAX_UPLOAD_BYTES, compress=False)
        await ws.prepare(request)
        viewer = Viewer(ws, q.get("stream", "default"), q.get("media", "1") != "0",
                        q.get("motion", "0") == "1", q.get("panel", "0") == "1",
                        self.client_queue)
        self.viewers.add(viewer)
        self._update_wanted()
        for msg in self._welcome(viewer.panel):
            viewer.post(msg)
        sender = asyncio.get_running_loop().create_task(self._send_loop(viewer))
        try:
            async for msg in ws:  # viewers only listen; this notices when they leave
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    viewer.post({"type": "pong", "t": time.time()})
        finally:
            self.viewers.discard(viewer)
            self._update_wanted()
            sender.cancel()
        return ws

    @staticmethod
    async def _send_loop(v: Viewer) -> None:
        try:
            while not v.ws.closed:
                await v.wake.wait()
                v.wake.clear()
                while v.queue:
                    item = v.queue.popleft()
                    if isinstance(item, bytes):
                        await v.ws.send_bytes(item)
                    else:
                        await v.ws.send_str(json.dumps(item, separators=(",", ":")))
                if v.frame is not None:
                    frame, v.frame = v.frame, None
                    await v.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError):  # the viewer left mid-send
            pass
