"""Canonical events: the one shape every venue's feed is turned into.

Providers build these objects on the hot path, one or more per venue frame, so each type is a
plain slotted, mutable dataclass with no validation and no ``__post_init__`` (frozen would
route every field through ``object.__setattr__``; pydantic costs several times more).
Building one costs 0.5-1 µs, most of it CPython packing the keyword arguments of a class call
into a dict. Validation happens only where data enters from outside the process, in
:func:`from_json`.

Conventions shared by every type:

- Prices and quantities are decimal **strings** exactly as the venue wrote them (or, for
  venues that send JSON numbers, rendered at the instrument's precision). Never floats.
- Timestamps are integer nanoseconds since the Unix epoch.
- Book levels are ``(price, qty)`` tuples of strings.
- Keyword-only construction. Common fields that say where and when an event came from are
  required even when their value may be ``None``, so a provider cannot forget them; optional
  type-specific fields default to ``None``.
- Merged events (:class:`MergedBookSnapshot`, :class:`MergedBBO`, published by
  :mod:`tradegw.conductor`) have ``provider="merged"`` and a ``merge_id``.

Events serialise with :func:`to_json` (orjson, which handles slotted dataclasses natively);
:func:`json_schema` describes that JSON.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import itertools
import os
import re
import secrets
import textwrap
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias

import orjson

if TYPE_CHECKING:
    from pydantic import TypeAdapter

SCHEMA_VERSION: Final = 1
"""Version of the event layout; bumped on any incompatible change."""

Side: TypeAlias = Literal["buy", "sell"]
"""Order or aggressor side."""

Level: TypeAlias = tuple[str, str]
"""One book level: ``(price, qty)`` as decimal strings."""

BookState: TypeAlias = Literal["synced", "resyncing"]
"""Health of a (venue, symbol) book."""

ResyncReason: TypeAlias = Literal["gap", "checksum", "crossed", "stale", "refresh", "reconnect"]
"""Why a book left the ``synced`` state."""

CloseReason: TypeAlias = Literal["time", "count"]
"""Why a merge window closed: its ``window_s`` ran out, or it reached ``max_events``."""

MERGED_PROVIDER: Final = "merged"
"""The ``provider`` of every merged event; subscribe to it like a venue."""


# --- identifiers -------------------------------------------------------------------------

_EVENT_IDS = itertools.count(1)


def next_event_id() -> int:
    """Return the next process-unique event id (1, 2, 3, ...; thread-safe under the GIL)."""
    return next(_EVENT_IDS)


_TRACE_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
# Random high 32 bits per process, counter in the low 32: unique within a process and
# colliding across processes only by chance.
_trace_prefix = secrets.randbits(32) << 32
_trace_counter = itertools.count()


def _reseed_trace_ids() -> None:
    # A forked child would otherwise hand out the same trace ids as its parent.
    global _trace_prefix, _trace_counter
    _trace_prefix = secrets.randbits(32) << 32
    _trace_counter = itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_trace_ids)


def new_trace_id() -> str:
    """Return a fresh trace id: 16 lowercase hex characters.

    The first 8 are random per process (re-drawn in a forked child), the last 8 count up,
    wrapping after 2**32 ids. No RNG call per id, so it is cheap enough to stamp on every
    ingested frame.
    """
    # to_bytes().hex() is ~40% faster than an f-string with a hex format spec.
    return (_trace_prefix | (next(_trace_counter) & 0xFFFFFFFF)).to_bytes(8, "big").hex()


# --- events ------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _EventBase:
    """Fields common to every event."""

    schema_version: Literal[1] = field(default=SCHEMA_VERSION, init=False)
    """Layout version of this event; always 1 for now."""
    event_type: str = field(default="", init=False)
    """Name of the event class, e.g. ``"BookUpdate"``; discriminates the JSON."""
    # The bound method, not next_event_id(), because one Python call less is ~30 ns per event.
    event_id: int = field(default_factory=_EVENT_IDS.__next__)
    """Increasing id, unique within the process that built the event (see
    :func:`next_event_id`); :func:`from_json` keeps the id it reads."""
    provider: str
    """Source venue (``"binance"``, ``"coinbase"``, ``"kraken"``) or ``"merged"``."""
    symbol: str
    """Canonical symbol, e.g. ``"BTC-USD"``."""
    venue_symbol: str
    """The venue's own symbol, e.g. ``"BTC/USD"``; the canonical one on merged events."""
    seq_provider: int | None
    """The venue's sequence number for this stream, or the provider's ingest sequence;
    None when there is neither."""
    exchange_ts: int | None
    """Venue timestamp of the event in ns since the epoch, or None if the venue sent none."""
    ingest_ts: int
    """Wall-clock ns since the epoch when the frame carrying this event left the socket."""
    routing_version: int = 0
    """Version of the routing table the event was dispatched under."""
    trace_id: str
    """16 lowercase hex chars, one per ingested frame (see :func:`new_trace_id`)."""
    merge_id: str | None = None
    """Id of the merge that published a merged event; None otherwise."""


