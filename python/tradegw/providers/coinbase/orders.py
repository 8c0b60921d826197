"""Coinbase Advanced Trade order entry: an :class:`~tradegw.orders.venue.OrderVenue` over the
REST order API and the ``user`` channel (protocols.md sections 2.1, 2.3, 2.4).

What it sends, each request with a fresh CDP JWT (:mod:`tradegw.providers.coinbase.signing`):

* ``place``: ``POST /api/v3/brokerage/orders`` with our ``client_order_id`` and one
  configuration: limit GTC ``limit_limit_gtc`` (``post_only`` here), limit IOC
  ``sor_limit_ioc``, limit FOK ``limit_limit_fok``, market IOC ``market_market_ioc`` and
  market FOK ``market_market_fok`` (``base_size``). ``success: false`` is REJECTED with the
  venue's failure reason; a 5xx, a timeout or a lost connection is UNKNOWN.
* **A duplicate ``client_order_id`` is not an error at Coinbase**: the venue creates nothing
  and answers with the order that has the id. So a success is only believed after comparing
  what came back with what was sent (product, side, configuration, sizes, price): another
  order under our id is REJECTED (nothing was created from this request, and never will
  be); our own order answered to a *re-send* may be one an earlier send made, in whatever
  state it has reached (filled, cancelled), so its state is read at once (``GET`` by the id
  the answer named) and, when it is past a fresh ACK, reported with its fills (listed, with
  their trade ids); if it cannot be read, the answer is UNKNOWN and the entry queries.
* ``query``: ``GET /orders/historical/{order_id}`` when the order's venue id is known;
  otherwise the venue has no client-id filter, so the product's orders since the order's
  creation are listed (``orders/historical/batch``, paged) and matched by client id. A
  "not found" is only believed :attr:`CoinbaseOrderVenue.query_grace_s` after a send: the
  JWT's lifetime plus the clock skew, after which the venue refuses the request as expired.
* ``fills``: ``GET /orders/historical/fills?order_ids=...`` (paged), oldest first, with
  ``trade_id``, ``price``, ``size``, ``commission`` (in the quote currency).
* ``cancel``: ``POST /orders/batch_cancel`` by venue order id (looked up by client id when
  unknown); a success is PENDING, the CANCELLED comes on the ``user`` channel.

The ``user`` channel (one WebSocket, ``"jwt"`` in each subscribe, plus ``heartbeats`` so
that a quiet account keeps its connection): ``sequence_num`` counts every frame of the
connection, so a skipped number means lost updates and :meth:`on_stream_gap` is called, as
it is after every (re)subscription once the open-orders snapshot is in. The snapshot is
never turned into fills. Updates restate an order's cumulative figures and carry no trade
id, so when ``cumulative_quantity`` grows the adapter lists the order's fills over REST and
reports each new one with the venue's ``trade_id``, size, price and commission — the same
ids ``fills`` gives, so the entry records each execution once whichever way it came. If
that listing fails, the update is reported without the fill and the entry recovers it
(its cumulative quantity says one is missing).

States (``status`` of the channel and of REST orders): ``PENDING``/``QUEUED`` before the
book, not reported; ``OPEN`` is ACK, or PARTIAL once ``cumulative_quantity`` > 0;
``CANCEL_QUEUED`` changes nothing; ``FILLED``, ``CANCELLED``, ``EXPIRED``; ``FAILED`` is
REJECTED. See :data:`STATE_TABLE`.

Nothing secret leaves this module: the key and secret stay :class:`Secret` values revealed
only by the signer, tokens go only into the ``Authorization`` header and the subscribe
messages, and no log line, exception or report carries a header or a message we sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson

from tradegw._core import TokenBucket
from tradegw.errors import ConfigError, VenueUnavailable, one_line
from tradegw.orders.credentials import VenueCredentials, load_credentials
from tradegw.orders.instrument import OrderInstrument
from tradegw.orders.venue import (
    CancelResult,
    PlaceOutcome,
    PlaceResult,
    ReportCallback,
    StreamGapCallback,
    VenueFill,
    VenueOrderStatus,
    VenueReport,
)
from tradegw.providers.base import RestClient, RestError
from tradegw.providers.coinbase.config import (
    CoinbaseRestPolicy,
    CoinbaseTradingConfig,
    CoinbaseVenueConfig,
)
from tradegw.providers.coinbase.rest import ProductInfo, fetch_products
from tradegw.providers.coinbase.signing import CdpSigner, jwt_host
from tradegw.schema import ExecState
from tradegw.telemetry import Counters

if TYPE_CHECKING:
    from tradegw.orders.record import OrderRecord
    from tradegw.orders.venue import OrderVenue
    from tradegw.providers.base import VenueConfig, VenueProvider

log = logging.getLogger("tradegw.orders.coinbase")

VENUE: Final = "coinbase"
V3: Final = "/api/v3/brokerage"
ORDERS_PATH: Final = f"{V3}/orders"
CANCEL_PATH: Final = f"{V3}/orders/batch_cancel"
LIST_PATH: Final = f"{V3}/orders/historical/batch"
FILLS_PATH: Final = f"{V3}/orders/historical/fills"
ORDER_PATH: Final = f"{V3}/orders/historical/"
_PAGE: Final = 250
_MAX_PAGES: Final = 200
"""A lookup by client id walks at most this many pages (50,000 orders) before it gives up
as "cannot say now" rather than "not found"."""
_SNAPSHOT_BATCH: Final = 50
_REMEMBERED: Final = 100_000
"""Orders whose stream figures are kept (oldest forgotten first)."""
_MAX_FRAME: Final = 10 * 1024 * 1024

STATE_TABLE: Final[Mapping[str, ExecState | None]] = {
    "PENDING": None,
    "QUEUED": None,
    "OPEN": ExecState.ACK,
    "CANCEL_QUEUED": None,
    "EDIT_QUEUED": None,
    "FILLED": ExecState.FILLED,
    "CANCELLED": ExecState.CANCELLED,
    "EXPIRED": ExecState.EXPIRED,
    "FAILED": ExecState.REJECTED,
}
"""Coinbase ``status`` -> the state reported (None: nothing to report). ``OPEN`` with a
positive ``cumulative_quantity`` is PARTIAL (:func:`map_state`)."""

_TERMINAL: Final = frozenset({"FILLED", "CANCELLED", "EXPIRED", "FAILED"})
_CONFIGURATIONS: Final = {
    ("limit", "GTC"): "limit_limit_gtc",
    ("limit", "IOC"): "sor_limit_ioc",
    ("limit", "FOK"): "limit_limit_fok",
    ("market", "IOC"): "market_market_ioc",
    ("market", "FOK"): "market_market_fok",
}


def map_state(status: str, cumulative_qty: str) -> ExecState | None:
    """The canonical state of a Coinbase order ``status`` (None: no change to report).

    Raises:
        ValueError: a status this adapter does not know.
    """
    key = status.upper()
    if key not in STATE_TABLE:
        raise ValueError(f"unknown coinbase order status {status!r:.40}")
    state = STATE_TABLE[key]
    if state is ExecState.ACK and _dec(cumulative_qty) > 0:
        return ExecState.PARTIAL
    return state


def _dec(text: object) -> Decimal:
    if text is None or text == "":
        return Decimal(0)
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"not a decimal: {str(text)[:40]!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {str(text)[:40]!r}")
    return value


def _text(value: Decimal) -> str:
    """Plain decimal text without trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _ns(stamp: object) -> int | None:
    """RFC 3339 text (nanoseconds allowed) as ns since the epoch; None when absent or odd."""
    if not isinstance(stamp, str) or len(stamp) < 20:
        return None
    head, _, rest = stamp.partition(".")
    fraction = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, rest = rest[:digits], rest[digits:]
    else:
        head, rest = stamp[:19], stamp[19:]
    try:
        when = datetime.fromisoformat(head + (rest.replace("Z", "+00:00") or "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + int((fraction + "000000000")[:9] or 0)


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _HttpAnswer:
    """One answer of the private API: status and body (None when not JSON)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


@dataclass(slots=True)
class _Lookup:
    """One order looked for by client id, created between ``start_ns`` and ``end_ns``."""

    cid: str
    start_ns: int
    end_ns: int
    future: asyncio.Future[dict[str, Any] | None]


@dataclass(slots=True)
class _Tracked:
    """What the ``user`` channel showed of one order."""

    seen_qty: Decimal
    """The largest cumulative quantity seen (or reported through fills)."""
    reported: set[str]
    """Trade ids already reported."""


class CoinbaseOrderVenue:
    """Coinbase Advanced Trade's order API as an :class:`OrderVenue` (module docstring)."""

    def __init__(
        self,
        config: CoinbaseTradingConfig,
        signer: CdpSigner,
        *,
        rest_url: str,
        user_ws_url: str,
        products_url: str | None = None,
        provider: VenueProvider | None = None,
        counters: Counters | None = None,
        name: str = VENUE,
    ) -> None:
        """``rest_url`` is the base of the order API, ``user_ws_url`` the ``user``
        channel's WebSocket, ``products_url`` the REST base that lists products (default
        ``rest_url``); ``provider`` is the venue's market-data adapter, whose products are
        used when it has loaded them."""
        self.config = config
        self._signer = signer
        self._rest_url = rest_url.rstrip("/")
        self._host = jwt_host(self._rest_url)
        self._ws_url = user_ws_url
        self._products_url = (products_url or rest_url).rstrip("/")
        self._provider = provider
        self._counters = counters or Counters()
        self._name = name
        self._bucket = TokenBucket(config.requests_per_s, max(1.0, config.requests_per_s))
        self._session: aiohttp.ClientSession | None = None
        self._products: dict[str, ProductInfo] = {}
        self._instruments: dict[str, OrderInstrument] = {}
        self._on_report: ReportCallback | None = None
        self._on_gap: StreamGapCallback | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._subscribed = asyncio.Event()
        self._order_ids: OrderedDict[str, str] = OrderedDict()
        """client order id -> venue order id, as answers and updates named them."""
        self._tracked: OrderedDict[str, _Tracked] = OrderedDict()
        self._pending: dict[str, list[_Lookup]] = {}
        """product -> lookups by client id waiting for the next listing."""
        self._walkers: dict[str, asyncio.Task[None]] = {}
        """product -> the task listing its orders now."""
        self._rng = random.Random()
        self.stats: dict[str, int] = {
            "stream_connects": 0,
            "stream_gaps": 0,
            "updates": 0,
            "fills_reported": 0,
            "fill_lookups_failed": 0,
            "other_order_answers": 0,
            "resend_answers": 0,
        }
        """What the adapter saw (tests and the ops view)."""

    # ---- OrderVenue ----

    @property
    def name(self) -> str:
        """The venue's registry name."""
        return self._name

    @property
    def query_grace_s(self) -> float:
        """The JWT's lifetime plus the clock skew: a request older than that is refused by
        the venue as expired, so a query's "not found" after it means "never"."""
        return self._signer.lifetime_s + self.config.clock_skew_s

    def instrument(self, symbol: str) -> OrderInstrument | None:
        """Tick, lot and limits of product ``symbol`` (canonical symbols are product ids)."""
        return self._instruments.get(symbol)

    async def start(self, on_report: ReportCallback, on_stream_gap: StreamGapCallback) -> None:
        """Loads the products (the provider's, or from REST) and starts the ``user``
        channel; waits up to ``stream_connect_wait_s`` for its first subscription."""
        await self.stop()
        self._on_report = on_report
        self._on_gap = on_stream_gap
        await self._load_products()
        loop = asyncio.get_running_loop()
        self._subscribed.clear()
        self._worker = loop.create_task(self._process_updates(), name="coinbase-user-updates")
        self._stream_task = loop.create_task(self._stream(), name="coinbase-user-stream")
        if self.config.stream_connect_wait_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.stream_connect_wait_s):
                    await self._subscribed.wait()

    async def stop(self) -> None:
        """Closes the ``user`` channel and the HTTP session; safe to call twice."""
        for task in (self._stream_task, self._worker):
            if task is not None:
                task.cancel()
        for task in (self._stream_task, self._worker):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._stream_task = self._worker = None
        walkers = list(self._walkers.values())
        for walker in walkers:
            walker.cancel()
        for walker in walkers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await walker
        self._walkers.clear()
        for lookups in self._pending.values():
            for lookup in lookups:
                lookup.future.cancel()
        self._pending.clear()
        self._updates = asyncio.Queue(maxsize=10_000)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._on_report = self._on_gap = None

    async def place(self, order: OrderRecord) -> PlaceResult:
        """Sends the order once (see the module docstring for how the answer is read)."""
        body = self._order_body(order)
        if isinstance(body, str):
            return PlaceResult.rejected(body)  # nothing sent
        try:
            answer = await self._request("POST", ORDERS_PATH, body=body)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            return PlaceResult.unknown(f"no answer: {one_line(e)}")
        if answer.status >= 500:
            return PlaceResult.unknown(f"HTTP {answer.status}: the order may exist")
        if answer.status != 200 or not isinstance(answer.body, dict):
            return PlaceResult.rejected(_refusal(answer))
        placed = self._read_placed(order, body, answer.body)
        if placed.outcome is PlaceOutcome.ACCEPTED and order.send_attempts > 1:
            return await self._confirm_resend(order, placed)
        return placed

    async def cancel(self, order: OrderRecord) -> CancelResult:
        """Cancels by venue order id (found by client id if unknown); PENDING on success."""
        try:
            order_id = await self._venue_order_id(order)
        except VenueUnavailable as e:
            return CancelResult.unknown(one_line(e))
        if order_id is None:
            return CancelResult.rejected("UNKNOWN_CANCEL_ORDER: coinbase has no such order")
        try:
            answer = await self._request("POST", CANCEL_PATH, body={"order_ids": [order_id]})
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            return CancelResult.unknown(f"no answer: {one_line(e)}")
        if answer.status >= 500:
            return CancelResult.unknown(f"HTTP {answer.status}")
        results = answer.body.get("results") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(results, list) or not results:
            return CancelResult.rejected(_refusal(answer))
        first = results[0] if isinstance(results[0], dict) else {}
        if first.get("success") is True:
            return CancelResult.pending()
        return CancelResult.rejected(str(first.get("failure_reason") or "cancel refused")[:200])

    async def query(self, order: OrderRecord) -> VenueOrderStatus | None:
        """The venue's view of the order; None only when it has none (see the module
        docstring). Raises :class:`VenueUnavailable` when it cannot say now."""
        raw = await self._find(order)
        if raw is None:
            return None
        try:
            return self._status(order.client_order_id, raw)
        except (KeyError, TypeError, ValueError) as e:
            raise VenueUnavailable(f"coinbase order of the wrong shape: {e}") from None

    async def fills(self, order: OrderRecord) -> list[VenueFill]:
        """Every fill of the order, oldest first. Raises :class:`VenueUnavailable` when
        the venue cannot say now."""
        order_id = await self._venue_order_id(order)
        if order_id is None:
            return []
        return [self._fill(raw) for raw in await self._list_fills(order_id)]

    # ---- requests ----

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> _HttpAnswer:
        """One signed request, never retried. Network errors and timeouts propagate."""
        wait = self._bucket.time_until(1.0)
        if wait > 0:
            # Waited before sending: a request is never refused for our own pace.
            await asyncio.sleep(wait)
        self._bucket.try_acquire(1.0)
        token = self._signer.rest_jwt(method, self._host, path)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        data = None if body is None else orjson.dumps(body)
        session = self._http()
        started = time.perf_counter()
        async with session.request(
            method, self._rest_url + path, data=data, params=params, headers=headers
        ) as resp:
            raw = await resp.read()
            self._counters.inc("order_requests", VENUE, str(resp.status))
        # The method, path and status only: headers and bodies carry the token and ids.
        log.debug(
            "coinbase %s %s -> %d in %.1f ms",
            method,
            path,
            resp.status,
            (time.perf_counter() - started) * 1e3,
        )
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        return _HttpAnswer(resp.status, parsed)

    async def _get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        """A GET whose answer must be 200 JSON (404 gives None); anything else is
        :class:`VenueUnavailable`."""
        try:
            answer = await self._request("GET", path, params=params)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise VenueUnavailable(f"coinbase {path}: {one_line(e)}") from None
        if answer.status == 404:
            return None
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise VenueUnavailable(f"coinbase {path}: {_refusal(answer)}")
        return answer.body

    # ---- placing ----

    def _order_body(self, order: OrderRecord) -> dict[str, Any] | str:
        """The create-order body, or why Coinbase cannot take the order (nothing sent)."""
        kind = _CONFIGURATIONS.get((order.type, order.time_in_force))
        if kind is None:
            return f"coinbase has no {order.time_in_force} {order.type} order"
        if order.post_only and kind != "limit_limit_gtc":
            return "coinbase takes post_only only on a GTC limit order"
        fields: dict[str, Any] = {"base_size": order.qty}
        if order.type == "limit":
            fields["limit_price"] = order.price
        if kind == "limit_limit_gtc":
            fields["post_only"] = order.post_only
        return {
            "client_order_id": order.client_order_id,
            "product_id": order.venue_symbol,
            "side": order.side.upper(),
            "order_configuration": {kind: fields},
        }

    def _read_placed(
        self, order: OrderRecord, sent: dict[str, Any], body: dict[str, Any]
    ) -> PlaceResult:
        if body.get("success") is not True:
            error = body.get("error_response")
            if not isinstance(error, dict):
                return PlaceResult.unknown("answer without success or error_response")
            reason = error.get("new_order_failure_reason") or error.get("error") or "refused"
            message = error.get("message") or error.get("error_details") or ""
            return PlaceResult.rejected(f"{reason}: {message}"[:300])
        success = body.get("success_response")
        if not isinstance(success, dict):
            success = {}
        order_id = success.get("order_id") or body.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            return PlaceResult.unknown("success without an order_id")
        differs = _differences(sent, success, body.get("order_configuration"))
        if differs:
            self.stats["other_order_answers"] += 1
            log.warning(
                "order %s: coinbase answered with another order under this client id "
                "(%s differ); it created nothing",
                order.client_order_id,
                ", ".join(differs),
            )
            return PlaceResult.rejected(
                f"client_order_id in use at coinbase by order {order_id} "
                f"({', '.join(differs)} differ); coinbase created nothing"
            )
        self._remember_id(order.client_order_id, order_id)
        return PlaceResult.accepted(order_id)

    async def _confirm_resend(self, order: OrderRecord, placed: PlaceResult) -> PlaceResult:
        """A re-send's success may be Coinbase answering with the order an earlier send
        made, in whatever state it has reached (filled, cancelled): its state is read now
        and reported when it is past a fresh ACK, so the entry never takes it for a new
        working order. If it cannot be read, the answer is UNKNOWN (queried later)."""
        order_id = placed.venue_order_id
        assert order_id is not None
        self.stats["resend_answers"] += 1
        try:
            body = await self._get(ORDER_PATH + order_id)
            raw = None if body is None else body.get("order")
            if not isinstance(raw, dict) or raw.get("client_order_id") != order.client_order_id:
                raise VenueUnavailable("the order it named is not readable")
            status = self._status(order.client_order_id, raw)
        except (VenueUnavailable, KeyError, TypeError, ValueError) as e:
            return PlaceResult.unknown(
                f"re-send answered with order {order_id}, whose state cannot be read now "
                f"({one_line(e)}); coinbase returns the existing order for a known id"
            )
        if status.state is ExecState.ACK and _dec(status.filled_qty) == 0:
            return placed  # plainly working: what follows comes on the user channel
        if _dec(status.filled_qty) > 0:
            # Its fills, with their trade ids, before its state: the entry may be in the
            # middle of reconciling this very order and would not look for them again.
            tracked = self._track(order_id)
            try:
                await self._report_fills(order.client_order_id, order_id, tracked, tries=1)
            except VenueUnavailable as e:
                return PlaceResult.unknown(
                    f"re-send answered with order {order_id}, whose fills cannot be listed "
                    f"now ({one_line(e)})"
                )
        self._report(
            VenueReport(
                client_order_id=order.client_order_id,
                state=status.state,
                filled_qty=status.filled_qty,
                venue_order_id=order_id,
                reason=status.reason,
                exchange_ts=status.exchange_ts,
            )
        )
        return placed

    # ---- lookups ----

    def _remember_id(self, cid: str, order_id: str) -> None:
        self._order_ids[cid] = order_id
        self._order_ids.move_to_end(cid)
        while len(self._order_ids) > _REMEMBERED:
            self._order_ids.popitem(last=False)

    async def _venue_order_id(self, order: OrderRecord) -> str | None:
        known = order.venue_order_id or self._order_ids.get(order.client_order_id)
        if known is not None:
            return known
        raw = await self._find(order)
        return None if raw is None else str(raw["order_id"])

    async def _find(self, order: OrderRecord) -> dict[str, Any] | None:
        """The venue's order object of ``order``, or None when it has none."""
        cid = order.client_order_id
        known = order.venue_order_id or self._order_ids.get(cid)
        if known is not None:
            body = await self._get(ORDER_PATH + known)
            raw = None if body is None else body.get("order")
            if isinstance(raw, dict) and raw.get("client_order_id") == cid:
                return raw
            # An id the venue gave us and no longer knows: look by client id instead.
        # No client-id filter exists: list the product's orders from when this one was made
        # until its last request could still have arrived (a later one is refused as
        # expired), and match the client id. Lookups of one product share one listing
        # (after a restart there are many at once): each waits for the next walk, which
        # covers every waiting lookup's window.
        skew_ns = int(self.config.clock_skew_s * 1e9) + 1_000_000_000
        sent_ns = order.last_sent_ns or time.time_ns()
        lookup = _Lookup(
            cid,
            order.created_ns - skew_ns,
            sent_ns + int(self._signer.lifetime_s * 1e9) + skew_ns,
            asyncio.get_running_loop().create_future(),
        )
        product = order.venue_symbol
        self._pending.setdefault(product, []).append(lookup)
        walker = self._walkers.get(product)
        if walker is None or walker.done():
            self._walkers[product] = asyncio.get_running_loop().create_task(
                self._walker(product), name=f"coinbase-lookup-{product}"
            )
        return await lookup.future

    async def _walker(self, product: str) -> None:
        """Answers the product's waiting lookups, one listing for all that wait."""
        try:
            while self._pending.get(product):
                batch = [x for x in self._pending.pop(product) if not x.future.done()]
                if not batch:
                    continue
                try:
                    found = await self._walk(
                        product,
                        min(x.start_ns for x in batch),
                        max(x.end_ns for x in batch),
                        {x.cid for x in batch},
                    )
                except VenueUnavailable as e:
                    for x in batch:
                        if not x.future.done():
                            x.future.set_exception(VenueUnavailable(str(e)))
                    continue
                for x in batch:
                    if not x.future.done():
                        x.future.set_result(found.get(x.cid))
        finally:
            if self._walkers.get(product) is asyncio.current_task():
                del self._walkers[product]

    async def _walk(
        self, product: str, start_ns: int, end_ns: int, wanted: set[str]
    ) -> dict[str, dict[str, Any]]:
        """The orders of ``wanted`` among ``product``'s orders created in the window
        (remembering the ids of every order seen)."""
        params = [
            ("product_ids", product),
            ("start_date", _rfc3339(start_ns)),
            ("end_date", _rfc3339(end_ns + 1_000_000_000)),  # whole seconds, rounded up
            ("limit", str(_PAGE)),
        ]
        found: dict[str, dict[str, Any]] = {}
        cursor = ""
        for _ in range(_MAX_PAGES):
            page = params + ([("cursor", cursor)] if cursor else [])
            body = await self._get(LIST_PATH, page)
            orders = None if body is None else body.get("orders")
            if body is None or not isinstance(orders, list):
                raise VenueUnavailable("coinbase list orders: no orders list")
            for raw in orders:
                if not isinstance(raw, dict):
                    continue
                other, order_id = raw.get("client_order_id"), raw.get("order_id")
                if isinstance(other, str) and other and isinstance(order_id, str):
                    self._remember_id(other, order_id)
                    if other in wanted:
                        found[other] = raw
            cursor = str(body.get("cursor") or "")
            if len(found) == len(wanted) or not body.get("has_next") or not cursor:
                return found
        raise VenueUnavailable(f"coinbase list orders: more than {_MAX_PAGES} pages")

    async def _list_fills(self, order_id: str) -> list[dict[str, Any]]:
        """Every fill of one venue order, oldest first."""
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            params = [("order_ids", order_id), ("limit", str(_PAGE))]
            if cursor:
                params.append(("cursor", cursor))
            body = await self._get(FILLS_PATH, params)
            if body is None or not isinstance(body.get("fills"), list):
                raise VenueUnavailable("coinbase list fills: no fills list")
            out.extend(f for f in body["fills"] if isinstance(f, dict))
            cursor = str(body.get("cursor") or "")
            if not cursor:
                break
        else:
            raise VenueUnavailable(f"coinbase list fills: more than {_MAX_PAGES} pages")
        out.sort(key=lambda f: _ns(f.get("sequence_timestamp") or f.get("trade_time")) or 0)
        return out

    def _status(self, cid: str, raw: Mapping[str, Any]) -> VenueOrderStatus:
        status = str(raw["status"]).upper()
        filled = _text(_dec(raw.get("filled_size")))
        state = map_state(status, filled) if status in STATE_TABLE else None
        if state is None:
            if status in ("PENDING", "QUEUED", "CANCEL_QUEUED", "EDIT_QUEUED"):
                # At the venue and working (or about to): not yet anything else.
                state = ExecState.PARTIAL if _dec(filled) > 0 else ExecState.ACK
            else:
                raise ValueError(f"status {status!r:.40} says nothing")
        reason = None
        if state is ExecState.REJECTED:
            reason = str(raw.get("reject_message") or raw.get("reject_reason") or "FAILED")
        elif state is ExecState.CANCELLED:
            reason = str(raw.get("cancel_message") or "cancelled")
        elif state is ExecState.EXPIRED:
            reason = f"expired ({raw.get('time_in_force', '')})"
        return VenueOrderStatus(
            client_order_id=cid,
            venue_order_id=str(raw["order_id"]),
            state=state,
            filled_qty=filled,
            reason=reason,
            exchange_ts=_ns(raw.get("last_fill_time")) or _ns(raw.get("created_time")),
        )

    def _fill(self, raw: Mapping[str, Any]) -> VenueFill:
        product = self._products.get(str(raw.get("product_id")))
        return VenueFill(
            venue_exec_id=str(raw["trade_id"]),
            qty=_text(_dec(raw["size"])),
            price=_text(_dec(raw["price"])),
            fee=_text(_dec(raw.get("commission"))),
            fee_asset=product.quote_currency or None if product is not None else None,
            exchange_ts=_ns(raw.get("trade_time")),
        )

    # ---- reference data ----

    async def _load_products(self) -> None:
        products = getattr(self._provider, "products", None) or {}
        if not products:
            rest = RestClient(VENUE, self._products_url, self._counters, CoinbaseRestPolicy())
            try:
                products = await fetch_products(rest)
            except RestError as e:
                # Without reference data no order can be checked: every submit is refused
                # (no instrument) until a restart loads them.
                log.error("coinbase orders: products not loaded: %s", one_line(e))
                products = {}
            finally:
                await rest.close()
        self._products = dict(products)
        self._instruments = {}
        for product_id, info in self._products.items():
            if info.trading_disabled or info.status not in ("online", ""):
                continue
            try:
                self._instruments[product_id] = OrderInstrument.of(
                    product_id,
                    product_id,
                    price_increment=info.price_increment,
                    qty_increment=info.base_increment,
                    min_qty=info.base_min_size or "0",
                    min_notional=info.quote_min_size or None,
                    max_qty=info.base_max_size or None,
                )
            except ValueError as e:
                log.warning("coinbase orders: %s left out: %s", product_id, e)

    # ---- the user channel ----

    async def _stream(self) -> None:
        policy = self.config.reconnect
        delay = policy.initial_s
        while True:
            try:
                await self._connect_once()
                delay = policy.initial_s
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("coinbase user channel: %s", one_line(e))
            self._subscribed.clear()
            wait = delay * (1 + self._rng.uniform(-policy.jitter, policy.jitter))
            await asyncio.sleep(wait)
            delay = min(delay * policy.multiplier, policy.max_s)

    async def _connect_once(self) -> None:
        session = self._http()
        async with session.ws_connect(self._ws_url, max_msg_size=_MAX_FRAME, heartbeat=30.0) as ws:
            self.stats["stream_connects"] += 1
            # Heartbeats keep a quiet account's connection open; a fresh token per message.
            # Text frames: the venue reads JSON from text frames only.
            for channel in ("heartbeats", "user"):
                request = {"type": "subscribe", "channel": channel, "jwt": self._signer.ws_jwt()}
                await ws.send_str(orjson.dumps(request).decode())
            reader = _UserFrames(self)
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    await reader.frame(msg.data)
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    break
            log.warning("coinbase user channel closed; reconnecting")

    def _subscribed_again(self) -> None:
        """The snapshot is in: updates missed while not subscribed are looked for."""
        self._subscribed.set()
        self._gap("subscribed")

    def _gap(self, why: str) -> None:
        self.stats["stream_gaps"] += 1
        log.info("coinbase user channel: %s; reconciling open orders", why)
        if self._on_gap is not None:
            self._on_gap()

    def _baseline(self, raw: Mapping[str, Any]) -> None:
        """A snapshot's order: its figures are where updates start from (never fills)."""
        order_id = str(raw.get("order_id") or "")
        if not order_id:
            return
        cid = str(raw.get("client_order_id") or "")
        if cid:
            self._remember_id(cid, order_id)
        tracked = self._track(order_id)
        tracked.seen_qty = max(tracked.seen_qty, _dec(raw.get("cumulative_quantity")))

    def _track(self, order_id: str) -> _Tracked:
        tracked = self._tracked.get(order_id)
        if tracked is None:
            tracked = self._tracked[order_id] = _Tracked(Decimal(0), set())
            while len(self._tracked) > _REMEMBERED:
                self._tracked.popitem(last=False)
        return tracked

    async def _process_updates(self) -> None:
        """Applies the channel's updates one at a time, in the order they came."""
        while True:
            raw = await self._updates.get()
            try:
                await self._apply_update(raw)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._counters.inc("user_update_errors", VENUE)
                log.error("coinbase user update not applied: %s", one_line(e))

    async def _apply_update(self, raw: Mapping[str, Any]) -> None:
        self.stats["updates"] += 1
        cid = str(raw.get("client_order_id") or "")
        order_id = str(raw.get("order_id") or "")
        if not cid or not order_id:
            return  # not an order this gateway placed
        self._remember_id(cid, order_id)
        status = str(raw.get("status") or "").upper()
        cumulative = _dec(raw.get("cumulative_quantity"))
        state = map_state(status, _text(cumulative))
        tracked = self._track(order_id)
        filled = cumulative
        if cumulative > tracked.seen_qty:
            try:
                filled = max(filled, await self._report_fills(cid, order_id, tracked))
            except VenueUnavailable as e:
                # Reported without the fill: the entry sees its quantity is short and
                # recovers the fill over REST.
                self.stats["fill_lookups_failed"] += 1
                log.info("order %s: fills not listed now (%s); the entry recovers them", cid, e)
            tracked.seen_qty = max(tracked.seen_qty, cumulative)
        if state is not None:
            self._report(
                VenueReport(
                    client_order_id=cid,
                    state=state,
                    filled_qty=_text(filled),
                    venue_order_id=order_id,
                    reason=_update_reason(state, raw),
                    exchange_ts=None,
                )
            )
        if status in _TERMINAL:
            self._tracked.pop(order_id, None)

    async def _report_fills(
        self, cid: str, order_id: str, tracked: _Tracked, *, tries: int = 3
    ) -> Decimal:
        """Reports the order's fills not reported yet, with the venue's trade ids; returns
        the cumulative quantity they add up to.

        The listing is tried ``tries`` times (a moment apart): a fill the channel announced
        is best reported now, since the entry recovers a missing one only when it next
        reconciles the order. Raises :class:`VenueUnavailable` when every try failed.
        """
        for attempt in range(tries):
            try:
                fills = await self._list_fills(order_id)
                break
            except VenueUnavailable:
                if attempt + 1 == tries:
                    raise
                await asyncio.sleep(0.1 * 2**attempt)
        else:  # pragma: no cover - tries >= 1
            return Decimal(0)
        running = Decimal(0)
        for raw in fills:
            fill = self._fill(raw)
            running += _dec(fill.qty)
            if fill.venue_exec_id in tracked.reported:
                continue
            tracked.reported.add(fill.venue_exec_id)
            self.stats["fills_reported"] += 1
            self._report(
                VenueReport(
                    client_order_id=cid,
                    state=ExecState.PARTIAL,  # the entry makes it FILLED by quantity
                    filled_qty=_text(running),
                    venue_order_id=order_id,
                    last_fill_qty=fill.qty,
                    last_fill_price=fill.price,
                    fee=fill.fee,
                    fee_asset=fill.fee_asset,
                    venue_exec_id=fill.venue_exec_id,
                    exchange_ts=fill.exchange_ts,
                )
            )
        tracked.seen_qty = max(tracked.seen_qty, running)
        return running

    def _report(self, report: VenueReport) -> None:
        if self._on_report is not None:
            self._on_report(report)


class _UserFrames:
    """Reads one connection's frames: ``sequence_num`` continuity, the snapshot, updates."""

    def __init__(self, venue: CoinbaseOrderVenue) -> None:
        self._venue = venue
        self._last_seq: int | None = None
        self._in_snapshot = True

    async def frame(self, data: str | bytes) -> None:
        venue = self._venue
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            venue._counters.inc("user_bad_frames", VENUE)
            return
        if not isinstance(msg, dict):
            return
        if msg.get("type") == "error":
            # The venue's words only ("authentication failure"); our message is not echoed.
            raise ConnectionError(f"coinbase refused: {str(msg.get('message'))[:100]}")
        seq = msg.get("sequence_num")
        log.debug("coinbase user channel: %.40s frame %s", msg.get("channel"), seq)
        if isinstance(seq, int) and not isinstance(seq, bool):
            last = self._last_seq
            if last is not None and seq <= last:
                venue._counters.inc("user_duplicate_frames", VENUE)
                return
            self._last_seq = seq
            if last is not None and seq != last + 1:
                venue._gap(f"sequence_num {seq} after {last}")
        if msg.get("channel") != "user":
            return
        events = msg.get("events")
        if not isinstance(events, list):
            return
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("orders"), list):
                continue
            orders = [o for o in event["orders"] if isinstance(o, dict)]
            if event.get("type") == "snapshot":
                for raw in orders:
                    venue._baseline(raw)
                if len(event["orders"]) < _SNAPSHOT_BATCH and self._in_snapshot:
                    self._in_snapshot = False
                    venue._subscribed_again()
            else:
                for raw in orders:
                    await venue._updates.put(raw)


