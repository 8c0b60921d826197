"""Coinbase order entry end to end, through a real :class:`Gateway` against the Coinbase
simulator with its order faults on: 1,000 submits, each retried by its caller up to three
times through timeouts and 5xx answers, with the gateway killed and a new one started on
the same ledger file mid-way, leave zero duplicate orders at the venue and every order's
final state, filled quantity, venue id and fills equal to the venue's; every fill is
announced once."""

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

from tests.coinbase_trading import ACCOUNT, CdpKey, es256_key, sim_config
from tradegw.config import GatewayConfig
from tradegw.errors import OrderRefused
from tradegw.gateway import Gateway
from tradegw.orders.requests import OrderRequest
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport, ExecState
from tradegw.sim.coinbase import CoinbaseSimulator
from tradegw.sim.matching import SimOrderStatus

PRODUCTS = ("BTC-USD", "ETH-USD")
VENUE_STATES = {
    SimOrderStatus.NEW: ExecState.ACK,
    SimOrderStatus.PARTIALLY_FILLED: ExecState.PARTIAL,
    SimOrderStatus.FILLED: ExecState.FILLED,
    SimOrderStatus.CANCELLED: ExecState.CANCELLED,
    SimOrderStatus.EXPIRED: ExecState.EXPIRED,
}
ORDER_FAULTS = {
    "order_ack_lost": 0.03,
    "order_response_lost": 0.03,
    "order_5xx_after_accept": 0.04,
    "http_5xx": 0.02,
    "private_stream_drop": 0.01,
}


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


class Run:
    """The gateway of now (the caller of a stopped one moves to the next) and everything
    every gateway announced."""

    def __init__(self, sim: CoinbaseSimulator, config: GatewayConfig) -> None:
        self.sim = sim
        self.config = config
        self.gw: Gateway | None = None
        self.reports: list[ExecReport] = []
        self._drains: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        gw = Gateway(
            self.config,
            urls={"coinbase": self.sim.ws_url},
            rest_urls={"coinbase": self.sim.rest_url},
        )
        sub = gw.subscribe(types=["ExecReport"], max_pending=1_000_000)

        async def drain() -> None:
            async for event in sub:
                assert isinstance(event, ExecReport)
                self.reports.append(event)

        self._drains.append(asyncio.create_task(drain()))
        await gw.start()
        self.gw = gw

    async def kill(self) -> None:
        """Stops the gateway as a crash would for its orders (nothing more is written)."""
        gw, self.gw = self.gw, None
        assert gw is not None
        await gw.stop()

    async def stop(self) -> None:
        if self.gw is not None:
            await self.kill()
        for task in self._drains:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)


def _requests(
    sim: CoinbaseSimulator, n: int, rng: random.Random, prefix: str
) -> list[OrderRequest]:
    """Resting and marketable limit orders (GTC, IOC, FOK), market IOC/FOK, post-only;
    both sides, both products, near the top of the book."""
    out = []
    for i in range(n):
        product = rng.choice(PRODUCTS)
        info = sim.product(product)
        tick = Decimal(info.quote_increment)
        lot = Decimal(info.base_min_size)
        bids, asks = sim.book(product, 1)
        bid, ask = Decimal(bids[0][0]), Decimal(asks[0][0])
        side = rng.choice(("buy", "sell"))
        fields: dict[str, Any] = {
            "venue": "coinbase",
            "symbol": product,
            "side": side,
            "qty": str(lot * rng.randint(1, 30)),
            "client_order_id": f"{prefix}{i:05d}",
        }
        kind = rng.random()
        if kind < 0.1:
            fields.update(type="market", time_in_force=rng.choice(("IOC", "FOK")))
        else:
            near, far = (bid, ask) if side == "buy" else (ask, bid)
            offset = tick * rng.randint(0, 5)
            marketable = kind < 0.35
            if marketable:
                price = far + offset if side == "buy" else far - offset
                fields["time_in_force"] = rng.choice(("GTC", "IOC", "FOK"))
            else:
                price = near - offset if side == "buy" else near + offset
                fields["post_only"] = rng.random() < 0.2
            fields.update(type="limit", price=str(price))
        out.append(OrderRequest.model_validate(fields))
    return out