@dataclass(slots=True, kw_only=True)
class BookSnapshot(_EventBase):
    """The full top of a book; replaces whatever the consumer held for this book."""

    event_type: Literal["BookSnapshot"] = field(default="BookSnapshot", init=False)
    """Always ``"BookSnapshot"``."""
    bids: list[Level]
    """Bid levels, best (highest price) first."""
    asks: list[Level]
    """Ask levels, best (lowest price) first."""
    depth: int | None = None
    """Number of levels per side the book is kept to, or None when unbounded."""
    checksum: int | None = None
    """Venue checksum of this book state (e.g. Kraken CRC32), or None."""
    price_precision: int | None = None
    """Decimals of prices in this book, so a consumer can build its own fixed-point book."""
    qty_precision: int | None = None
    """Decimals of quantities in this book."""
    coalesced: bool = False
    """Whether a slow consumer receives this snapshot in place of the diffs it missed."""


@dataclass(slots=True, kw_only=True)
class BookUpdate(_EventBase):
    """Changed levels of a book since the previous snapshot or update."""

    event_type: Literal["BookUpdate"] = field(default="BookUpdate", init=False)
    """Always ``"BookUpdate"``."""
    bids: list[Level]
    """Changed bid levels with their new absolute quantity; a zero quantity deletes the level.
    Quantity text is the venue's (``"0"``, ``"0.00000000"``, ...)."""
    asks: list[Level]
    """Changed ask levels, same rules as ``bids``."""
    checksum: int | None = None
    """Venue checksum of the book after this update, or None."""
    coalesced: bool = False
    """Whether several updates were merged level by level for a slow consumer."""


@dataclass(slots=True, kw_only=True)
class BookStatus(_EventBase):
    """A change in a book's health; published on every state change."""

    event_type: Literal["BookStatus"] = field(default="BookStatus", init=False)
    """Always ``"BookStatus"``."""
    state: BookState
    """``"synced"``: updates flow. ``"resyncing"``: no BookUpdate is delivered until the next
    BookSnapshot."""
    reason: ResyncReason | None = None
    """Why the book is resyncing; None when synced."""


@dataclass(slots=True, kw_only=True)
class Trade(_EventBase):
    """One public trade (a match) on the venue."""

    event_type: Literal["Trade"] = field(default="Trade", init=False)
    """Always ``"Trade"``."""
    price: str
    """Trade price."""
    qty: str
    """Trade quantity in base units."""
    side: Side
    """Taker (aggressor) side."""
    trade_id: str
    """The venue's trade id."""
    ord_type: str | None = None
    """Taker order type when the venue says (``"limit"``, ``"market"``), else None."""


@dataclass(slots=True, kw_only=True)
class Ticker(_EventBase):
    """Best bid/offer plus, where the venue sends them, rolling 24 h statistics."""

    event_type: Literal["Ticker"] = field(default="Ticker", init=False)
    """Always ``"Ticker"``."""
    bid: str
    """Best bid price."""
    bid_qty: str
    """Quantity at the best bid."""
    ask: str
    """Best ask price."""
    ask_qty: str
    """Quantity at the best ask."""
    last: str | None = None
    """Last trade price."""
    volume: str | None = None
    """Base volume over the venue's rolling window (24 h)."""
    vwap: str | None = None
    """Volume-weighted average price over that window."""
    low: str | None = None
    """Lowest price over that window."""
    high: str | None = None
    """Highest price over that window."""
    change: str | None = None
    """Absolute price change over that window."""
    change_pct: str | None = None
    """Price change over that window in percent."""


@dataclass(slots=True, kw_only=True)
class KlineSummary(_EventBase):
    """One candlestick (OHLCV bar), possibly still open."""

    event_type: Literal["KlineSummary"] = field(default="KlineSummary", init=False)
    """Always ``"KlineSummary"``."""
    interval_s: int
    """Bar length in seconds."""
    open_ts: int
    """Bar start in ns since the epoch."""
    open: str
    """First trade price in the bar."""
    high: str
    """Highest trade price in the bar."""
    low: str
    """Lowest trade price in the bar."""
    close: str
    """Last trade price in the bar so far."""
    volume: str
    """Base volume traded in the bar."""
    closed: bool
    """Whether the bar is final; false while it is still in progress."""
    vwap: str | None = None
    """Volume-weighted average price of the bar, when the venue sends it."""
    trades: int | None = None
    """Number of trades in the bar, when the venue sends it."""


