"""The reading half every venue's test client shares: text frames over aiohttp, recorded as
they arrive, parsed by the venue's own rule, waited for with deadlines.

Independent of the simulators' code and of ``tradegw._core``, like the clients built on it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp


class TextClient:
    """Reads one WebSocket's text frames; a venue subclass adds its requests and may parse
    or record frames its own way (:meth:`parse`, :meth:`recv`)."""

    recv_timeout_s = 2.0
    """How long :meth:`recv` waits by default."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.texts: list[str] = []

    @staticmethod
    def parse(text: str) -> Any:
        """A frame's JSON (venues whose numbers must stay exact override this)."""
        return json.loads(text)

    async def recv_text(self, within: float | None = None) -> str:
        """The next text frame (fails the test on timeout or on a closed socket)."""
        wait = self.recv_timeout_s if within is None else within
        msg = await asyncio.wait_for(self.ws.receive(), wait)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"expected text, got {msg.type}: {msg.data}"
        self.texts.append(msg.data)
        return str(msg.data)

    async def recv(self, within: float | None = None) -> Any:
        """The next frame, parsed."""
        return self.parse(await self.recv_text(within))

    async def recv_until(self, predicate: Any, within: float = 3.0) -> Any:
        """Read frames until one satisfies ``predicate``; returns it."""
        deadline = time.monotonic() + within
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(frame):
                return frame

    async def collect(self, seconds: float) -> list[Any]:
        """Every frame that arrives in the next ``seconds``."""
        deadline = time.monotonic() + seconds
        out = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(await self.recv(left))
            except TimeoutError:
                break
        return out

    async def drain(self, quiet: float = 0.2) -> list[Any]:
        """Read until nothing arrives for ``quiet`` seconds; returns the parsed frames."""
        out = []
        while True:
            try:
                out.append(await self.recv(quiet))
            except TimeoutError:
                return out
