"""The Coinbase simulator's WebSocket, exercised by a real client over loopback and checked
against protocols.md (sections 2.1 and 5, including its captured Advanced Trade frames)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.sim.coinbase_helpers import PLAIN, RFC3339_NANO, Client, parse, strip_volatile
from tradegw.sim.coinbase import CoinbaseSimConfig, CoinbaseSimulator

pytestmark = pytest.mark.timeout(20)

# Real captured frames (protocols.md section 5), their shapes being what the simulator copies.
CAPTURED_L2 = (
    '{"channel":"l2_data","client_id":"","timestamp":"2026-09-07T01:57:58.894355Z",'
    '"sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-PERP-INTX","updates":['
    '{"side":"offer","event_time":"2026-09-07T01:57:58.894355Z","price_level":"79944.1",'
    '"new_quantity":"1.2"},{"side":"bid","event_time":"2026-09-07T01:57:58.894355Z",'
    '"price_level":"79943.9","new_quantity":"3.0105"}]}]}'
)
CAPTURED_ACK = (
    '{"channel":"subscriptions","timestamp":"2026-09-07T23:37:22.278739877Z","sequence_num":2,'
    '"events":[{"subscriptions":{"heartbeats":["heartbeats"],'
    '"level2":["BTC-PERP-INTX","ETH-PERP-INTX"]}}]}'
)
CAPTURED_HEARTBEAT = (
    '{"channel":"heartbeats","timestamp":"2026-09-07T23:37:22.675755362Z","sequence_num":3,'
    '"events":[{"current_time":"2026-09-07 23:37:22.674409 +0000 UTC m=+139651.272674714",'
    '"heartbeat_counter":139651}]}'
)
GO_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d*[1-9])? \+0000 UTC m=\+\d+\.\d{9}")


def _shape(value: Any) -> Any:
    """The keys (in order) and value types of a frame, recursively; lists by their first
    item."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


@asynccontextmanager
async def connect(sim: CoinbaseSimulator) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_url) as ws:
        yield Client(ws)


def _sim(**config: Any) -> CoinbaseSimulator:
    settings: dict[str, Any] = {"pairs": 3, "rate": 0, "seed": 5, **config}
    return CoinbaseSimulator(CoinbaseSimConfig.model_validate(settings))


async def test_level2_snapshot_ack_and_updates_have_the_captured_shapes() -> None:
    async with _sim() as sim, connect(sim) as client:
        await client.subscribe("level2", ["BTC-USD"])
        snapshot, ack = await client.ack()
        assert _shape(snapshot) == _shape(json.loads(CAPTURED_L2))
        assert snapshot["sequence_num"] == 0
        assert ack["sequence_num"] == 1
        event = snapshot["events"][0]
        assert (event["type"], event["product_id"]) == ("snapshot", "BTC-USD")
        updates = event["updates"]
        assert {u["event_time"] for u in updates} == {"1970-01-01T00:00:00Z"}
        assert {u["side"] for u in updates} == {"bid", "offer"}
        # The whole book, every level of it.
        bids, asks = sim.market.top("BTC-USD")
        assert len(updates) == len(bids) + len(asks) > 500
        assert all(PLAIN.fullmatch(u["price_level"]) for u in updates)
        assert all(PLAIN.fullmatch(u["new_quantity"]) for u in updates)
        # The ack: no client_id, as captured; the level2 product list.
        assert list(ack) == ["channel", "timestamp", "sequence_num", "events"]
        assert ack["events"] == [{"subscriptions": {"level2": ["BTC-USD"]}}]
        assert RFC3339_NANO.fullmatch(ack["timestamp"])

        sim.advance("BTC-USD", 60)
        frames = await client.drain()
        assert frames
        assert {f["channel"] for f in frames} == {"l2_data"}
        for frame in frames:
            assert list(frame) == ["channel", "client_id", "timestamp", "sequence_num", "events"]
            (event,) = frame["events"]
            assert event["type"] == "update"
            for u in event["updates"]:
                assert u["side"] in ("bid", "offer")
                assert RFC3339_NANO.fullmatch(u["event_time"])
                assert PLAIN.fullmatch(u["new_quantity"])
        assert any(u["new_quantity"] == "0" for f in frames for u in f["events"][0]["updates"])
        assert client.contiguous()
        pp = sim.product("BTC-USD").price_precision
        qp = sim.product("BTC-USD").size_precision
        assert client.books["BTC-USD"].top(10_000, pp, qp) == sim.book("BTC-USD")


