"""The Kraken simulator's WebSocket v2 side, exercised by a real client over loopback."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import aiohttp
import pytest

from tests.sim.kraken_helpers import (
    Client,
    MirrorBook,
    assert_full_precision,
    is_ack,
    number_texts,
    parse,
    ref_checksum,
    strip_times,
)
from tradegw.sim.kraken import KrakenSimConfig, KrakenSimulator

pytestmark = pytest.mark.timeout(15)

RFC3339_US = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@asynccontextmanager
async def connect(sim: KrakenSimulator) -> AsyncIterator[Client]:
    """A connected client whose status frame has already been read."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.ws_url, autoping=True) as ws,
    ):
        client = Client(ws)
        status = await client.recv()
        assert status["channel"] == "status"
        yield client


def _precisions(sim: KrakenSimulator, symbol: str) -> dict[str, int]:
    pair = sim.pair(symbol)
    price_keys = ("price", "bid", "ask", "last", "vwap", "low", "high", "change", "open", "close")
    out = dict.fromkeys(price_keys, pair.price_precision)
    out.update(dict.fromkeys(("qty", "bid_qty", "ask_qty", "volume"), pair.qty_precision))
    out["change_pct"] = 2
    return out


async def test_status_frame_on_connect() -> None:
    async with KrakenSimulator(rate=0) as sim, aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_url) as ws:
            text = await ws.receive_str(timeout=2)
        frame = parse(text)
        assert frame["channel"] == "status"
        assert frame["type"] == "update"
        (data,) = frame["data"]
        assert data["api_version"] == "v2"
        assert data["system"] == "online"
        assert data["version"] == "2.0.0"
        assert 2**63 <= data["connection_id"] < 2**64
        assert re.search(r'"connection_id":\d{19,20},', text)
        assert sim.ws_url.startswith("ws://127.0.0.1:")
        assert sim.ws_url.endswith("/v2")
        assert sim.stats()["connections_total"] == 1


async def test_other_paths_are_refused() -> None:
    async with KrakenSimulator(rate=0) as sim, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(sim.ws_url.replace("/v2", "/v1"))
        assert info.value.status == 404


async def test_book_snapshot_and_updates_rebuild_the_book_with_checksums() -> None:
    config = KrakenSimConfig(pairs=["BTC/USD", "MATIC/USD", "SHIB/USD"], rate=3000, seed=4)
    async with KrakenSimulator(config) as sim, connect(sim) as client:
        depths = {"BTC/USD": 10, "MATIC/USD": 25, "SHIB/USD": 100}
        mirrors = {}
        req_ids = {}
        for symbol, depth in depths.items():
            pair = sim.pair(symbol)
            mirrors[symbol] = MirrorBook(depth, pair.price_precision, pair.qty_precision)
            req_ids[symbol] = await client.subscribe("book", [symbol], depth=depth)
        updates = 0
        while updates < 400:
            text = await client.recv_text()
            frame = parse(text)
            if is_ack(frame):
                symbol = frame["result"]["symbol"]
                assert frame == {
                    "method": "subscribe",
                    "result": {
                        "channel": "book",
                        "depth": depths[symbol],
                        "snapshot": True,
                        "symbol": symbol,
                    },
                    "success": True,
                    "time_in": frame["time_in"],
                    "time_out": frame["time_out"],
                    "req_id": req_ids[symbol],
                }
                assert RFC3339_US.fullmatch(frame["time_in"])
                assert frame["time_in"] <= frame["time_out"]
                assert mirrors[symbol].frames == 0, "ack after data"
                continue
            assert frame["channel"] == "book"
            (data,) = frame["data"]
            symbol = data["symbol"]
            assert_full_precision(text, _precisions(sim, symbol))
            assert RFC3339_US.fullmatch(data["timestamp"])
            mirror = mirrors[symbol]
            if frame["type"] == "snapshot":
                assert mirror.frames == 0
                assert mirror.snapshot(data)
                assert len(data["bids"]) == len(data["asks"]) == depths[symbol]
            else:
                assert mirror.frames > 0, "update before snapshot"
                assert mirror.apply(data), f"checksum mismatch on {text}"
                updates += 1
        sim.pause()
        for frame in await client.drain():
            if frame.get("channel") == "book":
                (data,) = frame["data"]
                assert mirrors[data["symbol"]].apply(data)
        for symbol, mirror in mirrors.items():
            assert mirror.as_strings() == sim.book(symbol, depths[symbol])
            assert mirror.mismatches == 0
        assert all(m.frames > 20 for m in mirrors.values())


