"""The Binance simulator's order entry as a client sees it: the WebSocket API (``/ws-api/v3``)
and the SIGNED REST endpoints, signatures checked and refused in the venue's codes, orders
through the matching engine with the venue's duplicate-id rule, the user data stream, and
the order faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.sim.binance_api_client import (
    ED_KEY,
    ED_PUBLIC_PEM,
    KEY,
    SECRET,
    WsApi,
    ed_rest_query,
    ed_sign,
    ed_signed,
    now_ms,
    rest_query,
    signed,
    ws_sign,
)
from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator
from tradegw.sim.binance.auth import hmac_hex, rest_payload, ws_payload

pytestmark = pytest.mark.timeout(30)

VECTOR_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
VECTOR_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"

SimFactory = Callable[..., Awaitable[BinanceSimulator]]


@pytest.fixture
async def sims() -> AsyncIterator[SimFactory]:
    made: list[BinanceSimulator] = []

    async def make(**fields: Any) -> BinanceSimulator:
        fields.setdefault("pairs", ["BTCUSDT", "ETHUSDT"])
        fields.setdefault("rate", 0)
        fields.setdefault("api_keys", {KEY: {"secret": SECRET}})
        sim = BinanceSimulator(BinanceSimConfig(**fields))
        await sim.start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        await sim.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def connect(session: aiohttp.ClientSession, sim: BinanceSimulator) -> WsApi:
    return WsApi(await session.ws_connect(f"{sim.ws_url}/ws-api/v3"))


def limit(
    sim: BinanceSimulator, cid: str, *, side: str = "BUY", take: bool = False, **extra: Any
) -> dict[str, Any]:
    """A signed LIMIT order on BTCUSDT: resting below the book, or taking through it."""
    bids, asks = sim.book("BTCUSDT", 5)
    price = asks[2][0] if take else bids[3][0]
    if side == "SELL":
        price = bids[2][0] if take else asks[3][0]
    params = {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.00100000",
        "price": price,
        "newClientOrderId": cid,
        **extra,
    }
    return signed({k: v for k, v in params.items() if v is not None})


def error(answer: dict[str, Any]) -> tuple[int, int, str]:
    return answer["status"], answer["error"]["code"], answer["error"]["msg"]


# ---------------------------------------------------------------------------- signing


def test_the_simulators_own_signing_reproduces_the_documented_vectors() -> None:
    rest = [
        (
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
            "&recvWindow=5000&timestamp=1499827319559",
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
        ),
        (
            "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
            "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
            "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
        ),
    ]
    for query, expected in rest:
        # The same payload whether the signature rides in the query or after the body.
        assert hmac_hex(VECTOR_SECRET, rest_payload(f"{query}&signature=x", "")) == expected
        assert hmac_hex(VECTOR_SECRET, rest_payload("", f"{query}&signature=x")) == expected
    ws = [
        (
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.01000000",
                "price": "52000.00",
                "recvWindow": 100,
            },
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
        ),
        (
            {
                "symbol": "\uff11\uff12\uff13\uff14\uff15\uff16",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "1.00000000",
                "price": "0.10000000",
                "recvWindow": 5000,
            },
            "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
        ),
    ]
    for params, expected in ws:
        full = {**params, "timestamp": 1645423376532, "apiKey": VECTOR_KEY, "signature": "x"}
        assert hmac_hex(VECTOR_SECRET, ws_payload(full)) == expected


async def test_a_documented_vector_request_is_accepted_up_to_its_timestamp(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    """The docs' own request, signed as published, is refused only for its 2022 timestamp."""
    sim = await sims(api_keys={VECTOR_KEY: {"secret": VECTOR_SECRET}})
    api = await connect(session, sim)
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": VECTOR_KEY,
        "signature": "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
    }
    assert error(await api.call("order.place", params)) == (
        400,
        -1021,
        "Timestamp for this request is outside of the recvWindow.",
    )
    params["signature"] = params["signature"][:-1] + "5"
    assert error(await api.call("order.place", params))[1] == -1022
    await api.close()


