"""One client connection on Coinbase's Advanced Trade WebSocket: subscriptions, acks,
heartbeats, deadlines, and the connection's ``sequence_num``.

How frames get out (batching, stalls, slow clients, faults) is common to every venue
(:class:`tradegw.sim.connection.SimConnection`); this module is Coinbase's protocol:

* One counter per connection numbers every frame the server produces, on every channel,
  acks and heartbeats included, from 0 (protocols.md section 0, item 7). A frame is numbered
  when it is produced, so a frame lost to a fault or a stall leaves a gap, and a frame held
  back shows up out of order. Error frames carry no number.
* A ``subscribe`` is answered with the snapshots of what it added, then the ``subscriptions``
  ack listing everything the connection is now subscribed to (the captured order: snapshot
  0, ack 1). Every ``unsubscribe`` gets an ack too.
* ``heartbeats`` beat on the server's clock, once per ``heartbeat_interval``;
  ``heartbeat_counter`` is the number of beats since the server started, so a missed beat
  shows as a jump.
* A connection that has not subscribed within ``subscribe_deadline_s`` is closed, and so is
  one that was sent nothing for ``idle_timeout_s`` unless it subscribed to heartbeats.
* The private ``user`` channel (``"jwt"`` in the subscribe, checked as the venue checks it;
  a refused token is answered ``authentication failure``): first a ``snapshot`` of the
  account's open orders in batches of 50 (a batch of fewer than 50, possibly empty, ends
  it), then the ack, then one ``update`` frame per change of one of its orders, every order
  field a string (:meth:`tradegw.sim.coinbase.orders.CoinbaseOrders.user_order`). The
  venue serves it on ``advanced-trade-ws-user.coinbase.com``; the simulator on its one
  WebSocket. The ``private_stream_drop`` fault closes the connection without a close frame
  just before a fill's update, which is then lost to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from tradegw.sim.coinbase.auth import AuthRefused
from tradegw.sim.coinbase.faults import SKIP_SEQUENCE
from tradegw.sim.coinbase.feed import CoinbaseFeed
from tradegw.sim.coinbase.orders import CoinbaseOrders, user_id
from tradegw.sim.coinbase.requests import (
    AUTH_FAILURE,
    HEARTBEATS,
    STATUS,
    SUBSCRIBE_FAILED,
    USER,
    Request,
    RequestError,
    parse_request,
)
from tradegw.sim.coinbase.wire import (
    BAD_JSON,
    Envelope,
    Sequenced,
    envelope,
    error_frame,
    go_time,
    heartbeat_event,
    rfc3339_nano,
    subscriptions_event,
)
from tradegw.sim.connection import ConnectionContext, SimConnection
from tradegw.sim.matching import OrderEvent, SimOrder
from tradegw.sim.wire import DataFrame, dumps, now_ns

SNAPSHOT_BATCH = 50
"""Orders per ``user`` snapshot event; a shorter batch ends the snapshot."""
_LOCAL_CHANNELS = frozenset({HEARTBEATS, STATUS, USER})
"""Channels the connection serves itself, not through the market feed."""


@dataclass(frozen=True, slots=True)
class ConnectionRules:
    """What every connection of one run is held to (from the run's config)."""

    started_ns: int
    """The server's start on the monotonic clock: heartbeats count from it."""
    heartbeat_interval: float
    subscribe_deadline_s: float
    idle_timeout_s: float
    ticker_batch_interval_s: float


class CoinbaseWsConnection(SimConnection):
    """The server side of one Advanced Trade market data connection: its requests, its
    ``sequence_num`` counter and its timers."""

    def __init__(
        self,
        ctx: ConnectionContext,
        feed: CoinbaseFeed,
        rules: ConnectionRules,
        orders: CoinbaseOrders | None = None,
    ) -> None:
        super().__init__(ctx)
        self._orders = orders
        self._user_account: str | None = None
        self._user_products: frozenset[str] | None = None
        """The ``user`` subscription's product filter; None = every product."""
        self._user_stop: Callable[[], None] | None = None
        self._seq = 0
        """The number the next frame gets."""
        self._feed = feed
        self._rules = rules
        self._subs: dict[str, dict[str, None]] = {}
        """Channel -> its product ids in subscription order (``heartbeats`` ->
        ``{"heartbeats"}``, as the ack lists it)."""
        self._opened = time.monotonic()
        self._subscribed = False
        self._beat = 0
        self._next_batch = 0.0

    malformed_frame: ClassVar[bytes] = BAD_JSON
    """What ``bad_json`` sends: a frame cut off before its number."""

    @property
    def sequence_num(self) -> int:
        """The number the next frame of this connection will carry."""
        return self._seq

    def on_close(self) -> None:
        """Leave every stream this connection was subscribed to."""
        self._leave_user()
        for channel, product_ids in self._subs.items():
            if channel not in _LOCAL_CHANNELS:
                for product_id in product_ids:
                    self._feed.unsubscribe(self, channel, product_id)
        self._subs.clear()

    # ------------------------------------------------------------------ numbering

    def _take(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def deliver(self, frame: DataFrame) -> None:
        """Number a shared data frame for this connection, then send it through the faults.

        ``skip_sequence`` fires here: a number is used up with nothing sent for it.
        """
        if self.closed:
            return
        assert isinstance(frame, Envelope)
        injector = self._ctx.injector
        if injector is not None and injector.fire(SKIP_SEQUENCE, frame.symbol) is not None:
            self._seq += 1
        super().deliver(Sequenced(frame, self._take()))

    def render(self, frame: DataFrame) -> bytes:
        """The frame with this connection's number in it."""
        assert isinstance(frame, Sequenced)
        return frame.render()

    def _send_numbered(self, frame: Envelope) -> None:
        """Send a frame that is not market data (ack, heartbeat, status) under the next
        number; a stalled connection loses it but the number is used all the same."""
        self.send_control(frame.numbered(self._take()))

    def _error(self, exc: RequestError) -> None:
        self.send_control(error_frame(exc.message, exc.reason))

    # ------------------------------------------------------------------ requests

    def on_text(self, payload: bytes) -> None:
        """Answer one ``subscribe`` or ``unsubscribe`` message."""
        try:
            request = parse_request(payload)
            if request.subscribe:
                self._subscribe(request)
            else:
                self._unsubscribe(request)
        except RequestError as exc:
            self._error(exc)

    def _subscribe(self, request: Request) -> None:
        channel, now = request.channel, now_ns()
        current = self._subs.setdefault(channel, {})
        if channel == USER:
            self._subscribe_user(request, current, now)
        elif channel == HEARTBEATS:
            current[HEARTBEATS] = None
            # The first beat is the server's next one, not an immediate one.
            self._beat = self._tick(time.monotonic())
        else:
            wanted = request.product_ids or tuple(self._feed.products)
            unknown = [p for p in wanted if not self._feed.has(p)]
            if unknown:
                if not current:
                    del self._subs[channel]
                raise RequestError(SUBSCRIBE_FAILED, f"{unknown[0]} is not a valid product")
            added = [p for p in wanted if p not in current]
            for product_id in added:
                current[product_id] = None
            if channel == STATUS:
                if added:
                    self._send_numbered(self._feed.status(added, now))
            elif added:
                for product_id in added:
                    self._feed.subscribe(self, channel, product_id)
                if channel == "ticker_batch" and len(current) == len(added):
                    self._next_batch = time.monotonic() + self._rules.ticker_batch_interval_s
                self.deliver(self._feed.snapshot(channel, added, now))
        self._subscribed = True
        self._ack(now)

    def _unsubscribe(self, request: Request) -> None:
        channel = request.channel
        current = self._subs.get(channel, {})
        leaving = [p for p in (request.product_ids or tuple(current)) if p in current]
        if channel == USER:
            leaving = list(current)
            self._leave_user()
        for product_id in leaving:
            del current[product_id]
            if channel not in _LOCAL_CHANNELS:
                self._feed.unsubscribe(self, channel, product_id)
                # A frame held back for reordering was sent before this request was read.
                self._release_held(channel, product_id)
        if not current:
            self._subs.pop(channel, None)
        self._ack(now_ns())

    # ------------------------------------------------------------------ the user channel

    def _subscribe_user(self, request: Request, current: dict[str, None], now: int) -> None:
        orders = self._orders
        if orders is None or request.jwt is None:
            self._drop_empty(USER)
            raise RequestError(AUTH_FAILURE)
        try:
            principal = orders.authenticate(request.jwt, None)
        except AuthRefused:
            self._drop_empty(USER)
            raise RequestError(AUTH_FAILURE) from None
        wanted = request.product_ids
        unknown = [p for p in wanted or () if not self._feed.has(p)]
        if unknown:
            self._drop_empty(USER)
            raise RequestError(SUBSCRIBE_FAILED, f"{unknown[0]} is not a valid product")
        if self._user_account is not None and self._user_account != principal.account:
            # One connection per user, as the venue has it.
            raise RequestError(SUBSCRIBE_FAILED, "this connection carries another user")
        self._user_products = None if wanted is None else frozenset(wanted)
        current.clear()
        # The ack names the products, or the user (never the key).
        for name in wanted or (user_id(principal.account),):
            current[name] = None
        if self._user_stop is None:
            self._user_account = principal.account
            self._user_stop = orders.matching.subscribe(principal.account, self._on_order)
        open_orders = [
            o for o in orders.matching.open_orders(principal.account) if self._wants(orders, o)
        ]
        at = rfc3339_nano(now)
        for start in range(0, len(open_orders) + 1, SNAPSHOT_BATCH):
            batch = [orders.user_order(o) for o in open_orders[start : start + SNAPSHOT_BATCH]]
            event = dumps({"type": "snapshot", "orders": batch})
            self._send_numbered(envelope(USER, at, (event,)))

    def _wants(self, orders: CoinbaseOrders, order: SimOrder) -> bool:
        wanted = self._user_products
        return wanted is None or orders.product_of(order).product_id in wanted

    def _drop_empty(self, channel: str) -> None:
        if not self._subs.get(channel):
            self._subs.pop(channel, None)

    def _leave_user(self) -> None:
        if self._user_stop is not None:
            self._user_stop()
        self._user_stop = None
        self._user_account = None
        self._user_products = None

    def _on_order(self, event: OrderEvent) -> None:
        """One change of an order of the subscribed account, as it happens."""
        orders = self._orders
        if self.closed or orders is None or not self._wants(orders, event.order):
            return
        product_id = orders.product_of(event.order).product_id
        if event.kind == "trade" and orders.matching.fault("private_stream_drop", product_id):
            # Mid-fill: the line drops before this update goes out.
            self._leave_user()
            self.abort()
            return
        body = dumps({"type": "update", "orders": [orders.user_order(event.order)]})
        self._send_numbered(envelope(USER, rfc3339_nano(now_ns()), (body,)))

    def _release_held(self, channel: str, product_id: str) -> None:
        key = ("l2_data" if channel == "level2" else channel, product_id)
        held = self._held.pop(key, None)
        if held is not None:
            self.emit(held[0])

    def _ack(self, now: int) -> None:
        event = subscriptions_event(self._subs)
        self._send_numbered(envelope("subscriptions", rfc3339_nano(now), (event,), client_id=False))

    # ------------------------------------------------------------------ timers

    def _tick(self, now: float) -> int:
        return int((now - self._rules.started_ns / 1e9) / self._rules.heartbeat_interval)

    def housekeep(self, now: float) -> None:
        """Held frames, heartbeats, ``ticker_batch``, and the subscribe and idle deadlines."""
        super().housekeep(now)
        if self.closed:
            return
        rules = self._rules
        if not self._subscribed:
            if rules.subscribe_deadline_s and now - self._opened >= rules.subscribe_deadline_s:
                self.close()
            return
        if HEARTBEATS in self._subs:
            tick = self._tick(now)
            if tick > self._beat:
                self._beat = tick
                self._heartbeat(tick)
        elif rules.idle_timeout_s and now - self.last_send >= rules.idle_timeout_s:
            self.close()
            return
        batch = self._subs.get("ticker_batch")
        if batch and now >= self._next_batch:
            self._next_batch = now + rules.ticker_batch_interval_s
            self.deliver(self._feed.ticker_batch(batch, "update", now_ns()))

    def _heartbeat(self, counter: int) -> None:
        wall = now_ns()
        uptime = time.monotonic_ns() - self._rules.started_ns
        event = heartbeat_event(go_time(wall, max(uptime, 0)), counter)
        self._send_numbered(envelope(HEARTBEATS, rfc3339_nano(wall), (event,), client_id=False))
