"""What the Binance simulator writes, compared with what Binance wrote (the 2021 capture):
field names and types of every payload, the combined wrapper, eight-decimal amounts, the REST
depth and exchangeInfo shapes, and the symbol names."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.sim.test_binance_client import (
    Client,
    payload,
    recorded_frames,
    recorded_snapshots,
    rest_json,
)
from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator
from tradegw.sim.binance.symbols import build_symbols, parse_symbol
from tradegw.sim.binance.wire import amount

pytestmark = pytest.mark.timeout(30)

AMOUNT = re.compile(r"[0-9]+\.[0-9]{8}")


def _shape(value: Any) -> Any:
    """The JSON shape of a value: dicts by key, lists by their first element, scalars by type."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if isinstance(value, str):
        return "amount" if AMOUNT.fullmatch(value) else "str"
    return type(value).__name__


def _recorded_shapes() -> dict[str, Any]:
    shapes: dict[str, Any] = {}
    for _, frame in recorded_frames():
        kind = frame["stream"].split("@", 1)[1]
        shapes.setdefault(kind, _shape(frame["data"]))
    return shapes


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimulator]:
    async with BinanceSimulator(BinanceSimConfig(pairs=["BTCUSDT", "ETHBTC"], rate=400)) as s:
        yield s


async def _stream_frames(sim: BinanceSimulator, streams: list[str], seconds: float) -> list[Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.ws_url}/stream?streams={'/'.join(streams)}") as ws,
    ):
        return await Client(ws).collect(seconds)


async def test_payloads_have_the_recorded_fields_and_types(sim: BinanceSimulator) -> None:
    recorded = _recorded_shapes()
    names = ["depth@100ms", "bookTicker", "aggTrade", "kline_1m"]
    frames = await _stream_frames(sim, [f"btcusdt@{n}" for n in names], 2.5)
    mine: dict[str, Any] = {}
    for frame in frames:
        assert set(frame) == {"stream", "data"}
        kind = frame["stream"].split("@", 1)[1]
        shape = _shape(frame["data"])
        if kind == "depth@100ms" and not (frame["data"]["b"] and frame["data"]["a"]):
            continue  # compare an event with both sides, like the recorded one below
        mine.setdefault(kind, shape)
    for name in names:
        expected = recorded[name]
        if name == "depth@100ms":
            expected = {**expected, "a": [["amount"]], "b": [["amount"]]}
        assert mine.get(name) == expected, name
        # Same keys in the same order as the venue writes them.
        assert list(mine[name]) == list(expected), name


async def test_trade_and_24h_ticker_payloads_have_the_documented_fields(
    sim: BinanceSimulator,
) -> None:
    frames = await _stream_frames(sim, ["btcusdt@trade", "ethbtc@ticker"], 1.3)
    trades = [payload(f) for f in frames if f["stream"] == "btcusdt@trade"]
    tickers = [payload(f) for f in frames if f["stream"] == "ethbtc@ticker"]
    assert trades
    assert tickers
    assert _shape(trades[0]) == {
        "e": "str",
        "E": "int",
        "s": "str",
        "t": "int",
        "p": "amount",
        "q": "amount",
        "T": "int",
        "m": "bool",
        "M": "bool",
    }
    ticker = tickers[0]
    assert list(ticker) == list("eEspPwxcQbBaAohlvqOCFLn")
    assert ticker["e"] == "24hrTicker"
    assert ticker["s"] == "ETHBTC"
    for key in "pwxcQbBaAohlvq":
        assert AMOUNT.fullmatch(ticker[key].lstrip("-")), (key, ticker[key])
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{3}", ticker["P"])
    assert ticker["C"] - ticker["O"] == 86_400_000
    assert ticker["L"] - ticker["F"] + 1 == ticker["n"]
    # Trade ids of a pair are consecutive and the taker side is told by m.
    ids = [t["t"] for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


async def test_raw_streams_send_bare_payloads(sim: BinanceSimulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws,
    ):
        frame = await Client(ws).recv()
    assert list(frame) == ["u", "s", "b", "B", "a", "A"]
    assert frame["s"] == "BTCUSDT"


async def test_rest_depth_has_the_recorded_shape_and_the_books_update_id(
    sim: BinanceSimulator,
) -> None:
    _, recorded = recorded_snapshots()["NKNUSDT"]
    sim.pause()
    async with aiohttp.ClientSession() as session:
        body = await rest_json(session, f"{sim.rest_url}/api/v3/depth", symbol="ETHBTC")
        deep = await rest_json(session, f"{sim.rest_url}/api/v3/depth", symbol="ETHBTC", limit=9000)
        few = await rest_json(session, f"{sim.rest_url}/api/v3/depth", symbol="ETHBTC", limit=5)
    assert _shape(body) == _shape(recorded)
    assert list(body) == list(recorded)
    assert body["lastUpdateId"] == sim.update_id("ETHBTC")
    assert len(body["bids"]) == len(body["asks"]) == 100  # the default limit
    assert len(few["bids"]) == 5
    bids, asks = sim.book("ETHBTC")
    assert len(deep["bids"]) == len(bids)  # everything there is, up to 5000
    # Eight decimals on the wire, the pair's precision (5 / 8) in the book.
    assert [(f"{Decimal(p):.5f}", f"{Decimal(q):.8f}") for p, q in deep["asks"]] == asks
    assert all(AMOUNT.fullmatch(p) and AMOUNT.fullmatch(q) for p, q in deep["bids"])


async def test_exchange_info_carries_each_pairs_precision_in_tick_and_step(
    sim: BinanceSimulator,
) -> None:
    async with aiohttp.ClientSession() as session:
        info = await rest_json(session, f"{sim.rest_url}/api/v3/exchangeInfo")
        one = await rest_json(session, f"{sim.rest_url}/api/v3/exchangeInfo", symbol="ETHBTC")
        some = await rest_json(
            session, f"{sim.rest_url}/api/v3/exchangeInfo", symbols='["ETHBTC","BTCUSDT"]'
        )
        async with session.get(
            f"{sim.rest_url}/api/v3/exchangeInfo", params={"symbol": "NOPE"}
        ) as resp:
            assert resp.status == 400
            assert await resp.json() == {"code": -1121, "msg": "Invalid symbol."}
        async with session.get(
            f"{sim.rest_url}/api/v3/exchangeInfo", params={"symbols": "ETHBTC"}
        ) as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == -1100
    assert list(info)[:5] == ["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"]
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
    }
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHBTC"]
    assert [s["symbol"] for s in one["symbols"]] == ["ETHBTC"]
    assert [s["symbol"] for s in some["symbols"]] == ["ETHBTC", "BTCUSDT"]
    btc = info["symbols"][0]
    assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USDT", "TRADING")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00000001"
    assert "NOTIONAL" in filters
    assert btc["permissionSets"] == [["SPOT"]]


