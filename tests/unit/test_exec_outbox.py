"""The order ledger as the ExecReports' outbox: every report kept, as the bytes published, in
the transaction of the change it announces (a crash between the two is impossible: killed
inside that transaction, the change, the number and the report are all gone); retention that
never deletes what a sink has not confirmed; and the NATS sink's cursor over it (order across
a reopen, what JetStream has skipped, a lost store refilled, other streams passed over)."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit._orders import Rig, assert_streams_gapless
from tradegw.config import load_config
from tradegw.errors import ConfigError
from tradegw.natsbus.outbox import OutboxCursor
from tradegw.orders.ledger import OrderLedger, ReportRetention, Stream
from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport, from_json, to_json

pytestmark = pytest.mark.timeout(30)

BTC: Stream = ("fake", "BTC-USD")
ETH: Stream = ("fake", "ETH-USD")


def order(cid: str = "a1", **fields: object) -> OrderRecord:
    base = OrderRecord(
        client_order_id=cid,
        venue="fake",
        symbol="BTC-USD",
        venue_symbol="BTC/USD",
        side="buy",
        type="limit",
        qty="5",
        price="100.0",
        time_in_force="GTC",
        post_only=False,
        state=OrderState.NEW,
        decision_id=None,
        created_ns=1,
        updated_ns=1,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def fill(cid: str = "a1", exec_id: str = "t1") -> FillRecord:
    return FillRecord(
        client_order_id=cid,
        venue_exec_id=exec_id,
        qty="1",
        price="100.0",
        fee=None,
        fee_asset=None,
        exchange_ts=None,
        recorded_ns=2,
    )


def announce(ledger: OrderLedger, cid: str, n: int = 1) -> list[ExecReport]:
    """``n`` announced changes (ACK) of order ``cid``, recorded first if new."""
    if ledger.get(cid) is None:
        symbol = "ETH-USD" if cid.startswith("e") else "BTC-USD"
        ledger.add(order(cid, symbol=symbol))
    current = ledger.get(cid)
    assert current is not None
    out = []
    for _ in range(n):
        report = ledger.commit(dataclasses.replace(current, state=OrderState.ACK), announce=True)
        assert report is not None
        out.append(report)
    return out


def kept(ledger: OrderLedger) -> list[tuple[str, str, int]]:
    return [(r.venue, r.symbol, r.seq) for r in ledger.outbox_after(0, 1_000_000)]


# ---- the report and its change are one ----


async def test_every_report_published_is_kept_byte_for_byte_in_order() -> None:
    rig = await Rig().start()
    try:
        bid, ask = rig.best()
        await rig.submit(client_order_id="rest", price=bid)
        await rig.submit(client_order_id="take", price=ask)
        await rig.submit(client_order_id="eth", symbol="ETH-USD", price=rig.best("ETH-USD")[1])
        await rig.entry.cancel("rest")
        await rig.submit(client_order_id="off", price="40000.05")  # off tick: refused, announced
        published = rig.reports()
        assert len(published) >= 6
        assert_streams_gapless(published)
        rows = rig.ledger.outbox_after(0, 1000)
        # The very bytes of each report handed to the in-process consumers, in their order.
        assert [r.report for r in rows] == [to_json(e) for e in published]
        assert [(r.venue, r.symbol, r.seq) for r in rows] == [
            (e.provider, e.symbol, e.seq_provider) for e in published
        ]
        assert [from_json(r.report) for r in rows] == published
    finally:
        await rig.stop()


def test_a_report_that_cannot_be_kept_rolls_its_change_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = OrderLedger(None)
    ledger.add(order())
    filled = order(state=OrderState.PARTIAL, filled_qty="1", avg_price="100.0")

    def broken(_: object) -> bytes:
        raise RuntimeError("disk full, say")

    monkeypatch.setattr("tradegw.orders.ledger.to_json", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ledger.commit(filled, fill=fill(), announce=True)
    # Nothing of it: not the state, not the fill, not the number, not a report.
    got = ledger.get("a1")
    assert got is not None
    assert got.state is OrderState.NEW
    assert ledger.fills("a1") == []
    assert ledger.last_seq("fake", "BTC-USD") == 0
    assert kept(ledger) == []
    monkeypatch.undo()
    report = ledger.commit(filled, fill=fill(), announce=True)
    assert report is not None
    assert report.seq_provider == 1  # the number was never used
    assert kept(ledger) == [("fake", "BTC-USD", 1)]


_CRASH_IN_TRANSACTION = """
import os, sys, dataclasses
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.states import OrderState
ledger = OrderLedger(sys.argv[1])
a1 = ledger.get("a1")
db = ledger._db
if sys.argv[2] == "after_report":
    # Killed once the report row is written, before the COMMIT.
    db.create_function("crash", 0, lambda: os._exit(9))
    db.execute(
        "CREATE TEMP TRIGGER crash_after AFTER INSERT ON exec_outbox BEGIN SELECT crash(); END"
    )
