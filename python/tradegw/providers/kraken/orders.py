"""Kraken's order adapter: an :class:`~tradegw.orders.venue.OrderVenue` over WS v2
``add_order``/``cancel_order``, the ``executions`` channel and private REST.

One WebSocket to the authenticated endpoint (``wss://ws-auth.kraken.com/v2``) carries both
the orders and the ``executions`` subscription. Each connection starts with a fresh token
from REST ``GetWebSocketsToken`` (valid 15 minutes until used, then for as long as the
subscription lasts), subscribes ``executions`` with ``snap_orders`` and ``snap_trades``, and
is ready once the snapshot is in. Every reconnect after the first, and every skip in the
messages' top-level ``sequence``, is announced to the order entry as a stream gap, which then
reconciles the venue's open orders through :meth:`KrakenOrderVenue.query` and
:meth:`KrakenOrderVenue.fills`.

What each call does (protocols.md §3.5-3.6):

* :meth:`~KrakenOrderVenue.place`: ``add_order`` with ``cl_ord_id`` = the client order id,
  amounts as JSON numbers of the request's exact text. ``success`` -> accepted (its
  ``order_id``); ``EOrder:Duplicate...`` -> unknown (the id is in use: the entry queries and
  finds the order); other ``EOrder:``, ``EGeneral:Invalid arguments``, ``EQuery:`` and
  ``EGeneral:Permission denied`` -> rejected in Kraken's words; anything else
  (``EService:Unavailable``, an unknown error, a refused token, no answer in time, the
  connection lost after the request went out) -> unknown. Never retried here.
* :meth:`~KrakenOrderVenue.cancel`: ``cancel_order`` by ``cl_ord_id``; ``success`` ->
  pending (the state comes on ``executions``), ``EOrder:Unknown order`` -> rejected.
* :meth:`~KrakenOrderVenue.query`: REST ``OpenOrders`` by ``cl_ord_id``, then
  ``ClosedOrders`` by ``cl_ord_id`` (in that order, so an order closing in between is found
  in the second); None only when neither lists it.
* :meth:`~KrakenOrderVenue.fills`: REST ``QueryOrders`` (``trades=true``) for the order's
  trade txids, then ``QueryTrades``: the same txids the stream's ``exec_id`` carries.

Secrets: the key and secret stay :class:`~tradegw.orders.credentials.Secret` values revealed
only while signing; the token is sent in requests and never logged; no message, reason or
exception text built here holds any of them, nor a signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from tradegw.errors import VenueUnavailable, one_line
from tradegw.orders.credentials import VenueCredentials, load_credentials
from tradegw.orders.instrument import OrderInstrument
from tradegw.orders.venue import (
    CancelResult,
    PlaceResult,
    ReportCallback,
    StreamGapCallback,
    VenueFill,
    VenueOrderStatus,
)
from tradegw.providers.base.config import RestPolicy
from tradegw.providers.base.decode import FrameError, as_int, decode_exact
from tradegw.providers.base.rest import RestClient, RestError
from tradegw.providers.base.session import Backoff
from tradegw.providers.kraken.decode import canonical_symbol
from tradegw.providers.kraken.executions import (
    OrderIds,
    fill_of,
    report_of,
    status_of,
)
from tradegw.providers.kraken.private_rest import KrakenApiError, KrakenPrivateRest
from tradegw.providers.kraken.rest import v2_symbol
from tradegw.telemetry import Telemetry

if TYPE_CHECKING:
    from tradegw.orders.record import OrderRecord
    from tradegw.orders.venue import OrderVenue
    from tradegw.providers.base import VenueConfig, VenueProvider
    from tradegw.providers.kraken.config import KrakenTradingConfig

log = logging.getLogger("tradegw.orders.kraken")

VENUE: Final = "kraken"

SIM_AUTH_PATH: Final = "/ws-auth/v2"
"""Where the simulator serves the authenticated endpoint, beside its public ``/v2``."""

REJECTING_PREFIXES: Final = (
    "EOrder:",
    "EGeneral:Invalid arguments",
    "EGeneral:Permission denied",
    "EQuery:",
)
"""Errors that say the order was not created and will not be from this request."""

_PLAIN_DECIMAL: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TRADES_PER_QUERY: Final = 20
"""Kraken's ``QueryTrades`` takes at most 20 txids a call."""


