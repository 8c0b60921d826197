"""The Binance provider's frame handling, fed frames directly (no socket): the recorded real
traffic replayed through it, and crafted frames for what the recording lacks."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson
import pytest

from tests.core._recorded import read_frames, recorded_file
from tests.unit._factories import recording_dispatcher
from tradegw._core import BookAssembler
from tradegw.consumers.demo import BookConsumer
from tradegw.providers.base import SnapshotToken, TrackedBook
from tradegw.providers.base.decode import step_decimals
from tradegw.providers.binance import BinanceProvider, BinanceVenueConfig
from tradegw.providers.binance.rest import DepthSnapshot, SymbolInfo
from tradegw.schema import Event
from tradegw.telemetry import Telemetry

RECORDED = ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"]


class _Provider(BinanceProvider):
    """Records snapshot requests instead of fetching them over REST."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requested: list[tuple[str, SnapshotToken]] = []

    def request_snapshot(self, book: TrackedBook, token: SnapshotToken) -> None:
        self.requested.append((book.symbol, token))


def _provider(
    symbols: list[str], precision: tuple[int, int] = (8, 8), **config: Any
) -> tuple[_Provider, list[Event], Telemetry]:
    dispatcher, received = recording_dispatcher()
    telemetry = dispatcher.telemetry
    cfg = BinanceVenueConfig(symbols=symbols, **config)
    provider = _Provider(cfg, dispatcher, telemetry, ws_url="ws://127.0.0.1:1", rest_url="")
    for s in symbols:
        info = SymbolInfo(s, s[:-4], s[-4:], "TRADING", *precision)
        provider.symbols[s] = info
        provider.add_book(s, info.canonical, BookAssembler("binance", *precision))
    provider.on_connected()
    return provider, received, telemetry


def feed(provider: BinanceProvider, msg: dict[str, Any] | bytes) -> None:
    payload = msg if isinstance(msg, bytes) else orjson.dumps(msg)
    provider._on_frame(payload, time.time_ns())


def test_recorded_traffic_syncs_every_book_and_every_book_ticker_agrees() -> None:
    rest = [f for f in read_frames(recorded_file("BINANCE.http.0.0")) if f.direction == "rest"]
    ws = [f for f in read_frames(recorded_file("BINANCE.ws.1.0")) if f.direction == "recv"]
    provider, received, telemetry = _provider(RECORDED, book_depth=10, snapshot_limit=1000)
    consumer = BookConsumer()
    for frame in sorted(rest + ws, key=lambda f: f.epoch):
        if frame.direction == "rest":
            assert frame.url is not None
            symbol = frame.url.split("symbol=")[1].split("&")[0]
            book = provider.book(symbol)
            assert book is not None
            snap = frame.data
            done = provider.apply_snapshot(
                book,
                book.token(),
                DepthSnapshot(snap["lastUpdateId"], snap["bids"], snap["asks"]),
            )
            assert done
        else:
            feed(provider, frame.data)
    for event in received:
        consumer.on_event(event)
    c = telemetry.counters
    # Step 3 of Binance's procedure: one snapshot request per book, on its first diff.
    assert sorted(s for s, _ in provider.requested) == sorted(RECORDED)
    assert c.get("sequence_gaps") == 0
    assert c.get("resyncs") == 0
    assert telemetry.dlq.count == 0
    # protocols.md §1.4: 26 bookTickers carry the id of an applied diff; all agree.
    assert c.get("bbo_checked") == 26
    assert c.get("bbo_mismatches") == 0
    types = Counter(e.event_type for e in received)
    assert types["BookSnapshot"] == 4
    assert types["BookUpdate"] > 100
    assert types["Trade"] > 0
    assert types["Ticker"] > 0
    assert types["KlineSummary"] > 0
    for symbol in RECORDED:
        book = provider.book(symbol)
        assert book is not None
        assert book.status == "synced"
        mine = consumer.books[("binance", book.canonical)]
        # The published updates, applied to the published snapshot, give the top 10.
        assert mine.top(10) == book.asm.book.top(10), symbol


def _diff(symbol: str, first: int, final: int, bids: Any = (), asks: Any = ()) -> dict[str, Any]:
    return {
        "stream": f"{symbol.lower()}@depth@100ms",
        "data": {
            "e": "depthUpdate",
            "E": 1_700_000_000_000,
            "s": symbol,
            "U": first,
            "u": final,
            "b": list(bids),
            "a": list(asks),
        },
    }


