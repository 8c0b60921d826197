"""``tradegw order`` without a gateway: one command against a venue directly, on the ledger
the gateway of the same config uses (:func:`run_direct`).

When no gateway answers on the control socket, ``tradegw order --config PATH`` does the
gateway's part itself, for one command. It opens that config's ``orders.ledger_path``
(locked while open, :mod:`tradegw.orders.ledger_lock`: a gateway holding it refuses this,
and a gateway started meanwhile refuses to start), puts an
:class:`~tradegw.orders.entry.OrderEntry` on it under the trading mode a gateway would have
(the one stored in ``control.state_path``, else ``control.trading_mode``), builds the named
venue's order adapter from its ``trading`` section when the command needs the venue, and
answers with the Ack a gateway would have sent (the control bus's own code makes it):

* ``submit``: a ``client_order_id`` the ledger knows is answered from the ledger
  (``duplicate``) and reaches no venue, so idempotency holds across gateway and command
  line; otherwise the order is recorded and sent, and an unknown outcome is reconciled
  before the answer (within the timeout);
* ``cancel``: an open order is reconciled, its cancel sent, and the answer waits until the
  order is closed (within the timeout); a closed or unknown order needs no venue;
* ``status``: an open order (or one whose fills the ledger misses) is reconciled with its
  venue first;
* ``list``: the ledger alone.

Starting the venue reconciles every open order of it in the ledger, as a gateway's start
does; whatever is not settled when the command is done is picked up by the next start on
the ledger, as after a crash: nothing is lost or sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from pydantic import ValidationError

from tradegw.bus.control import TRADING_MODE, ControlBus, ControlRefused
from tradegw.bus.messages import Ack, SubmitOrder
from tradegw.bus.store import ControlStore
from tradegw.config import GatewayConfig
from tradegw.config.models import TradingMode
from tradegw.errors import ConfigError, CredentialError, LedgerInUse
from tradegw.orders.entry import OrderEntry
from tradegw.orders.ledger import OrderLedger, ReportRetention
from tradegw.orders.states import UNSETTLED_ORDER_STATES as UNSETTLED
from tradegw.providers.registry import order_venue_factory, venue_names

if TYPE_CHECKING:
    from tradegw.consumers.subscription import Subscription
    from tradegw.orders.handle import OrderHandle
    from tradegw.orders.record import FillRecord, OrderRecord
    from tradegw.orders.requests import OrderRequest
    from tradegw.orders.venue import OrderVenue
    from tradegw.providers.base import VenueProvider
    from tradegw.schema import Event

log = logging.getLogger("tradegw.orders.direct")

EXIT_SETUP: Final = 3
"""Direct order entry cannot be set up: the config (no ledger file, no ``trading`` section
for the venue, ``sim`` URLs), or the venue's keys (a variable missing, a file unsafe)."""
EXIT_VENUE_UNREACHABLE: Final = 4
"""The venue did not answer: no trading rules loaded, or the order not settled in time."""
EXIT_LEDGER_IN_USE: Final = 5
"""Another process holds the ledger (a gateway whose control socket did not answer, or
another command)."""

_SIM: Final = "sim"
_TRADING_URL_FIELDS: Final = ("url", "rest_url", "user_ws_url")


