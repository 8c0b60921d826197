"""ExecReports built from ledger records, and the figures derived from fills."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tests.unit.test_order_ledger import fill, order
from tradegw.orders.reports import decimal_text, exec_report, fill_totals
from tradegw.orders.states import OrderState
from tradegw.schema import ExecState, from_json, to_json

pytestmark = pytest.mark.timeout(10)


def test_a_report_carries_the_order_and_the_fill_it_announces() -> None:
    rec = order(state=OrderState.PARTIAL, venue_order_id="V1", filled_qty="0.1", reason=None)
    report = exec_report(rec, 7, fill=fill(), exchange_ts=99)
    assert (report.provider, report.symbol, report.venue_symbol) == ("fake", "BTC-USD", "BTC/USD")
    assert (report.seq_provider, report.state, report.venue_order_id) == (
        7,
        ExecState.PARTIAL,
        "V1",
    )
    assert (report.last_fill_qty, report.last_fill_price) == ("0.1", "100.0")
    assert (report.fee, report.fee_asset, report.venue_exec_id) == ("0.01", "USD", "t1")
    assert report.exchange_ts == 5  # the fill's own time wins over the change's
    assert exec_report(rec, 8, exchange_ts=99).exchange_ts == 99
    assert from_json(to_json(report)) == report


@pytest.mark.parametrize("state", [OrderState.NEW, OrderState.SENT, OrderState.UNKNOWN])
def test_internal_states_are_never_published(state: OrderState) -> None:
    with pytest.raises(ValueError, match="not published"):
        exec_report(order(state=state), 1)


def test_fill_totals_are_exact_and_the_average_keeps_four_more_decimals() -> None:
    fills = [
        dataclasses.replace(fill(exec_id="a", qty="1"), price="10.1"),
        dataclasses.replace(fill(exec_id="b", qty="2"), price="10.2"),
    ]
    qty, avg = fill_totals(fills)
    assert qty == Decimal(3)
    assert avg == "10.16667"
    assert fill_totals([]) == (Decimal(0), None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.50000", "0.5"),
        ("10", "10"),
        ("1E+2", "100"),
        ("0E-8", "0"),
        ("0.00000001", "0.00000001"),
    ],
)
def test_decimal_text_is_plain(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text
