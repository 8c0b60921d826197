"""One client connection on the v2 WebSocket: requests in, acks and data frames out.

picows calls the listener straight from the event loop's read callback, so a request is
answered synchronously. Outgoing frames are framed here and collected per connection until the
event loop's next turn, then written with one ``write`` (one syscall) per connection: at tens
of thousands of frames a second a syscall per frame would cost more than building the frames.
When ``stamp_send_ns`` is on (latency benches) every frame is written at once instead, so the
stamp is the real send time. A client that lets its transport buffer grow past
``max_write_buffer`` is cut off, as real venues do with slow consumers.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field, replace

import orjson
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from tradegw.sim.kraken.faults import FaultInjector
from tradegw.sim.kraken.feed import Feed, StreamKey
from tradegw.sim.kraken.requests import (
    SYMBOL_CHANNELS,
    RequestError,
    Subscription,
    ack_result,
    parse_subscription,
)
from tradegw.sim.kraken.stats import SimStats
from tradegw.sim.kraken.wire import (
    HEARTBEAT,
    DataFrame,
    dumps,
    now_ns,
    rfc3339_us,
    stamp,
    status_frame,
    ws_text_header,
)

_HOLD_LIMIT = 1.0
"""Seconds a reordered frame may wait for its successor before it is sent anyway."""

_Ident = tuple[str, str, int | None]
"""A connection's subscription identity: channel, symbol, ohlc interval."""