async def test_deep_and_shallow_subscribers_on_one_pair() -> None:
    """Depth 1000 sees the whole (shallow) book, depth 10 a truncated view: both stay exact."""
    config = KrakenSimConfig(pairs=1, rate=0, seed=8, book_levels=40)
    async with KrakenSimulator(config) as sim, connect(sim) as deep, connect(sim) as shallow:
        books = {}
        for client, depth in ((deep, 1000), (shallow, 10)):
            books[depth] = MirrorBook(depth, 1, 8)
            await client.subscribe("book", ["BTC/USD"], depth=depth)
            await client.recv_until(is_ack)
            snapshot = await client.recv()
            assert books[depth].snapshot(snapshot["data"][0])
        assert len(books[1000].bids) == len(sim.book("BTC/USD")[0])
        built = sim.advance("BTC/USD", 600)
        frames = {1000: await deep.drain(), 10: await shallow.drain()}
        assert len(frames[1000]) + len(frames[10]) == built
        for depth, received in frames.items():
            for frame in received:
                assert books[depth].apply(frame["data"][0])
            assert books[depth].as_strings() == sim.book("BTC/USD", depth)
        # Levels pushed below depth 10 were never deleted explicitly; depth 1000 saw deletes.
        zero_deep = sum(lv["qty"] == 0 for f in frames[1000] for lv in f["data"][0]["bids"])
        assert zero_deep > 0


async def test_numbers_are_written_at_full_precision_never_as_exponents() -> None:
    """protocols.md 3.2: ``62807.0``, ``0.00000000``, ``0.50930100`` on every data channel."""
    async with (
        KrakenSimulator(pairs=["SHIB/USD", "USDT/USD", "BTC/USD"], rate=0, seed=2) as sim,
        connect(sim) as client,
    ):
        symbols = ["SHIB/USD", "USDT/USD", "BTC/USD"]
        for channel in ("book", "trade", "ticker", "ohlc"):
            await client.subscribe(channel, symbols, **({"depth": 25} if channel == "book" else {}))
        await client.acks(12)
        for symbol in symbols:
            sim.advance(symbol, 300)
        await client.drain()
        seen = 0
        for text in client.texts:
            frame = parse(text)
            if frame.get("channel") in ("book", "trade", "ticker", "ohlc"):
                symbol = frame["data"][0]["symbol"]
                seen += assert_full_precision(text, _precisions(sim, symbol))
        assert seen > 1000
        raws = [raw for t in client.texts for _, raw in number_texts(t)]
        # SHIB prices have leading zeros at 8 decimals: 0.0000xxxx, never 1.2e-05.
        assert any(raw.startswith("0.0000") for raw in raws)
        # Deletes are written at full precision too, and whole prices keep their point.
        assert '"qty":0.00000000}' in "".join(client.texts)
        assert '"qty":0.00000}' in "".join(client.texts)  # SHIB qty precision 5
        assert any(re.fullmatch(r"\d+\.0", raw) for raw in raws), "no price like 45281.0"


