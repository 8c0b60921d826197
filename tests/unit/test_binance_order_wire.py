"""Binance order messages in canonical terms: the state table of protocols.md section 1.7 over
``executionReport`` and ``order.status``, fills with their ids and fees, ``exchangeInfo``
rules, and the registry's factory (its config section, URLs and credentials)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradegw.errors import CredentialError
from tradegw.orders.venue import VenueFill
from tradegw.providers.binance.config import BinanceVenueConfig
from tradegw.providers.binance.order_wire import (
    OrderWireError,
    execution_report,
    instrument,
    order_status,
    plain_decimal,
    trade_fill,
)
from tradegw.providers.binance.orders import BinanceOrderVenue, order_venue
from tradegw.providers.registry import order_venue_factory
from tradegw.schema import ExecState

pytestmark = pytest.mark.timeout(10)

# The documented executionReport (protocols.md section 1.7, user-data-stream.md).
DOC_REPORT: dict[str, Any] = {
    "e": "executionReport",
    "E": 1499405658658,
    "s": "ETHBTC",
    "c": "mUvoqJxFIILMdfAW5iGSOW",
    "S": "BUY",
    "o": "LIMIT",
    "f": "GTC",
    "q": "1.00000000",
    "p": "0.10264410",
    "P": "0.00000000",
    "F": "0.00000000",
    "g": -1,
    "C": "",
    "x": "NEW",
    "X": "NEW",
    "r": "NONE",
    "i": 4293153,
    "l": "0.00000000",
    "z": "0.00000000",
    "L": "0.00000000",
    "n": "0",
    "N": None,
    "T": 1499405658657,
    "t": -1,
    "v": 3,
    "I": 8641984,
    "w": True,
    "m": False,
    "M": False,
    "O": 1499405658657,
    "Z": "0.00000000",
    "Y": "0.00000000",
    "Q": "0.00000000",
    "W": 1499405658657,
    "V": "NONE",
}


def report(**changes: Any) -> dict[str, Any]:
    return {**DOC_REPORT, **changes}


TRADE = {"l": "0.40000000", "L": "0.10264410", "n": "0.00004106", "N": "BTC", "t": 77}

STATE_TABLE = [
    # (x, X, extra fields, state, a fill announced)
    ("NEW", "NEW", {}, ExecState.ACK, False),
    ("TRADE", "PARTIALLY_FILLED", {**TRADE, "z": "0.40000000"}, ExecState.PARTIAL, True),
    ("TRADE", "FILLED", {**TRADE, "z": "1.00000000"}, ExecState.FILLED, True),
    (
        "CANCELED",
        "CANCELED",
        {"c": "cancel-id", "C": "mUvoqJxFIILMdfAW5iGSOW"},
        ExecState.CANCELLED,
        False,
    ),
    ("REJECTED", "REJECTED", {"r": "INSUFFICIENT_BALANCES"}, ExecState.REJECTED, False),
    ("EXPIRED", "EXPIRED", {"eR": "UNFILLED_IOC_QUANTITY_EXPIRED"}, ExecState.EXPIRED, False),
    ("TRADE_PREVENTION", "EXPIRED_IN_MATCH", {}, ExecState.EXPIRED, False),
    ("EXPIRED", "EXPIRED_IN_MATCH", {}, ExecState.EXPIRED, False),
    ("REPLACED", "NEW", {}, ExecState.ACK, False),
    ("REPLACED", "PARTIALLY_FILLED", {"z": "0.40000000"}, ExecState.PARTIAL, False),
]


@pytest.mark.parametrize(("x", "status", "extra", "state", "has_fill"), STATE_TABLE)
def test_execution_reports_map_by_the_table(
    x: str, status: str, extra: dict[str, Any], state: ExecState, has_fill: bool
) -> None:
    got = execution_report(report(x=x, X=status, **extra))
    assert got is not None
    assert got.state is state
    assert got.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"  # C on a cancel, else c
    assert got.venue_order_id == "4293153"
    assert got.filled_qty == extra.get("z", "0.00000000")
    assert got.exchange_ts == 1499405658657 * 1_000_000
    fill = got.fill()
    if has_fill:
        assert fill == VenueFill(
            venue_exec_id="77",
            qty="0.40000000",
            price="0.10264410",
            fee="0.00004106",
            fee_asset="BTC",
            exchange_ts=1499405658657 * 1_000_000,
        )
    else:
        assert fill is None
        assert got.venue_exec_id is None


def test_reasons_come_from_r_or_the_expiry_reason() -> None:
    rejected = execution_report(report(x="REJECTED", X="REJECTED", r="WOULD_MATCH_IMMEDIATELY"))
    assert rejected is not None
    assert rejected.reason == "WOULD_MATCH_IMMEDIATELY"
    expired = execution_report(report(x="EXPIRED", X="EXPIRED", eR="INSUFFICIENT_LIQUIDITY"))
    assert expired is not None
    assert expired.reason == "INSUFFICIENT_LIQUIDITY"
    plain = execution_report(report())
    assert plain is not None
    assert plain.reason is None


def test_statuses_before_the_acknowledgement_are_not_reported() -> None:
    assert execution_report(report(X="PENDING_NEW")) is None
    assert execution_report(report(X="PENDING_CANCEL")) is None


@pytest.mark.parametrize(
    "broken",
    [{"X": "WEIRD"}, {"z": "lots"}, {"z": "-1"}, {"i": "4293153"}, {"c": None}, {"x": 1}],
)
def test_malformed_reports_are_refused_naming_the_field(broken: dict[str, Any]) -> None:
    with pytest.raises(OrderWireError):
        execution_report(report(**broken))


def test_a_zero_trade_is_not_a_fill() -> None:
    got = execution_report(report(x="TRADE", X="PARTIALLY_FILLED", l="0.00000000"))
    assert got is not None
    assert got.fill() is None


STATUS_ANSWER: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "orderId": 12569099453,
    "orderListId": -1,
    "clientOrderId": "4d96324ff9d44481926157",
    "price": "23416.10000000",
    "origQty": "0.00847000",
    "executedQty": "0.00847000",
    "cummulativeQuoteQty": "198.33521500",
    "status": "FILLED",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "side": "SELL",
    "stopPrice": "0.00000000",
    "icebergQty": "0.00000000",
    "time": 1660801715639,
    "updateTime": 1660801717945,
    "isWorking": True,
    "workingTime": 1660801715639,
    "origQuoteOrderQty": "0.00000000",
    "selfTradePreventionMode": "NONE",
}


@pytest.mark.parametrize(
    ("status", "executed", "state"),
    [
        ("NEW", "0.00000000", ExecState.ACK),
        ("PARTIALLY_FILLED", "0.00100000", ExecState.PARTIAL),
        ("FILLED", "0.00847000", ExecState.FILLED),
        ("CANCELED", "0.00000000", ExecState.CANCELLED),
        ("REJECTED", "0.00000000", ExecState.REJECTED),
        ("EXPIRED", "0.00100000", ExecState.EXPIRED),
        ("EXPIRED_IN_MATCH", "0.00000000", ExecState.EXPIRED),
        ("PENDING_NEW", "0.00000000", ExecState.ACK),
        ("PENDING_CANCEL", "0.00100000", ExecState.PARTIAL),
    ],
)
def test_order_status_answers_map_by_the_table(
    status: str, executed: str, state: ExecState
) -> None:
    got = order_status({**STATUS_ANSWER, "status": status, "executedQty": executed})
    assert got.state is state
    assert (got.client_order_id, got.venue_order_id) == ("4d96324ff9d44481926157", "12569099453")
    assert got.filled_qty == executed
    assert got.exchange_ts == 1660801717945 * 1_000_000


def test_my_trades_rows_are_fills_keyed_by_trade_id() -> None:
    row = {
        "symbol": "BNBBTC",
        "id": 28457,
        "orderId": 100234,
        "orderListId": -1,
        "price": "4.00000100",
        "qty": "12.00000000",
        "quoteQty": "48.000012",
        "commission": "10.10000000",
        "commissionAsset": "BNB",
        "time": 1499865549590,
        "isBuyer": True,
        "isMaker": False,
        "isBestMatch": True,
    }
    assert trade_fill(row) == VenueFill(
        venue_exec_id="28457",
        qty="12.00000000",
        price="4.00000100",
        fee="10.10000000",
        fee_asset="BNB",
        exchange_ts=1499865549590 * 1_000_000,
    )
    with pytest.raises(OrderWireError):
        trade_fill({**row, "id": None})


def test_exchange_info_gives_the_trading_rules() -> None:
    raw = {
        "symbol": "BTCUSDT",
        "status": "TRADING",
        "baseAsset": "BTC",
        "quoteAsset": "USDT",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
            {"filterType": "NOTIONAL", "minNotional": "5.00000000"},
        ],
    }
    inst = instrument(raw)
    assert (inst.symbol, inst.venue_symbol) == ("BTC-USDT", "BTCUSDT")
    assert inst.price_increment == Decimal("0.01")
    assert inst.qty_increment == Decimal("0.00001")
    assert (inst.min_qty, inst.max_qty, inst.min_notional) == (
        Decimal("0.00001"),
        Decimal("9000"),
        Decimal("5"),
    )
    older = {
        **raw,
        "filters": [*raw["filters"][:2], {"filterType": "MIN_NOTIONAL", "minNotional": "10"}],
    }
    assert instrument(older).min_notional == Decimal("10")
    with pytest.raises(OrderWireError, match="LOT_SIZE"):
        instrument({**raw, "filters": raw["filters"][:1]})


def test_plain_decimals_are_what_an_order_sends() -> None:
    assert plain_decimal("0.00100000") == "0.001"
    assert plain_decimal("45000.0") == "45000"
    assert plain_decimal("100") == "100"
    assert plain_decimal("1E-8") == "0.00000001"
    with pytest.raises(ValueError, match="not a decimal"):
        plain_decimal("abc")


# ---------------------------------------------------------------------------- the factory


class _Provider:
    def __init__(self, ws_url: str, rest_url: str) -> None:
        self.ws_url = ws_url
        self.rest_url = rest_url


def _config(**trading: Any) -> BinanceVenueConfig:
    return BinanceVenueConfig.model_validate({"symbols": ["BTCUSDT"], "trading": trading})


def test_the_registry_names_the_factory_and_it_reads_the_trading_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert order_venue_factory("binance") is order_venue
    monkeypatch.setenv("TRADEGW_BINANCE_API_KEY", "k" * 20)
    monkeypatch.setenv("TRADEGW_BINANCE_API_SECRET", "s" * 20)
    sim = _Provider("ws://127.0.0.1:4321", "http://127.0.0.1:4322")
    none = BinanceVenueConfig.model_validate({"symbols": ["BTCUSDT"]})
    assert order_venue(none, sim) is None  # type: ignore[arg-type]
    assert order_venue(_config(enabled=False), sim) is None  # type: ignore[arg-type]
    venue = order_venue(_config(), sim)  # type: ignore[arg-type]
    assert isinstance(venue, BinanceOrderVenue)
    assert (venue.ws_api_url, venue.rest_url) == (
        "ws://127.0.0.1:4321/ws-api/v3",
        "http://127.0.0.1:4322",
    )
    assert venue.query_grace_s == pytest.approx(7.0)
    assert "k" * 20 not in repr(venue)
    assert "s" * 20 not in repr(venue)
    live = _Provider("wss://stream.binance.com:9443", "https://api.binance.com")
    with pytest.raises(ValueError, match=r"wss://ws-api\.binance\.com"):
        order_venue(_config(), live)  # type: ignore[arg-type]
    explicit = order_venue(_config(url="wss://ws-api.binance.com:443/ws-api/v3"), live)  # type: ignore[arg-type]
    assert isinstance(explicit, BinanceOrderVenue)
    assert explicit.rest_url == "https://api.binance.com"


def test_the_factory_stops_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEY", "SECRET"):
        monkeypatch.delenv(f"TRADEGW_BINANCE_API_{name}", raising=False)
        monkeypatch.delenv(f"TRADEGW_BINANCE_API_{name}_FILE", raising=False)
    sim = _Provider("ws://127.0.0.1:4321", "http://127.0.0.1:4322")
    with pytest.raises(CredentialError, match="TRADEGW_BINANCE_API_KEY"):
        order_venue(_config(), sim)  # type: ignore[arg-type]


def test_the_trading_section_refuses_what_the_venue_would() -> None:
    with pytest.raises(ValueError, match="recv_window_ms"):
        _config(recv_window_ms=60_001)
    with pytest.raises(ValueError, match="api_key"):
        _config(api_key="in the file")
