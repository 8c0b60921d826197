"""Child processes for the multi-process NATS tests: ``tradegw run`` gateways, shards and the
merge role, each with its output in a log file, stopped with SIGTERM (killed when it does not
exit in time) and always reaped."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """``config`` as a file ``tradegw run --config`` reads (JSON is YAML)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    return path


class Child:
    """One child process; ``argv`` after the Python interpreter, or a whole command line
    with ``raw=True`` (e.g. under ``ip netns exec``)."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, *, raw: bool = False) -> None:
        self.name = name
        self.argv = list(argv) if raw else [sys.executable, *argv]
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def output(self) -> str:
        """The tail of what the child wrote (for assertion messages)."""
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    async def stop(self, within_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``within_s``; returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(within_s):
                    await proc.wait()
            except TimeoutError:
                self.kill()
        return await self.wait()

    def kill(self) -> None:
        """SIGKILL now."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def wait(self) -> int | None:
        if self.proc is None:
            return None
        return await self.proc.wait()


def tradegw(*args: str) -> list[str]:
    """``python -m tradegw ARGS``."""
    return ["-m", "tradegw", *args]
