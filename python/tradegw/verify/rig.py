"""The rig every scenario runs on: the venue simulators in child processes on 127.0.0.1 (as
``tradegw run`` starts them), a gateway connected to them, and the scenario's consumers.

A rig never touches the user's files: its control state is in memory, it has no control
socket and its DLQ is kept in memory.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

from tradegw.config import GatewayConfig, load_config
from tradegw.gateway import Gateway
from tradegw.sim.process import SimulatorProcess

log = logging.getLogger("tradegw.verify")

SIM_GRACE_S = 0.5
"""How long a simulator has to exit on SIGTERM before it is killed (as ``tradegw run``)."""
GATEWAY_STOP_S = 3.0
"""The most the gateway gets to stop before the simulators are stopped all the same."""
SYNC_WITHIN_S = 30.0
"""How long every book may take to be synced at the start before the rig gives up."""


@cache
def _default_raw() -> dict[str, Any]:
    return load_config().model_dump(mode="json")


def embedded_default() -> dict[str, Any]:
    """The embedded default config (``tradegw run`` without ``--config``), raw: a fresh
    copy to edit."""
    return copy.deepcopy(_default_raw())


def rig_config(
    change: Callable[[dict[str, Any]], None] | None = None,
) -> GatewayConfig:
    """The embedded default config (3 venue simulators x 50 symbols at 500 msgs/s each)
    without its consumers and merges and without anything written to disk, after
    ``change`` edited its raw form (a dict as the YAML would give it)."""
    raw = embedded_default()
    raw["consumers"] = []
    raw["merges"] = []
    raw["control"] = {"state_path": None, "port": None, "address_path": None}
    raw["telemetry"] = {"dlq_path": None, "log_level": "ERROR", "log_path": None}
    raw["orders"] = {"ledger_path": None}
    raw["ops"] = {"port": None}
    if change is not None:
        change(raw)
    return GatewayConfig.model_validate(raw)


def add_faults(raw: dict[str, Any], venue: str, *faults: Mapping[str, Any]) -> None:
    """Adds fault specs (``{"kind": "drop", "rate": 0.001}``) to a venue's simulator in a
    raw config."""
    sim = raw["simulators"][venue]
    plan = sim.setdefault("faults", {"faults": []})
    plan["faults"].extend(dict(f) for f in faults)


class Rig:
    """Simulators, then a gateway on them; :meth:`start` starts the gateway (subscribe the
    consumers that must see everything before it).

    >>> async with Rig(rig_config()) as rig:
    ...     sub = rig.gw.subscribe(name="books", types=["BookSnapshot", "BookUpdate"])
    ...     await rig.start()
    ...     await rig.wait_synced()
    """

    def __init__(self, config: GatewayConfig, *, workdir: Path | None = None) -> None:
        """``workdir``: where the simulators' config files go (None: the system's temporary
        folder)."""
        self.config = config
        self.workdir = workdir
        self.sims: dict[str, SimulatorProcess] = {}
        self._gw: Gateway | None = None
        self._started = False
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def gw(self) -> Gateway:
        """The gateway (built once the simulators run)."""
        if self._gw is None:
            raise RuntimeError("the rig's simulators have not started")
        return self._gw

    async def __aenter__(self) -> Rig:
        await self.start_simulators()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start_simulators(self) -> None:
        """Starts every ``"sim"`` venue's simulator in a child process, side by side, and
        builds the gateway on their URLs."""
        for venue, section in self.config.venues.configured():
            if section.enabled and section.ws_url == "sim":
                # Tracked before it starts: a stop while it starts must still reach it.
                self.sims[venue] = SimulatorProcess(
                    venue, self.config.simulators.get(venue), workdir=self.workdir
                )
        await asyncio.gather(*(sim.start() for sim in self.sims.values()))
        self._gw = self.new_gateway()

    def new_gateway(self) -> Gateway:
        """A gateway on the simulators' URLs (not started)."""
        return Gateway(
            self.config,
            urls={v: s.ws_url for v, s in self.sims.items()},
            rest_urls={v: s.rest_url for v, s in self.sims.items()},
        )

    async def start(self) -> None:
        """Starts the gateway (it connects to every venue)."""
        self._started = True
        await self.gw.start()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Runs ``work`` beside the gateway; cancelled when the rig closes, if still running."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.append(task)
        return task

    def expected_books(self) -> int:
        """How many books the gateway keeps, over every venue."""
        return sum(
            len(section.symbols)
            for venue, section in self.config.venues.configured()
            if venue in self.gw.providers
        )

    def synced_books(self) -> set[tuple[str, str]]:
        """The (venue, symbol) books synced now."""
        return {
            (venue, symbol)
            for venue, provider in self.gw.providers.items()
            for symbol, (status, _) in provider.books().items()
            if status == "synced"
        }

    async def wait_synced(self, within_s: float = SYNC_WITHIN_S, *, at_once: bool = True) -> float:
        """Waits until every book of every venue is synced (``at_once`` False: has been
        synced at some point, for feeds whose faults keep resyncing some book); returns how
        long that took.

        Raises:
            TimeoutError: some book was not synced within ``within_s`` (the message says how
                many).
        """
        start = time.monotonic()
        expected = self.expected_books()
        seen: set[tuple[str, str]] = set()
        while True:
            synced = self.synced_books()
            seen = seen | synced if not at_once else synced
            if len(seen) >= expected:
                return time.monotonic() - start
            if time.monotonic() - start > within_s:
                raise TimeoutError(f"{len(seen)} of {expected} books synced after {within_s:g} s")
            await asyncio.sleep(0.02)

    async def stop_simulator(self, venue: str) -> None:
        """Stops one venue's simulator (the venue goes away; the gateway keeps trying)."""
        await self.sims[venue].stop(SIM_GRACE_S)

    def kill_simulators(self) -> None:
        """SIGKILLs every simulator now (a second stop signal); :meth:`close` reaps them."""
        for sim in self.sims.values():
            sim.kill()

    async def stop_gateway(self) -> None:
        """Stops the gateway: subscriptions end once their consumers drained them. Idempotent."""
        if self._started:
            self._started = False
            await self.gw.stop()

    async def close(self) -> None:
        """Stops what started, newest first; the simulators whatever happened before."""
        try:
            async with asyncio.timeout(GATEWAY_STOP_S):
                await self.stop_gateway()
        except TimeoutError:
            log.warning("the gateway took over %.1f s to stop; stopping the rest", GATEWAY_STOP_S)
        finally:
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                # wait() never raises: a consumer's own failure was the scenario's to see.
                await asyncio.wait(self._tasks)
                for task in self._tasks:
                    if not task.cancelled() and task.exception() is not None:
                        log.debug("rig task %s failed", task.get_name(), exc_info=task.exception())
            await asyncio.gather(*(sim.stop(SIM_GRACE_S) for sim in self.sims.values()))
