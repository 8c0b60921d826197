"""SC-003: every execution report is delivered, in order, none lost or coalesced, to a
consumer that stalls while market data keeps flowing.

Order entry does not exist yet, so the reports are injected where a venue's order adapter
will hand them over: at the provider boundary (``gw.conductor.publish``), numbered
``seq_provider`` 1..N per (venue, symbol) stream. The full default load flows meanwhile; one
consumer subscribed to everything reads nothing for the stall (its market data piles up
past ``max_pending`` and coalesces, its trades spill) while the reports are injected, then
reads again; a second consumer takes the reports as they come.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.schema import ExecReport, ExecState, new_trace_id
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario
from tradegw.verify.rig import rig_config
from tradegw.verify.session import RunContext

REPORTS = 10_000
STALL_S = (30.0, 3.0)
"""How long the stalled consumer reads nothing (full, quick); the reports are injected
evenly over it."""
INJECT_EVERY_S = 0.05
STREAMS: tuple[tuple[str, str], ...] = (
    ("binance", "BTC-USDT"),
    ("binance", "ETH-USDT"),
    ("coinbase", "BTC-USD"),
    ("coinbase", "ETH-USD"),
    ("kraken", "BTC-USD"),
    ("kraken", "ETH-USD"),
)
"""The (venue, symbol) streams the reports are spread over, round robin."""
STALLED_MAX_PENDING = 200
"""The stalled consumer's queue bound: past it its book diffs become one snapshot and past
four times it its trades spill, so the stall is felt well within a few seconds."""
CATCH_UP_S = 15.0
"""How long a consumer may take to receive every report once it reads."""
_LIFECYCLE = (ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED)

StreamKey = tuple[str, str]


@dataclass
class Received:
    """The execution reports one consumer received, in order, with its market data
    figures."""

    reports: list[tuple[StreamKey, int | None, int]] = field(default_factory=list)
    """(stream, seq_provider, event_id) of each report, in delivery order."""
    market_data: int = 0

    async def drain(
        self, sub: Subscription, expected: int, within_s: float, *, catch_up: bool = False
    ) -> None:
        """Reads ``sub`` until ``expected`` reports arrived (and, with ``catch_up``, nothing
        more is queued for it) or ``within_s`` passed."""
        with_timeout = asyncio.timeout(within_s)
        try:
            async with with_timeout:
                async for batch in sub.batches():
                    for ev in batch:
                        if isinstance(ev, ExecReport):
                            self.reports.append(
                                ((ev.provider, ev.symbol), ev.seq_provider, ev.event_id)
                            )
                        else:
                            self.market_data += 1
                    if len(self.reports) >= expected and not (catch_up and len(sub)):
                        return
        except TimeoutError:
            if not with_timeout.expired():
                raise


def report_problems(
    injected: Mapping[StreamKey, Sequence[int]], received: Received, who: str
) -> list[str]:
    """What one consumer got wrong: ``injected`` is each stream's event ids in
    ``seq_provider`` order (1..N); every one must arrive exactly once, in that order."""
    problems = []
    got: dict[StreamKey, list[tuple[int | None, int]]] = {}
    for stream, seq, event_id in received.reports:
        got.setdefault(stream, []).append((seq, event_id))
    for stream in sorted(set(injected) | set(got)):
        want = [(n, eid) for n, eid in enumerate(injected.get(stream, ()), start=1)]
        have = got.get(stream, [])
        if have == want:
            continue
        missing = len({e for _, e in want} - {e for _, e in have})
        extra = len(have) - len({e for _, e in have})
        seqs = [s for s, _ in have]
        disorder = sum(1 for a, b in itertools.pairwise(seqs) if a is None or b is None or b <= a)
        problems.append(
            f"{who} {stream[0]} {stream[1]}: {len(have)} of {len(want)} received, "
            f"{missing} missing, {extra} repeated, {disorder} out of order"
        )
    return problems


def exec_outcome(
    injected: Mapping[StreamKey, Sequence[int]],
    stalled: Received,
    live: Received,
    pressure: Mapping[str, int],
    stall_s: float,
) -> Outcome:
    """SC-003 from what was injected and what the stalled and the live consumer received;
    ``pressure`` is the stalled consumer's market data figures (``coalesced``,
    ``snapshots_for_backlog``, ``spilled``), the evidence that the stall was felt."""
    total = sum(len(ids) for ids in injected.values())
    problems = report_problems(injected, stalled, "stalled") + report_problems(
        injected, live, "live"
    )
    wanted = {eid for ids in injected.values() for eid in ids}
    delivered = len(wanted & {eid for _, _, eid in stalled.reports})
    share = 100.0 * delivered / total if total else 0.0
    felt = pressure.get("coalesced", 0) > 0
    if problems:
        note = "; ".join(problems[:6])
    else:
        note = (
            f"all {total:,} in order on {len(injected)} streams to the stalled consumer and "
            f"to a live one; meanwhile the stalled one's market data (max_pending "
            f"{STALLED_MAX_PENDING}): "
            f"{pressure.get('coalesced', 0):,} coalesced, "
            f"{pressure.get('snapshots_for_backlog', 0)} backlog snapshots, "
            f"{pressure.get('spilled', 0):,} trades spilled to the DLQ"
        )
    if not felt:
        note += "; the stalled consumer's market data never coalesced: the stall was not felt"
    return Outcome(
        "SC-003",
        f"execution reports delivered in order to a consumer stalled {stall_s:g} s under the "
        f"full load ({total:,} injected)",
        share,
        "%",
        CRITERIA["SC-003"].threshold,
        not problems and total > 0 and felt,
        note,
        {
            "injected": total,
            "delivered_to_stalled": delivered,
            "problems": problems,
            "stalled_market_data": dict(pressure),
        },
    )


def _report(venue: str, symbol: str, seq: int) -> ExecReport:
    order, step = divmod(seq - 1, len(_LIFECYCLE))
    state = _LIFECYCLE[step]
    filled = {ExecState.ACK: "0", ExecState.PARTIAL: "0.4", ExecState.FILLED: "1"}[state]
    fill = state is not ExecState.ACK
    return ExecReport(
        provider=venue,
        symbol=symbol,
        venue_symbol=symbol,
        seq_provider=seq,
        exchange_ts=None,
        ingest_ts=time.time_ns(),
        trace_id=new_trace_id(),
        client_order_id=f"verify-{venue}-{symbol}-{order}",
        state=state,
        side="buy",
        order_type="limit",
        price="100.0",
        qty="1",
        filled_qty=filled,
        last_fill_price="100.0" if fill else None,
        last_fill_qty="0.4" if state is ExecState.PARTIAL else "0.6" if fill else None,
    )


async def inject(gw: Gateway, reports: int, over_s: float) -> dict[StreamKey, list[int]]:
    """Publishes ``reports`` execution reports at the provider boundary, evenly over
    ``over_s``, round robin over :data:`STREAMS`; returns each stream's event ids in
    ``seq_provider`` order."""
    ids: dict[StreamKey, list[int]] = {s: [] for s in STREAMS}
    rounds = max(1, round(over_s / INJECT_EVERY_S))
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    for r in range(1, rounds + 1):
        upto = reports * r // rounds
        while sent < upto:
            venue, symbol = STREAMS[sent % len(STREAMS)]
            event = _report(venue, symbol, len(ids[(venue, symbol)]) + 1)
            ids[(venue, symbol)].append(event.event_id)
            gw.conductor.publish(event)
            sent += 1
        await asyncio.sleep(max(0.0, start + r * INJECT_EVERY_S - loop.time()))
    return ids


async def run(ctx: RunContext) -> list[Outcome]:
    """Stalls one consumer under the full load while the reports are injected."""
    config = rig_config()
    stall_s = STALL_S[ctx.quick]
    stalled, live = Received(), Received()
    async with ctx.rig(config) as rig:
        gw = rig.gw
        stalled_sub = gw.subscribe(name="stalled", max_pending=STALLED_MAX_PENDING)
        live_sub = gw.subscribe(name="exec-live", types=["ExecReport"])
        await rig.start()
        await rig.wait_synced()
        live_task = rig.spawn(live.drain(live_sub, REPORTS, stall_s + CATCH_UP_S), "exec-live")
        injected = await inject(gw, REPORTS, stall_s)
        # The stall ends with the last report injected: everything is queued for it now.
        await stalled.drain(stalled_sub, REPORTS, CATCH_UP_S, catch_up=True)
        await asyncio.wait([live_task], timeout=CATCH_UP_S)
        # Backlog snapshots are counted as they are taken, so after the drain.
        pressure = {
            "coalesced": stalled_sub.stats.coalesced,
            "snapshots_for_backlog": stalled_sub.stats.snapshots_for_backlog,
            "spilled": stalled_sub.stats.spilled,
        }
    return [exec_outcome(injected, stalled, live, pressure, stall_s)]


SCENARIO = Scenario(
    "execution reports to a stalled consumer under the full load",
    ("SC-003",),
    run,
    (120.0, 45.0),
)
