"""Fault injection: what can go wrong on the wire, when, and how often it did.

A run's :class:`FaultPlan` lists :class:`FaultSpec` entries. Each names a kind and one or more
triggers:

* ``rate`` - a probability per eligible message (WebSocket data frame or REST request);
* ``at_seconds`` - one shot per listed time, measured from the simulator's start;
* ``after_messages`` - one shot per listed ``k``: fires on the first eligible message once
  ``k`` messages have gone by (``0`` means the very first). WebSocket kinds count data frames
  sent over all connections; HTTP kinds count REST requests.

The kinds every venue has, and what is eligible for them:

========================  ================================================================
``drop``                  a data frame whose loss the client's integrity check must notice
                          (``DataFrame.loss_detectable``: a Kraken book update that changed
                          the top ten) is not sent, although the market applied it
``duplicate``             any data frame is sent twice
``reorder``               such a frame is held back and sent after the next frame of the
                          same channel and symbol on that connection (two frames swapped)
``corrupt_checksum``      a frame with an integrity field (``DataFrame.corruptible``) goes
                          out with that field wrong (Kraken: the checksum)
``stall``                 the connection goes silent for ``duration`` seconds: nothing at all
                          is sent (no heartbeats, no acks) and what the market did meanwhile
                          is lost to that client
``disconnect``            the socket is closed abruptly (no close frame)
``bad_json``              the venue's malformed (truncated) frame is sent before the data
                          frame
``http_429``              a REST request is answered 429 in the venue's words
``http_5xx``              a REST request is answered with ``status`` (default 503)
``order_ack_lost``        an order the venue accepted gets no answer at all (the client
                          times out; the order is working)
``order_response_lost``   an order the venue accepted gets no answer: the connection it came
                          on is closed instead
``order_5xx_after_accept``  an order the venue accepted is answered with ``status`` (5xx)
``private_stream_drop``   the private (user) stream is closed just before an order update is
                          sent, mid-fill; what it would have carried is lost to that
                          connection and can only be recovered by REST queries
========================  ================================================================

The four order kinds are decided by the venue's order endpoints through
:meth:`tradegw.sim.matching.MatchingEngine.fault` (they count against order requests, see
:meth:`FaultInjector.count_order_request`), and carried out by the endpoint, which alone
knows its wire: the order itself is placed by the matching engine whatever the fault.

``stall``, ``disconnect`` and ``bad_json`` given by ``at_seconds`` hit every connection open
at that moment; with ``rate``/``after_messages`` they hit the connection whose frame is being
sent. :attr:`FaultInjector.counts` counts every injection (per connection hit), so a test can
check that a gateway noticed each one.

A venue adds kinds of its own (a stale REST snapshot, a skipped sequence number) by
subclassing :class:`FaultPlan` with :attr:`FaultPlan.venue_kinds` and asking
:meth:`FaultInjector.fire` at the point where the fault applies.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from typing import Annotated, ClassVar, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradegw.sim.wire import DataFrame

FaultKind = Literal[
    "drop",
    "duplicate",
    "reorder",
    "corrupt_checksum",
    "stall",
    "disconnect",
    "bad_json",
    "http_429",
    "http_5xx",
    "order_ack_lost",
    "order_response_lost",
    "order_5xx_after_accept",
    "private_stream_drop",
]

FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
"""The kinds every venue simulator supports."""

FaultScope = Literal["ws", "http", "order"]
"""What a kind's ``after_messages`` counts: WebSocket data frames, REST requests or order
requests (places and cancels)."""

_YEAR = 365 * 86_400.0
_MAX_COUNT = 2**63 - 1

_CONNECTION_KINDS = frozenset({"stall", "disconnect", "bad_json"})
_HTTP_KINDS = frozenset({"http_429", "http_5xx"})
ORDER_FAULT_KINDS: tuple[str, ...] = (
    "order_ack_lost",
    "order_response_lost",
    "order_5xx_after_accept",
    "private_stream_drop",
)
"""The kinds about orders, decided through the matching engine (see the module docstring)."""


class FaultSpec(BaseModel):
    """One kind of fault and when it fires (see the module docstring).

    Whether ``kind`` exists is checked by the :class:`FaultPlan` holding the spec, since
    venues add kinds of their own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Only ever compared with a clock or a counter, so no size is harmful; bounded anyway (a
    # year, 2**63) so that every number a config holds has a range.
    at_seconds: list[Annotated[float, Field(le=_YEAR)]] = Field(default_factory=list)
    after_messages: list[Annotated[int, Field(le=_MAX_COUNT)]] = Field(default_factory=list)
    duration: float = Field(default=1.0, gt=0.0, le=3600.0, description="stall length in seconds")
    status: int = Field(default=503, ge=500, le=599, description="HTTP status for http_5xx")
    symbols: list[str] | None = Field(
        default=None, description="only frames of these venue symbols are eligible (WebSocket)"
    )
    max_count: int | None = Field(
        default=None, ge=1, le=_MAX_COUNT, description="stop after this many injections"
    )

    @model_validator(mode="after")
    def _has_trigger(self) -> FaultSpec:
        if self.rate == 0.0 and not self.at_seconds and not self.after_messages:
            raise ValueError(f"fault {self.kind!r} needs rate, at_seconds or after_messages")
        if any(t < 0 for t in self.at_seconds) or any(k < 0 for k in self.after_messages):
            raise ValueError("at_seconds and after_messages must not be negative")
        return self


class FaultPlan(BaseModel):
    """All faults of a run. An empty plan costs nothing on the send path.

    A venue with kinds of its own subclasses this and lists them in :attr:`venue_kinds`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    venue_kinds: ClassVar[Mapping[str, FaultScope]] = {}
    """Kinds a venue adds, with what their ``after_messages`` counts."""

    faults: list[FaultSpec] = Field(default_factory=list)

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        """Every kind a plan of this class accepts: the common ones, then the venue's."""
        return FAULT_KINDS + tuple(k for k in cls.venue_kinds if k not in FAULT_KINDS)

    @classmethod
    def scope(cls, kind: str) -> FaultScope:
        """What ``after_messages`` of ``kind`` counts."""
        if kind in _HTTP_KINDS:
            return "http"
        if kind in ORDER_FAULT_KINDS:
            return "order"
        return cls.venue_kinds.get(kind, "ws")

    @model_validator(mode="after")
    def _known_kinds(self) -> FaultPlan:
        known = self.kinds()
        for spec in self.faults:
            if spec.kind not in known:
                raise ValueError(f"unknown fault kind {spec.kind!r}; known: {', '.join(known)}")
        return self


class FaultTarget(Protocol):
    """What the injector needs from a WebSocket connection."""

    def emit(self, frame: DataFrame) -> None:
        """Send a data frame (releasing a frame held back for reordering after it)."""

    def holding(self, frame: DataFrame) -> bool:
        """Whether a frame of ``frame``'s channel and symbol is already held back."""

    def hold(self, frame: DataFrame) -> None:
        """Keep a frame back until the next frame of its channel and symbol."""

    def send_malformed(self) -> None:
        """Send the venue's truncated, unparseable frame."""

    def stall(self, seconds: float) -> None:
        """Send nothing for ``seconds``."""

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""


class _Armed:
    """A spec plus its trigger state (pending one-shots, injection count)."""

    __slots__ = ("count", "spec", "thresholds", "times")

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.times = sorted(spec.at_seconds)
        self.thresholds = sorted(spec.after_messages)
        self.count = 0

    def exhausted(self) -> bool:
        return self.spec.max_count is not None and self.count >= self.spec.max_count

    def eligible(self, symbol: str | None) -> bool:
        symbols = self.spec.symbols
        return symbols is None or symbol in symbols


class FaultInjector:
    """Applies a :class:`FaultPlan` to WebSocket frames and REST requests.

    Decisions come from one ``random.Random`` seeded by the run seed, so with a deterministic
    message sequence (one subscriber, say) the same faults hit the same messages every run.
    """

    def __init__(self, plan: FaultPlan, seed: int, start: float | None = None) -> None:
        self._rng = random.Random(f"{seed}:faults")
        self._start = time.monotonic() if start is None else start
        self._plan_type = type(plan)
        armed = [_Armed(spec) for spec in plan.faults]
        self._http = [a for a in armed if a.spec.kind in _HTTP_KINDS]
        self._connection = [a for a in armed if a.spec.kind in _CONNECTION_KINDS]
        self._timed_connection = [a for a in self._connection if a.times]
        kinds = plan.kinds()
        self._by_kind: dict[str, list[_Armed]] = {
            kind: [a for a in armed if a.spec.kind == kind] for kind in kinds
        }
        self.counts: dict[str, int] = dict.fromkeys(kinds, 0)
        self.ws_messages = 0
        self.http_requests = 0
        self.order_requests = 0

    def restart_clock(self) -> None:
        """Measure ``at_seconds`` from now (called when the simulator starts)."""
        self._start = time.monotonic()

    def _elapsed(self) -> float:
        return time.monotonic() - self._start

    def _fires(self, armed: _Armed, seen: int, elapsed: float, use_times: bool = True) -> bool:
        """Whether ``armed`` fires for the current message; consumes one-shot triggers."""
        if armed.exhausted():
            return False
        if use_times and armed.times and elapsed >= armed.times[0]:
            armed.times.pop(0)
        elif armed.thresholds and seen > armed.thresholds[0]:
            armed.thresholds.pop(0)
        elif not (armed.spec.rate and self._rng.random() < armed.spec.rate):
            return False
        armed.count += 1
        self.counts[armed.spec.kind] += 1
        return True

    def _any_fires(self, kind: str, symbol: str, seen: int, elapsed: float) -> bool:
        return any(
            armed.eligible(symbol) and self._fires(armed, seen, elapsed)
            for armed in self._by_kind[kind]
        )

    def deliver(self, target: FaultTarget, frame: DataFrame) -> None:
        """Send ``frame`` to ``target`` through whatever faults fire for it."""
        self.ws_messages += 1
        seen, elapsed, symbol = self.ws_messages, self._elapsed(), frame.symbol
        for armed in self._connection:
            # Timed connection faults belong to tick(), which hits every connection at once.
            if not armed.eligible(symbol) or not self._fires(armed, seen, elapsed, False):
                continue
            if _hit(target, armed.spec):
                return
        if frame.loss_detectable:
            if self._any_fires("drop", symbol, seen, elapsed):
                return
            if not target.holding(frame) and self._any_fires("reorder", symbol, seen, elapsed):
                target.hold(frame)
                return
        if frame.corruptible and self._any_fires("corrupt_checksum", symbol, seen, elapsed):
            frame = frame.corrupted()
        duplicate = self._any_fires("duplicate", symbol, seen, elapsed)
        target.emit(frame)
        if duplicate:
            target.emit(frame)

    def tick(self, targets: Iterable[FaultTarget]) -> None:
        """Fire the timed connection faults that are due, on every open connection."""
        if not self._timed_connection:
            return
        elapsed = self._elapsed()
        current: list[FaultTarget] | None = None
        for armed in self._timed_connection:
            while armed.times and elapsed >= armed.times[0] and not armed.exhausted():
                armed.times.pop(0)
                if current is None:
                    current = list(targets)
                for target in current:
                    armed.count += 1
                    self.counts[armed.spec.kind] += 1
                    _hit(target, armed.spec)

    def http_fault(self) -> FaultSpec | None:
        """Count one REST request; the ``http_429``/``http_5xx`` fault to answer it with, if
        any."""
        self.http_requests += 1
        seen, elapsed = self.http_requests, self._elapsed()
        for armed in self._http:
            if self._fires(armed, seen, elapsed):
                return armed.spec
        return None

    def count_order_request(self) -> None:
        """Count one order request (a place or a cancel): what the order kinds'
        ``after_messages`` is measured against."""
        self.order_requests += 1

    def fire(self, kind: str, symbol: str | None = None) -> FaultSpec | None:
        """Whether a venue's own fault ``kind`` fires now (for an event of ``symbol``).

        The venue calls this where the fault applies and carries it out itself; the injection
        is counted here. ``after_messages`` is measured against the count the kind's scope
        names (data frames already delivered, or REST requests already counted).

        Raises:
            ValueError: ``kind`` is not a kind of this run's plan class.
        """
        armed_list = self._by_kind.get(kind)
        if armed_list is None:
            raise ValueError(f"unknown fault kind {kind!r}")
        if not armed_list:
            return None
        scope = self._plan_type.scope(kind)
        if scope == "http":
            seen = self.http_requests
        elif scope == "order":
            seen = self.order_requests
        else:
            seen = self.ws_messages
        elapsed = self._elapsed()
        for armed in armed_list:
            if armed.eligible(symbol) and self._fires(armed, seen, elapsed):
                return armed.spec
        return None


def _hit(target: FaultTarget, spec: FaultSpec) -> bool:
    """Apply a connection fault to ``target``; True when nothing more may be sent now."""
    if spec.kind == "stall":
        target.stall(spec.duration)
        return True
    if spec.kind == "disconnect":
        target.abort()
        return True
    target.send_malformed()
    return False
