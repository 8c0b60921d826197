"""Order requests at the edge, the instrument check, order states and the venue answers'
own rules."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tradegw.orders import (
    CancelRequest,
    OrderInstrument,
    OrderRequest,
    OrderState,
    PlaceResult,
    VenueReport,
    check_order,
    is_client_order_id,
    new_client_order_id,
)
from tradegw.orders.states import advances
from tradegw.schema import ExecState

pytestmark = pytest.mark.timeout(10)

BINANCE_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
KRAKEN_ID = re.compile(
    r"^(?:[\x20-\x7e]{1,18}|[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)

BTC = OrderInstrument.of(
    "BTC-USD",
    "BTC/USD",
    price_increment="0.1",
    qty_increment="0.0001",
    min_qty="0.0001",
    min_notional="5",
    max_qty="100",
)


def limit(**fields: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "venue": "kraken",
        "symbol": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "qty": "0.01",
        "price": "45000.0",
    }
    return OrderRequest.model_validate({**base, **fields})


def test_generated_ids_are_fresh_and_every_venue_accepts_them() -> None:
    ids = {new_client_order_id() for _ in range(1000)}
    assert len(ids) == 1000
    for cid in list(ids)[:50]:
        assert BINANCE_ID.fullmatch(cid)
        assert KRAKEN_ID.fullmatch(cid)
        assert len(cid) <= 128
        assert is_client_order_id(cid)
    assert limit().client_order_id != limit().client_order_id


@pytest.mark.parametrize(
    "cid",
    ["a", "strategy-1_000042", "A" * 18, "6d1b345e-2821-40e2-ad83-4ecb18a06876", "f" * 32],
)
def test_ids_every_venue_accepts_pass(cid: str) -> None:
    assert limit(client_order_id=cid).client_order_id == cid
    assert BINANCE_ID.fullmatch(cid)
    assert KRAKEN_ID.fullmatch(cid)


@pytest.mark.parametrize("cid", ["", "A" * 19, "has space", "ünï", "x" * 37, "a.b"])
def test_ids_some_venue_refuses_are_refused_naming_the_field(cid: str) -> None:
    with pytest.raises(ValidationError, match="client_order_id"):
        limit(client_order_id=cid)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"qty": 0.01}, "qty"),
        ({"qty": "1e-3"}, "qty"),
        ({"qty": "-1"}, "qty"),
        ({"qty": "01"}, "qty"),
        ({"price": 45000}, "price"),
        ({"price": " 1"}, "price"),
        ({"side": "BUY"}, "side"),
        ({"type": "stop"}, "type"),
        ({"time_in_force": "GTD"}, "time_in_force"),
        ({"venue": "Kraken"}, "venue"),
        ({"extra": 1}, "extra"),
        ({"decision_id": "has space"}, "decision_id"),
    ],
)
def test_malformed_requests_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        limit(**fields)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"qty": "0"}, "qty must be greater than zero"),
        ({"price": None}, "price is required"),
        ({"price": "0"}, "price must be greater than zero"),
        ({"type": "market"}, "price must not be given"),
        ({"type": "market", "price": None, "time_in_force": "GTC"}, "IOC or FOK"),
        ({"post_only": True, "time_in_force": "IOC"}, "post_only needs a GTC limit"),
    ],
)
def test_inconsistent_requests_say_why(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        limit(**fields)


def test_market_orders_default_to_ioc_and_limits_to_gtc() -> None:
    assert limit(type="market", price=None).time_in_force == "IOC"
    assert limit(type="market", price=None, time_in_force="FOK").time_in_force == "FOK"
    assert limit().time_in_force == "GTC"


def test_requests_are_frozen_and_cancel_checks_the_id() -> None:
    req = limit()
    with pytest.raises(ValidationError):
        req.qty = "1"  # type: ignore[misc]
    assert CancelRequest(client_order_id="abc").client_order_id == "abc"
    with pytest.raises(ValidationError, match="client_order_id"):
        CancelRequest(client_order_id="no way")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"qty": "0.00015"}, "qty 0.00015 is not a multiple of qty_increment 0.0001"),
        ({"qty": "100.0001"}, "qty 100.0001 is above max_qty 100"),
        ({"price": "45000.05"}, "price 45000.05 is not a multiple of price_increment 0.1"),
        ({"qty": "0.0001", "price": "100.0"}, "notional 0.01000 (price * qty) is below"),
        ({"type": "market", "price": None, "qty": "0.0001"}, None),
    ],
)
def test_the_instrument_check_names_the_field(fields: dict[str, Any], reason: str | None) -> None:
    got = check_order(limit(**fields), BTC)
    if reason is None:
        assert got is None
    else:
        assert got is not None
        assert got.startswith(reason)


def test_the_check_is_exact_where_floats_are_not() -> None:
    inst = OrderInstrument.of(
        "X-USD", "X-USD", price_increment="0.1", qty_increment="0.1", min_qty="0"
    )
    # 0.3 is not a multiple of 0.1 in binary floating point (0.3 % 0.1 == 0.0999...).
    assert check_order(limit(qty="0.3", price="0.3"), inst) is None
    # Values far beyond 28 digits of quotient still get an answer.
    tiny = OrderInstrument.of(
        "X-USD",
        "X-USD",
        price_increment="0.000000000000000001",
        qty_increment="0.000000000000000001",
        min_qty="0",
    )
    assert check_order(limit(qty="99999999999999999999.1", price="1"), tiny) is None


def test_below_min_qty() -> None:
    inst = OrderInstrument.of(
        "X-USD", "X-USD", price_increment="1", qty_increment="0.01", min_qty="0.05"
    )
    assert check_order(limit(qty="0.04", price="100"), inst) == "qty 0.04 is below min_qty 0.05"


def test_instruments_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="price_increment"):
        OrderInstrument.of("X", "X", price_increment="0", qty_increment="1", min_qty="0")
    with pytest.raises(ValueError, match="qty_increment is not a decimal"):
        OrderInstrument.of("X", "X", price_increment="1", qty_increment="one", min_qty="0")
    with pytest.raises(ValueError, match="min_qty"):
        OrderInstrument("X", "X", Decimal(1), Decimal(1), Decimal(-1))
    with pytest.raises(ValueError, match="price_increment"):
        OrderInstrument("X", "X", Decimal("NaN"), Decimal(1), Decimal(0))


def test_states_never_move_back() -> None:
    S = OrderState
    assert advances(S.NEW, S.SENT)
    assert advances(S.SENT, S.UNKNOWN)
    assert advances(S.UNKNOWN, S.SENT)
    assert advances(S.SENT, S.ACK)
    assert advances(S.UNKNOWN, S.FILLED)
    assert advances(S.ACK, S.PARTIAL)
    assert advances(S.PARTIAL, S.CANCELLED)
    assert not advances(S.ACK, S.ACK)
    assert not advances(S.PARTIAL, S.ACK)
    assert not advances(S.PARTIAL, S.PARTIAL)
    for terminal in (S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED):
        assert terminal.terminal
        for other in S:
            assert not advances(terminal, other)


def test_only_canonical_states_have_an_exec_state() -> None:
    assert {s for s in OrderState if s.exec_state is not None} == {
        OrderState.of(e) for e in ExecState
    }
    assert OrderState.UNKNOWN.exec_state is None
    assert OrderState.FILLED.exec_state is ExecState.FILLED


def test_place_results_carry_what_their_outcome_needs() -> None:
    assert PlaceResult.accepted("O-1").venue_order_id == "O-1"
    with pytest.raises(ValueError, match="venue_order_id"):
        PlaceResult.accepted("")
    with pytest.raises(ValueError, match="reason"):
        PlaceResult.rejected("")
    assert PlaceResult.unknown("timeout").reason == "timeout"


def test_a_report_without_an_exec_id_keys_its_fill_by_the_cumulative_qty() -> None:
    report = VenueReport(
        client_order_id="a",
        state=ExecState.PARTIAL,
        filled_qty="0.5",
        last_fill_qty="0.5",
        last_fill_price="10",
    )
    fill = report.fill()
    assert fill is not None
    assert fill.venue_exec_id == "cum:0.5"
    assert VenueReport(client_order_id="a", state=ExecState.ACK, filled_qty="0").fill() is None
