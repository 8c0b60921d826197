"""``tradegw verify``'s checkers can fail: each is fed a broken outcome (a lost execution
report, a partial merged snapshot, a stray event after an Unsubscribe, ...) and must say so,
and the same checker passes the intact one. Also the report's verdict and table."""

from __future__ import annotations

from collections import Counter

from tradegw.dispatch.routing import RouteFilter
from tradegw.verify.churn import Seen, SubscribeRecord, analyse, routing_outcome
from tradegw.verify.exec_reports import (
    RealFlow,
    Received,
    exec_outcome,
    report_problems,
    sequence_problems,
)
from tradegw.verify.idempotency import IdempotencyRun, VenueTally, idempotency_outcome
from tradegw.verify.merges import (
    CloseFigures,
    MergedSeen,
    StatusSeen,
    adherence_outcome,
    partial_emissions,
    partial_outcome,
)
from tradegw.verify.ordering import OrderAudit, ordering_outcome
from tradegw.verify.outcome import Outcome, unmeasured
from tradegw.verify.report import render_table, report_json
from tradegw.verify.resync import StatusSeen as BookStatusSeen
from tradegw.verify.resync import resync_outcome, resyncs
from tradegw.verify.session import STOPPED, Report
from tradegw.verify.steady_load import ConsumerRecord, consumer_problems, degradation_outcome
from tradegw.verify.switch_check import SwitchRun, switch_outcome

MS = 1_000_000
S = 1_000_000_000

# ---- SC-003: execution reports ----

STREAM_A = ("kraken", "BTC-USD")  # injected
STREAM_B = ("coinbase", "ETH-USD")  # injected
REAL = ("binance", "BTC-USDT")  # the order entry's
INJECTED = {STREAM_A: [101, 102, 103], STREAM_B: [201, 202]}
NUMBERED = {REAL: 2}
FLOW = RealFlow(orders=1, venues=("binance",), fills=1, entry_reports=2)
PRESSURE = {"coalesced": 500, "snapshots_for_backlog": 2, "spilled": 10}


def _received(*reports: tuple[tuple[str, str], int, int]) -> Received:
    got = Received()
    got.reports.extend(reports)
    return got


def _all_in_order() -> Received:
    return _received(
        (STREAM_A, 1, 101), (REAL, 1, 901), (STREAM_B, 1, 201), (STREAM_A, 2, 102),
        (STREAM_B, 2, 202), (REAL, 2, 902), (STREAM_A, 3, 103),
    )  # fmt: skip


def _sc003(stalled: Received, live: Received | None = None, **changes: object) -> Outcome:
    args: dict[str, object] = {
        "published": NUMBERED,
        "injected": INJECTED,
        "stalled": stalled,
        "live": live or _all_in_order(),
        "pressure": PRESSURE,
        "stall_s": 3.0,
        "flow": FLOW,
    }
    args.update(changes)
    return exec_outcome(**args)  # type: ignore[arg-type]


def test_exec_reports_all_delivered_in_order_pass() -> None:
    outcome = _sc003(_all_in_order())
    assert outcome.passed is True, outcome.note
    assert outcome.value == 100.0
    assert outcome.figures["real_reports"] == 2
    assert outcome.figures["injected"] == 5
    # Reports published after the measure are fine as long as they continue the stream.
    later = _all_in_order()
    later.reports.append((REAL, 3, 903))
    assert _sc003(later, later).passed is True


def test_a_missing_exec_report_fails() -> None:
    stalled = _received(
        (STREAM_A, 1, 101), (STREAM_A, 3, 103), (STREAM_B, 1, 201), (STREAM_B, 2, 202),
        (REAL, 1, 901), (REAL, 2, 902),
    )  # fmt: skip
    outcome = _sc003(stalled)
    assert outcome.passed is False
    assert outcome.value is not None
    assert round(outcome.value, 2) == 85.71  # 6 of 7
    assert "stalled kraken BTC-USD: 2 of 3 received, 1 missing" in outcome.note


