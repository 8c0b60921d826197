"""The order entry's promises at scale: 1,000 submits through random faults, each retried by
its caller, with a crash and restart mid-way, leave zero duplicates at the venue and every
order in the venue's state; the trading switch blocks everything while off and nothing while
on (SC-008); a consumer stalled for 3 s receives every ExecReport of 2,000 orders, in order
per stream, with no gap (SC-003)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.unit._factories import make_dispatcher
from tests.unit._orders import FAST, Rig, assert_streams_gapless, best, request
from tradegw.errors import OrderRefused
from tradegw.orders.entry import OrderEntry, OrderHandle
from tradegw.orders.fake import ACCOUNT, FakeFaults, FakeOrderVenue
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.requests import OrderRequest
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport, ExecState

SYMBOLS = ("BTC-USD", "ETH-USD")


def mixed_requests(
    venue: FakeOrderVenue, n: int, rng: random.Random, prefix: str
) -> list[OrderRequest]:
    """Resting and marketable limit orders, IOC and FOK, market orders, post-only; both
    sides, both symbols, near the top of the book."""
    out = []
    for i in range(n):
        symbol = rng.choice(SYMBOLS)
        info = venue.market.state(symbol).info
        tick = Decimal(1).scaleb(-info.price_precision)
        bid, ask = (Decimal(p) for p in best(venue, symbol))
        side = rng.choice(("buy", "sell"))
        lot = Decimal(info.qty_min).scaleb(-info.qty_precision)
        qty = lot * rng.randint(1, 40)
        kind = rng.random()
        fields: dict[str, Any] = {"symbol": symbol, "side": side, "qty": str(qty)}
        if kind < 0.1:
            fields.update(type="market", price=None, time_in_force=rng.choice(("IOC", "FOK")))
        else:
            near, far = (bid, ask) if side == "buy" else (ask, bid)
            offset = tick * rng.randint(0, 5)
            marketable = kind < 0.35
            price = far + offset if side == "buy" else far - offset
            if not marketable:
                price = near - offset if side == "buy" else near + offset
            fields.update(price=str(price))
            if marketable:
                fields["time_in_force"] = rng.choice(("GTC", "IOC", "FOK"))
            elif rng.random() < 0.2:
                fields["post_only"] = True
        out.append(request(client_order_id=f"{prefix}{i:05d}", **fields))
    return out


async def caller(rig: Rig, req: OrderRequest, rng: random.Random) -> None:
    """A client that submits, gives up waiting after a while and submits the same request
    again, up to three times; sometimes cancels what rests. An entry stopped under it (the
    crash) or not yet started again does not count as a try."""
    tries = 0
    while tries < 3:
        try:
            async with asyncio.timeout(rng.choice((0.01, 0.05, 1.0))):
                handle = await rig.entry.submit(req)
        except TimeoutError:
            tries += 1
            continue
        except (RuntimeError, asyncio.CancelledError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            await asyncio.sleep(0.01)
            continue
        tries += 1
        # Through the entry of now: a handle of a stopped entry reads a closed ledger.
        record = rig.entry.order(handle.client_order_id)
        state = None if record is None else record.state
        if state is OrderState.UNKNOWN:
            await asyncio.sleep(0.005)
            continue
        if state is OrderState.ACK and rng.random() < 0.1:
            with contextlib.suppress(OrderRefused, RuntimeError, asyncio.CancelledError):
                await rig.entry.cancel(req.client_order_id)
        return


async def run_batch(rig: Rig, reqs: list[OrderRequest], rng: random.Random) -> None:
    for start in range(0, len(reqs), 50):
        await asyncio.gather(*(caller(rig, r, rng) for r in reqs[start : start + 50]))
        for symbol in SYMBOLS:
            rig.venue.advance(symbol, 20)


@pytest.mark.timeout(180)
async def test_1000_faulty_submits_with_a_restart_leave_no_duplicate_and_agree_with_the_venue(
    tmp_path: Path,
) -> None:
    faults = FakeFaults(
        request_lost=0.04,
        ack_lost=0.04,
        response_lost=0.04,
        error_5xx=0.04,
        hang=0.01,
        query_fails=0.2,
        cancel_lost=0.1,
        report_dropped=0.05,
        report_duplicated=0.05,
        report_delayed=0.05,
        delay_s=0.01,
        gap_after_s=0.02,
    )
    venue = FakeOrderVenue(faults=faults, seed=3)
    config = FAST.model_copy(update={"request_timeout_s": 0.05})
    rig = Rig(path=tmp_path / "ledger.sqlite", venue=venue, config=config)
    await rig.start()
    rng = random.Random(11)
    first = mixed_requests(rig.venue, 500, rng, "a")
    await run_batch(rig, first[:400], rng)
    # The crash: 100 more are in flight when the entry stops; a new one takes over the file.
    inflight = asyncio.gather(*(caller(rig, r, rng) for r in first[400:]))
    await asyncio.sleep(0.005)
    await rig.restart()
    await inflight
    second = mixed_requests(rig.venue, 500, rng, "b")
    await run_batch(rig, second, rng)
    # Every first-half id again, on the new entry: each answered from the ledger.
    handles: list[OrderHandle] = [await rig.entry.submit(r) for r in first]
    assert all(h.duplicate for h in handles)

    # Faults off; the stream "reconnects" so dropped updates are looked for; all settles.
    for name in ("request_lost", "ack_lost", "response_lost", "error_5xx", "hang"):
        setattr(faults, name, 0.0)
    faults.query_fails = faults.report_dropped = faults.report_delayed = 0.0
    await asyncio.sleep(0.1)
    venue.announce_gap()
    await asyncio.wait_for(rig.entry.drain(), 60)

    engine = venue.engine
    assert engine.stats.duplicate_orders == 0
    per_id = Counter(o.client_order_id for o in engine.orders(ACCOUNT))
    assert len(per_id) > 500
    assert max(per_id.values()) == 1, "one order at the venue per client id"
    assert sum(faults_hit for faults_hit in venue.injected.values()) > 100
    assert rig.entry.stats.unknown > 0
    assert rig.entry.stats.resends > 0

    orders = rig.ledger.orders(limit=None)
    assert len(orders) == 1_000
    fill_ids: set[str] = set()
    for rec in orders:
        venue_state = venue.venue_state(rec.client_order_id)
        if venue_state is None:
            assert rec.state in (OrderState.REJECTED, OrderState.CANCELLED), rec
            assert rec.state is not OrderState.CANCELLED or rec.send_attempts >= 1
            continue
        assert rec.state.exec_state is venue_state, rec
        sim = engine.order(ACCOUNT, client_order_id=rec.client_order_id)
        assert sim is not None
        assert rec.venue_order_id == sim.order_id
        assert Decimal(rec.filled_qty) == Decimal(venue.venue_filled(rec.client_order_id) or "")
        got = [f.venue_exec_id for f in rig.ledger.fills(rec.client_order_id)]
        assert sorted(got) == sorted(f.exec_id for f in engine.fills(sim.order_id)), rec
        fill_ids.update(f"{rec.client_order_id}/{x}" for x in got)

    reports = rig.reports()
    assert_streams_gapless(reports)
    announced = Counter(
        f"{r.client_order_id}/{r.venue_exec_id}" for r in reports if r.venue_exec_id is not None
    )
    assert set(announced) == fill_ids
    assert max(announced.values()) == 1, "each fill announced once"
    await rig.stop()


@pytest.mark.timeout(60)
async def test_the_switch_blocks_every_order_while_off_and_none_while_on() -> None:
    rig = await Rig().start()
    rng = random.Random(5)
    reqs = mixed_requests(rig.venue, 300, rng, "s")
    modes = ("enabled", "disabled", "cancel_only", "reduce_only")
    blocked_wrongly = passed_wrongly = 0
    for i, req in enumerate(reqs):
        rig.mode = modes[i % 4]
        before = rig.venue.calls["place"]
        h = await rig.entry.submit(req)
        reached = rig.venue.calls["place"] - before
        if rig.mode == "enabled":
            blocked_wrongly += reached != 1
            assert h.record.reason not in ("trading_disabled", "cancel_only", "reduce_only")
        else:
            passed_wrongly += reached != 0
            assert h.state is OrderState.REJECTED
    assert (blocked_wrongly, passed_wrongly) == (0, 0)
    # Cancels: refused while disabled (nothing sent), sent in every other mode.
    resting = [o for o in rig.ledger.orders(limit=None) if o.state is OrderState.ACK]
    assert len(resting) > 20
    for i, rec in enumerate(resting):
        rig.mode = modes[i % 4]
        before = rig.venue.calls["cancel"]
        if rig.mode == "disabled":
            with pytest.raises(OrderRefused):
                await rig.entry.cancel(rec.client_order_id)
            assert rig.venue.calls["cancel"] == before
        else:
            await rig.entry.cancel(rec.client_order_id)
            assert rig.venue.calls["cancel"] == before + 1
    await rig.stop()


@pytest.mark.timeout(60)
async def test_a_consumer_stalled_3s_receives_every_exec_report_of_2000_orders_in_order() -> None:
    dispatcher = make_dispatcher()
    sub = dispatcher.subscribe(types=["ExecReport"], max_pending=100)
    venue = FakeOrderVenue(seed=8)
    ledger = OrderLedger(None)
    entry = OrderEntry(ledger, dispatcher.publish, trading_mode=lambda: "enabled", config=FAST)
    entry.add_venue(venue)
    await entry.start()
    rng = random.Random(2)
    got: list[ExecReport] = []

    async def stalled_consumer() -> None:
        await asyncio.sleep(3.0)
        async for event in sub:
            assert isinstance(event, ExecReport)
            got.append(event)
            if len(got) == entry.stats.exec_reports and submitted.is_set():
                return

    submitted = asyncio.Event()
    consumer = asyncio.create_task(stalled_consumer())
    reqs = mixed_requests(venue, 2_000, rng, "x")
    for start in range(0, 2_000, 100):
        await asyncio.gather(*(entry.submit(r) for r in reqs[start : start + 100]))
        for symbol in SYMBOLS:
            venue.advance(symbol, 10)
    await entry.drain()
    submitted.set()
    assert not consumer.done(), "it was still asleep while every order went through"
    await asyncio.wait_for(consumer, 30)

    assert len(got) == entry.stats.exec_reports > 2_000
    counts = assert_streams_gapless(got)
    assert set(counts) == {("fake", s) for s in SYMBOLS}
    assert all(
        got_seq[0] == 1
        for got_seq in [[r.seq_provider for r in got if r.symbol == s] for s in SYMBOLS]
    )
    assert sub.stats.out_of_order == 0
    assert dispatcher.reorder_stats()["duplicates"] == 0
    assert {r.client_order_id for r in got} == {r.client_order_id for r in reqs}
    states = Counter(r.state for r in got)
    assert states[ExecState.ACK] > 0
    assert states[ExecState.FILLED] > 0
    await entry.stop()
    ledger.close()