async def test_heartbeats_have_the_captured_shape_and_count_server_beats() -> None:
    async with _sim(heartbeat_interval=0.2) as sim, connect(sim) as client:
        await client.subscribe("heartbeats")
        (ack,) = await client.ack()
        assert _shape(ack) == _shape(json.loads(CAPTURED_ACK)) | {
            "events": [{"subscriptions": {"heartbeats": ["str"]}}]
        }
        assert ack["events"] == [{"subscriptions": {"heartbeats": ["heartbeats"]}}]
        beats = [await client.recv(1.0) for _ in range(4)]
        for beat in beats:
            assert _shape(beat) == _shape(json.loads(CAPTURED_HEARTBEAT))
            assert GO_TIME.fullmatch(beat["events"][0]["current_time"])
        counters = [b["events"][0]["heartbeat_counter"] for b in beats]
        assert counters == list(range(counters[0], counters[0] + 4))
        assert client.contiguous()
        assert ack["sequence_num"] == 0
        assert beats[0]["sequence_num"] == 1


async def test_one_sequence_num_counts_every_frame_of_every_channel() -> None:
    products = ["BTC-USD", "ETH-USD"]
    config = {"rate": 400.0, "heartbeat_interval": 0.2, "ticker_batch_interval_s": 0.3}
    async with _sim(**config) as sim, connect(sim) as client:
        await client.subscribe("heartbeats")
        for channel in ("level2", "market_trades", "ticker", "ticker_batch", "candles"):
            await client.subscribe(channel, products)
        await client.subscribe("status")
        await asyncio.sleep(1.5)
        sim.pause()
        frames = await client.drain()
        channels = {f["channel"] for f in frames}
        assert channels == {
            "subscriptions",
            "heartbeats",
            "l2_data",
            "market_trades",
            "ticker",
            "ticker_batch",
            "candles",
            "status",
        }
        assert client.contiguous(), client.seqs[:50]
        assert len(client.seqs) == len(frames) > 100
        # One snapshot frame for both products of a level2 subscribe.
        first_l2 = next(f for f in frames if f["channel"] == "l2_data")
        assert [e["product_id"] for e in first_l2["events"]] == products
        for product_id in products:
            product = sim.product(product_id)
            mine = client.books[product_id].top(50, product.price_precision, product.size_precision)
            assert mine == sim.book(product_id, 50)


async def test_two_connections_number_their_frames_independently() -> None:
    async with _sim() as sim, connect(sim) as first, connect(sim) as second:
        await first.subscribe("heartbeats")
        await first.subscribe("level2", ["ETH-USD"])
        await first.ack()
        await first.ack()
        await second.subscribe("level2", ["ETH-USD"])
        await second.ack()
        sim.advance("ETH-USD", 40)
        a, b = await first.drain(), await second.drain()
        assert first.contiguous()
        assert second.contiguous()
        # The same updates, numbered by each connection on its own.
        updates_a = [strip_volatile(t) for t in first.texts[3:]]
        updates_b = [strip_volatile(t) for t in second.texts[2:]]
        assert updates_a == updates_b
        assert len(updates_a) == len(a) == len(b) > 20
        assert a[0]["sequence_num"] == 3
        assert b[0]["sequence_num"] == 2