def test_a_real_report_lost_or_out_of_order_fails() -> None:
    lost = _received(*(r for r in _all_in_order().reports if r[1:] != (1, 901)))
    outcome = _sc003(_all_in_order(), lost)
    assert outcome.passed is False
    assert "live binance BTC-USDT: 1 of 2 received, 1 missing" in outcome.note
    swapped = _received(
        (REAL, 2, 902), (REAL, 1, 901), *(r for r in _all_in_order().reports if r[0] != REAL)
    )
    assert sequence_problems(NUMBERED, swapped, "live") == [
        "live binance BTC-USDT: 2 of 2 received, 0 missing, 0 repeated, 1 out of order"
    ]
    short = _received((REAL, 1, 901))
    assert "1 missing" in sequence_problems(NUMBERED, short, "stalled")[0]


def test_exec_reports_out_of_order_or_repeated_fail() -> None:
    swapped = _received(
        (STREAM_A, 2, 102), (STREAM_A, 1, 101), (STREAM_A, 3, 103), (STREAM_B, 1, 201),
        (STREAM_B, 2, 202),
    )  # fmt: skip
    problems = report_problems(INJECTED, swapped, "live")
    assert problems == [
        "live kraken BTC-USD: 3 of 3 received, 0 missing, 0 repeated, 1 out of order"
    ]
    repeated = _all_in_order()
    repeated.reports.append((STREAM_B, 2, 202))
    assert "1 repeated" in report_problems(INJECTED, repeated, "live")[0]
    assert _sc003(_all_in_order(), swapped).passed is False


def test_another_report_under_the_same_number_or_a_stray_stream_fails() -> None:
    other = _received(*((s, n, e + 1 if s == REAL else e) for s, n, e in _all_in_order().reports))
    outcome = _sc003(_all_in_order(), other)
    assert outcome.passed is False
    assert "another report under the same seq_provider" in outcome.note
    stray = _all_in_order()
    stray.reports.append((("kraken", "DOGE-USD"), 1, 7))
    assert "a stream nothing published" in _sc003(stray).note


def test_fills_that_differ_from_the_venue_or_reports_never_published_fail() -> None:
    differs = RealFlow(1, ("binance",), 1, ("c1: 1 fills here, 2 at the venue",), 2)
    outcome = _sc003(_all_in_order(), flow=differs)
    assert outcome.passed is False
    assert "ledger vs venue: c1" in outcome.note
    unpublished = RealFlow(1, ("binance",), 1, entry_reports=1)
    assert _sc003(_all_in_order(), flow=unpublished).passed is False


def test_no_real_report_or_a_stall_that_was_not_felt_proves_nothing() -> None:
    injected_only = _received(*(r for r in _all_in_order().reports if r[0] != REAL))
    outcome = _sc003(injected_only, injected_only, published={})
    assert outcome.passed is False
    assert "nothing real was measured" in outcome.note
    outcome = _sc003(_all_in_order(), pressure={"coalesced": 0})
    assert outcome.passed is False
    assert "not felt" in outcome.note


# ---- SC-008: the trading switch ----


