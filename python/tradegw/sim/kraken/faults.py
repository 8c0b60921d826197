"""Fault injection: what can go wrong on the wire, when, and how often it did.

A run's :class:`FaultPlan` lists :class:`FaultSpec` entries. Each names a kind and one or more
triggers:

* ``rate`` - a probability per eligible message (WebSocket data frame or REST request);
* ``at_seconds`` - one shot per listed time, measured from the simulator's start;
* ``after_messages`` - one shot per listed ``k``: fires on the first eligible message once
  ``k`` messages have gone by (``0`` means the very first). WebSocket kinds count data frames
  sent over all connections; HTTP kinds count REST requests.

Kinds and what is eligible for them:

========================  ================================================================
``drop``                  a book *update* that changed the top ten (so the client's next
                          checksum must fail) is not sent, although the market applied it
``duplicate``             any data frame is sent twice
``reorder``               a book update is held back and sent after the next book frame of
                          the same symbol on that connection (two frames swapped)
``corrupt_checksum``      a book snapshot or update goes out with a wrong checksum
``stall``                 the connection goes silent for ``duration`` seconds: nothing at all
                          is sent (no heartbeats, no acks) and what the market did meanwhile
                          is lost to that client
``disconnect``            the socket is closed abruptly (no close frame)
``bad_json``              a malformed text frame is sent before the data frame
``http_429``              a REST request is answered 429 ``EAPI:Rate limit exceeded``
``http_5xx``              a REST request is answered with ``status`` (default 503)
========================  ================================================================

``stall``, ``disconnect`` and ``bad_json`` given by ``at_seconds`` hit every connection open
at that moment; with ``rate``/``after_messages`` they hit the connection whose frame is being
sent. :attr:`FaultInjector.counts` counts every injection (per connection hit), so a test can
check that a gateway noticed each one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradegw.sim.kraken.wire import BAD_JSON, DataFrame

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
]

FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)

_CONNECTION_KINDS = frozenset({"stall", "disconnect", "bad_json"})
_HTTP_KINDS = frozenset({"http_429", "http_5xx"})


class FaultSpec(BaseModel):
    """One kind of fault and when it fires (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    at_seconds: list[float] = Field(default_factory=list)
    after_messages: list[int] = Field(default_factory=list)
    duration: float = Field(default=1.0, gt=0.0, description="stall length in seconds")
    status: int = Field(default=503, ge=500, le=599, description="HTTP status for http_5xx")
    symbols: list[str] | None = Field(
        default=None, description="only frames of these symbols are eligible (WebSocket kinds)"
    )
    max_count: int | None = Field(default=None, ge=1, description="stop after this many injections")

    @model_validator(mode="after")
    def _has_trigger(self) -> FaultSpec:
        if self.rate == 0.0 and not self.at_seconds and not self.after_messages:
            raise ValueError(f"fault {self.kind!r} needs rate, at_seconds or after_messages")
        if any(t < 0 for t in self.at_seconds) or any(k < 0 for k in self.after_messages):
            raise ValueError("at_seconds and after_messages must not be negative")
        return self


class FaultPlan(BaseModel):
    """All faults of a run. An empty plan costs nothing on the send path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: list[FaultSpec] = Field(default_factory=list)


class FaultTarget(Protocol):
    """What the injector needs from a WebSocket connection."""

    def emit(self, frame: DataFrame) -> None:
        """Send a data frame (releasing a frame held back for reordering after it)."""

    def holding(self, symbol: str) -> bool:
        """Whether a book frame of ``symbol`` is already held back."""

    def hold(self, frame: DataFrame) -> None:
        """Keep a book update back until the next book frame of its symbol."""

    def send_raw(self, payload: bytes) -> None:
        """Send a text frame as is."""

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


class FaultInjector:
    """Applies a :class:`FaultPlan` to WebSocket frames and REST requests.

    Decisions come from one ``random.Random`` seeded by the run seed, so with a deterministic
    message sequence (one subscriber, say) the same faults hit the same messages every run.
    """

    def __init__(self, plan: FaultPlan, seed: int, start: float | None = None) -> None:
        self._rng = random.Random(f"{seed}:faults")
        self._start = time.monotonic() if start is None else start
        armed = [_Armed(spec) for spec in plan.faults]
        self._http = [a for a in armed if a.spec.kind in _HTTP_KINDS]
        self._connection = [a for a in armed if a.spec.kind in _CONNECTION_KINDS]
        self._timed_connection = [a for a in self._connection if a.times]
        self._by_kind = {
            kind: [a for a in armed if a.spec.kind == kind]
            for kind in ("drop", "reorder", "corrupt_checksum", "duplicate")
        }
        self.counts: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self.ws_messages = 0
        self.http_requests = 0

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

    def _eligible(self, armed: _Armed, frame: DataFrame) -> bool:
        symbols = armed.spec.symbols
        return symbols is None or frame.symbol in symbols

    def deliver(self, target: FaultTarget, frame: DataFrame) -> None:
        """Send ``frame`` to ``target`` through whatever faults fire for it."""
        self.ws_messages += 1
        seen, elapsed = self.ws_messages, self._elapsed()
        for armed in self._connection:
            # Timed connection faults belong to tick(), which hits every connection at once.
            if not self._eligible(armed, frame) or not self._fires(armed, seen, elapsed, False):
                continue
            kind = armed.spec.kind
            if kind == "stall":
                target.stall(armed.spec.duration)
                return
            if kind == "disconnect":
                target.abort()
                return
            target.send_raw(BAD_JSON)
        if frame.update and frame.top_changed:
            if self._any_fires("drop", frame, seen, elapsed):
                return
            if not target.holding(frame.symbol) and self._any_fires(
                "reorder", frame, seen, elapsed
            ):
                target.hold(frame)
                return
        if frame.checksum is not None and self._any_fires("corrupt_checksum", frame, seen, elapsed):
            frame = frame.with_wrong_checksum()
        duplicate = self._any_fires("duplicate", frame, seen, elapsed)
        target.emit(frame)
        if duplicate:
            target.emit(frame)

    def _any_fires(self, kind: str, frame: DataFrame, seen: int, elapsed: float) -> bool:
        return any(
            self._eligible(armed, frame) and self._fires(armed, seen, elapsed)
            for armed in self._by_kind[kind]
        )

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
                    if armed.spec.kind == "stall":
                        target.stall(armed.spec.duration)
                    elif armed.spec.kind == "disconnect":
                        target.abort()
                    else:
                        target.send_raw(BAD_JSON)

    def http_fault(self) -> FaultSpec | None:
        """The fault to answer the current REST request with, if any."""
        self.http_requests += 1
        seen, elapsed = self.http_requests, self._elapsed()
        for armed in self._http:
            if self._fires(armed, seen, elapsed):
                return armed.spec
        return None