async def test_a_subscribe_of_several_products_routes_by_each_events_product_id() -> None:
    async with _sim(rate=3000.0, seed=9) as sim, connect(sim) as client:
        ids = [p.product_id for p in sim.products]
        await client.subscribe("level2", ids)
        await asyncio.sleep(1.0)
        sim.pause()
        await client.drain()
        assert client.contiguous()
        for product in sim.products:
            pp, qp = product.price_precision, product.size_precision
            mine = client.books[product.product_id].top(10_000, pp, qp)
            assert mine == sim.book(product.product_id)


async def test_unsubscribe_acks_list_what_is_left_and_stop_the_stream() -> None:
    async with _sim() as sim, connect(sim) as client:
        await client.subscribe("level2", ["BTC-USD", "ETH-USD"])
        await client.ack()
        await client.subscribe("ticker", ["BTC-USD"])
        await client.ack()
        await client.unsubscribe("level2", ["BTC-USD"])
        (ack,) = await client.ack()
        subs = ack["events"][0]["subscriptions"]
        assert subs == {"level2": ["ETH-USD"], "ticker": ["BTC-USD"]}
        sim.advance("BTC-USD", 30)
        frames = await client.drain()
        assert frames
        assert {f["channel"] for f in frames} == {"ticker"}
        # Without product_ids the whole channel goes.
        await client.unsubscribe("ticker")
        (ack,) = await client.ack()
        assert ack["events"][0]["subscriptions"] == {"level2": ["ETH-USD"]}
        await client.unsubscribe("level2", [])
        (ack,) = await client.ack()
        assert ack["events"] == [{"subscriptions": {}}]
        # Unsubscribing what is not subscribed is no error: just the ack.
        await client.unsubscribe("candles", ["BTC-USD"])
        (ack,) = await client.ack()
        assert ack["events"] == [{"subscriptions": {}}]
        assert client.contiguous()
        assert sim.feed.subscriptions.active == []


async def test_a_repeated_subscribe_sends_no_second_snapshot() -> None:
    async with _sim() as sim, connect(sim) as client:
        await client.subscribe("level2", ["BTC-USD"])
        assert len(await client.ack()) == 2
        await client.subscribe("level2", ["BTC-USD", "ETH-USD"])
        snapshot, ack = await client.ack()
        assert [e["product_id"] for e in snapshot["events"]] == ["ETH-USD"]
        assert ack["events"][0]["subscriptions"]["level2"] == ["BTC-USD", "ETH-USD"]
        await client.subscribe("level2", ["ETH-USD"])
        assert len(await client.ack()) == 1


@pytest.mark.parametrize(
    ("body", "message", "reason"),
    [
        (
            {"type": "subscribe", "channel": "level3", "product_ids": ["BTC-USD"]},
            "authentication failure",
            None,
        ),
        ({"type": "subscribe", "channel": "user"}, "authentication failure", None),
        (
            {"type": "subscribe", "channel": "level2", "product_ids": ["BTC-EUR"]},
            "Failed to subscribe",
            "BTC-EUR is not a valid product",
        ),
        (
            {"type": "subscribe", "channel": "level2"},
            "Failed to subscribe",
            "level2 needs product_ids",
        ),
        (
            {"type": "subscribe", "channels": ["level2"], "product_ids": ["BTC-USD"]},
            "Failed to subscribe",
            "channel is required (one per message)",
        ),
        (
            {"type": "subscribe", "channel": "ticker", "product_ids": "BTC-USD"},
            "Failed to subscribe",
            "product_ids must be a list of strings",
        ),
        (
            {"type": "hello", "channel": "ticker"},
            "malformed message",
            "type must be subscribe or unsubscribe",
        ),
        ([1, 2], "malformed message", "not a JSON object"),
    ],
)
async def test_bad_requests_get_error_frames_that_use_no_number(
    body: Any, message: str, reason: str | None
) -> None:
    async with _sim() as sim, connect(sim) as client:
        await client.send(body)
        error = await client.recv()
        expected = {"type": "error", "message": message}
        if reason is not None:
            expected["reason"] = reason
        assert error == expected
        await client.ws.send_str("{not json")
        assert (await client.recv())["reason"] == "not JSON"
        # Nothing was subscribed by the bad request, and it used no sequence number.
        await client.subscribe("heartbeats")
        (ack,) = await client.ack()
        assert ack["sequence_num"] == 0
        assert ack["events"] == [{"subscriptions": {"heartbeats": ["heartbeats"]}}]
        assert sim.feed.subscriptions.active == []


