"""The Coinbase Advanced Trade provider's frame handling, fed frames directly (no socket)."""

from __future__ import annotations

import calendar
import time
from typing import Any

import orjson
import pytest

from tests.unit._factories import recording_dispatcher
from tradegw._core import BookAssembler
from tradegw.consumers.demo import BookConsumer
from tradegw.providers.base import RestError
from tradegw.providers.base.decode import step_decimals
from tradegw.providers.coinbase import CoinbaseProvider, CoinbaseVenueConfig
from tradegw.providers.coinbase.rest import ProductInfo, parse_product
from tradegw.schema import Event
from tradegw.telemetry import Telemetry


class _Provider(CoinbaseProvider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[dict[str, Any]] = []

    def send_text(self, payload: bytes) -> bool:
        self.sent.append(orjson.loads(payload))
        return True


def _provider(
    products: tuple[str, ...] = ("BTC-USD", "ETH-USD"), **config: Any
) -> tuple[_Provider, list[Event], Telemetry]:
    dispatcher, received = recording_dispatcher()
    telemetry = dispatcher.telemetry
    cfg = CoinbaseVenueConfig(symbols=list(products), **config)
    provider = _Provider(cfg, dispatcher, telemetry, ws_url="ws://127.0.0.1:1", rest_url="")
    for p in products:
        info = ProductInfo(p, "online", False, 2, 8)
        provider.products[p] = info
        provider.add_book(p, p, BookAssembler("coinbase", 2, 8))
    provider.on_connected()
    return provider, received, telemetry


class _Wire:
    """Numbers frames the way one Coinbase connection does."""

    def __init__(self, provider: CoinbaseProvider) -> None:
        self.provider = provider
        self.seq = 0

    def send(self, channel: str, events: list[Any], *, seq: int | None = None) -> None:
        if seq is None:
            seq = self.seq
        self.seq = seq + 1
        frame = {
            "channel": channel,
            "client_id": "",
            "timestamp": "2026-09-07T01:57:58.894355Z",
            "sequence_num": seq,
            "events": events,
        }
        self.provider._on_frame(orjson.dumps(frame), time.time_ns())

    def level2(
        self, kind: str, product: str, *levels: tuple[str, str, str], seq: int | None = None
    ) -> None:
        updates = [
            {
                "side": side,
                "event_time": "1970-01-01T00:00:00Z",
                "price_level": p,
                "new_quantity": q,
            }
            for side, p, q in levels
        ]
        self.send("l2_data", [{"type": kind, "product_id": product, "updates": updates}], seq=seq)


def _synced() -> tuple[_Provider, list[Event], Telemetry, _Wire]:
    provider, received, telemetry = _provider()
    wire = _Wire(provider)
    wire.send("subscriptions", [{"subscriptions": {"level2": ["BTC-USD", "ETH-USD"]}}])
    for product in ("BTC-USD", "ETH-USD"):
        wire.level2(
            "snapshot",
            product,
            ("offer", "101.00", "1"),  # unsorted, as the venue sends them
            ("bid", "99.50", "2"),
            ("offer", "100.50", "0.5"),
            ("bid", "100.00", "1.25"),
        )
    return provider, received, telemetry, wire


def test_subscribes_every_channel_and_heartbeats_on_connect() -> None:
    provider, _, _ = _provider()
    assert provider.sent == [
        {"type": "subscribe", "channel": "heartbeats"},
        *[
            {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": c}
            for c in ("level2", "market_trades", "ticker", "candles")
        ],
    ]


def test_snapshot_and_updates_build_the_book_consumers_see() -> None:
    provider, received, telemetry, wire = _synced()
    wire.level2("update", "BTC-USD", ("bid", "100.00", "0"), ("offer", "100.75", "3"))
    wire.level2("update", "ETH-USD", ("bid", "100.10", "1"))
    book = provider.book("BTC-USD")
    assert book is not None
    assert book.status == "synced"
    assert book.asm.book.best_bid() == ("99.50", "2.00000000")
    assert book.asm.book.best_ask() == ("100.50", "0.50000000")
    consumer = BookConsumer()
    for event in received:
        consumer.on_event(event)
    for product in ("BTC-USD", "ETH-USD"):
        theirs = provider.book(product)
        assert theirs is not None
        assert consumer.books[("coinbase", product)].top(10) == theirs.asm.book.top(10)
    assert telemetry.counters.get("sequence_gaps") == 0
    assert telemetry.dlq.count == 0


def test_a_skipped_sequence_num_resyncs_every_book_of_the_connection() -> None:
    provider, received, telemetry, wire = _synced()
    provider.sent.clear()
    wire.send("heartbeats", [{"current_time": "x", "heartbeat_counter": 5}], seq=wire.seq + 1)
    assert telemetry.counters.get("sequence_gaps") == 1
    for product in ("BTC-USD", "ETH-USD"):
        book = provider.book(product)
        assert book is not None
        assert (book.status, book.reason) == ("resyncing", "gap")
    # level2 unsubscribe + subscribe per product: a fresh snapshot each.
    assert [(m["type"], m["product_ids"]) for m in provider.sent] == [
        ("unsubscribe", ["BTC-USD"]),
        ("subscribe", ["BTC-USD"]),
        ("unsubscribe", ["ETH-USD"]),
        ("subscribe", ["ETH-USD"]),
    ]
    # Updates while resyncing are not published; the snapshot brings the book back.
    before = sum(e.event_type == "BookUpdate" for e in received)
    wire.level2("update", "BTC-USD", ("bid", "100.20", "1"))
    assert sum(e.event_type == "BookUpdate" for e in received) == before
    wire.level2("snapshot", "BTC-USD", ("bid", "100.00", "1"), ("offer", "100.50", "1"))
    book = provider.book("BTC-USD")
    assert book is not None
    assert book.status == "synced"
    assert received[-1].event_type == "BookSnapshot"


def test_a_repeated_frame_is_dropped() -> None:
    provider, received, telemetry, wire = _synced()
    n = len(received)
    wire.level2("update", "BTC-USD", ("bid", "100.20", "1"), seq=wire.seq - 1)
    assert telemetry.counters.get("duplicate_frames") == 1
    assert len(received) == n
    book = provider.book("BTC-USD")
    assert book is not None
    assert book.asm.book.best_bid() == ("100.00", "1.25000000")


def test_an_update_before_its_snapshot_resyncs_the_product() -> None:
    provider, _, _ = _provider()
    wire = _Wire(provider)
    wire.level2("update", "BTC-USD", ("bid", "100.00", "1"))
    book = provider.book("BTC-USD")
    assert book is not None
    assert (book.status, book.reason) == ("resyncing", "gap")
    assert provider.sent[-1] == {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channel": "level2",
    }


@pytest.mark.parametrize(
    "level",
    [("ask", "100.00", "1"), ("bid", "-1", "1"), ("bid", "100.001", "1"), ("bid", "1e2", "1")],
)
def test_a_malformed_level_goes_to_the_dlq_and_resyncs(level: tuple[str, str, str]) -> None:
    provider, _, telemetry, wire = _synced()
    wire.level2("update", "BTC-USD", level)
    assert telemetry.dlq.count == 1
    btc, eth = provider.book("BTC-USD"), provider.book("ETH-USD")
    assert btc is not None
    assert eth is not None
    assert btc.status == "resyncing"
    assert eth.status == "synced"


def test_trades_first_snapshot_is_history_repeats_are_dropped_and_side_is_the_aggressor() -> None:
    _, received, telemetry, wire = _synced()

    def trades(kind: str, *ids: str, side: str = "BUY") -> None:
        wire.send(
            "market_trades",
            [
                {
                    "type": kind,
                    "trades": [
                        {
                            "trade_id": i,
                            "product_id": "BTC-USD",
                            "price": "100.25",
                            "size": "0.3",
                            "side": side,
                            "time": "2019-08-14T20:42:27.265Z",
                        }
                        for i in ids
                    ],
                }
            ],
        )

    trades("snapshot", "1", "2")
    trades("update", "3", side="SELL")
    trades("snapshot", "2", "3", "4")  # after a re-subscription
    got = [(e.trade_id, e.side) for e in received if e.event_type == "Trade"]  # type: ignore[attr-defined]
    assert got == [("3", "buy"), ("4", "sell")]  # the maker sold: the aggressor bought
    assert telemetry.counters.get("duplicate_trades") == 2


def test_trade_side_can_be_read_as_the_takers() -> None:
    provider, received, _ = _provider(trade_side_is_maker=False)
    wire = _Wire(provider)
    trade = {"trade_id": "9", "product_id": "BTC-USD", "price": "1", "size": "1", "side": "BUY"}
    wire.send("market_trades", [{"type": "update", "trades": [trade]}])
    assert [e.side for e in received if e.event_type == "Trade"] == ["buy"]  # type: ignore[attr-defined]


def test_tickers_candles_heartbeats_and_errors() -> None:
    provider, received, telemetry, wire = _synced()
    ticker = {
        "type": "ticker",
        "product_id": "BTC-USD",
        "price": "100.25",
        "volume_24_h": "16038.28770938",
        "low_24_h": "99.00",
        "high_24_h": "102.00",
        "price_percent_chg_24_h": "-4.15775596190603",
        "best_bid": "100.00",
        "best_bid_quantity": "1.25",
        "best_ask": "100.50",
        "best_ask_quantity": "0.5",
    }
    wire.send("ticker", [{"type": "snapshot", "tickers": [ticker]}])
    candle = {
        "start": "1688998200",
        "high": "2",
        "low": "1",
        "open": "1.5",
        "close": "1.75",
        "volume": "10",
        "product_id": "ETH-USD",
    }
    wire.send("candles", [{"type": "update", "candles": [candle]}])
    wire.send("heartbeats", [{"current_time": "now", "heartbeat_counter": "3049"}])
    provider._on_frame(b'{"type":"error","message":"authentication failure"}', time.time_ns())
    by_type = {e.event_type: e for e in received}
    tick = by_type["Ticker"]
    assert (tick.bid, tick.ask_qty, tick.last, tick.change_pct) == (  # type: ignore[attr-defined]
        "100.00",
        "0.5",
        "100.25",
        "-4.15775596190603",
    )
    kline = by_type["KlineSummary"]
    assert (kline.symbol, kline.interval_s, kline.open_ts) == ("ETH-USD", 300, 1688998200 * 10**9)  # type: ignore[attr-defined]
    assert telemetry.counters.get("request_errors") == 1
    assert telemetry.dlq.count == 0
    assert telemetry.counters.get("sequence_gaps") == 0


def test_real_captured_frames() -> None:
    """Advanced Trade frames captured 2026-09-07 (protocols.md §5): acks and heartbeats take
    sequence numbers on the same connection as the data."""
    provider, received, telemetry = _provider(("BTC-PERP-INTX",))
    frames = [
        b'{"channel":"l2_data","client_id":"","timestamp":"2026-09-07T01:57:58.894355Z",'
        b'"sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-PERP-INTX","updates":['
        b'{"side":"offer","event_time":"2026-09-07T01:57:58.894355Z","price_level":"79944.1","new_quantity":"1.2"},'
        b'{"side":"bid","event_time":"2026-09-07T01:57:58.894355Z","price_level":"79943.9","new_quantity":"3.0105"}]}]}',
        b'{"channel":"subscriptions","timestamp":"2026-09-07T23:37:22.278662782Z","sequence_num":1,'
        b'"events":[{"subscriptions":{"level2":["BTC-PERP-INTX","ETH-PERP-INTX"]}}]}',
        b'{"channel":"subscriptions","timestamp":"2026-09-07T23:37:22.278739877Z","sequence_num":2,'
        b'"events":[{"subscriptions":{"heartbeats":["heartbeats"],"level2":["BTC-PERP-INTX","ETH-PERP-INTX"]}}]}',
        b'{"channel":"heartbeats","timestamp":"2026-09-07T23:37:22.675755362Z","sequence_num":3,'
        b'"events":[{"current_time":"2026-09-07 23:37:22.674409 +0000 UTC m=+139651.272674714",'
        b'"heartbeat_counter":139651}]}',
    ]
    for frame in frames:
        provider._on_frame(frame, time.time_ns())
    assert telemetry.dlq.count == 0
    assert telemetry.counters.get("sequence_gaps") == 0
    snap = next(e for e in received if e.event_type == "BookSnapshot")
    assert snap.bids == [("79943.90", "3.01050000")]  # type: ignore[attr-defined]
    assert snap.asks == [("79944.10", "1.20000000")]  # type: ignore[attr-defined]
    assert snap.exchange_ts == calendar.timegm((2026, 9, 7, 1, 57, 58)) * 10**9 + 894_355_000


@pytest.mark.parametrize(
    "bad",
    [
        b"{oops",
        b"[]",
        b'{"hello":1}',
        b'{"channel":"l2_data","sequence_num":"x","events":[]}',
        b'{"channel":"nope","events":[]}',
        b'{"channel":"ticker","events":[{"tickers":"no"}]}',
        b'{"channel":"l2_data","events":[{"type":"update","product_id":"DOGE-USD","updates":[]}]}',
        b'{"channel":"market_trades","events":[{"type":"update","trades":[{"trade_id":5,"product_id":"BTC-USD"}]}]}',
    ],
)
def test_malformed_frames_go_to_the_dlq(bad: bytes) -> None:
    provider, _, telemetry = _provider()
    provider._on_frame(bad, time.time_ns())
    assert telemetry.dlq.count == 1


def test_products_reference_data() -> None:
    info = parse_product(
        {
            "product_id": "BTC-USD",
            "quote_increment": "0.01",
            "base_increment": "0.00000001",
            "status": "online",
            "trading_disabled": False,
        }
    )
    assert (info.price_precision, info.qty_precision) == (2, 8)
    assert step_decimals("1") == 0
    with pytest.raises(RestError):
        parse_product({"product_id": "X", "quote_increment": "abc", "base_increment": "1"})


# ---- read natively: the sequence check first, and the same unit of loss ----


def test_a_frame_malformed_past_its_sequence_number_still_counts() -> None:
    provider, _, telemetry, wire = _synced()
    frame = {"channel": "l2_data", "sequence_num": wire.seq, "timestamp": "nope", "events": []}
    provider._on_frame(orjson.dumps(frame), time.time_ns())
    frame = {"channel": "ticker", "sequence_num": wire.seq + 1}
    provider._on_frame(orjson.dumps(frame), time.time_ns())
    wire.seq += 2
    wire.level2("update", "BTC-USD", ("bid", "100.20", "1"))
    assert telemetry.dlq.count == 2
    assert [e["detail"] for e in telemetry.dlq.recent] == [
        'FrameError: bad timestamp "nope"',
        "FrameError: frame without an events list",
    ]
    assert telemetry.counters.get("sequence_gaps") == 0
    book = provider.book("BTC-USD")
    assert book is not None
    assert book.status == "synced"


def test_a_frame_orjson_refuses_is_refused_whole_before_its_number_counts() -> None:
    provider, _, telemetry, wire = _synced()
    bad = b'{"channel":"l2_data","sequence_num":%d,"events":[],"x":1e400}' % wire.seq
    provider._on_frame(bad, time.time_ns())
    assert telemetry.dlq.recent[-1]["detail"].startswith("FrameError: not JSON: number is infinity")
    wire.seq += 1
    wire.send("heartbeats", [{"current_time": "x", "heartbeat_counter": 1}])
    assert telemetry.counters.get("sequence_gaps") == 1  # the refused frame never counted


def test_a_market_frame_nested_too_deep_for_the_native_reader_counts_and_is_lost() -> None:
    provider, received, telemetry, wire = _synced()
    n = len(received)
    deep = {"channel": "l2_data", "sequence_num": wire.seq, "events": [], "x": [[[]]]}
    payload = orjson.dumps(deep).replace(b"[[[]]]", b"[" * 200 + b"]" * 200)
    provider._on_frame(payload, time.time_ns())
    assert telemetry.dlq.count == 1
    assert "nested too deeply" in telemetry.dlq.recent[0]["detail"]
    wire.seq += 1
    wire.level2("update", "BTC-USD", ("bid", "100.20", "1"))
    assert telemetry.counters.get("sequence_gaps") == 0
    assert len(received) == n + 1


def test_a_malformed_item_is_its_own_loss_and_takes_no_event_number() -> None:
    _, received, telemetry, wire = _synced()
    good = {
        "product_id": "BTC-USD",
        "best_bid": "100.00",
        "best_bid_quantity": "1",
        "best_ask": "100.50",
        "best_ask_quantity": "1",
    }
    wire.send("ticker", [{"type": "update", "tickers": [good, {**good, "best_bid": 100.0}]}])
    wire.send("ticker", [{"type": "update", "tickers": [{**good, "best_bid": "100.25"}]}])
    [detail] = [e["detail"] for e in telemetry.dlq.recent]
    assert detail == 'ticker: FrameError: best_bid is not a decimal string: "100.0"'
    tickers = [e for e in received if e.event_type == "Ticker"]
    # Numbered 1, 2: a lost ticker leaves no hole for the dispatcher's ordering to wait on.
    assert [(t.bid, t.seq_provider) for t in tickers] == [("100.00", 1), ("100.25", 2)]  # type: ignore[attr-defined]


def test_a_malformed_trades_event_loses_the_rest_of_the_frame() -> None:
    _, received, telemetry, wire = _synced()
    trade = {"trade_id": "7", "product_id": "BTC-USD", "price": "1", "size": "1", "side": "SELL"}
    wire.send(
        "market_trades",
        [
            {"type": "update", "trades": [trade, {**trade, "trade_id": "a b"}]},
            {"type": "update", "trades": "none"},
            {"type": "update", "trades": [{**trade, "trade_id": "8"}]},
        ],
    )
    assert [e.trade_id for e in received if e.event_type == "Trade"] == ["7"]  # type: ignore[attr-defined]
    assert [e["detail"] for e in telemetry.dlq.recent] == [
        'trade: FrameError: trade_id "a b"',
        "FrameError: event without a list of trades",
    ]


def test_a_malformed_level2_event_resyncs_its_book_only() -> None:
    provider, _, telemetry, wire = _synced()
    wire.send(
        "l2_data",
        [
            {"type": "update", "product_id": "BTC-USD", "updates": [{"side": "bid"}]},
            {"type": "update", "product_id": "DOGE-USD", "updates": []},
            {"type": "update", "product_id": "ETH-USD", "updates": []},
        ],
    )
    assert [e["detail"] for e in telemetry.dlq.recent] == [
        "BTC-USD: FrameError: price_level is not a decimal string: None",
        'level2 event: FrameError: level2 for an unsubscribed symbol "DOGE-USD"',
    ]
    btc, eth = provider.book("BTC-USD"), provider.book("ETH-USD")
    assert btc is not None
    assert eth is not None
    assert (btc.status, eth.status) == ("resyncing", "synced")


def test_the_decoded_hook_gets_the_channel_and_the_bench_stamp() -> None:
    provider, _, _, wire = _synced()
    seen: list[dict[str, Any]] = []
    provider.on_decoded = lambda msg, trace_id: seen.append(msg)
    frame = {"channel": "candles", "sequence_num": wire.seq, "events": [], "sim_send_ns": 17}
    provider._on_frame(orjson.dumps(frame), time.time_ns())
    wire.seq += 1
    wire.send("heartbeats", [{"current_time": "x", "heartbeat_counter": 1}])
    assert seen[0] == {"channel": "candles", "sim_send_ns": "17"}
    assert seen[1]["channel"] == "heartbeats"
    assert int(seen[0]["sim_send_ns"]) == 17  # what benches/e2e_latency.py reads
