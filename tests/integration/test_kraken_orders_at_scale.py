"""Kraken orders through the gateway, over the Kraken simulator with its order faults on:
1,000 submits, each retried by its caller up to three times through timeouts and 5xx, with a
gateway killed and a new one started on the same ledger file mid-way, leave zero duplicate
orders at the venue and every order in the venue's state with the venue's fills; and the
private stream dropped mid-fill gets the fill recovered once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kraken_trading import ENV, FAST_TRADING, trading_sim, until
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.requests import OrderRequest
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport
from tradegw.sim.inspection import venue_orders
from tradegw.sim.kraken import KrakenSimulator
from tradegw.verify.gateway_lives import GatewayLives
from tradegw.verify.order_flow import OrderMix, Quote, submit_retrying
from tradegw.verify.venue_check import by_client_id, disagreements

SYMBOLS = ("BTC/USD", "ETH/USD")
ACCOUNT = "default"
MIX = OrderMix(max_lots=40, max_offset_ticks=5)
"""Resting and marketable limit orders (GTC, IOC, FOK), market orders, post-only; both
sides, both pairs, near the top of the book."""


@pytest.fixture(autouse=True)
def kraken_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def gateway(tmp_path: Path, sim: KrakenSimulator, **orders: Any) -> Gateway:
    """A gateway trading on ``sim`` whose ledger is ``tmp_path/orders.sqlite``."""
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {
                    "ws_url": sim.ws_url,
                    "rest_url": sim.rest_url,
                    "symbols": list(SYMBOLS),
                    "channels": ["book"],
                    "trading": {**FAST_TRADING, "query_grace_s": 0.5, "request_timeout_s": 0.5},
                }
            },
            "orders": {
                "ledger_path": str(tmp_path / "orders.sqlite"),
                "request_timeout_s": 0.5,
                "reconcile_backoff_s": 0.01,
                "reconcile_backoff_max_s": 0.2,
                "max_send_attempts": 3,
                **orders,
            },
            "control": {"state_path": str(tmp_path / "state.sqlite")},
            "telemetry": {"dlq_path": None},
        }
    )
    # The venue's URLs are in the section already; "sim" trading URLs are found from them.
    return Gateway(config)


async def until_trading(gw: Gateway) -> Gateway:
    venue = gw.order_entry.venue("kraken")
    await until(lambda: getattr(venue, "connected", False), what="kraken's private stream")
    return gw


async def started(gw: Gateway) -> Gateway:
    await gw.start()
    return await until_trading(gw)


def requests(sim: KrakenSimulator, n: int, rng: random.Random, prefix: str) -> list[OrderRequest]:
    def quote(symbol: str) -> Quote:
        pair = sim.pair(symbol.replace("-", "/"))
        bids, asks = sim.book(symbol.replace("-", "/"), 1)
        return Quote(
            Decimal(bids[0][0]),
            Decimal(asks[0][0]),
            Decimal(1).scaleb(-pair.price_precision),
            Decimal(pair.qty_min).scaleb(-pair.qty_precision),
        )

    symbols = [s.replace("/", "-") for s in SYMBOLS]
    return [MIX.request(rng, "kraken", symbols, quote, f"{prefix}{i:05d}") for i in range(n)]


async def run_batch(
    lives: GatewayLives, sim: KrakenSimulator, reqs: list[OrderRequest], rng: random.Random
) -> None:
    for start in range(0, len(reqs), 50):
        await asyncio.gather(
            *(
                submit_retrying(lives, r, rng, timeouts=(0.01, 0.05, 1.0))
                for r in reqs[start : start + 50]
            )
        )
        for symbol in SYMBOLS:
            sim.advance(symbol, 20)  # resting orders fill against the market's trades


FAULTS = {
    "faults": [
        {"kind": "order_ack_lost", "rate": 0.04},
        {"kind": "order_response_lost", "rate": 0.03},
        {"kind": "order_5xx_after_accept", "rate": 0.04},
        {"kind": "private_stream_drop", "rate": 0.02},
        {"kind": "http_5xx", "rate": 0.03},
    ]
}


@pytest.mark.timeout(170)
async def test_1000_faulty_submits_with_a_restart_leave_no_duplicate_and_agree_with_kraken(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    async with trading_sim(faults=FAULTS, seed=3) as sim:
        lives = GatewayLives(lambda: gateway(tmp_path, sim), until_trading)
        await lives.start()
        try:
            rng = random.Random(11)
            first = requests(sim, 500, rng, "a")
            await run_batch(lives, sim, first[:400], rng)
            # The kill: 100 more are in flight when the gateway goes; a new one takes over the
            # ledger file (the venue, like a real one, outlives the process).
            inflight = asyncio.gather(
                *(submit_retrying(lives, r, rng, timeouts=(0.01, 0.05, 1.0)) for r in first[400:])
            )
            await asyncio.sleep(0.02)
            await lives.restart()
            gw = lives.gw
            assert gw is not None
            await inflight
            second = requests(sim, 500, rng, "b")
            await run_batch(lives, sim, second, rng)
            # Every first-half id again, on the new gateway: each answered from the ledger.
            handles = [await gw.submit(r) for r in first]
            assert all(h.duplicate for h in handles)

            # A venue-side outage at the end: the reconnect is a gap, and the entry asks REST
            # about every open order, so whatever a dropped stream message said is known.
            venue = gw.order_entry.venue("kraken")
            gaps_before = gw.telemetry.counters.get("order_stream_gaps", "kraken")
            await until(lambda: sim.drop_private_connections() == 1, what="a private connection")
            await until(
                lambda: gw.telemetry.counters.get("order_stream_gaps", "kraken") > gaps_before,
                what="the gap after the outage",
            )
            await until(lambda: getattr(venue, "connected", False), what="the reconnect")
            try:
                await asyncio.wait_for(gw.order_entry.drain(), 60)
            except TimeoutError:
                busy = [gw.order(cid) for cid in list(gw.order_entry._reconciling)[:5]]
                raise AssertionError(f"still reconciling after 60 s: {busy}") from None

            engine = sim.matching
            assert engine.stats.duplicate_orders == 0
            per_id = Counter(o.client_order_id for o in sim.trading.orders_of(ACCOUNT))
            assert len(per_id) > 500
            assert max(per_id.values()) == 1, "one order at the venue per client id"
            faults = sim.stats()["faults"]
            injected = sum(faults[k] for k in FAULTS_KINDS)
            assert injected > 80, faults
            for kind in FAULTS_KINDS:
                assert faults[kind] > 0, kind

            orders = gw.order_ledger.orders(limit=None)
            assert len(orders) == 1_000
            unsettled = [o for o in orders if o.state in (OrderState.SENT, OrderState.UNKNOWN)]
            assert unsettled == []
            # Every order's state, venue id, filled quantity and fills are the venue's; one
            # never at the venue was refused (there or here) or cancelled before it got there.
            at_venue = by_client_id(venue_orders(sim, ACCOUNT))[0]
            wrong = disagreements(gw, at_venue)
            assert wrong == [], wrong[:10]
            fills = sum(len(o.fills) for o in at_venue.values())
            stats = {
                "elapsed_s": round(time.monotonic() - began, 1),
                "venue_orders": len(per_id),
                "venue_fills": fills,
                "faults": {k: faults[k] for k in FAULTS_KINDS},
                "unknown": lives.total("unknown"),
                "resends": lives.total("resends"),
                "queries": lives.total("queries"),
                "duplicate_submits": lives.total("duplicate_submits"),
                "stream_gaps": gw.telemetry.counters.get("order_stream_gaps", "kraken"),
                "states": dict(Counter(o.state.value for o in orders)),
                "rejected": dict(
                    Counter(
                        (o.reason or "").split(":")[0]
                        for o in orders
                        if o.state is OrderState.REJECTED
                    )
                ),
            }
            print(f"\nkraken 1,000-order run: {stats}")
            assert stats["unknown"] > 0
            assert stats["duplicate_submits"] >= 500
        finally:
            await lives.close()


FAULTS_KINDS = [spec["kind"] for spec in FAULTS["faults"]]


@pytest.mark.timeout(30)
async def test_a_fill_lost_with_the_private_stream_is_recovered_once(tmp_path: Path) -> None:
    plan = {"faults": [{"kind": "private_stream_drop", "rate": 1.0, "max_count": 1}]}
    async with trading_sim(faults=plan) as sim:
        gw = await started(gateway(tmp_path, sim))
        sub = gw.subscribe(types=["ExecReport"])
        bids, _ = sim.book("BTC/USD", 1)
        price = str(Decimal(bids[0][0]))  # at the best bid: the market's sells fill it
        handle = await gw.submit(
            {
                "venue": "kraken",
                "symbol": "BTC-USD",
                "side": "buy",
                "type": "limit",
                "qty": "0.0002",
                "price": price,
                "client_order_id": "drop-mid-fill",
            }
        )
        assert handle.state is OrderState.ACK
        cid = handle.client_order_id
        # The market moves until the resting order fills; the stream drops at the trade.
        for _ in range(2000):
            sim.advance("BTC/USD", 1)
            order = sim.matching.order(ACCOUNT, client_order_id=cid)
            assert order is not None
            if order.filled:
                break
            await asyncio.sleep(0)
        assert sim.stats()["faults"]["private_stream_drop"] == 1
        venue_fills = sim.matching.fills(order.order_id)
        assert venue_fills
        await until(lambda: len(gw.fills(cid)) == len(venue_fills), what="the recovered fill")
        await asyncio.wait_for(gw.order_entry.drain(), 10)
        assert sorted(f.venue_exec_id for f in gw.fills(cid)) == sorted(
            f.exec_id for f in venue_fills
        )
        assert gw.telemetry.counters.get("order_stream_gaps", "kraken") == 1
        # Recovered once: the snapshot after the reconnect and REST both name the fill; the
        # ledger and the ExecReports have it once.
        reports: list[ExecReport] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for event in sub:
                    assert isinstance(event, ExecReport)
                    reports.append(event)
        announced = Counter(r.venue_exec_id for r in reports if r.venue_exec_id is not None)
        assert set(announced) == {f.exec_id for f in venue_fills}
        assert max(announced.values()) == 1
        await gw.stop()
