"""The control bus: applies control messages to the gateway and answers each with an Ack.

Whatever arrives — a typed message, a dict, JSON text from a socket — is answered, never
raised: a message that cannot be read or names what does not exist gets an error Ack that
says what was wrong, and nothing changes. An accepted change is written to the
:class:`~tradegw.bus.store.ControlStore` first and then applied; a routing change takes
effect from the very next event (the routing table's version, carried in the Ack, is the one
events are routed under from then on).

``SubmitOrder`` and ``CancelOrder`` wait for a venue's answer, so they are answered by
:meth:`ControlBus.handle_async` (what the control socket uses); :meth:`ControlBus.handle`,
synchronous, answers every other message and refuses those two with an Ack saying so. Orders
themselves are not control state: the order ledger keeps them, not the control store.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic import ValidationError

from tradegw.bus.messages import (
    CONTROL_MESSAGE,
    Ack,
    CancelOrder,
    ControlMessage,
    ListOrders,
    MergedSubscribe,
    OrderStatus,
    SetTradingMode,
    State,
    SubmitOrder,
    Subscribe,
    Unsubscribe,
)
from tradegw.bus.store import ControlStore, StoredMerge, StoredSubscription
from tradegw.config.models import TradingMode
from tradegw.dispatch.routing import RouteFilter
from tradegw.errors import OrderError
from tradegw.problems import one_line, problem_lines
from tradegw.telemetry.ops_events import new_decision_id

if TYPE_CHECKING:
    from tradegw.consumers.subscription import Subscription
    from tradegw.orders.handle import OrderHandle
    from tradegw.orders.record import FillRecord, OrderRecord
    from tradegw.orders.requests import OrderRequest
    from tradegw.telemetry.ops_events import OpsEventQueue

log = logging.getLogger("tradegw.bus")

MAX_MESSAGE_BYTES = 64 * 1024
"""Longest control message read (a Subscribe naming 1000 symbols is ~15 KiB)."""
_MAX_PROBLEMS = 5
MERGED = "merged"
"""The provider name of merged events."""
MERGED_TYPES = ("MergedBookSnapshot", "MergedBBO")
"""What a MergedSubscribe routes: the merged book and the merged best bid and offer."""
TRADING_MODE = "trading_mode"
_MESSAGE_TYPES = (
    "Subscribe",
    "Unsubscribe",
    "MergedSubscribe",
    "SetTradingMode",
    "State",
    "SubmitOrder",
    "CancelOrder",
    "OrderStatus",
    "ListOrders",
)
_ASYNC_MESSAGES = (SubmitOrder, CancelOrder)


class ControlRefused(ValueError):
    """A well-formed message that cannot be applied (it names what does not exist)."""


class ControlTarget(Protocol):
    """What the control bus changes: the gateway."""

    trading_mode: TradingMode

    @property
    def routing_version(self) -> int:
        """The routing table's version now."""

    def consumer(self, name: str) -> Subscription:
        """The named consumer's subscription, made (routing nothing) if it does not exist."""

    def find_consumer(self, name: str) -> Subscription | None:
        """The named consumer's subscription, or None."""

    def consumer_names(self) -> Iterable[str]:
        """Every named consumer."""

    def venue_symbols(self) -> Mapping[str, frozenset[str] | None]:
        """Each venue's canonical symbols (None while it has not loaded them yet)."""

    def merge(
        self, symbol: str, venues: list[str], *, window_s: float, max_events: int, depth: int
    ) -> str:
        """Starts merging ``symbol`` on ``venues``; returns the merge id."""

    def unmerge(self, merge_id: str) -> None:
        """Stops a merge."""

    async def submit(self, request: OrderRequest) -> OrderHandle:
        """Submits an order (the trading switch, checks, ledger, venue)."""

    async def cancel(self, client_order_id: str) -> OrderHandle:
        """Cancels an order."""

    def order(self, client_order_id: str) -> OrderRecord | None:
        """An order as recorded, or None."""

    def orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        open_only: bool = False,
        limit: int | None = 100,
    ) -> list[OrderRecord]:
        """Recorded orders, newest first."""

    def fills(self, client_order_id: str) -> list[FillRecord]:
        """An order's recorded fills."""


