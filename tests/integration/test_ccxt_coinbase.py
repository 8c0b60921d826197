"""ccxt (a peer client) against the Coinbase simulator, changing only its URLs.

The override recipe, as a user would write it::

    exchange = ccxt.pro.coinbase()
    exchange.urls["api"]["rest"] = sim.rest_url   # http://127.0.0.1:PORT
    exchange.urls["api"]["ws"] = sim.ws_url       # ws://127.0.0.1:PORT/

``load_markets`` then reads ``/v2/currencies``, ``/v2/currencies/crypto``,
``/v2/exchange-rates`` and ``/api/v3/brokerage/market/products`` (also with
``product_type=FUTURE``); ``watch_order_book`` subscribes to ``level2``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxtpro
import pytest

from tradegw.sim.coinbase import CoinbaseSimConfig, CoinbaseSimulator

pytestmark = pytest.mark.timeout(30)

PRODUCTS = ["BTC-USD", "ETH-USD", "ETH-BTC"]


def _decimal_book(levels: list[Any]) -> list[tuple[Decimal, Decimal]]:
    """ccxt's float levels as exact decimals (a float's repr is the shortest text that reads
    back as it, so it is the decimal the venue wrote)."""
    return [(Decimal(repr(price)), Decimal(repr(size))) for price, size, *_ in levels]


def _sim_book(sim: CoinbaseSimulator, product_id: str, depth: int | None = None) -> Any:
    bids, asks = sim.book(product_id, depth)
    return (
        [(Decimal(p), Decimal(q)) for p, q in bids],
        [(Decimal(p), Decimal(q)) for p, q in asks],
    )


@pytest.fixture
async def venue() -> AsyncIterator[tuple[CoinbaseSimulator, Any]]:
    config = CoinbaseSimConfig(pairs=PRODUCTS, rate=1000, seed=21)
    async with CoinbaseSimulator(config) as sim:
        exchange = ccxtpro.coinbase()
        exchange.urls["api"]["rest"] = sim.rest_url
        exchange.urls["api"]["ws"] = sim.ws_url
        try:
            yield sim, exchange
        finally:
            await exchange.close()


async def test_load_markets_reads_the_simulators_products(venue: Any) -> None:
    sim, exchange = venue
    markets = await exchange.load_markets()
    assert sorted(markets) == ["BTC/USD", "ETH/BTC", "ETH/USD"]
    btc = markets["BTC/USD"]
    assert (btc["id"], btc["type"], btc["active"]) == ("BTC-USD", "spot", True)
    assert btc["precision"] == {"amount": 1e-08, "price": 0.1}
    assert btc["limits"]["amount"]["min"] == 0.0001
    assert markets["ETH/BTC"]["precision"]["price"] == 1e-05
    assert {"BTC", "ETH", "USD"} <= set(exchange.currencies)
    # currencies, currencies/crypto, exchange-rates, products, products of type FUTURE
    assert sim.stats()["rest_requests"] == 5


async def test_watch_order_book_builds_the_simulators_book(venue: Any) -> None:
    sim, exchange = venue
    await exchange.load_markets()
    for _ in range(100):
        book = await exchange.watch_order_book("BTC/USD")
    other = await exchange.watch_order_book("ETH/BTC")
    for _ in range(30):
        other = await exchange.watch_order_book("ETH/BTC")
    sim.pause()
    await asyncio.sleep(0.3)  # frames already on the wire reach ccxt
    for symbol, product_id in (("BTC/USD", "BTC-USD"), ("ETH/BTC", "ETH-BTC")):
        book = exchange.orderbooks[symbol]
        bids, asks = _sim_book(sim, product_id)
        # The whole book, as Coinbase's level2 channel carries it.
        assert _decimal_book(book["bids"]) == bids
        assert _decimal_book(book["asks"]) == asks
        assert len(bids) > 250
    assert other["symbol"] == "ETH/BTC"


async def test_fetch_order_book_over_rest_matches_too(venue: Any) -> None:
    sim, exchange = venue
    sim.pause()
    await exchange.load_markets()
    book = await exchange.fetch_order_book("ETH/USD", 20)
    bids, asks = _sim_book(sim, "ETH-USD", 20)
    assert _decimal_book(book["bids"]) == bids
    assert _decimal_book(book["asks"]) == asks
