"""The Binance order adapter against the Binance simulator: the order-venue contract (with an
HMAC key and with an Ed25519 key), the unknown outcomes (faults, duplicates), refusals for
bad credentials, and a private stream dropped mid-fill whose fills come back once through
``myTrades``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.integration.binance_orders_rig import (
    ED_API_KEY,
    credentials,
    ed_credentials,
    prices,
    record,
    sim_config,
    venue_for,
)
from tests.unit.order_venue_contract import OrderVenueContract, VenueUnderTest
from tradegw.config.models import OrdersConfig
from tradegw.errors import VenueUnavailable
from tradegw.orders.entry import OrderEntry
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.record import OrderRecord
from tradegw.orders.requests import OrderRequest
from tradegw.orders.venue import CancelOutcome, PlaceOutcome, VenueOrderStatus, VenueReport
from tradegw.providers.binance.orders import BinanceOrderVenue, WeightWindow
from tradegw.schema import Event, ExecReport, ExecState
from tradegw.sim.binance import BinanceSimulator

pytestmark = pytest.mark.timeout(60)


class TestBinanceOrderVenue(OrderVenueContract):
    """The contract every venue adapter meets, over the simulator's WebSocket API."""

    @pytest.fixture
    async def venue_under_test(self) -> AsyncIterator[VenueUnderTest]:
        async with BinanceSimulator(sim_config()) as sim:
            venue = venue_for(sim)
            resting, taking = prices(sim)
            v = VenueUnderTest(
                venue=venue,
                symbol="BTC-USDT",
                qty="0.001",
                resting_price=resting,
                taking_price=taking,
            )
            await venue.start(v.on_report, v.on_stream_gap)
            yield v
            await venue.stop()


class TestBinanceOrderVenueEd25519(OrderVenueContract):
    """The same contract with an Ed25519 key: every WebSocket API request (orders, queries,
    the user data stream's subscription) and REST ``myTrades`` signed Ed25519, verified by
    the simulator with the key's public half."""

    @pytest.fixture
    async def venue_under_test(self) -> AsyncIterator[VenueUnderTest]:
        async with BinanceSimulator(sim_config()) as sim:
            venue = venue_for(sim, creds=ed_credentials(), key_type="ed25519")
            resting, taking = prices(sim)
            v = VenueUnderTest(venue, "BTC-USDT", "0.001", resting, taking)
            await venue.start(v.on_report, v.on_stream_gap)
            yield v
            await venue.stop()


async def test_an_ed25519_key_signs_everything_and_a_wrong_one_is_refused() -> None:
    async with BinanceSimulator(sim_config()) as sim:
        async with started(sim, creds=ed_credentials(), key_type="ed25519") as v:
            order = v.order(v.taking_price)
            assert (await v.venue.place(order)).outcome is PlaceOutcome.ACCEPTED
            await v.reported(order.client_order_id, lambda r: r.state is ExecState.FILLED)
            assert v.venue.stats["stream_connects"] == 1
            placed = v.order(v.resting_price)
            assert (await v.venue.place(placed)).outcome is PlaceOutcome.ACCEPTED
            status = await v.venue.query(placed)
            assert status is not None
            assert status.state is ExecState.ACK
            fills = await v.venue.fills(order)  # REST myTrades, signature percent-encoded
            assert sum(Decimal(f.qty) for f in fills) == Decimal("0.001")
        assert sim.stats()["signed_refused"] == {}
        other = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        wrong = credentials(ED_API_KEY, other.decode())
        async with started(sim, creds=wrong, key_type="ed25519") as v:
            result = await v.venue.place(v.order(v.resting_price))
            assert result.outcome is PlaceOutcome.REJECTED
            assert result.reason == "-1022 Signature for this request is not valid."
            assert v.venue.stats["stream_connects"] == 0, "its stream was refused too"
        assert sim.matching.stats.placed == 2
        assert sim.stats()["signed_refused"][-1022] >= 2


@contextlib.asynccontextmanager
async def started(sim: BinanceSimulator, **trading: object) -> AsyncIterator[VenueUnderTest]:
    """The adapter against ``sim``, started, stopped at the end whatever happened
    (``creds``, and the trading config's fields, as :func:`venue_for` takes them)."""
    venue = venue_for(sim, **trading)  # type: ignore[arg-type]
    resting, taking = prices(sim)
    v = VenueUnderTest(venue, "BTC-USDT", "0.001", resting, taking)
    try:
        await venue.start(v.on_report, v.on_stream_gap)
        yield v
    finally:
        await venue.stop()