class DirectOrderError(Exception):
    """A command that could not be carried out directly; ``exit_status`` says which kind
    (:data:`EXIT_SETUP`, :data:`EXIT_VENUE_UNREACHABLE`, :data:`EXIT_LEDGER_IN_USE`)."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


@dataclass(frozen=True, slots=True)
class DirectAnswer:
    """What a direct command answers: the Ack as a gateway would have sent it, and, when the
    venue left it unfinished (not settled within the timeout), what to tell the user and
    the exit status to end with."""

    ack: Ack
    problem: str | None = None
    exit_status: int | None = None


@dataclass(frozen=True, slots=True)
class _VenueUrls:
    """The market-data URLs an order-venue factory reads from its provider (``ws_url``,
    ``rest_url``; anything else it reads with ``getattr`` and a default): without a
    gateway there is no provider, only its config."""

    ws_url: str
    rest_url: str


async def run_direct(
    config: GatewayConfig, message: Mapping[str, Any], *, config_path: str, timeout_s: float
) -> DirectAnswer:
    """Carries out one order command (a ``SubmitOrder``, ``CancelOrder``, ``OrderStatus``
    or ``ListOrders`` message) on ``config``'s ledger and venue, within ``timeout_s``.

    Raises:
        DirectOrderError: it cannot be carried out (the message says why).
    """
    path = config.orders.ledger_path
    if path is None:
        raise DirectOrderError(
            f"{config_path}: orders.ledger_path is not set: orders sent without a gateway are "
            "recorded in the gateway's ledger file, and this config has none",
            EXIT_SETUP,
        )
    kind = str(message.get("type"))
    try:
        ledger = OrderLedger(
            path,
            holder=f"tradegw order, {kind} sent directly",
            retention=ReportRetention.of(config.orders),
        )
    except LedgerInUse as e:
        raise DirectOrderError(
            f"{e}. Nothing was sent. If a gateway holds it, it did not answer at the control "
            "address tried: reach it at its own (--address, --address-file); if a command "
            "does, try again once it is done",
            EXIT_LEDGER_IN_USE,
        ) from None
    except ConfigError as e:
        raise DirectOrderError(str(e), EXIT_SETUP) from None
    try:
        return await _Direct(config, config_path, ledger, timeout_s).run(message)
    finally:
        ledger.close()


class _Direct:
    """One command on one ledger (see the module docstring)."""

    def __init__(
        self, config: GatewayConfig, config_path: str, ledger: OrderLedger, timeout_s: float
    ) -> None:
        self._config = config
        self._config_path = config_path
        self._ledger = ledger
        self._timeout_s = timeout_s
        mode = self._mode = _trading_mode(config)
        self._entry = OrderEntry(
            ledger, _no_consumers, trading_mode=lambda: mode, config=config.orders
        )
        self._bus = ControlBus(_Target(self._entry, mode), ControlStore(None))
        self._deadline = 0.0

    async def run(self, message: Mapping[str, Any]) -> DirectAnswer:
        self._deadline = asyncio.get_running_loop().time() + self._timeout_s
        needed = self._venue_needed(message)
        venue: OrderVenue | None = None
        if needed is not None:
            venue = self._order_venue(needed[0])
            self._entry.add_venue(venue)
        try:
            if not await self._within(self._entry.start()):
                raise DirectOrderError(
                    f"the order entry did not start within {self._timeout_s:g}s (the venue "
                    "not answering?)",
                    EXIT_VENUE_UNREACHABLE,
                )
            if needed is not None and venue is not None and venue.instrument(needed[1]) is None:
                raise DirectOrderError(
                    f"{needed[0]}: no trading rules for {needed[1]}: the venue did not answer "
                    "(unreachable: see the log lines above) or does not list it; nothing was "
                    "recorded or sent",
                    EXIT_VENUE_UNREACHABLE,
                )
            return await self._answer(message, needed is not None)
        finally:
            await self._entry.stop()
            if venue is not None:
                # The entry stops the venues it finished starting; one whose start was cut
                # short still has its connections (stop() is safe twice).
                await venue.stop()

    # ---- what the command needs ----

    def _venue_needed(self, message: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(venue, symbol)`` when the command has to ask a venue, None when the ledger
        answers it (a known id, a closed order, a list, or a message the bus refuses)."""
        kind = message.get("type")
        mode = self._mode
        if kind == "SubmitOrder":
            try:
                request = SubmitOrder.model_validate(message).order
            except ValidationError:
                return None  # answered by the bus, naming every bad field
            if self._ledger.get(request.client_order_id) is not None or mode != "enabled":
                return None  # a known id, or refused by the switch: no venue is asked
            return request.venue, request.symbol
        if kind == "CancelOrder" and mode == "disabled":
            return None  # refused by the switch
        if kind in ("CancelOrder", "OrderStatus"):
            cid = message.get("client_order_id")
            order = self._ledger.get(cid) if isinstance(cid, str) else None
            if order is None or not self._entry.venue_knows_more(order.client_order_id):
                return None
            return order.venue, order.symbol
        return None

    def _order_venue(self, venue: str) -> OrderVenue:
        """``venue``'s order adapter from its config section.

        Raises:
            DirectOrderError: the config has no usable ``trading`` section for it, or its
                keys are missing or unsafe (``EXIT_SETUP``).
        """
        where = self._config_path
        if venue not in venue_names():
            raise DirectOrderError(
                f"unknown venue {venue!r} (venues: {', '.join(venue_names())})", EXIT_SETUP
            )
        section = self._config.venues.get(venue)
        if section is None:
            raise DirectOrderError(f"{where}: no venues.{venue} section", EXIT_SETUP)
        trading = getattr(section, "trading", None)
        factory = order_venue_factory(venue)
        if trading is None or not trading.enabled or factory is None:
            raise DirectOrderError(
                f"{where}: venues.{venue} has no trading section (order entry is off for {venue})",
                EXIT_SETUP,
            )
        if not section.enabled:
            raise DirectOrderError(f"{where}: venues.{venue} is disabled", EXIT_SETUP)
        sim_fields = [f for f in _TRADING_URL_FIELDS if getattr(trading, f, None) == _SIM]
        sim_urls = [f for f in ("ws_url", "rest_url") if getattr(section, f) == _SIM]
        if sim_fields and sim_urls:
            raise DirectOrderError(
                f"{where}: venues.{venue}.{sim_urls[0]} is 'sim' and trading."
                f"{sim_fields[0]} is found from it: without a gateway there is no simulator "
                "to find; write the venue's (or a running simulator's) URLs in",
                EXIT_SETUP,
            )
        urls = _VenueUrls(ws_url=section.ws_url, rest_url=section.rest_url)
        try:
            # The factories read the provider's URLs only (see _VenueUrls).
            made = factory(section, cast("VenueProvider", urls))
        except CredentialError as e:
            raise DirectOrderError(str(e), EXIT_SETUP) from None
        except (ConfigError, ValueError) as e:
            raise DirectOrderError(f"{where}: {e}", EXIT_SETUP) from None
        if made is None:  # pragma: no cover - the trading section was checked above
            raise DirectOrderError(f"{where}: venues.{venue}: order entry is off", EXIT_SETUP)
        return made

    # ---- the command ----

    async def _answer(self, message: Mapping[str, Any], asks_venue: bool) -> DirectAnswer:
        kind = message.get("type")
        cid = message.get("client_order_id")
        if asks_venue and isinstance(cid, str):
            # The venue's view first: a status shows it, a cancel acts on it (a cancel of an
            # order the venue has filled meanwhile is then not sent at all).
            reconciled = await self._within(self._entry.reconcile(cid))
            if not reconciled and kind == "OrderStatus":
                return await self._unfinished(message, cid, "could not say what became of it")
        ack = await self._bus.handle_async(message)
        if not ack.ok or ack.order is None or not asks_venue or kind == "OrderStatus":
            return DirectAnswer(ack)
        cid = str(ack.order["client_order_id"])
        if kind == "SubmitOrder":
            settled = await self._within(self._settled(cid))
            what = "has not said whether it has the order"
        else:  # a cancel: the venue's answer may be "pending", the outcome comes later
            settled = await self._within(self._entry.handle(cid).wait())
            what = "has not confirmed the cancel"
        self._refresh(ack, cid)
        if not settled:
            return await self._unfinished(message, cid, what, ack)
        return DirectAnswer(ack)

    async def _settled(self, cid: str) -> None:
        """Until the order is past SENT/UNKNOWN (the answer, a report of the private stream,
        or a reconciliation said)."""
        while (order := self._entry.order(cid)) is not None and order.state in UNSETTLED:
            await self._entry.reconcile(cid)
            if (order := self._entry.order(cid)) is not None and order.state in UNSETTLED:
                await asyncio.sleep(0.05)  # its send is still out, or a query is not due yet

    async def _within(self, waiting: Awaitable[Any]) -> bool:
        """Awaits ``waiting`` until the deadline; False when it ran out."""
        remaining = self._deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                await waiting
        except TimeoutError:
            return False
        return True

    async def _unfinished(
        self, message: Mapping[str, Any], cid: str, what: str, ack: Ack | None = None
    ) -> DirectAnswer:
        if ack is None:
            ack = await self._bus.handle_async(message)
        order = self._entry.order(cid)
        venue = order.venue if order is not None else "the venue"
        state = order.state.value if order is not None else "unknown"
        return DirectAnswer(
            ack,
            problem=f"{venue} {what} within {self._timeout_s:g}s (unreachable?); order "
            f"{cid} is {state} in the ledger and is reconciled by the next order entry on it "
            "(a gateway's start, or tradegw order)",
            exit_status=EXIT_VENUE_UNREACHABLE,
        )

    def _refresh(self, ack: Ack, cid: str) -> None:
        """The Ack's order as the ledger has it now (after what was waited for)."""
        order = self._entry.order(cid)
        if order is not None and ack.order is not None:
            extra = {k: ack.order[k] for k in ("duplicate",) if k in ack.order}
            ack.order = {**order.as_dict(), **extra}