async def test_trade_channel() -> None:
    async with KrakenSimulator(pairs=2, rate=0, seed=5) as sim, connect(sim) as client:
        await client.subscribe("trade", ["ETH/USD"], snapshot=True)
        ack = await client.recv()
        assert ack["result"] == {"channel": "trade", "snapshot": True, "symbol": "ETH/USD"}
        snapshot = await client.recv()
        assert snapshot["channel"] == "trade"
        assert snapshot["type"] == "snapshot"
        assert 1 <= len(snapshot["data"]) <= 50
        sim.advance("ETH/USD", 300)
        updates = await client.drain()
        assert updates
        assert all(u["type"] == "update" for u in updates)
        trades = snapshot["data"] + [t for u in updates for t in u["data"]]
        ids = [t["trade_id"] for t in trades]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)
        for trade in trades:
            assert set(trade) == {
                "symbol",
                "side",
                "price",
                "qty",
                "ord_type",
                "trade_id",
                "timestamp",
            }
            assert trade["side"] in ("buy", "sell")
            assert trade["ord_type"] in ("limit", "market")
            assert trade["qty"] > 0
            assert isinstance(trade["trade_id"], int)
        state = sim.market.state(sim.market_name("ETH/USD"))
        assert trades[-1]["price"] == Decimal(state.last_price) / 100


async def test_trade_snapshot_can_be_skipped() -> None:
    async with KrakenSimulator(pairs=1, rate=0) as sim, connect(sim) as client:
        await client.subscribe("trade", ["BTC/USD"], snapshot=False)
        assert (await client.recv())["result"]["snapshot"] is False
        assert await client.drain(0.15) == []


async def test_ticker_channel_trades_and_bbo() -> None:
    async with KrakenSimulator(pairs=1, rate=0, seed=3) as sim, connect(sim) as client:
        await client.subscribe("ticker", ["BTC/USD"])
        ack = await client.recv()
        assert ack["result"] == {
            "channel": "ticker",
            "event_trigger": "trades",
            "snapshot": True,
            "symbol": "BTC/USD",
        }
        snapshot = await client.recv()
        assert snapshot["type"] == "snapshot"
        fields = {
            "symbol",
            "bid",
            "bid_qty",
            "ask",
            "ask_qty",
            "last",
            "volume",
            "vwap",
            "low",
            "high",
            "change",
            "change_pct",
            "timestamp",
        }
        assert set(snapshot["data"][0]) == fields
        sim.advance("BTC/USD", 200)
        by_trades = await client.drain()
        state = sim.market.state("BTC-USD")
        assert by_trades, "ticker(trades) must publish on trades"
        last = by_trades[-1]["data"][0]
        assert last["bid"] < last["ask"]
        assert last["low"] <= last["last"] <= last["high"]
        assert last["last"] == Decimal(state.last_price) / 10
        await client.unsubscribe("ticker", ["BTC/USD"])
        unsub = await client.recv()
        assert unsub["result"] == {
            "channel": "ticker",
            "event_trigger": "trades",
            "symbol": "BTC/USD",
        }
        await client.subscribe("ticker", ["BTC/USD"], event_trigger="bbo", snapshot=False)
        assert (await client.recv())["result"]["event_trigger"] == "bbo"
        sim.advance("BTC/USD", 200)
        by_bbo = await client.drain()
        assert len(by_bbo) > len(by_trades) / 2
        top = by_bbo[-1]["data"][0]
        (bid, bid_qty), (ask, _ask_qty) = sim.market.best("BTC-USD")
        assert top["bid"] == Decimal(bid) / 10
        assert top["ask"] == Decimal(ask) / 10
        assert top["bid_qty"] == Decimal(bid_qty) / 10**8


