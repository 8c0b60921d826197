"""SC-002: zero out-of-order deliveries while every venue drops, reorders and duplicates
messages (the simulators' ``drop``, ``reorder`` and ``duplicate`` faults at a steady rate,
on the full default load).

Each dropped or swapped book message is a sequence gap (Binance U/u, Coinbase
``sequence_num``) or a checksum mismatch (Kraken) that resyncs the book; duplicates are
dropped by the adapters. Order is counted twice, by the gateway (``stats.out_of_order`` of
every consumer) and by an audit consumer of this scenario that checks ``seq_provider`` per
(provider, symbol, event type) itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradegw.consumers.subscription import Subscription
from tradegw.runner import make_consumers
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario
from tradegw.verify.rig import add_faults, embedded_default, rig_config
from tradegw.verify.session import RunContext

RUN_S = (20.0, 5.0)
"""How long the faulty feeds run after every book was synced (full, quick)."""
FAULT_RATE = 0.002
"""Probability per eligible message of each fault kind: at 500 msgs/s about one drop, one
reorder and one duplicate a second per venue."""
FAULT_KINDS = ("drop", "reorder", "duplicate")
DRAIN_S = 10.0


@dataclass
class OrderAudit:
    """Checks, independently of the gateway's own count, that ``seq_provider`` increases
    strictly per (provider, symbol, event type) in what a consumer receives."""

    last: dict[tuple[str, str, str], int] = field(default_factory=dict)
    checked: int = 0
    """Events that carried a sequence number."""
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    def see(self, provider: str, symbol: str, event_type: str, seq: int | None) -> None:
        """Checks one delivered event."""
        if seq is None:
            return
        self.checked += 1
        key = (provider, symbol, event_type)
        last = self.last.get(key)
        if last is not None and seq <= last:
            self.violations += 1
            if len(self.examples) < 5:
                self.examples.append(f"{provider} {symbol} {event_type}: {seq} after {last}")
        self.last[key] = seq

    async def drain(self, sub: Subscription) -> None:
        """Audits every event of ``sub`` until it ends."""
        async for batch in sub.batches():
            for ev in batch:
                self.see(ev.provider, ev.symbol, ev.event_type, ev.seq_provider)


def ordering_outcome(
    gateway_count: int,
    audit: OrderAudit,
    resyncs: Mapping[str, int],
    duplicates_dropped: int,
    reorder: Mapping[str, int],
) -> Outcome:
    """SC-002 from the consumers' own count, the audit, and the evidence that the faults
    reached the gateway (``resyncs`` by reason, duplicates the adapters dropped)."""
    worst = max(gateway_count, audit.violations)
    bit = sum(resyncs.values()) > 0
    note = (
        f"gateway's count {gateway_count}, independent audit {audit.violations} over "
        f"{audit.checked:,} sequenced events; the faults reached the gateway: resyncs "
        f"{ {k: n for k, n in resyncs.items() if n} }, {duplicates_dropped} duplicates dropped; "
        f"reorder buffer: {reorder.get('gaps_skipped', 0)} gaps skipped, "
        f"{reorder.get('duplicates', 0)} late events dropped (adapters number events as they "
        "emit them: a venue's disorder shows as a resync, never as a late event)"
    )
    if audit.examples:
        note += f"; e.g. {'; '.join(audit.examples)}"
    if not bit:
        note += "; the faults never reached the gateway: nothing was proven"
    return Outcome(
        "SC-002",
        "out-of-order deliveries, 3 venues dropping, reordering and duplicating messages "
        f"(each {FAULT_RATE:.1%} of messages), 4 consumers",
        float(worst),
        "",
        CRITERIA["SC-002"].threshold,
        worst == 0 and audit.checked > 0 and bit,
        note,
        {
            "out_of_order_gateway": gateway_count,
            "out_of_order_audit": audit.violations,
            "audited": audit.checked,
            "resyncs": dict(resyncs),
            "duplicates_dropped": duplicates_dropped,
            "reorder": dict(reorder),
        },
    )


async def run(ctx: RunContext) -> list[Outcome]:
    """Runs the default load with faulty feeds and counts out-of-order deliveries."""
    consumers_raw = embedded_default()["consumers"]

    def faulty(raw: dict[str, Any]) -> None:
        raw["consumers"] = consumers_raw
        for venue in raw["simulators"]:
            add_faults(raw, venue, *({"kind": k, "rate": FAULT_RATE} for k in FAULT_KINDS))

    config = rig_config(faulty)
    audit = OrderAudit()
    async with ctx.rig(config) as rig:
        gw = rig.gw
        consumers = make_consumers(gw, config)
        audited = gw.subscribe(name="order-audit", max_pending=1_000_000)
        tasks = [rig.spawn(c.drive(), f"consumer-{c.name}") for c in consumers]
        tasks.append(rig.spawn(audit.drain(audited), "order-audit"))
        await rig.start()
        await rig.wait_synced(at_once=False)
        await asyncio.sleep(RUN_S[ctx.quick])
        await rig.stop_gateway()
        await asyncio.wait(tasks, timeout=DRAIN_S)
        counters = gw.telemetry.counters
        resyncs = {
            reason: counters.get(f"resyncs_{reason}")
            for reason in ("gap", "checksum", "stale", "crossed", "reconnect")
        }
        duplicates = counters.get("duplicate_frames") + counters.get("duplicate_trades")
        gateway_count = sum(c.sub.stats.out_of_order for c in consumers)
        gateway_count += audited.stats.out_of_order
        reorder = gw.dispatcher.reorder_stats()
    return [ordering_outcome(gateway_count, audit, resyncs, duplicates, reorder)]


SCENARIO = Scenario(
    "ordering under faulty feeds: every venue drops, reorders and duplicates messages",
    ("SC-002",),
    run,
    (90.0, 45.0),
)
