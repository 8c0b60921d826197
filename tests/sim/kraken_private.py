"""Client-side helpers for the Kraken simulator's trading tests: a signed private REST
client and a client of the authenticated WebSocket endpoint.

Requests are signed with the gateway's signing module, which the simulator checks with its
own implementation: a test passing here is one implementation agreeing with the other.
"""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from tests.sim.kraken_helpers import Client
from tradegw.providers.kraken.signing import api_sign

KEY = "sim-key-1"
SECRET = base64.b64encode(bytes(range(64))).decode()
OTHER_KEY = "sim-key-2"
OTHER_SECRET = base64.b64encode(bytes(range(64, 128))).decode()

API_KEYS: dict[str, Any] = {
    KEY: {"secret": SECRET, "account": "default"},
    OTHER_KEY: {"secret": OTHER_SECRET, "account": "other"},
}
"""Two keys for two accounts (give ``accounts={"default": {}, "other": {}}`` too)."""


class PrivateRest:
    """Signed calls to ``/0/private/<Method>``; :attr:`nonce` counts up from the clock."""

    def __init__(self, session: aiohttp.ClientSession, key: str = KEY, secret: str = SECRET):
        self.session = session
        self.key = key
        self.secret = secret
        self.nonce = time.time_ns() // 1000

    def next_nonce(self) -> str:
        self.nonce += 1
        return str(self.nonce)

    async def raw(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        nonce: str | None = None,
        sign: str | None = None,
        key: str | None = None,
        as_json: bool = False,
    ) -> tuple[int, Any]:
        """One call; ``nonce``, ``sign`` and ``key`` override what would be right."""
        path = f"/0/private/{method}"
        nonce = nonce or self.next_nonce()
        fields = {"nonce": nonce, **(params or {})}
        if as_json:
            body = json.dumps({**fields, "nonce": int(nonce)})
            content_type = "application/json"
        else:
            body = urlencode(fields)
            content_type = "application/x-www-form-urlencoded"
        headers = {
            "API-Key": key or self.key,
            "API-Sign": sign or api_sign(self.secret, path, nonce, body),
            "Content-Type": content_type,
        }
        async with self.session.post(path, data=body, headers=headers) as resp:
            return resp.status, json.loads(await resp.text(), parse_float=Decimal)

    async def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """The ``result`` of a call that must succeed."""
        status, body = await self.raw(method, params, **kw)
        assert status == 200, body
        assert body["error"] == [], body
        return body["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> str:
        """The one error of a call that must fail."""
        _, body = await self.raw(method, params, **kw)
        assert "result" not in body, body
        assert len(body["error"]) == 1, body
        return str(body["error"][0])

    async def token(self) -> str:
        return str((await self.call("GetWebSocketsToken"))["token"])


class PrivateClient(Client):
    """A client of ``/ws-auth/v2``: private requests carry the token."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, token: str) -> None:
        super().__init__(ws)
        self.token = token
        self._next_id = 1000

    async def send(self, body: dict[str, Any]) -> int:
        """Sends with a fresh ``req_id``; Decimals go out as JSON numbers of their text."""
        self._next_id += 1

        def exact(value: Any) -> Any:
            if isinstance(value, Decimal):
                return orjson.Fragment(str(value).encode())
            raise TypeError(type(value).__name__)

        await self.ws.send_str(
            orjson.dumps({**body, "req_id": self._next_id}, default=exact).decode()
        )
        return self._next_id

    async def add_order(self, **params: Any) -> int:
        body = {"method": "add_order", "params": {**params, "token": self.token}}
        return await self.send(body)

    async def cancel_order(self, **params: Any) -> int:
        body = {"method": "cancel_order", "params": {**params, "token": self.token}}
        return await self.send(body)

    async def subscribe_executions(self, **params: Any) -> int:
        return await self.send(
            {
                "method": "subscribe",
                "params": {"channel": "executions", "token": self.token, **params},
            }
        )

    async def reply(self, req_id: int, within: float = 3.0) -> Any:
        """The reply to request ``req_id``."""
        return await self.recv_until(
            lambda f: isinstance(f, dict) and f.get("req_id") == req_id, within
        )

    async def executions(self, within: float = 3.0) -> Any:
        """The next ``executions`` message."""
        return await self.recv_until(
            lambda f: isinstance(f, dict) and f.get("channel") == "executions", within
        )


def order_params(
    symbol: str, side: str, qty: str, price: str | None, **more: Any
) -> dict[str, Any]:
    """``add_order`` params with the amounts as JSON numbers of exactly that text."""
    out: dict[str, Any] = {
        "order_type": "limit" if price is not None else "market",
        "side": side,
        "order_qty": Decimal(qty),
        "symbol": symbol,
    }
    if price is not None:
        out["limit_price"] = Decimal(price)
    out.update(more)
    return out
