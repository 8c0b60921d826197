"""SC-003, SC-007 and SC-008 with real orders on the three venues, in phases on one
:class:`~tradegw.verify.trading_rig.TradingRig` (the full default load flows throughout,
the simulators' order faults are on):

1. A consumer subscribed to everything stops reading (SC-003's stall; another consumer
   reads the ExecReports live).
2. SC-008 (:mod:`~tradegw.verify.switch_check`): the switch off, then on.
3. SC-003 (:mod:`~tradegw.verify.exec_reports`): for the rest of the stall orders of the
   mix flow on every venue (some cancelled, many filled) while 10,000 reports are
   injected; then the stalled consumer reads, and both must hold every report.
4. SC-007 (:mod:`~tradegw.verify.idempotency`): retried, reused ids and a gateway kill +
   restart on the same ledger.
5. The markets stop, the ledger settles, and every order is compared with its venue.

A phase whose criterion is not selected is skipped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.sim.faults import ORDER_FAULT_KINDS
from tradegw.sim.inspection import VenueOrderView
from tradegw.verify.exec_reports import (
    INJECTED_REPORTS,
    STALLED_MAX_PENDING,
    RealFlow,
    Received,
    StreamKey,
    exec_outcome,
    inject,
)
from tradegw.verify.idempotency import (
    IDS_PER_VENUE,
    MIXES,
    IdempotencyRun,
    VenueTally,
    exercise_idempotency,
    idempotency_outcome,
)
from tradegw.verify.order_flow import settled, submit_retrying
from tradegw.verify.outcome import Outcome, Scenario
from tradegw.verify.session import RunContext
from tradegw.verify.switch_check import SWITCH_ORDERS, SwitchRun, exercise_switch, switch_outcome
from tradegw.verify.trading_rig import TRADED, TradingRig
from tradegw.verify.venue_check import by_client_id, disagreements

STALL_S: Final = (30.0, 3.0)
"""How long orders flow while the consumer stalls (full, quick)."""
FLOW_PER_S: Final = 10.0
"""Orders per second on each venue while the consumer stalls."""
FLOW_CANCEL_SHARE: Final = 0.3
"""Of the orders a caller finds working, the share it cancels."""
CATCH_UP_S: Final = 20.0
"""How long the consumers may take to hold every report once the stall ends."""
SETTLE_S: Final = 90.0
"""How long the ledger may take to settle once the markets stopped."""
AGREE_S: Final = 30.0
"""How long after that the ledger may take to agree with the venues (fills recovered)."""
SEED: Final = 20_240_611


@dataclass
class Stall:
    """SC-003's phase: what the two consumers received and what they had to."""

    stalled: Received = field(default_factory=Received)
    live: Received = field(default_factory=Received)
    flow_ids: list[str] = field(default_factory=list)
    published: dict[StreamKey, int] = field(default_factory=dict)
    """Each order entry stream's last ``seq_provider`` when the stall ended."""
    injected: dict[StreamKey, list[int]] = field(default_factory=dict)
    pressure: dict[str, int] = field(default_factory=dict)
    entry_reports: int = 0
    seconds: float = 0.0
    """How long the stalled consumer read nothing."""

    async def flow(self, rig: TradingRig, rng: random.Random, seconds: float) -> None:
        """The orders and the injected reports, for ``seconds``."""
        injecting = rig.spawn(inject(rig.gw, INJECTED_REPORTS, seconds), "inject")
        self.flow_ids = await order_flow(rig, rng, seconds)
        self.injected = await injecting

    async def read(self, gw: Gateway, sub: Subscription, began: float) -> None:
        """Ends the stall: the stalled consumer reads until it (and the live one) hold
        every report of the order entry's streams as numbered now, and every injected one."""
        self.seconds = time.monotonic() - began
        self.published = {
            (v, s): gw.order_ledger.last_seq(v, s) for v, symbols in TRADED.items() for s in symbols
        }
        self.entry_reports = gw.order_entry.stats.exec_reports
        wanted = {**self.published, **{s: len(i) for s, i in self.injected.items()}}
        await self.stalled.catch_up(sub, lambda r: _holds(r, wanted), CATCH_UP_S)
        await _until(lambda: _holds(self.live, wanted), CATCH_UP_S)
        # Backlog snapshots are counted as they are taken, so after the catch-up.
        self.pressure = {
            "coalesced": sub.stats.coalesced,
            "snapshots_for_backlog": sub.stats.snapshots_for_backlog,
            "spilled": sub.stats.spilled,
        }
        gw.unsubscribe(sub)

    def outcome(
        self,
        switch: SwitchRun | None,
        views: Mapping[str, list[VenueOrderView]],
        wrong: list[str],
    ) -> Outcome:
        """SC-003, with the ledger compared with the venues over the phase's orders (the
        switch check's are on the same streams)."""
        mine = {*self.flow_ids, *(switch.ids if switch is not None else ())}
        flow = RealFlow(
            orders=len(mine),
            venues=tuple(sorted({v for (v, _), n in self.published.items() if n})),
            fills=sum(
                len(o.fills) for vs in views.values() for o in vs if o.client_order_id in mine
            ),
            ledger_vs_venue=tuple(_only(wrong, mine)),
            entry_reports=self.entry_reports,
        )
        return exec_outcome(
            self.published,
            self.injected,
            self.stalled,
            self.live,
            self.pressure,
            self.seconds,
            flow,
        )


