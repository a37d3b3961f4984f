"""One headless Chromium for many pages, driven over the DevTools protocol (CDP).

Starting Chromium costs about 3 s on two cores; the book's test opened it twice per page (one run to
dump the DOM, one for a screenshot). :class:`Browser` starts it once and, per page, navigates,
waits for a JavaScript expression to give a value, reads it and takes a screenshot. The websocket
client is tornado's (Jupyter's server already depends on it).
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import subprocess
import time
from pathlib import Path

from tornado.websocket import websocket_connect

LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class Browser:
    """``with Browser(chromium, profile) as browser: browser.read(url, expression)``."""

    def __init__(self, chromium: str, profile: Path, width: int = 1280, height: int = 2000):
        self.command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--no-first-run", "--hide-scrollbars",
                        f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
        self.size = (width, height)
        self.ids = itertools.count(1)
        self.events: list[str] = []   # names of the events received, oldest first
        self.loop = asyncio.new_event_loop()

    def __enter__(self) -> "Browser":
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.socket = None
        try:
            self._open()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _open(self) -> None:
        address = self._address(deadline=time.monotonic() + 60)
        self.socket = self._run(lambda: websocket_connect(address, max_message_size=1 << 28))
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        width, height = self.size
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False,
                  session=True)
        self.call("Page.enable", session=True)

    def __exit__(self, *exc) -> None:
        try:
            if self.socket is not None:
                self.socket.close()
        finally:
            self.process.kill()
            self.process.wait(timeout=30)
            self.loop.close()

    def _address(self, deadline: float) -> str:
        for line in self.process.stderr:
            found = LISTENING.search(line)
            if found:
                return found[1]
            if time.monotonic() > deadline:
                break
        raise RuntimeError(f"Chromium did not open its DevTools port: {' '.join(self.command)}")

    def _run(self, awaitable, timeout: float | None = None):
        """Run ``awaitable()`` on this browser's event loop (tornado's futures belong to the loop that
        is running when they are made, so they are made inside it)."""
        async def inside():
            return await asyncio.wait_for(awaitable(), timeout=timeout)
        return self.loop.run_until_complete(inside())

    def _receive(self, timeout: float) -> dict:
        raw = self._run(self.socket.read_message, timeout=timeout)
        if raw is None:
            raise RuntimeError("Chromium closed the connection")
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message["method"])
        return message

    def call(self, method: str, session: bool = False, **params) -> dict:
        """Send one command and return its result (events that arrive meanwhile are recorded)."""
        message = {"id": next(self.ids), "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._run(lambda: self.socket.write_message(json.dumps(message)))
        while True:
            reply = self._receive(timeout=120)
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def wait_for_event(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while name not in self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name} within {timeout:.0f} s")
            self._receive(timeout=left)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def read(self, url: str, expression: str, timeout: float = 60.0):
        """Open ``url``, wait for its load event, and return the first non-null value of
        ``expression`` (polled: scripts may still be running after the load), or None."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        self.wait_for_event("Page.loadEventFired", timeout)
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value is not None:
                return value
            time.sleep(0.1)
        return None

    def screenshot(self, path: Path) -> None:
        """The top of the page as it is now, at the browser's size, as a PNG."""
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
