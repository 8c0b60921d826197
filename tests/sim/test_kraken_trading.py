"""The Kraken simulator trades: private REST checked as Kraken checks it (key, signature,
nonce), tokens, WS v2 ``add_order``/``cancel_order`` and the ``executions`` channel in the
venue's shapes, the duplicate ``cl_ord_id`` rule, and the order faults."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.sim.kraken_private import (
    API_KEYS,
    KEY,
    OTHER_KEY,
    OTHER_SECRET,
    PrivateClient,
    PrivateRest,
    order_params,
)
from tradegw.sim.kraken import KrakenSimConfig, KrakenSimulator
from tradegw.sim.kraken.config import DUPLICATE_ORDER_ERROR

pytestmark = pytest.mark.timeout(20)

ACCOUNTS = {"default": {}, "other": {}}


def make_sim(**overrides: Any) -> KrakenSimulator:
    fields: dict[str, Any] = {
        "pairs": ["BTC/USD", "ETH/USD"],
        "rate": 0,
        "accounts": ACCOUNTS,
        "api_keys": API_KEYS,
        **overrides,
    }
    return KrakenSimulator(KrakenSimConfig.model_validate(fields))


@pytest.fixture
async def sim() -> AsyncIterator[KrakenSimulator]:
    async with make_sim() as s:
        yield s


@pytest.fixture
async def rest(sim: KrakenSimulator) -> AsyncIterator[PrivateRest]:
    async with aiohttp.ClientSession(sim.rest_url) as session:
        yield PrivateRest(session)


async def private_client(
    sim: KrakenSimulator, rest: PrivateRest, session: aiohttp.ClientSession
) -> PrivateClient:
    token = await rest.token()
    ws = await session.ws_connect(sim.auth_ws_url)
    client = PrivateClient(ws, token)
    status = await client.recv()
    assert status["channel"] == "status"
    return client


def best(sim: KrakenSimulator, symbol: str = "BTC/USD") -> tuple[Decimal, Decimal]:
    bids, asks = sim.book(symbol, 1)
    return Decimal(bids[0][0]), Decimal(asks[0][0])


def cid() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- authentication


async def test_private_rest_is_refused_as_kraken_refuses_it(
    sim: KrakenSimulator, rest: PrivateRest
) -> None:
    assert await rest.error("Balance", key="nobody") == "EAPI:Invalid key"
    assert await rest.error("Balance", sign="AAAA" + "A" * 84) == "EAPI:Invalid signature"
    # A request signed with another key's secret.
    wrong = PrivateRest(rest.session, KEY, OTHER_SECRET)
    assert await wrong.error("Balance") == "EAPI:Invalid signature"
    # Nonces: the same one twice, then a lower one.
    nonce = rest.next_nonce()
    assert "ZUSD" in await rest.call("Balance", nonce=nonce)
    assert await rest.error("Balance", nonce=nonce) == "EAPI:Invalid nonce"
    assert await rest.error("Balance", nonce=str(int(nonce) - 5)) == "EAPI:Invalid nonce"
    assert await rest.error("Balance", nonce="12ab") == "EAPI:Invalid nonce"
    # A refused call does not use up its nonce: a badly signed one with a high nonce first.
    high = str(int(nonce) + 1000)
    assert await rest.error("Balance", nonce=high, sign="B" * 86 + "==") == (
        "EAPI:Invalid signature"
    )
    assert "ZUSD" in await rest.call("Balance", nonce=str(int(nonce) + 10))
    # Nonces are per key: the other key starts afresh, with a JSON body this time.
    other = PrivateRest(rest.session, OTHER_KEY, OTHER_SECRET)
    assert "ZUSD" in await other.call("Balance", nonce="5", as_json=True)
    assert sim.trading.auth.refused == {
        "EAPI:Invalid key": 1,
        "EAPI:Invalid signature": 3,
        "EAPI:Invalid nonce": 3,
    }


async def test_a_token_must_be_known_and_fresh_and_lasts_while_subscribed() -> None:
    async with make_sim(ws_token_ttl_s=0.3) as sim, aiohttp.ClientSession(sim.rest_url) as s:
        rest = PrivateRest(s)
        token = await rest.token()
        assert len(token) == 43
        client = await private_client(sim, rest, s)
        client.token = "not-a-token"
        req = await client.add_order(**order_params("BTC/USD", "buy", "0.01", "100.0"))
        reply = await client.reply(req)
        assert (reply["success"], reply["error"]) == (False, "ESession:Invalid session")
        req = await client.subscribe_executions()
        assert (await client.reply(req))["error"] == "ESession:Invalid session"
        # A fresh token, held by a subscription, outlives its time to first use.
        client.token = token
        req = await client.subscribe_executions(snap_orders=False)
        assert (await client.reply(req))["success"] is True
        await asyncio.sleep(0.5)
        req = await client.add_order(**order_params("BTC/USD", "buy", "0.01", "100.0"))
        assert (await client.reply(req))["success"] is True
        # An unused token expires.
        stale = await rest.token()
        await asyncio.sleep(0.5)
        client.token = stale
        req = await client.add_order(**order_params("BTC/USD", "buy", "0.01", "100.0"))
        assert (await client.reply(req))["error"] == "ESession:Invalid session"
        await client.ws.close()


async def test_the_public_endpoint_has_no_private_channel(sim: KrakenSimulator) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_url) as ws:
        client = PrivateClient(ws, "whatever")
        await client.recv()
        req = await client.subscribe_executions()
        reply = await client.reply(req)
        assert (reply["success"], reply["error"]) == (False, "Channel executions not supported")


# ---------------------------------------------------------------- orders over WebSocket


async def test_add_order_and_executions_in_krakens_shapes(
    sim: KrakenSimulator, rest: PrivateRest
) -> None:
    client = await private_client(sim, rest, rest.session)
    req = await client.subscribe_executions(snap_orders=True, snap_trades=True)
    ack = await client.reply(req)
    assert ack["success"] is True
    assert ack["result"] == {"channel": "executions", "maxratecount": 125, "snapshot": True}
    snap = await client.executions()
    assert (snap["type"], snap["data"], snap["sequence"]) == ("snapshot", [], 1)

    bid, _ = best(sim)
    price = bid - 50
    mine = cid()
    req = await client.add_order(
        **order_params("BTC/USD", "buy", "0.01", str(price), cl_ord_id=mine, time_in_force="GTC")
    )
    updates = [await client.executions(), await client.executions()]
    reply = await client.reply(req)
    assert reply["success"] is True
    order_id = reply["result"]["order_id"]
    assert reply["result"] == {"order_id": order_id, "cl_ord_id": mine, "order_userref": 0}
    assert order_id[0] == "O"
    assert [len(part) for part in order_id.split("-")] == [6, 5, 6]
    assert [u["sequence"] for u in updates] == [2, 3]
    pending, new = (u["data"][0] for u in updates)
    assert (pending["exec_type"], pending["order_status"]) == ("pending_new", "pending_new")
    assert (new["exec_type"], new["order_status"]) == ("new", "new")
    assert new["cl_ord_id"] == mine
    assert new["order_id"] == order_id
    # Numbers at the pair's precision, as JSON numbers.
    raw = client.texts[-2]
    assert '"order_qty":0.01000000' in raw
    assert f'"limit_price":{price:.1f}' in raw
    assert '"cum_qty":0.00000000' in raw

    # Queries by client id (REST): open, then cancelled and closed.
    opened = await rest.call("OpenOrders", {"cl_ord_id": mine})
    assert list(opened["open"]) == [order_id]
    assert opened["open"][order_id]["status"] == "open"
    assert opened["open"][order_id]["cl_ord_id"] == mine
    req = await client.cancel_order(cl_ord_id=[mine])
    cancelled = await client.executions()
    reply = await client.reply(req)
    assert reply["result"] == {"order_id": order_id, "cl_ord_id": mine}
    entry = cancelled["data"][0]
    assert (entry["exec_type"], entry["order_status"], entry["reason"]) == (
        "canceled",
        "canceled",
        "User requested",
    )
    assert cancelled["sequence"] == 4
    assert (await rest.call("OpenOrders", {"cl_ord_id": mine}))["open"] == {}
    closed = await rest.call("ClosedOrders", {"cl_ord_id": mine})
    assert closed["count"] == 1
    assert closed["closed"][order_id]["status"] == "canceled"
    # Cancelling it again: unknown (it is closed).
    req = await client.cancel_order(order_id=[order_id])
    assert (await client.reply(req))["error"] == "EOrder:Unknown order"
    await client.ws.close()


async def test_a_taking_order_reports_trade_then_filled_and_rest_lists_the_same_fills(
    sim: KrakenSimulator, rest: PrivateRest
) -> None:
    client = await private_client(sim, rest, rest.session)
    await client.reply(await client.subscribe_executions(snap_orders=False))
    await client.executions()
    _, ask = best(sim)
    mine = cid()
    req = await client.add_order(
        **order_params("BTC/USD", "buy", "0.0005", str(ask + 100), cl_ord_id=mine)
    )
    # The executions messages come before the reply (the engine fills it at once).
    frames = await client.collect(0.3)
    reply = next(f for f in frames if f.get("req_id") == req)
    order_id = reply["result"]["order_id"]
    entries = [m["data"][0] for m in frames if m.get("channel") == "executions"]
    kinds = [e["exec_type"] for e in entries]
    assert kinds[:2] == ["pending_new", "new"]
    assert kinds[-1] == "filled"
    trades = [e for e in entries if e["exec_type"] == "trade"]
    assert trades
    # A trade says partially_filled even when it completes the order (Kraken's quirk).
    assert {t["order_status"] for t in trades} == {"partially_filled"}
    assert sum(t["last_qty"] for t in trades) == Decimal("0.0005")
    assert entries[-1]["cum_qty"] == Decimal("0.0005")
    assert "exec_id" not in entries[-1]
    fee = trades[0]["fees"][0]
    assert fee["asset"] == "USD"
    assert fee["qty"] > 0
    assert trades[0]["liquidity_ind"] == "t"

    queried = await rest.call("QueryOrders", {"txid": order_id, "trades": "true"})
    order = queried[order_id]
    assert (order["status"], order["vol_exec"]) == ("closed", "0.00050000")
    assert order["cl_ord_id"] == mine
    assert order["trades"] == [t["exec_id"] for t in trades]
    listed = await rest.call("QueryTrades", {"txid": ",".join(order["trades"])})
    for t in trades:
        fill = listed[t["exec_id"]]
        assert fill["ordertxid"] == order_id
        assert Decimal(fill["vol"]) == t["last_qty"]
        assert Decimal(fill["price"]) == t["last_price"]
        assert Decimal(fill["fee"]) == t["fees"][0]["qty"]
        assert fill["trade_id"] == t["trade_id"]
    history = await rest.call("TradesHistory")
    assert history["count"] == len(trades)
    # A reconnecting client gets the fills back in its snapshot.
    again = await private_client(sim, rest, rest.session)
    await again.reply(await again.subscribe_executions(snap_trades=True))
    snap = await again.executions()
    assert [e["exec_id"] for e in snap["data"]] == [t["exec_id"] for t in trades]
    await client.ws.close()
    await again.ws.close()


async def test_a_cl_ord_id_is_refused_while_open_and_free_again_once_closed(
    sim: KrakenSimulator, rest: PrivateRest
) -> None:
    client = await private_client(sim, rest, rest.session)
    bid, _ = best(sim)
    mine = cid()
    params = order_params("BTC/USD", "buy", "0.01", str(bid - 50), cl_ord_id=mine)
    first = await client.reply(await client.add_order(**params))
    assert first["success"] is True
    second = await client.reply(await client.add_order(**params))
    assert (second["success"], second["error"]) == (False, DUPLICATE_ORDER_ERROR)
    # Over REST too.
    assert (
        await rest.error(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.01",
                "price": str(bid - 50),
                "cl_ord_id": mine,
            },
        )
        == DUPLICATE_ORDER_ERROR
    )
    assert sim.matching.stats.duplicates_refused == 2
    await client.reply(await client.cancel_order(cl_ord_id=[mine]))
    third = await client.reply(await client.add_order(**params))
    assert third["success"] is True
    assert third["result"]["order_id"] != first["result"]["order_id"]
    # Both orders are listed under the id; the engine counts the reuse.
    closed = await rest.call("ClosedOrders", {"cl_ord_id": mine})
    assert list(closed["closed"]) == [first["result"]["order_id"]]
    assert sim.matching.stats.duplicate_orders == 1
    await client.ws.close()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"order_qty": Decimal("0.00001")}, "EOrder:Order minimum not met"),
        ({"order_qty": Decimal("0.000000001")}, "EGeneral:Invalid arguments:volume"),
        ({"limit_price": Decimal("100.05")}, "EGeneral:Invalid arguments:price"),
        ({"order_qty": Decimal("100000")}, "EOrder:Insufficient funds"),
        ({"symbol": "NOPE/USD"}, "EQuery:Unknown asset pair"),
        ({"cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
        ({"order_qty": "0.01"}, "EGeneral:Invalid arguments:order_qty"),
    ],
)
async def test_refusals_in_krakens_words(
    sim: KrakenSimulator, rest: PrivateRest, params: dict[str, Any], error: str
) -> None:
    client = await private_client(sim, rest, rest.session)
    bid, _ = best(sim)
    base = order_params("BTC/USD", "buy", "0.01", str(bid - 50))
    reply = await client.reply(await client.add_order(**{**base, **params}))
    assert (reply["success"], reply["error"]) == (False, error)
    await client.ws.close()


async def test_post_only_that_would_take_is_refused(
    sim: KrakenSimulator, rest: PrivateRest
) -> None:
    client = await private_client(sim, rest, rest.session)
    _, ask = best(sim)
    params = order_params("BTC/USD", "buy", "0.01", str(ask), post_only=True, cl_ord_id=cid())
    reply = await client.reply(await client.add_order(**params))
    assert reply["error"] == "EOrder:Post only order"
    assert sim.matching.stats.placed == 0
    await client.ws.close()


# ---------------------------------------------------------------- REST orders


async def test_rest_add_cancel_and_query(sim: KrakenSimulator, rest: PrivateRest) -> None:
    bid, _ = best(sim)
    mine = cid()
    placed = await rest.call(
        "AddOrder",
        {
            "pair": "XBTUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "0.01",
            "price": str(bid - 50),
            "cl_ord_id": mine,
            "oflags": "post",
        },
    )
    (txid,) = placed["txid"]
    assert placed["descr"]["order"] == f"buy 0.01000000 XBTUSD @ limit {bid - 50:.1f}"
    opened = await rest.call("OpenOrders", {"trades": "true"})
    assert opened["open"][txid]["oflags"] == "fciq,post"
    assert opened["open"][txid]["trades"] == []
    assert await rest.call("CancelOrder", {"cl_ord_id": mine}) == {"count": 1, "pending": False}
    assert await rest.error("CancelOrder", {"txid": txid}) == "EOrder:Unknown order"
    assert await rest.error("QueryOrders", {"txid": "OAAAAA-BBBBB-CCCCCC"}) == (
        "EOrder:Invalid order"
    )
    status, body = await rest.raw("Nope")
    assert (status, body["error"]) == (404, ["EGeneral:Unknown method"])


# ---------------------------------------------------------------- order faults


def faulty(kind: str, **spec: Any) -> KrakenSimulator:
    return make_sim(faults={"faults": [{"kind": kind, **spec}]})


async def test_ack_lost_response_lost_and_5xx_leave_the_order_placed() -> None:
    plan = {
        "faults": [
            {"kind": "order_ack_lost", "after_messages": [0], "max_count": 1},
            {"kind": "order_response_lost", "after_messages": [1], "max_count": 1},
            {"kind": "order_5xx_after_accept", "after_messages": [2], "max_count": 1},
        ]
    }
    async with make_sim(faults=plan) as sim, aiohttp.ClientSession(sim.rest_url) as s:
        rest = PrivateRest(s)
        bid, _ = best(sim)
        ids = [cid() for _ in range(4)]

        def params(i: int) -> dict[str, Any]:
            return order_params("BTC/USD", "buy", "0.01", str(bid - 50), cl_ord_id=ids[i])

        client = await private_client(sim, rest, s)
        req = await client.add_order(**params(0))
        with pytest.raises(TimeoutError):
            await client.reply(req, within=0.3)  # ack lost: no answer at all
        req = await client.add_order(**params(1))
        closed = await client.ws.receive(timeout=2)  # response lost: the connection closes
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        client = await private_client(sim, rest, s)
        reply = await client.reply(await client.add_order(**params(2)))
        assert (reply["success"], reply["error"]) == (False, "EService:Unavailable")
        reply = await client.reply(await client.add_order(**params(3)))
        assert reply["success"] is True
        for i in range(4):
            opened = await rest.call("OpenOrders", {"cl_ord_id": ids[i]})
            assert len(opened["open"]) == 1, i
        assert sim.stats()["faults"]["order_ack_lost"] == 1
        assert sim.stats()["faults"]["order_response_lost"] == 1
        assert sim.stats()["faults"]["order_5xx_after_accept"] == 1
        await client.ws.close()


async def test_rest_order_faults() -> None:
    plan = {
        "faults": [
            {"kind": "order_5xx_after_accept", "after_messages": [0], "max_count": 1},
            {"kind": "order_response_lost", "after_messages": [1], "max_count": 1},
            {"kind": "order_ack_lost", "after_messages": [2], "max_count": 1},
        ]
    }
    async with make_sim(faults=plan) as sim, aiohttp.ClientSession(sim.rest_url) as s:
        rest = PrivateRest(s)
        bid, _ = best(sim)
        fields = {"pair": "BTC/USD", "type": "buy", "ordertype": "limit", "volume": "0.01"}
        fields["price"] = str(bid - 50)
        status, body = await rest.raw("AddOrder", {**fields, "cl_ord_id": cid()})
        assert (status, body["error"]) == (503, ["EService:Unavailable"])
        with pytest.raises(aiohttp.ClientError):
            await rest.raw("AddOrder", {**fields, "cl_ord_id": cid()})
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await rest.raw("AddOrder", {**fields, "cl_ord_id": cid()})
        assert len((await rest.call("OpenOrders"))["open"]) == 3
        await asyncio.sleep(0.1)
        assert sim.trading.held == 0  # the client gave up; the simulator let go


async def test_the_private_stream_is_dropped_mid_fill_and_rest_still_lists_the_fill() -> None:
    plan = {"faults": [{"kind": "private_stream_drop", "rate": 1.0, "max_count": 1}]}
    async with make_sim(faults=plan) as sim, aiohttp.ClientSession(sim.rest_url) as s:
        rest = PrivateRest(s)
        listener = await private_client(sim, rest, s)
        await listener.reply(await listener.subscribe_executions())
        await listener.executions()
        placer = await private_client(sim, rest, s)
        _, ask = best(sim)
        mine = cid()
        reply = await placer.reply(
            await placer.add_order(
                **order_params("BTC/USD", "buy", "0.0005", str(ask + 100), cl_ord_id=mine)
            )
        )
        order_id = reply["result"]["order_id"]
        seen = []
        while True:
            msg = await listener.ws.receive(timeout=2)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            seen.append(listener.parse(msg.data))
        kinds = [m["data"][0]["exec_type"] for m in seen if m.get("channel") == "executions"]
        assert kinds == ["pending_new", "new"]  # the trade never came
        order = (await rest.call("QueryOrders", {"txid": order_id, "trades": "true"}))[order_id]
        assert order["status"] == "closed"
        assert order["trades"]
        assert sim.stats()["faults"]["private_stream_drop"] == 1
        await placer.ws.close()
