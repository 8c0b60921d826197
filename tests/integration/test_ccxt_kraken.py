"""ccxt (a peer client) against the Kraken simulator, changing only its URLs.

The override recipe, as a user would write it::

    exchange = ccxt.pro.kraken()
    exchange.urls["api"]["public"] = sim.rest_url          # http://127.0.0.1:PORT
    exchange.urls["api"]["ws"]["publicV2"] = sim.ws_url    # ws://127.0.0.1:PORT/v2

``load_markets`` then reads ``/0/public/AssetPairs`` and ``/0/public/Assets``;
``watch_order_book`` subscribes to the v2 ``book`` channel (depth 10).

ccxt 4.5's own checksum check is off by default ("the exchange checksum was not reliable")
and, switched on, fails in Python before comparing anything (it splits a float as if it were
text) — and it would hash ccxt's float text, not the pair's fixed precision. So this client
checks each book frame's CRC32 itself, over ccxt's book rendered at the precision ccxt read
from AssetPairs: a frame whose checksum disagrees with the book ccxt built would surface.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxtpro
import pytest

from tradegw.sim.kraken import KrakenSimConfig, KrakenSimulator

pytestmark = pytest.mark.timeout(30)

PAIRS = ["BTC/USD", "ETH/USD", "MATIC/USD"]


def _decimals(step: float) -> int:
    """Decimals of a precision step as ccxt gives it (``0.1`` -> 1, ``1e-08`` -> 8)."""
    return -Decimal(repr(step)).normalize().as_tuple().exponent  # type: ignore[operator]


def _fixed(value: float, decimals: int) -> str:
    return f"{Decimal(repr(value)):.{decimals}f}"


class CheckedKraken(ccxtpro.kraken):  # type: ignore[misc]
    """ccxt's Kraken with a working checksum check on every book frame."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config or {})
        self.checked = 0
        self.mismatches: list[tuple[str, int, int]] = []

    def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
        super().handle_order_book(client, message)
        data = message["data"][0]
        symbol = data["symbol"]
        book = self.orderbooks[symbol]
        precision = self.markets[symbol]["precision"]
        pp, qp = _decimals(precision["price"]), _decimals(precision["amount"])

        def text(level: Any) -> str:
            price, qty = _fixed(level[0], pp), _fixed(level[1], qp)
            return (price.replace(".", "").lstrip("0")) + (qty.replace(".", "").lstrip("0"))

        payload = "".join(text(a) for a in book["asks"][:10])
        payload += "".join(text(b) for b in book["bids"][:10])
        local = zlib.crc32(payload.encode())
        self.checked += 1
        if local != data["checksum"]:
            self.mismatches.append((symbol, local, data["checksum"]))


@pytest.fixture
async def venue() -> AsyncIterator[tuple[KrakenSimulator, CheckedKraken]]:
    config = KrakenSimConfig(pairs=PAIRS, rate=1000, seed=21)
    async with KrakenSimulator(config) as sim:
        exchange = CheckedKraken()
        exchange.urls["api"]["public"] = sim.rest_url
        exchange.urls["api"]["ws"]["publicV2"] = sim.ws_url
        try:
            yield sim, exchange
        finally:
            await exchange.close()


def _as_decimals(levels: list[Any]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(repr(price)), Decimal(repr(qty))) for price, qty, *_ in levels]


def _sim_book(sim: KrakenSimulator, symbol: str, depth: int) -> Any:
    bids, asks = sim.book(symbol, depth)
    return (
        [(Decimal(p), Decimal(q)) for p, q in bids],
        [(Decimal(p), Decimal(q)) for p, q in asks],
    )


async def test_load_markets_reads_asset_pairs_and_assets(venue: Any) -> None:
    sim, exchange = venue
    markets = await exchange.load_markets()
    assert sorted(markets) == sorted(PAIRS)
    btc = markets["BTC/USD"]
    assert (btc["id"], btc["base"], btc["quote"]) == ("XXBTZUSD", "BTC", "USD")
    assert btc["precision"] == {"amount": 1e-08, "price": 0.1}
    assert markets["MATIC/USD"]["precision"]["price"] == 0.0001
    assert {"BTC", "ETH", "MATIC", "USD"} <= set(exchange.currencies)
    assert sim.stats()["rest_requests"] == 2


async def test_watch_order_book_builds_the_simulators_book_and_every_checksum_holds(
    venue: Any,
) -> None:
    sim, exchange = venue
    await exchange.load_markets()
    for symbol in PAIRS:
        for _ in range(60):
            await exchange.watch_order_book(symbol)
    sim.pause()
    await asyncio.sleep(0.3)  # frames already on the wire reach ccxt
    for symbol in PAIRS:
        book = exchange.orderbooks[symbol]
        bids, asks = _sim_book(sim, symbol, 10)
        assert _as_decimals(book["bids"]) == bids
        assert _as_decimals(book["asks"]) == asks
    assert exchange.checked > 150
    assert exchange.mismatches == []


async def test_a_corrupted_checksum_surfaces_in_the_check() -> None:
    """The control for the check above: the same client notices a damaged frame."""
    plan = {"faults": [{"kind": "corrupt_checksum", "after_messages": [30], "max_count": 1}]}
    config = KrakenSimConfig.model_validate(
        {"pairs": ["BTC/USD"], "rate": 1000, "seed": 21, "faults": plan}
    )
    async with KrakenSimulator(config) as sim:
        exchange = CheckedKraken()
        exchange.urls["api"]["public"] = sim.rest_url
        exchange.urls["api"]["ws"]["publicV2"] = sim.ws_url
        try:
            for _ in range(60):
                await exchange.watch_order_book("BTC/USD")
        finally:
            await exchange.close()
    assert len(exchange.mismatches) == 1


async def test_fetch_order_book_over_rest_matches_too(venue: Any) -> None:
    sim, exchange = venue
    sim.pause()
    await exchange.load_markets()
    book = await exchange.fetch_order_book("ETH/USD", 20)
    bids, asks = _sim_book(sim, "ETH/USD", 20)
    assert _as_decimals(book["bids"]) == bids
    assert _as_decimals(book["asks"]) == asks