def _update_reason(state: ExecState, raw: Mapping[str, Any]) -> str | None:
    if state is ExecState.CANCELLED:
        return str(raw.get("cancel_reason") or "cancelled")
    if state is ExecState.REJECTED:
        return str(raw.get("reject_reason") or "FAILED")
    if state is ExecState.EXPIRED:
        return f"expired ({raw.get('time_in_force', '')})"
    return None


def _refusal(answer: _HttpAnswer) -> str:
    """An HTTP answer that is not a success, in the venue's words (no request echoed)."""
    body = answer.body
    if isinstance(body, dict):
        words = body.get("message") or body.get("error") or ""
        return f"HTTP {answer.status} {body.get('error') or ''!s}: {str(words)[:200]}"
    if answer.status == 401:
        return "HTTP 401 Unauthorized: coinbase refused the credentials or the token"
    return f"HTTP {answer.status}"


def _differences(
    sent: Mapping[str, Any], success: Mapping[str, Any], configuration: object
) -> list[str]:
    """Fields in which the order the venue answered with is not the one sent."""
    out = []
    for name in ("client_order_id", "product_id", "side"):
        got = success.get(name)
        if got is not None and got != sent[name]:
            out.append(name)
    if isinstance(configuration, dict) and configuration:
        ((kind, ours),) = sent["order_configuration"].items()
        theirs = configuration.get(kind)
        if not isinstance(theirs, dict):
            out.append("order_configuration")
        else:
            for name, value in ours.items():
                got = theirs.get(name)
                if got is None:
                    continue
                if isinstance(value, bool) or isinstance(got, bool):
                    same = got == value
                else:
                    try:
                        same = _dec(got) == _dec(value)
                    except ValueError:
                        same = False
                if not same:
                    out.append(name)
    return out