async def test_ohlc_channel() -> None:
    async with KrakenSimulator(pairs=1, rate=0, seed=3) as sim, connect(sim) as client:
        await client.subscribe("ohlc", ["BTC/USD"], interval=5)
        ack = await client.recv()
        assert ack["result"] == {
            "channel": "ohlc",
            "interval": 5,
            "snapshot": True,
            "symbol": "BTC/USD",
        }
        snapshot = await client.recv()
        assert snapshot["channel"] == "ohlc"
        assert snapshot["type"] == "snapshot"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", snapshot["timestamp"])
        sim.advance("BTC/USD", 200)
        updates = await client.drain()
        assert updates
        candle = updates[-1]["data"][0]
        assert set(candle) == {
            "symbol",
            "open",
            "high",
            "low",
            "close",
            "trades",
            "volume",
            "vwap",
            "interval_begin",
            "interval",
            "timestamp",
        }
        assert candle["interval"] == 5
        assert candle["trades"] >= 1
        assert candle["low"] <= candle["open"] <= candle["high"]
        assert candle["low"] <= candle["vwap"] <= candle["high"]
        minute = int(candle["interval_begin"][14:16])
        assert minute % 5 == 0
        assert candle["interval_begin"].endswith(":00.000000000Z")
        # A second interval on the same symbol is a separate subscription.
        await client.subscribe("ohlc", ["BTC/USD"], interval=60, snapshot=False)
        assert (await client.recv())["success"] is True
        await client.unsubscribe("ohlc", ["BTC/USD"], interval=5)
        assert (await client.recv())["result"]["interval"] == 5


async def test_instrument_channel() -> None:
    async with (
        KrakenSimulator(pairs=["BTC/USD", "SHIB/USD"], rate=0) as sim,
        connect(sim) as client,
    ):
        await client.subscribe("instrument")
        ack = await client.recv()
        assert ack["result"] == {"channel": "instrument", "snapshot": True}
        text = await client.recv_text()
        frame = parse(text)
        assert frame["channel"] == "instrument"
        assert frame["type"] == "snapshot"
        assets = {a["id"] for a in frame["data"]["assets"]}
        assert assets == {"BTC", "USD", "SHIB"}
        pairs = {p["symbol"]: p for p in frame["data"]["pairs"]}
        btc = pairs["BTC/USD"]
        assert btc["base"] == "BTC"
        assert btc["quote"] == "USD"
        assert btc["status"] == "online"
        assert (btc["price_precision"], btc["qty_precision"]) == (1, 8)
        assert btc["price_increment"] == Decimal("0.1")
        assert btc["qty_increment"] == Decimal("0.00000001")
        assert btc["qty_min"] == Decimal("0.0001")
        assert btc["ws_display_price_precision"] == 1
        assert btc["marginable"] is True
        assert pairs["SHIB/USD"]["price_increment"] == Decimal("0.00000001")
        # The venue writes these numbers as a float's repr would: exponents for small ones.
        assert (
            '{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online",'
            '"qty_precision":8,"qty_increment":1e-08,"price_precision":1,"cost_precision":5,'
            '"marginable":true,"has_index":true,"ws_display_price_precision":1,"cost_min":0.5,'
            '"margin_initial":0.2,"position_limit_long":250,"position_limit_short":200,'
            '"tick_size":0.1,"price_increment":0.1,"qty_min":0.0001}'
        ) in text
        assert '"price_increment":1e-08,"qty_min":50000.0}' in text  # SHIB: 8 / 5 decimals
        assert '"collateral_value":1.0,"class":"currency"' in text
        await client.send({"method": "unsubscribe", "params": {"channel": "instrument"}})
        assert (await client.recv())["success"] is True


async def test_ping_pong() -> None:
    async with KrakenSimulator(rate=0) as sim, connect(sim) as client:
        req_id = await client.send({"method": "ping"})
        pong = await client.recv()
        assert pong["method"] == "pong"
        assert pong["req_id"] == req_id
        assert RFC3339_US.fullmatch(pong["time_in"])
        assert RFC3339_US.fullmatch(pong["time_out"])
        await client.ws.send_str('{"method":"ping"}')
        assert "req_id" not in await client.recv()


