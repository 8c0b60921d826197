"""The Kraken simulator's public REST endpoints."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tradegw.sim.kraken import KrakenSimulator

pytestmark = pytest.mark.timeout(15)


@pytest.fixture
async def rest() -> AsyncIterator[tuple[KrakenSimulator, aiohttp.ClientSession]]:
    async with (
        KrakenSimulator(
            pairs=["BTC/USD", "ETH/USD", "MATIC/USD", "SHIB/USD", "DOGE/USD", "ETH/BTC"], rate=0
        ) as sim,
        aiohttp.ClientSession(sim.rest_url) as session,
    ):
        yield sim, session


async def _get(session: aiohttp.ClientSession, path: str, status: int = 200) -> Any:
    async with session.get(path) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        return await resp.json()


async def test_time(rest: tuple[KrakenSimulator, aiohttp.ClientSession]) -> None:
    sim, session = rest
    assert sim.rest_url.startswith("http://127.0.0.1:")
    body = await _get(session, "/0/public/Time")
    assert body["error"] == []
    assert abs(body["result"]["unixtime"] - time.time()) < 5
    assert re.fullmatch(
        r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0000", body["result"]["rfc1123"]
    )
    status = await _get(session, "/0/public/SystemStatus")
    assert status["result"]["status"] == "online"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["result"]["timestamp"])


async def test_asset_pairs(rest: tuple[KrakenSimulator, aiohttp.ClientSession]) -> None:
    _, session = rest
    body = await _get(session, "/0/public/AssetPairs")
    assert set(body["result"]) == {
        "XXBTZUSD",
        "XETHZUSD",
        "MATICUSD",
        "SHIBUSD",
        "XDGUSD",
        "XETHXXBT",
    }
    btc = body["result"]["XXBTZUSD"]
    assert btc["altname"] == "XBTUSD"
    # wsname is the v1 name; v2 symbols are BTC/USD, DOGE/USD, ETH/BTC.
    wsnames = {key: pair["wsname"] for key, pair in body["result"].items()}
    assert wsnames == {
        "XXBTZUSD": "XBT/USD",
        "XETHZUSD": "ETH/USD",
        "MATICUSD": "MATIC/USD",
        "SHIBUSD": "SHIB/USD",
        "XDGUSD": "XDG/USD",
        "XETHXXBT": "ETH/XBT",
    }
    assert (btc["base"], btc["quote"]) == ("XXBT", "ZUSD")
    assert (btc["pair_decimals"], btc["lot_decimals"], btc["cost_decimals"]) == (1, 8, 5)
    assert btc["ordermin"] == "0.0001"
    assert btc["tick_size"] == "0.1"
    assert btc["status"] == "online"
    assert btc["fees"][0] == [0, 0.4]
    filtered = await _get(session, "/0/public/AssetPairs?pair=XBTUSD,MATIC/USD,XDG/USD")
    assert list(filtered["result"]) == ["XXBTZUSD", "MATICUSD", "XDGUSD"]
    assert filtered["result"]["XDGUSD"]["base"] == "XXDG"
    assert filtered["result"]["MATICUSD"]["pair_decimals"] == 4
    unknown = await _get(session, "/0/public/AssetPairs?pair=XBTUSD,NOPEUSD")
    assert unknown == {"error": ["EQuery:Unknown asset pair"]}


async def test_assets(rest: tuple[KrakenSimulator, aiohttp.ClientSession]) -> None:
    _, session = rest
    body = await _get(session, "/0/public/Assets")
    assert set(body["result"]) == {"XXBT", "ZUSD", "XETH", "MATIC", "SHIB", "XXDG"}
    assert body["result"]["XXBT"] == {
        "aclass": "currency",
        "altname": "XBT",
        "decimals": 10,
        "display_decimals": 5,
        "status": "enabled",
    }
    filtered = await _get(session, "/0/public/Assets?asset=XBT,usd")
    assert list(filtered["result"]) == ["XXBT", "ZUSD"]
    assert await _get(session, "/0/public/Assets?asset=NOPE") == {"error": ["EQuery:Unknown asset"]}


async def test_depth_matches_the_book(rest: tuple[KrakenSimulator, aiohttp.ClientSession]) -> None:
    sim, session = rest
    body = await _get(session, "/0/public/Depth?pair=XXBTZUSD&count=5")
    book = body["result"]["XXBTZUSD"]
    bids, asks = sim.book("BTC/USD", 5)
    assert [level[:2] for level in book["bids"]] == [list(level) for level in bids]
    assert [level[:2] for level in book["asks"]] == [list(level) for level in asks]
    for level in book["bids"] + book["asks"]:
        price, volume, stamp = level
        assert re.fullmatch(r"\d+\.\d", price)
        assert re.fullmatch(r"\d+\.\d{8}", volume)
        assert isinstance(stamp, int)
    shib = await _get(session, "/0/public/Depth?pair=SHIBUSD")
    assert len(shib["result"]["SHIBUSD"]["asks"]) == 100
    assert shib["result"]["SHIBUSD"]["asks"][0][0].startswith("0.0000")


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "EGeneral:Invalid arguments"),
        ("?pair=NOPE", "EQuery:Unknown asset pair"),
        ("?pair=XBTUSD,ETHUSD", "EQuery:Unknown asset pair"),
        ("?pair=XBTUSD&count=0", "EGeneral:Invalid arguments"),
        ("?pair=XBTUSD&count=501", "EGeneral:Invalid arguments"),
        ("?pair=XBTUSD&count=ten", "EGeneral:Invalid arguments"),
    ],
)
async def test_depth_errors(
    rest: tuple[KrakenSimulator, aiohttp.ClientSession], query: str, error: str
) -> None:
    _, session = rest
    assert await _get(session, f"/0/public/Depth{query}") == {"error": [error]}


async def test_post_form_and_unknown_methods(
    rest: tuple[KrakenSimulator, aiohttp.ClientSession],
) -> None:
    sim, session = rest
    async with session.post("/0/public/Depth", data={"pair": "ETHUSD", "count": "2"}) as resp:
        body = await resp.json()
    assert len(body["result"]["XETHZUSD"]["bids"]) == 2
    unknown = await _get(session, "/0/public/Nope", status=404)
    assert unknown == {"error": ["EGeneral:Unknown method"]}
    async with session.put("/0/public/Time") as resp:
        assert resp.status == 405
    assert sim.stats()["rest_requests"] == 3