async def test_instruments_carry_the_venues_filters() -> None:
    async with BinanceSimulator(sim_config()) as sim, started(sim) as v:
        btc = v.venue.instrument("BTC-USDT")
        assert btc is not None
        assert (btc.venue_symbol, str(btc.price_increment), str(btc.qty_increment)) == (
            "BTCUSDT",
            "0.1",
            "1E-8",
        )
        assert (str(btc.min_qty), str(btc.min_notional), str(btc.max_qty)) == (
            "0.0001",
            "0.5",
            "9000000",
        )
        assert v.venue.instrument("ETH-USDT") is not None


async def test_answers_lost_to_faults_are_unknown_and_the_query_finds_the_order() -> None:
    faults = {
        "faults": [
            {"kind": "order_ack_lost", "after_messages": [0]},
            {"kind": "order_response_lost", "after_messages": [1]},
            {"kind": "order_5xx_after_accept", "after_messages": [2]},
        ]
    }
    async with (
        BinanceSimulator(sim_config(faults=faults)) as sim,
        started(sim, request_timeout_s=0.5) as v,
    ):
        for expected in (
            "no answer within 0.5s",
            "no answer: WebSocket API connection",
            "-1007",
        ):
            order = v.order(v.resting_price)
            result = await v.venue.place(order)
            assert result.outcome is PlaceOutcome.UNKNOWN, result
            assert result.reason is not None
            assert expected in result.reason
            status = await v.venue.query(order)
            assert status is not None
            assert status.state is ExecState.ACK
        # The order connection was dropped by the second fault; the adapter reopened it.
        assert (await v.venue.place(v.order(v.resting_price))).outcome is PlaceOutcome.ACCEPTED
        assert sim.matching.stats.placed == 4
        assert sim.matching.stats.duplicate_orders == 0


async def test_a_duplicate_client_id_is_unknown_not_rejected() -> None:
    async with BinanceSimulator(sim_config()) as sim, started(sim) as v:
        order = v.order(v.resting_price)
        assert (await v.venue.place(order)).outcome is PlaceOutcome.ACCEPTED
        again = await v.venue.place(order)
        assert again.outcome is PlaceOutcome.UNKNOWN
        assert again.reason is not None
        assert again.reason.startswith("-2010 Duplicate order sent.")
        assert sim.matching.stats.placed == 1


async def test_bad_credentials_are_refused_and_said_without_the_secret() -> None:
    async with BinanceSimulator(sim_config()) as sim:
        async with started(sim, creds=credentials(secret="not-the-secret")) as v:
            result = await v.venue.place(v.order(v.resting_price))
            assert result.outcome is PlaceOutcome.REJECTED
            assert result.reason == "-1022 Signature for this request is not valid."
            with pytest.raises(VenueUnavailable, match="-1022"):
                await v.venue.query(v.order(v.resting_price))
            cancel = await v.venue.cancel(v.order(v.resting_price))
            assert cancel.outcome is CancelOutcome.REJECTED
            assert v.venue.stats["stream_connects"] == 0, "its stream was refused too"
        async with started(sim, creds=credentials(key="someoneElse")) as v:
            result = await v.venue.place(v.order(v.resting_price))
            assert result.reason == "-2015 Invalid API-key, IP, or permissions for action."
        assert sim.matching.stats.placed == 0
        refused = sim.stats()["signed_refused"]
        assert refused[-1022] >= 3
        assert refused[-2015] >= 1


async def test_a_clock_far_ahead_is_refused_as_the_venue_refuses_it() -> None:
    async with BinanceSimulator(sim_config()) as sim, started(sim) as v:
        v.venue._clock_offset_ms = 5_000  # type: ignore[attr-defined]  # as if badly synced
        result = await v.venue.place(v.order(v.resting_price))
        assert result.outcome is PlaceOutcome.REJECTED
        assert result.reason == (
            "-1021 Timestamp for this request was 1000ms ahead of the server's time."
        )