async def test_time_and_ping(sim: BinanceSimulator) -> None:
    async with aiohttp.ClientSession() as session:
        assert await rest_json(session, f"{sim.rest_url}/api/v3/ping") == {}
        body = await rest_json(session, f"{sim.rest_url}/api/v3/time")
        async with session.get(f"{sim.rest_url}/api/v3/nope") as resp:
            assert resp.status == 404
            assert resp.headers["X-MBX-USED-WEIGHT-1M"] == "3"
    assert isinstance(body["serverTime"], int)
    assert body["serverTime"] > 1_600_000_000_000


def test_amounts_are_written_at_eight_decimals_from_fixed_point() -> None:
    assert amount(3513, 4) == "0.35130000"
    assert amount(619500000000, 8) == "6195.00000000"
    assert amount(0, 2) == "0.00000000"
    assert amount(-15, 1) == "-1.50000000"
    # A notional at 1 + 8 decimals rounds half away from zero to eight.
    assert amount(123456789015, 9) == "123.45678902"


def test_symbols_are_binance_names_that_map_back_one_to_one() -> None:
    infos = build_symbols(20)
    names = [s.symbol for s in infos]
    assert names[:3] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert {"ETHBTC", "BTCEUR", "USDTUSD", "SYM17USDT"} <= set(names)
    assert len(set(names)) == len(names)
    for info in infos:
        assert build_symbols([info.symbol])[0].symbol == info.symbol
        assert info.stream == info.symbol.lower()
    usdt = next(s for s in infos if s.symbol == "USDTUSD")
    assert (usdt.base_asset, usdt.quote_asset) == ("USDT", "USD")
    assert parse_symbol("SYM17USDT") == ("SYM17", "USD")
    for bad, why in (
        ("BTCUSD", "quotes dollars in USDT"),
        ("USDTUSDT", "is USDTUSD"),
        ("btcusdt", "capital letters"),
        ("BTC-USDT", "capital letters"),
        ("ABCXYZ", "cannot tell its base"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_symbol(bad)
    with pytest.raises(ValueError, match="listed twice"):
        BinanceSimulator(BinanceSimConfig(pairs=["BTCUSDT", "BTCUSDT"]))


async def test_bench_stamps_go_on_every_data_frame_and_only_when_asked() -> None:
    config = BinanceSimConfig(pairs=["BTCUSDT"], rate=300, stamp_send_ns=True)
    async with BinanceSimulator(config) as sim:
        frames = await _stream_frames(sim, ["btcusdt@trade", "btcusdt@depth@100ms"], 0.5)
    assert frames
    assert all(isinstance(f["sim_send_ns"], int) for f in frames)
    assert all(set(f) == {"stream", "data", "sim_send_ns"} for f in frames)
