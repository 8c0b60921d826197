"""SC-007: no duplicate order for a reused ``client_order_id``.

On each venue N orders of the mix (:class:`~tradegw.verify.order_flow.OrderMix`) go through
the order faults, each submitted by a caller that gives up waiting and submits it again, up
to three times; every tenth is submitted by two callers at once (the same id while the first
is in flight); the gateway is killed with a tenth of them in flight and a new one takes over
the same ledger; at the end every id whose order has closed is submitted once more (a venue
that takes a closed id again would make a second order of it). Measured at the simulators:
orders created under an id already used (their own count) and orders per id, and every
order's final state, venue id, filled quantity and fills against the venue's.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from tradegw.orders.requests import OrderRequest
from tradegw.verify.order_flow import OrderMix, submit_retrying
from tradegw.verify.outcome import CRITERIA, Outcome
from tradegw.verify.trading_rig import TRADED, TradingRig

IDS_PER_VENUE: Final = (300, 30)
"""Client order ids per venue (full, quick)."""
BATCH: Final = 16
"""Ids per venue submitted together."""
TWICE_EVERY: Final = 10
"""Every this many requests, one is submitted by two callers at once."""
MIXES: Final[dict[str, OrderMix]] = {
    # Binance takes no time in force on a market order.
    "binance": OrderMix(market_tifs=("IOC",)),
    "coinbase": OrderMix(),
    "kraken": OrderMix(),
}
"""The order mix of each venue."""


@dataclass
class IdempotencyRun:
    """What the callers did."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    """Client order ids per venue."""
    attempts: Counter[str] = field(default_factory=Counter)
    """Submits per id."""
    twice_at_once: int = 0
    """Ids submitted by two callers at the same moment."""
    in_flight_at_kill: int = 0
    restarts: int = 0
    reused_after_close: int = 0
    """Ids of closed orders submitted once more on the new gateway."""
    reused_not_from_ledger: list[str] = field(default_factory=list)
    """Of those, ids not answered from the ledger (``duplicate`` False)."""

    def all_ids(self) -> set[str]:
        """Every client order id of the run."""
        return {cid for ids in self.ids.values() for cid in ids}


async def exercise_idempotency(
    rig: TradingRig, rng: random.Random, per_venue: int, prefix: str = "id"
) -> IdempotencyRun:
    """Submits ``per_venue`` ids on each venue as the module docstring says, killing the
    gateway of now after 40 % of them with the next 10 % in flight."""
    run = IdempotencyRun({venue: [] for venue in TRADED})
    lives = rig.lives
    requests: dict[str, OrderRequest] = {}

    def callers(first: int, upto: int) -> list[Coroutine[Any, Any, None]]:
        out = []
        for i in range(first, upto):
            for venue, symbols in TRADED.items():
                cid = f"{prefix}{venue[0]}{i:05d}"
                req = MIXES[venue].request(rng, venue, symbols, rig.quote(venue), cid)
                requests[cid] = req
                run.ids[venue].append(cid)
                out.append(submit_retrying(lives, req, rng, attempts=run.attempts))
                if len(requests) % TWICE_EVERY == 0:
                    run.twice_at_once += 1
                    out.append(submit_retrying(lives, req, rng, attempts=run.attempts))
        return out

    async def batches(first: int, upto: int) -> None:
        for start in range(first, upto, BATCH):
            await asyncio.gather(*callers(start, min(start + BATCH, upto)))

    killed_at, resumed_at = per_venue * 4 // 10, per_venue // 2
    await batches(0, killed_at)
    in_flight = callers(killed_at, resumed_at)
    run.in_flight_at_kill = len(in_flight)
    flying = asyncio.gather(*in_flight)
    await asyncio.sleep(0.05)
    await rig.restart_gateway()
    run.restarts += 1
    await flying
    await rig.wait_trading()  # the new gateway's books give the prices from here on
    await batches(resumed_at, per_venue)

    gw = lives.gw
    assert gw is not None
    first_half = [cid for ids in run.ids.values() for cid in ids[:resumed_at]]
    for n, cid in enumerate(first_half):
        rec = gw.order(cid)
        if rec is None or not rec.state.terminal:
            continue
        req = requests[cid]
        if n % 2:  # the same id with another quantity: still the first order
            req = req.model_copy(update={"qty": str(2 * Decimal(req.qty))})
        run.reused_after_close += 1
        if not (await gw.submit(req)).duplicate:
            run.reused_not_from_ledger.append(cid)
    return run


@dataclass(frozen=True, slots=True)
class VenueTally:
    """What one simulator says about the run's orders."""

    duplicate_orders: int
    """Orders its matching engine created under an id an earlier order had (whole run)."""
    refused_duplicates: int
    """Order requests it refused, or answered with the existing order, for an id in use."""
    orders_per_id: Mapping[str, int]
    """Orders at the venue per client order id."""
    faults: Mapping[str, int]
    """Order faults it injected, by kind."""


