"""The Coinbase order adapter against the Coinbase simulator: the order-venue contract, the
state table, what a success-looking answer for a reused client_order_id is taken for, the
``user`` channel's sequence and fills, and fills recovered once after the private stream
drops mid-fill."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.coinbase_trading import (
    ACCOUNT,
    CdpKey,
    best,
    es256_key,
    running_sim,
    trading_config,
    venue_for,
)
from tests.unit._orders import FAST
from tests.unit.order_venue_contract import OrderVenueContract, VenueUnderTest
from tradegw.orders.entry import OrderEntry
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.requests import OrderRequest
from tradegw.orders.states import OrderState
from tradegw.orders.venue import PlaceOutcome
from tradegw.providers.coinbase.orders import (
    STATE_TABLE,
    CoinbaseOrderVenue,
    _UserFrames,
    map_state,
)
from tradegw.schema import Event, ExecReport, ExecState
from tradegw.sim.coinbase import CoinbaseSimulator

pytestmark = pytest.mark.timeout(60)


async def _started(sim: CoinbaseSimulator, key: CdpKey) -> VenueUnderTest:
    bid, ask = best(sim, "BTC-USD")
    v = VenueUnderTest(
        venue=venue_for(sim, key),
        symbol="BTC-USD",
        qty="0.01",
        resting_price=str(bid - 100),
        taking_price=str(ask + 100),
    )
    await v.venue.start(v.on_report, v.on_stream_gap)
    return v


class TestCoinbaseVenue(OrderVenueContract):
    @pytest.fixture
    async def venue_under_test(self) -> AsyncIterator[VenueUnderTest]:
        key = es256_key()
        async with running_sim(key) as sim:
            v = await _started(sim, key)
            yield v
            await v.venue.stop()


@pytest.fixture
async def rig() -> AsyncIterator[tuple[CoinbaseSimulator, VenueUnderTest]]:
    key = es256_key()
    async with running_sim(key) as sim:
        v = await _started(sim, key)
        yield sim, v
        await v.venue.stop()


# ---------------------------------------------------------------- the state table


@pytest.mark.parametrize(
    ("status", "cumulative", "state"),
    [
        ("PENDING", "0", None),
        ("QUEUED", "0", None),
        ("OPEN", "0", ExecState.ACK),
        ("OPEN", "0.5", ExecState.PARTIAL),
        ("CANCEL_QUEUED", "0.5", None),
        ("EDIT_QUEUED", "0", None),
        ("FILLED", "1", ExecState.FILLED),
        ("CANCELLED", "0.5", ExecState.CANCELLED),
        ("EXPIRED", "0", ExecState.EXPIRED),
        ("FAILED", "0", ExecState.REJECTED),
        ("open", "", ExecState.ACK),
    ],
)
def test_the_state_table(status: str, cumulative: str, state: ExecState | None) -> None:
    assert map_state(status, cumulative) is state


def test_the_state_table_covers_the_documented_statuses_and_refuses_others() -> None:
    documented = {"PENDING", "OPEN", "FILLED", "CANCEL_QUEUED", "CANCELLED", "EXPIRED", "FAILED"}
    assert documented <= set(STATE_TABLE)
    with pytest.raises(ValueError, match="unknown coinbase order status"):
        map_state("UNKNOWN_ORDER_STATUS", "0")


# ---------------------------------------------------------------- placing


async def test_an_answer_for_another_order_under_our_id_is_a_rejection(
    rig: tuple[CoinbaseSimulator, VenueUnderTest],
) -> None:
    sim, v = rig
    first = v.order(v.resting_price)
    assert (await v.venue.place(first)).outcome is PlaceOutcome.ACCEPTED
    # Same client id, another price: Coinbase answers "success" with the first order.
    other = replace(first, price=str(Decimal(v.resting_price) - 7))
    result = await v.venue.place(other)
    assert result.outcome is PlaceOutcome.REJECTED
    assert result.reason is not None
    assert "limit_price" in result.reason
    assert "created nothing" in result.reason
    assert sim.matching.stats.placed == 1


async def test_a_resend_answered_with_our_existing_order_reports_its_state() -> None:
    key = es256_key()
    async with running_sim(key) as sim:
        v = await _started(sim, key)
        try:
            await _resend_answered_with_the_existing_order(sim, v, key)
        finally:
            await v.venue.stop()


async def _resend_answered_with_the_existing_order(
    sim: CoinbaseSimulator, v: VenueUnderTest, key: CdpKey
) -> None:
    order = v.order(v.taking_price, tif="IOC")
    placed = await v.venue.place(order)
    assert placed.outcome is PlaceOutcome.ACCEPTED
    await v.reported(order.client_order_id, lambda r: r.state is ExecState.FILLED)
    v.reports.clear()
    # The entry sends again only after a query said "none"; should the venue have had it
    # all along (filled, here), its success answer must not be taken for a new working
    # order: the order's state is read and reported before the answer.
    again = replace(order, send_attempts=2)
    result = await v.venue.place(again)
    assert result.outcome is PlaceOutcome.ACCEPTED
    assert result.venue_order_id == placed.venue_order_id
    # Its fills with their trade ids (again: the entry records each once), then its state.
    sim_order = sim.matching.order(ACCOUNT, client_order_id=order.client_order_id)
    assert sim_order is not None
    venue_fills = {f.exec_id for f in sim.matching.fills(sim_order.order_id)}
    assert {r.venue_exec_id for r in v.reports if r.venue_exec_id} <= venue_fills
    assert v.reports[-1].state is ExecState.FILLED
    assert Decimal(v.reports[-1].filled_qty) == Decimal(order.qty)
    assert sim.matching.stats.placed == 1
    # A fresh adapter (a restarted gateway) has seen none of them: it reports them too.
    fresh = venue_for(sim, key)
    got: list[Any] = []
    await fresh.start(got.append, lambda: None)
    assert (await fresh.place(again)).outcome is PlaceOutcome.ACCEPTED
    assert {r.venue_exec_id for r in got if r.venue_exec_id} == venue_fills
    assert got[-1].state is ExecState.FILLED
    await fresh.stop()
    # A resting order answered so is plainly working: nothing to report.
    resting = v.order(v.resting_price)
    assert (await v.venue.place(resting)).outcome is PlaceOutcome.ACCEPTED
    await v.reported(resting.client_order_id, lambda r: r.state is ExecState.ACK)
    v.reports.clear()
    assert (await v.venue.place(replace(resting, send_attempts=2))).outcome is (
        PlaceOutcome.ACCEPTED
    )
    assert v.reports == []


async def test_an_order_coinbase_cannot_take_is_refused_before_sending(
    rig: tuple[CoinbaseSimulator, VenueUnderTest],
) -> None:
    sim, v = rig
    market_gtc = replace(v.order(v.taking_price), type="market", price=None)
    result = await v.venue.place(market_gtc)
    assert result.outcome is PlaceOutcome.REJECTED
    post_only_ioc = v.order(v.resting_price, tif="IOC", post_only=True)
    assert (await v.venue.place(post_only_ioc)).outcome is PlaceOutcome.REJECTED
    assert sim.stats()["rest_requests"] == 1  # the products at start, nothing since


async def test_market_and_fok_orders_use_their_configurations(
    rig: tuple[CoinbaseSimulator, VenueUnderTest],
) -> None:
    sim, v = rig
    market = replace(v.order(v.taking_price, tif="IOC"), type="market", price=None)
    assert (await v.venue.place(market)).outcome is PlaceOutcome.ACCEPTED
    fok = v.order(v.taking_price, tif="FOK")
    assert (await v.venue.place(fok)).outcome is PlaceOutcome.ACCEPTED
    for order, kind in ((market, "market"), (fok, "limit")):
        sim_order = sim.matching.order(ACCOUNT, client_order_id=order.client_order_id)
        assert sim_order is not None
        assert (sim_order.type, sim_order.time_in_force) == (kind, order.time_in_force)
        assert sim_order.filled == sim_order.qty


async def test_a_wrong_key_is_a_rejection_naming_no_secret() -> None:
    key, stranger = es256_key(), es256_key()
    async with running_sim(key) as sim:
        # Signs with a key the venue does not know; the user channel will never subscribe.
        venue = venue_for(sim, stranger, trading_config(stream_connect_wait_s=0.3))
        v = VenueUnderTest(
            venue=venue, symbol="BTC-USD", qty="0.01", resting_price="1", taking_price="1"
        )
        await venue.start(v.on_report, v.on_stream_gap)
        result = await venue.place(v.order(str(best(sim, "BTC-USD")[0] - 100)))
        assert result.outcome is PlaceOutcome.REJECTED
        assert result.reason is not None
        assert "401" in result.reason
        assert stranger.secret not in result.reason
        assert sim.orders.refusals["signature"] >= 1
        assert venue.stats["stream_connects"] >= 1
        assert v.gaps == 0, "the user channel was refused too: never subscribed"
        await venue.stop()


# ---------------------------------------------------------------- the user channel


async def test_a_skipped_sequence_num_is_a_stream_gap() -> None:
    gaps: list[int] = []
    key = es256_key()
    venue = CoinbaseOrderVenue(
        trading_config(), key.signer(), rest_url="http://127.0.0.1:9", user_ws_url="ws://x/"
    )
    venue._on_gap = lambda: gaps.append(1)
    reader = _UserFrames(venue)
    for seq in (0, 1, 1, 2, 5, 6):
        await reader.frame(f'{{"channel":"heartbeats","sequence_num":{seq},"events":[]}}')
    assert len(gaps) == 1
    assert venue._counters.get("user_duplicate_frames", "coinbase") == 1


async def test_fills_come_with_the_venues_trade_ids_once(
    rig: tuple[CoinbaseSimulator, VenueUnderTest],
) -> None:
    sim, v = rig
    # Rests at the bid, then fills (as maker) against the market's trades as it moves.
    bid, _ = best(sim, "BTC-USD")
    order = replace(v.order(str(bid)), qty="0.3")
    assert (await v.venue.place(order)).outcome is PlaceOutcome.ACCEPTED
    cid = order.client_order_id
    for _ in range(400):
        sim.advance("BTC-USD", 5)
        await asyncio.sleep(0.005)
        sim_order = sim.matching.order(ACCOUNT, client_order_id=cid)
        assert sim_order is not None
        if sim_order.filled:
            break
    await v.reported(cid, lambda r: r.venue_exec_id is not None)
    await asyncio.sleep(0.2)
    sim_order = sim.matching.order(ACCOUNT, client_order_id=cid)
    assert sim_order is not None
    fills = [r for r in v.reports if r.client_order_id == cid and r.venue_exec_id]
    ids = [r.venue_exec_id for r in fills]
    assert len(ids) == len(set(ids))
    assert set(ids) == {f.exec_id for f in sim.matching.fills(sim_order.order_id)}
    for r in fills:
        assert r.fee_asset == "USD"
        assert r.last_fill_price is not None
        assert Decimal(r.last_fill_price) <= Decimal(order.price or "0")


# ---------------------------------------------------------------- with the order entry


def _request(**fields: Any) -> OrderRequest:
    base = {"venue": "coinbase", "symbol": "BTC-USD", "side": "buy", "type": "limit"}
    return OrderRequest.model_validate({**base, **fields})


async def test_the_private_stream_dropped_mid_fill_recovers_each_fill_once(tmp_path: Path) -> None:
    key = es256_key()
    faults = {"faults": [{"kind": "private_stream_drop", "rate": 1.0, "max_count": 1}]}
    async with running_sim(key, faults=faults) as sim:
        venue = venue_for(sim, key, trading_config(jwt_lifetime_s=5))
        events: list[Event] = []
        ledger = OrderLedger(tmp_path / "ledger.sqlite")
        entry = OrderEntry(ledger, events.append, trading_mode=lambda: "enabled", config=FAST)
        entry.add_venue(venue)
        await entry.start()
        _, ask = best(sim, "BTC-USD")
        handle = await entry.submit(_request(qty="0.05", price=str(ask + 200), time_in_force="IOC"))
        cid = handle.client_order_id
        async with asyncio.timeout(20):
            while True:
                order = entry.order(cid)
                assert order is not None
                if order.state.terminal and not entry._journal.fills_missing(order):
                    break
                await asyncio.sleep(0.02)
        await entry.drain()
        sim_order = sim.matching.order(ACCOUNT, client_order_id=cid)
        assert sim_order is not None
        assert sim.stats()["faults"]["private_stream_drop"] == 1
        assert venue.stats["stream_connects"] >= 2, "it reconnected"
        assert venue.stats["stream_gaps"] >= 2, "and said updates may be missing"
        recorded = sorted(f.venue_exec_id for f in entry.fills(cid))
        assert recorded == sorted(f.exec_id for f in sim.matching.fills(sim_order.order_id))
        announced = [e for e in events if isinstance(e, ExecReport) and e.client_order_id == cid]
        fill_ids = [e.venue_exec_id for e in announced if e.venue_exec_id]
        assert sorted(fill_ids) == recorded, "each fill announced once"
        order = entry.order(cid)
        assert order is not None
        assert order.state is OrderState.FILLED
        assert Decimal(order.filled_qty) == Decimal("0.05")
        await entry.stop()
        ledger.close()
