"""Running the selected scenarios one after the other, stoppable at any moment.

Each scenario runs on a rig of its own (simulators, gateway, consumers), so that one
scenario's faults never colour another's figures. A scenario that raises or overruns its
budget fails its criteria with the reason in the note; the next one runs all the same.
SIGINT/SIGTERM stop the scenario in progress (its rig is stopped, simulators reaped) and skip
the rest; a second signal kills the simulators at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tradegw.errors import one_line
from tradegw.stopping import StopRequest
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario, failed, unmeasured
from tradegw.verify.rig import Rig

if TYPE_CHECKING:
    from tradegw.config import GatewayConfig

log = logging.getLogger("tradegw.verify")

STOPPED = "not run (stopped)"


@dataclass
class RunContext:
    """What a scenario is given: how long to run, which of its criteria to measure, where
    progress goes, and the rigs it makes (so a second signal can kill their simulators)."""

    quick: bool
    selected: frozenset[str]
    say: Callable[[str], None] = lambda _text: None
    rigs: list[Rig] = field(default_factory=list)

    def wants(self, criterion: str) -> bool:
        """Whether ``criterion`` is to be measured in this run."""
        return criterion in self.selected

    def rig(self, config: GatewayConfig) -> Rig:
        """A new rig on ``config`` (enter it with ``async with``)."""
        rig = Rig(config)
        self.rigs.append(rig)
        return rig

    def kill_simulators(self) -> None:
        """SIGKILLs every simulator of every rig now."""
        for rig in self.rigs:
            rig.kill_simulators()


@dataclass
class Report:
    """A verification's rows, in criterion order, and how the run went."""

    outcomes: list[Outcome]
    elapsed_s: float
    quick: bool
    stopped: bool = False
    """A stop signal ended the run before every selected criterion was measured."""

    @property
    def passed(self) -> bool:
        """Every criterion selected was measured and passed."""
        return not self.stopped and all(o.passed is True for o in self.outcomes)

    def machine(self) -> dict[str, Any]:
        """Where the run happened, for the report."""
        return {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(terse=True),
            "processor": platform.processor() or platform.machine(),
        }


def all_scenarios() -> list[Scenario]:
    """Every scenario, in the order they run (cheap and quick first)."""
    from tradegw.verify import (
        churn,
        fair_share,
        merges,
        ordering,
        resync,
        steady_load,
        trading,
    )

    return [
        steady_load.SCENARIO,
        ordering.SCENARIO,
        trading.SCENARIO,
        fair_share.SCENARIO,
        churn.SCENARIO,
        resync.SCENARIO,
        merges.SCENARIO,
    ]


def measurable() -> list[str]:
    """The criteria a scenario measures."""
    return sorted(c for s in all_scenarios() for c in s.criteria)


async def run_verify(
    criteria: Collection[str] | None = None,
    *,
    quick: bool = False,
    stop_request: StopRequest | None = None,
    say: Callable[[str], None] = lambda _text: None,
) -> Report:
    """Runs the scenarios of ``criteria`` (``["SC-001", ...]``; None = every criterion)
    and returns the report; ``quick`` runs each for a few seconds instead of the full
    length.

    ``stop_request`` is one the caller installed (``tradegw.cli.main`` does); without it
    this run installs its own for its duration.

    Raises:
        ValueError: an unknown criterion.
    """
    selected = frozenset(CRITERIA if criteria is None else criteria)
    unknown = sorted(selected - CRITERIA.keys())
    if unknown:
        raise ValueError(f"unknown criteria {unknown}; known: {', '.join(CRITERIA)}")
    own_request = stop_request is None
    request = stop_request or StopRequest()
    if own_request:
        request.install()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    ctx = RunContext(quick, selected, say)

    def on_signal(count: int) -> None:
        stop.set()
        if count > 1:
            ctx.kill_simulators()

    def from_handler(count: int) -> None:
        # Inside the signal handler: only hand over to the loop.
        loop.call_soon_threadsafe(on_signal, count)

    forget = request.listen(from_handler)
    if request.count:
        on_signal(request.count)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        for scenario in all_scenarios():
            mine = [c for c in scenario.criteria if c in selected]
            if not mine:
                continue
            if stop.is_set():
                outcomes.extend(unmeasured(c, STOPPED) for c in mine)
                continue
            outcomes.extend(await _run_one(scenario, mine, ctx, stop))
    finally:
        forget()
        if own_request:
            request.restore()
    outcomes.sort(key=lambda o: o.criterion)
    return Report(outcomes, time.monotonic() - started, quick, stopped=stop.is_set())


async def _run_one(
    scenario: Scenario, mine: list[str], ctx: RunContext, stop: asyncio.Event
) -> list[Outcome]:
    budget = scenario.budget_s[1 if ctx.quick else 0]
    ctx.say(f"{'/'.join(mine)}: {scenario.name} ...")
    started = time.monotonic()

    deadline = asyncio.timeout(budget)

    async def bounded() -> list[Outcome]:
        async with deadline:
            return await scenario.run(ctx)

    work = asyncio.ensure_future(bounded())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not work.done():
            work.cancel()
        # The scenario's own clean-up (its rig) runs to the end either way.
        await asyncio.wait({work})
    took = time.monotonic() - started
    if work.cancelled():
        ctx.say(f"{'/'.join(mine)}: stopped after {took:.1f} s")
        return [unmeasured(c, STOPPED) for c in mine]
    exc = work.exception()
    if exc is not None:
        if deadline.expired():
            why = f"did not finish within its budget of {budget:g} s"
        else:
            why = f"scenario failed: {one_line(exc)}"
        log.debug("scenario %s failed", scenario.name, exc_info=exc)
        ctx.say(f"{'/'.join(mine)}: {why}")
        return [failed(c, scenario.name, "", why) for c in mine]
    result = work.result()
    ctx.say(f"{'/'.join(mine)}: done in {took:.1f} s")
    return [o for o in result if o.criterion in mine]