def _synced(symbol: str = "BTCUSDT") -> tuple[_Provider, list[Event], Telemetry, TrackedBook]:
    provider, received, telemetry = _provider([symbol], precision=(2, 4))
    feed(provider, _diff(symbol, 9, 11, bids=[["100.00", "1"]]))
    book = provider.book(symbol)
    assert book is not None
    snap = DepthSnapshot(10, [("100.00", "2"), ("99.00", "1")], [("101.00", "1")])
    assert provider.apply_snapshot(book, book.token(), snap)
    assert book.status == "synced"
    return provider, received, telemetry, book


def test_a_gap_resyncs_only_that_book_and_asks_for_a_snapshot() -> None:
    provider, received, telemetry, book = _synced()
    feed(provider, _diff("BTCUSDT", 12, 12, asks=[["101.00", "2"]]))
    feed(provider, _diff("BTCUSDT", 14, 15, asks=[["101.00", "3"]]))  # 13 is missing
    assert telemetry.counters.get("sequence_gaps") == 1
    assert book.status == "resyncing"
    assert book.reason == "gap"
    assert [s for s, _ in provider.requested] == ["BTCUSDT", "BTCUSDT"]
    statuses = [(e.state, e.reason) for e in received if e.event_type == "BookStatus"]  # type: ignore[attr-defined]
    assert statuses[-1] == ("resyncing", "gap")
    # A snapshot answer asked for before the gap belongs to an old epoch: dropped.
    old = provider.requested[0][1]
    assert provider.apply_snapshot(book, old, DepthSnapshot(16, [("1.00", "1")], []))
    assert telemetry.counters.get("snapshots_discarded") == 1
    assert book.status == "resyncing"
    # The new one connects to the diff that revealed the gap, which was kept.
    new = provider.requested[-1][1]
    snap = DepthSnapshot(14, [("100.00", "2")], [("101.00", "9")])
    assert provider.apply_snapshot(book, new, snap)
    assert book.status == "synced"
    assert book.asm.book.best_ask() == ("101.00", "3.0000")


def test_a_snapshot_older_than_the_first_buffered_diff_is_fetched_again() -> None:
    provider, _, telemetry = _provider(["BTCUSDT"], precision=(2, 4))
    feed(provider, _diff("BTCUSDT", 20, 22, bids=[["100.00", "1"]]))
    book = provider.book("BTCUSDT")
    assert book is not None
    assert not provider.apply_snapshot(book, book.token(), DepthSnapshot(10, [], []))
    assert telemetry.counters.get("snapshot_refetches") == 1
    assert provider.apply_snapshot(
        book, book.token(), DepthSnapshot(21, [("99.00", "1")], [("101.00", "1")])
    )
    assert book.status == "synced"
    assert book.asm.book.best_bid() == ("100.00", "1.0000")


def test_updates_outside_the_published_depth_publish_nothing() -> None:
    provider, received, _ = _provider(["BTCUSDT"], precision=(2, 4), book_depth=1)
    feed(provider, _diff("BTCUSDT", 9, 11))
    book = provider.book("BTCUSDT")
    assert book is not None
    snap = DepthSnapshot(10, [("100.00", "2"), ("99.00", "1")], [("101.00", "1")])
    assert provider.apply_snapshot(book, book.token(), snap)
    feed(provider, _diff("BTCUSDT", 12, 12, bids=[["98.00", "5"]]))  # below the top 1
    feed(provider, _diff("BTCUSDT", 13, 13, bids=[["100.00", "0"]]))  # 99.00 comes into view
    updates = [e for e in received if e.event_type == "BookUpdate"]
    assert [(u.bids, u.asks) for u in updates] == [  # type: ignore[attr-defined]
        ([("100.00", "0"), ("99.00", "1.0000")], [])
    ]


def test_book_ticker_disagreeing_with_the_book_resyncs_it() -> None:
    provider, received, telemetry, book = _synced()
    ticker = {
        "stream": "btcusdt@bookTicker",
        "data": {"u": 11, "s": "BTCUSDT", "b": "100.00", "B": "1.5", "a": "101.00", "A": "1"},
    }
    feed(provider, ticker)
    assert telemetry.counters.get("bbo_mismatches") == 1
    assert book.status == "resyncing"
    assert book.reason == "checksum"
    tickers = [e for e in received if e.event_type == "Ticker"]
    assert [(t.bid, t.bid_qty) for t in tickers] == [("100.00", "1.5")]  # type: ignore[attr-defined]


