"""A minimal Binance WebSocket API and SIGNED REST client for the simulator's tests, written
from the venue's documentation with ``hmac`` (and ``cryptography`` for Ed25519, as the
docs' own sample does): independent of the simulator's checker and of the gateway's signing
code, so each is tested against a third implementation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY = "simTestKey0123456789"
SECRET = "simTestSecret-do-not-use"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ws_sign(params: dict[str, Any], secret: str = SECRET) -> dict[str, Any]:
    """``params`` with ``signature``: HMAC over the sorted ``name=value`` pairs."""
    text = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if k != "signature")
    out = dict(params)
    out["signature"] = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return out


ED_KEY = "simTestEdKey0123456789"
ED_PRIVATE = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"sim ed25519 test").digest())
ED_PUBLIC_PEM = (
    ED_PRIVATE.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
)


def ed_sign(params: dict[str, Any], key: Ed25519PrivateKey = ED_PRIVATE) -> dict[str, Any]:
    """``params`` with ``signature``: base64 Ed25519 over the sorted ``name=value`` pairs."""
    text = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if k != "signature")
    out = dict(params)
    out["signature"] = base64.b64encode(key.sign(text.encode())).decode()
    return out


def ed_signed(params: dict[str, Any], *, key: str = ED_KEY) -> dict[str, Any]:
    """WebSocket API params with ``apiKey``, a fresh ``timestamp``, an Ed25519 signature."""
    return ed_sign({"apiKey": key, "timestamp": now_ms(), **params})


def ed_rest_query(params: dict[str, Any]) -> str:
    """A SIGNED REST query string with an Ed25519 signature, itself percent-encoded."""
    text = urlencode({"timestamp": now_ms(), **params})
    sig = base64.b64encode(ED_PRIVATE.sign(text.encode())).decode()
    return f"{text}&signature={quote(sig, safe='')}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signed(params: dict[str, Any], *, key: str = KEY, secret: str = SECRET) -> dict[str, Any]:
    """WebSocket API params with ``apiKey``, a fresh ``timestamp`` and the signature."""
    return ws_sign({"apiKey": key, "timestamp": now_ms(), **params}, secret)


def rest_query(params: dict[str, Any], secret: str = SECRET) -> str:
    """A SIGNED REST query string (percent-encoded, ``signature`` last)."""
    text = urlencode({"timestamp": now_ms(), **params})
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"{text}&signature={sig}"


class WsApi:
    """One WebSocket API connection: requests by id, and every other frame kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._answers: dict[object, dict[str, Any]] = {}
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if "status" in frame and "id" in frame:
                    self._answers[frame["id"]] = frame
                else:
                    self.events.append(frame)
        finally:
            self.closed.set()

    async def send(self, method: str, params: dict[str, Any] | None = None) -> object:
        rid = next(self._ids)
        msg: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        await self.ws.send_str(json.dumps(msg))
        return rid

    async def answer(self, rid: object, within: float = 3.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while rid not in self._answers:
                if self.closed.is_set():
                    raise ConnectionError("closed before the answer")
                await asyncio.sleep(0.005)
        return self._answers.pop(rid)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.answer(await self.send(method, params))

    async def event(
        self, match: Callable[[dict[str, Any]], bool], within: float = 3.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for e in self.events:
                    if match(e):
                        return e
                await asyncio.sleep(0.005)

    def reports(self, cid: str | None = None) -> list[dict[str, Any]]:
        """The executionReport payloads received, of one client order id (``c`` or
        ``C``) or all."""
        out = []
        for frame in self.events:
            ev = frame.get("event", {})
            if ev.get("e") == "executionReport" and (cid is None or cid in (ev["c"], ev["C"])):
                out.append(ev)
        return out

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
