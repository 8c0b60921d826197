"""The gateway: providers → conductor (merges) → dispatcher → consumers, in one process on
one event loop; orders the other way, through the order entry.

>>> async with Gateway(config, urls={"kraken": ws_url}) as gw:
...     async for event in gw.subscribe(venues=["kraken"], symbols=["BTC-USD"]):
...         ...
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tradegw.bus.control import MERGED, ControlBus
from tradegw.bus.messages import Ack, ControlMessage
from tradegw.bus.server import ControlServer
from tradegw.bus.store import ControlStore
from tradegw.conductor import Conductor, MergeSpec, new_merge_id
from tradegw.config import GatewayConfig
from tradegw.config.models import TradingMode
from tradegw.consumers.subscription import Subscription
from tradegw.dispatch import Dispatcher
from tradegw.orders.credentials import VenueCredentials
from tradegw.orders.entry import OrderEntry
from tradegw.orders.handle import OrderHandle
from tradegw.orders.ledger import OrderLedger, ReportRetention
from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.requests import OrderRequest
from tradegw.orders.venue import OrderVenue
from tradegw.providers.base import VenueProvider
from tradegw.providers.registry import order_venue_factory, provider_class
from tradegw.schema import Event
from tradegw.telemetry import Telemetry

if TYPE_CHECKING:
    from tradegw.natsbus.bridge import NatsBridge
    from tradegw.natsbus.shard import Shard
    from tradegw.telemetry.ops_server import OpsServer

log = logging.getLogger("tradegw.gateway")

EventCallback = Callable[[Event], Awaitable[None] | None]


class Gateway:
    """Owns the telemetry, the dispatcher, the conductor in front of it (which runs the
    merges) and one provider per enabled venue (built from the venue registry by name).

    ``urls`` and ``rest_urls`` override venue WebSocket and REST base URLs (the embedded
    default config says ``"sim"``, and whoever starts the simulator knows its ports).
    ``credentials`` are order keys by venue, used instead of the environment's (the keys
    generated for a run's own simulators, :mod:`tradegw.orders.sim_keys`).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        urls: dict[str, str] | None = None,
        rest_urls: dict[str, str] | None = None,
        telemetry: Telemetry | None = None,
        credentials: Mapping[str, VenueCredentials] | None = None,
    ) -> None:
        self.config = config
        self.telemetry = telemetry or Telemetry.from_config(config.telemetry)
        self.dispatcher = Dispatcher(config.dispatcher, self.telemetry)
        self.conductor = Conductor(self.dispatcher, self.telemetry)
        self.providers: dict[str, VenueProvider] = {}
        urls = urls or {}
        for venue, section in config.venues.configured():
            if not section.enabled:
                continue
            url = urls.get(venue, section.ws_url)
            if url == "sim":
                raise ValueError(
                    f"venues.{venue}.ws_url is 'sim': start the simulator and pass its URL"
                )
            rest = (rest_urls or {}).get(venue, section.rest_url)
            self.providers[venue] = provider_class(venue)(
                section,
                self.conductor,
                self.telemetry,
                ws_url=url,
                rest_url="" if rest == "sim" else rest,
            )
        self._tasks: list[asyncio.Task[None]] = []
        self._callback_tasks: list[asyncio.Task[None]] = []
        # Consumers by name: what the control bus subscribes and a restart restores.
        self._consumers: dict[str, Subscription] = {}
        self.trading_mode: TradingMode = config.control.trading_mode
        """The trading switch every order passes (set by ``SetTradingMode``)."""
        self.control_store = ControlStore(config.control.state_path)
        self.control_bus = ControlBus(self, self.control_store, self.telemetry.ops)
        self.control_server: ControlServer | None = None
        self.order_ledger = OrderLedger(
            config.orders.ledger_path, retention=ReportRetention.of(config.orders)
        )
        """Every order and fill (``orders.ledger_path``)."""
        self.order_entry = OrderEntry(
            self.order_ledger,
            self.conductor.publish,
            trading_mode=lambda: self.trading_mode,
            config=config.orders,
        )
        """The one place every order passes; ExecReports go out through the conductor."""
        self.ops_server: OpsServer | None = None
        """``/metrics`` and ``/healthz`` while running, when ``ops.port`` is set."""
        self.nats: NatsBridge | None = None
        """The NATS sink, snapshot and control services, when ``sinks.nats.enabled``."""
        if config.sinks.nats.enabled:
            # Imported here: a gateway without NATS never loads the client.
            from tradegw.natsbus.bridge import NatsBridge

            self.nats = NatsBridge(self, config.sinks.nats)
        self.shard: Shard | None = None
        """This process's claims as one shard of several (``shard:``; docs/nats.md)."""
        if config.shard is not None and self.nats is not None:
            from tradegw.natsbus.shard import Shard

            self.shard = Shard(self, self.nats, config.shard)
        for venue, provider in self.providers.items():
            # A venue with an enabled ``trading`` section gets its order adapter here; its
            # credentials are read now, so a missing key stops the start, naming the variable.
            factory = order_venue_factory(venue)
            creds = (credentials or {}).get(venue)
            order_venue = (
                factory(provider.config, provider, credentials=creds)
                if factory is not None
                else None
            )
            if order_venue is not None:
                self.register_order_venue(venue, order_venue)
        for m in config.merges:
            self.merge(
                m.symbol,
                m.venues,
                window_s=m.window_s,
                max_events=m.max_events,
                depth=m.depth,
                merge_id=m.merge_id,
            )

    async def start(self) -> None:
        """Restores the control state (subscriptions, merges, trading mode), starts the
        dispatcher, the control socket if configured, and connects every provider (without
        waiting for data)."""
        self.control_bus.restore()
        self.dispatcher.start()
        # Before the socket opens: a SubmitOrder must find the venues started and the
        # ledger's open orders being reconciled.
        await self.order_entry.start()
        if self.nats is not None:  # subscribed before the first event; connects meanwhile
            await self.nats.start()
        if self.shard is not None:  # claims its streams once connected
            self.shard.start()
        control = self.config.control
        if control.port is not None:
            self.control_server = ControlServer(self.control_bus, control.host, control.port)
            await self.control_server.start(control.address_path)
        ops = self.config.ops
        if ops.port is not None:
            # Imported here: aiohttp's server and prometheus_client are start-up time that a
            # run stopped early (and a gateway without an ops server) never needs.
            from tradegw.telemetry.ops_server import OpsServer

            self.ops_server = OpsServer(self, ops.host, ops.port)
            await self.ops_server.start()
        loop = asyncio.get_running_loop()
        for name, provider in self.providers.items():
            self._tasks.append(loop.create_task(provider.run(), name=f"provider-{name}"))

    async def wait_connected(self, within_s: float = 10.0) -> None:
        """Waits until every provider has a connection (TimeoutError after ``within_s``)."""
        async with asyncio.timeout(within_s):
            for provider in self.providers.values():
                await provider.connected.wait()

    def subscribe(
        self,
        *,
        venues: Collection[str] | None = None,
        symbols: Collection[str] | None = None,
        types: Collection[str] | None = None,
        name: str = "",
        max_pending: int = 10_000,
        budget: tuple[float, float] | None = None,
        callback: EventCallback | None = None,
    ) -> Subscription:
        """A subscription to events of ``venues`` (e.g. ``["kraken", "coinbase"]``; None =
        every venue), ``symbols`` (canonical, e.g. ``BTC-USD``; None = all) and ``types``
        (event type names; None = all), effective from the next event. The same canonical
        symbol on two venues is two streams, each ordered on its own.

        ``budget`` is ``(events per second, burst)``: past it market data coalesces while
        the consumer waits for tokens (ExecReports are never held back); None = no budget.

        Iterate it with ``async for``, or pass ``callback`` (sync or async), which is then
        called for every event from a task of its own.
        """
        sub = self.dispatcher.subscribe(
            venues=venues,
            symbols=symbols,
            types=types,
            name=name,
            max_pending=max_pending,
            budget=budget,
        )
        if name and name not in self._consumers:
            self._consumers[name] = sub  # the control bus may widen it by name
        if callback is not None:
            task = asyncio.get_running_loop().create_task(
                _drive(sub, callback), name=f"consumer-{name}"
            )
            self._callback_tasks.append(task)
        return sub

    # ---- the control bus ----

    def control(self, message: ControlMessage | Mapping[str, Any] | str | bytes) -> Ack:
        """Applies one control message (``Subscribe``, ``Unsubscribe``, ``MergedSubscribe``,
        ``SetTradingMode``, ``State``, ``OrderStatus``, ``ListOrders``; a model, a dict or
        JSON) and returns its Ack; never raises for a bad message (the Ack says what was
        wrong). ``SubmitOrder`` and ``CancelOrder`` wait for a venue: use
        :meth:`control_async`, which the control socket uses."""
        return self.control_bus.handle(message)

    async def control_async(self, message: ControlMessage | Mapping[str, Any] | str | bytes) -> Ack:
        """Like :meth:`control`, and also applies ``SubmitOrder`` and ``CancelOrder``, which
        wait for a venue's answer (the control socket goes through here)."""
        return await self.control_bus.handle_async(message)

    # ---- orders ----

    def register_order_venue(self, venue: str, order_venue: OrderVenue) -> None:
        """Makes ``order_venue`` (an :class:`~tradegw.orders.venue.OrderVenue`) the venue
        that orders naming ``venue`` go to; started with the gateway, or at once if the
        gateway runs already.

        Raises:
            ValueError: ``venue`` is not ``order_venue.name``, or has an order venue already.
        """
        if venue != order_venue.name:
            raise ValueError(f"order venue {order_venue.name!r} registered as {venue!r}")
        self.order_entry.add_venue(order_venue)

    async def submit(self, request: OrderRequest | Mapping[str, Any]) -> OrderHandle:
        """Submits an order (an :class:`~tradegw.orders.requests.OrderRequest`, or a dict of
        its fields); returns its handle once the venue's first answer is in. A known
        ``client_order_id`` returns that order and sends nothing; the trading switch and the
        instrument checks may record it REJECTED without sending (see
        :class:`~tradegw.orders.entry.OrderEntry`).

        Raises:
            pydantic.ValidationError: a dict that is not a valid request (names the field).
        """
        if not isinstance(request, OrderRequest):
            request = OrderRequest.model_validate(request)
        return await self.order_entry.submit(request)

    async def cancel(self, client_order_id: str) -> OrderHandle:
        """Cancels an order; returns its handle once the venue has answered.

        Raises:
            UnknownOrder: no order has that id.
            OrderRefused: trading is ``disabled``.
        """
        return await self.order_entry.cancel(client_order_id)

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order ``client_order_id`` as recorded, or None."""
        return self.order_entry.order(client_order_id)

    def orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        open_only: bool = False,
        limit: int | None = 100,
    ) -> list[OrderRecord]:
        """Recorded orders, newest first, of ``venue`` and ``symbol`` (None: any)."""
        return self.order_entry.orders(venue=venue, symbol=symbol, open_only=open_only, limit=limit)

    def fills(self, client_order_id: str) -> list[FillRecord]:
        """An order's recorded fills."""
        return self.order_entry.fills(client_order_id)

    def consumer(self, name: str) -> Subscription:
        """The consumer ``name``'s subscription — made (receiving nothing until a
        ``Subscribe`` names it) if it does not exist yet. After a restart, the subscriptions
        the control bus made for it are already in place: iterate it as any subscription."""
        sub = self._consumers.get(name)
        if sub is None:
            sub = self.dispatcher.subscribe(name=name)
            sub.set_filter("", None)
            self._consumers[name] = sub
        return sub

    def find_consumer(self, name: str) -> Subscription | None:
        """The consumer ``name``'s subscription, or None."""
        return self._consumers.get(name)

    def consumer_names(self) -> list[str]:
        """Every named consumer."""
        return list(self._consumers)

    @property
    def routing_version(self) -> int:
        """The routing table's version now (events carry the one they were routed under)."""
        return self.dispatcher.routing.version

    def venue_symbols(self) -> dict[str, frozenset[str] | None]:
        """Each running venue's canonical symbols (None until it has loaded them), and the
        symbols being merged under ``"merged"``."""
        out: dict[str, frozenset[str] | None] = {
            venue: frozenset(p.books()) or None for venue, p in self.providers.items()
        }
        out[MERGED] = frozenset(spec.symbol for spec in self.conductor.merges())
        return out

    def unsubscribe(self, sub: Subscription) -> None:
        """Stops routing to ``sub``; it finishes once drained."""
        sub.close()

    def merge(
        self,
        symbol: str,
        venues: Collection[str],
        *,
        window_s: float = 10.0,
        max_events: int = 1000,
        depth: int = 10,
        merge_id: str | None = None,
    ) -> str:
        """Starts merging the books of canonical ``symbol`` (``BTC-USD``) across ``venues``
        (at least two running venues); returns the merge's id.

        A window opens on the first book fragment of one of the venues and closes after
        ``window_s`` or on its ``max_events``-th fragment; each closed window in which every
        venue sent a fragment and has a synced book is published as a
        ``MergedBookSnapshot`` (the top ``depth`` consolidated levels) and a ``MergedBBO``,
        with ``provider="merged"``: subscribe with ``subscribe(venues=["merged"])``.

        Raises:
            ValueError: a field is out of range (the message names it), a venue is not
                running in this gateway, or ``merge_id`` is already in use.
        """
        if isinstance(venues, str):
            raise ValueError(f"venues must be a collection of venue names, got {venues!r:.80}")
        spec = MergeSpec(
            merge_id=new_merge_id(symbol) if merge_id is None else merge_id,
            symbol=symbol,
            venues=frozenset(venues),
            window_s=window_s,
            max_events=max_events,
            depth=depth,
        )
        not_running = sorted(spec.venues - self.providers.keys())
        if not_running:
            raise ValueError(
                f"venues {not_running} are not running in this gateway "
                f"(running: {sorted(self.providers)})"
            )
        self.conductor.merge(spec)
        return spec.merge_id

    def unmerge(self, merge_id: str) -> None:
        """Stops the merge ``merge_id``; its open window is discarded unpublished.

        Raises:
            KeyError: no merge has that id.
        """
        self.conductor.unmerge(merge_id)

    @property
    def metrics_url(self) -> str:
        """``http://127.0.0.1:PORT/metrics`` while the ops server runs, else ``""``."""
        return f"{self.ops_server.url}/metrics" if self.ops_server is not None else ""

    async def stop(self) -> None:
        """Closes the control socket and the ops server, disconnects providers, closes
        subscriptions and waits for callback consumers."""
        if self.control_server is not None:
            await self.control_server.stop()
            self.control_server = None
        if self.ops_server is not None:
            await self.ops_server.stop()
            self.ops_server = None
        # Nothing more is written: what is unsettled is reconciled at the next start.
        await self.order_entry.stop()
        for provider in self.providers.values():
            provider.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.shard is not None:  # a standby takes over at once
            await self.shard.stop()
        if self.nats is not None:  # publishes what it can; the ledger keeps the rest for later
            await self.nats.stop()
        # Open windows die with the process (nothing about them is kept for a restart), and
        # before the dispatcher closes the subscriptions.
        self.conductor.stop()
        await self.dispatcher.stop()
        if self._callback_tasks:
            await asyncio.gather(*self._callback_tasks, return_exceptions=True)
            self._callback_tasks.clear()
        self.control_store.close()
        self.order_ledger.close()
        self.telemetry.close()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def _drive(sub: Subscription, callback: EventCallback) -> None:
    async for event in sub:
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception(
                "consumer %r failed on %s; it keeps receiving", sub.name, event.event_type
            )