class ControlBus:
    """Answers control messages for ``target``, keeping its state in ``store``."""

    def __init__(
        self, target: ControlTarget, store: ControlStore, ops: OpsEventQueue | None = None
    ) -> None:
        self._target = target
        self._store = store
        self._ops = ops
        self._merges: dict[str, StoredMerge] = {}
        self.handled = 0
        self.refused = 0

    # ---- start-up ----

    def restore(self) -> None:
        """Re-applies what the store holds (subscriptions, budgets, merges, trading mode);
        they were checked when they were made. Events are never replayed."""
        state = self._store.load()
        target = self._target
        for s in state.subscriptions:
            target.consumer(s.consumer).set_filter(
                s.subscription_id, RouteFilter.of(s.venues, s.symbols, s.types)
            )
        for name, budget in state.budgets.items():
            target.consumer(name).set_budget(budget)
        for m in state.merges:
            merge_id = target.merge(
                m.symbol,
                list(m.venues),
                window_s=m.window_s,
                max_events=m.max_events,
                depth=m.depth,
            )
            self._merges[merge_id] = m
        mode = state.settings.get(TRADING_MODE)
        if mode in ("enabled", "disabled", "cancel_only", "reduce_only"):
            target.trading_mode = mode  # type: ignore[assignment]
        if state.subscriptions or state.merges or mode is not None:
            log.info(
                "control: restored %d subscriptions, %d merges, trading mode %s",
                len(state.subscriptions),
                len(state.merges),
                target.trading_mode,
            )

    # ---- messages ----

    def handle(self, message: ControlMessage | Mapping[str, Any] | str | bytes) -> Ack:
        """Applies one message; always returns its Ack. ``SubmitOrder`` and ``CancelOrder``
        are refused here (they wait for a venue): send them to :meth:`handle_async`."""
        self.handled += 1
        kind: str | None = None
        request_id: str | None = None
        consumer: str | None = None
        raw: object = message
        try:
            raw = _parse(message) if isinstance(message, str | bytes) else message
            msg = _validate(raw)
            kind, request_id = msg.type, msg.request_id
            consumer = getattr(msg, "consumer", None)
            if isinstance(msg, _ASYNC_MESSAGES):
                raise ControlRefused(
                    f"{msg.type} waits for a venue's answer: send it over the control socket "
                    "or with await gw.control_async(...)"
                )
            ack = self._apply(msg)
        except Exception as e:
            ack, kind, request_id = self._failed(e, raw, kind, request_id)
        return self._answered(ack, kind, request_id, consumer)

    async def handle_async(self, message: ControlMessage | Mapping[str, Any] | str | bytes) -> Ack:
        """Applies one message of any type, waiting for a venue where an order message
        needs one; always returns its Ack."""
        self.handled += 1
        kind: str | None = None
        request_id: str | None = None
        consumer: str | None = None
        raw: object = message
        try:
            raw = _parse(message) if isinstance(message, str | bytes) else message
            msg = _validate(raw)
            kind, request_id = msg.type, msg.request_id
            consumer = getattr(msg, "consumer", None)
            if isinstance(msg, SubmitOrder):
                handle = await self._target.submit(msg.order)
                ack = self._ok(order={**handle.record.as_dict(), "duplicate": handle.duplicate})
            elif isinstance(msg, CancelOrder):
                handle = await self._target.cancel(msg.client_order_id)
                ack = self._ok(order=handle.record.as_dict())
            else:
                ack = self._apply(msg)
        except Exception as e:
            ack, kind, request_id = self._failed(e, raw, kind, request_id)
        return self._answered(ack, kind, request_id, consumer)

    def _failed(
        self, e: Exception, raw: object, kind: str | None, request_id: str | None
    ) -> tuple[Ack, str | None, str | None]:
        """The error Ack of a message that failed, and the type and request id to echo."""
        if isinstance(e, ValidationError):
            kind, request_id = _echo(raw)
            return (
                self._refusal("; ".join(problem_lines(e, _MAX_PROBLEMS, _MESSAGE_TYPES))),
                kind,
                request_id,
            )
        if isinstance(e, ControlRefused | ValueError | OrderError):
            return self._refusal(str(e)), kind, request_id
        # A bug here must not take the gateway down.
        log.exception("control: %s failed", kind)
        return (
            self._refusal(f"internal error: {one_line(type(e).__name__ + ': ' + str(e))}"),
            kind,
            request_id,
        )

    def _answered(
        self, ack: Ack, kind: str | None, request_id: str | None, consumer: str | None
    ) -> Ack:
        ack.type, ack.request_id = kind, request_id
        if not ack.ok:
            log.warning("control: %s refused: %s", kind or "message", ack.error)
        self._emit(ack, consumer)
        return ack

    def refuse(self, error: str) -> Ack:
        """An error Ack (for what is refused before it is a message: an overlong line)."""
        ack = self._refusal(error)
        self._emit(ack)
        return ack

    def _refusal(self, error: str) -> Ack:
        self.refused += 1
        return Ack(ok=False, routing_version=self._target.routing_version, error=error)

    def _emit(self, ack: Ack, consumer: str | None = None) -> None:
        """One ``control.<message>`` ops event per message handled (``control.invalid``
        for what could not be read as one); an applied one is a decision."""
        if self._ops is None:
            return
        fields = ack.model_dump(exclude_none=True, exclude={"state", "type", "ok", "order"})
        self._ops.emit(
            "control." + (_snake(ack.type) if ack.type else "invalid"),
            decision_id=new_decision_id() if ack.ok else None,
            ok=ack.ok,
            **({"consumer": consumer} if consumer is not None else {}),
            **fields,
        )

    def _apply(self, msg: ControlMessage) -> Ack:
        if isinstance(msg, Subscribe):
            return self._subscribe(msg)
        if isinstance(msg, Unsubscribe):
            return self._unsubscribe(msg)
        if isinstance(msg, MergedSubscribe):
            return self._merged_subscribe(msg)
        if isinstance(msg, SetTradingMode):
            self._store.set_setting(TRADING_MODE, msg.mode)
            self._target.trading_mode = msg.mode
            log.warning("control: trading mode %s", msg.mode)
            return self._ok(trading_mode=msg.mode)
        if isinstance(msg, OrderStatus):
            record = self._target.order(msg.client_order_id)
            if record is None:
                raise ControlRefused(f"no order with client_order_id {msg.client_order_id!r}")
            fills = [f.as_dict() for f in self._target.fills(msg.client_order_id)]
            return self._ok(order={**record.as_dict(), "fills": fills})
        if isinstance(msg, ListOrders):
            records = self._target.orders(
                venue=msg.venue, symbol=msg.symbol, open_only=msg.open_only, limit=msg.limit
            )
            return self._ok(orders=[r.as_dict() for r in records])
        return self._ok(state=self.state())

    def _ok(self, **fields: Any) -> Ack:
        return Ack(ok=True, routing_version=self._target.routing_version, **fields)

    def _subscribe(self, msg: Subscribe) -> Ack:
        self._check_route(msg.venues, msg.symbols)
        sid = msg.subscription_id or _new_id("s")
        stored = StoredSubscription(
            msg.consumer,
            sid,
            None if msg.venues is None else tuple(msg.venues),
            None if msg.symbols is None else tuple(msg.symbols),
            None if msg.types is None else tuple(msg.types),
        )
        budget = msg.budget.as_tuple() if msg.budget is not None else None
        self._store.put_subscription(stored)
        if budget is not None:
            self._store.put_budget(msg.consumer, budget)
        sub = self._target.consumer(msg.consumer)
        if budget is not None:
            sub.set_budget(budget)
        sub.set_filter(sid, RouteFilter.of(msg.venues, msg.symbols, msg.types))
        return self._ok(subscription_id=sid)

    def _unsubscribe(self, msg: Unsubscribe) -> Ack:
        sub = self._target.find_consumer(msg.consumer)
        if sub is None:
            raise ControlRefused(f"unknown consumer {msg.consumer!r}")
        sid = msg.subscription_id
        if sid is not None and sid not in sub.filters:
            known = sorted(k for k in sub.filters if k)
            raise ControlRefused(
                f"consumer {msg.consumer!r} has no subscription {sid!r}; it has {known}"
            )
        self._store.delete_subscriptions(msg.consumer, sid)
        ids = [sid] if sid is not None else list(sub.filters)
        for merge_id, m in list(self._merges.items()):
            if m.consumer == msg.consumer and m.subscription_id in ids:
                self._target.unmerge(merge_id)
                del self._merges[merge_id]
        for one in ids:
            sub.set_filter(one, None)
        return self._ok(subscription_id=sid)

    def _merged_subscribe(self, msg: MergedSubscribe) -> Ack:
        if MERGED in msg.venues:
            raise ControlRefused("field 'venues': a merge is of venues, not of 'merged'")
        if len(set(msg.venues)) != len(msg.venues):
            raise ControlRefused(f"field 'venues': repeated venue in {msg.venues}")
        for venue in msg.venues:
            self._check_route([venue], [msg.symbol])
        sid = msg.subscription_id or _new_id("m")
        merge_id = self._target.merge(
            msg.symbol,
            list(msg.venues),
            window_s=msg.window_s,
            max_events=msg.max_events,
            depth=msg.depth,
        )
        merge = StoredMerge(
            merge_id,
            msg.consumer,
            sid,
            msg.symbol,
            tuple(msg.venues),
            msg.window_s,
            msg.max_events,
            msg.depth,
        )
        stored = StoredSubscription(msg.consumer, sid, (MERGED,), (msg.symbol,), MERGED_TYPES)
        try:
            self._store.put_merge(merge, stored)
        except Exception:
            self._target.unmerge(merge_id)
            raise
        self._merges[merge_id] = merge
        self._target.consumer(msg.consumer).set_filter(
            sid, RouteFilter.of(stored.venues, stored.symbols, stored.types)
        )
        return self._ok(subscription_id=sid, merge_id=merge_id)

    def _check_route(self, venues: list[str] | None, symbols: list[str] | None) -> None:
        """Refuses a venue this gateway does not run, and a symbol none of ``venues`` (None:
        of every venue) quotes."""
        known = self._target.venue_symbols()
        for venue in venues or ():
            if venue not in known:
                raise ControlRefused(f"unknown venue {venue!r}; this gateway runs {sorted(known)}")
        if symbols is None:
            return
        asked = list(known) if venues is None else venues
        loaded = {v: known[v] for v in asked}
        quoted: set[str] = set()
        for symbols_of in loaded.values():
            quoted |= symbols_of or frozenset()
        for symbol in symbols:
            if symbol in quoted:
                continue
            waiting = sorted(v for v, s in loaded.items() if s is None)
            if waiting:
                raise ControlRefused(
                    f"unknown symbol {symbol!r}: {', '.join(waiting)} has not loaded its "
                    "symbols yet; try again once it is connected"
                )
            shown = sorted(quoted)[:20]
            raise ControlRefused(f"unknown symbol {symbol!r} on {', '.join(asked)}; known: {shown}")

    # ---- state ----

    def state(self) -> dict[str, Any]:
        """Consumers, their subscriptions and budgets, merges, trading mode, routing version."""
        target = self._target
        consumers: dict[str, Any] = {}
        for name in target.consumer_names():
            sub = target.find_consumer(name)
            if sub is None:
                continue
            consumers[name] = {
                "subscriptions": {
                    sid: {
                        "venues": _sorted(f.venues),
                        "symbols": _sorted(f.symbols),
                        "types": _sorted(f.types),
                    }
                    for sid, f in sub.filters.items()
                },
                "budget": list(sub.budget) if sub.budget is not None else None,
                "queued": len(sub),
                "offered": sub.stats.offered,
                "delivered": sub.stats.delivered,
                "coalesced": sub.stats.coalesced,
            }
        return {
            "consumers": consumers,
            "merges": {
                merge_id: {
                    "consumer": m.consumer,
                    "subscription_id": m.subscription_id,
                    "symbol": m.symbol,
                    "venues": list(m.venues),
                    "window_s": m.window_s,
                    "max_events": m.max_events,
                    "depth": m.depth,
                }
                for merge_id, m in self._merges.items()
            },
            "trading_mode": target.trading_mode,
            "routing_version": target.routing_version,
        }