class ExecState(StrEnum):
    """Lifecycle state of an order as reported in an :class:`ExecReport`."""

    ACK = "ACK"
    """The venue accepted the order; it is working."""
    PARTIAL = "PARTIAL"
    """Partly filled and still working."""
    FILLED = "FILLED"
    """Completely filled (terminal)."""
    CANCELLED = "CANCELLED"
    """Cancelled, possibly after partial fills (terminal)."""
    REJECTED = "REJECTED"
    """Refused by the venue or by the gateway (terminal)."""
    EXPIRED = "EXPIRED"
    """Ended by its time in force (terminal)."""


TERMINAL_EXEC_STATES: Final = frozenset(
    {ExecState.FILLED, ExecState.CANCELLED, ExecState.REJECTED, ExecState.EXPIRED}
)
"""States after which an order receives no further reports."""


@dataclass(slots=True, kw_only=True)
class ExecReport(_EventBase):
    """A change in one of our orders; never coalesced, throttled or dropped."""

    event_type: Literal["ExecReport"] = field(default="ExecReport", init=False)
    """Always ``"ExecReport"``."""
    client_order_id: str
    """Our id for the order; the idempotency key."""
    venue_order_id: str | None = None
    """The venue's id for the order; None until the venue has assigned one."""
    state: ExecState
    """Order state after this report."""
    side: Side
    """Order side."""
    order_type: str
    """Order type, e.g. ``"limit"`` or ``"market"``."""
    price: str | None = None
    """Limit price; None for orders without one."""
    qty: str
    """Order quantity in base units."""
    filled_qty: str
    """Cumulative filled quantity."""
    last_fill_price: str | None = None
    """Price of the fill this report announces, if any."""
    last_fill_qty: str | None = None
    """Quantity of the fill this report announces, if any."""
    fee: str | None = None
    """Fee charged for that fill, if known."""
    fee_asset: str | None = None
    """Asset the fee is charged in, if known."""
    reason: str | None = None
    """Venue or gateway text explaining a rejection, cancellation or expiry."""
    venue_exec_id: str | None = None
    """The venue's id of this execution (trade id of a fill); the dedup key with the order."""


# --- merged events ------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True, frozen=True)
class MergedLevel:
    """One price level of a book consolidated across venues."""

    # A plain dict, not pydantic's ConfigDict, so that building events never imports
    # pydantic: from_json must refuse unknown keys inside a level as it does at the top.
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    price: str
    """Price, at the finest price precision among the venues of the snapshot."""
    qty: str
    """Total quantity at this price over every venue, summed exactly (at the finest quantity
    precision among the venues of the snapshot)."""
    venues: dict[str, str]
    """Quantity each venue quotes at this price, as that venue's book renders it; venues
    without this price are absent."""


@dataclass(slots=True, kw_only=True)
class MergedBookSnapshot(_EventBase):
    """One closed merge window: the books of the merge's venues consolidated as they stood
    at the close. ``provider`` is ``"merged"``, ``symbol`` and ``venue_symbol`` the canonical
    symbol, ``ingest_ts`` the close time and ``trace_id`` that of the fragment that opened the
    window. A window in which a venue sent no book fragment, or whose book was not synced at
    the close, is never emitted."""

    event_type: Literal["MergedBookSnapshot"] = field(default="MergedBookSnapshot", init=False)
    """Always ``"MergedBookSnapshot"``."""
    bids: list[MergedLevel]
    """Consolidated bid levels, best (highest price) first, at most ``depth``."""
    asks: list[MergedLevel]
    """Consolidated ask levels, best (lowest price) first, at most ``depth``."""
    depth: int
    """The merge's depth: the most levels per side."""
    venues: list[str]
    """The merge's venues, sorted; each sent a fragment in the window and had a synced
    book at its close."""
    fragments: dict[str, int]
    """Book fragments (BookSnapshot and BookUpdate events) each venue sent in the window."""
    window_seq: int
    """Number of the window within its merge (1, 2, ...); a gap is a suppressed window."""
    window_open_ts: int
    """``ingest_ts`` of the fragment that opened the window (ns since the epoch)."""
    window_close_ts: int
    """Wall-clock ns since the epoch when the window closed (also this event's
    ``ingest_ts``)."""
    close_reason: CloseReason
    """``"time"``: ``window_s`` ran out; ``"count"``: the window reached ``max_events``
    fragments."""
    crossed: bool
    """Whether one venue's best bid is at or above another's best ask. Flagged, never
    corrected: the levels are the venues' own."""