async def test_heartbeat_only_after_a_subscription_and_only_when_idle() -> None:
    async with (
        KrakenSimulator(rate=0, heartbeat_interval=0.2) as sim,
        connect(sim) as client,
    ):
        assert await client.drain(0.35) == []
        await client.subscribe("instrument", snapshot=False)
        await client.recv()
        started = time.monotonic()
        assert await client.recv() == {"channel": "heartbeat"}
        second = await client.recv()
        elapsed = time.monotonic() - started
        assert second == {"channel": "heartbeat"}
        assert 0.25 < elapsed < 1.0


async def test_unsubscribe_stops_the_channel() -> None:
    async with KrakenSimulator(pairs=2, rate=2000, seed=1) as sim, connect(sim) as client:
        await client.subscribe("book", ["BTC/USD", "ETH/USD"])
        for _ in range(20):
            await client.recv()
        req_id = await client.unsubscribe("book", ["BTC/USD"])
        ack = await client.recv_until(lambda f: is_ack(f, req_id))
        assert ack["result"] == {"channel": "book", "depth": 10, "symbol": "BTC/USD"}
        after = await client.collect(0.3)
        symbols = {f["data"][0]["symbol"] for f in after if f.get("channel") == "book"}
        assert symbols == {"ETH/USD"}
        await client.unsubscribe("book", ["ETH/USD"])
        await client.recv_until(is_ack)
        stats = sim.stats()
        await asyncio.sleep(0.2)
        assert sim.stats()["steps"] == stats["steps"], "nothing subscribed: the market rests"


@pytest.mark.parametrize(
    ("request_text", "error"),
    [
        (
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/XYZ"]},"req_id":7}',
            "Currency pair not supported BTC/XYZ",
        ),
        (
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":11},'
            '"req_id":7}',
            "Subscription depth not supported",
        ),
        (
            '{"method":"subscribe","params":{"channel":"nope","symbol":["BTC/USD"]},"req_id":7}',
            "Channel nope not supported",
        ),
        ('{"method":"subscribe","params":{"channel":"trade"},"req_id":7}', "symbol"),
        ('{"method":"subscribe","req_id":7}', "Missing params"),
        ('{"method":"subscribe","params":{"symbol":["BTC/USD"]},"req_id":7}', "Missing channel"),
        (
            '{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD"],'
            '"event_trigger":"x"},"req_id":7}',
            "Invalid event_trigger",
        ),
        (
            '{"method":"subscribe","params":{"channel":"ohlc","symbol":["BTC/USD"],"interval":2},'
            '"req_id":7}',
            "Invalid interval",
        ),
        (
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],'
            '"snapshot":"yes"},"req_id":7}',
            "snapshot must be a boolean",
        ),
        (
            '{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"]},"req_id":7}',
            "Subscription Not Found",
        ),
        ('{"method":"add_order","params":{},"req_id":7}', "Method not found"),
        ('{"method":"ping","req_id":"7"}', "req_id must be an integer"),
        ("{not json", "Malformed request"),
        ("[1,2]", "Malformed request"),
    ],
)
async def test_error_acks(request_text: str, error: str) -> None:
    async with KrakenSimulator(rate=0) as sim, connect(sim) as client:
        await client.ws.send_str(request_text)
        reply = await client.recv()
        assert reply["success"] is False
        assert error in reply["error"]
        assert RFC3339_US.fullmatch(reply["time_in"])
        if '"req_id":7' in request_text:
            assert reply["req_id"] == 7
        if "BTC/XYZ" in request_text:
            assert reply["symbol"] == "BTC/XYZ"
            assert reply["method"] == "subscribe"


