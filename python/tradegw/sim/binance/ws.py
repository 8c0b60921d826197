"""One client connection on Binance's market streams: live requests, server pings, the
connection's lifetime and its incoming-message limit.

How frames get out (batching, stalls, slow clients, faults) is common to every venue
(:class:`tradegw.sim.connection.SimConnection`); this module is Binance's protocol:

* raw streams (``/ws``, ``/ws/<stream>``) send payloads bare, combined ones
  (``/stream?streams=a/b``) wrapped; ``SET_PROPERTY ["combined", true]`` switches a
  connection to the wrapper;
* a protocol ping every ``ping_interval_s`` with a payload the client's pong must echo; a ping
  unanswered for ``pong_timeout_s`` ends the connection (pongs that echo nothing we sent do
  not count as answers);
* the server closes the connection at ``connection_lifetime_s`` (24 h on the venue), after a
  ``serverShutdown`` event when configured; :meth:`BinanceWsConnection.announce_shutdown`
  sends that event and closes ``shutdown_grace_s`` later;
* more than ``max_incoming_per_s`` client messages within a second (requests and pongs
  alike) close the connection with 1008 "Too many requests"; more than ``max_streams``
  streams on one connection are refused.

Client pings are answered by the WebSocket layer itself (picows) and so are not counted
against the message limit.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from picows import WSCloseCode, WSFrame, WSMsgType, WSTransport

from tradegw.sim.binance.config import BinanceSimConfig
from tradegw.sim.binance.feed import BinanceFeed
from tradegw.sim.binance.requests import (
    Request,
    RequestError,
    parse_request,
    property_name,
    property_value,
    stream_names,
)
from tradegw.sim.binance.streams import StreamSpec, parse_stream
from tradegw.sim.binance.wire import (
    BAD_JSON,
    SERVER_SHUTDOWN_STREAM,
    StreamFrame,
    combined,
    error_reply,
    ms,
    result_reply,
    server_shutdown,
)
from tradegw.sim.connection import ConnectionContext, SimConnection
from tradegw.sim.wire import DataFrame, now_ns

_TOO_MANY_REQUESTS = b"Too many requests"


@dataclass(slots=True)
class WsCounters:
    """Why connections ended, beyond what every venue counts."""

    pings_sent: int = 0
    pongs_received: int = 0
    pong_timeouts: int = 0
    lifetime_cuts: int = 0
    shutdown_notices: int = 0
    rate_limit_cuts: int = 0


class BinanceWsConnection(SimConnection):
    """The server side of one market-stream connection."""

    malformed_frame: ClassVar[bytes] = BAD_JSON

    def __init__(
        self,
        ctx: ConnectionContext,
        feed: BinanceFeed,
        config: BinanceSimConfig,
        counters: WsCounters,
        *,
        combined: bool,
        streams: list[str],
    ) -> None:
        super().__init__(ctx)
        self._feed = feed
        self._cfg = config
        self._counters = counters
        self.combined = combined
        self._initial = streams
        self._streams: dict[str, StreamSpec] = {}
        """Subscribed stream names, in subscription order, with what they parse to."""
        self._incoming: deque[float] = deque()
        self._pings: dict[bytes, float] = {}
        """Payloads of pings not answered yet -> when they were sent."""
        now = time.monotonic()
        self._opened = now
        self._next_ping = now + config.ping_interval_s
        self._close_at = now + config.connection_lifetime_s
        self._lifetime_cut = True
        self._noticed = False

    @property
    def streams(self) -> list[str]:
        """The connection's streams, in the order they were subscribed."""
        return list(self._streams)

    def on_open(self) -> None:
        """Subscribe the streams named in the URL; names that are not streams are ignored."""
        now = time.monotonic()
        self._opened = now
        self._next_ping = now + self._cfg.ping_interval_s
        self._close_at = now + self._cfg.connection_lifetime_s
        for name in self._initial:
            spec = parse_stream(name)
            if spec is not None:
                self._add(name, spec)

    def on_close(self) -> None:
        """Leave every stream."""
        for spec in self._streams.values():
            self._feed.unsubscribe(self, spec)
        self._streams.clear()

    def render(self, frame: DataFrame) -> bytes:
        """The payload bare, or wrapped with its stream name on a combined connection."""
        if self.combined and isinstance(frame, StreamFrame):
            return frame.wrapped()
        return frame.data

    # ------------------------------------------------------------------ incoming

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.PONG:
            self._on_pong(frame.get_payload_as_bytes())
            return
        super().on_ws_frame(transport, frame)

    def is_user_specific_pong(self, frame: WSFrame) -> bool:
        # picows asks this first while its own idle ping waits for an answer; the pong is
        # ours to see either way.
        is_pong = frame.msg_type == WSMsgType.PONG
        if is_pong:
            self._on_pong(frame.get_payload_as_bytes())
        return is_pong

    def _on_pong(self, payload: bytes) -> None:
        self._counters.pongs_received += 1
        if self._count_incoming():
            self._pings.pop(payload, None)

    def _count_incoming(self) -> bool:
        """Count one client message; False (and the connection closed) past the limit."""
        now = time.monotonic()
        window = self._incoming
        window.append(now)
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) <= self._cfg.max_incoming_per_s:
            return True
        self._counters.rate_limit_cuts += 1
        self._close(WSCloseCode.POLICY_VIOLATION, _TOO_MANY_REQUESTS)
        return False

    def on_text(self, payload: bytes) -> None:
        """Answer one control message."""
        if not self._count_incoming():
            return
        try:
            req = parse_request(payload)
            self._answer(req)
        except RequestError as exc:
            self.send_control(error_reply(exc.code, exc.msg, exc.req_id))

    def on_binary(self, payload: bytes) -> None:
        """Binary frames are read as text, as JSON allows."""
        self.on_text(payload)

    def _answer(self, req: Request) -> None:
        method = req.method
        if method == "SUBSCRIBE":
            names = stream_names(req)
            specs = []
            for name in names:
                spec = parse_stream(name)
                if spec is None:
                    raise RequestError(2, "Invalid request: invalid stream", req.req_id)
                specs.append((name, spec))
            if len(set(self._streams) | set(names)) > self._cfg.max_streams:
                raise RequestError(2, "Invalid request: too many parameters", req.req_id)
            # The answer goes out before any frame of the new streams.
            self.send_control(result_reply(None, req.req_id))
            for name, spec in specs:
                self._add(name, spec)
        elif method == "UNSUBSCRIBE":
            names = stream_names(req)
            for name in names:
                self._remove(name)
            self.send_control(result_reply(None, req.req_id))
        elif method == "LIST_SUBSCRIPTIONS":
            if req.params:
                raise RequestError(2, "Invalid request: too many parameters", req.req_id)
            self.send_control(result_reply(self.streams, req.req_id))
        elif method == "SET_PROPERTY":
            property_name(req, 2)
            self.combined = property_value(req)
            self.send_control(result_reply(None, req.req_id))
        else:
            property_name(req, 1)
            self.send_control(result_reply(self.combined, req.req_id))

    def _add(self, name: str, spec: StreamSpec) -> None:
        if name in self._streams or len(self._streams) >= self._cfg.max_streams:
            return
        self._streams[name] = spec
        self._feed.subscribe(self, spec)

    def _remove(self, name: str) -> None:
        spec = self._streams.pop(name, None)
        if spec is None:
            return
        if spec not in self._streams.values():
            self._feed.unsubscribe(self, spec)
            # A depth frame held back for the reorder fault must not arrive after the ack.
            self.forget_held(spec.suffix, spec.symbol.upper())

    # ------------------------------------------------------------------ server side

    def announce_shutdown(self, grace_s: float) -> None:
        """Send ``serverShutdown`` now and close the connection ``grace_s`` later."""
        if self.closed:
            return
        self._counters.shutdown_notices += 1
        payload = server_shutdown(ms(now_ns()))
        self.send_control(combined(SERVER_SHUTDOWN_STREAM, payload) if self.combined else payload)
        self._noticed = True
        self._close_at = min(self._close_at, time.monotonic() + grace_s)
        self._lifetime_cut = False

    def housekeep(self, now: float) -> None:
        """Every venue's duties, then pings, pong deadlines and the lifetime cut."""
        super().housekeep(now)
        if self.closed:
            return
        cfg = self._cfg
        if (
            cfg.shutdown_notice_at_lifetime
            and not self._noticed
            and now >= self._close_at - cfg.shutdown_grace_s
        ):
            self.announce_shutdown(cfg.shutdown_grace_s)
            self._lifetime_cut = True
        if now >= self._close_at:
            if self._lifetime_cut:
                self._counters.lifetime_cuts += 1
            self.close()
            return
        if self._pings and now - min(self._pings.values()) > cfg.pong_timeout_s:
            self._counters.pong_timeouts += 1
            self.close(WSCloseCode.POLICY_VIOLATION)
            return
        if now >= self._next_ping:
            self._next_ping = now + cfg.ping_interval_s
            self._ping(now)

    def _ping(self, now: float) -> None:
        if self._transport is None or self.stalled(now):
            return
        payload = b"%d" % ms(now_ns())
        self._pings[payload] = now
        self._counters.pings_sent += 1
        self._transport.send(WSMsgType.PING, payload)

    def stalled(self, now: float) -> bool:
        """Whether the stall fault keeps this connection silent now."""
        return bool(self._stall_until) and now < self._stall_until

    def _close(self, code: WSCloseCode, reason: bytes) -> None:
        """Close with a reason, after what is queued (like :meth:`close`)."""
        if self._transport is not None and not self.closed:
            self.flush()
            self.closed = True
            self._transport.send_close(code, reason)
            self._transport.disconnect()
