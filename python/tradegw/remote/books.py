"""A remote consumer's books: never a diff applied to a book it cannot prove.

Every book message on the wire (BookSnapshot, BookUpdate, BookStatus of one venue and
symbol) carries ``Tradegw-Epoch`` and ``Tradegw-Seq`` ``n``, numbered 1, 2, 3, ... together
per book by the gateway's sink. The rule, per (venue, symbol):

1. A message of another epoch (the gateway restarted) breaks the chain; one with ``n`` at or
   below the last seen is a duplicate and is dropped; ``n`` more than one past the last is a
   gap (the messages between never arrived).
2. A BookSnapshot from the stream is a whole book: it is always adopted and delivered, and
   the book is *synced*. A pending snapshot request is forgotten.
3. While synced, a BookUpdate is applied and delivered only if it is the next message
   (``n`` = last + 1) and, once a diff's ``seq_provider`` is known, the next diff
   (``seq_provider`` = last + 1). Otherwise the book is *resyncing*: a snapshot is requested
   (``<prefix>.snapshot.<venue>.<symbol>``) and diffs are held, not delivered.
4. The held diffs must follow one another without a gap in ``n`` from the message that
   started the resync; a gap restarts the hold and the request. The reply is the book at
   the gateway when it answered, with the ``seq_provider`` ``U`` of the last diff in it.
   It is delivered as a BookSnapshot (``coalesced`` true, ``seq_provider`` None: like an
   in-process consumer's backlog snapshot), then held and later diffs with ``seq_provider``
   <= ``U`` are dropped (the snapshot has them) and the first one past ``U`` must be
   ``U`` + 1, and so on. Why this proves the book: every message the gateway published after
   answering has a larger ``n`` than the one that started the hold (the sink numbers in the
   order the provider published), so an unbroken chain holds all of them; a resync at the
   gateway would be a BookSnapshot in that chain (rule 2), never a diff numbered ``U`` + 1
   on another base.
5. A reply saying ``not_synced`` (the gateway is resyncing that book itself), a timeout or no
   responder: asked again with backoff (0.25 s doubling to 5 s) while the book waits for
   that request; the gateway's own next BookSnapshot ends the wait too.
6. BookStatus is always delivered.

A book no subscription wants is not tracked (no request is ever made for it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tradegw._core import OrderBook
from tradegw.errors import TradegwError
from tradegw.schema import BookSnapshot, BookUpdate, Event

MAX_HELD = 10_000
"""Diffs held for one resyncing book; past it the hold starts again from the next one."""

BookKey = tuple[str, str]
Requester = Callable[[str, str, int], None]
"""``(venue, symbol, token)``: ask the gateway for a snapshot; the answer comes back to
:meth:`RemoteBooks.on_reply` (or :meth:`RemoteBooks.on_no_reply`) with the same token."""


@dataclass
class BookStats:
    """What the books have seen (all books together)."""

    duplicates: int = 0
    """Book messages dropped because their ``n`` was seen already."""
    lost: int = 0
    """Book messages that never arrived (``n`` skipped)."""
    gaps: int = 0
    """Times a synced book could not be proven any more and resynced."""
    requests: int = 0
    """Snapshots asked for (each asked again with backoff until answered)."""
    replies_used: int = 0
    """Snapshot replies a book was rebuilt from."""
    stale_replies: int = 0
    """Replies that came after the book had synced otherwise (or were asked again)."""
    superseded: int = 0
    """Diffs dropped because the snapshot the book was rebuilt from includes them."""
    restarts: int = 0
    """Times a gateway's epoch changed under a book (the gateway restarted)."""


@dataclass
class _Book:
    venue: str
    symbol: str
    epoch: str | None = None
    n: int | None = None
    state: Literal["unknown", "synced", "resyncing"] = "unknown"
    u: int | None = None
    """``seq_provider`` of the last diff in the book; None when it came from the stream's
    snapshot and no diff followed yet (then the chain of ``n`` alone proves it)."""
    book: OrderBook | None = None
    template: BookSnapshot | None = None
    held: list[BookUpdate] = field(default_factory=list)
    token: int = 0
    resync_since: float = 0.0