@dataclass(slots=True)
class WsContext:
    """What every connection of one simulator shares."""

    feed: Feed
    stats: SimStats
    injector: FaultInjector | None
    stamp_send_ns: bool
    max_write_buffer: int
    heartbeat_interval: float
    ids: random.Random
    connections: set[KrakenWsConnection] = field(default_factory=set)
    pending: list[KrakenWsConnection] = field(default_factory=list)
    """Connections with frames waiting for the flush at the loop's next turn."""
    flush_scheduled: bool = False

    def new_connection_id(self) -> int:
        """A connection id above 2**63, like the venue's (clients must read them as u64)."""
        return (1 << 63) | self.ids.getrandbits(63)

    def schedule(self, conn: KrakenWsConnection) -> None:
        """Remember that ``conn`` has frames to write; flush them at the loop's next turn."""
        self.pending.append(conn)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write out everything queued since the last flush."""
        self.flush_scheduled = False
        pending, self.pending = self.pending, []
        for conn in pending:
            conn.flush()


class KrakenWsConnection(WSListener):
    """The server side of one v2 connection."""

    def __init__(self, ctx: WsContext) -> None:
        self._ctx = ctx
        self._transport: WSTransport | None = None
        self._subs: dict[_Ident, StreamKey] = {}
        self._held: dict[str, tuple[DataFrame, float]] = {}
        self._stall_until = 0.0
        self._paused = False
        self._out: list[bytes] = []
        self.closed = False
        self.heartbeats = False
        """Kraken sends heartbeats once a connection has subscribed to something."""
        self.last_send = time.monotonic()

    # ------------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self._ctx.connections.add(self)
        self._ctx.stats.connections_open += 1
        self._ctx.stats.connections_total += 1
        self._send_control(status_frame(self._ctx.new_connection_id()))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        self._ctx.connections.discard(self)
        self._ctx.stats.connections_open -= 1
        feed = self._ctx.feed
        for (channel, symbol, _), key in self._subs.items():
            if channel in SYMBOL_CHANNELS:
                feed.unsubscribe(self, channel, symbol, key)
        self._subs.clear()
        self._held.clear()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT:
            self._on_request(frame.get_payload_as_bytes())
        elif msg_type == WSMsgType.CLOSE:
            self.close(frame.get_close_code())
        elif msg_type == WSMsgType.BINARY:
            self._reply(None, now_ns(), None, error="Malformed request")

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    # ------------------------------------------------------------------ sending

    def _write(self, payload: bytes) -> bool:
        """Queue (or, when stamping, send) one text frame; False if it cannot go out."""
        if self.closed or self._transport is None:
            return False
        if self._stall_until:
            if time.monotonic() < self._stall_until:
                self._ctx.stats.suppressed += 1
                return False
            self._stall_until = 0.0
        if self._ctx.stamp_send_ns:
            if not self._writable():
                return False
            self._transport.send(WSMsgType.TEXT, payload)
            self.last_send = time.monotonic()
            return True
        if not self._out:
            self._ctx.schedule(self)
        self._out.append(ws_text_header(len(payload)))
        self._out.append(payload)
        return True

    def _writable(self) -> bool:
        assert self._transport is not None
        transport = self._transport.underlying_transport
        if transport.is_closing():
            # The peer went away (write error or EOF) and picows has not told us yet: writes
            # now would only make the event loop log one warning each.
            return False
        if self._paused and transport.get_write_buffer_size() > self._ctx.max_write_buffer:
            self._ctx.stats.slow_disconnects += 1
            self.abort()
            return False
        return True

    def flush(self) -> None:
        """Write the queued frames with a single write on the TCP transport."""
        out, self._out = self._out, []
        if out and not self.closed and self._writable():
            assert self._transport is not None
            # Server frames are unmasked and framed by ws_text_header, so they can bypass
            # picows' per-frame send and go to the socket as one buffer.
            self._transport.underlying_transport.write(b"".join(out))
            self.last_send = time.monotonic()

    def _send_control(self, payload: bytes) -> None:
        if self._write(payload):
            self._ctx.stats.control_sent += 1

    def deliver(self, frame: DataFrame) -> None:
        """Send a data frame through the fault injector, if the run has one."""
        if self.closed:
            return
        if self._stall_until and time.monotonic() < self._stall_until:
            self._ctx.stats.suppressed += 1
            return
        injector = self._ctx.injector
        if injector is None:
            self.emit(frame)
        else:
            injector.deliver(self, frame)

    def emit(self, frame: DataFrame) -> None:
        """Write a data frame now, then any book frame held back to swap with it."""
        data = stamp(frame.data, time.monotonic_ns()) if self._ctx.stamp_send_ns else frame.data
        if self._write(data):
            self._ctx.stats.messages_sent += 1
        if self._held and frame.channel == "book":
            held = self._held.pop(frame.symbol, None)
            if held is not None:
                self.emit(held[0])

    def holding(self, symbol: str) -> bool:
        """Whether a book frame of ``symbol`` is being held back."""
        return symbol in self._held

    def hold(self, frame: DataFrame) -> None:
        """Hold a book update back until the next book frame of its symbol goes out."""
        self._held[frame.symbol] = (frame, time.monotonic())

    def send_raw(self, payload: bytes) -> None:
        """Send a text frame as is (used for the malformed-JSON fault)."""
        self._send_control(payload)

    def stall(self, seconds: float) -> None:
        """Send nothing at all for ``seconds``."""
        self._stall_until = time.monotonic() + seconds

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake.

        Frames queued before the fault still go out first: they were sent, as far as the
        venue is concerned, before it dropped the line.
        """
        if self._transport is not None and not self.closed:
            self.flush()
            self.closed = True
            self._transport.disconnect(graceful=False)

    def close(self, code: WSCloseCode = WSCloseCode.GOING_AWAY) -> None:
        """Close politely (answering the client's close, or at shutdown) after what is queued.

        Nothing may follow the close frame, so the queue is written first and the connection
        counts as closed from here on.
        """
        if self._transport is not None and not self.closed:
            self.flush()
            self.closed = True
            self._transport.send_close(code)
            self._transport.disconnect()

    def housekeep(self, now: float) -> None:
        """Periodic duties: heartbeats when idle, releasing frames held too long."""
        if self._held:
            for symbol, (frame, since) in list(self._held.items()):
                if now - since >= _HOLD_LIMIT:
                    del self._held[symbol]
                    self.emit(frame)
        if self.heartbeats and now - self.last_send >= self._ctx.heartbeat_interval:
            self._send_control(HEARTBEAT)

    # ------------------------------------------------------------------ requests

    def _on_request(self, payload: bytes) -> None:
        time_in = now_ns()
        self._ctx.stats.ws_requests += 1
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
            self._send_control(dumps(body).encode())
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
        if method is not None:
            body["method"] = method
        if error is None:
            body["result"] = result
            body["success"] = True
        else:
            body["error"] = error
            body["success"] = False
            if symbol is not None:
                body["symbol"] = symbol
        body["time_in"] = rfc3339_us(time_in)
        body["time_out"] = rfc3339_us(now_ns())
        if req_id is not None:
            body["req_id"] = req_id
        self._send_control(dumps(body).encode())

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
        feed = self._ctx.feed
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
                    self._held.pop(symbol, None)
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
                self._send_control(self._ctx.feed.instrument_snapshot)
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