async def test_mixed_symbols_get_one_ack_each_and_duplicates_are_refused() -> None:
    async with KrakenSimulator(rate=0) as sim, connect(sim) as client:
        req_id = await client.subscribe("trade", ["BTC/USD", "NOPE/USD", "ETH/USD"], snapshot=False)
        acks = [await client.recv() for _ in range(3)]
        assert [a["success"] for a in acks] == [True, False, True]
        assert all(a["req_id"] == req_id for a in acks)
        await client.subscribe("trade", ["BTC/USD"])
        again = await client.recv()
        assert again["success"] is False
        assert again["error"] == "Already subscribed"
        await client.subscribe("instrument", snapshot=False)
        await client.recv()
        await client.subscribe("instrument")
        assert (await client.recv())["error"] == "Already subscribed"
        await client.subscribe("heartbeat")
        assert (await client.recv())["result"] == {"channel": "heartbeat"}
        await client.ws.send_bytes(b"\x00")
        assert (await client.recv())["error"] == "Malformed request"
        await client.send({"method": "unsubscribe", "params": {"channel": "status"}})
        assert (await client.recv())["error"] == "Subscription Not Found"


async def test_stamp_send_ns_marks_data_frames_only() -> None:
    async with KrakenSimulator(pairs=1, rate=0, stamp_send_ns=True) as sim, connect(sim) as client:
        await client.subscribe("book", ["BTC/USD"])
        ack = await client.recv()
        snapshot = await client.recv()
        assert "sim_send_ns" not in ack
        before = time.monotonic_ns()
        sim.advance("BTC/USD", 5)
        updates = await client.drain()
        assert snapshot["sim_send_ns"] <= before
        assert updates
        assert all(before <= u["sim_send_ns"] <= time.monotonic_ns() for u in updates)


async def test_determinism_by_seed_with_the_real_driver() -> None:
    async def run(seed: int) -> list[str]:
        async with (
            KrakenSimulator(pairs=2, rate=1500, seed=seed) as sim,
            connect(sim) as client,
        ):
            await client.subscribe("book", ["ETH/USD"], depth=25)
            frames = [await client.recv_text() for _ in range(60)]
            return [strip_times(f) for f in frames]

    first, second, other = await run(21), await run(21), await run(22)
    assert first == second
    assert first != other


async def test_server_stop_closes_clients_politely() -> None:
    sim = KrakenSimulator(rate=0)
    await sim.start()
    with pytest.raises(RuntimeError, match="already started"):
        await sim.start()
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_url) as ws:
        await ws.receive_str(timeout=2)
        await sim.stop()
        msg = await ws.receive(timeout=2)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == 1001
    await sim.stop()
    assert sim.stats()["connections_open"] == 0


async def test_config_overrides_and_lookups() -> None:
    sim = KrakenSimulator(KrakenSimConfig(pairs=2), seed=9, rate=0)
    assert sim.config.seed == 9
    assert [p.symbol for p in sim.pairs] == ["BTC/USD", "ETH/USD"]
    with pytest.raises(KeyError):
        sim.advance("NOPE/USD")
    bids, asks = sim.book("ETH/USD", 3)
    assert len(bids) == len(asks) == 3
    assert all(len(p.split(".")[1]) == 2 for p, _ in bids)
    all_bids, all_asks = sim.book("ETH/USD")
    expected = ref_checksum(
        {Decimal(p): Decimal(q) for p, q in all_bids},
        {Decimal(p): Decimal(q) for p, q in all_asks},
        2,
        8,
    )
    assert sim.checksum("ETH/USD") == expected
    sim.advance("ETH/USD", 50)
    assert sim.checksum("ETH/USD") != expected
    assert sim.symbols == ["BTC/USD", "ETH/USD"]
    assert sim.instrument("ETH/USD").name == sim.market_name("ETH/USD") == "ETH-USD"
    with pytest.raises(KeyError):
        sim.checksum("ETH-USD")


async def test_slow_consumer_is_cut_off() -> None:
    config = KrakenSimConfig(pairs=1, rate=0, max_write_buffer=1024)
    async with KrakenSimulator(config) as sim, connect(sim) as client:
        await client.subscribe("book", ["BTC/USD"], depth=1000)
        await client.recv()
        # The client stops reading: kernel buffers fill, then the simulator's own buffer.
        deadline = time.monotonic() + 5
        while sim.stats()["slow_disconnects"] == 0 and time.monotonic() < deadline:
            sim.advance("BTC/USD", 2000)
            await asyncio.sleep(0.02)
        assert sim.stats()["slow_disconnects"] == 1
        await asyncio.sleep(0.05)
        assert sim.stats()["connections_open"] == 0