class RemoteBooks:
    """The books of one remote client (see the module docstring)."""

    def __init__(self, request: Requester) -> None:
        self._request = request
        self._books: dict[BookKey, _Book] = {}
        self.stats = BookStats()

    def state(self, venue: str, symbol: str) -> str:
        """``unknown``, ``synced`` or ``resyncing``."""
        b = self._books.get((venue, symbol))
        return "unknown" if b is None else b.state

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        """The local book of (venue, symbol) as delivered so far, or None."""
        b = self._books.get((venue, symbol))
        return None if b is None else b.book

    def synced(self) -> list[BookKey]:
        """Every book now synced."""
        return [k for k, b in self._books.items() if b.state == "synced"]

    def on_message(self, event: Event, epoch: str, n: int) -> list[Event]:
        """One book message from the stream; returns what may be delivered now, in order."""
        key = (event.provider, event.symbol)
        b = self._books.get(key)
        if b is None:
            b = self._books[key] = _Book(*key)
        if b.epoch != epoch:
            if b.epoch is not None:
                self.stats.restarts += 1
            b.epoch, b.n = epoch, None
        elif b.n is not None and n <= b.n:
            self.stats.duplicates += 1
            return []
        continuous = b.n is not None and n == b.n + 1
        if b.n is not None and n > b.n + 1:
            self.stats.lost += n - b.n - 1
        b.n = n
        if isinstance(event, BookSnapshot):
            return self._adopt_stream_snapshot(b, event)
        if not continuous:
            self._resync(b)
        if not isinstance(event, BookUpdate):  # BookStatus
            return [event]
        if b.state == "synced":
            return self._apply_synced(b, event)
        self._hold(b, event)
        return []

    def _adopt_stream_snapshot(self, b: _Book, snap: BookSnapshot) -> list[Event]:
        if not self._load(b, snap):
            self._resync(b)
            return []
        b.state, b.u = "synced", None
        b.held.clear()
        b.token += 1  # a reply still on its way is not needed any more
        return [snap]

    def _apply_synced(self, b: _Book, diff: BookUpdate) -> list[Event]:
        seq = diff.seq_provider
        if b.u is not None and seq is not None:
            if seq <= b.u:
                self.stats.superseded += 1
                return []
            if seq != b.u + 1:
                self._resync(b)
                self._hold(b, diff)
                return []
        if not self._apply(b, diff):
            self._resync(b)
            return []
        b.u = seq if seq is not None else b.u
        return [diff]

    def _hold(self, b: _Book, diff: BookUpdate) -> None:
        if len(b.held) >= MAX_HELD:
            b.held.clear()
            self._resync(b, restart=True)
        b.held.append(diff)

    def _resync(self, b: _Book, *, restart: bool = False) -> None:
        """The chain is broken here: hold from this message on and ask for a snapshot."""
        if b.state == "synced":
            self.stats.gaps += 1
        if b.state != "resyncing":
            b.resync_since = time.monotonic()
        b.state = "resyncing"
        if not restart:
            b.held.clear()
        b.token += 1
        self.stats.requests += 1
        self._request(b.venue, b.symbol, b.token)

    def waiting(self, venue: str, symbol: str, token: int) -> bool:
        """Whether the book still waits for the snapshot asked for with ``token``."""
        b = self._books.get((venue, symbol))
        return b is not None and b.state == "resyncing" and token == b.token

    def on_reply(
        self, venue: str, symbol: str, token: int, epoch: str | None, snap: BookSnapshot, u: int
    ) -> list[Event]:
        """The gateway's snapshot for request ``token``, at diff ``u``; returns what may be
        delivered now."""
        b = self._books.get((venue, symbol))
        if b is None or b.state != "resyncing" or token != b.token:
            self.stats.stale_replies += 1
            return []
        if epoch != b.epoch or not self._load(b, snap):
            # The gateway restarted since the hold began, or the snapshot is unusable: ask
            # again; the held chain still stands.
            self._resync(b, restart=True)
            return []
        self.stats.replies_used += 1
        snap.seq_provider = None
        snap.coalesced = True
        out: list[Event] = [snap]
        b.state, b.u = "synced", u
        held, b.held = b.held, []
        for i, diff in enumerate(held):
            seq = diff.seq_provider
            if seq is not None and seq <= u:
                self.stats.superseded += 1
                continue
            if seq is None or seq != b.u + 1 or not self._apply(b, diff):
                self._resync(b)
                b.held = held[i:]
                break
            b.u = seq
            out.append(diff)
        return out

    def _load(self, b: _Book, snap: BookSnapshot) -> bool:
        try:
            book = OrderBook(snap.price_precision or 0, snap.qty_precision or 0, snap.depth)
            book.apply_snapshot(snap.bids, snap.asks)
        except (TradegwError, ValueError, TypeError, OverflowError):
            return False
        b.book = book
        b.template = snap
        return True

    def _apply(self, b: _Book, diff: BookUpdate) -> bool:
        if b.book is None:
            return False
        try:
            b.book.apply(diff.bids, diff.asks)
        except (TradegwError, ValueError, TypeError, OverflowError):
            return False
        return True

    def snapshot(self, venue: str, symbol: str) -> BookSnapshot | None:
        """A fresh snapshot of a synced local book (for a local consumer that fell behind),
        or None."""
        b = self._books.get((venue, symbol))
        if b is None or b.state != "synced" or b.book is None or b.template is None:
            return None
        t = b.template
        bids, asks = b.book.top(t.depth if t.depth is not None else 1_000_000)
        return BookSnapshot(
            provider=venue,
            symbol=symbol,
            venue_symbol=t.venue_symbol,
            seq_provider=None,
            exchange_ts=None,
            ingest_ts=time.time_ns(),
            trace_id=t.trace_id,
            bids=bids,
            asks=asks,
            depth=t.depth,
            price_precision=t.price_precision,
            qty_precision=t.qty_precision,
            coalesced=True,
        )
