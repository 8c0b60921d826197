"""The Coinbase simulator's order entry on the wire: CDP JWTs refused as the venue refuses
them, the order endpoints' shapes, a reused client_order_id answered with the existing
order, the ``user`` channel, and the order faults.

Tokens here are made with PyJWT directly (and with the gateway's signer where a valid one is
all that matters), never with the simulator's own code: the simulator's check is tested
against an independent signer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.coinbase_trading import (
    ACCOUNT,
    CdpKey,
    best,
    ed25519_key,
    es256_key,
    sim_config,
)
from tradegw.providers.coinbase.signing import jwt_host
from tradegw.sim.coinbase import CoinbaseSimulator
from tradegw.sim.faults import FaultPlan

pytestmark = pytest.mark.timeout(30)

ORDERS = "/api/v3/brokerage/orders"


def token(key: CdpKey, uri: str | None, **changes: Any) -> str:
    """A CDP JWT made with PyJWT; ``changes`` override claims (None removes one) and the
    special ``_headers`` / ``_alg`` / ``_sign_with`` change the rest."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": key.name, "iss": "cdp", "nbf": now, "exp": now + 120}
    if uri is not None:
        claims["uri"] = uri
    headers = {"kid": key.name, "nonce": secrets.token_hex(16)}
    headers.update(changes.pop("_headers", {}))
    secret = changes.pop("_sign_with", key.secret)
    alg = changes.pop("_alg", key.algorithm)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    private = load_pem_private_key(secret.encode(), password=None)
    return jwt.encode(claims, private, algorithm=alg, headers=headers)  # type: ignore[arg-type]


class Client:
    """Signed requests against the simulator, as any client would make them."""

    def __init__(self, sim: CoinbaseSimulator, key: CdpKey, session: aiohttp.ClientSession):
        self.sim, self.key, self.session = sim, key, session
        self.host = jwt_host(sim.rest_url)

    def uri(self, method: str, path: str) -> str:
        return f"{method} {self.host}{path}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Any = None,
        bearer: str | None = None,
    ) -> tuple[int, Any]:
        if bearer is None:
            bearer = token(self.key, self.uri(method, path))
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        async with self.session.request(
            method,
            self.sim.rest_url + path,
            data=None if body is None else orjson.dumps(body),
            params=params,
            headers=headers,
        ) as resp:
            raw = await resp.read()
        try:
            return resp.status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return resp.status, raw.decode()

    async def limit(self, cid: str, price: Decimal, qty: str = "0.01", **extra: Any) -> Any:
        body = {
            "client_order_id": cid,
            "product_id": "BTC-USD",
            "side": "BUY",
            "order_configuration": {
                "limit_limit_gtc": {"base_size": qty, "limit_price": str(price), **extra}
            },
        }
        return await self.call("POST", ORDERS, body)


@pytest.fixture
async def es256() -> AsyncIterator[Client]:
    key = es256_key()
    async with (
        CoinbaseSimulator(sim_config(key)) as sim,
        aiohttp.ClientSession() as session,
    ):
        yield Client(sim, key, session)


# ---------------------------------------------------------------- authentication


async def test_a_valid_es256_token_places_an_order(es256: Client) -> None:
    bid, _ = best(es256.sim, "BTC-USD")
    status, body = await es256.limit("c-1", bid - 50)
    assert status == 200
    assert body["success"] is True
    assert body["success_response"]["client_order_id"] == "c-1"
    assert body["order_configuration"]["limit_limit_gtc"]["post_only"] is False
    order = es256.sim.matching.order(ACCOUNT, client_order_id="c-1")
    assert order is not None
    assert order.order_id == body["success_response"]["order_id"]


async def test_an_ed25519_key_signs_as_eddsa() -> None:
    key = ed25519_key(as_base64=False)
    async with CoinbaseSimulator(sim_config(key)) as sim, aiohttp.ClientSession() as session:
        client = Client(sim, key, session)
        status, body = await client.call("GET", "/api/v3/brokerage/orders/historical/batch")
        assert status == 200
        assert body["orders"] == []
        # An ES256 header on an Ed25519 key is refused (the key decides the algorithm).
        other = es256_key()
        bad = token(key, client.uri("GET", ORDERS), _sign_with=other.secret, _alg="ES256")
        status, _ = await client.call("GET", ORDERS + "/historical/batch", bearer=bad)
        assert status == 401
        assert sim.orders.refusals["algorithm"] == 1


