"""The control socket: line-delimited JSON on 127.0.0.1 for tools in other processes.

Each line a client writes is one control message; each gets one line back, its
:class:`~tradegw.bus.messages.Ack`, in order. The socket takes exactly what
:meth:`Gateway.control_async <tradegw.gateway.Gateway.control_async>` takes (orders
included: a ``SubmitOrder`` line is answered once the venue has answered), so ``tradegw
ctl``, ``tradegw order`` and a strategy in the same process change the gateway the same
way. A line longer than
:data:`~tradegw.bus.control.MAX_MESSAGE_BYTES` is answered with an error and the connection
closed (its end cannot be found without reading it all); so is a client beyond
:data:`MAX_CLIENTS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from tradegw.bus.control import MAX_MESSAGE_BYTES, ControlBus
from tradegw.bus.messages import Ack

log = logging.getLogger("tradegw.bus")

MAX_CLIENTS = 64


class ControlServer:
    """Serves ``bus`` on ``host``:``port`` (0: any free port; :attr:`address` says which)."""

    def __init__(self, bus: ControlBus, host: str = "127.0.0.1", port: int = 0) -> None:
        self._bus = bus
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._address_path: Path | None = None
        self.address: tuple[str, int] | None = None

    async def start(self, address_path: str | Path | None = None) -> tuple[str, int]:
        """Listens; writes ``host:port`` to ``address_path`` (for ``tradegw ctl``) if given."""
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_MESSAGE_BYTES + 1
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = (host, port)
        if address_path is not None:
            self._address_path = Path(address_path)
            _write_address(self._address_path, host, port)
        log.info("control socket on %s:%d", host, port)
        return self.address

    async def stop(self) -> None:
        """Stops listening and ends every connection."""
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            for task in list(self._clients):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._server.wait_closed()
            self._server = None
        if self._address_path is not None:
            # No gateway listens there any more: tradegw ctl should say so, not time out.
            self._address_path.unlink(missing_ok=True)
            self._address_path = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._clients) >= MAX_CLIENTS:
            await _answer(writer, self._refusal(f"more than {MAX_CLIENTS} control clients"))
            writer.close()
            return
        self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as e:
                    if e.partial.strip():  # a last message without its newline
                        await _answer(writer, await self._bus.handle_async(e.partial))
                    break
                except asyncio.LimitOverrunError:
                    await _answer(
                        writer, self._refusal(f"line longer than {MAX_MESSAGE_BYTES} bytes")
                    )
                    break
                if line.strip():
                    await _answer(writer, await self._bus.handle_async(line))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    def _refusal(self, error: str) -> Ack:
        return self._bus.refuse(error)


def _write_address(path: Path, host: str, port: int) -> None:
    # A few bytes, once at start-up: not worth a thread.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{host}:{port}\n")


async def _answer(writer: asyncio.StreamWriter, ack: Ack) -> None:
    writer.write(ack.model_dump_json(exclude_none=True).encode() + b"\n")
    await writer.drain()
