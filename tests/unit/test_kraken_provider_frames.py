"""The Kraken provider's frame handling, fed frames directly (no socket)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tradegw.config import DispatcherConfig
from tradegw.dispatch import Dispatcher
from tradegw.providers.kraken import KrakenProvider, KrakenVenueConfig
from tradegw.schema import Event
from tradegw.telemetry import Telemetry


def _provider() -> tuple[KrakenProvider, list[Event], Telemetry]:
    telemetry = Telemetry()
    dispatcher = Dispatcher(DispatcherConfig(), telemetry)
    sub = dispatcher.subscribe(name="all")
    received: list[Event] = []
    orig = sub.offer

    def offer(event: Event) -> None:
        received.append(event)
        orig(event)

    sub.offer = offer  # type: ignore[method-assign]
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