@pytest.mark.parametrize(
    ("why", "make"),
    [
        (
            "expired",
            lambda c: token(
                c.key, c.uri("POST", ORDERS), nbf=int(time.time()) - 130, exp=int(time.time()) - 10
            ),
        ),
        (
            "not_yet_valid",
            lambda c: token(
                c.key, c.uri("POST", ORDERS), nbf=int(time.time()) + 60, exp=int(time.time()) + 150
            ),
        ),
        ("lifetime", lambda c: token(c.key, c.uri("POST", ORDERS), exp=int(time.time()) + 600)),
        ("uri", lambda c: token(c.key, c.uri("POST", "/api/v3/brokerage/orders/batch_cancel"))),
        ("uri", lambda c: token(c.key, c.uri("GET", ORDERS))),
        ("uri", lambda c: token(c.key, f"POST api.coinbase.com{ORDERS}")),
        ("uri", lambda c: token(c.key, None)),
        ("issuer", lambda c: token(c.key, c.uri("POST", ORDERS), iss="someone-else")),
        (
            "key_mismatch",
            lambda c: token(c.key, c.uri("POST", ORDERS), sub="organizations/x/apiKeys/y"),
        ),
        (
            "unknown_key",
            lambda c: token(
                c.key, c.uri("POST", ORDERS), _headers={"kid": "organizations/x/apiKeys/y"}
            ),
        ),
        ("signature", lambda c: token(c.key, c.uri("POST", ORDERS), _sign_with=es256_key().secret)),
        ("malformed", lambda c: token(c.key, c.uri("POST", ORDERS), _headers={"nonce": ""})),
        ("malformed", lambda c: "not.a.jwt"),
        ("missing", lambda c: ""),
    ],
)
async def test_a_token_the_venue_refuses_is_answered_401_unauthorized(
    es256: Client, why: str, make: Any
) -> None:
    bid, _ = best(es256.sim, "BTC-USD")
    body = {
        "client_order_id": "refused",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"limit_limit_gtc": {"base_size": "0.01", "limit_price": str(bid)}},
    }
    status, answer = await es256.call("POST", ORDERS, body, bearer=make(es256))
    assert (status, answer) == (401, "Unauthorized\n")
    assert es256.sim.orders.refusals == {why: 1}
    assert es256.sim.matching.order(ACCOUNT, client_order_id="refused") is None
    assert es256.sim.matching.stats.placed == 0


async def test_a_tampered_token_and_a_replayed_nonce_are_refused(es256: Client) -> None:
    good = token(es256.key, es256.uri("GET", ORDERS + "/historical/batch"))
    head, claims, sig = good.split(".")
    # Flip one signature bit: same header and claims, wrong signature.
    raw = bytearray(jwt.utils.base64url_decode(sig))
    raw[5] ^= 1
    tampered = f"{head}.{claims}.{jwt.utils.base64url_encode(bytes(raw)).decode()}"
    status, _ = await es256.call("GET", ORDERS + "/historical/batch", bearer=tampered)
    assert status == 401
    assert (await es256.call("GET", ORDERS + "/historical/batch", bearer=good))[0] == 200
    # The same token again (same nonce) while it still lives.
    assert (await es256.call("GET", ORDERS + "/historical/batch", bearer=good))[0] == 401
    assert es256.sim.orders.refusals == {"signature": 1, "replayed": 1}


# ---------------------------------------------------------------- orders


