"""Issue 11's figure on Binance: over the simulator with its order faults on (answers lost,
connections dropped after the order was placed, 5xx after accept, the private stream dropped
or terminated mid-fill), 1,000 submits through a real :class:`Gateway`, each retried by its
caller up to three times through timeouts, with the gateway killed mid-way (stopped with 100
submits in flight) and a new one started on the same ledger file: zero duplicate orders at
the venue (the simulator counts them), every order's final state, filled quantity and fills
equal to the venue's, every fill reported once. The same run, lite (40 orders, denser
faults), signed with an Ed25519 key."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.binance_orders_rig import (
    API_KEY,
    API_SECRET,
    ED_API_KEY,
    ED_PRIVATE_PEM,
    sim_config,
)
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.requests import OrderRequest
from tradegw.sim.binance import BinanceSimulator
from tradegw.sim.binance.trading import STATUS
from tradegw.sim.inspection import venue_orders
from tradegw.verify.gateway_lives import GatewayLives
from tradegw.verify.order_flow import OrderMix, Quote, settled, submit_retrying
from tradegw.verify.venue_check import VENUE_STATES, by_client_id, disagreements

SYMBOLS = {"BTC-USDT": "BTCUSDT", "ETH-USDT": "ETHUSDT"}
ACCOUNT = "default"
assert {s.value for s in STATUS} == set(VENUE_STATES)

FAULTS = {
    "faults": [
        {"kind": "order_ack_lost", "rate": 0.03},
        {"kind": "order_response_lost", "rate": 0.02},
        {"kind": "order_5xx_after_accept", "rate": 0.04},
        {"kind": "private_stream_drop", "rate": 0.02},
    ]
}
FAULTS_LITE = {
    "faults": [
        # Each for sure once (after that many order requests), and at a rate beside.
        {"kind": "order_ack_lost", "rate": 0.08, "after_messages": [3]},
        {"kind": "order_response_lost", "rate": 0.05, "after_messages": [7]},
        {"kind": "order_5xx_after_accept", "rate": 0.08, "after_messages": [11]},
        {"kind": "private_stream_drop", "rate": 0.1, "after_messages": [15]},
    ]
}
MIX = OrderMix(market_share=0.08, marketable_share=0.3, max_offset_ticks=4, market_tifs=("IOC",))
"""Resting and marketable limit orders (GTC, IOC, FOK), market orders (IOC: Binance takes no
time in force on them), post-only; both sides, both symbols, near the top of the book."""


def gateway_config(tmp_path: Path, key_type: str = "hmac") -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "venues": {
                "binance": {
                    "ws_url": "sim",
                    "rest_url": "sim",
                    "symbols": list(SYMBOLS.values()),
                    "channels": ["depth", "trade"],
                    "trading": {
                        "key_type": key_type,
                        "request_timeout_s": 1.0,
                        "recv_window_ms": 1500,
                        "query_grace_extra_s": 0.3,
                        "reconnect": {"initial_s": 0.05, "max_s": 0.5},
                    },
                }
            },
            "orders": {
                "ledger_path": str(tmp_path / "orders.sqlite"),
                "request_timeout_s": 1.0,
                "reconcile_backoff_s": 0.05,
                "reconcile_backoff_max_s": 0.5,
            },
            "telemetry": {"dlq_path": None},
        }
    )


def mixed_requests(
    sim: BinanceSimulator, n: int, rng: random.Random, prefix: str
) -> list[OrderRequest]:
    def quote(symbol: str) -> Quote:
        info = sim.instrument(SYMBOLS[symbol])
        bids, asks = sim.book(SYMBOLS[symbol], 1)
        return Quote(
            Decimal(bids[0][0]),
            Decimal(asks[0][0]),
            Decimal(1).scaleb(-info.price_precision),
            Decimal(info.qty_min).scaleb(-info.qty_precision),
        )

    return [MIX.request(rng, "binance", list(SYMBOLS), quote, f"{prefix}{i:05d}") for i in range(n)]


async def run_batch(
    lives: GatewayLives, reqs: list[OrderRequest], rng: random.Random, tries: Counter[str]
) -> None:
    for start in range(0, len(reqs), 50):
        await asyncio.gather(
            *(submit_retrying(lives, r, rng, attempts=tries) for r in reqs[start : start + 50])
        )


@pytest.mark.timeout(240)
async def test_1000_faulty_submits_with_a_kill_leave_no_duplicate_and_agree_with_binance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEGW_BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("TRADEGW_BINANCE_API_SECRET", API_SECRET)
    await faulty_run(tmp_path, half=500, faults=FAULTS, key_type="hmac")


@pytest.mark.timeout(120)
async def test_a_few_dozen_faulty_submits_signed_ed25519_agree_with_binance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEGW_BINANCE_API_KEY", ED_API_KEY)
    monkeypatch.setenv("TRADEGW_BINANCE_API_SECRET", ED_PRIVATE_PEM)
    await faulty_run(tmp_path, half=20, faults=FAULTS_LITE, key_type="ed25519")


async def faulty_run(tmp_path: Path, *, half: int, faults: dict[str, Any], key_type: str) -> None:
    """``2 * half`` orders through the faults, the gateway killed with a fifth of the first
    half in flight, then checked order by order against the venue."""
    n = 2 * half
    started = time.monotonic()
    async with BinanceSimulator(sim_config(rate=400, seed=5, faults=faults)) as sim:
        config = gateway_config(tmp_path, key_type)
        lives = GatewayLives(
            lambda: Gateway(
                config, urls={"binance": sim.ws_url}, rest_urls={"binance": sim.rest_url}
            )
        )
        await lives.start()
        rng = random.Random(17)
        tries: Counter[str] = Counter()
        try:
            first = mixed_requests(sim, half, rng, "a")
            cut = half * 4 // 5
            await run_batch(lives, first[:cut], rng, tries)
            # The kill: the rest are in flight when the gateway stops; a new one takes over.
            inflight = asyncio.gather(
                *(submit_retrying(lives, r, rng, attempts=tries) for r in first[cut:])
            )
            await asyncio.sleep(0.05)
            await lives.kill()
            await asyncio.sleep(0.2)
            await lives.start()
            await inflight
            second = mixed_requests(sim, half, rng, "b")
            await run_batch(lives, second, rng, tries)
            gw = lives.gw
            assert gw is not None
            # Every first-half id again, on the new gateway: each answered from the ledger.
            handles = [await gw.submit(r) for r in first]
            assert all(h.duplicate for h in handles)

            # The market stops; what is in flight lands; reconciliation finishes.
            sim.pause()
            await asyncio.sleep(0.5)
            await settled(gw, 90)
            await asyncio.sleep(0.3)  # the last reports of the stream
            await settled(gw, 30)

            engine = sim.matching
            at_venue, per_id = by_client_id(venue_orders(sim, ACCOUNT))
            assert engine.stats.duplicate_orders == 0
            assert max(per_id.values()) == 1, "one order at the venue per client id"
            fired = sim.stats()["faults"]
            for kind in (
                "order_ack_lost",
                "order_response_lost",
                "order_5xx_after_accept",
                "private_stream_drop",
            ):
                assert fired[kind] > 0, fired
            # No request of either key type was refused for its signature.
            assert -1022 not in sim.stats()["signed_refused"]
            stats = gw.order_entry.stats
            assert stats.unknown > 0
            # The gateway kept to the venue's request weight on its own.
            assert sim.stats()["refused_429"] == 0

            orders = gw.orders(limit=None)
            assert len(orders) == n
            assert sum(tries.values()) > n
            # Every order's state, venue id, filled quantity and fills are the venue's; one
            # never at the venue was refused there (post-only would take, FOK...) or here.
            wrong = disagreements(gw, at_venue)
            assert wrong == [], wrong[:10]
            by_state = Counter(rec.state.value for rec in orders)
            fill_ids = {f"{cid}/{x}" for cid, order in at_venue.items() for x in order.fills}
            assert by_state["FILLED"] > n // 20
            if n >= 1_000:  # the mix a few dozen orders make varies too much to ask for
                assert by_state["ACK"] + by_state["PARTIAL"] > 5  # how many still rest varies
                assert by_state["EXPIRED"] > 10

            # Every fill reported once (reports of both gateways, ids from the stream or REST).
            await lives.close()
            announced = Counter(
                f"{r.client_order_id}/{r.venue_exec_id}"
                for r in lives.reports
                if r.venue_exec_id is not None
            )
            assert set(announced) == fill_ids
            assert max(announced.values()) == 1, "each fill announced once"
            print(
                f"\n{n:,} orders on binance ({key_type}) in {time.monotonic() - started:.1f}s: "
                f"{sum(tries.values())} submits, faults {fired}, venue orders {len(per_id)}, "
                f"duplicates {engine.stats.duplicate_orders}, unknown {stats.unknown}, "
                f"resends {stats.resends}, states {dict(by_state)}, fills {len(fill_ids)}"
            )
        finally:
            await lives.close()
