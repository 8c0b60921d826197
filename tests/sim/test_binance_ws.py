"""The Binance simulator's market streams as a client sees them: paths, live requests and
their refusals, U/u continuity and a book that equals the simulator's, bookTicker at its
update id, server pings, the lifetime cut, serverShutdown and the connection limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.sim.test_binance_client import Client, LocalBook, payload, rest_json, same_bbo
from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator

pytestmark = pytest.mark.timeout(30)

SimFactory = Callable[..., Awaitable[BinanceSimulator]]


@pytest.fixture
async def sims() -> AsyncIterator[SimFactory]:
    made: list[BinanceSimulator] = []

    async def make(**fields: Any) -> BinanceSimulator:
        fields.setdefault("pairs", ["BTCUSDT", "ETHUSDT", "MATICUSDT"])
        sim = BinanceSimulator(BinanceSimConfig(**fields))
        await sim.start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        await sim.stop()


async def _connect(
    session: aiohttp.ClientSession, url: str, **kw: Any
) -> tuple[Client, aiohttp.ClientWebSocketResponse]:
    ws = await session.ws_connect(url, **kw)
    return Client(ws), ws


async def test_live_requests_are_answered_in_the_venues_words(sims: SimFactory) -> None:
    sim = await sims(rate=0, max_incoming_per_s=20)
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(session, f"{sim.ws_url}/ws")
        rid = await client.request("SUBSCRIBE", ["btcusdt@aggTrade", "btcusdt@depth"])
        assert await client.reply(rid) == {"result": None, "id": rid}
        rid = await client.request("LIST_SUBSCRIPTIONS")
        assert await client.reply(rid) == {
            "result": ["btcusdt@aggTrade", "btcusdt@depth"],
            "id": rid,
        }
        rid = await client.request("UNSUBSCRIBE", ["btcusdt@depth"])
        assert await client.reply(rid) == {"result": None, "id": rid}
        rid = await client.request("LIST_SUBSCRIPTIONS")
        assert (await client.reply(rid))["result"] == ["btcusdt@aggTrade"]
        rid = await client.request("GET_PROPERTY", ["combined"])
        assert await client.reply(rid) == {"result": False, "id": rid}
        rid = await client.request("SET_PROPERTY", ["combined", True])
        assert await client.reply(rid) == {"result": None, "id": rid}
        rid = await client.request("GET_PROPERTY", ["combined"])
        assert await client.reply(rid) == {"result": True, "id": rid}
        await ws.close()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{nope", {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 2"}),
        (
            '{"method":"SUBSCRIBEE","params":[],"id":7}',
            {
                "code": 2,
                "msg": "Invalid request: unknown variant `SUBSCRIBEE`, expected one of "
                "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, "
                "`GET_PROPERTY` at line 1 column 22",
            },
        ),
        (
            '{"params":["btcusdt@trade"],"id":7}',
            {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 35"},
        ),
        (
            '{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":-1.5}',
            {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"},
        ),
        (
            '{"method":"GET_PROPERTY","params":["combined","x"],"id":7}',
            {"code": 2, "msg": "Invalid request: too many parameters"},
        ),
        (
            '{"method":"GET_PROPERTY","params":[5],"id":7}',
            {"code": 2, "msg": "Invalid request: property name must be a string"},
        ),
        (
            '{"method":"SET_PROPERTY","params":["combined","yes"],"id":7}',
            {"code": 1, "msg": "Invalid value type: expected Boolean"},
        ),
        (
            '{"method":"GET_PROPERTY","params":["colour"],"id":7}',
            {"code": 0, "msg": "Unknown property"},
        ),
        (
            '{"method":"SUBSCRIBE","params":["not a stream"],"id":7}',
            {"code": 2, "msg": "Invalid request: invalid stream"},
        ),
    ],
)
async def test_refused_requests_get_the_documented_error(
    sims: SimFactory, text: str, error: dict[str, Any]
) -> None:
    sim = await sims(rate=0)
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(session, f"{sim.ws_url}/ws")
        await ws.send_str(text)
        reply = await client.recv()
        assert reply["error"] == error
        assert reply["id"] == (7 if '"id":7' in text else None)
        # The connection is still good.
        rid = await client.request("LIST_SUBSCRIPTIONS")
        assert (await client.reply(rid))["result"] == []
        await ws.close()


async def test_paths_raw_combined_and_404(sims: SimFactory) -> None:
    sim = await sims(rate=300)
    async with aiohttp.ClientSession() as session:
        raw, ws1 = await _connect(session, f"{sim.ws_url}/ws/ethusdt@trade")
        comb, ws2 = await _connect(session, f"{sim.ws_url}/stream?streams=ethusdt@trade/nope@trade")
        frame = await raw.recv()
        assert frame["e"] == "trade"
        assert frame["s"] == "ETHUSDT"
        frame = await comb.recv()
        assert frame["stream"] == "ethusdt@trade"
        assert frame["data"]["s"] == "ETHUSDT"
        rid = await comb.request("LIST_SUBSCRIPTIONS")
        # A well-formed stream of a symbol not listed is kept and carries nothing.
        assert (await comb.reply(rid))["result"] == ["ethusdt@trade", "nope@trade"]
        # SET_PROPERTY combined switches a raw connection to the wrapper.
        rid = await raw.request("SET_PROPERTY", ["combined", True])
        await raw.reply(rid)
        frame = await raw.recv_until(lambda f: "stream" in f)
        assert frame["stream"] == "ethusdt@trade"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(f"{sim.ws_url}/v2")
        assert info.value.status == 404
        await ws1.close()
        await ws2.close()


async def test_a_client_over_five_messages_a_second_is_cut_off(sims: SimFactory) -> None:
    sim = await sims(rate=0)
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(session, f"{sim.ws_url}/ws")
        for _ in range(5):
            rid = await client.request("LIST_SUBSCRIPTIONS")
            await client.reply(rid)
        await client.request("LIST_SUBSCRIPTIONS")
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (1008, "Too many requests")
    assert sim.stats()["rate_limit_cuts"] == 1


async def test_streams_per_connection_are_limited(sims: SimFactory) -> None:
    sim = await sims(rate=0, max_streams=3)
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(session, f"{sim.ws_url}/ws/btcusdt@trade")
        rid = await client.request("SUBSCRIBE", ["btcusdt@depth", "ethusdt@depth"])
        assert (await client.reply(rid))["result"] is None
        rid = await client.request("SUBSCRIBE", ["maticusdt@depth"])
        reply = await client.reply(rid)
        assert reply["error"] == {"code": 2, "msg": "Invalid request: too many parameters"}
        rid = await client.request("LIST_SUBSCRIPTIONS")
        assert len((await client.reply(rid))["result"]) == 3
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(f"{sim.ws_url}/stream?streams=a@trade/b@trade/c@trade/d@trade")


async def _sync_book(
    session: aiohttp.ClientSession, sim: BinanceSimulator, client: Client, symbol: str
) -> tuple[LocalBook, int]:
    """Buffer diffs, fetch the snapshot (again while too old), apply: the documented way."""
    book = LocalBook()
    first = await client.recv_until(lambda f: payload(f).get("e") == "depthUpdate", 5)
    book.diff(payload(first))
    fetches = 0
    while True:
        fetches += 1
        snap = await rest_json(session, f"{sim.rest_url}/api/v3/depth", symbol=symbol, limit=5000)
        outcome = book.snapshot(snap)
        if outcome == "applied":
            return book, fetches
        assert outcome == "refetch"


async def test_diffs_are_contiguous_and_the_book_built_from_them_equals_the_simulators(
    sims: SimFactory,
) -> None:
    sim = await sims(rate=600)
    streams = "/".join(f"{s}@depth@100ms" for s in ("btcusdt", "maticusdt"))
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(session, f"{sim.ws_url}/stream?streams={streams}/btcusdt@depth")
        book, _ = await _sync_book(session, sim, client, "BTCUSDT")
        last_u: dict[str, int] = {}
        slow: list[dict[str, Any]] = []
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            frame = await client.recv()
            event = payload(frame)
            if frame["stream"] == "btcusdt@depth":
                slow.append(event)
                continue
            stream = frame["stream"]
            if stream in last_u:
                assert event["U"] == last_u[stream] + 1, "diffs of a stream are contiguous"
            assert event["U"] <= event["u"]
            last_u[stream] = event["u"]
            if event["s"] == "BTCUSDT":
                assert book.diff(event) in ("applied", "stale")
        sim.pause()
        # What was merged but not sent yet goes out at the next tick.
        for frame in await client.collect(0.3):
            if frame["stream"] == "btcusdt@depth@100ms":
                assert book.diff(payload(frame)) == "applied"
        assert book.gaps == 0
        assert book.applied > 10
        assert book.last_id == sim.update_id("BTCUSDT")
        assert book.rendered(1, 8) == sim.book("BTCUSDT")
        # The 1000 ms stream merges about ten times as many steps per event.
        assert len(slow) >= 2
        assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(slow))
        spans = [e["u"] - e["U"] + 1 for e in slow[1:]]
        assert min(spans) > 20
        await ws.close()


async def test_book_ticker_shows_the_book_at_its_update_id(sims: SimFactory) -> None:
    sim = await sims(rate=0, pairs=["ETHUSDT"])
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(
            session, f"{sim.ws_url}/stream?streams=ethusdt@depth@100ms/ethusdt@bookTicker"
        )
        rid = await client.request("LIST_SUBSCRIPTIONS")
        await client.reply(rid)
        snap = await rest_json(
            session, f"{sim.rest_url}/api/v3/depth", symbol="ETHUSDT", limit=1000
        )
        book = LocalBook()
        assert book.snapshot(snap) == "applied"
        checked = 0
        for _ in range(150):
            sim.advance("ETHUSDT")
            sim.flush()  # every step its own depth event, so every bookTicker has its event
            frames = await client.collect(0.02)
            tickers = [payload(f) for f in frames if f["stream"] == "ethusdt@bookTicker"]
            for frame in frames:
                if frame["stream"] == "ethusdt@depth@100ms":
                    assert book.diff(payload(frame)) == "applied"
            for ticker in tickers:
                assert ticker["u"] == book.last_id
                assert same_bbo(book, ticker)
                checked += 1
        assert checked > 50
        assert book.rendered(2, 8) == sim.book("ETHUSDT")
        await ws.close()


async def test_server_pings_are_answered_and_a_silent_client_is_dropped(
    sims: SimFactory,
) -> None:
    sim = await sims(rate=50, ping_interval_s=0.2, pong_timeout_s=0.6)
    async with aiohttp.ClientSession() as session:
        # aiohttp answers pings itself, echoing the payload, while it reads.
        good, ws_good = await _connect(session, f"{sim.ws_url}/ws/btcusdt@trade")
        reading = asyncio.create_task(good.collect(2.0))
        silent = await session.ws_connect(f"{sim.ws_url}/ws/ethusdt@trade", autoping=False)
        pings = []
        deadline = time.monotonic() + 1.5
        closed_at = None
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(silent.receive(), deadline - time.monotonic())
            except TimeoutError:
                break
            if msg.type == aiohttp.WSMsgType.PING:
                pings.append(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                closed_at = time.monotonic()
                break
        assert len(pings) >= 2
        assert all(p.isdigit() for p in pings)
        assert closed_at is not None, "a client that never pongs is disconnected"
        # The client that answers is still served.
        frames = await reading
        assert not ws_good.closed
        assert len(frames) > 10
        stats = sim.stats()
        assert stats["pong_timeouts"] == 1
        assert stats["pongs_received"] >= 4
        await ws_good.close()


async def test_wrong_pongs_do_not_count_as_answers(sims: SimFactory) -> None:
    sim = await sims(rate=0, ping_interval_s=0.2, pong_timeout_s=0.5)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{sim.ws_url}/ws", autoping=False)
        started = time.monotonic()
        while True:
            msg = await asyncio.wait_for(ws.receive(), 3)
            if msg.type == aiohttp.WSMsgType.PING:
                await ws.pong(b"not-the-payload")
            else:
                break
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert time.monotonic() - started < 2.0


async def test_connections_end_at_their_lifetime_with_a_notice_when_configured(
    sims: SimFactory,
) -> None:
    sim = await sims(
        rate=100,
        connection_lifetime_s=1.0,
        shutdown_grace_s=0.3,
        shutdown_notice_at_lifetime=True,
    )
    async with aiohttp.ClientSession() as session:
        client, ws = await _connect(session, f"{sim.ws_url}/stream?streams=btcusdt@trade")
        started = time.monotonic()
        notice = await client.recv_until(lambda f: f.get("stream") == "!serverShutdown", 3)
        noticed_at = time.monotonic() - started
        assert set(notice["data"]) == {"e", "E"}
        assert notice["data"]["e"] == "serverShutdown"
        msg = await asyncio.wait_for(ws.receive(), 3)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await asyncio.wait_for(ws.receive(), 3)
        lived = time.monotonic() - started
    assert 0.5 < noticed_at < 0.95
    assert 0.9 < lived < 1.6
    stats = sim.stats()
    assert (stats["lifetime_cuts"], stats["shutdown_notices"]) == (1, 1)


async def test_a_raw_connection_is_cut_without_notice_by_default(sims: SimFactory) -> None:
    sim = await sims(rate=100, connection_lifetime_s=0.6)
    async with aiohttp.ClientSession() as session:
        _client, ws = await _connect(session, f"{sim.ws_url}/ws/btcusdt@trade")
        frames = []
        while True:
            msg = await asyncio.wait_for(ws.receive(), 3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frames.append(json.loads(msg.data))
    assert frames
    assert all(f["e"] == "trade" for f in frames)
    assert sim.stats()["lifetime_cuts"] == 1


async def test_announced_shutdown_reaches_raw_and_combined_clients_then_closes(
    sims: SimFactory,
) -> None:
    sim = await sims(rate=0, shutdown_grace_s=0.2)
    async with aiohttp.ClientSession() as session:
        raw, ws1 = await _connect(session, f"{sim.ws_url}/ws")
        comb, ws2 = await _connect(session, f"{sim.ws_url}/stream?streams=btcusdt@trade")
        rid = await raw.request("LIST_SUBSCRIPTIONS")
        await raw.reply(rid)
        assert sim.announce_shutdown() == 2
        event = await raw.recv()
        assert event["e"] == "serverShutdown"
        assert isinstance(event["E"], int)
        wrapped = await comb.recv()
        assert wrapped["stream"] == "!serverShutdown"
        for ws in (ws1, ws2):
            msg = await asyncio.wait_for(ws.receive(), 2)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