def test_trades_tickers_klines_and_control_frames() -> None:
    provider, received, telemetry, _ = _synced()
    feed(
        provider,
        {
            "stream": "btcusdt@trade",
            "data": {
                "e": "trade",
                "E": 1,
                "s": "BTCUSDT",
                "t": 7,
                "p": "100.50",
                "q": "0.25",
                "T": 1_700_000_000_123,
                "m": True,
                "M": True,
            },
        },
    )
    feed(
        provider,
        {
            "stream": "btcusdt@ticker",
            "data": {
                "e": "24hrTicker",
                "E": 2,
                "s": "BTCUSDT",
                "p": "-1.50",
                "P": "-1.47",
                "w": "100.10",
                "c": "100.50",
                "v": "12.5",
                "h": "102.00",
                "l": "99.00",
                "b": "100.00",
                "B": "2",
                "a": "101.00",
                "A": "1",
            },
        },
    )
    k = {"t": 1_700_000_040_000, "i": "1m", "o": "1", "h": "2", "l": "0.5", "c": "1.5"}
    k |= {"v": "10", "n": 3, "x": False}
    feed(
        provider,
        {"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": 3, "s": "BTCUSDT", "k": k}},
    )
    feed(provider, {"result": None, "id": 1})
    by_type = {e.event_type: e for e in received}
    trade = by_type["Trade"]
    assert (trade.side, trade.trade_id, trade.exchange_ts) == (
        "sell",
        "7",
        1_700_000_000_123_000_000,
    )  # type: ignore[attr-defined]
    tick = by_type["Ticker"]
    assert (tick.last, tick.change, tick.change_pct, tick.bid) == (
        "100.50",
        "-1.50",
        "-1.47",
        "100.00",
    )  # type: ignore[attr-defined]
    kline = by_type["KlineSummary"]
    assert (kline.interval_s, kline.trades, kline.closed, kline.open_ts) == (
        60,
        3,
        False,
        1_700_000_040_000_000_000,
    )  # type: ignore[attr-defined]
    assert telemetry.dlq.count == 0


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json",
        b"[1]",
        b'{"stream":"x","data":[1]}',
        b'{"e":"nonsense"}',
        b'{"e":"depthUpdate","s":"NOPEUSDT","U":1,"u":2,"b":[],"a":[]}',
        b'{"e":"trade","s":"BTCUSDT","t":1,"p":1.5,"q":"1","T":1,"m":true}',
        b'{"e":"trade","s":"BTCUSDT","t":1,"p":"-1","q":"1","T":1,"m":true}',
        b'{"e":"trade","s":"BTCUSDT","t":"x","p":"1","q":"1","T":1,"m":true}',
        b'{"e":"kline","s":"BTCUSDT","k":{"i":"7q"}}',
    ],
)
def test_malformed_frames_go_to_the_dlq(bad: bytes) -> None:
    provider, _, telemetry, book = _synced()
    feed(provider, bad)
    assert telemetry.dlq.count == 1
    assert book.status == "synced"


def test_a_malformed_diff_resyncs_its_book() -> None:
    provider, _, telemetry, book = _synced()
    feed(provider, _diff("BTCUSDT", 12, 12, bids=[["1.001", "1"]]))  # 3 decimals at precision 2
    assert telemetry.dlq.count == 1
    assert book.status == "resyncing"


def test_server_shutdown_and_connection_age_end_the_connection() -> None:
    provider, _, telemetry, _ = _synced()
    dropped: list[bool] = []
    provider.disconnect = lambda: dropped.append(True)  # type: ignore[method-assign]
    feed(provider, {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1}})
    assert dropped == [True]
    assert telemetry.counters.get("server_shutdowns") == 1
    provider.connected_at = 0.0
    assert provider.on_tick(provider.config.max_connection_age_s + 1) is False
    assert provider.on_tick(1.0) is True
    assert telemetry.counters.get("planned_reconnects") == 1


def test_stream_names_in_the_url() -> None:
    provider, _, _ = _provider(["BTCUSDT", "ETHUSDT"], channels=["depth", "aggTrade", "kline"])
    url = provider.connect_url()
    assert url == (
        "ws://127.0.0.1:1/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade/"
        "btcusdt@kline_1m/ethusdt@depth@100ms/ethusdt@aggTrade/ethusdt@kline_1m"
    )


