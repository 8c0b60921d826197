"""The Kraken provider's frame handling, fed frames directly (no socket)."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson

from tests.hostile.attacks import encode, hole, hostile_values
from tests.hostile.venues import KRAKEN
from tests.unit._factories import recording_dispatcher
from tradegw.providers.kraken import KrakenProvider, KrakenVenueConfig
from tradegw.schema import Event
from tradegw.telemetry import Telemetry


def _provider() -> tuple[KrakenProvider, list[Event], Telemetry]:
    dispatcher, received = recording_dispatcher()
    telemetry = dispatcher.telemetry
    config = KrakenVenueConfig(symbols=["BTC/USD"], channels=["book", "trade"])
    provider = KrakenProvider(config, dispatcher, telemetry, ws_url="ws://127.0.0.1:1/v2")
    feed(
        provider,
        {
            "channel": "instrument",
            "type": "snapshot",
            "data": {
                "assets": [],
                "pairs": [{"symbol": "BTC/USD", "price_precision": 1, "qty_precision": 8}],
            },
        },
    )
    return provider, received, telemetry


def feed(provider: KrakenProvider, msg: dict[str, Any] | bytes) -> None:
    payload = msg if isinstance(msg, bytes) else orjson.dumps(msg)
    provider._on_frame(payload, time.time_ns())


def trades(kind: str, *ids: int) -> dict[str, Any]:
    return {
        "channel": "trade",
        "type": kind,
        "data": [
            {
                "symbol": "BTC/USD",
                "side": "buy",
                "price": 45000.5,
                "qty": 0.25,
                "ord_type": "limit",
                "trade_id": i,
                "timestamp": "2023-09-25T07:48:36.925533Z",
            }
            for i in ids
        ],
    }


def test_first_trade_snapshot_is_history_and_resubscription_publishes_only_news() -> None:
    provider, received, telemetry = _provider()
    feed(provider, trades("snapshot", 1, 2, 3))
    assert [e for e in received if e.event_type == "Trade"] == []
    feed(provider, trades("update", 4))
    feed(provider, trades("snapshot", 2, 3, 4, 5, 6))  # after a reconnect
    got = [e.trade_id for e in received if e.event_type == "Trade"]  # type: ignore[union-attr]
    assert got == ["4", "5", "6"]
    assert telemetry.counters.get("duplicate_trades") == 3
    assert all(e.price == "45000.5" for e in received if e.event_type == "Trade")  # type: ignore[union-attr]


def test_malformed_frames_go_to_the_dlq_and_never_raise() -> None:
    provider, _, telemetry = _provider()
    for bad in (
        b"{not json",
        b'{"channel":"nope"}',
        b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],'
        b'"asks":[],"checksum":Infinity}]}',
        b"[" * 5000,
        b'{"hello":1}',
        b"[1,2]",
    ):
        feed(provider, bad)
    assert telemetry.dlq.count == 6
    assert {e["reason"] for e in telemetry.dlq.recent} == {"malformed"}


def test_checksum_mismatch_marks_the_book_resyncing() -> None:
    provider, received, telemetry = _provider()
    feed(
        provider,
        {
            "channel": "book",
            "type": "snapshot",
            "data": [
                {
                    "symbol": "BTC/USD",
                    "bids": [{"price": 100.0, "qty": 1}],
                    "asks": [{"price": 101.5, "qty": 2}],
                    "checksum": 0,
                }
            ],
        },
    )
    assert telemetry.counters.get("checksum_failed") == 1
    statuses = [e for e in received if e.event_type == "BookStatus"]
    assert [(s.state, s.reason) for s in statuses] == [("resyncing", "checksum")]  # type: ignore[union-attr]
    assert provider.books()["BTC-USD"][0] == "resyncing"
    assert provider.book_snapshot("kraken", "BTC-USD") is None


def test_one_malformed_trade_item_is_rejected_alone_and_never_remembered() -> None:
    provider, received, telemetry = _provider()
    feed(provider, trades("snapshot", 1))
    frame = trades("update", 2, 3, 4)
    frame["data"][1]["side"] = "sideways"  # id 3: malformed, must not be remembered
    frame["data"][2]["trade_id"] = 10**30  # id 10**30: not a 64-bit trade id
    feed(provider, json.dumps(frame).encode())  # orjson cannot even write such an id
    feed(provider, trades("update", 4, 5))
    got = [e.trade_id for e in received if e.event_type == "Trade"]  # type: ignore[attr-defined]
    assert got == ["2", "4", "5"]
    assert telemetry.dlq.count == 2
    assert telemetry.counters.get("duplicate_trades") == 0


def test_a_live_trade_id_that_jumps_millions_ahead_is_refused_not_remembered() -> None:
    provider, received, telemetry = _provider()
    feed(provider, trades("snapshot", 1, 2))
    feed(provider, trades("update", 2**62))  # a valid 64-bit id, but no pair trades that fast
    feed(provider, trades("update", 3, 4))
    got = [e.trade_id for e in received if e.event_type == "Trade"]  # type: ignore[attr-defined]
    assert got == ["3", "4"]
    assert telemetry.dlq.count == 1
    assert "jumps" in telemetry.dlq.recent[0]["detail"]


def test_a_bogus_high_trade_id_from_a_snapshot_is_rebased_by_the_next_one() -> None:
    provider, received, telemetry = _provider()
    feed(provider, trades("snapshot", 1, 2))
    feed(provider, trades("snapshot", 2**62))  # snapshots may re-base, so no jump check
    feed(provider, trades("update", 3))  # looks old next to it: dropped as a repeat
    # The next snapshot (a reconnect, a resubscription) shows the venue's real newest id.
    feed(provider, trades("snapshot", 2, 3, 4))
    feed(provider, trades("update", 5, 6))
    got = [e.trade_id for e in received if e.event_type == "Trade"]  # type: ignore[attr-defined]
    assert got == [str(2**62), "5", "6"]
    assert telemetry.counters.get("trade_ids_rebased") == 1


def test_trades_tickers_and_candles_of_unsubscribed_symbols_go_to_the_dlq() -> None:
    provider, received, telemetry = _provider()
    frame = trades("update", 9)
    frame["data"][0]["symbol"] = "DOGE/USD"
    feed(provider, frame)
    feed(provider, {"channel": "ticker", "type": "update", "data": [{"symbol": "DOGE/USD"}]})
    feed(provider, {"channel": "ohlc", "type": "update", "data": [{"symbol": "ETH/USD"}]})
    assert telemetry.dlq.count == 3
    assert [e for e in received if e.event_type in ("Trade", "Ticker", "KlineSummary")] == []


def test_hostile_number_tokens_are_each_their_items_loss() -> None:
    """The tokens the hostile-venue tests spoil prices with, put into one trade, one ticker
    and one candle item between well-formed neighbours: every spoiled item is refused on its
    own (in the DLQ with the frame) and every neighbour is published."""
    provider, received, telemetry = _provider()
    feed(provider, trades("snapshot", 1))
    values = hostile_values(KRAKEN)
    next_id = 2
    for value in values:
        for key in ("price", "qty"):
            frame = trades("update", next_id, next_id + 1, next_id + 2)
            frame["data"][1][key] = hole(0)
            feed(provider, encode(frame, [value]))
            next_id += 3
        ticker = {
            "symbol": "BTC/USD",
            "bid": 45000.5,
            "bid_qty": 1.5,
            "ask": 45001.0,
            "ask_qty": 2,
            "timestamp": "2023-09-25T07:48:36.925533Z",
        }
        candle = {
            "symbol": "BTC/USD",
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 10,
            "interval_begin": "2023-09-25T07:48:00.000000Z",
            "interval": 1,
        }
        for channel, item, key in (("ticker", ticker, "bid"), ("ohlc", candle, "open")):
            spoiled = {**item, key: hole(0)}
            msg = {"channel": channel, "type": "update", "data": [item, spoiled, item]}
            feed(provider, encode(msg, [value]))
    # Every trade id not spoiled, in order; none of the spoiled ones.
    expected = [str(i) for i in range(2, next_id) if (i - 2) % 3 != 1]
    got = [e.trade_id for e in received if e.event_type == "Trade"]  # type: ignore[attr-defined]
    assert got == expected
    tickers = [e for e in received if e.event_type == "Ticker"]
    candles = [e for e in received if e.event_type == "KlineSummary"]
    assert len(tickers) == 2 * len(values)
    # A candle's prices may be zero (the adapter checks them as decimals, not as positive):
    # only the "0" token passes there.
    assert len(candles) == 2 * len(values) + 1
    assert {t.bid for t in tickers} == {"45000.5"}  # type: ignore[attr-defined]
    assert {c.open for c in candles} == {"1.0", "0"}  # type: ignore[attr-defined]
    # Ticker and candle numbering has no holes: a refused item takes no sequence number.
    assert [t.seq_provider for t in tickers] == list(range(1, 2 * len(values) + 1))
    lost = telemetry.dlq.recent
    assert telemetry.dlq.count == 4 * len(values) - 1
    assert {e["reason"] for e in lost} == {"malformed"}
    assert all(e["detail"].split(":")[0] in ("trade", "ticker", "ohlc") for e in lost)
    assert telemetry.counters.get("duplicate_trades") == 0