@dataclass(slots=True, kw_only=True)
class MergedBBO(_EventBase):
    """The consolidated best bid and offer of a closed merge window, published right after
    its :class:`MergedBookSnapshot` (same ``merge_id``, ``window_seq`` and ``trace_id``)."""

    event_type: Literal["MergedBBO"] = field(default="MergedBBO", init=False)
    """Always ``"MergedBBO"``."""
    bid: str | None
    """Best bid over every venue; None when no venue has a bid."""
    bid_qty: str | None
    """Total quantity at the best bid over every venue."""
    bid_venues: dict[str, str]
    """Quantity each venue quotes at the best bid."""
    ask: str | None
    """Best ask over every venue; None when no venue has an ask."""
    ask_qty: str | None
    """Total quantity at the best ask over every venue."""
    ask_venues: dict[str, str]
    """Quantity each venue quotes at the best ask."""
    crossed: bool
    """Whether the best bid is at or above the best ask (the venues disagree)."""
    window_seq: int
    """Number of the window within its merge."""


Event: TypeAlias = (
    BookSnapshot
    | BookUpdate
    | BookStatus
    | Trade
    | Ticker
    | KlineSummary
    | ExecReport
    | MergedBookSnapshot
    | MergedBBO
)
"""Any canonical event."""

EVENT_TYPES: Final = (
    BookSnapshot,
    BookUpdate,
    BookStatus,
    Trade,
    Ticker,
    KlineSummary,
    ExecReport,
    MergedBookSnapshot,
    MergedBBO,
)
"""Every event class, in a fixed order (usable with ``isinstance``)."""

MERGED_EVENT_TYPES: Final = (MergedBookSnapshot, MergedBBO)
"""The event classes only the merge engine publishes (``provider="merged"``)."""

EVENT_CLASSES: Final[Mapping[str, type[Event]]] = MappingProxyType(
    {cls.__name__: cls for cls in EVENT_TYPES}
)
"""Event class by ``event_type`` name."""


# --- JSON --------------------------------------------------------------------------------


def to_json(event: Event) -> bytes:
    """Serialise an event to one JSON object (UTF-8 bytes, no trailing newline).

    Fields appear in declaration order, common fields first; levels become arrays of
    two strings, ``ExecState`` its string value.
    """
    return orjson.dumps(event)