def _switch(**changes: object) -> SwitchRun:
    run = SwitchRun(
        submitted=2,
        ids=["a", "b"],
        reached_off={"binance": 0, "coinbase": 0, "kraken": 0},
        at_venue_off={"binance": 0, "coinbase": 0, "kraken": 0},
        blocked_on={"binance": [], "coinbase": [], "kraken": []},
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def test_a_switch_that_neither_leaks_nor_blocks_passes() -> None:
    outcome = switch_outcome(_switch())
    assert outcome.passed is True, outcome.note
    assert outcome.value == 0
    assert "disabled: 0 of 6 submits reached a venue" in outcome.note
    assert "enabled: 0 of 6 blocked" in outcome.note


def test_a_switch_that_leaks_or_blocks_fails() -> None:
    leaked = switch_outcome(_switch(reached_off={"binance": 2, "coinbase": 0, "kraken": 0}))
    assert leaked.passed is False
    assert leaked.value == 2
    placed = switch_outcome(_switch(at_venue_off={"binance": 0, "coinbase": 1, "kraken": 0}))
    assert placed.passed is False
    blocked = switch_outcome(_switch(blocked_on={"binance": [], "coinbase": [], "kraken": ["x"]}))
    assert blocked.passed is False
    assert blocked.value == 1
    assert blocked.figures["blocked_while_enabled"]["kraken"] == 1
    answered = switch_outcome(_switch(not_refused_off=["y"]))
    assert answered.passed is False
    assert "not answered REJECTED trading_disabled" in answered.note
    refused = switch_outcome(_switch(refused_on=["z"], acks=["disabled: nope"]))
    assert refused.passed is False
    assert "SetTradingMode refused" in refused.note


# ---- SC-007: no duplicate order ----


def _ids_run(**changes: object) -> IdempotencyRun:
    run = IdempotencyRun(
        ids={"binance": ["b1", "b2"], "kraken": ["k1"]},
        attempts=Counter({"b1": 3, "b2": 2, "k1": 4}),
        twice_at_once=1,
        in_flight_at_kill=1,
        restarts=1,
        reused_after_close=2,
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def _tally(orders: dict[str, int], duplicates: int = 0) -> VenueTally:
    return VenueTally(duplicates, 0, orders, {"order_ack_lost": 2})


def _sc007(
    run: IdempotencyRun | None = None,
    venues: dict[str, VenueTally] | None = None,
    wrong: list[str] | None = None,
    fills: dict[str, int] | None = None,
) -> Outcome:
    return idempotency_outcome(
        run or _ids_run(),
        venues or {"binance": _tally({"b1": 1, "b2": 1}), "kraken": _tally({"k1": 1})},
        wrong or [],
        fills if fills is not None else {"b1/e1": 1, "k1/e2": 1},
        {"unknown": 3, "resends": 1, "duplicate_submits": 5},
    )


def test_no_duplicate_and_every_order_as_the_venue_has_it_passes() -> None:
    outcome = _sc007()
    assert outcome.passed is True, outcome.note
    assert outcome.value == 100.0
    assert "duplicate orders at the simulators binance 0, kraken 0" in outcome.note


def test_a_duplicate_order_at_a_venue_fails() -> None:
    venues = {"binance": _tally({"b1": 2, "b2": 1}, duplicates=1), "kraken": _tally({"k1": 1})}
    outcome = _sc007(venues=venues)
    assert outcome.passed is False
    assert outcome.value is not None
    assert round(outcome.value, 2) == 66.67
    assert outcome.figures["ids_with_several_orders"] == ["b1"]
    # The simulator's own count alone is enough.
    counted = {"binance": _tally({"b1": 1, "b2": 1}, duplicates=1), "kraken": _tally({"k1": 1})}
    assert _sc007(venues=counted).passed is False


def test_a_state_unlike_the_venues_or_a_fill_announced_twice_or_never_fails() -> None:
    assert _sc007(wrong=["b2: ACK here, filled at the venue"]).passed is False
    assert _sc007(fills={"b1/e1": 2}).passed is False
    assert _sc007(fills={"b1/e1": 1, "k1/e2": 0}).passed is False
    reused = _sc007(_ids_run(reused_not_from_ledger=["b1"]))
    assert reused.passed is False
    assert "not answered from the ledger" in reused.note


def test_no_restart_or_no_fault_proves_nothing() -> None:
    assert _sc007(_ids_run(restarts=0)).passed is False
    quiet = {
        "binance": VenueTally(0, 0, {"b1": 1, "b2": 1}, {"order_ack_lost": 0}),
        "kraken": VenueTally(0, 0, {"k1": 1}, {}),
    }
    outcome = _sc007(venues=quiet)
    assert outcome.passed is False
    assert "no order fault fired" in outcome.note


# ---- SC-010 and SC-009: merges ----


def _snapshot(
    merge_id: str = "by-time",
    close_ns: int = 10 * S,
    venues: tuple[str, ...] = ("binance", "coinbase", "kraken"),
    fragments: dict[str, int] | None = None,
    reason: str = "time",
    open_ns: int | None = None,
) -> MergedSeen:
    return MergedSeen(
        merge_id,
        venues,
        fragments if fragments is not None else dict.fromkeys(venues, 3),
        reason,
        open_ns if open_ns is not None else close_ns - S,
        close_ns,
    )


# Every venue's BTC-EUR and BTC-USD book synced at 1 s; Binance's BTC-EUR resyncing at 20 s.
STATUSES = [
    *(StatusSeen(v, "BTC-EUR", "synced", 1 * S) for v in ("binance", "coinbase", "kraken")),
    *(StatusSeen(v, "BTC-USD", "synced", 1 * S) for v in ("coinbase", "kraken")),
    StatusSeen("binance", "BTC-EUR", "resyncing", 20 * S),
]
STOPPED_NS = 20 * S
AFTER_STOP = {"by-time": 8, "by-count": 3, "mixed": 5, "two-venues": 0}


def _healthy() -> list[MergedSeen]:
    return [
        _snapshot(close_ns=10 * S),
        _snapshot(close_ns=19 * S),
        _snapshot("two-venues", 25 * S, ("coinbase", "kraken")),
    ]


def test_whole_merged_snapshots_pass() -> None:
    assert partial_emissions(_healthy(), STATUSES) == []
    outcome = partial_outcome(_healthy(), STATUSES, STOPPED_NS, AFTER_STOP)
    assert outcome.passed is True
    assert outcome.value == 0


def test_a_partial_merged_snapshot_fails() -> None:
    broken = [
        *_healthy(),
        # Binance's book was resyncing when this one closed.
        _snapshot(close_ns=21 * S),
        # A required venue is missing from the snapshot.
        _snapshot(close_ns=12 * S, venues=("coinbase", "kraken")),
        # Kraken sent no fragment in the window.
        _snapshot(close_ns=13 * S, fragments={"binance": 2, "coinbase": 1, "kraken": 0}),
    ]
    partial = partial_emissions(broken, STATUSES)
    assert len(partial) == 3
    assert any("binance was resyncing" in p for p in partial)
    assert any("venues ['coinbase', 'kraken']" in p for p in partial)
    assert any("no fragment from kraken" in p for p in partial)
    outcome = partial_outcome(broken, STATUSES, STOPPED_NS, AFTER_STOP)
    assert outcome.passed is False
    assert outcome.value == 3


def test_a_snapshot_before_any_synced_status_is_partial() -> None:
    assert partial_emissions([_snapshot(close_ns=S // 2)], STATUSES) != []


def test_a_venue_stop_that_suppressed_nothing_proves_nothing() -> None:
    quiet = dict.fromkeys(AFTER_STOP, 0)
    assert partial_outcome(_healthy(), STATUSES, STOPPED_NS, quiet).passed is False


def _closes(by_time: int, by_count: int, on: int) -> CloseFigures:
    return CloseFigures(
        by_time, by_count, on, by_time + by_count, 0, {"p99": 2000.0, "max": 3000.0}
    )


def test_merge_adherence_counts_closes_on_threshold() -> None:
    closes = {"by-time": _closes(90, 0, 88), "by-count": _closes(0, 10, 10)}
    emitted = [
        _snapshot("by-count", reason="count", fragments={"binance": 10, "coinbase": 5, "kraken": 5})
    ]
    outcome = adherence_outcome(closes, emitted, 20.0)
    assert outcome.passed is True
    assert outcome.value == 98.0
    late = {"by-time": _closes(90, 0, 80), "by-count": _closes(0, 10, 10)}
    assert adherence_outcome(late, emitted, 20.0).passed is False  # 90 %


def test_a_snapshot_contradicting_its_close_reason_fails() -> None:
    closes = {"by-time": _closes(90, 0, 90), "by-count": _closes(0, 10, 10)}
    short = [
        _snapshot("by-count", reason="count", fragments={"binance": 5, "coinbase": 5, "kraken": 5})
    ]
    assert adherence_outcome(closes, short, 20.0).passed is False
    early = [_snapshot("by-time", reason="time", open_ns=10 * S - 300 * MS)]
    outcome = adherence_outcome(closes, early, 20.0)
    assert outcome.passed is False
    assert "closed by time after 300.0 ms" in outcome.note


# ---- SC-005: routing ----

ROUTE = RouteFilter.of(["kraken"], ["BTC-USD"], ["Trade", "BookUpdate"])


def _seen(event_id: int, version: int, taken_ns: int = 0, symbol: str = "BTC-USD") -> Seen:
    return Seen(event_id, "kraken", symbol, "Trade", version, taken_ns)


def test_routing_changes_from_the_next_event_pass() -> None:
    record = SubscribeRecord("c1", "s-1", ROUTE, sent_ns=0, version=5, until_version=9)
    observed = [_seen(1, 4), _seen(2, 5), _seen(3, 7), _seen(4, 9)]
    received = {"c1": [_seen(2, 5, taken_ns=20 * MS), _seen(3, 7, taken_ns=30 * MS)]}
    figures = analyse([record], received, observed)
    assert (figures.with_events, figures.next_event, figures.withheld) == (1, 1, 1)
    assert figures.missed == figures.strays == []
    outcome = routing_outcome(figures, 2, 100.0)
    assert outcome.passed is True
    assert outcome.value == 20.0


def test_an_event_after_the_unsubscribe_is_a_stray() -> None:
    record = SubscribeRecord("c1", "s-1", ROUTE, sent_ns=0, version=5, until_version=9)
    observed = [_seen(2, 5), _seen(4, 9)]
    received = {"c1": [_seen(2, 5, 10 * MS), _seen(4, 9, 50 * MS)]}
    figures = analyse([record], received, observed)
    assert figures.strays == ["c1: kraken BTC-USD Trade routed under version 9"]
    assert routing_outcome(figures, 2, 100.0).passed is False


def test_a_subscription_that_never_got_its_events_is_missed() -> None:
    record = SubscribeRecord("c1", "s-1", ROUTE, sent_ns=0, version=5, until_version=9)
    figures = analyse([record], {"c1": []}, [_seen(2, 6), _seen(4, 9)])
    assert figures.missed == ["c1 s-1: nothing received"]
    assert routing_outcome(figures, 2, 100.0).passed is False


def test_a_late_first_event_or_not_the_next_one_is_reported() -> None:
    record = SubscribeRecord("c1", "s-1", ROUTE, sent_ns=0, version=5, until_version=None)
    observed = [_seen(2, 5), _seen(3, 6), _seen(4, 20)]
    # It missed event 2 (routed under its version) and got event 3 after 1.2 s.
    received = {"c1": [_seen(3, 6, taken_ns=1200 * MS)]}
    figures = analyse([record], received, observed)
    assert (figures.with_events, figures.next_event) == (1, 0)
    outcome = routing_outcome(figures, 1, 100.0)
    assert outcome.passed is False
    assert outcome.value == 1200.0
    assert "next event: missed (0/1)" in outcome.note


# ---- SC-006: resyncs ----


def _status(
    symbol: str, state: str, reason: str | None, at_s: float, venue: str = "kraken"
) -> BookStatusSeen:
    return BookStatusSeen(venue, symbol, state, reason, int(at_s * S))


def _every_fault(worst_s: float) -> list[BookStatusSeen]:
    return [
        _status("BTC-USD", "synced", None, 1.0),
        _status("BTC-USD", "resyncing", "checksum", 5.0),
        _status("BTC-USD", "synced", None, 5.01),
        _status("BTC-USD", "resyncing", "gap", 6.0, "coinbase"),
        _status("BTC-USD", "synced", None, 6.2, "coinbase"),
        _status("ETH-USD", "resyncing", "stale", 9.0),
        # A stale book's status says "reconnect" again when the venue is back; it is one resync.
        _status("ETH-USD", "resyncing", "reconnect", 9.1),
        _status("ETH-USD", "synced", None, 9.0 + worst_s),
    ]


def test_resyncs_are_paired_and_timed() -> None:
    found = resyncs(_every_fault(0.4))
    assert [(r.provider, r.reason, r.seconds(0)) for r in found] == [
        ("kraken", "checksum", 0.01),
        ("coinbase", "gap", 0.2),
        ("kraken", "stale", 0.4),
    ]
    outcome = resync_outcome(found, 20 * S, 5.0)
    assert outcome.passed is True
    assert outcome.value == 0.4


def test_a_slow_unfinished_or_missing_resync_fails() -> None:
    slow = resync_outcome(resyncs(_every_fault(6.0)), 20 * S, 5.0)
    assert slow.passed is False
    assert slow.value == 6.0
    unfinished = resyncs(_every_fault(0.4)[:-1])
    outcome = resync_outcome(unfinished, int(10 * S), 5.0)
    assert outcome.passed is False
    assert "1 never synced again" in outcome.note
    no_gap = [s for s in _every_fault(0.4) if s.provider != "coinbase"]
    outcome = resync_outcome(resyncs(no_gap), 20 * S, 5.0)
    assert outcome.passed is False
    assert "no resync seen for gap" in outcome.note


# ---- SC-002: ordering ----


def test_the_order_audit_catches_a_regression() -> None:
    audit = OrderAudit()
    for seq in (1, 2, 3):
        audit.see("kraken", "BTC-USD", "Trade", seq)
    audit.see("kraken", "BTC-USD", "BookUpdate", 1)  # another stream
    audit.see("kraken", "BTC-USD", "Ticker", None)  # not sequenced
    assert (audit.checked, audit.violations) == (4, 0)
    resynced = {"gap": 3, "checksum": 1}
    assert ordering_outcome(0, audit, resynced, 2, {}).passed is True
    audit.see("kraken", "BTC-USD", "Trade", 3)
    assert audit.violations == 1
    assert audit.examples == ["kraken BTC-USD Trade: 3 after 3"]
    assert ordering_outcome(0, audit, resynced, 2, {}).passed is False


def test_faults_that_never_reached_the_gateway_prove_nothing() -> None:
    audit = OrderAudit()
    audit.see("kraken", "BTC-USD", "Trade", 1)
    outcome = ordering_outcome(0, audit, {"gap": 0}, 0, {})
    assert outcome.passed is False
    assert "nothing was proven" in outcome.note


# ---- SC-011: degradation ----

PUBLISHED = {"Trade": 100, "Ticker": 50, "KlineSummary": 10}


def _tape(**changes: int) -> ConsumerRecord:
    figures = {
        "offered": 100,
        "delivered": 100,
        "coalesced": 0,
        "snapshots_for_backlog": 0,
        "spilled": 0,
        "out_of_order": 0,
    }
    figures.update(changes)
    return ConsumerRecord(
        "tape",
        frozenset({"Trade"}),
        by_type={"Trade": figures["delivered"]},
        **figures,
    )


def test_a_consumer_that_kept_up_has_no_problems() -> None:
    assert consumer_problems(_tape(), PUBLISHED) == []
    quotes = ConsumerRecord(
        "quotes", frozenset({"Ticker", "KlineSummary"}), 60, 55, 5, 0, 0, 0,
        {"Ticker": 45, "KlineSummary": 10},
    )  # fmt: skip
    assert consumer_problems(quotes, PUBLISHED) == []
    assert degradation_outcome([_tape(), quotes], PUBLISHED, True).passed is True


def test_a_spilled_or_lost_trade_is_degradation() -> None:
    spilled = _tape(delivered=98, spilled=2, coalesced=0)
    problems = consumer_problems(spilled, PUBLISHED)
    assert "2 trades spilled to the DLQ" in problems
    assert "Trade: 98 of 100 delivered" in problems
    outcome = degradation_outcome([spilled], PUBLISHED, True)
    assert outcome.passed is False
    assert outcome.value == 1


def test_coalescing_a_lossless_type_or_books_that_differ_is_degradation() -> None:
    # Two trades "coalesced": only latest-wins types may be.
    coalesced = _tape(delivered=98, coalesced=2)
    assert any("does not hold" in p for p in consumer_problems(coalesced, PUBLISHED))
    assert degradation_outcome([_tape()], PUBLISHED, False).passed is False
    assert degradation_outcome([_tape(snapshots_for_backlog=1)], PUBLISHED, True).passed is False


# ---- the report ----


def _row(criterion: str, passed: bool | None) -> Outcome:
    return Outcome(criterion, "a figure", 1.5, "ms", "< 200 ms", passed, "a note")


def test_a_run_where_everything_passed_passes() -> None:
    report = Report([_row("SC-001", True), _row("SC-007", True)], 12.0, quick=True)
    assert report.passed is True
    table = render_table(report)
    assert "SC-007" in table
    assert "PASSED: 2 of 2 measured criteria passed; 0 min 12 s" in table
    data = report_json(report)
    assert data["passed"] is True
    assert [r["status"] for r in data["criteria"]] == ["pass", "pass"]


def test_a_failure_or_a_stop_fails_the_run() -> None:
    assert Report([_row("SC-001", False)], 1.0, quick=False).passed is False
    stopped = Report([_row("SC-001", True), unmeasured("SC-002", STOPPED)], 1.0, False, True)
    assert stopped.passed is False
    table = render_table(stopped)
    assert "STOPPED" in table
    assert "SC-002 not run" in table


def test_values_are_shown_with_their_unit() -> None:
    assert _row("SC-001", True).shown_value() == "1.50 ms"
    percent = Outcome("SC-012", "x", 99.876, "%", "> 99.5 %", True)
    assert percent.shown_value() == "99.88 %"
    assert Outcome("SC-002", "x", 0.0, "", "= 0", True).shown_value() == "0"
    assert unmeasured("SC-008", STOPPED).shown_value() == "—"