@pytest.mark.parametrize(
    ("step", "decimals"), [("0.01000000", 2), ("1.00000000", 0), ("0.00000100", 6), ("10", 0)]
)
def test_step_decimals(step: str, decimals: int) -> None:
    assert step_decimals(step) == decimals


def test_config_requires_snapshots_as_deep_as_the_published_book() -> None:
    with pytest.raises(ValueError, match="snapshot_limit"):
        BinanceVenueConfig(book_depth=50, snapshot_limit=20)


@pytest.mark.parametrize("ids", [("x", 12), (12, 1.5), (-1, 12), (12, str(2**64)), ("12", None)])
def test_a_diff_with_unreadable_ids_resyncs_its_book(ids: tuple[Any, Any]) -> None:
    provider, _, telemetry, book = _synced()
    diff = _diff("BTCUSDT", 12, 12)
    diff["data"]["U"], diff["data"]["u"] = ids
    if ids[1] is None:
        del diff["data"]["u"]
    feed(provider, diff)
    assert telemetry.dlq.count == 1
    assert book.status == "resyncing"
    assert book.reason == "gap"


def test_a_diff_with_a_bad_event_time_is_applied_but_not_published() -> None:
    """The adapter reads ``E`` after applying the diff: the book keeps the diff (and its
    continuity), the frame goes to the DLQ without a BookUpdate, and the book stays synced."""
    provider, received, telemetry, book = _synced()
    bad = _diff("BTCUSDT", 12, 12, asks=[["101.00", "2"]])
    bad["data"]["E"] = "yesterday"
    feed(provider, bad)
    assert telemetry.dlq.count == 1
    assert book.status == "synced"
    assert book.asm.last_update_id == 12
    assert book.asm.book.best_ask() == ("101.00", "2.0000")
    assert [e for e in received if e.event_type == "BookUpdate"] == []
    feed(provider, _diff("BTCUSDT", 13, 13, asks=[["101.00", "3"]]))
    updates = [e for e in received if e.event_type == "BookUpdate"]
    assert [u.asks for u in updates] == [[("101.00", "3.0000")]]  # type: ignore[attr-defined]
    assert telemetry.counters.get("sequence_gaps") == 0


def test_a_day_ticker_with_a_bad_event_time_still_leaves_its_figures() -> None:
    provider, received, telemetry, _ = _synced()
    day = {
        "e": "24hrTicker",
        "E": "x",
        "s": "BTCUSDT",
        "p": "-1.50",
        "P": "-1.47",
        "w": "100.10",
        "c": "100.50",
        "v": "12.5",
        "h": "102.00",
        "l": "99.00",
        "b": "100.00",
        "B": "2",
        "a": "101.00",
        "A": "1",
    }
    feed(provider, {"stream": "btcusdt@ticker", "data": day})
    assert telemetry.dlq.count == 1
    assert [e for e in received if e.event_type == "Ticker"] == []
    ticker = {"u": 99, "s": "BTCUSDT", "b": "100.00", "B": "1", "a": "101.00", "A": "1"}
    feed(provider, {"stream": "btcusdt@bookTicker", "data": ticker})
    (tick,) = [e for e in received if e.event_type == "Ticker"]
    assert (tick.last, tick.change, tick.bid_qty) == ("100.50", "-1.50", "1")  # type: ignore[attr-defined]


def test_the_decoded_hook_gets_the_event_and_the_bench_stamp() -> None:
    provider, _, _, _ = _synced()
    seen: list[dict[str, Any]] = []
    provider.on_decoded = lambda msg, trace_id: seen.append(msg)
    diff = orjson.dumps(_diff("BTCUSDT", 12, 12))
    feed(provider, diff[:-1] + b',"sim_send_ns":123456789}')
    feed(provider, {"result": None, "id": 1, "sim_send_ns": 5})
    trade = {"e": "trade", "s": "BTCUSDT", "t": 1, "p": "1", "q": "1", "m": True}
    feed(provider, trade)
    assert seen == [
        {"event": "depthUpdate", "sim_send_ns": "123456789"},
        {"result": None, "id": 1, "sim_send_ns": 5},
        {"event": "trade"},
    ]