def make_order_venue(
    config: VenueConfig,
    provider: VenueProvider,
    *,
    credentials: VenueCredentials | None = None,
) -> CoinbaseOrderVenue | None:
    """The registry's factory: Coinbase's order venue when ``config`` has an enabled
    ``trading`` section, else None. The key is ``credentials``, or read from the
    environment when None.

    Raises:
        CredentialError: the key or secret is missing, unsafe or not a CDP key.
        ConfigError: no REST URL to send orders to (``trading.url`` is ``"sim"`` and the
            market data's REST URL is not known).
    """
    if not isinstance(config, CoinbaseVenueConfig):
        raise TypeError(f"a coinbase order venue needs a CoinbaseVenueConfig, not {type(config)}")
    trading = config.trading
    if trading is None or not trading.enabled:
        return None
    rest_url = provider.rest_url if trading.url == "sim" else trading.url
    ws_url = provider.ws_url if trading.user_ws_url == "sim" else trading.user_ws_url
    if not rest_url or rest_url == "sim" or not ws_url or ws_url == "sim":
        raise ConfigError(
            "venues.coinbase.trading: no order endpoint: set trading.url and "
            "trading.user_ws_url, or run against the simulator (its URLs are passed in)"
        )
    creds = credentials if credentials is not None else load_credentials(VENUE)
    signer = CdpSigner(creds.api_key, creds.api_secret, lifetime_s=trading.jwt_lifetime_s)
    counters = getattr(provider, "_counters", None)
    return CoinbaseOrderVenue(
        trading,
        signer,
        rest_url=rest_url,
        user_ws_url=ws_url,
        products_url=provider.rest_url or rest_url,
        provider=provider,
        counters=counters if isinstance(counters, Counters) else None,
    )


if TYPE_CHECKING:

    def _is_an_order_venue(venue: CoinbaseOrderVenue) -> OrderVenue:
        return venue  # mypy proves here that the adapter satisfies the protocol


__all__ = [
    "STATE_TABLE",
    "CoinbaseOrderVenue",
    "make_order_venue",
    "map_state",
]