# ---------------------------------------------------------------------------- refusals


async def test_signed_requests_are_refused_as_the_venue_refuses_them(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims(api_keys={KEY: {"secret": SECRET}, ED_KEY: {"public_key_pem": ED_PUBLIC_PEM}})
    api = await connect(session, sim)
    status = {"symbol": "BTCUSDT", "origClientOrderId": "nope"}

    bad = signed(status)
    bad["signature"] = "0" * 64
    assert error(await api.call("order.status", bad)) == (
        400,
        -1022,
        "Signature for this request is not valid.",
    )
    assert error(await api.call("order.status", signed(status, secret="wrong")))[1] == -1022
    assert error(await api.call("order.status", signed(status, key="someoneElse"))) == (
        401,
        -2015,
        "Invalid API-key, IP, or permissions for action.",
    )
    assert error(await api.call("order.status", signed(status, key="bad key!"))) == (
        401,
        -2014,
        "API-key format invalid.",
    )
    # An Ed25519 key signs Ed25519 only: an HMAC signature of it is not one.
    assert error(await api.call("order.status", signed(status, key=ED_KEY)))[1] == -1022

    stale = ws_sign({"apiKey": KEY, "timestamp": now_ms() - 6000, **status})
    assert error(await api.call("order.status", stale)) == (
        400,
        -1021,
        "Timestamp for this request is outside of the recvWindow.",
    )
    wider = ws_sign({"apiKey": KEY, "timestamp": now_ms() - 6000, "recvWindow": 10000, **status})
    assert error(await api.call("order.status", wider))[1] == -2013  # inside its own window
    ahead = ws_sign({"apiKey": KEY, "timestamp": now_ms() + 1500, **status})
    assert error(await api.call("order.status", ahead)) == (
        400,
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    )
    too_wide = ws_sign({"apiKey": KEY, "timestamp": now_ms(), "recvWindow": 60001, **status})
    assert error(await api.call("order.status", too_wide))[1] == -1102
    no_stamp = ws_sign({"apiKey": KEY, **status})
    assert error(await api.call("order.status", no_stamp)) == (
        400,
        -1102,
        "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    )
    unsigned = {"apiKey": KEY, "timestamp": now_ms(), **status}
    assert error(await api.call("order.status", unsigned))[1] == -1102
    # HMAC signatures are case-insensitive.
    upper = signed(status)
    upper["signature"] = upper["signature"].upper()
    assert error(await api.call("order.status", upper))[1] == -2013
    # Nothing refused reached the engine.
    assert sim.matching.stats.placed == 0
    assert sim.stats()["signed_refused"] == {-1022: 3, -2015: 1, -2014: 1, -1021: 2, -1102: 3}
    await api.close()


async def test_an_ed25519_key_is_checked_with_its_public_key(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    """Base64 Ed25519 signatures over the same payloads as HMAC: accepted when they verify
    with the registered public key, refused ``-1022`` when the payload was changed after
    signing, when one letter's case changes (base64 is case-sensitive), or when they are not
    64 bytes of base64; on REST the signature arrives percent-encoded."""
    sim = await sims(api_keys={ED_KEY: {"public_key_pem": ED_PUBLIC_PEM}})
    api = await connect(session, sim)
    status = {"symbol": "BTCUSDT", "origClientOrderId": "nope"}
    good = ed_signed(status)
    assert error(await api.call("order.status", good))[1] == -2013  # signed right: looked up
    tampered = {**good, "origClientOrderId": "other"}
    assert error(await api.call("order.status", tampered)) == (
        400,
        -1022,
        "Signature for this request is not valid.",
    )
    fresh = ed_signed(status)
    flipped = next(i for i, c in enumerate(fresh["signature"]) if c.isalpha())
    char = fresh["signature"][flipped]
    fresh["signature"] = (
        fresh["signature"][:flipped] + char.swapcase() + fresh["signature"][flipped + 1 :]
    )
    assert error(await api.call("order.status", fresh))[1] == -1022
    short = ed_signed(status)
    short["signature"] = short["signature"][:-4]
    assert error(await api.call("order.status", short))[1] == -1022

    placed = await api.call("order.place", ed_sign({**limit(sim, "ed-1"), "apiKey": ED_KEY}))
    assert placed["status"] == 200, placed
    assert placed["result"]["clientOrderId"] == "ed-1"
    stream = await connect(session, sim)
    sub = await stream.call("userDataStream.subscribe.signature", ed_signed({}))
    assert sub["status"] == 200, sub

    url = f"{sim.rest_url}/api/v3/order?"
    query = ed_rest_query({"symbol": "BTCUSDT", "origClientOrderId": "ed-1"})
    assert query.endswith("%3D%3D")  # base64 "==", percent-encoded
    r = await session.get(url + query, headers={"X-MBX-APIKEY": ED_KEY})
    assert (r.status, (await r.json())["clientOrderId"]) == (200, "ed-1")
    changed = query.replace("ed-1", "ed-2")
    r = await session.get(url + changed, headers={"X-MBX-APIKEY": ED_KEY})
    assert (r.status, (await r.json())["code"]) == (400, -1022)
    assert sim.matching.stats.placed == 1
    assert sim.stats()["signed_refused"] == {-1022: 4}
    await api.close()
    await stream.close()


def test_a_binance_key_is_hmac_or_ed25519_and_its_public_key_must_load() -> None:
    with pytest.raises(ValueError, match=r"'simTes\.\.\.': public_key_pem does not load"):
        BinanceSimConfig(api_keys={ED_KEY: {"public_key_pem": "PEM"}})
    with pytest.raises(ValueError, match=r"HMAC \(secret\) or Ed25519"):
        BinanceSimConfig(api_keys={ED_KEY: {"secret": "s", "public_key_pem": ED_PUBLIC_PEM}})
    with pytest.raises(ValueError, match=r"HMAC \(secret\) or Ed25519"):
        BinanceSimConfig(api_keys={ED_KEY: {}})


async def test_rest_signed_endpoints_check_the_query_and_body_as_sent(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims()
    url = f"{sim.rest_url}/api/v3/myTrades?"
    query = rest_query({"symbol": "BTCUSDT"})
    r = await session.get(url + query, headers={"X-MBX-APIKEY": KEY})
    assert (r.status, await r.json()) == (200, [])
    r = await session.get(url + query)
    assert (r.status, await r.json()) == (401, {"code": -2014, "msg": "API-key format invalid."})
    r = await session.get(url + query.replace("BTCUSDT", "ETHUSDT"), headers={"X-MBX-APIKEY": KEY})
    assert (await r.json())["code"] == -1022
    # A new order with its parameters in the form body, signed over the body.
    bids, _ = sim.book("BTCUSDT", 3)
    body = rest_query(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": bids[2][0],
            "newClientOrderId": "viaRest",
        }
    )
    r = await session.post(
        f"{sim.rest_url}/api/v3/order",
        data=body,
        headers={"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    placed = await r.json()
    assert r.status == 200, placed
    assert (placed["clientOrderId"], placed["status"]) == ("viaRest", "NEW")
    r = await session.get(
        f"{sim.rest_url}/api/v3/order?"
        + rest_query({"symbol": "BTCUSDT", "origClientOrderId": "viaRest"}),
        headers={"X-MBX-APIKEY": KEY},
    )
    assert (await r.json())["orderId"] == placed["orderId"]
    r = await session.delete(
        f"{sim.rest_url}/api/v3/order?"
        + rest_query({"symbol": "BTCUSDT", "origClientOrderId": "viaRest"}),
        headers={"X-MBX-APIKEY": KEY},
    )
    assert (await r.json())["status"] == "CANCELED"
    dup = rest_query({"symbol": "BTCUSDT"}) + "&symbol=BTCUSDT"
    r = await session.get(url + dup, headers={"X-MBX-APIKEY": KEY})
    assert (await r.json())["code"] == -1101


# ---------------------------------------------------------------------------- orders


async def test_place_status_cancel_and_the_user_stream(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims()
    api = await connect(session, sim)
    stream = await connect(session, sim)
    sub = await stream.call("userDataStream.subscribe.signature", signed({}))
    assert sub["status"] == 200
    sub_id = sub["result"]["subscriptionId"]
    assert sub_id == 0
    again = await stream.call("userDataStream.subscribe.signature", signed({}))
    assert error(again) == (400, -2035, "User Data Stream subscription already active.")

    placed = await api.call("order.place", limit(sim, "rest-1", newOrderRespType="ACK"))
    assert placed["status"] == 200
    assert set(placed["result"]) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    assert placed["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    new = await stream.event(lambda e: e["event"]["c"] == "rest-1")
    assert new["subscriptionId"] == sub_id
    assert (new["event"]["x"], new["event"]["X"], new["event"]["i"]) == (
        "NEW",
        "NEW",
        placed["result"]["orderId"],
    )

    status = await api.call(
        "order.status", signed({"symbol": "BTCUSDT", "origClientOrderId": "rest-1"})
    )
    assert (status["result"]["status"], status["result"]["executedQty"]) == ("NEW", "0.00000000")
    dup = await api.call("order.place", limit(sim, "rest-1"))
    assert error(dup) == (400, -2010, "Duplicate order sent.")

    cancel = await api.call(
        "order.cancel",
        signed({"symbol": "BTCUSDT", "origClientOrderId": "rest-1", "newClientOrderId": "cxl-1"}),
    )
    assert cancel["result"]["status"] == "CANCELED"
    assert (cancel["result"]["origClientOrderId"], cancel["result"]["clientOrderId"]) == (
        "rest-1",
        "cxl-1",
    )
    cancelled = await stream.event(lambda e: e["event"]["x"] == "CANCELED")
    assert (cancelled["event"]["c"], cancelled["event"]["C"]) == ("cxl-1", "rest-1")
    again = await api.call(
        "order.cancel", signed({"symbol": "BTCUSDT", "origClientOrderId": "rest-1"})
    )
    assert error(again) == (400, -2011, "Unknown order sent.")
    # Closed, the id may be used again: a new order.
    reused = await api.call("order.place", limit(sim, "rest-1"))
    assert reused["result"]["orderId"] != placed["result"]["orderId"]

    unknown = await api.call(
        "order.status", signed({"symbol": "BTCUSDT", "origClientOrderId": "never"})
    )
    assert error(unknown) == (400, -2013, "Order does not exist.")
    listed = await api.call("openOrders.status", signed({"symbol": "BTCUSDT"}))
    assert [o["clientOrderId"] for o in listed["result"]] == ["rest-1"]

    bye = await stream.call("userDataStream.unsubscribe", {})
    assert bye["result"] == {}
    await stream.event(lambda e: e["event"]["e"] == "eventStreamTerminated")
    # The engine counts the reuse (a gateway never sends an id twice, so for it this stays 0).
    assert sim.matching.stats.duplicate_orders == 1
    await api.close()
    await stream.close()


async def test_fills_are_reported_with_trade_ids_that_my_trades_lists(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims()
    api = await connect(session, sim)
    stream = await connect(session, sim)
    await stream.call("userDataStream.subscribe.signature", signed({}))
    # Through three levels of asks, IOC: fills, then the rest expires.
    _, asks = sim.book("BTCUSDT", 3)
    qty = sum(Decimal(q) for _, q in asks) + Decimal("0.5")
    params = signed(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "IOC",
            "quantity": f"{qty:.8f}",
            "price": asks[2][0],
            "newClientOrderId": "ioc-1",
        }
    )
    placed = await api.call("order.place", params)
    result = placed["result"]
    assert result["status"] == "EXPIRED"
    assert result["expiryReason"] == "UNFILLED_IOC_QUANTITY_EXPIRED"
    assert len(result["fills"]) == 3
    await stream.event(lambda e: e["event"]["x"] == "EXPIRED")
    reports = stream.reports("ioc-1")
    assert [r["x"] for r in reports] == ["NEW", "TRADE", "TRADE", "TRADE", "EXPIRED"]
    trades = [r for r in reports if r["x"] == "TRADE"]
    assert [r["X"] for r in trades] == ["PARTIALLY_FILLED"] * 3
    assert len({r["I"] for r in reports}) == 5
    assert Decimal(trades[-1]["z"]) == sum(Decimal(r["l"]) for r in trades)
    assert all(r["N"] == "USDT" and Decimal(r["n"]) > 0 for r in trades)
    listed = await api.call("myTrades", signed({"symbol": "BTCUSDT", "orderId": result["orderId"]}))
    assert [t["id"] for t in listed["result"]] == [r["t"] for r in trades]
    assert [t["id"] for t in listed["result"]] == [f["tradeId"] for f in result["fills"]]
    assert [t["commission"] for t in listed["result"]] == [r["n"] for r in trades]

    # A resting order fills from the market's own trades as the pair steps.
    resting = await api.call("order.place", limit(sim, "rest-2", side="SELL", take=False))
    assert resting["result"]["status"] == "NEW"
    for _ in range(400):
        sim.advance("BTCUSDT", 5)
        if any(r["x"] == "TRADE" for r in stream.reports("rest-2")):
            break
        await asyncio.sleep(0)
    fill = await stream.event(lambda e: e["event"]["c"] == "rest-2" and e["event"]["x"] == "TRADE")
    assert fill["event"]["m"] is True
    await api.close()
    await stream.close()


async def test_orders_the_venue_refuses_are_not_created(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims(starting_balance="1000")
    api = await connect(session, sim)
    maker = limit(sim, "mk-1", take=True, type="LIMIT_MAKER", timeInForce=None)
    assert error(await api.call("order.place", maker)) == (
        400,
        -2010,
        "Order would immediately match and take.",
    )
    status = signed({"symbol": "BTCUSDT", "origClientOrderId": "mk-1"})
    assert error(await api.call("order.status", status))[1] == -2013
    cases = {
        "off tick": ({"price": "45000.05"}, (-1013, "Filter failure: PRICE_FILTER")),
        "off step": (
            {"quantity": "0.000000015"},
            (-1111, "Parameter 'quantity' has too much precision."),
        ),
        "below lot": ({"quantity": "0.00001"}, (-1013, "Filter failure: LOT_SIZE")),
        "not a number": ({"quantity": "1e-3"}, (-1100, None)),
        "funds": (
            {"quantity": "1"},
            (-2010, "Account has insufficient balance for requested action."),
        ),
        "side": ({"side": "UP"}, (-1117, "Invalid side.")),
        "type": ({"type": "STOP_LOSS"}, (-1116, "Invalid orderType.")),
        "tif": ({"timeInForce": "DAY"}, (-1115, "Invalid timeInForce.")),
        "symbol": ({"symbol": "NOPEUSDT"}, (-1121, "Invalid symbol.")),
        "client id": ({"newClientOrderId": "has space"}, (-1100, None)),
    }
    for name, (change, (code, msg)) in cases.items():
        params = signed(
            {**{k: v for k, v in limit(sim, "x").items() if k != "signature"}, **change}
        )
        got = error(await api.call("order.place", params))
        assert got[1] == code, (name, got)
        if msg is not None:
            assert got[2] == msg, (name, got)
    market = signed(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.001",
            "price": "45000.0",
        }
    )
    assert error(await api.call("order.place", market))[1:] == (
        -1106,
        "Parameter 'price' sent when not required.",
    )
    assert sim.matching.stats.placed == 0
    await api.close()


# ---------------------------------------------------------------------------- faults


def _fault(kind: str, **spec: Any) -> dict[str, Any]:
    return {"faults": [{"kind": kind, **spec}]}


async def test_order_faults_leave_an_accepted_order_without_its_answer(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims(
        faults={
            "faults": [
                {"kind": "order_ack_lost", "after_messages": [0]},
                {"kind": "order_response_lost", "after_messages": [1]},
                {"kind": "order_5xx_after_accept", "after_messages": [2], "status": 503},
            ]
        }
    )
    api = await connect(session, sim)
    rid = await api.send("order.place", limit(sim, "f-ack"))
    with pytest.raises(TimeoutError):
        await api.answer(rid, within=0.5)
    assert not api.closed.is_set(), "ack lost: the connection stays"
    rid = await api.send("order.place", limit(sim, "f-resp"))
    await asyncio.wait_for(api.closed.wait(), 2)
    api = await connect(session, sim)
    got = await api.call("order.place", limit(sim, "f-5xx"))
    assert error(got) == (
        503,
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; "
        "execution status unknown.",
    )
    # Each of them is at the venue, working.
    for cid in ("f-ack", "f-resp", "f-5xx"):
        status = await api.call(
            "order.status", signed({"symbol": "BTCUSDT", "origClientOrderId": cid})
        )
        assert status["result"]["status"] == "NEW", cid
    assert sim.stats()["faults"]["order_ack_lost"] == 1
    assert sim.matching.stats.placed == 3
    await api.close()


async def test_rest_order_faults_close_the_connection_or_answer_5xx(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims(
        faults={
            "faults": [
                {"kind": "order_response_lost", "after_messages": [0]},
                {"kind": "order_5xx_after_accept", "after_messages": [1], "status": 502},
            ]
        }
    )
    bids, _ = sim.book("BTCUSDT", 3)
    headers = {"X-MBX-APIKEY": KEY}
    answers = []
    for cid in ("r-lost", "r-5xx"):
        query = rest_query(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": bids[2][0],
                "newClientOrderId": cid,
            }
        )
        try:
            r = await session.post(f"{sim.rest_url}/api/v3/order?{query}", headers=headers)
            answers.append((r.status, (await r.json())["code"]))
        except aiohttp.ServerDisconnectedError:
            answers.append(("disconnected", None))
    assert answers == [("disconnected", None), (502, -1007)]
    assert sim.matching.stats.placed == 2


@pytest.mark.parametrize("mode", ["disconnect", "terminate"])
async def test_private_stream_drop_loses_the_fill_which_my_trades_still_lists(
    sims: SimFactory, session: aiohttp.ClientSession, mode: str
) -> None:
    sim = await sims(faults=_fault("private_stream_drop", after_messages=[0]), stream_drop=mode)
    api = await connect(session, sim)
    stream = await connect(session, sim)
    await stream.call("userDataStream.subscribe.signature", signed({}))
    placed = await api.call("order.place", limit(sim, "drop-1", take=True))
    assert placed["result"]["fills"], "it took liquidity"
    if mode == "disconnect":
        await asyncio.wait_for(stream.closed.wait(), 2)
    else:
        await stream.event(lambda e: e["event"]["e"] == "eventStreamTerminated")
        assert not stream.closed.is_set()
        listed = await stream.call("session.subscriptions", {})
        assert listed["result"] == []
    assert [r["x"] for r in stream.reports("drop-1")] == ["NEW"], "the fill never came"
    trades = await api.call("myTrades", signed({"symbol": "BTCUSDT"}))
    assert [t["id"] for t in trades["result"]] == [f["tradeId"] for f in placed["result"]["fills"]]
    assert sim.stats()["faults"]["private_stream_drop"] == 1
    await api.close()
    await stream.close()


async def test_ws_api_requests_spend_the_ips_request_weight(
    sims: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await sims(weight_limit=10)
    api = await connect(session, sim)
    status = {"symbol": "BTCUSDT", "origClientOrderId": "none"}
    assert error(await api.call("order.status", signed(status)))[1] == -2013  # weight 4
    assert error(await api.call("order.status", signed(status)))[1] == -2013  # 8
    refused = await api.call("order.status", signed(status))  # 12 > 10
    assert refused["status"] == 429
    assert refused["error"]["code"] == -1003
    quiet = await api.call("ping", {"returnRateLimits": False})
    assert quiet["status"] == 418
    assert "rateLimits" not in quiet
    await api.close()