async def test_a_reused_client_order_id_returns_the_existing_order(es256: Client) -> None:
    bid, _ = best(es256.sim, "BTC-USD")
    _, first = await es256.limit("dup-1", bid - 50)
    # Another price and size under the same id: nothing is created, the first comes back.
    status, second = await es256.limit("dup-1", bid - 70, qty="0.02")
    assert status == 200
    assert second["success"] is True
    assert second["success_response"] == first["success_response"]
    assert second["order_configuration"] == first["order_configuration"]
    stats = es256.sim.matching.stats
    assert (stats.placed, stats.duplicates_refused, stats.duplicate_orders) == (1, 1, 0)
    # Also once it is closed.
    order_id = first["success_response"]["order_id"]
    status, cancelled = await es256.call(
        "POST", ORDERS + "/batch_cancel", {"order_ids": [order_id]}
    )
    assert cancelled["results"] == [
        {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": order_id}
    ]
    _, third = await es256.limit("dup-1", bid - 50)
    assert third["success_response"]["order_id"] == order_id
    assert es256.sim.matching.stats.placed == 1


async def test_refusals_come_as_success_false_with_the_failure_reason(es256: Client) -> None:
    _, ask = best(es256.sim, "BTC-USD")
    status, body = await es256.limit("po-1", ask + 10, post_only=True)
    assert status == 200
    assert body["success"] is False
    assert body["error_response"]["new_order_failure_reason"] == "INVALID_LIMIT_PRICE_POST_ONLY"
    _, body = await es256.limit("prec-1", Decimal("100.123"))
    assert body["error_response"]["error"] == "INVALID_PRICE_PRECISION"
    _, body = await es256.limit("size-1", Decimal(100), qty="0.000000001")
    assert body["error_response"]["error"] == "INVALID_SIZE_PRECISION"
    _, body = await es256.limit("rich-1", Decimal(100), qty="99999999")
    assert body["error_response"]["error"] == "INSUFFICIENT_FUND"
    assert es256.sim.matching.stats.placed == 0


async def test_get_list_and_fills_describe_a_filled_order(es256: Client) -> None:
    _, ask = best(es256.sim, "BTC-USD")
    body = {
        "client_order_id": "take-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {
            "sor_limit_ioc": {"base_size": "0.02", "limit_price": str(ask + 100)}
        },
    }
    _, placed = await es256.call("POST", ORDERS, body)
    order_id = placed["success_response"]["order_id"]
    path = f"{ORDERS}/historical/{order_id}"
    status, got = await es256.call("GET", path)
    assert status == 200
    order = got["order"]
    assert (order["status"], order["filled_size"], order["time_in_force"]) == (
        "FILLED",
        "0.02",
        "IMMEDIATE_OR_CANCEL",
    )
    status, fills = await es256.call(
        "GET", f"{ORDERS}/historical/fills", params=[("order_ids", order_id)]
    )
    assert status == 200
    assert sum(Decimal(f["size"]) for f in fills["fills"]) == Decimal("0.02")
    assert {f["liquidity_indicator"] for f in fills["fills"]} == {"TAKER"}
    fee = sum(Decimal(f["commission"]) for f in fills["fills"])
    assert fee == Decimal(order["total_fees"])
    status, listed = await es256.call(
        "GET", f"{ORDERS}/historical/batch", params=[("product_ids", "BTC-USD"), ("limit", "1")]
    )
    assert [o["client_order_id"] for o in listed["orders"]] == ["take-1"]
    status, missing = await es256.call("GET", f"{ORDERS}/historical/nope")
    assert status == 404
    assert missing["error"] == "NOT_FOUND"


# ---------------------------------------------------------------- the user channel