async def test_unsupported_combinations_are_rejected_before_sending() -> None:
    async with BinanceSimulator(sim_config()) as sim, started(sim) as v:
        fok_market = record("BTC-USDT", qty="0.001", price=None, tif="FOK")
        result = await v.venue.place(fok_market)
        assert result.outcome is PlaceOutcome.REJECTED
        assert v.venue.stats["places"] == 0
        market = record("BTC-USDT", qty="0.001", price=None, tif="IOC")
        assert (await v.venue.place(market)).outcome is PlaceOutcome.ACCEPTED
        final = await v.reported(
            market.client_order_id, lambda r: r.state in (ExecState.FILLED, ExecState.EXPIRED)
        )
        assert Decimal(final.filled_qty) > 0


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Polls ``condition`` (a venue's counters have no event to wait on)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def fills_of(reports: list[VenueReport], cid: str) -> list[str]:
    return [r.venue_exec_id for r in reports if r.client_order_id == cid and r.venue_exec_id]


@pytest.mark.parametrize("mode", ["disconnect", "terminate"])
async def test_a_stream_dropped_mid_fill_is_resubscribed_and_the_fill_recovered(
    mode: str,
) -> None:
    faults = {"faults": [{"kind": "private_stream_drop", "after_messages": [0], "max_count": 1}]}
    async with (
        BinanceSimulator(sim_config(faults=faults, stream_drop=mode)) as sim,
        started(sim) as v,
    ):
        assert v.venue.stats["stream_connects"] == 1
        # Through the asks: fills; the stream dies before the first is sent.
        order = v.order(v.taking_price, tif="IOC")
        assert (await v.venue.place(order)).outcome is PlaceOutcome.ACCEPTED
        await wait_until(lambda: v.gaps > 0)
        assert v.venue.stats["stream_connects"] == 2
        streamed = fills_of(v.reports, order.client_order_id)
        assert streamed == [], "the fills were lost with the stream"
        recovered = await v.venue.fills(order)
        assert recovered, "it took liquidity"
        assert len({f.venue_exec_id for f in recovered}) == len(recovered)
        sim_order = sim.matching.order("default", client_order_id=order.client_order_id)
        assert sim_order is not None
        assert [f.venue_exec_id for f in recovered] == [
            f.exec_id for f in sim.matching.fills(sim_order.order_id)
        ]
        assert sum(Decimal(f.qty) for f in recovered) == Decimal(sim_order.filled).scaleb(-8)
        assert all(f.fee_asset == "USDT" and Decimal(f.fee or "0") > 0 for f in recovered)
        # Later orders are reported again on the new subscription.
        later = v.order(v.resting_price)
        assert (await v.venue.place(later)).outcome is PlaceOutcome.ACCEPTED
        await v.reported(later.client_order_id, lambda r: r.state is ExecState.ACK)


async def test_fills_of_an_order_never_placed_are_none_and_a_dead_venue_cannot_say() -> None:
    sim = BinanceSimulator(sim_config())
    await sim.start()
    async with started(sim) as v:
        assert await v.venue.fills(v.order(v.resting_price)) == []
        await sim.stop()
        with pytest.raises(VenueUnavailable):
            await v.venue.query(v.order(v.resting_price))
        with pytest.raises(VenueUnavailable):
            await v.venue.fills(record("BTC-USDT", qty="0.001", price="1.0", cid="x"))
        result = await v.venue.place(v.order(v.resting_price))
        assert result.outcome is PlaceOutcome.UNKNOWN


async def test_requests_wait_for_the_weight_window_instead_of_being_banned() -> None:
    """A venue allowing 40 weight per 1 s window, 12 of it spent by another client on the IP:
    once an answer has said so, 30 queries at once (120 weight) are spread over the windows
    the adapter counts; none is refused for weight."""
    async with BinanceSimulator(sim_config(weight_limit=40, weight_window_s=1.0)) as sim:
        # Not started through the helper: the window must be the simulator's before start.
        venue = venue_for(sim)
        venue._weight = WeightWindow(36, window_s=1.0)  # type: ignore[attr-defined]
        v = VenueUnderTest(venue, "BTC-USDT", "0.001", *prices(sim))
        try:
            await venue.start(v.on_report, v.on_stream_gap)
            await wait_until(lambda: time.time() % 1 < 0.5)  # early in a window
            async with aiohttp.ClientSession() as other:
                for _ in range(12):
                    async with other.get(f"{sim.rest_url}/api/v3/ping") as r:
                        assert r.status == 200
            # Its answer carries the venue's count of the window, others' weight included.
            assert await venue.query(v.order(v.resting_price)) is None
            started = time.monotonic()
            answers = await asyncio.gather(
                *(venue.query(v.order(v.resting_price)) for _ in range(30))
            )
            assert answers == [None] * 30
            assert time.monotonic() - started > 1.5, "spread over at least three windows"
            assert venue.stats["weight_waits"] > 0
            assert sim.stats()["refused_429"] == 0
        finally:
            await venue.stop()


def test_the_weight_window_is_the_venues_fixed_minute() -> None:
    w = WeightWindow(100)
    assert w.reserve(60, 120.0) == 0
    assert w.reserve(40, 150.0) == 0
    assert w.reserve(1, 170.0) == pytest.approx(10.01)  # until 180 s, the next window
    w.observe(30, 181.0)  # a new window; the venue has seen 30 already
    assert w.reserve(70, 181.5) == 0
    assert w.reserve(1, 182.0) > 0
    w.spend(2, 183.0)  # counted, even past the budget
    assert w.used == 102
    assert w.reserve(500, 240.0) == 0, "more than the budget passes alone at a window's start"
    w.block_until(400.0)  # a ban
    assert w.reserve(1, 300.0) == pytest.approx(100.0)
    assert w.reserve(1, 400.5) == 0


async def test_through_the_entry_fills_lost_with_the_stream_are_reported_once() -> None:
    """The order entry over the adapter: a taking order whose fills the private stream lost
    (dropped mid-fill) ends FILLED or EXPIRED with exactly the venue's fills, each reported
    once in an ExecReport, after the resubscription's gap reconciled it."""
    faults = {"faults": [{"kind": "private_stream_drop", "after_messages": [0], "max_count": 1}]}
    async with BinanceSimulator(sim_config(faults=faults, stream_drop="disconnect")) as sim:
        events: list[Event] = []
        ledger = OrderLedger(None)
        config = OrdersConfig(request_timeout_s=2.0, reconcile_backoff_s=0.02)
        entry = OrderEntry(ledger, events.append, trading_mode=lambda: "enabled", config=config)
        venue = venue_for(sim)
        entry.add_venue(venue)
        await entry.start()
        try:
            _, taking = prices(sim)
            request = OrderRequest(
                venue="binance",
                symbol="BTC-USDT",
                side="buy",
                type="limit",
                qty="0.001",
                price=taking,
                time_in_force="IOC",
                client_order_id="lost-fills",
            )
            await entry.submit(request)
            await wait_until(lambda: venue.stats["stream_gaps"] >= 1)
            await asyncio.wait_for(entry.drain(), 10)
            record = entry.order("lost-fills")
            assert record is not None
            sim_order = sim.matching.order("default", client_order_id="lost-fills")
            assert sim_order is not None
            venue_fills = sim.matching.fills(sim_order.order_id)
            assert venue_fills, "it took liquidity"
            assert record.state.value == ("FILLED" if sim_order.remaining == 0 else "EXPIRED")
            assert Decimal(record.filled_qty) == Decimal(sim_order.filled).scaleb(-8)
            assert sorted(f.venue_exec_id for f in entry.fills("lost-fills")) == sorted(
                f.exec_id for f in venue_fills
            )
            reports = [e for e in events if isinstance(e, ExecReport)]
            announced = [r.venue_exec_id for r in reports if r.venue_exec_id is not None]
            assert sorted(announced) == sorted(f.exec_id for f in venue_fills), "each once"
            assert venue.stats["reports"] == 1, "only the NEW report came on the stream"
        finally:
            await entry.stop()
            ledger.close()


async def test_a_query_answered_across_a_resubscription_is_asked_again() -> None:
    """What a query read before the stream's latest subscription may miss what the old
    stream lost: the adapter asks again, and never reuses a shared answer across it."""
    async with BinanceSimulator(sim_config()) as sim, started(sim) as v:
        venue = v.venue
        assert isinstance(venue, BinanceOrderVenue)
        order = v.order(v.resting_price)
        assert (await venue.place(order)).outcome is PlaceOutcome.ACCEPTED
        asked = 0
        real = venue._query

        async def racing(o: OrderRecord) -> VenueOrderStatus | None:
            nonlocal asked
            asked += 1
            status = await real(o)
            if asked == 1:
                venue._stream_epoch += 1  # as if the stream resubscribed meanwhile
            return status

        venue._query = racing  # type: ignore[method-assign]
        status = await venue.query(order)
        assert status is not None
        assert status.state is ExecState.ACK
        assert asked == 2
        # A shared openOrders answer of the old subscription is not used under the new one.
        await asyncio.gather(*(venue.query(order) for _ in range(3)))
        assert venue._fresh_snapshot("BTCUSDT")
        venue._stream_epoch += 1
        assert not venue._fresh_snapshot("BTCUSDT")
        # Fills asked for after a query read under an older subscription: asked again.
        assert await venue.query(order) is not None
        venue._stream_epoch += 1
        with pytest.raises(VenueUnavailable, match="subscribed again"):
            await venue.fills(order)
        assert await venue.fills(order) == [], "without a stale query in between it answers"
