"""One client connection on Kraken's v2 WebSocket: its greeting, requests and acks.

How frames get out (batching, stalls, slow clients, faults) is common to every venue
(:class:`tradegw.sim.connection.SimConnection`); this module is only Kraken's protocol.
Acks are written as the venue writes them: on success ``method``, ``result``, ``success``,
``time_in``, ``time_out``; on failure the ``error`` text comes first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import orjson

from tradegw.sim.connection import ConnectionContext, SimConnection
from tradegw.sim.kraken.feed import KrakenFeed
from tradegw.sim.kraken.requests import (
    SYMBOL_CHANNELS,
    RequestError,
    Subscription,
    ack_result,
    parse_subscription,
)
from tradegw.sim.kraken.wire import BAD_JSON, HEARTBEAT, status_frame
from tradegw.sim.subscriptions import StreamKey
from tradegw.sim.wire import dumps, now_ns, rfc3339_us

_Ident = tuple[str, str, int | None]
"""A connection's subscription identity: channel, symbol, ohlc interval."""


class KrakenWsConnection(SimConnection):
    """The server side of one v2 connection."""

    malformed_frame: ClassVar[bytes] = BAD_JSON

    def __init__(self, ctx: ConnectionContext, feed: KrakenFeed, connection_id: int) -> None:
        super().__init__(ctx)
        self._feed = feed
        self._connection_id = connection_id
        self._subs: dict[_Ident, StreamKey] = {}
        self.heartbeats = False
        """Kraken sends heartbeats once a connection has subscribed to something."""

    def on_open(self) -> None:
        """Greet with the ``status`` frame, as the venue does on every connect."""
        self.send_control(status_frame(self._connection_id))

    def on_close(self) -> None:
        """Leave every stream this connection was subscribed to."""
        for (channel, symbol, _), key in self._subs.items():
            if channel in SYMBOL_CHANNELS:
                self._feed.unsubscribe(self, channel, symbol, key)
        self._subs.clear()

    def on_binary(self, payload: bytes) -> None:
        """Kraken speaks JSON text only."""
        self._reply(None, now_ns(), None, error="Malformed request")

    def heartbeat(self) -> bytes | None:
        """``{"channel":"heartbeat"}`` once the connection has subscribed to anything."""
        return HEARTBEAT if self.heartbeats else None

    # ------------------------------------------------------------------ requests

    def on_text(self, payload: bytes) -> None:
        """Answer one request: ``ping``, ``subscribe`` or ``unsubscribe``."""
        time_in = now_ns()
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._reply(None, time_in, None, error="Malformed request")
            return
        if not isinstance(msg, dict):
            self._reply(None, time_in, None, error="Malformed request")
            return
        method = msg.get("method")
        req_id = msg.get("req_id")
        if req_id is not None and type(req_id) is not int:
            self._reply(
                method if isinstance(method, str) else None,
                time_in,
                None,
                error="req_id must be an integer",
            )
            return
        if method == "ping":
            body: dict[str, object] = {"method": "pong"}
            if req_id is not None:
                body["req_id"] = req_id
            body["time_in"] = rfc3339_us(time_in)
            body["time_out"] = rfc3339_us(now_ns())
            self.send_control(dumps(body).encode())
        elif method in ("subscribe", "unsubscribe"):
            assert isinstance(method, str)
            self._on_subscription(method, msg.get("params"), req_id, time_in)
        else:
            self._reply(
                method if isinstance(method, str) else None,
                time_in,
                req_id,
                error="Method not found",
            )

    def _reply(
        self,
        method: str | None,
        time_in: int,
        req_id: int | None,
        *,
        result: dict[str, object] | None = None,
        error: str | None = None,
        symbol: str | None = None,
    ) -> None:
        """Send an ack: ``result`` and success, or ``error`` and failure."""
        body: dict[str, object] = {}
        if error is not None:
            body["error"] = error
        if method is not None:
            body["method"] = method
        if error is None:
            body["result"] = result
            body["success"] = True
        else:
            body["success"] = False
            if symbol is not None:
                body["symbol"] = symbol
        body["time_in"] = rfc3339_us(time_in)
        body["time_out"] = rfc3339_us(now_ns())
        if req_id is not None:
            body["req_id"] = req_id
        self.send_control(dumps(body).encode())

    def _on_subscription(
        self, method: str, params: object, req_id: int | None, time_in: int
    ) -> None:
        try:
            sub = parse_subscription(method, params)
        except RequestError as exc:
            self._reply(method, time_in, req_id, error=str(exc))
            return
        if sub.channel not in SYMBOL_CHANNELS:
            self._on_global(method, sub, req_id, time_in)
            return
        feed = self._feed
        for symbol in sub.symbols:
            if not feed.has(symbol):
                self._reply(
                    method,
                    time_in,
                    req_id,
                    symbol=symbol,
                    error=f"Currency pair not supported {symbol}",
                )
                continue
            ident: _Ident = (sub.channel, symbol, sub.interval)
            if method == "subscribe":
                if ident in self._subs:
                    self._reply(method, time_in, req_id, symbol=symbol, error="Already subscribed")
                    continue
                key = _stream_key(sub)
                self._subs[ident] = key
                self.heartbeats = True
                self._reply(method, time_in, req_id, result=ack_result(sub, method, symbol))
                feed.subscribe(self, sub.channel, symbol, key, sub.snapshot)
            else:
                if ident not in self._subs:
                    self._reply(
                        method, time_in, req_id, symbol=symbol, error="Subscription Not Found"
                    )
                    continue
                key = self._subs.pop(ident)
                feed.unsubscribe(self, sub.channel, symbol, key)
                if sub.channel == "book":
                    self.forget_held("book", symbol)
                    sub = replace(sub, depth=key if isinstance(key, int) else sub.depth)
                elif sub.channel == "ticker" and isinstance(key, str):
                    sub = replace(sub, event_trigger=key)
                self._reply(method, time_in, req_id, result=ack_result(sub, method, symbol))

    def _on_global(self, method: str, sub: Subscription, req_id: int | None, time_in: int) -> None:
        """``instrument``, ``heartbeat`` and ``status``: channels without symbols."""
        ident: _Ident = (sub.channel, "", None)
        if method == "subscribe":
            if ident in self._subs:
                self._reply(method, time_in, req_id, error="Already subscribed")
                return
            self._subs[ident] = None
            self.heartbeats = True
            self._reply(method, time_in, req_id, result=ack_result(sub, method, None))
            if sub.channel == "instrument" and sub.snapshot:
                self.send_control(self._feed.instrument_snapshot)
        elif ident not in self._subs:
            self._reply(method, time_in, req_id, error="Subscription Not Found")
        else:
            del self._subs[ident]
            self._reply(method, time_in, req_id, result=ack_result(sub, method, None))


def _stream_key(sub: Subscription) -> StreamKey:
    if sub.channel == "book":
        return sub.depth
    if sub.channel == "ticker":
        return sub.event_trigger
    if sub.channel == "ohlc":
        return sub.interval
    return None
