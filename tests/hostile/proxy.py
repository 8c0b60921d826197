"""Loopback men in the middle: a WebSocket proxy that reads the venue's frames and lets a test
rewrite, drop or forge them, and a REST proxy that can answer in the venue's place.

Both sit between the gateway and a real simulator on 127.0.0.1. The WebSocket proxy works on
the bytes of the connection: the client's handshake and (masked) frames pass through
untouched; the server's frames are parsed (RFC 6455 §5.2), and each text frame's payload goes
through the current :class:`Attack`, which returns what the client gets instead. An attack
may also return :class:`Raw` bytes, which are written as they are: a forged header claiming
a frame of 2^63 bytes, say, which no payload rewrite could express.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import ClientSession, web


@dataclass(frozen=True)
class Raw:
    """Bytes written to the client as they are, not framed."""

    data: bytes


Out = bytes | Raw
"""What an attack sends for one frame: a text payload (framed by the proxy) or raw bytes."""


class Attack:
    """Passes every frame through unchanged; tests override :meth:`frame`."""

    def frame(self, payload: bytes, conn: int) -> list[Out]:
        """What the client receives instead of the text frame ``payload`` on connection
        number ``conn`` (1 for the proxy's first)."""
        return [payload]


def text_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked server frame (FIN set) carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """One server frame: (opcode, payload, the frame's bytes as received)."""
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    ext = b""
    if n == 126:
        ext = await reader.readexactly(2)
        n = struct.unpack("!H", ext)[0]
    elif n == 127:
        ext = await reader.readexactly(8)
        n = struct.unpack("!Q", ext)[0]
    payload = await reader.readexactly(n)
    return head[0] & 0x0F, payload, head + ext + payload


class WsProxy:
    """A WebSocket proxy on 127.0.0.1 in front of ``upstream_url`` (``ws://host:port/...``);
    connect the gateway to :attr:`url` (same path) instead."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._path = parts.path or "/"
        self.attack = Attack()
        self.frames = 0
        """Server text frames seen (before the attack)."""
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listens on an ephemeral port."""
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        """The URL the gateway connects to."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}{self._path}"

    def sever(self) -> None:
        """Closes every open connection abruptly."""
        for w in list(self._writers):
            w.transport.abort()

    async def stop(self) -> None:
        """Stops listening and closes every connection."""
        if self._server is not None:
            self._server.close()
        self.sever()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _on_client(
        self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        conn = self.connections
        self._writers.add(cwriter)
        try:
            sreader, swriter = await asyncio.open_connection(self._host, self._port)
        except OSError:
            cwriter.transport.abort()
            return
        self._writers.add(swriter)
        up = asyncio.ensure_future(self._pipe(creader, swriter))
        down = asyncio.ensure_future(self._downstream(sreader, cwriter, conn))
        self._tasks.update((up, down))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (up, down):
                t.cancel()
                self._tasks.discard(t)
            for w in (cwriter, swriter):
                w.transport.abort()
                self._writers.discard(w)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    async def _downstream(
        self, sreader: asyncio.StreamReader, cwriter: asyncio.StreamWriter, conn: int
    ) -> None:
        # The upgrade response passes as it is; frames follow it.
        cwriter.write(await sreader.readuntil(b"\r\n\r\n"))
        while True:
            opcode, payload, wire = await _read_frame(sreader)
            if opcode != 0x1:
                cwriter.write(wire)
            else:
                self.frames += 1
                for out in self.attack.frame(payload, conn):
                    cwriter.write(out.data if isinstance(out, Raw) else text_frame(out))
            await cwriter.drain()


RestHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
"""Answers a REST request in the venue's place, or returns None to let it through."""


class RestProxy:
    """An HTTP proxy on 127.0.0.1 in front of a simulator's REST base URL; :attr:`handler`
    may answer any request itself."""

    def __init__(self, upstream_url: str) -> None:
        self._upstream = upstream_url.rstrip("/")
        self.handler: RestHandler | None = None
        self.requests: list[str] = []
        """Path and query of every request, in order."""
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.url = ""

    async def start(self) -> None:
        """Listens on an ephemeral port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = ClientSession()

    async def stop(self) -> None:
        """Stops serving."""
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if self.handler is not None:
            answer = await self.handler(request)
            if answer is not None:
                return answer
        assert self._session is not None
        body = await request.read()
        async with self._session.request(
            request.method,
            self._upstream + request.path_qs,
            data=body or None,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        ) as r:
            data = await r.read()
            headers = {
                k: v
                for k, v in r.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
            }
            return web.Response(status=r.status, body=data, headers=headers)