def _trading_mode(config: GatewayConfig) -> TradingMode:
    """The trading switch a gateway of ``config`` would start with: the mode stored in its
    control state (set by ``SetTradingMode``), else ``control.trading_mode``."""
    mode = config.control.trading_mode
    path = config.control.state_path
    if path is None or not Path(path).is_file():
        return mode
    store = ControlStore(path)
    try:
        stored = store.load().settings.get(TRADING_MODE)
    finally:
        store.close()
    if stored in ("enabled", "disabled", "cancel_only", "reduce_only"):
        return cast("TradingMode", stored)
    return mode


def _no_consumers(event: Event) -> None:
    """ExecReports have no consumer without a gateway (the ledger keeps their numbering)."""


class _Target:
    """The control bus's target without a gateway: the order messages only."""

    def __init__(self, entry: OrderEntry, mode: TradingMode) -> None:
        self._entry = entry
        self.trading_mode: TradingMode = mode

    @property
    def routing_version(self) -> int:
        """No routing without a gateway: 0."""
        return 0

    def consumer(self, name: str) -> Subscription:
        """Refused: consumers need a gateway."""
        raise ControlRefused("no gateway runs: consumers need one")

    def find_consumer(self, name: str) -> Subscription | None:
        """None: no consumers without a gateway."""
        return None

    def consumer_names(self) -> Iterable[str]:
        """None without a gateway."""
        return ()

    def venue_symbols(self) -> Mapping[str, frozenset[str] | None]:
        """None without a gateway."""
        return {}

    def merge(
        self, symbol: str, venues: list[str], *, window_s: float, max_events: int, depth: int
    ) -> str:
        """Refused: merges need a gateway."""
        raise ControlRefused("no gateway runs: merges need one")

    def unmerge(self, merge_id: str) -> None:
        """Refused: merges need a gateway."""
        raise ControlRefused("no gateway runs: merges need one")

    async def submit(self, request: OrderRequest) -> OrderHandle:
        """Submits through the entry."""
        return await self._entry.submit(request)

    async def cancel(self, client_order_id: str) -> OrderHandle:
        """Cancels through the entry."""
        return await self._entry.cancel(client_order_id)

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order as recorded."""
        return self._entry.order(client_order_id)

    def orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        open_only: bool = False,
        limit: int | None = 100,
    ) -> list[OrderRecord]:
        """Recorded orders, newest first."""
        return self._entry.orders(venue=venue, symbol=symbol, open_only=open_only, limit=limit)

    def fills(self, client_order_id: str) -> list[FillRecord]:
        """An order's recorded fills."""
        return self._entry.fills(client_order_id)


__all__ = [
    "EXIT_LEDGER_IN_USE",
    "EXIT_SETUP",
    "EXIT_VENUE_UNREACHABLE",
    "DirectAnswer",
    "DirectOrderError",
    "run_direct",
]