def sim_auth_url(ws_url: str) -> str:
    """The simulator's authenticated endpoint beside its public one:
    ``ws://127.0.0.1:P/v2`` -> ``ws://127.0.0.1:P/ws-auth/v2``."""
    parts = urlsplit(ws_url)
    return urlunsplit((parts.scheme, parts.netloc, SIM_AUTH_PATH, "", ""))


def make_order_venue(
    config: VenueConfig,
    provider: VenueProvider,
    *,
    credentials: VenueCredentials | None = None,
) -> KrakenOrderVenue | None:
    """The registry's factory: Kraken's order adapter when ``config.trading`` is enabled,
    else None. ``"sim"`` URLs are found from the provider's (the simulator's) URLs. The key
    is ``credentials``, or read from the environment when None.

    Raises:
        CredentialError: the API key or secret is missing or its file unsafe.
        ValueError: a ``"sim"`` URL with no simulator URL to derive it from.
    """
    trading: KrakenTradingConfig | None = getattr(config, "trading", None)
    if trading is None or not trading.enabled:
        return None
    if credentials is None:
        credentials = load_credentials(VENUE)
    ws_url = sim_auth_url(provider.ws_url) if trading.url == "sim" else trading.url
    rest_url = provider.rest_url if trading.rest_url == "sim" else trading.rest_url
    if not rest_url:
        raise ValueError(
            "venues.kraken.trading.rest_url is 'sim' but the venue has no REST URL: "
            "pass the simulator's REST URL (rest_urls) or set trading.rest_url"
        )
    telemetry = getattr(provider, "telemetry", None)
    return KrakenOrderVenue(
        trading,
        credentials,
        ws_url=ws_url,
        rest_url=rest_url,
        telemetry=telemetry if isinstance(telemetry, Telemetry) else None,
    )