else:
    # Killed with the change and the counter bump written, before the report row.
    import tradegw.orders.ledger as mod
    mod.to_json = lambda event: os._exit(9)
ledger.commit(dataclasses.replace(a1, state=OrderState.ACK, venue_order_id="v1"), announce=True)
print("committed", flush=True)
"""


@pytest.mark.parametrize("where", ["before_report", "after_report"])
def test_a_crash_inside_the_transaction_leaves_neither_the_change_nor_its_report(
    tmp_path: Path, where: str
) -> None:
    path = tmp_path / "orders.sqlite"
    ledger = OrderLedger(path)
    ledger.add(order())
    announce(ledger, "b1")  # another stream's report, committed before
    ledger.close()
    child = subprocess.run(
        [sys.executable, "-c", _CRASH_IN_TRANSACTION, str(path), where],
        capture_output=True,
        timeout=20,
    )
    assert child.returncode == 9, child.stderr.decode()
    assert b"committed" not in child.stdout
    again = OrderLedger(path)  # the killed holder's lock is free
    try:
        got = again.get("a1")
        assert got is not None
        assert (got.state, got.venue_order_id) == (OrderState.NEW, None)
        assert again.last_seq("fake", "BTC-USD") == 1  # b1's ACK only
        assert kept(again) == [("fake", "BTC-USD", 1)]
        report = again.commit(
            dataclasses.replace(got, state=OrderState.ACK, venue_order_id="v1"), announce=True
        )
        assert report is not None
        assert report.seq_provider == 2
    finally:
        again.close()


def test_a_version_1_ledger_is_brought_to_version_2_with_its_orders(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    ledger = OrderLedger(path)
    announce(ledger, "a1", 2)
    ledger.close()
    db = sqlite3.connect(path)  # as tradegw with schema 1 left it
    db.executescript(
        "DROP TABLE exec_outbox; DROP TABLE exec_sinks; DROP TABLE exec_sink_marks; "
        "PRAGMA user_version = 1;"
    )
    db.close()
    again = OrderLedger(path)
    try:
        assert again._db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert again.get("a1") is not None
        assert kept(again) == []  # reports made before the outbox existed are not in it
        assert [r.seq_provider for r in announce(again, "a1")] == [3]
        assert kept(again) == [("fake", "BTC-USD", 3)]
    finally:
        again.close()


# ---- retention ----


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_000_000

    def __call__(self) -> int:
        return self.now


def test_without_sinks_retention_keeps_the_last_n_per_stream(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    ledger = OrderLedger(path, retention=ReportRetention(keep_s=3600, keep_last=2))
    announce(ledger, "a1", 5)
    announce(ledger, "e1", 1)
    ledger.close()
    again = OrderLedger(path, retention=ReportRetention(keep_s=3600, keep_last=2))
    try:  # retention ran at the open
        assert kept(again) == [(*BTC, 4), (*BTC, 5), (*ETH, 1)]
        assert again.pruned == 3
    finally:
        again.close()


def test_retention_also_rides_on_the_commits_themselves() -> None:
    ledger = OrderLedger(None, retention=ReportRetention(keep_s=3600, keep_last=10))
    announce(ledger, "a1", 1100)  # one pass in the 1,024th report's transaction
    assert ledger.pruned == 1024 - 10
    rows = kept(ledger)
    assert rows[0] == (*BTC, 1015)
    assert rows[-1] == (*BTC, 1100)
    assert len(rows) == 86


def test_nothing_a_sink_has_not_confirmed_is_deleted_however_old() -> None:
    clock = Clock()
    ledger = OrderLedger(None, retention=ReportRetention(keep_s=10, keep_last=0), clock=clock)
    ledger.register_sink("nats")
    ledger.register_sink("other")
    announce(ledger, "a1", 5)
    clock.now += 3600 * 10**9
    assert ledger.confirm("nats", {BTC: 5}) == 0  # "other" confirmed nothing
    assert len(kept(ledger)) == 5
    assert ledger.confirm("other", {BTC: 3}) == 3  # both have 1-3: old, so deleted
    assert kept(ledger) == [("fake", "BTC-USD", 4), ("fake", "BTC-USD", 5)]
    assert ledger.confirm("other", {BTC: 2}) == 0  # a mark never goes down
    assert ledger.sink_marks("other") == {BTC: 3}
    ledger.forget_sink("other")  # retired: only "nats" counts now
    assert ledger.confirm("nats", {}) == 2
    assert kept(ledger) == []
    assert ledger.sinks() == ["nats"]


def test_confirmed_reports_go_when_old_or_beyond_the_last_n() -> None:
    clock = Clock()
    ledger = OrderLedger(None, retention=ReportRetention(keep_s=60, keep_last=3), clock=clock)
    ledger.register_sink("nats")
    announce(ledger, "a1", 2)
    clock.now += 61 * 10**9
    announce(ledger, "a1", 4)  # BTC 3-6, recent
    assert ledger.confirm("nats", {BTC: 6}) == 3  # 1-2 old, 3 beyond the last three
    assert kept(ledger) == [("fake", "BTC-USD", s) for s in (4, 5, 6)]


def test_retention_config_is_checked_and_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders: {reports_keep_last: -1}")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    assert str(bad) in str(e.value)
    assert "orders.reports_keep_last" in str(e.value)
    good = tmp_path / "good.yaml"
    good.write_text("orders: {reports_keep_days: 0.5, reports_keep_last: 7}")
    retention = ReportRetention.of(load_config(good).orders)
    assert retention == ReportRetention(keep_s=43_200, keep_last=7)


# ---- the NATS sink's cursor ----


def drain(cursor: OutboxCursor) -> list[tuple[str, int]]:
    out = []
    while (row := cursor.head()) is not None:
        out.append((row.symbol, row.seq))
        cursor.acked(row)
    return out


def test_the_cursor_reads_in_order_and_goes_on_from_its_marks_after_a_reopen(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite"
    ledger = OrderLedger(path)
    cursor = OutboxCursor(ledger, "nats", lambda v, s: True)
    announce(ledger, "a1", 2)
    announce(ledger, "e1", 1)
    announce(ledger, "a1", 1)
    assert cursor.pending() == 4
    assert drain(cursor) == [("BTC-USD", 1), ("BTC-USD", 2), ("ETH-USD", 1), ("BTC-USD", 3)]
    announce(ledger, "e1", 1)
    row = cursor.head()
    assert row is not None
    cursor.acked(row)
    cursor.flush()
    announce(ledger, "a1", 1)  # made, never published
    ledger.close()  # a crash here loses nothing: the report is in the file
    again = OrderLedger(path)
    try:
        assert again.sink_marks("nats") == {BTC: 3, ETH: 2}
        reborn = OutboxCursor(again, "nats", lambda v, s: True)
        assert reborn.pending() == 1
        assert drain(reborn) == [("BTC-USD", 4)]
    finally:
        again.close()


def test_positioning_skips_what_jetstream_has_and_refills_a_lost_store() -> None:
    ledger = OrderLedger(None)
    cursor = OutboxCursor(ledger, "nats", lambda v, s: True)
    announce(ledger, "a1", 3)
    announce(ledger, "e1", 2)
    assert cursor.streams() == {BTC: (1, 3), ETH: (1, 2)}
    # JetStream has BTC 1-2 (a crashed run published them) and nothing of ETH.
    assert cursor.position({BTC: 2, ETH: 0}, cursor.streams()) == 3
    assert drain(cursor) == [("BTC-USD", 3), ("ETH-USD", 1), ("ETH-USD", 2)]
    cursor.flush()
    assert ledger.sink_marks("nats") == {BTC: 3, ETH: 2}
    # The server comes back without its store: everything kept goes out again, in order.
    assert cursor.position({BTC: 0, ETH: 0}, cursor.streams()) == 5
    assert drain(cursor) == [
        ("BTC-USD", 1),
        ("BTC-USD", 2),
        ("BTC-USD", 3),
        ("ETH-USD", 1),
        ("ETH-USD", 2),
    ]
    assert cursor.catchup == 8
    # JetStream has everything: nothing to publish.
    assert cursor.position({BTC: 3, ETH: 2}, cursor.streams()) == 0
    assert cursor.head() is None
    assert cursor.pending() == 0


def test_streams_the_sink_does_not_publish_are_passed_over_and_confirmed() -> None:
    ledger = OrderLedger(None, retention=ReportRetention(keep_s=0, keep_last=0))
    cursor = OutboxCursor(ledger, "nats", lambda venue, symbol: symbol == "BTC-USD")
    announce(ledger, "e1", 2)
    announce(ledger, "a1", 1)
    assert cursor.streams() == {BTC: (1, 1)}
    assert drain(cursor) == [("BTC-USD", 1)]
    cursor.flush()  # confirmed, ETH passed over: retention may take all of it
    assert ledger.sink_marks("nats") == {BTC: 1, ETH: 2}
    assert kept(ledger) == []