async def _closed_within(client: Client, seconds: float) -> float:
    """Seconds until the server closes the connection (fails after ``seconds``)."""
    start = time.monotonic()
    while True:
        msg = await asyncio.wait_for(client.ws.receive(), seconds)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return time.monotonic() - start
        client.texts.append(msg.data)


async def test_a_connection_that_does_not_subscribe_in_time_is_closed() -> None:
    async with _sim(subscribe_deadline_s=0.4) as sim:
        async with connect(sim) as client:
            # A refused subscribe does not count.
            await client.subscribe("level9")
            took = await _closed_within(client, 3.0)
            assert 0.2 < took < 1.5
            assert json.loads(client.texts[0])["type"] == "error"
        async with connect(sim) as client:
            await client.subscribe("status", ["BTC-USD"])
            await client.ack()
            with pytest.raises(TimeoutError):
                await _closed_within(client, 1.0)
    assert CoinbaseSimConfig().subscribe_deadline_s == 5.0


async def test_an_idle_connection_is_closed_unless_it_takes_heartbeats() -> None:
    config = {"idle_timeout_s": 0.5, "heartbeat_interval": 0.2}
    async with _sim(**config) as sim, connect(sim) as quiet, connect(sim) as beating:
        await quiet.subscribe("level2", ["BTC-USD"])
        await beating.subscribe("level2", ["BTC-USD"])
        await beating.subscribe("heartbeats")
        await quiet.ack()
        took = await _closed_within(quiet, 3.0)
        assert 0.3 < took < 1.5
        # The other one kept receiving heartbeats all along and is still open.
        frames = await beating.collect(0.4)
        assert any(f["channel"] == "heartbeats" for f in frames)
        assert not beating.ws.closed


async def test_market_trades_name_the_makers_side_newest_first() -> None:
    async with _sim(seed=3) as sim, connect(sim) as client:
        await client.subscribe("market_trades", ["ETH-USD"])
        snapshot, _ = await client.ack()
        history = list(sim.market.state("ETH-USD").trades)
        trades = snapshot["events"][0]["trades"]
        assert snapshot["events"][0]["type"] == "snapshot"
        assert [t["trade_id"] for t in trades] == [str(t.trade_id) for t in reversed(history)]
        for frame_trade, trade in zip(trades, reversed(history), strict=True):
            # The market records the taker's side; Coinbase writes the maker's.
            assert frame_trade["side"] == {"buy": "SELL", "sell": "BUY"}[trade.side]
            assert list(frame_trade) == ["trade_id", "product_id", "price", "size", "side", "time"]
            assert PLAIN.fullmatch(frame_trade["price"])
            assert PLAIN.fullmatch(frame_trade["size"])
        sim.advance("ETH-USD", 80)
        updates = await client.drain()
        assert updates
        assert all(f["events"][0]["type"] == "update" for f in updates)
        ids = [int(t["trade_id"]) for f in updates for t in f["events"][0]["trades"]]
        assert max(ids) == sim.market.state("ETH-USD").trades[-1].trade_id
        assert len(set(ids)) == len(ids)