async def run(ctx: RunContext) -> list[Outcome]:
    """Runs the phases the context selects (see the module docstring)."""
    exec_wanted, ids_wanted, switch_wanted = (ctx.wants(c) for c in ("SC-003", "SC-007", "SC-008"))
    rig = TradingRig.create()
    ctx.rigs.append(rig)
    rng = random.Random(SEED)
    stall = Stall()
    switch: SwitchRun | None = None
    ids: IdempotencyRun | None = None
    views: dict[str, list[VenueOrderView]] = {}
    wrong: list[str] = []
    stats: dict[str, dict[str, Any]] = {}
    async with rig:
        gw = rig.gw
        stalled_sub = gw.subscribe(name="stalled", max_pending=STALLED_MAX_PENDING)
        live_sub = gw.subscribe(name="exec-live", types=["ExecReport"])
        if not exec_wanted:
            gw.unsubscribe(stalled_sub)
            gw.unsubscribe(live_sub)
        await rig.start()
        await rig.wait_synced()
        await rig.wait_trading()
        began = time.monotonic()
        if exec_wanted:
            rig.spawn(stall.live.follow(live_sub), "exec-live")
        if switch_wanted:
            switch = await exercise_switch(rig, SWITCH_ORDERS[ctx.quick])
        if exec_wanted:
            await stall.flow(rig, rng, STALL_S[ctx.quick])
            await stall.read(gw, stalled_sub, began)
        if ids_wanted:
            ids = await exercise_idempotency(rig, rng, IDS_PER_VENUE[ctx.quick])
        if exec_wanted or ids_wanted:
            views, wrong = await _settle_and_compare(rig)
            stats = await rig.venue_stats()
    # The rig is closed: every gateway's ExecReports are collected.
    outcomes = []
    if switch is not None:
        outcomes.append(switch_outcome(switch))
    if exec_wanted:
        outcomes.append(stall.outcome(switch, views, wrong))
    if ids is not None:
        outcomes.append(_idempotency(ids, views, stats, wrong, rig))
    return outcomes


