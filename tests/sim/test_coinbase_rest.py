"""The Coinbase simulator's public REST endpoints: shapes, numbers, errors, rate limit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.sim.coinbase_helpers import PLAIN, RFC3339_NANO
from tradegw.sim.coinbase import CoinbaseFaultPlan, CoinbaseSimConfig, CoinbaseSimulator

pytestmark = pytest.mark.timeout(15)

V3 = "/api/v3/brokerage"


def _sim(**config: Any) -> CoinbaseSimulator:
    settings: dict[str, Any] = {"pairs": 4, "rate": 0, "seed": 2, "rest_rate_limit": 0, **config}
    return CoinbaseSimulator(CoinbaseSimConfig.model_validate(settings))


async def _get(url: str, **params: Any) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json(), dict(resp.headers)


async def test_products_list_what_clients_read() -> None:
    async with _sim() as sim:
        status, body, _ = await _get(sim.rest_url + f"{V3}/market/products")
        assert status == 200
        assert body["num_products"] == 4
        products = body["products"]
        assert [p["product_id"] for p in products] == ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
        btc = products[0]
        assert btc["base_increment"] == "0.00000001"
        assert btc["quote_increment"] == btc["price_increment"] == "0.1"
        assert (btc["base_currency_id"], btc["quote_currency_id"]) == ("BTC", "USD")
        assert (btc["base_name"], btc["quote_name"]) == ("Bitcoin", "US Dollar")
        assert (btc["status"], btc["product_type"]) == ("online", "SPOT")
        assert btc["trading_disabled"] is False
        assert btc["is_disabled"] is False
        for key in ("price", "base_min_size", "base_max_size", "quote_min_size", "volume_24h"):
            assert PLAIN.fullmatch(btc[key]), key
        last = sim.market.state("BTC-USD").last_price
        assert Decimal(btc["price"]) == Decimal(last) / 10
        xrp = products[3]
        assert xrp["quote_increment"] == "0.00001"

        status, body, _ = await _get(sim.rest_url + f"{V3}/market/products", product_type="FUTURE")
        assert (status, body) == (200, {"products": [], "num_products": 0})
        status, body, _ = await _get(sim.rest_url + f"{V3}/market/products", product_ids="ETH-USD")
        assert [p["product_id"] for p in body["products"]] == ["ETH-USD"]

        status, one, _ = await _get(sim.rest_url + f"{V3}/market/products/SOL-USD")
        assert status == 200
        assert one == products[2]
        status, body, _ = await _get(sim.rest_url + f"{V3}/market/products/DOGE-USD")
        assert status == 404
        assert (body["error"], body["code"], body["details"]) == ("NOT_FOUND", 5, [])


async def test_product_book_is_the_simulators_book() -> None:
    async with _sim() as sim:
        sim.advance("ETH-USD", 50)
        status, body, _ = await _get(
            sim.rest_url + f"{V3}/market/product_book", product_id="ETH-USD", limit=5
        )
        assert status == 200
        book = body["pricebook"]
        assert book["product_id"] == "ETH-USD"
        assert RFC3339_NANO.fullmatch(book["time"])
        bids, asks = sim.book("ETH-USD", 5)
        assert [(Decimal(x["price"]), Decimal(x["size"])) for x in book["bids"]] == [
            (Decimal(p), Decimal(q)) for p, q in bids
        ]
        assert [(Decimal(x["price"]), Decimal(x["size"])) for x in book["asks"]] == [
            (Decimal(p), Decimal(q)) for p, q in asks
        ]
        assert all(PLAIN.fullmatch(x["price"]) and PLAIN.fullmatch(x["size"]) for x in book["bids"])
        bid, ask = Decimal(bids[0][0]), Decimal(asks[0][0])
        assert Decimal(body["mid_market"]) == (bid + ask) / 2
        assert Decimal(body["spread_absolute"]) == ask - bid
        assert abs(
            Decimal(body["spread_bps"]) - (ask - bid) / ((bid + ask) / 2) * 10_000
        ) < Decimal("1e-7")
        status, full, _ = await _get(
            sim.rest_url + f"{V3}/market/product_book", product_id="ETH-USD"
        )
        assert len(full["pricebook"]["bids"]) == len(sim.book("ETH-USD")[0])
        for params, code in (({}, 400), ({"product_id": "NOPE-USD"}, 404)):
            status, body, _ = await _get(sim.rest_url + f"{V3}/market/product_book", **params)
            assert status == code
            assert body["code"] in (3, 5)
        status, body, _ = await _get(
            sim.rest_url + f"{V3}/market/product_book", product_id="ETH-USD", limit="x"
        )
        assert (status, body["error"]) == (400, "INVALID_ARGUMENT")


async def test_time_and_the_v2_endpoints_ccxt_reads() -> None:
    async with _sim(pairs=["BTC-USD", "ETH-BTC", "BTC-EUR", "SHIB-USD"]) as sim:
        url = sim.rest_url
        _, now, _ = await _get(url + f"{V3}/time")
        assert RFC3339_NANO.fullmatch(now["iso"])
        assert int(now["epochMillis"]) // 1000 == int(now["epochSeconds"])
        _, v2_time, _ = await _get(url + "/v2/time")
        assert abs(v2_time["data"]["epoch"] - int(now["epochSeconds"])) <= 1
        _, fiat, _ = await _get(url + "/v2/currencies")
        assert [c["id"] for c in fiat["data"]] == ["USD", "EUR"]
        assert fiat["data"][0] == {"id": "USD", "name": "US Dollar", "min_size": "0.01"}
        _, crypto, _ = await _get(url + "/v2/currencies/crypto")
        assert [c["code"] for c in crypto["data"]] == ["BTC", "ETH", "SHIB"]
        assert crypto["data"][0]["name"] == "Bitcoin"
        assert crypto["data"][0]["type"] == "crypto"
        _, rates, _ = await _get(url + "/v2/exchange-rates")
        assert rates["data"]["currency"] == "USD"
        table = rates["data"]["rates"]
        # ETH has no USD product here, so no rate.
        assert set(table) == {"USD", "BTC", "EUR", "SHIB"}
        btc_price = Decimal(sim.market.state("BTC-USD").last_price) / 10
        assert abs(Decimal(table["BTC"]) * btc_price - 1) < Decimal("1e-12")
        _, in_btc, _ = await _get(url + "/v2/exchange-rates", currency="BTC")
        assert in_btc["data"]["rates"]["BTC"] == "1"
        assert abs(Decimal(in_btc["data"]["rates"]["USD"]) - btc_price) < Decimal("1e-9")
        status, bad, _ = await _get(url + "/v2/exchange-rates", currency="XYZ")
        assert status == 400
        assert bad["errors"][0]["id"] == "invalid_request"


async def test_unknown_paths_answer_in_each_apis_error_shape() -> None:
    async with _sim() as sim:
        status, body, _ = await _get(sim.rest_url + f"{V3}/market/nothing")
        assert status == 404
        assert body["error"] == "NOT_FOUND"
        status, body, _ = await _get(sim.rest_url + "/v2/nothing")
        assert status == 404
        assert body == {"errors": [{"id": "not_found", "message": "Not Found"}]}
        async with (
            aiohttp.ClientSession() as session,
            session.post(sim.rest_url + f"{V3}/time") as resp,
        ):
            assert resp.status == 404


async def test_the_public_rate_limit_answers_429_with_retry_after() -> None:
    async with _sim(rest_rate_limit=2.0, rest_burst=3) as sim:
        url = sim.rest_url + f"{V3}/time"
        statuses = []
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                async with session.get(url) as resp:
                    statuses.append(resp.status)
                    if resp.status == 429:
                        body = await resp.json()
                        retry = resp.headers["Retry-After"]
            async with session.get(sim.rest_url + "/v2/time") as resp:
                v2_body = await resp.json()
        assert statuses == [200, 200, 200, 429, 429]
        assert body == {
            "error": "RESOURCE_EXHAUSTED",
            "code": 8,
            "message": "too many requests",
            "details": [],
        }
        assert retry == "1"
        assert v2_body["errors"][0]["id"] == "rate_limit_exceeded"
    assert CoinbaseSimConfig().rest_rate_limit == 10.0


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [("http_429", 429, "RESOURCE_EXHAUSTED"), ("http_5xx", 502, "INTERNAL")],
)
async def test_injected_http_faults_answer_in_coinbase_words(
    kind: str, status: int, error: str
) -> None:
    plan = CoinbaseFaultPlan.model_validate(
        {"faults": [{"kind": kind, "after_messages": [1], "status": 502, "max_count": 1}]}
    )
    async with _sim(faults=plan) as sim:
        url = sim.rest_url + f"{V3}/market/products"
        first, _, _ = await _get(url)
        code, body, headers = await _get(url)
        third, _, _ = await _get(url)
        assert (first, code, third) == (200, status, 200)
        assert body["error"] == error
        assert "Retry-After" not in headers
        assert sim.stats()["faults"][kind] == 1
        assert sim.stats()["rest_requests"] == 3