async def _caller(run: Run, req: OrderRequest, rng: random.Random) -> None:
    """Submits, gives up waiting after a while and submits the same request again, up to
    three times; sometimes cancels what rests. A gateway stopped under it (the crash) does
    not count as a try: it waits for the next one."""
    tries = 0
    while tries < 3:
        gw = run.gw
        if gw is None:
            await asyncio.sleep(0.01)
            continue
        try:
            async with asyncio.timeout(rng.choice((0.02, 0.1, 1.0))):
                handle = await gw.submit(req)
        except TimeoutError:
            tries += 1
            continue
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            await asyncio.sleep(0.01)  # the gateway stopped under us: try the next one
            continue
        except Exception:
            if run.gw is gw:
                raise
            await asyncio.sleep(0.01)  # the gateway stopped under us: try the next one
            continue
        tries += 1
        record = gw.order(handle.client_order_id) if run.gw is gw else None
        if record is None:
            continue
        if record.state is OrderState.UNKNOWN:
            await asyncio.sleep(0.005)
            continue
        if record.state is OrderState.ACK and rng.random() < 0.1:
            with contextlib.suppress(OrderRefused, RuntimeError):
                await gw.cancel(req.client_order_id)
        return


def _quiet(sim: CoinbaseSimulator) -> None:
    """Every fault off from now on (the run's plan is fixed at start: its armed specs are
    given a zero rate)."""
    injector = sim._injector
    assert injector is not None
    for armed_list in injector._by_kind.values():
        for armed in armed_list:
            armed.spec = armed.spec.model_copy(update={"rate": 0.0})


def _disagreements(sim: CoinbaseSimulator, gw: Gateway) -> list[str]:
    out = []
    for rec in gw.orders(limit=None):
        cid = rec.client_order_id
        venue = sim.matching.order(ACCOUNT, client_order_id=cid)
        if venue is None:
            if rec.state not in (OrderState.REJECTED, OrderState.CANCELLED):
                out.append(f"{cid}: {rec.state} here, no order at the venue")
            continue
        if rec.state.exec_state is not VENUE_STATES[venue.status]:
            out.append(f"{cid}: {rec.state} here, {venue.status} at the venue")
        elif rec.venue_order_id != venue.order_id:
            out.append(f"{cid}: venue id {rec.venue_order_id} != {venue.order_id}")
        else:
            fills = sim.matching.fills(venue.order_id)
            got = sorted(f.venue_exec_id for f in gw.fills(cid))
            if got != sorted(f.exec_id for f in fills):
                out.append(
                    f"{cid}: fills {len(got)} here, {len(fills)} at the venue "
                    f"({rec.state} {rec.type} {rec.time_in_force} filled {rec.filled_qty}, "
                    f"sends {rec.send_attempts}; venue {venue.status} {venue.filled})"
                )
            else:
                # The simulator's market names are the product ids.
                size_dp = sim.product(venue.symbol).size_precision
                if Decimal(rec.filled_qty) != Decimal(venue.filled).scaleb(-size_dp):
                    out.append(f"{cid}: filled {rec.filled_qty} here, not the venue's")
    return out


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
        run = Run(sim, _gateway_config(tmp_path))
        try:
            await _exercise(run, sim, started)
        finally:
            await run.stop()


async def _exercise(run: Run, sim: CoinbaseSimulator, started: float) -> None:
    """The run itself (its gateway is stopped by the caller, also on a failure)."""
    await run.start()
    rng = random.Random(17)
    first = _requests(sim, 500, rng, "a")
    for start in range(0, 400, 50):
        await asyncio.gather(*(_caller(run, r, rng) for r in first[start : start + 50]))
    # The crash: 100 more are in flight when the gateway goes; a new one takes over the
    # same ledger file.
    inflight = asyncio.gather(*(_caller(run, r, rng) for r in first[400:]))
    await asyncio.sleep(0.02)
    await run.kill()
    await run.start()
    await inflight
    second = _requests(sim, 500, rng, "b")
    for start in range(0, 500, 50):
        await asyncio.gather(*(_caller(run, r, rng) for r in second[start : start + 50]))
    gw = run.gw
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

    await run.stop()
    # Each fill announced once across both gateways, and every one of them announced.
    announced = Counter(
        (r.client_order_id, r.venue_exec_id) for r in run.reports if r.venue_exec_id
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