async def order_flow(rig: TradingRig, rng: random.Random, seconds: float) -> list[str]:
    """Orders of the mix on every venue, :data:`FLOW_PER_S` a second each for ``seconds``,
    each through a retrying caller that cancels some of what rests; returns their ids
    once every caller is done."""
    loop = asyncio.get_running_loop()
    period = 1.0 / (FLOW_PER_S * len(TRADED))
    venues = list(TRADED)
    began = loop.time()
    callers: list[asyncio.Task[None]] = []
    out: list[str] = []
    n = 0
    while loop.time() - began < seconds:
        venue = venues[n % len(venues)]
        cid = f"fl{venue[0]}{n:06d}"
        n += 1
        try:
            req = MIXES[venue].request(rng, venue, TRADED[venue], rig.quote(venue), cid)
        except LookupError:
            pass  # that book is resyncing this instant: no price to choose from
        else:
            out.append(cid)
            work = submit_retrying(rig.lives, req, rng, cancel_share=FLOW_CANCEL_SHARE)
            callers.append(loop.create_task(work, name=f"flow-{cid}"))
        await asyncio.sleep(max(0.0, began + n * period - loop.time()))
    await asyncio.gather(*callers)
    return out


def _holds(received: Received, wanted: Mapping[StreamKey, int]) -> bool:
    got = Counter(stream for stream, _, _ in received.reports)
    return all(got[stream] >= n for stream, n in wanted.items())


async def _until(condition: Callable[[], bool], within_s: float) -> None:
    """Polls ``condition`` until it holds or ``within_s`` passed (the caller judges)."""
    deadline = time.monotonic() + within_s
    while True:
        if condition() or time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.05)


async def _settle_and_compare(
    rig: TradingRig,
) -> tuple[dict[str, list[VenueOrderView]], list[str]]:
    """Stops the markets, waits for the ledger to settle, then for it to agree with the
    venues (a fill recovered late); returns the venues' orders and what still differs."""
    await rig.pause_markets()
    gw = _now(rig)
    await asyncio.sleep(0.3)  # what is on the wire lands
    await settled(gw, SETTLE_S)
    deadline = time.monotonic() + AGREE_S
    while True:
        views = await rig.venue_orders()
        wrong = disagreements(gw, _latest(views))
        if not wrong or time.monotonic() > deadline:
            return views, wrong
        await asyncio.sleep(0.2)
        await settled(gw, SETTLE_S)


def _now(rig: TradingRig) -> Gateway:
    gw = rig.lives.gw
    if gw is None:
        raise RuntimeError("no gateway runs")
    return gw


def _latest(views: Mapping[str, list[VenueOrderView]]) -> dict[str, VenueOrderView]:
    out: dict[str, VenueOrderView] = {}
    for orders in views.values():
        out.update(by_client_id(orders)[0])
    return out


def _only(wrong: list[str], ids: Collection[str]) -> list[str]:
    """The disagreement lines of ``ids`` (each line starts with its id)."""
    return [line for line in wrong if line.split(":", 1)[0] in ids]


def _idempotency(
    run: IdempotencyRun,
    views: Mapping[str, list[VenueOrderView]],
    stats: Mapping[str, Mapping[str, Any]],
    wrong: list[str],
    rig: TradingRig,
) -> Outcome:
    tallies = {}
    for venue, orders in views.items():
        matching = stats[venue]["matching"]
        faults = stats[venue]["sim"]["faults"]
        tallies[venue] = VenueTally(
            duplicate_orders=int(matching["duplicate_orders"]),
            refused_duplicates=int(matching["duplicates_refused"]),
            orders_per_id=by_client_id(orders)[1],
            faults={k: int(faults.get(k, 0)) for k in (*ORDER_FAULT_KINDS, "http_5xx")},
        )
    mine = run.all_ids()
    announced: Counter[str] = Counter()
    for venue_orders in views.values():
        for o in venue_orders:
            if o.client_order_id in mine:
                for exec_id in o.fills:
                    announced.setdefault(f"{o.client_order_id}/{exec_id}", 0)
    for r in rig.lives.reports:
        if r.venue_exec_id is not None and r.client_order_id in mine:
            announced[f"{r.client_order_id}/{r.venue_exec_id}"] += 1
    entry = {k: rig.lives.total(k) for k in ("unknown", "resends", "duplicate_submits", "queries")}
    return idempotency_outcome(run, tallies, _only(wrong, mine), announced, entry)


SCENARIO = Scenario(
    "orders on the three venues through their order faults",
    ("SC-003", "SC-007", "SC-008"),
    run,
    (300.0, 120.0),
)
