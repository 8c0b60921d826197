"""Binance order entry: :class:`BinanceOrderVenue`, the
:class:`~tradegw.orders.venue.OrderVenue` of the venue, and :func:`order_venue`, the factory
the venue registry names.

Over the WebSocket API (protocols.md sections 1.6-1.7):

* **Orders**, on one connection opened when first needed: ``order.place`` (with
  ``newClientOrderId`` = the order's client id, ``newOrderRespType=ACK``), ``order.cancel``
  and ``order.status`` by ``origClientOrderId``, each SIGNED (HMAC-SHA256 or Ed25519, as
  ``key_type`` says; ``timestamp`` on the venue's clock, ``recvWindow``). One send per call,
  never retried here; a request without an answer (timeout, connection lost, 5xx,
  ``-1007``) is an unknown outcome, and so is ``-2010 Duplicate order sent.``: the id is in
  use, the entry's query finds the order.
* **Execution reports**, on a connection of their own: ``userDataStream.subscribe.signature``
  (listenKey streams are retired), then ``{"subscriptionId":N,"event":{executionReport}}``
  mapped by :func:`~tradegw.providers.binance.order_wire.execution_report`. When the stream
  ends (a dropped connection, ``eventStreamTerminated``, ``serverShutdown``, a dead
  heartbeat) it is opened and subscribed again with backoff, and ``on_stream_gap`` is called
  once subscribed, so the entry reconciles every open order. The first subscription counts
  as a gap too if any request went out before it.
* **Fills after a gap** from REST ``GET /api/v3/myTrades`` (SIGNED query string, key in
  ``X-MBX-APIKEY``) by ``orderId``, paged by ``fromId``.
* **Request weight**: every request waits until its weight fits ``weight_per_minute`` in
  the venue's fixed one-minute window before it is sent, and the count follows the venue's
  own count of the IP's weight (``rateLimits`` in answers, ``X-MBX-USED-WEIGHT-1M`` on
  REST), so market data and order entry together stay under the venue's limit instead of
  being banned.
  Queries that come together (the reconciliation of every open order after a stream gap)
  share one ``openOrders.status`` per symbol (weight 6) instead of an ``order.status``
  (weight 4) each; an order not among the working ones is asked about on its own.
* **Queries across a gap**: an answer asked for before the stream's latest subscription may
  miss what the stream lost; such a query is asked again, shared answers are never reused
  across subscriptions, and ``fills`` after a query refuses (the entry asks again) when the
  stream was subscribed again in between.
* **Trading rules** from REST ``exchangeInfo`` (tick, step, minimum and maximum quantity,
  minimum notional) of the venue's configured symbols, loaded at start (and retried in the
  background until they load); the venue's clock offset from ``GET /api/v3/time``.

Secrets: the key and secret are :class:`~tradegw.orders.credentials.Secret` values revealed
only while a request is signed or sent; no log line, exception text or ``repr`` here holds a
key, a secret, a signature or a signed URL (REST errors are re-raised without their cause,
which may quote the URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
from yarl import URL

from tradegw.errors import VenueUnavailable, one_line
from tradegw.orders.credentials import VenueCredentials, load_credentials
from tradegw.orders.venue import (
    CancelResult,
    PlaceResult,
    ReportCallback,
    StreamGapCallback,
    VenueFill,
    VenueOrderStatus,
)
from tradegw.providers.binance.config import BinanceTradingConfig, BinanceVenueConfig
from tradegw.providers.binance.order_wire import (
    OrderWireError,
    execution_report,
    instrument,
    order_status,
    plain_decimal,
    trade_fill,
)
from tradegw.providers.binance.signing import (
    ParamValue,
    RequestSigner,
    sign_ws_api,
    signed_rest_query,
)
from tradegw.schema import ExecState

if TYPE_CHECKING:
    from tradegw.orders.instrument import OrderInstrument
    from tradegw.orders.record import OrderRecord
    from tradegw.orders.venue import OrderVenue
    from tradegw.providers.base import VenueConfig, VenueProvider

log = logging.getLogger("tradegw.providers.binance.orders")

VENUE: Final = "binance"
WS_API_PATH: Final = "/ws-api/v3"
API_KEY_HEADER: Final = "X-MBX-APIKEY"
USED_WEIGHT_HEADER: Final = "X-MBX-USED-WEIGHT-1M"
MY_TRADES_PAGE: Final = 1000
"""``myTrades`` rows per request (the venue's maximum)."""

WEIGHTS: Final = {
    "order.place": 1,
    "order.cancel": 1,
    "order.status": 4,
    "openOrders.status": 6,
    "userDataStream.subscribe.signature": 2,
    "myTrades": 5,
}
"""Request weights of what the adapter sends (``myTrades`` by ``orderId``)."""

UNKNOWN_OUTCOME_CODES: Final = frozenset({-1000, -1001, -1006, -1007})
"""Error codes that say the venue does not know whether the request went through
(``-1007 TIMEOUT``: "Send status unknown; execution status unknown.")."""
DUPLICATE_ORDER: Final = "Duplicate order sent."
ORDER_NOT_FOUND: Final = -2013
ORDER_ARCHIVED: Final = -2026
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_QUERY_EPOCHS_KEPT: Final = 10_000
"""Orders whose last answer's subscription is remembered (for the fills asked next)."""
_BANNED_UNTIL: Final = re.compile(r"banned until (\d{10,16})")


class VenueAnswerError(Exception):
    """The venue answered a request with an error object; the text is ``code msg``."""

    def __init__(self, status: int, code: int | None, msg: str) -> None:
        super().__init__(f"{code} {msg}" if code is not None else f"HTTP {status}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg


class WeightWindow:
    """Request weight per minute the venue's way: a fixed window of a whole minute (on the
    venue's clock), reset at its end. What the venue reports as used in the window raises
    our count (other clients on the IP spend the same budget); our own spending is counted
    as it is made, before any answer says so."""

    def __init__(self, budget: float, window_s: float = 60.0) -> None:
        self.budget = budget
        self.window_s = window_s
        self._window = -1
        self.used = 0.0
        self.blocked_until = 0.0

    def _roll(self, now_s: float) -> None:
        window = int(now_s // self.window_s)
        if window != self._window:
            self._window = window
            self.used = 0.0

    def reserve(self, weight: float, now_s: float) -> float:
        """Spends ``weight`` now and returns 0, or returns the seconds until the window
        ends when it does not fit (spending nothing). A weight above the whole budget is let
        through at a window's start, so it is never stuck."""
        if now_s < self.blocked_until:
            return self.blocked_until - now_s
        self._roll(now_s)
        if self.used + weight <= self.budget or (self.used == 0 and weight > self.budget):
            self.used += weight
            return 0.0
        return (self._window + 1) * self.window_s - now_s + 0.01

    def block_until(self, until_s: float) -> None:
        """Nothing fits before ``until_s`` (a ban)."""
        self.blocked_until = max(self.blocked_until, until_s)

    def spend(self, weight: float, now_s: float) -> None:
        """Counts ``weight`` spent now, whether it fits or not."""
        self._roll(now_s)
        self.used += weight

    def observe(self, used: float, now_s: float) -> None:
        """The venue says ``used`` weight is spent in the current window."""
        self._roll(now_s)
        self.used = max(self.used, used)


class WsApiConnection:
    """One WebSocket API connection: requests matched to their answers by ``id``; every
    other frame (user data events, ``serverShutdown``) goes to ``on_event``."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        heartbeat_s: float,
        on_event: Callable[[Any], None] | None = None,
        on_used_weight: Callable[[int], None] | None = None,
    ) -> None:
        self._url = url
        self._on_used_weight = on_used_weight
        self._session = session
        self._heartbeat_s = heartbeat_s
        self._on_event = on_event
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.closed = asyncio.Event()
        """Set once the connection is gone (or never opened)."""
        self.close_reason = "not connected"

    @property
    def usable(self) -> bool:
        """Open and not closing."""
        return self._ws is not None and not self.closed.is_set()

    async def open(self) -> None:
        """Connects (within the session's timeout).

        Raises:
            ConnectionError: it could not connect.
        """
        try:
            self._ws = await self._session.ws_connect(
                self._url, heartbeat=self._heartbeat_s, autoping=True, max_msg_size=16 * 2**20
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            self.closed.set()
            raise ConnectionError(f"cannot connect to the WebSocket API ({one_line(e)})") from None
        self._reader = asyncio.get_running_loop().create_task(
            self._read(self._ws), name="binance-ws-api-reader"
        )

    async def request(
        self, method: str, params: dict[str, ParamValue], timeout_s: float
    ) -> dict[str, Any]:
        """Sends one request and returns its answer (``status``, ``result`` or ``error``).

        Raises:
            ConnectionError: not connected, or the connection ended before the answer.
            TimeoutError: no answer within ``timeout_s``.
        """
        ws = self._ws
        if ws is None or self.closed.is_set():
            raise ConnectionError(f"WebSocket API connection {self.close_reason}")
        rid = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = answer
        try:
            try:
                await ws.send_bytes(orjson.dumps({"id": rid, "method": method, "params": params}))
            except (aiohttp.ClientError, OSError) as e:
                raise ConnectionError(f"WebSocket API send failed ({type(e).__name__})") from None
            async with asyncio.timeout(timeout_s):
                return await answer
        finally:
            self._pending.pop(rid, None)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._on_frame(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    self.close_reason = f"failed ({type(ws.exception()).__name__})"
                    break
            else:
                self.close_reason = f"closed by the venue (code {ws.close_code})"
        except Exception as e:  # the reader must end by setting closed, whatever happened
            self.close_reason = f"failed ({type(e).__name__})"
        finally:
            self.closed.set()
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(
                        ConnectionError(f"WebSocket API connection {self.close_reason}")
                    )

    def _on_frame(self, data: str | bytes) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("binance orders: a WebSocket API frame is not JSON: %.200r", data)
            return
        if isinstance(frame, dict) and "status" in frame and "id" in frame:
            if self._on_used_weight is not None:
                used = _used_weight(frame)
                if used is not None:
                    self._on_used_weight(used)
            rid = frame["id"]
            answer = self._pending.get(rid) if isinstance(rid, int) else None
            if answer is not None and not answer.done():
                answer.set_result(frame)
            return
        if self._on_event is not None:
            self._on_event(frame)

    async def close(self) -> None:
        """Closes the connection (idempotent)."""
        self.closed.set()
        if self.close_reason == "not connected":
            self.close_reason = "closed"
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


class _Snapshot:
    """One ``openOrders.status`` of a symbol: asked for when, under which subscription."""

    __slots__ = ("answer", "asked_at", "epoch")

    def __init__(self, epoch: int, answer: asyncio.Task[dict[str, dict[str, Any]]]) -> None:
        self.epoch = epoch
        self.answer = answer
        self.asked_at = asyncio.get_running_loop().time()

    def usable(self, epoch: int, reuse_s: float) -> bool:
        """Asked under subscription ``epoch``, at most ``reuse_s`` ago."""
        age = asyncio.get_running_loop().time() - self.asked_at
        return self.epoch == epoch and age <= reuse_s


class BinanceOrderVenue:
    """Binance's :class:`~tradegw.orders.venue.OrderVenue` (see the module docstring)."""

    def __init__(
        self,
        config: BinanceTradingConfig,
        *,
        ws_api_url: str,
        rest_url: str,
        symbols: list[str],
        credentials: VenueCredentials,
    ) -> None:
        self.config = config
        self.ws_api_url = ws_api_url
        self.rest_url = rest_url.rstrip("/")
        self._symbols = list(symbols)
        self._credentials = credentials
        # Checked now: a key that is not of key_type stops the start, naming where it came from.
        self._signer = RequestSigner(
            config.key_type, credentials.api_secret, source=credentials.secret_source
        )
        self._instruments: dict[str, OrderInstrument] = {}
        self._venue_symbols: set[str] = set()
        self._session: aiohttp.ClientSession | None = None
        self._orders: WsApiConnection | None = None
        self._orders_lock = asyncio.Lock()
        self._stream: WsApiConnection | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._stream_up = asyncio.Event()
        self._stream_ended = asyncio.Event()
        self._instruments_task: asyncio.Task[None] | None = None
        self._on_report: ReportCallback | None = None
        self._on_gap: StreamGapCallback | None = None
        self._clock_offset_ms = 0
        self._asked_without_stream = False
        """A request went out while the stream was not subscribed: what it learnt may be
        older than the first subscription, which then counts as a gap."""
        self._rng = random.Random()
        self._weight = WeightWindow(config.weight_per_minute)
        self._open_snapshots: dict[str, _Snapshot] = {}
        self._query_epochs: dict[str, int] = {}
        self._stream_epoch = 0
        """Subscriptions of the user data stream so far: an answer asked for under an
        earlier one may predate updates the stream lost."""
        self._querying: Counter[str] = Counter()
        self.stats: dict[str, int] = {
            "weight_waits": 0,
            "open_orders_snapshots": 0,
            "queries_from_snapshots": 0,
            "places": 0,
            "stream_connects": 0,
            "stream_gaps": 0,
            "reports": 0,
            "frames_not_understood": 0,
        }
        """What the adapter did (for tests and the curious)."""

    def __repr__(self) -> str:
        return f"BinanceOrderVenue(ws_api_url={self.ws_api_url!r}, rest_url={self.rest_url!r})"

    # ---- OrderVenue ----

    @property
    def name(self) -> str:
        """``binance``."""
        return VENUE

    @property
    def query_grace_s(self) -> float:
        """``recvWindow`` plus :attr:`BinanceTradingConfig.query_grace_extra_s`: a request
        older than its window is refused by the venue, so after that long a query that finds
        nothing means "never"."""
        return self.config.recv_window_ms / 1000 + self.config.query_grace_extra_s

    def instrument(self, symbol: str) -> OrderInstrument | None:
        """Tick, lot and minimums of canonical ``symbol`` (``BTC-USDT``) from
        ``exchangeInfo``; None before they are loaded or for a symbol not configured."""
        return self._instruments.get(symbol)

    async def start(self, on_report: ReportCallback, on_stream_gap: StreamGapCallback) -> None:
        """Loads the trading rules and the venue's clock, starts the user data stream and
        waits a little for its first subscription (not for ever: a venue down now is
        reconnected to in the background)."""
        await self.stop()
        self._on_report = on_report
        self._on_gap = on_stream_gap
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        )
        self._asked_without_stream = False
        if not await self._load_instruments():
            self._instruments_task = asyncio.get_running_loop().create_task(
                self._keep_loading_instruments(), name="binance-order-instruments"
            )
        await self._sync_clock()
        self._stream_task = asyncio.get_running_loop().create_task(
            self._run_stream(), name="binance-user-data-stream"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(self.config.request_timeout_s, 5.0)):
                await self._stream_up.wait()

    async def stop(self) -> None:
        """Closes both connections and the HTTP session; safe to call twice."""
        for task in (self._stream_task, self._instruments_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._stream_task = self._instruments_task = None
        for conn in (self._stream, self._orders):
            if conn is not None:
                await conn.close()
        self._stream = self._orders = None
        self._stream_up.clear()
        self._open_snapshots.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._on_report = self._on_gap = None

    async def place(self, order: OrderRecord) -> PlaceResult:
        """``order.place`` once; see the module docstring for how answers map."""
        try:
            params = _place_params(order)
        except ValueError as e:
            return PlaceResult.rejected(str(e))
        self.stats["places"] += 1
        try:
            answer = await self._request("order.place", params)
        except TimeoutError:
            return PlaceResult.unknown(f"no answer within {self.config.request_timeout_s}s")
        except ConnectionError as e:
            return PlaceResult.unknown(f"no answer: {e}")
        if answer.get("status") == 200:
            result = answer.get("result")
            order_id = result.get("orderId") if isinstance(result, dict) else None
            if not isinstance(order_id, int):
                return PlaceResult.unknown(f"an answer without orderId: {str(answer)[:200]}")
            return PlaceResult.accepted(str(order_id))
        error = _answer_error(answer)
        if _outcome_unknown(error):
            return PlaceResult.unknown(str(error))
        if error.code == -2010 and error.msg == DUPLICATE_ORDER:
            # The id is in use by an open order: ours, sent before. The entry's query finds it.
            return PlaceResult.unknown(f"{error} (the client order id is in use)")
        return PlaceResult.rejected(str(error))

    async def cancel(self, order: OrderRecord) -> CancelResult:
        """``order.cancel`` by ``origClientOrderId``."""
        params: dict[str, ParamValue] = {
            "symbol": order.venue_symbol,
            "origClientOrderId": order.client_order_id,
        }
        try:
            answer = await self._request("order.cancel", params)
        except TimeoutError:
            return CancelResult.unknown(f"no answer within {self.config.request_timeout_s}s")
        except ConnectionError as e:
            return CancelResult.unknown(f"no answer: {e}")
        if answer.get("status") == 200:
            result = answer.get("result")
            status = result.get("status") if isinstance(result, dict) else None
            return CancelResult.cancelled() if status == "CANCELED" else CancelResult.pending()
        error = _answer_error(answer)
        if _outcome_unknown(error):
            return CancelResult.unknown(str(error))
        return CancelResult.rejected(str(error))

    async def query(self, order: OrderRecord) -> VenueOrderStatus | None:
        """``order.status`` by ``origClientOrderId`` (or the shared ``openOrders.status``
        when queries come together); None only for ``-2013 Order does not exist.``

        An answer asked for before the user data stream was subscribed again may miss what
        the stream lost meanwhile, and the entry would take it as the state after the gap:
        such a query is asked again (reading twice never makes an order).

        Raises:
            VenueUnavailable: no answer, or any other error.
        """
        for _ in range(3):
            epoch = self._stream_epoch
            status = await self._query(order)
            if epoch == self._stream_epoch:
                if status is not None:
                    self._note_query_epoch(order.client_order_id, epoch)
                return status
        raise VenueUnavailable("order.status: the user data stream kept resubscribing")

    def _note_query_epoch(self, cid: str, epoch: int) -> None:
        """Which subscription an order's last answer was read under, for :meth:`fills`."""
        epochs = self._query_epochs
        epochs.pop(cid, None)
        epochs[cid] = epoch
        while len(epochs) > _QUERY_EPOCHS_KEPT:
            del epochs[next(iter(epochs))]

    async def _query(self, order: OrderRecord) -> VenueOrderStatus | None:
        symbol = order.venue_symbol
        together = self._querying[symbol] > 0
        self._querying[symbol] += 1
        try:
            if self.config.open_orders_reuse_s > 0 and (together or self._fresh_snapshot(symbol)):
                working = await self._open_orders(symbol)
                found = working.get(order.client_order_id)
                if found is not None:
                    self.stats["queries_from_snapshots"] += 1
                    try:
                        return order_status(found)
                    except OrderWireError as e:
                        raise VenueUnavailable(f"openOrders.status: {e}") from None
            # Not working (closed, or not there): only the order itself can say.
            return await self._query_one(order)
        finally:
            self._querying[symbol] -= 1
            if not self._querying[symbol]:
                del self._querying[symbol]

    async def _query_one(self, order: OrderRecord) -> VenueOrderStatus | None:
        params: dict[str, ParamValue] = {
            "symbol": order.venue_symbol,
            "origClientOrderId": order.client_order_id,
        }
        try:
            answer = await self._request("order.status", params)
        except (TimeoutError, ConnectionError) as e:
            raise VenueUnavailable(f"order.status: {one_line(e)}") from None
        if answer.get("status") == 200:
            result = answer.get("result")
            if not isinstance(result, dict):
                raise VenueUnavailable(f"order.status answered {str(answer)[:200]}")
            try:
                return order_status(result)
            except OrderWireError as e:
                raise VenueUnavailable(f"order.status: {e}") from None
        error = _answer_error(answer)
        if error.code == ORDER_NOT_FOUND:
            return None
        if error.code == ORDER_ARCHIVED:
            # Canceled or expired long ago without a fill; which of the two is lost.
            return VenueOrderStatus(
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id or "archived",
                state=ExecState.CANCELLED,
                filled_qty="0",
                reason=str(error),
            )
        raise VenueUnavailable(f"order.status: {error}")

    async def fills(self, order: OrderRecord) -> list[VenueFill]:
        """Every execution of ``order`` from ``GET /api/v3/myTrades`` by ``orderId``.

        Raises:
            VenueUnavailable: the venue cannot say now.
        """
        # The entry adopts the state its query read once these fills are in: if the stream
        # was subscribed again since that query (or during this call), that state may miss
        # what the old stream lost, and the entry is made to ask again.
        asked = self._query_epochs.pop(order.client_order_id, self._stream_epoch)
        started = self._stream_epoch
        order_id = order.venue_order_id
        if order_id is None:
            status = await self.query(order)
            if status is None:
                return []
            order_id = status.venue_order_id
        fills = await self._fills(order, order_id)
        if asked != self._stream_epoch or started != self._stream_epoch:
            raise VenueUnavailable("myTrades: the user data stream was subscribed again meanwhile")
        return fills

    async def _fills(self, order: OrderRecord, order_id: str) -> list[VenueFill]:
        out: list[VenueFill] = []
        from_id: int | None = None
        while True:
            params: dict[str, ParamValue] = {
                "symbol": order.venue_symbol,
                "orderId": order_id,
                "limit": MY_TRADES_PAGE,
            }
            if from_id is not None:
                params["fromId"] = from_id
            await self._spend(WEIGHTS["myTrades"])
            rows = await self._signed_get("/api/v3/myTrades", params)
            if not isinstance(rows, list):
                raise VenueUnavailable(f"myTrades answered {str(rows)[:200]}")
            try:
                out.extend(trade_fill(row) for row in rows if str(row.get("orderId")) == order_id)
            except (OrderWireError, AttributeError) as e:
                raise VenueUnavailable(f"myTrades: {e}") from None
            if len(rows) < MY_TRADES_PAGE:
                return out
            from_id = int(rows[-1]["id"]) + 1

    # ---- open orders, shared by queries that come together ----

    def _fresh_snapshot(self, symbol: str) -> bool:
        taken = self._open_snapshots.get(symbol)
        return taken is not None and taken.usable(self._stream_epoch, self._reuse_s())

    def _reuse_s(self) -> float:
        return self.config.open_orders_reuse_s

    async def _open_orders(self, symbol: str) -> dict[str, dict[str, Any]]:
        """The working orders of ``symbol`` by client id, from one ``openOrders.status``
        shared by every query within ``open_orders_reuse_s`` of its sending under the same
        stream subscription (a state that old is as good as any answer on its way back; the
        stream's later reports still advance it).

        Raises:
            VenueUnavailable: the venue cannot say now.
        """
        taken = self._open_snapshots.get(symbol)
        if taken is None or not taken.usable(self._stream_epoch, self._reuse_s()):
            task = asyncio.get_running_loop().create_task(
                self._fetch_open_orders(symbol), name=f"open-orders-{symbol}"
            )
            taken = _Snapshot(self._stream_epoch, task)
            self._open_snapshots[symbol] = taken
            fresh = taken

            def forget_failure(done: asyncio.Task[dict[str, dict[str, Any]]]) -> None:
                failed = done.cancelled() or done.exception() is not None
                if failed and self._open_snapshots.get(symbol) is fresh:
                    del self._open_snapshots[symbol]

            task.add_done_callback(forget_failure)
        return await asyncio.shield(taken.answer)

    async def _fetch_open_orders(self, symbol: str) -> dict[str, dict[str, Any]]:
        self.stats["open_orders_snapshots"] += 1
        try:
            answer = await self._request("openOrders.status", {"symbol": symbol})
        except (TimeoutError, ConnectionError) as e:
            raise VenueUnavailable(f"openOrders.status: {one_line(e)}") from None
        result = answer.get("result")
        if answer.get("status") != 200 or not isinstance(result, list):
            raise VenueUnavailable(f"openOrders.status: {_answer_error(answer)}")
        return {str(o.get("clientOrderId")): o for o in result if isinstance(o, dict)}

    # ---- requests ----

    def _now_ms(self) -> int:
        """The venue's clock (ours corrected by the offset ``/api/v3/time`` measured)."""
        return time.time_ns() // 1_000_000 + self._clock_offset_ms

    def _now_s(self) -> float:
        return self._now_ms() / 1000

    def _signed(self, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
        creds = self._credentials
        return sign_ws_api(
            params,
            api_key=creds.api_key,
            secret=self._signer,
            timestamp_ms=self._now_ms(),
            recv_window_ms=self.config.recv_window_ms,
        )

    async def _request(self, method: str, params: dict[str, ParamValue]) -> dict[str, Any]:
        """One signed request on the orders connection (opened when needed).

        Raises:
            ConnectionError: no connection, or it ended before the answer.
            TimeoutError: no answer in time.
        """
        conn = await self._orders_connection()
        await self._spend(WEIGHTS.get(method, 1))
        if not self._stream_up.is_set():
            self._asked_without_stream = True
        # Signed at the last moment: the timestamp starts the request's recvWindow.
        answer = await conn.request(method, self._signed(params), self.config.request_timeout_s)
        self._note_limit_answer(answer.get("status"), answer.get("error"))
        # Names only: the signed parameters (key, signature) are never logged.
        log.debug(
            "binance orders: %s %s answered %s %s",
            method,
            params.get("newClientOrderId") or params.get("origClientOrderId") or params["symbol"],
            answer.get("status"),
            answer.get("error") or "",
        )
        return answer

    async def _spend(self, weight: int) -> None:
        """Waits until ``weight`` fits this minute's budget, then spends it: the venue's
        limit is never what stops a request."""
        while True:
            wait = self._weight.reserve(weight, self._now_s())
            if wait <= 0:
                return
            self.stats["weight_waits"] += 1
            await asyncio.sleep(wait)

    def _note_limit_answer(self, status: object, error: object) -> None:
        """After a 429 nothing more is sent in this window; after a 418 nothing until the
        ban the message names ends (requests during a back-off lengthen bans)."""
        if status == 429:
            self._weight.spend(self._weight.budget, self._now_s())
        elif status == 418:
            msg = error.get("msg") if isinstance(error, dict) else None
            match = _BANNED_UNTIL.search(msg) if isinstance(msg, str) else None
            until = int(match.group(1)) / 1000 if match else self._now_s() + 60.0
            self._weight.block_until(until)

    def _note_used_weight(self, used: int) -> None:
        """The venue's count of the weight this IP used in its window (``rateLimits``,
        ``X-MBX-USED-WEIGHT-1M``): what others spent (market data, other processes) counts
        against the budget too."""
        self._weight.observe(used, self._now_s())

    async def _orders_connection(self) -> WsApiConnection:
        async with self._orders_lock:
            conn = self._orders
            if conn is None or not conn.usable:
                if conn is not None:
                    log.info(
                        "binance orders: order connection %s; opening another", conn.close_reason
                    )
                    await conn.close()
                conn = WsApiConnection(
                    self.ws_api_url,
                    self._http(),
                    heartbeat_s=self.config.heartbeat_s,
                    on_used_weight=self._note_used_weight,
                )
                self._orders = conn
                await conn.open()
            return conn

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise ConnectionError("the Binance order venue is not started")
        return self._session

    async def _signed_get(self, path: str, params: dict[str, ParamValue]) -> Any:
        """A SIGNED REST GET; the answer's JSON.

        Raises:
            VenueUnavailable: no answer, an error status, or no JSON (never quoting the
                signed URL).
        """
        query = signed_rest_query(
            params,
            secret=self._signer,
            timestamp_ms=self._now_ms(),
            recv_window_ms=self.config.recv_window_ms,
        )
        url = URL(f"{self.rest_url}{path}?{query}", encoded=True)
        headers = {API_KEY_HEADER: self._credentials.api_key.reveal()}
        try:
            async with self._http().get(url, headers=headers) as resp:
                status, body = resp.status, await resp.read()
                used = resp.headers.get(USED_WEIGHT_HEADER, "")
                if used.isdigit():
                    self._note_used_weight(int(used))
        except ConnectionError as e:
            raise VenueUnavailable(f"{path}: {e}") from None
        except Exception as e:  # its text may quote the signed URL: the type only
            raise VenueUnavailable(f"{path}: {type(e).__name__}") from None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise VenueUnavailable(f"{path}: HTTP {status}, not JSON: {body[:100]!r}") from None
        log.debug("binance orders: GET %s %s answered %s", path, params.get("orderId"), status)
        if status != 200:
            self._note_limit_answer(status, data)
            code = data.get("code") if isinstance(data, dict) else None
            msg = data.get("msg") if isinstance(data, dict) else None
            raise VenueUnavailable(f"{path}: HTTP {status} {code} {msg}")
        return data

    async def _public_get(self, path: str, query: str = "") -> Any:
        url = URL(f"{self.rest_url}{path}{'?' + query if query else ''}", encoded=True)
        async with self._http().get(url) as resp:
            body = await resp.read()
            used = resp.headers.get(USED_WEIGHT_HEADER, "")
            if used.isdigit():
                self._note_used_weight(int(used))
            if resp.status != 200:
                raise VenueAnswerError(resp.status, None, body[:200].decode("utf-8", "replace"))
        return orjson.loads(body)

    # ---- reference data and the clock ----

    async def _load_instruments(self) -> bool:
        """``exchangeInfo`` of the configured symbols; False (logged) when it failed."""
        query = urlencode({"symbols": orjson.dumps(self._symbols).decode()})
        try:
            body = await self._public_get("/api/v3/exchangeInfo", query)
            loaded = {}
            for raw in body["symbols"]:
                if raw.get("status") != "TRADING":
                    continue
                inst = instrument(raw)
                loaded[inst.symbol] = inst
        except Exception as e:
            log.warning("binance orders: exchangeInfo failed: %s", one_line(e))
            return False
        self._instruments = loaded
        self._venue_symbols = {i.venue_symbol for i in loaded.values()}
        missing = sorted(set(self._symbols) - self._venue_symbols)
        if missing:
            log.error("binance orders: not tradable at the venue: %s", ", ".join(missing))
        return True

    async def _keep_loading_instruments(self) -> None:
        delay = self.config.reconnect.initial_s
        while not await self._load_instruments():
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.reconnect.max_s)

    async def _sync_clock(self) -> None:
        """The venue's clock minus ours, in ms, from ``GET /api/v3/time`` (the midpoint of
        the round trip); left as it was when the call fails."""
        try:
            before = time.time_ns()
            body = await self._public_get("/api/v3/time")
            after = time.time_ns()
            server_ms = int(body["serverTime"])
        except Exception as e:
            log.warning("binance orders: /api/v3/time failed: %s", one_line(e))
            return
        self._clock_offset_ms = server_ms - (before + after) // 2_000_000

    # ---- the user data stream ----

    async def _run_stream(self) -> None:
        policy = self.config.reconnect
        delay = policy.initial_s
        subscribed_once = False
        while True:
            conn = WsApiConnection(
                self.ws_api_url,
                self._http(),
                heartbeat_s=self.config.heartbeat_s,
                on_event=self._on_stream_frame,
                on_used_weight=self._note_used_weight,
            )
            self._stream = conn
            self._stream_ended.clear()
            try:
                await conn.open()
                if subscribed_once:
                    await self._sync_clock()
                # Never kept waiting for the window: a stream down is a gap growing.
                self._weight.spend(WEIGHTS["userDataStream.subscribe.signature"], self._now_s())
                answer = await conn.request(
                    "userDataStream.subscribe.signature",
                    self._signed({}),
                    self.config.request_timeout_s,
                )
                if answer.get("status") != 200:
                    raise _answer_error(answer)
                self.stats["stream_connects"] += 1
                # Whatever was read before this subscription may miss what the old one lost.
                self._stream_epoch += 1
                self._open_snapshots.clear()
                self._stream_up.set()
                log.info("binance orders: user data stream subscribed")
                # Updates sent before this subscription (a reconnect, or orders placed
                # before the first one) may be lost: the entry reconciles.
                if subscribed_once or self._asked_without_stream:
                    self.stats["stream_gaps"] += 1
                    if self._on_gap is not None:
                        self._on_gap()
                subscribed_once = True
                self._asked_without_stream = False
                delay = policy.initial_s
                closed = asyncio.ensure_future(conn.closed.wait())
                ended = asyncio.ensure_future(self._stream_ended.wait())
                try:
                    await asyncio.wait({closed, ended}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    closed.cancel()
                    ended.cancel()
                log.warning(
                    "binance orders: user data stream ended (%s); subscribing again",
                    conn.close_reason if conn.closed.is_set() else "terminated",
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning(
                    "binance orders: user data stream: %s; again in %.2fs", one_line(e), delay
                )
            finally:
                self._stream_up.clear()
                await conn.close()
            await asyncio.sleep(delay * (1 + self._rng.uniform(-policy.jitter, policy.jitter)))
            delay = min(delay * policy.multiplier, policy.max_s)

    def _on_stream_frame(self, frame: Any) -> None:
        if not isinstance(frame, dict):
            self._not_understood(frame)
            return
        event = frame.get("event", frame)  # legacy streams sent the bare event
        kind = event.get("e") if isinstance(event, dict) else None
        if kind == "executionReport":
            try:
                report = execution_report(event)
            except OrderWireError as e:
                self._not_understood(frame, str(e))
                return
            log.debug(
                "binance orders: executionReport %s x=%s X=%s",
                event.get("c"),
                event.get("x"),
                event.get("X"),
            )
            if report is not None and self._on_report is not None:
                self.stats["reports"] += 1
                self._on_report(report)
        elif kind in ("eventStreamTerminated", "serverShutdown"):
            log.warning("binance orders: %s on the user data stream", kind)
            self._stream_ended.set()
        elif kind is None:
            self._not_understood(frame)
        # Balance events (outboundAccountPosition, balanceUpdate, ...) are not ours.

    def _not_understood(self, frame: Any, why: str = "") -> None:
        self.stats["frames_not_understood"] += 1
        log.warning("binance orders: user data frame not understood %s: %.200r", why, frame)


def _place_params(order: OrderRecord) -> dict[str, ParamValue]:
    """``order.place`` parameters of ``order`` (unsigned).

    Raises:
        ValueError: a combination Binance has no order for (the reason says which).
    """
    params: dict[str, ParamValue] = {
        "symbol": order.venue_symbol,
        "side": order.side.upper(),
        "quantity": plain_decimal(order.qty),
        "newClientOrderId": order.client_order_id,
        "newOrderRespType": "ACK",
    }
    if order.type == "market":
        if order.time_in_force == "FOK":
            raise ValueError("binance: a market order cannot be FOK (MARKET takes no timeInForce)")
        params["type"] = "MARKET"
        return params
    if order.price is None:
        raise ValueError("binance: a limit order needs a price")
    params["price"] = plain_decimal(order.price)
    if order.post_only:
        if order.time_in_force != "GTC":
            raise ValueError("binance: post-only (LIMIT_MAKER) orders are GTC")
        params["type"] = "LIMIT_MAKER"
    else:
        params["type"] = "LIMIT"
        params["timeInForce"] = order.time_in_force
    return params


def _answer_error(answer: dict[str, Any]) -> VenueAnswerError:
    status = answer.get("status")
    error = answer.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    msg = error.get("msg") if isinstance(error, dict) else None
    return VenueAnswerError(
        status if isinstance(status, int) else 0,
        code if isinstance(code, int) else None,
        msg if isinstance(msg, str) else str(answer)[:200],
    )


def _used_weight(answer: dict[str, Any]) -> int | None:
    """``REQUEST_WEIGHT`` ``count`` of an answer's ``rateLimits``, if it has one."""
    limits = answer.get("rateLimits")
    if not isinstance(limits, list):
        return None
    for limit in limits:
        if isinstance(limit, dict) and limit.get("rateLimitType") == "REQUEST_WEIGHT":
            count = limit.get("count")
            if isinstance(count, int) and not isinstance(count, bool):
                return count
    return None


def _outcome_unknown(error: VenueAnswerError) -> bool:
    """5xx, or a code saying the venue does not know: the request may have gone through."""
    return error.status >= 500 or error.code in UNKNOWN_OUTCOME_CODES


def order_venue(config: VenueConfig, provider: VenueProvider) -> OrderVenue | None:
    """The registry's factory: Binance's order venue for the venue config's ``trading``
    section, or None without an enabled one. URLs ``"sim"`` are found from the provider's
    (the simulator serves the WebSocket API on its WebSocket port).

    Raises:
        CredentialError: the key or secret is missing, its file is unsafe, or the secret is
            not a key of ``trading.key_type``.
        ValueError: the URLs cannot be found.
    """
    if not isinstance(config, BinanceVenueConfig):
        raise TypeError(f"not a Binance venue config: {type(config).__name__}")
    trading = config.trading
    if trading is None or not trading.enabled:
        return None
    ws_api_url = trading.url
    if ws_api_url == "sim":
        host = urlsplit(provider.ws_url).hostname
        if host not in _LOCAL_HOSTS:
            raise ValueError(
                "venues.binance.trading.url is 'sim' but ws_url is not a simulator's; set it "
                "to wss://ws-api.binance.com:443/ws-api/v3"
            )
        ws_api_url = provider.ws_url.rstrip("/") + WS_API_PATH
    rest_url = provider.rest_url if trading.rest_url == "sim" else trading.rest_url
    if not rest_url:
        raise ValueError("venues.binance.trading needs a REST URL (rest_url) for myTrades")
    credentials = load_credentials(VENUE)
    return BinanceOrderVenue(
        trading,
        ws_api_url=ws_api_url,
        rest_url=rest_url,
        symbols=list(config.symbols),
        credentials=credentials,
    )


if TYPE_CHECKING:

    def _is_an_order_venue(venue: BinanceOrderVenue) -> OrderVenue:
        return venue  # mypy proves here that the adapter satisfies the protocol


__all__ = [
    "BinanceOrderVenue",
    "VenueAnswerError",
    "WeightWindow",
    "WsApiConnection",
    "order_venue",
]