class KrakenOrderVenue:
    """Kraken's :class:`~tradegw.orders.venue.OrderVenue` (see the module docstring)."""

    def __init__(
        self,
        config: KrakenTradingConfig,
        credentials: VenueCredentials,
        *,
        ws_url: str,
        rest_url: str,
        telemetry: Telemetry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self._credentials = credentials
        self._telemetry = telemetry or Telemetry()
        self._counters = self._telemetry.counters
        self._rng = rng or random.Random()
        self._private: KrakenPrivateRest | None = None
        self._instruments: dict[str, OrderInstrument] = {}
        self._ids = OrderIds()
        self._on_report: ReportCallback | None = None
        self._on_gap: StreamGapCallback | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[bool]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._token: str | None = None
        self._ready = asyncio.Event()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._req_id = 0
        self._subscribe_req: int | None = None
        self._sequence: int | None = None
        self._connections = 0
        self._stopping = False
        # The shared listing of open orders (see query): the last one and its start time,
        # and the one being fetched.
        self._open_cache: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._open_inflight: asyncio.Future[dict[str, dict[str, Any]]] | None = None
        self._open_inflight_started = 0.0

    def __repr__(self) -> str:
        return f"KrakenOrderVenue(ws_url={self.ws_url!r}, rest_url={self.rest_url!r})"

    # ---- OrderVenue ----

    @property
    def name(self) -> str:
        """``kraken``."""
        return VENUE

    @property
    def query_grace_s(self) -> float:
        """``trading.query_grace_s``: Kraken has no window after which a late request is
        refused, so "not found" is believed only after a generous time in flight."""
        return self.config.query_grace_s

    @property
    def connected(self) -> bool:
        """Whether the private stream is subscribed (orders can be sent)."""
        return self._ready.is_set()

    def instrument(self, symbol: str) -> OrderInstrument | None:
        """Tick, lot and minimums of canonical ``symbol`` from AssetPairs (None before they
        are loaded, or for a pair Kraken does not list)."""
        return self._instruments.get(symbol)

    async def start(self, on_report: ReportCallback, on_stream_gap: StreamGapCallback) -> None:
        """Loads AssetPairs (within ``reference_budget_s``; retried in the background when it
        fails) and starts the private stream's task."""
        self._on_report = on_report
        self._on_gap = on_stream_gap
        self._stopping = False
        self._private = KrakenPrivateRest(
            self.rest_url, self._credentials, self.config.request_timeout_s
        )
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.config.reference_budget_s):
                await self._load_instruments()
        except (RestError, TimeoutError) as e:
            log.error("kraken orders: no AssetPairs yet (%s); retrying", one_line(e))
            self._tasks.append(loop.create_task(self._load_until_done(), name="kraken-pairs"))
        self._tasks.append(loop.create_task(self._stream(), name="kraken-private-stream"))

    async def stop(self) -> None:
        """Closes the private stream and the HTTP sessions; safe to call twice."""
        self._stopping = True
        if self._open_inflight is not None:
            self._open_inflight.cancel()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._drop_connection("stopped")
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._private is not None:
            await self._private.close()

    async def place(self, order: OrderRecord) -> PlaceResult:
        """``add_order`` once (see the module docstring for the answers)."""
        params: dict[str, Any] = {
            "order_type": order.type,
            "side": order.side,
            "order_qty": _number(order.qty),
            "symbol": order.venue_symbol,
            "time_in_force": order.time_in_force,
            "cl_ord_id": order.client_order_id,
        }
        if order.price is not None:
            params["limit_price"] = _number(order.price)
        if order.post_only:
            params["post_only"] = True
        if any(v is None for v in params.values()):
            return PlaceResult.rejected(f"not plain decimals: qty {order.qty}, price {order.price}")
        if not await self._wait_ready():
            return PlaceResult.unknown("kraken private stream not connected: nothing was sent")
        try:
            reply = await self._request("add_order", params)
        except _NotSent as e:
            return PlaceResult.unknown(f"{e}: nothing was sent")
        except TimeoutError:
            return PlaceResult.unknown(
                f"no answer to add_order within {self.config.request_timeout_s}s"
            )
        except ConnectionError as e:
            return PlaceResult.unknown(f"connection lost after add_order went out: {e}")
        if reply.get("success") is True:
            order_id = _result_field(reply, "order_id")
            if order_id is None:
                return PlaceResult.unknown("add_order succeeded without an order_id")
            self._ids.learn(order_id, order.client_order_id)
            return PlaceResult.accepted(order_id)
        return self._place_error(str(reply.get("error") or "add_order failed without error"))

    def _place_error(self, error: str) -> PlaceResult:
        if error.startswith("EOrder:Duplicate"):
            # Our id is in use by an open order: that order is ours (ids are never reused
            # while one is open), and the entry's query will find it.
            return PlaceResult.unknown(f"{error}: the cl_ord_id is in use by an open order")
        if error.startswith(("ESession:", "EAPI:")):
            # The token was refused: nothing was placed, but say unknown and let the entry
            # query and send again once a new token is in.
            self._counters.inc("order_token_refused", VENUE)
            self._restart_connection(error)
            return PlaceResult.unknown(f"{error}: token refused, reconnecting")
        if error.startswith(REJECTING_PREFIXES):
            return PlaceResult.rejected(error)
        return PlaceResult.unknown(error)

    async def cancel(self, order: OrderRecord) -> CancelResult:
        """``cancel_order`` by ``cl_ord_id``."""
        if not await self._wait_ready():
            return CancelResult.unknown("kraken private stream not connected: nothing was sent")
        try:
            reply = await self._request("cancel_order", {"cl_ord_id": [order.client_order_id]})
        except _NotSent as e:
            return CancelResult.unknown(str(e))
        except TimeoutError:
            return CancelResult.unknown("no answer to cancel_order")
        except ConnectionError as e:
            return CancelResult.unknown(f"connection lost after cancel_order went out: {e}")
        if reply.get("success") is True:
            return CancelResult.pending()
        error = str(reply.get("error") or "cancel_order failed without error")
        if error.startswith("EOrder:Unknown order"):
            return CancelResult.rejected(error)
        if error.startswith(("ESession:", "EAPI:")):
            self._restart_connection(error)
        return CancelResult.unknown(error)

    async def query(self, order: OrderRecord) -> VenueOrderStatus | None:
        """The order by ``cl_ord_id``: in a listing of the open orders taken after this call
        began, else ``ClosedOrders`` by ``cl_ord_id`` (in that order, so an order that closes
        in between is found in the second).

        The open listing is shared: every query waiting while one is being fetched is
        answered by the next one (a stream gap makes the entry query every open order at
        once; they cost one call, not one each, against Kraken's REST call counter).

        Raises:
            VenueUnavailable: a call failed or was refused.
        """
        cid = order.client_order_id
        listing = await self._open_listing(time.monotonic())
        found = _pick(listing.get(cid, {}), order.venue_order_id)
        method = "OpenOrders"
        if found is None:
            method = "ClosedOrders"
            result = await self._call(method, {"cl_ord_id": cid})
            closed = result.get("closed") if isinstance(result, dict) else None
            if not isinstance(closed, dict):
                raise VenueUnavailable("kraken ClosedOrders: no 'closed' in the answer")
            found = _pick(closed, order.venue_order_id)
        if found is None:
            return None
        order_id, entry = found
        self._ids.learn(order_id, cid)
        try:
            return status_of(cid, order_id, entry)
        except FrameError as e:
            raise VenueUnavailable(f"kraken {method}: {e}") from None

    async def _open_listing(self, since: float) -> dict[str, dict[str, Any]]:
        """Open orders by client id (``{cl_ord_id: {txid: order}}``) from an ``OpenOrders``
        call that began at ``since`` or later: the one in flight if it did, else the next."""
        while True:
            cached = self._open_cache
            if cached is not None and cached[0] >= since:
                return cached[1]
            inflight = self._open_inflight
            if inflight is None or inflight.done():
                started = self._open_inflight_started = time.monotonic()
                inflight = asyncio.ensure_future(self._fetch_open(started))
                self._open_inflight = inflight
                inflight.add_done_callback(self._open_fetched)
            elif self._open_inflight_started < since:
                # Began before we were asked: its answer may be older than what we need.
                with contextlib.suppress(Exception):
                    await asyncio.shield(inflight)
                continue
            return await asyncio.shield(inflight)

    async def _fetch_open(self, started: float) -> dict[str, dict[str, Any]]:
        result = await self._call("OpenOrders", {})
        listed = result.get("open") if isinstance(result, dict) else None
        if not isinstance(listed, dict):
            raise VenueUnavailable("kraken OpenOrders: no 'open' in the answer")
        by_client: dict[str, dict[str, Any]] = {}
        for order_id, entry in listed.items():
            cid = entry.get("cl_ord_id") if isinstance(entry, dict) else None
            if isinstance(cid, str) and cid:
                by_client.setdefault(cid, {})[order_id] = entry
        self._open_cache = (started, by_client)
        return by_client

    def _open_fetched(self, task: asyncio.Future[dict[str, dict[str, Any]]]) -> None:
        if self._open_inflight is task:
            self._open_inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here: a failure is the waiters' to raise

    async def fills(self, order: OrderRecord) -> list[VenueFill]:
        """Every fill of the order: its trade txids from ``QueryOrders``, then
        ``QueryTrades``, oldest first.

        Raises:
            VenueUnavailable: a call failed or was refused.
        """
        order_id = order.venue_order_id
        if order_id is None:
            status = await self.query(order)
            if status is None:
                return []
            order_id = status.venue_order_id
        listed = await self._call("QueryOrders", {"txid": order_id, "trades": "true"})
        entry = listed.get(order_id) if isinstance(listed, dict) else None
        if not isinstance(entry, dict):
            raise VenueUnavailable(f"kraken QueryOrders: {order_id} not in the answer")
        trade_ids = entry.get("trades") or []
        if not isinstance(trade_ids, list) or not all(isinstance(t, str) for t in trade_ids):
            raise VenueUnavailable("kraken QueryOrders: trades is not a list of txids")
        fee_asset = order.venue_symbol.partition("/")[2] or None
        out: list[VenueFill] = []
        for start in range(0, len(trade_ids), _TRADES_PER_QUERY):
            chunk = trade_ids[start : start + _TRADES_PER_QUERY]
            trades = await self._call("QueryTrades", {"txid": ",".join(chunk)})
            for trade_id in chunk:
                trade = trades.get(trade_id) if isinstance(trades, dict) else None
                if not isinstance(trade, dict):
                    raise VenueUnavailable(f"kraken QueryTrades: {trade_id} not in the answer")
                try:
                    out.append(fill_of(trade_id, trade, fee_asset))
                except FrameError as e:
                    raise VenueUnavailable(f"kraken QueryTrades: {e}") from None
        out.sort(key=lambda f: f.exchange_ts or 0)
        return out

    # ---- reference data ----

    async def _load_instruments(self) -> None:
        rest = RestClient(VENUE, self.rest_url, self._counters, RestPolicy())
        try:
            self._instruments = await fetch_order_instruments(rest)
        finally:
            await rest.close()
        log.info("kraken orders: trading rules of %d pairs loaded", len(self._instruments))

    async def _load_until_done(self) -> None:
        backoff = Backoff(self.config.reconnect, self._rng)
        while not self._instruments:
            await asyncio.sleep(backoff.next_delay())
            try:
                await self._load_instruments()
            except RestError as e:
                log.warning("kraken orders: AssetPairs failed again (%s)", one_line(e))

    # ---- private REST ----

    async def _call(self, method: str, params: Mapping[str, str]) -> Any:
        assert self._private is not None, "start() first"
        try:
            return await self._private.call(method, params)
        except KrakenApiError as e:
            raise VenueUnavailable(f"kraken {e}") from None

    # ---- the private stream ----

    async def _stream(self) -> None:
        """Keeps the authenticated connection up and subscribed until :meth:`stop`."""
        backoff = Backoff(self.config.reconnect, self._rng)
        while not self._stopping:
            try:
                await self._connect_and_read(backoff)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._counters.inc("order_stream_failures", VENUE)
                log.warning("kraken orders: private stream down (%s); reconnecting", one_line(e))
            finally:
                await self._drop_connection("private stream lost")
            if not self._stopping:
                await asyncio.sleep(backoff.next_delay())

    async def _connect_and_read(self, backoff: Backoff) -> None:
        assert self._private is not None
        result = await self._private.call("GetWebSocketsToken", urgent=True)
        token = result.get("token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise VenueUnavailable("kraken GetWebSocketsToken: no token in the answer")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientWSTimeout(ws_close=1.0)
        self._ws = ws = await self._session.ws_connect(
            self.ws_url, heartbeat=self.config.stale_after_s / 2, timeout=timeout
        )
        self._token = token
        self._sequence = None
        self._connections += 1
        self._subscribe_req = await self._send(
            "subscribe",
            {"channel": "executions", "snap_orders": True, "snap_trades": True},
        )
        while True:
            msg = await ws.receive(timeout=self.config.stale_after_s)
            if msg.type == aiohttp.WSMsgType.TEXT:
                self._on_frame(msg.data)
                if self._ready.is_set():
                    backoff.reset()
            elif msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING):
                continue
            else:
                raise ConnectionError(f"private stream closed ({msg.type.name})")

    async def _drop_connection(self, why: str) -> None:
        self._ready.clear()
        self._token = None
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(why))
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()

    def _restart_connection(self, why: str) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            log.warning("kraken orders: reconnecting the private stream (%s)", why)
            task = asyncio.get_running_loop().create_task(ws.close())
            self._closing.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._closing.discard)

    async def _wait_ready(self) -> bool:
        if self._ready.is_set():
            return True
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def _send(self, method: str, params: dict[str, Any]) -> int:
        """Sends one request with the token; its ``req_id``.

        Raises:
            _NotSent: no connection, or the write failed before anything left.
        """
        ws, token = self._ws, self._token
        if ws is None or token is None or ws.closed:
            raise _NotSent("kraken private stream not connected")
        self._req_id += 1
        body = {"method": method, "params": {**params, "token": token}, "req_id": self._req_id}
        try:
            await ws.send_str(orjson.dumps(body).decode())
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as e:
            raise _NotSent(f"kraken {method} not written: {type(e).__name__}") from None
        return self._req_id

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Sends a request and waits for its reply.

        Raises:
            _NotSent: nothing went out.
            TimeoutError: no reply within ``request_timeout_s``.
            ConnectionError: the connection went down after the request went out.
        """
        req_id = await self._send(method, params)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                return await fut
        finally:
            self._pending.pop(req_id, None)

    # ---- frames ----

    def _on_frame(self, text: str) -> None:
        try:
            msg = decode_exact(text)
            if not isinstance(msg, dict):
                raise FrameError("frame is not a JSON object")
            channel = msg.get("channel")
            if channel == "executions":
                self._on_executions(msg)
            elif "method" in msg:
                self._on_reply(msg)
            elif channel not in ("heartbeat", "status"):
                raise FrameError(f"unexpected channel {channel!r}")
        except FrameError as e:
            self._counters.inc("order_stream_malformed", VENUE)
            token = self._token
            if token:  # the venue never echoes it; if it ever did, it stays here
                text = text.replace(token, "***")
            self._telemetry.dlq.put(
                venue=VENUE, reason="malformed", raw=text, trace_id="", detail=str(e)
            )
            log.warning("kraken orders: private frame not usable: %s", e)

    def _on_reply(self, msg: dict[str, Any]) -> None:
        raw_id = msg.get("req_id")
        req_id = None if raw_id is None else as_int(raw_id, "req_id")
        if req_id is not None and req_id == self._subscribe_req:
            if msg.get("success") is not True:
                error = str(msg.get("error") or "subscription refused")
                self._counters.inc("order_stream_refused", VENUE)
                self._restart_connection(f"executions subscription refused: {error}")
            return
        fut = None if req_id is None else self._pending.get(req_id)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _on_executions(self, msg: dict[str, Any]) -> None:
        sequence = as_int(msg.get("sequence"), "sequence")
        snapshot = msg.get("type") == "snapshot"
        data = msg.get("data")
        if not isinstance(data, list):
            raise FrameError("executions without a data list")
        gap = False
        if snapshot:
            self._sequence = sequence
        elif self._sequence is not None and sequence <= self._sequence:
            self._counters.inc("order_stream_repeats", VENUE)
            return  # a message we have had already
        else:
            gap = self._sequence is not None and sequence != self._sequence + 1
            self._sequence = sequence
        on_report = self._on_report
        for entry in data:
            if not isinstance(entry, dict):
                raise FrameError("executions entry is not an object")
            report = report_of(entry, self._ids, snapshot=snapshot)
            if report is None:
                continue
            self._counters.inc("order_reports", VENUE)
            if on_report is not None:
                on_report(report)
        if snapshot and not self._ready.is_set():
            self._ready.set()
            if self._connections > 1:
                # Whatever happened while we were away: the entry asks REST.
                self._announce_gap("reconnected")
        if gap:
            self._announce_gap(f"sequence skipped to {sequence}")

    def _announce_gap(self, why: str) -> None:
        self._counters.inc("order_stream_gaps", VENUE)
        log.warning("kraken orders: private stream gap (%s); reconciling", why)
        if self._on_gap is not None:
            self._on_gap()


async def fetch_order_instruments(rest: RestClient) -> dict[str, OrderInstrument]:
    """``{canonical symbol: OrderInstrument}`` from AssetPairs: the price step is
    ``tick_size`` (``pair_decimals`` where an entry has none), the quantity step
    ``10**-lot_decimals``, the minimums ``ordermin`` and ``costmin``; the venue symbol is
    the v2 one (``BTC/USD``).

    Raises:
        RestError: the venue answered with errors or a body of the wrong shape
            (``RestUnavailable`` when it kept failing).
    """
    body: Any = await rest.get_json("/0/public/AssetPairs")
    if not isinstance(body, dict) or body.get("error") or not isinstance(body.get("result"), dict):
        raise RestError(f"AssetPairs answered {str(body)[:200]}")
    out: dict[str, OrderInstrument] = {}
    try:
        for info in body["result"].values():
            wsname = info.get("wsname")
            if not wsname:
                continue
            symbol = v2_symbol(wsname)
            tick = info.get("tick_size") or _step(int(info["pair_decimals"]))
            costmin = info.get("costmin")
            out[canonical_symbol(symbol)] = OrderInstrument.of(
                canonical_symbol(symbol),
                symbol,
                price_increment=str(tick),
                qty_increment=_step(int(info["lot_decimals"])),
                min_qty=str(info.get("ordermin") or "0"),
                min_notional=None if costmin is None else str(costmin),
            )
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise RestError(f"AssetPairs entry of the wrong shape: {e}") from e
    return out


def _step(decimals: int) -> str:
    """``10**-decimals`` as plain decimal text (``8`` -> ``0.00000001``)."""
    return format(Decimal(1).scaleb(-decimals), "f")


class _NotSent(Exception):
    """A request that never left: safe to call "nothing sent"."""


def _number(text: str) -> orjson.Fragment | None:
    """Decimal text as a JSON number of exactly that text; None when it is not plain."""
    if not _PLAIN_DECIMAL.fullmatch(text):
        return None
    return orjson.Fragment(text.encode())


def _result_field(reply: dict[str, Any], name: str) -> str | None:
    result = reply.get("result")
    value = result.get(name) if isinstance(result, dict) else None
    return value if isinstance(value, str) and value else None


def _pick(listed: dict[str, Any], venue_order_id: str | None) -> tuple[str, Any] | None:
    """The order a listing by client id means: the one with our txid when we know it, else
    the most recently opened (an id is reused only after its order closed)."""
    if not listed:
        return None
    if venue_order_id is not None and venue_order_id in listed:
        return venue_order_id, listed[venue_order_id]

    def opened(item: tuple[str, Any]) -> str:
        entry = item[1]
        return str(entry.get("opentm", "")) if isinstance(entry, dict) else ""

    return max(listed.items(), key=lambda item: _sortable(opened(item)))


def _sortable(seconds: str) -> tuple[int, str]:
    whole, _, frac = seconds.partition(".")
    return (int(whole) if whole.isdigit() else 0, frac.ljust(9, "0"))


if TYPE_CHECKING:

    def _is_an_order_venue(venue: KrakenOrderVenue) -> OrderVenue:
        return venue  # mypy proves here that the adapter satisfies the protocol


__all__ = [
    "REJECTING_PREFIXES",
    "KrakenOrderVenue",
    "fetch_order_instruments",
    "make_order_venue",
    "sim_auth_url",
]
