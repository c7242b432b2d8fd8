"""A small headless-Chromium driver over the DevTools protocol, for the tests and the bench.

Only what they need: open a page, evaluate JavaScript (awaiting promises), take a screenshot.
Uses the system Chromium (Debian's /usr/bin/chromium) and the `websockets` package; nothing is
downloaded.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import VasaError

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--mute-audio",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows", "--remote-debugging-port=0")


class BrowserError(VasaError):
    pass


def find_chromium() -> str | None:
    for name in (os.environ.get("VASA_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


class Browser:
    """One headless Chromium with one page. A context manager."""

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 900,
                 extra_flags: tuple[str, ...] = ()) -> None:
        from websockets.sync.client import connect
        exe = executable or find_chromium()
        if exe is None:
            raise BrowserError("no Chromium found: install Debian's `chromium` (apt-get install "
                               "chromium) or set VASA_CHROMIUM")
        self._dir = tempfile.mkdtemp(prefix="vasa-chromium-")
        self._proc = subprocess.Popen(
            [exe, *FLAGS, *extra_flags, f"--user-data-dir={self._dir}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            self.close()
            raise BrowserError("Chromium did not start: " + "".join(lines[-5:]))
        import threading
        threading.Thread(target=lambda: [None for _ in self._proc.stderr], daemon=True).start()
        self._ws = connect(url, max_size=256 * 1024 * 1024, open_timeout=10).__enter__()
        self._ids = itertools.count(1)
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target,
                                   flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.console: list[str] = []

    def _call(self, method: str, session: str | None = None, timeout: float = 30, **params):
        msg_id = next(self._ids)
        msg = {"id": msg_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{method}: no answer from Chromium within {timeout} s")
            reply = json.loads(self._ws.recv(timeout=left))
            if reply.get("method") == "Runtime.consoleAPICalled":
                args = reply["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in args))
            elif reply.get("method") == "Runtime.exceptionThrown":
                d = reply["params"]["exceptionDetails"]
                self.console.append("exception: " + d.get("exception", {}).get(
                    "description", d.get("text", "")))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def call(self, method: str, timeout: float = 30, **params):
        return self._call(method, self._session, timeout, **params)

    def goto(self, url: str, wait_s: float = 15) -> None:
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.eval("document.readyState") == "complete":
                return
            time.sleep(0.05)
        raise BrowserError(f"{url} did not finish loading within {wait_s} s")

    def eval(self, expression: str, timeout: float = 30):
        """The JSON value of a JavaScript expression (promises awaited)."""
        r = self.call("Runtime.evaluate", timeout, expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("JavaScript error: " + d.get("exception", {}).get(
                "description", d.get("text", "?")))
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15, interval: float = 0.1):
        """Poll until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(interval)
        raise BrowserError(f"timed out after {timeout} s waiting for {expression!r} (last "
                           f"value {value!r}); console: {self.console[-5:]}")

    def screenshot(self, path: str | Path, transparent: bool = False) -> None:
        if transparent:
            self.call("Emulation.setDefaultBackgroundColorOverride",
                      color={"r": 0, "g": 0, "b": 0, "a": 0})
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            if getattr(self, "_ws", None) is not None:
                self._ws.close()
        finally:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