async def _user_socket(
    client: Client, jwt_text: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    ws = await client.session.ws_connect(client.sim.ws_url)
    message = {"type": "subscribe", "channel": "user"}
    if jwt_text != "":
        message["jwt"] = jwt_text or token(client.key, None)
    await ws.send_str(orjson.dumps(message).decode())
    return ws


async def _frames(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(5):
        while len(out) < n:
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            out.append(orjson.loads(msg.data))
    return out


async def test_the_user_channel_needs_a_valid_token(es256: Client) -> None:
    for bad in ("", token(es256_key(), None), token(es256.key, None, exp=int(time.time()) - 1)):
        ws = await _user_socket(es256, bad)
        (frame,) = await _frames(ws, 1)
        assert frame == {"type": "error", "message": "authentication failure"}
        await ws.close()


async def test_the_user_channel_snapshots_then_updates_every_change(es256: Client) -> None:
    bid, ask = best(es256.sim, "BTC-USD")
    for i in range(51):  # 51 open orders: a full batch of 50, then one of 1
        await es256.limit(f"open-{i}", bid - 100 - i)
    ws = await _user_socket(es256)
    snap1, snap2, ack = await _frames(ws, 3)
    assert [len(f["events"][0]["orders"]) for f in (snap1, snap2)] == [50, 1]
    assert snap1["events"][0]["type"] == "snapshot"
    assert ack["channel"] == "subscriptions"
    assert [f["sequence_num"] for f in (snap1, snap2, ack)] == [0, 1, 2]
    one = snap1["events"][0]["orders"][0]
    assert all(isinstance(v, str) for v in one.values())
    assert (one["status"], one["order_type"], one["post_only"]) == ("OPEN", "Limit", "false")
    await es256.limit("take-2", ask + 100, qty="0.01")
    frames = await _frames(ws, 1)  # OPEN, then one update per fill, the last FILLED
    while frames[-1]["events"][0]["orders"][0]["status"] != "FILLED":
        frames += await _frames(ws, 1)
    orders = [f["events"][0]["orders"][0] for f in frames]
    assert {f["events"][0]["type"] for f in frames} == {"update"}
    assert (orders[0]["status"], orders[0]["cumulative_quantity"]) == ("OPEN", "0")
    cumulative = [Decimal(o["cumulative_quantity"]) for o in orders]
    assert cumulative == sorted(cumulative)
    assert cumulative[-1] == Decimal("0.01")
    assert [int(o["number_of_fills"]) for o in orders] == list(range(len(orders)))
    assert [f["sequence_num"] for f in frames] == list(range(3, 3 + len(frames)))
    await ws.close()


# ---------------------------------------------------------------- order faults


def _faulty(key: CdpKey, kind: str, **spec: Any) -> CoinbaseSimulator:
    plan = FaultPlan.model_validate({"faults": [{"kind": kind, "rate": 1.0, **spec}]})
    return CoinbaseSimulator(
        sim_config(
            key, faults={"faults": [s.model_dump() for s in plan.faults]}, order_ack_lost_hold_s=5
        )
    )


@pytest.mark.parametrize(
    "kind", ["order_ack_lost", "order_response_lost", "order_5xx_after_accept"]
)
async def test_an_order_fault_after_accept_leaves_the_order_placed(kind: str) -> None:
    key = es256_key()
    async with _faulty(key, kind) as sim, aiohttp.ClientSession() as session:
        client = Client(sim, key, session)
        bid, _ = best(sim, "BTC-USD")
        started = time.monotonic()
        if kind == "order_5xx_after_accept":
            status, body = await client.limit("f-1", bid - 10)
            assert status == 503
            assert body["error"] == "UNAVAILABLE"
        else:
            with pytest.raises((aiohttp.ClientError, TimeoutError)):
                async with asyncio.timeout(1.0):
                    await client.limit("f-1", bid - 10)
            assert time.monotonic() - started < 2
        assert sim.matching.order(ACCOUNT, client_order_id="f-1") is not None
        assert sim.stats()["faults"][kind] == 1
    # Stopping ends a held request at once (the context above returned).


async def test_the_private_stream_drops_just_before_a_fill() -> None:
    key = es256_key()
    async with (
        _faulty(key, "private_stream_drop", max_count=1) as sim,
        aiohttp.ClientSession() as session,
    ):
        client = Client(sim, key, session)
        ws = await _user_socket(client)
        await _frames(ws, 2)  # the (empty) snapshot, the ack
        _, ask = best(sim, "BTC-USD")
        await client.limit("drop-1", ask + 100)
        (opened,) = await _frames(ws, 1)
        assert opened["events"][0]["orders"][0]["status"] == "OPEN"
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        )
        order = sim.matching.order(ACCOUNT, client_order_id="drop-1")
        assert order is not None
        assert order.filled > 0
        assert sim.stats()["faults"]["private_stream_drop"] == 1
