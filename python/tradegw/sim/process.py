"""Running a venue simulator in a child process, as ``tradegw run`` does for ``"sim"`` URLs.

A separate process keeps the simulator's work off the gateway's event loop and core, the way
a real venue would be. The venue is named, not imported: the child finds it in the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
import tempfile
from pathlib import Path

from tradegw.sim.config import SimConfig
from tradegw.sim.registry import venue_names

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Runs in the child before exec: SIGTERM it if the gateway dies without stopping it, so
    no simulator is ever left running on its own."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died between the fork and the prctl, which then never fires:
        # the child has been re-parented already.
        if os.getppid() != parent:
            os._exit(1)


class SimulatorProcess:
    """``python -m tradegw.sim <venue> --config FILE`` with the URLs it printed."""

    def __init__(self, venue: str, config: SimConfig, *, workdir: Path | None = None) -> None:
        """Nothing starts yet. The config is handed to the child in a file only this user
        can read, in ``workdir`` (None: the system's temporary folder), removed on stop.

        Raises:
            ValueError: ``venue`` is not a registered simulator.
        """
        if venue not in venue_names():
            raise ValueError(f"unknown venue {venue!r}; known: {', '.join(venue_names())}")
        self.venue = venue
        self.config = config
        self.workdir = workdir
        self.ws_url = ""
        self.rest_url = ""
        self.inspect_url = ""
        """The inspection endpoints' URL when the config sets ``inspect_port``, else ``""``."""
        self._proc: asyncio.subprocess.Process | None = None
        self._config_file: Path | None = None

    async def start(self, within_s: float = 15.0) -> None:
        """Starts the child and waits until it prints both URLs.

        Raises:
            RuntimeError: the child exited before printing them.
            TimeoutError: it did not print them within ``within_s``.
        """
        fd, name = tempfile.mkstemp(
            prefix=f"tradegw-sim-{self.venue}-", suffix=".json", dir=self.workdir
        )
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.config.model_dump_json())
        self._config_file = Path(name)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tradegw.sim",
                self.venue,
                "--config",
                name,
                stdout=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),
                # Its own session: a Ctrl-C at the terminal goes to the gateway alone, which
                # stops its simulators in order, instead of also hitting a child still
                # importing (whose KeyboardInterrupt traceback would land on the terminal).
                start_new_session=True,
            )
            await self._read_urls(self._proc, within_s)
        except BaseException:
            # Failed or cancelled half-way (spawned, URLs not yet printed): a child that never
            # served needs no graceful stop. (Cancelled while spawning, the event loop kills
            # the child itself; the config file is still ours to remove.)
            self.kill()
            await self.stop()
            raise

    async def _read_urls(self, proc: asyncio.subprocess.Process, within_s: float) -> None:
        assert proc.stdout is not None
        async with asyncio.timeout(within_s):
            while not (self.ws_url and self.rest_url):
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"simulator exited early (status {proc.returncode})")
                parts = line.split()
                if parts[:2] == [self.venue, "ws"]:
                    self.ws_url = parts[2]
                elif parts[:2] == [self.venue, "rest"]:
                    self.rest_url = parts[2]
                elif parts[:2] == [self.venue, "inspect"]:
                    # Printed before the other two, so it is in by the time they are.
                    self.inspect_url = parts[2]

    def kill(self) -> None:
        """SIGKILLs the child now if it runs (no wait; :meth:`stop` reaps it)."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    async def stop(self, grace_s: float = 1.0) -> None:
        """Terminates the child (SIGTERM, then SIGKILL after ``grace_s``) and reaps it."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                self.kill()
                await proc.wait()
        if self._config_file is not None:
            self._config_file.unlink(missing_ok=True)
            self._config_file = None