def idempotency_outcome(
    run: IdempotencyRun,
    venues: Mapping[str, VenueTally],
    disagreements: list[str],
    fills_announced: Mapping[str, int],
    entry: Mapping[str, int],
) -> Outcome:
    """SC-007 from the callers' run, each simulator's tally, where the ledger differs from
    the venues (over the run's ids), how often each fill of the run was announced
    (``"cid/exec_id" -> count``, every venue fill present) and the order entry's counters
    summed over the gateways (``unknown``, ``resends``, ``duplicate_submits``)."""
    ids = run.all_ids()
    doubled = sorted(
        cid
        for v, tally in venues.items()
        for cid in run.ids.get(v, [])
        if tally.orders_per_id.get(cid, 0) > 1
    )
    duplicates = sum(t.duplicate_orders for t in venues.values())
    share = 100.0 * (len(ids) - len(doubled)) / len(ids) if ids else 0.0
    announced_twice = sorted(k for k, n in fills_announced.items() if n > 1)
    not_announced = sorted(k for k, n in fills_announced.items() if n == 0)
    faults: Counter[str] = Counter()
    for tally in venues.values():
        faults.update(tally.faults)
    wrong = []
    if duplicates or doubled:
        wrong.append(
            f"{duplicates} duplicate orders at the simulators ("
            + ", ".join(f"{v} {t.duplicate_orders}" for v, t in venues.items())
            + f"); ids with more than one order: {doubled[:5]}"
        )
    if disagreements:
        wrong.append(f"{len(disagreements)} orders differ from the venue: {disagreements[:3]}")
    if run.reused_not_from_ledger:
        wrong.append(
            f"{len(run.reused_not_from_ledger)} closed ids submitted again were not answered "
            f"from the ledger (e.g. {run.reused_not_from_ledger[0]})"
        )
    if announced_twice:
        wrong.append(f"{len(announced_twice)} fills announced twice (e.g. {announced_twice[0]})")
    if not_announced:
        wrong.append(f"{len(not_announced)} venue fills never announced (e.g. {not_announced[0]})")
    if not run.restarts:
        wrong.append("the gateway was never restarted")
    if not sum(faults.values()):
        wrong.append("no order fault fired: the faults were not felt")
    submits = sum(run.attempts.values())
    note = (
        f"{len(ids):,} ids on {len(run.ids)} venues, {submits:,} submits (retried up to 3 "
        f"times through the faults; {run.twice_at_once} ids submitted twice at once; "
        f"{run.reused_after_close} closed ids submitted again after the restart), gateway "
        f"killed with {run.in_flight_at_kill} submits in flight and restarted on the same "
        f"ledger: duplicate orders at the simulators "
        + ", ".join(f"{v} {t.duplicate_orders}" for v, t in venues.items())
        + f"; every order's state, venue id, filled qty and fills equal the venue's "
        f"({len(ids) - len(disagreements):,} of {len(ids):,}); {len(fills_announced):,} fills "
        f"each announced once; faults {_shown(faults)}; UNKNOWN {entry.get('unknown', 0)}, "
        f"re-sent after a query {entry.get('resends', 0)}, answered from the ledger "
        f"{entry.get('duplicate_submits', 0)}; id reuse the venues refused "
        + ", ".join(f"{v} {t.refused_duplicates}" for v, t in venues.items())
    )
    if wrong:
        note = "; ".join(wrong) + " — " + note
    return Outcome(
        "SC-007",
        f"client_order_ids with no duplicate order at the venue, {len(ids):,} ids retried "
        f"through the order faults, reused, and a gateway kill + restart",
        share,
        "%",
        CRITERIA["SC-007"].threshold,
        not wrong and len(ids) > 0,
        note,
        {
            "ids": len(ids),
            "submits": submits,
            "twice_at_once": run.twice_at_once,
            "reused_after_close": run.reused_after_close,
            "in_flight_at_kill": run.in_flight_at_kill,
            "restarts": run.restarts,
            "duplicate_orders": {v: t.duplicate_orders for v, t in venues.items()},
            "refused_duplicates": {v: t.refused_duplicates for v, t in venues.items()},
            "ids_with_several_orders": doubled,
            "disagreements": disagreements[:20],
            "fills": len(fills_announced),
            "fills_announced_twice": len(announced_twice),
            "fills_not_announced": len(not_announced),
            "faults": dict(faults),
            "entry": dict(entry),
        },
    )


def _shown(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items()) if n) or "none"