# Field sets per event_type, computed once: from_json checks presence before pydantic so
# that a missing or misspelt field gets a message naming it.
_REQUIRED_FIELDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        cls.__name__: tuple(
            f.name
            for f in fields(cls)
            if f.init and f.default is MISSING and f.default_factory is MISSING
        )
        for cls in EVENT_TYPES
    }
)
_KNOWN_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {cls.__name__: frozenset(f.name for f in fields(cls)) for cls in EVENT_TYPES}
)


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    # Imported here so that producing events never pays for importing pydantic.
    from pydantic import TypeAdapter

    return TypeAdapter(EVENT_CLASSES[name])


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_json(data: bytes | str) -> Event:
    """Rebuild an event from the JSON :func:`to_json` wrote.

    The class comes from ``event_type``. Every field is type-checked strictly (a price sent
    as a JSON number is an error, not a conversion); fields with defaults may be absent
    (a missing ``event_id`` gets a fresh one). Meant for replay, tests and remote
    consumers, not the hot path.

    Raises:
        ValueError: the text is not a JSON object, ``event_type`` is missing or unknown,
            ``schema_version`` is not :data:`SCHEMA_VERSION`, a required field is missing,
            a field is unknown, a value has the wrong type, or ``trace_id`` is malformed.
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"event is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"event JSON must be an object, not {type(obj).__name__}")
    if "event_type" not in obj:
        raise ValueError("event JSON has no 'event_type' field")
    name = obj["event_type"]
    cls = EVENT_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown event_type {name!r}; expected one of {', '.join(EVENT_CLASSES)}")
    version = obj.get("schema_version", SCHEMA_VERSION)
    # bool is an int subclass: True == 1 must not pass as version 1.
    if type(version) is not int or version != SCHEMA_VERSION:
        raise ValueError(
            f"{name} event has schema_version {version!r}; this build reads {SCHEMA_VERSION}"
        )
    missing = [f for f in _REQUIRED_FIELDS[name] if f not in obj]
    if missing:
        raise ValueError(f"{name} event is missing field(s): {', '.join(missing)}")
    unknown = sorted(obj.keys() - _KNOWN_FIELDS[name])
    if unknown:
        raise ValueError(f"{name} event has unknown field(s): {', '.join(unknown)}")

    from pydantic import ValidationError

    try:
        # validate_json rather than validate_python: strict JSON mode turns arrays into
        # level tuples and strings into ExecState, yet rejects numbers for string fields.
        event = _adapter(name).validate_json(data, strict=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']} (got {_short(err['input'])})"
            for err in exc.errors(include_url=False)
        )
        raise ValueError(f"invalid {name} event: {problems}") from None
    assert isinstance(event, cls)
    if not _TRACE_ID_RE.fullmatch(event.trace_id):
        raise ValueError(
            f"invalid {name} event: trace_id must be 16 lowercase hex chars, got {event.trace_id!r}"
        )
    return event


# --- JSON Schema -------------------------------------------------------------------------


def _attribute_docs(cls: type) -> dict[str, str]:
    """Field docstrings of ``cls`` and its bases (the string literal after each field)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # pragma: no cover - installed without sources
            continue
        body = ast.parse(source).body[0]
        if not isinstance(body, ast.ClassDef):  # pragma: no cover - defensive
            continue
        for node, nxt in itertools.pairwise(body.body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


_ROLE_RE: Final = re.compile(r":(?:func|class|data):`([^`]+)`")


def _json_prose(doc: str) -> str:
    # Docstrings are written for Python readers (reST roles, None); the schema is read by
    # people who see JSON.
    doc = _ROLE_RE.sub(lambda m: f"`{m[1]}()`" if m[0].startswith(":func:") else f"`{m[1]}`", doc)
    doc = doc.replace("``", "`")
    for python, json in (("None", "null"), ("True", "true"), ("False", "false")):
        doc = re.sub(rf"\b{python}\b", json, doc)
    return " ".join(doc.split())


@functools.cache
def _json_schema() -> dict[str, Any]:
    from typing import Annotated

    from pydantic import ConfigDict, Field, TypeAdapter

    adapter: TypeAdapter[Event] = TypeAdapter(
        Annotated[Event, Field(discriminator="event_type")],
        config=ConfigDict(
            extra="forbid",
            # Describe the wire: to_json always writes every field, defaults included.
            json_schema_serialization_defaults_required=True,
        ),
    )
    generated = adapter.json_schema(mode="serialization")
    for cls in (*EVENT_TYPES, MergedLevel):
        definition = generated["$defs"][cls.__name__]
        # pydantic reads field docstrings of the class itself only, not of its bases.
        for name, doc in _attribute_docs(cls).items():
            definition["properties"][name]["description"] = doc
    for cls in EVENT_TYPES:
        properties = generated["$defs"][cls.__name__]["properties"]
        properties["trace_id"]["pattern"] = _TRACE_ID_RE.pattern.join("^$")
    for definition in generated["$defs"].values():
        for node in (definition, *definition.get("properties", {}).values()):
            if "description" in node:
                node["description"] = _json_prose(node["description"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tradegw canonical event",
        "description": (
            f"One event as serialised by tradegw.schema.to_json (schema_version "
            f"{SCHEMA_VERSION}). Prices and quantities are decimal strings; timestamps are "
            f"integer nanoseconds since the Unix epoch."
        ),
        **generated,
    }


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the events' JSON.

    A ``oneOf`` over the event types, discriminated by ``event_type``; every field is
    listed as required because :func:`to_json` always writes every field. Each call returns
    a fresh copy the caller may modify.
    """
    return copy.deepcopy(_json_schema())


__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "MERGED_EVENT_TYPES",
    "MERGED_PROVIDER",
    "SCHEMA_VERSION",
    "TERMINAL_EXEC_STATES",
    "BookSnapshot",
    "BookState",
    "BookStatus",
    "BookUpdate",
    "CloseReason",
    "Event",
    "ExecReport",
    "ExecState",
    "KlineSummary",
    "Level",
    "MergedBBO",
    "MergedBookSnapshot",
    "MergedLevel",
    "ResyncReason",
    "Side",
    "Ticker",
    "Trade",
    "from_json",
    "json_schema",
    "new_trace_id",
    "next_event_id",
    "to_json",
]
