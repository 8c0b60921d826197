"""The order entry with the fake venue: idempotency, the trading switch, checks, unknown
outcomes reconciled before any retry, restarts, cancels, and one ExecReport per change."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit._orders import FAST, Rig, assert_streams_gapless, request
from tradegw.errors import OrderRefused, UnknownOrder
from tradegw.orders.fake import ACCOUNT, FakeFaults
from tradegw.orders.record import OrderRecord
from tradegw.orders.states import OrderState
from tradegw.orders.venue import VenueReport
from tradegw.schema import ExecState

pytestmark = pytest.mark.timeout(30)

SILENT = {"report_dropped": 1.0, "gap_after_s": 60.0}
"""A private stream that says nothing (its gap announced only much later): what settles an
order is then the query."""


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = await Rig().start()
    yield r
    await r.stop()


async def test_a_resting_order_is_acknowledged_with_one_report(rig: Rig) -> None:
    bid, _ = rig.best()
    h = await rig.submit(price=bid, decision_id="d-1")
    assert not h.duplicate
    rec = h.record
    assert rec.state is OrderState.ACK
    assert rec.venue_order_id is not None
    assert rec.send_attempts == 1
    assert rec.decision_id == "d-1"
    [report] = rig.reports()
    assert (report.state, report.seq_provider, report.provider) == (ExecState.ACK, 1, "fake")
    assert (report.client_order_id, report.venue_order_id) == (
        rec.client_order_id,
        rec.venue_order_id,
    )
    assert report.venue_symbol == "BTC/USD"
    assert report.filled_qty == "0"


async def test_a_known_client_order_id_never_reaches_the_venue_again(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    bid, _ = rig.best()
    first = await rig.submit(price=bid, client_order_id="same-1")
    for _ in range(5):
        again = await rig.submit(price=bid, client_order_id="same-1")
        assert again.duplicate
        assert again.record == first.record
    with caplog.at_level(logging.WARNING, logger="tradegw.orders"):
        other = await rig.submit(price=bid, qty="0.002", client_order_id="same-1")
    assert other.record.qty == "0.001"
    assert "other qty" in caplog.text
    assert rig.venue.calls["place"] == 1
    assert rig.entry.stats.duplicate_submits == 6
    assert len(rig.reports()) == 1


async def test_two_concurrent_submits_of_one_id_send_once(rig: Rig) -> None:
    bid, _ = rig.best()
    req = request(price=bid)
    handles = await asyncio.gather(*(rig.entry.submit(req) for _ in range(10)))
    assert sum(not h.duplicate for h in handles) == 1
    assert rig.venue.calls["place"] == 1


async def test_a_marketable_order_fills_with_one_report_per_fill(rig: Rig) -> None:
    _, ask = rig.best()
    h = await rig.submit(qty="0.5", price=str(Decimal(ask) + 100))
    rec = await asyncio.wait_for(h.wait(), 5)
    fills = h.fills()
    assert fills, "it took at least one level"
    reports = rig.reports()
    assert reports[0].state is ExecState.ACK or reports[0].last_fill_qty is not None
    fill_reports = [r for r in reports if r.venue_exec_id is not None]
    assert [r.venue_exec_id for r in fill_reports] == [f.venue_exec_id for f in fills]
    assert Decimal(rec.filled_qty) == Decimal(rig.venue.venue_filled(rec.client_order_id) or "-1")
    assert rec.state.exec_state == rig.venue.venue_state(rec.client_order_id)
    assert rec.avg_price is not None
    assert reports[-1].state in (ExecState.FILLED, ExecState.PARTIAL, ExecState.EXPIRED)
    assert_streams_gapless(reports)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("disabled", "trading_disabled"),
        ("cancel_only", "cancel_only"),
        ("reduce_only", "reduce_only"),
    ],
)
async def test_the_switch_records_a_rejection_and_sends_nothing(
    rig: Rig, mode: str, reason: str
) -> None:
    rig.mode = mode  # type: ignore[assignment]
    h = await rig.submit(decision_id="d-9")
    assert h.state is OrderState.REJECTED
    assert h.record.reason == reason
    [report] = rig.reports()
    assert (report.state, report.reason) == (ExecState.REJECTED, reason)
    assert rig.venue.calls["place"] == 0
    # The id is spent: submitting it again once trading is back returns the rejection.
    rig.mode = "enabled"
    again = await rig.entry.submit(request(client_order_id=h.client_order_id))
    assert again.duplicate
    assert again.state is OrderState.REJECTED
    assert rig.venue.calls["place"] == 0


async def test_cancels_pass_cancel_only_and_are_refused_while_disabled(rig: Rig) -> None:
    bid, _ = rig.best()
    a = await rig.submit(price=bid)
    b = await rig.submit(price=bid)
    rig.mode = "disabled"
    with pytest.raises(OrderRefused) as refused:
        await rig.entry.cancel(a.client_order_id)
    assert refused.value.reason == "trading_disabled"
    assert rig.venue.calls["cancel"] == 0
    assert a.state is OrderState.ACK
    rig.mode = "cancel_only"
    await rig.entry.cancel(a.client_order_id)
    assert a.state is OrderState.CANCELLED
    rig.mode = "reduce_only"
    await rig.entry.cancel(b.client_order_id)
    assert b.state is OrderState.CANCELLED
    assert [r.state for r in rig.reports()] == [ExecState.ACK] * 2 + [ExecState.CANCELLED] * 2


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"venue": "nowhere"}, "venue 'nowhere' has no order venue registered"),
        ({"symbol": "DOGE-EUR"}, "symbol DOGE-EUR is not tradable on fake"),
        ({"price": "40000.05"}, "price 40000.05 is not a multiple of price_increment 0.1"),
        ({"qty": "0.000000001"}, "qty"),
        ({"qty": "0.00001"}, "qty 0.00001 is below min_qty 0.0001"),
        ({"qty": "0.001", "price": "1.0"}, "notional 0.0010 (price * qty) is below min_notional"),
    ],
)
async def test_checks_reject_naming_the_field_and_send_nothing(
    rig: Rig, fields: dict[str, str], words: str
) -> None:
    h = await rig.submit(**fields)
    assert h.state is OrderState.REJECTED
    assert h.record.reason is not None
    assert h.record.reason.startswith(words)
    assert rig.venue.calls["place"] == 0
    assert rig.reports()[0].reason == h.record.reason


async def test_the_venues_own_rejection_is_recorded_with_its_reason(rig: Rig) -> None:
    _, ask = rig.best()
    h = await rig.submit(price=ask, post_only=True)
    assert h.state is OrderState.REJECTED
    assert h.record.reason == "post_only_would_take"
    assert rig.venue.calls["place"] == 1


@pytest.mark.parametrize("fault", ["ack_lost", "response_lost", "error_5xx", "hang"])
async def test_an_answer_lost_after_accept_is_reconciled_without_a_second_send(fault: str) -> None:
    faults = FakeFaults(**{fault: 1.0}, **SILENT)
    r = await Rig(faults=faults).start()
    try:
        bid, _ = r.best()
        h = await r.submit(price=bid)
        assert r.entry.stats.unknown == 1
        rec = await asyncio.wait_for(h.wait(OrderState.ACK), 5)
        assert rec.send_attempts == 1
        assert rec.venue_order_id is not None
        assert r.venue.calls["place"] == 1
        assert r.venue.calls["query"] >= 1
        assert [x.state for x in r.reports()] == [ExecState.ACK]
        assert r.entry.stats.adopted == 1
    finally:
        await r.stop()


async def test_an_update_on_the_stream_settles_an_order_whose_answer_was_lost() -> None:
    r = await Rig(faults=FakeFaults(ack_lost=1.0)).start()
    try:
        bid, _ = r.best()
        h = await r.submit(price=bid)
        assert h.state is OrderState.ACK  # the stream said so while the answer was lost
        await asyncio.wait_for(r.entry.drain(), 5)
        assert r.venue.calls["place"] == 1
        assert r.venue.calls["query"] == 0
    finally:
        await r.stop()


async def test_a_request_that_never_arrived_is_sent_again_with_the_same_id() -> None:
    faults = FakeFaults(request_lost=1.0, query_fails=1.0)
    r = await Rig(faults=faults).start()
    try:
        bid, _ = r.best()
        h = await r.submit(price=bid, client_order_id="lost-1")
        assert h.state is OrderState.UNKNOWN
        # The venue can say again, and the next send goes through.
        faults.request_lost = faults.query_fails = 0.0
        rec = await asyncio.wait_for(h.wait(OrderState.ACK), 5)
        assert rec.send_attempts == 2
        assert r.entry.stats.resends == 1
        assert r.venue.calls["place"] == 1
        assert r.venue.engine.order("gateway", client_order_id="lost-1") is not None
    finally:
        await r.stop()


async def test_after_max_sends_the_venue_never_got_the_order_is_rejected() -> None:
    r = await Rig(faults=FakeFaults(request_lost=1.0)).start()
    try:
        h = await r.submit()
        rec = await asyncio.wait_for(h.wait(), 5)
        assert rec.state is OrderState.REJECTED
        assert rec.send_attempts == FAST.max_send_attempts
        assert rec.reason is not None
        assert rec.reason.startswith("not_accepted")
        assert r.venue.calls["place"] == 0
        assert r.venue.venue_state(h.client_order_id) is None
    finally:
        await r.stop()


async def test_a_failing_query_leaves_the_order_unknown_until_the_venue_can_say() -> None:
    faults = FakeFaults(ack_lost=1.0, query_fails=1.0, **SILENT)
    r = await Rig(faults=faults).start()
    try:
        bid, _ = r.best()
        h = await r.submit(price=bid)
        await asyncio.sleep(0.2)
        assert h.state is OrderState.UNKNOWN
        assert r.entry.stats.query_failures >= 3
        assert r.venue.calls["place"] == 1
        faults.query_fails = 0.0
        await asyncio.wait_for(h.wait(OrderState.ACK), 5)
        assert r.venue.calls["place"] == 1
    finally:
        await r.stop()


async def test_a_query_is_not_believed_before_the_venues_grace(tmp_path: Path) -> None:
    from tradegw.orders.fake import FakeOrderVenue

    venue = FakeOrderVenue(faults=FakeFaults(request_lost=1.0), query_grace_s=0.3)
    r = await Rig(venue=venue).start()
    try:
        h = await r.submit()
        await asyncio.sleep(0.15)
        assert venue.calls["query"] == 0
        assert h.record.send_attempts == 1
        venue.faults.request_lost = 0.0
        await asyncio.wait_for(h.wait(OrderState.ACK), 5)
        assert h.record.send_attempts == 2
    finally:
        await r.stop()


async def test_a_fill_reported_twice_is_applied_once(rig: Rig) -> None:
    rig.venue.faults.report_duplicated = 1.0
    _, ask = rig.best()
    h = await rig.submit(qty="0.3", price=ask, time_in_force="IOC")
    await asyncio.wait_for(h.wait(), 5)
    fills = h.fills()
    sim = rig.venue.engine.order("gateway", client_order_id=h.client_order_id)
    assert sim is not None
    assert len(fills) == len(rig.venue.engine.fills(sim.order_id)) >= 1
    assert rig.entry.stats.duplicate_fills >= len(fills)
    fill_reports = [r for r in rig.reports() if r.venue_exec_id is not None]
    assert len(fill_reports) == len(fills)
    assert rig.entry.stats.duplicate_reports >= 1  # the repeated ACK


async def test_a_late_ack_after_filled_is_ignored_and_counted(rig: Rig) -> None:
    _, ask = rig.best()
    h = await rig.submit(qty="0.0001", price=ask, time_in_force="IOC")
    rec = await asyncio.wait_for(h.wait(), 5)
    assert rec.state is OrderState.FILLED
    before = list(rig.reports())
    rig.venue.push_report(
        VenueReport(client_order_id=rec.client_order_id, state=ExecState.ACK, filled_qty="0")
    )
    assert h.state is OrderState.FILLED
    assert h.record.filled_qty == rec.filled_qty
    assert rig.reports() == before
    assert rig.entry.stats.stale_reports == 1


async def test_updates_of_orders_placed_elsewhere_are_ignored(rig: Rig) -> None:
    rig.venue.push_report(
        VenueReport(client_order_id="not-ours", state=ExecState.FILLED, filled_qty="1")
    )
    assert rig.entry.stats.foreign_reports == 1
    assert rig.reports() == []


async def test_dropped_stream_updates_are_recovered_after_the_gap(rig: Rig) -> None:
    rig.venue.faults.report_dropped = 1.0
    bid, _ = rig.best()
    h = await rig.submit(price=bid, qty="0.02")
    assert h.state is OrderState.ACK  # the answer, not the stream
    for _ in range(3000):
        rig.venue.advance("BTC-USD")
        if rig.venue.venue_state(h.client_order_id) is ExecState.FILLED:
            break
    assert rig.venue.venue_state(h.client_order_id) is ExecState.FILLED
    rec = await asyncio.wait_for(h.wait(OrderState.FILLED), 5)
    await asyncio.wait_for(rig.entry.drain(), 5)
    sim = rig.venue.engine.order("gateway", client_order_id=h.client_order_id)
    assert sim is not None
    assert [f.venue_exec_id for f in h.fills()] == [
        f.exec_id for f in rig.venue.engine.fills(sim.order_id)
    ]
    assert rec.filled_qty == "0.02"
    fill_reports = [r for r in rig.reports() if r.venue_exec_id is not None]
    assert len(fill_reports) == len(h.fills())
    assert rig.reports()[-1].state is ExecState.FILLED
    assert rig.venue.calls["fills"] >= 1
    assert_streams_gapless(rig.reports())


async def test_cancel_of_a_working_order_and_of_closed_or_unknown_ones(rig: Rig) -> None:
    bid, _ = rig.best()
    h = await rig.submit(price=bid)
    await rig.entry.cancel(h.client_order_id)
    assert h.state is OrderState.CANCELLED
    assert rig.venue.venue_state(h.client_order_id) is ExecState.CANCELLED
    await rig.entry.cancel(h.client_order_id)  # closed: nothing sent
    assert rig.venue.calls["cancel"] == 1
    with pytest.raises(UnknownOrder):
        await rig.entry.cancel("never-seen")
    assert [r.state for r in rig.reports()] == [ExecState.ACK, ExecState.CANCELLED]


async def test_a_cancel_while_unknown_is_sent_once_the_venue_is_found_to_have_it() -> None:
    faults = FakeFaults(ack_lost=1.0, query_fails=1.0, **SILENT)
    r = await Rig(faults=faults).start()
    try:
        bid, _ = r.best()
        h = await r.submit(price=bid)
        assert h.state is OrderState.UNKNOWN
        await r.entry.cancel(h.client_order_id)
        assert h.record.cancel_requested
        assert r.venue.calls["cancel"] == 0
        faults.query_fails = 0.0
        await asyncio.wait_for(h.wait(OrderState.CANCELLED), 5)
        assert r.venue.venue_state(h.client_order_id) is ExecState.CANCELLED
        assert r.venue.calls["place"] == 1
    finally:
        await r.stop()


async def test_a_cancel_while_unknown_of_an_order_never_received_ends_it_unsent() -> None:
    faults = FakeFaults(request_lost=1.0, query_fails=1.0)
    r = await Rig(faults=faults).start()
    try:
        h = await r.submit()
        await r.entry.cancel(h.client_order_id)
        faults.query_fails = 0.0
        rec = await asyncio.wait_for(h.wait(), 5)
        assert rec.state is OrderState.CANCELLED
        assert rec.reason == "cancelled before it reached the venue"
        assert rec.send_attempts == 1
        assert r.venue.venue_state(h.client_order_id) is None
    finally:
        await r.stop()


async def test_a_restart_reconciles_and_numbering_carries_on(tmp_path: Path) -> None:
    faults = FakeFaults()
    r = await Rig(path=tmp_path / "ledger.sqlite", faults=faults).start()
    bid, _ = r.best()
    settled = await r.submit(price=bid)
    faults.ack_lost = faults.query_fails = faults.report_dropped = 1.0
    faults.gap_after_s = 60.0
    unknown = await r.submit(price=bid)
    assert unknown.state is OrderState.UNKNOWN
    seq_before = max(x.seq_provider or 0 for x in r.reports())
    await r.restart()  # the crash: the second order is left UNKNOWN in the file
    faults.query_fails = faults.ack_lost = faults.report_dropped = 0.0
    rec = await asyncio.wait_for(r.entry.handle(unknown.client_order_id).wait(OrderState.ACK), 5)
    assert rec.send_attempts == 1
    assert r.venue.calls["place"] == 2
    # A known id after the restart still reaches nothing.
    again = await r.entry.submit(request(price=bid, client_order_id=settled.client_order_id))
    assert again.duplicate
    assert r.venue.calls["place"] == 2
    await r.entry.cancel(settled.client_order_id)
    assert max(x.seq_provider or 0 for x in r.reports()) > seq_before
    assert_streams_gapless(r.reports())
    await r.stop()


async def test_an_order_left_new_by_a_crash_is_rejected_not_sent_late(tmp_path: Path) -> None:
    r = Rig(path=tmp_path / "ledger.sqlite")
    r.ledger.add(
        OrderRecord(
            client_order_id="orphan",
            venue="fake",
            symbol="BTC-USD",
            venue_symbol="BTC/USD",
            side="buy",
            type="limit",
            qty="0.001",
            price="40000.0",
            time_in_force="GTC",
            post_only=False,
            state=OrderState.NEW,
            created_ns=1,
            updated_ns=1,
        )
    )
    await r.start()
    try:
        rec = r.entry.order("orphan")
        assert rec is not None
        assert rec.state is OrderState.REJECTED
        assert rec.reason is not None
        assert rec.reason.startswith("not_sent_before_restart")
        assert r.venue.calls["place"] == 0
        assert [x.state for x in r.reports()] == [ExecState.REJECTED]
    finally:
        await r.stop()


async def test_submit_needs_a_running_entry() -> None:
    r = Rig()
    with pytest.raises(RuntimeError, match="not running"):
        await r.submit()
    r.ledger.close()


async def test_a_venue_registered_twice_is_refused(rig: Rig) -> None:
    with pytest.raises(ValueError, match="registered already"):
        rig.entry.add_venue(rig.venue)
    assert rig.entry.venue_names() == ["fake"]


async def test_reconcile_asks_the_venue_now_and_only_when_it_can_tell_more() -> None:
    """What ``tradegw order status`` does without a gateway: the venue cancelled an order
    behind a silent stream; reconcile() adopts that, then has nothing more to ask."""
    rig = await Rig(faults=FakeFaults(**SILENT)).start()
    try:
        bid, _ = rig.best()
        h = await rig.submit(price=bid, client_order_id="behind-1")
        assert h.state is OrderState.ACK
        assert rig.entry.venue_knows_more("behind-1")
        rig.venue.engine.cancel(ACCOUNT, client_order_id="behind-1", now_ns=time.time_ns())
        assert h.state is OrderState.ACK  # the stream said nothing
        queries = rig.venue.calls["query"]
        await asyncio.wait_for(rig.entry.reconcile("behind-1"), 5)
        assert h.state is OrderState.CANCELLED
        assert rig.venue.calls["query"] == queries + 1
        assert not rig.entry.venue_knows_more("behind-1")
        await asyncio.wait_for(rig.entry.reconcile("behind-1"), 5)  # closed: nothing to ask
        await asyncio.wait_for(rig.entry.reconcile("never-seen"), 5)
        assert rig.venue.calls["query"] == queries + 1
        assert not rig.entry.venue_knows_more("never-seen")
    finally:
        await rig.stop()