async def test_ticker_candles_and_batch_carry_the_documented_fields() -> None:
    async with _sim(ticker_batch_interval_s=0.5) as sim, connect(sim) as client:
        await client.subscribe("ticker", ["BTC-USD"])
        await client.subscribe("candles", ["BTC-USD"])
        await client.subscribe("ticker_batch", ["BTC-USD"])
        frames = await client.ack() + await client.ack() + await client.ack()
        ticker = frames[0]["events"][0]["tickers"][0]
        assert list(ticker) == [
            "type",
            "product_id",
            "price",
            "volume_24_h",
            "low_24_h",
            "high_24_h",
            "low_52_w",
            "high_52_w",
            "price_percent_chg_24_h",
            "best_bid",
            "best_bid_quantity",
            "best_ask",
            "best_ask_quantity",
        ]
        (bid, _bid_qty), (ask, ask_qty) = (side[0] for side in sim.book("BTC-USD", 1))
        assert Decimal(ticker["best_bid"]) == Decimal(bid)
        assert Decimal(ticker["best_ask_quantity"]) == Decimal(ask_qty)
        assert (
            Decimal(ticker["low_24_h"]) <= Decimal(ticker["price"]) <= Decimal(ticker["high_24_h"])
        )
        assert re.fullmatch(r"-?\d+(\.\d{1,14})?", ticker["price_percent_chg_24_h"])
        candle = frames[2]["events"][0]["candles"][0]
        assert list(candle) == ["start", "high", "low", "open", "close", "volume", "product_id"]
        assert int(candle["start"]) % 300 == 0
        batch = frames[4]["events"][0]["tickers"][0]
        assert batch["type"] == "ticker_batch"
        assert "best_bid" not in batch
        sim.advance("BTC-USD", 60)
        frames = await client.collect(0.7)
        by_channel: dict[str, list[Any]] = {}
        for f in frames:
            by_channel.setdefault(f["channel"], []).append(f)
        assert by_channel.keys() == {"ticker", "candles", "ticker_batch"}
        last = by_channel["ticker"][-1]["events"][0]["tickers"][0]
        (bid, _), (ask, _) = (side[0] for side in sim.book("BTC-USD", 1))
        assert (Decimal(last["best_bid"]), Decimal(last["best_ask"])) == (
            Decimal(bid),
            Decimal(ask),
        )
        assert Decimal(last["price"]) == Decimal(sim.market.state("BTC-USD").last_price) / 10
        assert by_channel["ticker_batch"][-1]["events"][0]["type"] == "update"
        assert client.contiguous()


async def test_status_lists_the_products() -> None:
    async with _sim() as sim, connect(sim) as client:
        await client.subscribe("status")
        status, ack = await client.ack()
        products = status["events"][0]["products"]
        assert [p["id"] for p in products] == [p.product_id for p in sim.products]
        btc = products[0]
        assert btc["product_type"] == "SPOT"
        assert btc["status"] == "online"
        assert (btc["quote_increment"], btc["base_increment"]) == ("0.1", "0.00000001")
        assert ack["events"][0]["subscriptions"]["status"] == sorted(p["id"] for p in products)


async def test_stamp_send_ns_marks_data_frames_only() -> None:
    async with _sim(stamp_send_ns=True) as sim, connect(sim) as client:
        await client.subscribe("level2", ["BTC-USD"])
        snapshot, ack = await client.ack()
        assert isinstance(snapshot["sim_send_ns"], int)
        assert "sim_send_ns" not in ack
        sim.advance("BTC-USD", 5)
        frames = await client.drain()
        assert frames
        assert all(f["sim_send_ns"] > 0 for f in frames)
        assert client.contiguous()


async def test_unknown_paths_are_refused_and_the_root_is_served() -> None:
    async with _sim() as sim, aiohttp.ClientSession() as session:
        assert sim.ws_url.endswith("/")
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(sim.ws_url + "v2")
        async with session.ws_connect(sim.ws_url.rstrip("/")) as ws:
            await ws.send_str('{"type":"subscribe","channel":"heartbeats"}')
            assert parse(await ws.receive_str(timeout=2))["channel"] == "subscriptions"
