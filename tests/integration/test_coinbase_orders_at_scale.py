"""Coinbase order entry end to end, through a real :class:`Gateway` against the Coinbase
simulator with its order faults on: 1,000 submits, each retried by its caller up to three
times through timeouts and 5xx answers, with the gateway killed and a new one started on
the same ledger file mid-way, leave zero duplicate orders at the venue and every order's
final state, filled quantity, venue id and fills equal to the venue's; every fill is
announced once."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.coinbase_trading import ACCOUNT, CdpKey, es256_key, sim_config
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.requests import OrderRequest
from tradegw.orders.states import OrderState
from tradegw.sim.coinbase import CoinbaseSimulator
from tradegw.sim.inspection import venue_orders
from tradegw.verify.gateway_lives import GatewayLives
from tradegw.verify.order_flow import OrderMix, Quote, submit_retrying
from tradegw.verify.venue_check import by_client_id, disagreements

PRODUCTS = ("BTC-USD", "ETH-USD")
ORDER_FAULTS = {
    "order_ack_lost": 0.03,
    "order_response_lost": 0.03,
    "order_5xx_after_accept": 0.04,
    "http_5xx": 0.02,
    "private_stream_drop": 0.01,
}
MIX = OrderMix()
"""Resting and marketable limit orders (GTC, IOC, FOK), market IOC/FOK, post-only; both
sides, both products, near the top of the book."""
TIMEOUTS = (0.02, 0.1, 1.0)
"""How long a caller waits for a submit before it gives up and submits again."""


def _gateway_config(tmp_path: Path) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "venues": {
                "coinbase": {
                    "symbols": list(PRODUCTS),
                    "channels": ["level2"],
                    "reconnect": {"initial_s": 0.05, "max_s": 0.3},
                    "trading": {
                        "request_timeout_s": 0.5,
                        "jwt_lifetime_s": 5,
                        "clock_skew_s": 0.0,
                        "requests_per_s": 10_000,
                        "reconnect": {"initial_s": 0.05, "max_s": 0.3},
                    },
                }
            },
            "control": {"state_path": str(tmp_path / "state.sqlite")},
            "orders": {
                "ledger_path": str(tmp_path / "orders.sqlite"),
                "request_timeout_s": 2.0,
                "reconcile_backoff_s": 0.05,
                "reconcile_backoff_max_s": 0.5,
                "max_send_attempts": 3,
            },
            "telemetry": {"dlq_path": None},
        }
    )


def _requests(
    sim: CoinbaseSimulator, n: int, rng: random.Random, prefix: str
) -> list[OrderRequest]:
    def quote(product: str) -> Quote:
        info = sim.product(product)
        bids, asks = sim.book(product, 1)
        return Quote(
            Decimal(bids[0][0]),
            Decimal(asks[0][0]),
            Decimal(info.quote_increment),
            Decimal(info.base_min_size),
        )

    return [MIX.request(rng, "coinbase", PRODUCTS, quote, f"{prefix}{i:05d}") for i in range(n)]


def _quiet(sim: CoinbaseSimulator) -> None:
    """Every fault off from now on (the run's plan is fixed at start: its armed specs are
    given a zero rate)."""
    injector = sim._injector
    assert injector is not None
    for armed_list in injector._by_kind.values():
        for armed in armed_list:
            armed.spec = armed.spec.model_copy(update={"rate": 0.0})


def _disagreements(sim: CoinbaseSimulator, gw: Gateway) -> list[str]:
    return disagreements(gw, by_client_id(venue_orders(sim, ACCOUNT))[0])


@pytest.mark.timeout(180)
async def test_1000_faulty_submits_with_a_gateway_restart_leave_no_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key: CdpKey = es256_key()
    monkeypatch.setenv("TRADEGW_COINBASE_API_KEY", key.name)
    monkeypatch.setenv("TRADEGW_COINBASE_API_SECRET", key.secret)
    faults = [{"kind": kind, "rate": rate} for kind, rate in ORDER_FAULTS.items()]
    config = sim_config(key, rate=400, seed=9, faults={"faults": faults}, order_ack_lost_hold_s=2.0)
    started = time.monotonic()
    async with CoinbaseSimulator(config) as sim:
        gateway_config = _gateway_config(tmp_path)
        lives = GatewayLives(
            lambda: Gateway(
                gateway_config,
                urls={"coinbase": sim.ws_url},
                rest_urls={"coinbase": sim.rest_url},
            )
        )
        try:
            await _exercise(lives, sim, started)
        finally:
            await lives.close()


async def _exercise(lives: GatewayLives, sim: CoinbaseSimulator, started: float) -> None:
    """The run itself (its gateway is stopped by the caller, also on a failure)."""
    await lives.start()
    rng = random.Random(17)

    def callers(reqs: list[OrderRequest]) -> Any:
        return asyncio.gather(*(submit_retrying(lives, r, rng, timeouts=TIMEOUTS) for r in reqs))

    first = _requests(sim, 500, rng, "a")
    for start in range(0, 400, 50):
        await callers(first[start : start + 50])
    # The crash: 100 more are in flight when the gateway goes; a new one takes over the
    # same ledger file.
    inflight = callers(first[400:])
    await asyncio.sleep(0.02)
    await lives.restart()
    await inflight
    second = _requests(sim, 500, rng, "b")
    for start in range(0, 500, 50):
        await callers(second[start : start + 50])
    gw = lives.gw
    assert gw is not None
    # Every first-half id again on the new gateway: each answered from the ledger.
    handles = [await gw.submit(r) for r in first]
    assert all(h.duplicate for h in handles)

    # Faults off, the market still; everything settles and is compared.
    _quiet(sim)
    sim.pause()
    await asyncio.sleep(0.3)
    gw.order_entry._on_stream_gap("coinbase")  # as a reconnect would: look for misses
    deadline = time.monotonic() + 60
    while True:
        await asyncio.wait_for(gw.order_entry.drain(), 60)
        wrong = _disagreements(sim, gw)
        if not wrong or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert wrong == [], wrong[:10]

    engine = sim.matching
    assert engine.stats.duplicate_orders == 0
    per_id = Counter(o.client_order_id for o in engine.orders(ACCOUNT))
    assert max(per_id.values()) == 1, "one order at the venue per client id"
    assert len(per_id) > 600
    ledger = gw.orders(limit=None)
    assert len(ledger) == 1_000
    assert all(o.state.terminal or o.state in (OrderState.ACK, OrderState.PARTIAL) for o in ledger)
    injected = sim.stats()["faults"]
    assert sum(injected[k] for k in ORDER_FAULTS) > 60, injected
    stats = gw.order_entry.stats
    assert stats.unknown > 0
    venue = gw.order_entry.venue("coinbase")

    await lives.close()
    # Each fill announced once across both gateways, and every one of them announced.
    announced = Counter(
        (r.client_order_id, r.venue_exec_id) for r in lives.reports if r.venue_exec_id
    )
    assert announced, "orders filled"
    assert max(announced.values()) == 1
    venue_fills = {
        (o.client_order_id, f.exec_id)
        for o in engine.orders(ACCOUNT)
        for f in engine.fills(o.order_id)
    }
    assert set(announced) == venue_fills
    print(  # the figures the report quotes
        f"\n1000 orders: {len(per_id)} at the venue, duplicates "
        f"{engine.stats.duplicate_orders}, answered with the existing order "
        f"{engine.stats.duplicates_refused}, faults {injected}, unknown {stats.unknown}, "
        f"resends {stats.resends}, queries {stats.queries}, fills {len(announced)}, "
        f"adapter {getattr(venue, 'stats', {})}, {time.monotonic() - started:.1f} s"
    )