async def test_client_close_is_answered() -> None:
    async with KrakenSimulator(pairs=1, rate=2000) as sim, connect(sim) as client:
        await client.subscribe("book", ["BTC/USD"])
        for _ in range(10):
            await client.recv()
        assert await client.ws.close() is True
        assert client.ws.close_code == 1000
        await asyncio.sleep(0.05)
        assert sim.stats()["connections_open"] == 0


async def test_unsupported_depth_is_refused_in_the_venues_words() -> None:
    async with KrakenSimulator(rate=0) as sim, connect(sim) as client:
        await client.ws.send_str(
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":50},'
            '"req_id":9}'
        )
        text = await client.recv_text()
        assert text.startswith(
            '{"error":"Subscription depth not supported","method":"subscribe","success":false,'
        )
        reply = parse(text)
        assert list(reply) == ["error", "method", "success", "time_in", "time_out", "req_id"]
        assert RFC3339_US.fullmatch(reply["time_in"])
        assert reply["req_id"] == 9
        assert await client.drain(0.15) == [], "no snapshot for a refused subscription"


async def test_update_levels_come_in_no_particular_order() -> None:
    """Not best-first, not removals-first: a client must apply the whole message, then
    truncate (protocols.md 3.2)."""
    config = KrakenSimConfig(pairs=1, rate=0, seed=6, book_levels=40)
    async with KrakenSimulator(config) as sim, connect(sim) as client:
        await client.subscribe("book", ["BTC/USD"], depth=1000)
        await client.recv_until(is_ack)
        mirror = MirrorBook(1000, 1, 8)
        assert mirror.snapshot((await client.recv())["data"][0])
        sim.advance("BTC/USD", 3000)
        best_first = worst_first = set_before_delete = delete_first = 0
        for frame in await client.drain():
            data = frame["data"][0]
            assert mirror.apply(data)
            for side, levels in (("bids", data["bids"]), ("asks", data["asks"])):
                prices = [lv["price"] for lv in levels]
                if len(prices) < 2:
                    continue
                ordered = sorted(prices, reverse=side == "bids")
                best_first += prices == ordered
                worst_first += prices == ordered[::-1]
                qtys = [lv["qty"] for lv in levels]
                if 0 in qtys and any(qtys):
                    set_before_delete += qtys[0] != 0
                    delete_first += qtys[0] == 0
        assert best_first > 20
        assert worst_first > 20
        assert set_before_delete > 5
        assert delete_first > 5
        assert mirror.as_strings() == sim.book("BTC/USD", 1000)


async def test_a_reconnect_gets_status_then_the_ack_then_a_fresh_snapshot() -> None:
    async with KrakenSimulator(pairs=1, rate=0, seed=3) as sim:
        snapshots = []
        for attempt in range(2):
            async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_url) as ws:
                client = Client(ws)
                await client.subscribe("book", ["BTC/USD"], depth=10)
                first = [await client.recv() for _ in range(3)]
                kinds = [f.get("channel") or f.get("method") for f in first]
                assert kinds == ["status", "subscribe", "book"], attempt
                assert first[2]["type"] == "snapshot"
                snapshots.append(first[2]["data"][0])
                mirror = MirrorBook(10, 1, 8)
                assert mirror.snapshot(first[2]["data"][0])
                sim.advance("BTC/USD", 30)
                updates = await client.drain()
                assert updates
                for frame in updates:
                    assert frame["type"] == "update"
                    assert mirror.apply(frame["data"][0])
                assert mirror.as_strings() == sim.book("BTC/USD", 10)
        # The second snapshot is of the book as it had moved on, not a replay of the first.
        assert snapshots[0]["checksum"] != snapshots[1]["checksum"]
        assert sim.stats()["connections_total"] == 2