def _parse(message: str | bytes) -> object:
    if len(message) > MAX_MESSAGE_BYTES:
        raise ControlRefused(f"message longer than {MAX_MESSAGE_BYTES} bytes")
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError as e:
        raise ControlRefused(f"not JSON: {e}") from e


def _validate(raw: object) -> ControlMessage:
    if isinstance(
        raw,
        Subscribe
        | Unsubscribe
        | MergedSubscribe
        | SetTradingMode
        | State
        | SubmitOrder
        | CancelOrder
        | OrderStatus
        | ListOrders,
    ):
        return raw
    if isinstance(raw, Mapping):
        return CONTROL_MESSAGE.validate_python(dict(raw))
    raise ControlRefused("a control message is a JSON object with a 'type'")


def _snake(name: str) -> str:
    """``SetTradingMode`` -> ``set_trading_mode``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _sorted(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _echo(raw: object) -> tuple[str | None, str | None]:
    """The ``type`` and ``request_id`` of a message that failed validation, when they are
    short strings (they are echoed in the Ack)."""
    if not isinstance(raw, Mapping):
        return None, None
    out: list[str | None] = []
    for key in ("type", "request_id"):
        value = raw.get(key)
        out.append(value if isinstance(value, str) and 0 < len(value) <= 128 else None)
    return out[0], out[1]
