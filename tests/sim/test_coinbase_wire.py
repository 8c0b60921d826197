"""Coinbase wire text and product naming, without sockets."""

from __future__ import annotations

import json
import time

import pytest

from tests.sim.coinbase_helpers import PLAIN, RFC3339_NANO
from tradegw.sim.coinbase.products import build_products, parse_product_id
from tradegw.sim.coinbase.wire import (
    Sequenced,
    envelope,
    error_frame,
    go_time,
    level2_event,
    percent_change,
    plain,
    rfc3339_nano,
    subscriptions_event,
)
from tradegw.sim.instruments import TABLE


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [
        (2192173, 2, "21921.73"),
        (799441, 1, "79944.1"),
        (30105000, 7, "3.0105"),
        (1546000, 2, "15460"),
        (0, 8, "0"),
        (1, 8, "0.00000001"),
        (100, 8, "0.000001"),
        (7, 0, "7"),
        (-415775596190603, 14, "-4.15775596190603"),
        (-1300, 3, "-1.3"),
    ],
)
def test_amounts_are_minimal_decimal_text(value: int, precision: int, text: str) -> None:
    assert plain(value, precision) == text
    assert PLAIN.fullmatch(text.lstrip("-"))


def test_percent_change_keeps_fourteen_decimals_and_its_sign() -> None:
    assert percent_change(95, 100) == "-5"
    assert percent_change(100, 100) == "0"
    assert percent_change(2, 3) == "-33.33333333333333"
    assert percent_change(4, 3) == "33.33333333333333"
    assert percent_change(5, 0) == "0"


def test_times_are_go_rfc3339nano_with_trailing_zeros_dropped() -> None:
    second = 1_675_974_575_000_000_000  # 2023-02-09T20:29:35Z
    assert rfc3339_nano(second) == "2023-02-09T20:29:35Z"
    assert rfc3339_nano(second + 396_251_350) == "2023-02-09T20:29:35.39625135Z"
    assert rfc3339_nano(second + 1) == "2023-02-09T20:29:35.000000001Z"
    now = time.time_ns()
    assert RFC3339_NANO.fullmatch(rfc3339_nano(now))
    text = go_time(second + 674_409_000, 139_651_272_674_714)
    assert text == "2023-02-09 20:29:35.674409 +0000 UTC m=+139651.272674714"


def test_an_envelope_is_numbered_per_copy_and_corruption_flips_the_number() -> None:
    frame = envelope("l2_data", "2023-02-09T20:32:50.714964855Z", ['{"a":1}'], symbol="BTC-USD")
    assert json.loads(frame.numbered(7)) == {
        "channel": "l2_data",
        "client_id": "",
        "timestamp": "2023-02-09T20:32:50.714964855Z",
        "sequence_num": 7,
        "events": [{"a": 1}],
    }
    first, second = Sequenced(frame, 4), Sequenced(frame, 5)
    assert json.loads(first.render())["sequence_num"] == 4
    assert json.loads(second.render())["sequence_num"] == 5
    assert json.loads(first.corrupted().render())["sequence_num"] == 5
    assert json.loads(second.corrupted().render())["sequence_num"] == 4
    assert first.corrupted().render() != first.render()
    # Acks and heartbeats carry no client_id, as captured.
    ack = envelope("subscriptions", "t", ["{}"], client_id=False)
    assert "client_id" not in json.loads(ack.numbered(0))


def test_level2_event_and_ack_and_error_shapes() -> None:
    event = json.loads(
        level2_event("update", "BTC-USD", [(2192173, 6317902)], [(2192200, 0)], 2, 8, "T")
    )
    assert event == {
        "type": "update",
        "product_id": "BTC-USD",
        "updates": [
            {
                "side": "bid",
                "event_time": "T",
                "price_level": "21921.73",
                "new_quantity": "0.06317902",
            },
            {"side": "offer", "event_time": "T", "price_level": "21922", "new_quantity": "0"},
        ],
    }
    ack = json.loads(
        subscriptions_event(
            {"level2": ["ETH-USD", "BTC-USD"], "heartbeats": ["heartbeats"], "ticker": []}
        )
    )
    # Keys and ids sorted; an empty channel is not listed.
    assert list(ack["subscriptions"]) == ["heartbeats", "level2"]
    assert ack["subscriptions"]["level2"] == ["BTC-USD", "ETH-USD"]
    assert json.loads(error_frame("authentication failure")) == {
        "type": "error",
        "message": "authentication failure",
    }


def test_products_are_named_base_quote_with_their_increments() -> None:
    products = build_products(len(TABLE) + 2)
    assert [p.product_id for p in products[:3]] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    assert products[len(TABLE)].product_id == "SYM17-USD"
    btc = products[0]
    assert (btc.quote_increment, btc.base_increment) == ("0.1", "0.00000001")
    assert (btc.base, btc.quote, btc.name) == ("BTC", "USD", "BTC-USD")
    named = build_products(["ETH-BTC", "FOO-USD"])
    assert named[0].quote_increment == "0.00001"
    assert named[1].product_id == "FOO-USD"
    assert parse_product_id("BTC-USD") == ("BTC", "USD")
    for bad in ("BTC-PERP-INTX", "BTCUSD", "btc-usd", "-USD", 'A"-USD'):
        with pytest.raises(ValueError, match="BASE-QUOTE"):
            parse_product_id(bad)
    with pytest.raises(ValueError, match="twice"):
        build_products(["BTC-USD", "BTC-USD"])
