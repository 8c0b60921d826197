"""Kraken's order states in canonical terms (protocols.md §3.6): every ``exec_type``, the
snapshot's open orders, REST statuses, fills with their ids and fees, ``add_order`` errors,
and the ``executions`` sequence (a skip is a gap, a repeat is dropped)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from tradegw.orders.credentials import load_credentials
from tradegw.orders.venue import PlaceOutcome, VenueReport
from tradegw.providers.base.decode import FrameError, decode_exact
from tradegw.providers.kraken.config import KrakenTradingConfig
from tradegw.providers.kraken.executions import (
    EXEC_TYPE_STATES,
    OrderIds,
    fill_of,
    report_of,
    seconds_ns,
    status_of,
)
from tradegw.providers.kraken.orders import KrakenOrderVenue, sim_auth_url
from tradegw.schema import ExecState

pytestmark = pytest.mark.timeout(10)


def entry(exec_type: str, **fields: Any) -> dict[str, Any]:
    """One executions entry as :func:`decode_exact` hands it over (numbers as text)."""
    base = {
        "order_id": "OAAAAA-BBBBB-CCCCCC",
        "cl_ord_id": "c1",
        "symbol": "BTC/USD",
        "exec_type": exec_type,
        "order_status": "new",
        "cum_qty": "0.00000000",
        "timestamp": "2023-09-22T10:33:05.709950Z",
        **fields,
    }
    text = orjson.dumps(base).decode()
    for key in ("cum_qty", "last_qty", "last_price"):
        if key in base:
            text = text.replace(f'"{key}":"{base[key]}"', f'"{key}":{base[key]}')
    parsed: dict[str, Any] = decode_exact(text)
    return parsed


@pytest.mark.parametrize(
    ("exec_type", "state"),
    [
        ("pending_new", None),
        ("new", ExecState.ACK),
        ("trade", ExecState.PARTIAL),
        ("filled", ExecState.FILLED),
        ("canceled", ExecState.CANCELLED),
        ("expired", ExecState.EXPIRED),
        ("amended", None),
        ("restated", None),
        ("iceberg_refill", None),
        ("status", None),
    ],
)
def test_each_exec_type_maps_as_the_table_says(exec_type: str, state: ExecState | None) -> None:
    assert EXEC_TYPE_STATES[exec_type] is state
    fields: dict[str, Any] = {}
    if exec_type == "trade":
        fields = {
            "exec_id": "TAAAAA-BBBBB-CCCCCC",
            "last_qty": "0.01000000",
            "last_price": "45000.1",
            "fees": [{"asset": "USD", "qty": "0.9"}],
        }
    report = report_of(entry(exec_type, **fields), OrderIds())
    assert (None if report is None else report.state) is state


def test_a_trade_that_completes_the_order_is_partial_with_the_fill_then_filled_without() -> None:
    ids = OrderIds()
    trade = report_of(
        entry(
            "trade",
            order_status="partially_filled",
            cum_qty="0.01000000",
            exec_id="TAAAAA-BBBBB-CCCCCC",
            last_qty="0.01000000",
            last_price="45000.1",
            fees=[{"asset": "USD", "qty": "0.45"}, {"asset": "USD", "qty": "0.05"}],
        ),
        ids,
    )
    assert trade == VenueReport(
        client_order_id="c1",
        state=ExecState.PARTIAL,
        filled_qty="0.01000000",
        venue_order_id="OAAAAA-BBBBB-CCCCCC",
        last_fill_qty="0.01000000",
        last_fill_price="45000.1",
        fee="0.50",
        fee_asset="USD",
        venue_exec_id="TAAAAA-BBBBB-CCCCCC",
        exchange_ts=1695378785709950000,
    )
    # "filled" leaves out cl_ord_id and cum_qty here: both are remembered from before.
    filled = report_of(
        {"exec_type": "filled", "order_id": "OAAAAA-BBBBB-CCCCCC", "order_status": "filled"},
        ids,
    )
    assert filled is not None
    assert (filled.client_order_id, filled.state, filled.filled_qty) == (
        "c1",
        ExecState.FILLED,
        "0.01000000",
    )
    assert filled.fill() is None


def test_cancelled_and_expired_carry_the_reason() -> None:
    report = report_of(entry("canceled", reason="User requested"), OrderIds())
    assert report is not None
    assert (report.state, report.reason) == (ExecState.CANCELLED, "User requested")


def test_a_snapshots_open_orders_map_by_order_status_without_a_fill() -> None:
    ids = OrderIds()
    resting = report_of(entry("new", order_status="new"), ids, snapshot=True)
    part = report_of(
        entry("new", order_status="partially_filled", cum_qty="0.005"), ids, snapshot=True
    )
    assert resting is not None
    assert resting.state is ExecState.ACK
    assert part is not None
    assert (part.state, part.filled_qty, part.fill()) == (ExecState.PARTIAL, "0.005", None)


def test_orders_without_our_id_are_not_reported_and_bad_entries_are_refused() -> None:
    assert report_of(entry("new", cl_ord_id=None), OrderIds()) is None
    with pytest.raises(FrameError, match="exec_type"):
        report_of({"order_id": "O"}, OrderIds())
    with pytest.raises(FrameError, match="unknown exec_type"):
        report_of(entry("teleported"), OrderIds())
    with pytest.raises(FrameError, match="exec_id"):
        report_of(entry("trade", last_qty="1", last_price="1"), OrderIds())
    with pytest.raises(FrameError, match="cum_qty"):
        report_of(entry("new", cum_qty="-1"), OrderIds())


@pytest.mark.parametrize(
    ("status", "vol_exec", "state"),
    [
        ("pending", "0.00000000", ExecState.ACK),
        ("open", "0.00000000", ExecState.ACK),
        ("open", "0.00500000", ExecState.PARTIAL),
        ("closed", "0.01000000", ExecState.FILLED),
        ("canceled", "0.00500000", ExecState.CANCELLED),
        ("expired", "0.00000000", ExecState.EXPIRED),
    ],
)
def test_rest_statuses(status: str, vol_exec: str, state: ExecState) -> None:
    order = {
        "status": status,
        "vol_exec": vol_exec,
        "opentm": "1688583840.8648",
        "closetm": "1688590000.5432",
        "reason": "User requested",
    }
    answer = status_of("c1", "OAAAAA-BBBBB-CCCCCC", order)
    assert (answer.state, answer.filled_qty, answer.venue_order_id) == (
        state,
        vol_exec,
        "OAAAAA-BBBBB-CCCCCC",
    )
    assert answer.exchange_ts == 1688590000543200000
    assert answer.reason == ("User requested" if status in ("canceled", "expired") else None)
    with pytest.raises(FrameError):
        status_of("c1", "O", {**order, "status": "teleported"})


def test_a_rest_trade_is_a_fill_with_its_txid_and_quote_fee() -> None:
    trade = {"vol": "0.50000000", "price": "29500.50", "fee": "23.60", "time": "1688585840.8921"}
    fill = fill_of("TCCCTY-WJ6EO-4FP4VZ", trade, "USD")
    assert (fill.venue_exec_id, fill.qty, fill.price, fill.fee, fill.fee_asset) == (
        "TCCCTY-WJ6EO-4FP4VZ",
        "0.50000000",
        "29500.50",
        "23.60",
        "USD",
    )
    assert fill.exchange_ts == 1688585840892100000
    assert seconds_ns("0") is None
    assert seconds_ns(None) is None


# ---------------------------------------------------------------- the adapter itself


def adapter() -> tuple[KrakenOrderVenue, list[VenueReport], list[str]]:
    creds = load_credentials(
        "kraken",
        {
            "TRADEGW_KRAKEN_API_KEY": "k",
            "TRADEGW_KRAKEN_API_SECRET": base64.b64encode(b"s" * 64).decode(),
        },
    )
    venue = KrakenOrderVenue(
        KrakenTradingConfig(), creds, ws_url="ws://x/ws-auth/v2", rest_url="http://x"
    )
    reports: list[VenueReport] = []
    gaps: list[str] = []
    venue._on_report = reports.append
    venue._on_gap = lambda: gaps.append("gap")
    return venue, reports, gaps


def executions(kind: str, sequence: int, *entries: dict[str, Any]) -> str:
    return orjson.dumps(
        {"channel": "executions", "type": kind, "data": list(entries), "sequence": sequence}
    ).decode()


async def test_a_skipped_sequence_is_a_gap_and_a_repeat_is_dropped() -> None:
    venue, reports, gaps = adapter()
    new = {"order_id": "O1", "cl_ord_id": "c1", "exec_type": "new", "order_status": "new"}
    venue._on_frame(executions("snapshot", 1))
    assert venue.connected
    assert gaps == []  # the first connection: nothing can have been missed
    venue._on_frame(executions("update", 2, new))
    venue._on_frame(executions("update", 2, new))  # a repeat
    assert len(reports) == 1
    venue._on_frame(executions("update", 5, {**new, "exec_type": "canceled"}))
    assert gaps == ["gap"]
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.CANCELLED]
    venue._on_frame(executions("update", 6, {**new, "exec_type": "expired"}))
    assert gaps == ["gap"]
    # A malformed frame is counted and dead-lettered, never raised into the reader.
    venue._on_frame('{"channel":"executions","type":"update","data":[{}],"sequence":7}')
    venue._on_frame("not json")
    assert venue._counters.get("order_stream_malformed", "kraken") == 2
    assert venue._telemetry.dlq.count == 2


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("EOrder:Insufficient funds", PlaceOutcome.REJECTED),
        ("EOrder:Post only order", PlaceOutcome.REJECTED),
        ("EOrder:Rate limit exceeded", PlaceOutcome.REJECTED),
        ("EGeneral:Invalid arguments:price", PlaceOutcome.REJECTED),
        ("EQuery:Unknown asset pair", PlaceOutcome.REJECTED),
        ("EOrder:Duplicate order", PlaceOutcome.UNKNOWN),
        ("EService:Unavailable", PlaceOutcome.UNKNOWN),
        ("EGeneral:Internal error", PlaceOutcome.UNKNOWN),
        ("ESession:Invalid session", PlaceOutcome.UNKNOWN),
        ("Something new", PlaceOutcome.UNKNOWN),
    ],
)
def test_add_order_errors(error: str, outcome: PlaceOutcome) -> None:
    venue, _, _ = adapter()
    answer = venue._place_error(error)
    assert answer.outcome is outcome
    assert answer.reason is not None
    assert answer.reason.startswith(error)


def test_the_simulators_authenticated_endpoint_is_found_beside_its_public_one() -> None:
    assert sim_auth_url("ws://127.0.0.1:4321/v2") == "ws://127.0.0.1:4321/ws-auth/v2"
    assert sim_auth_url("ws://127.0.0.1:4321/v2?x=1") == "ws://127.0.0.1:4321/ws-auth/v2"
