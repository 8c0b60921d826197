"""A client of the control socket (``tradegw ctl`` and tools): one message, one Ack."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from tradegw.bus.control import MAX_MESSAGE_BYTES
from tradegw.bus.messages import Ack


def read_address(path: str | Path) -> tuple[str, int]:
    """``host:port`` as the gateway wrote it to its address file."""
    text = Path(path).read_text().strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{path}: not a host:port address: {text[:60]!r}")
    return host, int(port)


class ControlClient:
    """One connection to a gateway's control socket; send messages with :meth:`request`."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> ControlClient:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=4 * MAX_MESSAGE_BYTES
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def request(self, message: Mapping[str, Any] | bytes) -> Ack:
        """Sends one message (a dict, or JSON bytes) and returns its Ack."""
        if self._reader is None or self._writer is None:
            raise RuntimeError("use the client in 'async with'")
        payload = message if isinstance(message, bytes) else orjson.dumps(dict(message))
        self._writer.write(payload.rstrip(b"\n") + b"\n")
        await self._writer.drain()
        line = await self._reader.readline()
        if not line:
            raise ConnectionError("the gateway closed the control connection")
        return Ack.model_validate_json(line)
