"""The idempotency ledger: one row per client_order_id, fills recorded once, ExecReport
numbering that survives a reopen, writes on disk (synchronous=FULL) before they return, and
one holder of a ledger file at a time (a second is refused naming the first; a holder that
dies frees it)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tradegw.errors import ConfigError, LedgerInUse
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport

pytestmark = pytest.mark.timeout(20)


def order(cid: str = "a1", **fields: object) -> OrderRecord:
    base = OrderRecord(
        client_order_id=cid,
        venue="fake",
        symbol="BTC-USD",
        venue_symbol="BTC/USD",
        side="buy",
        type="limit",
        qty="0.5",
        price="100.0",
        time_in_force="GTC",
        post_only=False,
        state=OrderState.NEW,
        decision_id="d-7",
        created_ns=1,
        updated_ns=1,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def fill(cid: str = "a1", exec_id: str = "t1", qty: str = "0.1") -> FillRecord:
    return FillRecord(
        client_order_id=cid,
        venue_exec_id=exec_id,
        qty=qty,
        price="100.0",
        fee="0.01",
        fee_asset="USD",
        exchange_ts=5,
        recorded_ns=6,
    )


def seq(report: ExecReport | None) -> int:
    assert report is not None
    assert report.seq_provider is not None
    return report.seq_provider


def test_an_order_round_trips_and_a_second_add_changes_nothing() -> None:
    ledger = OrderLedger(None)
    first = order(post_only=True, cancel_requested=True, last_sent_ns=9, send_attempts=2)
    assert ledger.add(first) is None
    assert ledger.get("a1") == first
    with pytest.raises(sqlite3.IntegrityError):
        ledger.add(order(qty="99", state=OrderState.REJECTED), announce=True)
    assert ledger.last_seq("fake", "BTC-USD") == 0
    got = ledger.get("a1")
    assert got is not None
    assert got.qty == "0.5"
    assert ledger.get("nope") is None
    assert ledger.count() == 1


def test_a_fill_and_the_state_it_brings_commit_together_and_only_once() -> None:
    ledger = OrderLedger(None)
    ledger.add(order())
    changed = order(state=OrderState.PARTIAL, filled_qty="0.1", avg_price="100.0")
    report = ledger.commit(changed, fill=fill(), announce=True)
    assert report is not None
    assert report.seq_provider == 1
    assert report.last_fill_qty == "0.1"
    assert ledger.has_fill("a1", "t1")
    assert [f.venue_exec_id for f in ledger.fills("a1")] == ["t1"]
    # The same fill again: refused, and the order row is not touched either.
    with pytest.raises(sqlite3.IntegrityError):
        ledger.commit(order(state=OrderState.FILLED, filled_qty="0.5"), fill=fill())
    got = ledger.get("a1")
    assert got is not None
    assert got.state is OrderState.PARTIAL
    assert ledger.last_seq("fake", "BTC-USD") == 1
    assert ledger.fills("a1")[0] == fill()


def test_numbering_is_per_venue_and_symbol_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    ledger = OrderLedger(path)
    ack = OrderState.ACK
    ledger.add(order("a"))
    ledger.add(order("b", symbol="ETH-USD"))
    assert seq(ledger.add(order("c", venue="other", state=OrderState.REJECTED), announce=True)) == 1
    assert [seq(ledger.commit(order("a", state=ack), announce=True)) for _ in range(3)] == [1, 2, 3]
    assert seq(ledger.commit(order("b", symbol="ETH-USD", state=ack), announce=True)) == 1
    assert seq(ledger.commit(order("c", venue="other", state=ack), announce=True)) == 2
    assert ledger.commit(order("a", state=ack)) is None
    ledger.close()
    again = OrderLedger(path)
    assert again.last_seq("fake", "BTC-USD") == 3
    assert seq(again.commit(order("a", state=ack), announce=True)) == 4
    assert again.get("b") is not None


def test_updating_an_order_never_recorded_is_an_error() -> None:
    with pytest.raises(KeyError):
        OrderLedger(None).commit(order("ghost"))


def test_open_orders_and_listing() -> None:
    ledger = OrderLedger(None)
    states = [OrderState.NEW, OrderState.SENT, OrderState.UNKNOWN, OrderState.ACK]
    states += [OrderState.PARTIAL, OrderState.FILLED, OrderState.CANCELLED]
    states += [OrderState.REJECTED, OrderState.EXPIRED]
    for i, state in enumerate(states):
        ledger.add(order(f"o{i}", state=state, created_ns=i, venue="v1" if i % 2 else "v2"))
    assert [o.client_order_id for o in ledger.open_orders()] == ["o0", "o1", "o2", "o3", "o4"]
    assert [o.client_order_id for o in ledger.open_orders("v1")] == ["o1", "o3"]
    assert [o.client_order_id for o in ledger.orders(limit=3)] == ["o8", "o7", "o6"]
    assert [o.client_order_id for o in ledger.orders(venue="v2", open_only=True)] == [
        "o4",
        "o2",
        "o0",
    ]
    assert ledger.orders(symbol="ETH-USD") == []
    assert len(ledger.orders(limit=None)) == 9


def test_the_file_is_written_with_full_sync_and_wal(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path / "x" / "orders.sqlite")
    assert ledger._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert ledger._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ledger.add(order())
    # Another connection sees the row at once: it is committed, not pending.
    other = sqlite3.connect(tmp_path / "x" / "orders.sqlite")
    assert other.execute("SELECT state FROM orders").fetchall() == [("NEW",)]
    other.close()


def test_another_schema_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ConfigError, match=r"orders\.sqlite.*schema 99"):
        OrderLedger(path)


def test_an_unopenable_path_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(ConfigError, match="cannot be opened"):
        OrderLedger(tmp_path / "dir.sqlite")


def test_a_ledger_file_has_one_holder_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    first = OrderLedger(path, holder="tradegw order, SubmitOrder sent directly")
    with pytest.raises(LedgerInUse, match=r"orders\.sqlite: the order ledger is in use by") as e:
        OrderLedger(path)
    assert e.value.holder == f"pid {os.getpid()} (tradegw order, SubmitOrder sent directly)"
    first.add(order())
    first.close()
    second = OrderLedger(path)  # closed: free again
    assert second.get("a1") is not None
    second.close()
    # Memory-only ledgers share nothing and lock nothing.
    OrderLedger(None).close()
    OrderLedger(None).close()


def test_a_holder_that_dies_leaves_the_ledger_free(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tradegw.orders.ledger import OrderLedger; "
            "held = OrderLedger(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"held\n"
        with pytest.raises(LedgerInUse) as e:
            OrderLedger(path)
        assert e.value.holder == f"pid {child.pid} (a tradegw gateway)"
    finally:
        child.kill()  # as a crash: nothing closed on its way out
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    OrderLedger(path).close()


def test_a_ledger_that_fails_to_open_leaves_no_lock_behind(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    for _ in range(2):  # the second attempt is refused for the same reason, not as in use
        with pytest.raises(ConfigError, match="cannot be opened"):
            OrderLedger(tmp_path / "dir.sqlite")
