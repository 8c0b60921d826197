"""Kraken's book checksum, computed by the simulator's own code (never the Rust core's).

CRC32 (zlib/IEEE, unsigned) over the top ten asks (ascending) then the top ten bids
(descending), each level's price then qty written at the pair's precision with the ``.``
removed and leading zeros stripped. For a fixed-point integer that text is exactly its decimal
digits: ``0.5660`` at precision 4 is the integer 5660, and ``"0.5660"`` without the dot and the
leading zero is ``"5660"``. (Zero would strip to ``""``; a live level never has qty 0.)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from itertools import islice

from tradegw.sim.market import TOP, PairState, StepResult
from tradegw.sim.wire import Level

# TOP: the checksum covers the top ten levels a side whatever the subscribed depth, the same
# ten whose changes the market flags per step, which the cache in BookChecksum relies on.


def level_text(price: int, qty: int) -> str:
    """One level's part of the checksum string, from fixed-point integers."""
    return f"{price}{qty}"


def checksum(asks: Iterable[Level], bids: Iterable[Level]) -> int:
    """The checksum of asks ascending and bids descending; only the first ten of each count."""
    text = "".join([level_text(p, q) for p, q in islice(asks, TOP)])
    text += "".join([level_text(p, q) for p, q in islice(bids, TOP)])
    return zlib.crc32(text.encode("ascii"))


class BookChecksum:
    """The checksum of one market pair's book, kept cheap enough for every update frame.

    Every level's :func:`level_text` is kept current from the steps' full-book changes
    (:meth:`observe`), so a side's part of the checksum string is a join of ten cached strings
    rather than twenty int-to-text conversions, and it is rebuilt only after that side's top
    ten changed; zlib's running CRC then continues over the bids from the asks' CRC. Steps
    taken without :meth:`observe` (the market stepped directly, or nobody watching the book)
    are noticed through the book update id, and the cache is then rebuilt from the book.
    """

    __slots__ = (
        "_ask_crc",
        "_ask_texts",
        "_asks_stale",
        "_bid_bytes",
        "_bid_texts",
        "_bids_stale",
        "_state",
        "_synced",
        "_value",
    )

    def __init__(self, state: PairState) -> None:
        self._state = state
        self._ask_texts: dict[int, str] = {}
        self._bid_texts: dict[int, str] = {}
        self._synced = -1
        """The book update id the texts are current at (-1: to be rebuilt)."""
        self._asks_stale = self._bids_stale = True
        self._ask_crc = 0
        """CRC32 of the top ten asks' text."""
        self._bid_bytes = b""
        """The top ten bids' text."""
        self._value = 0

    def observe(self, result: StepResult) -> None:
        """Follow one step of the pair, in step order."""
        if self._synced < 0:
            return
        if not (result.bids or result.asks):
            if result.update_id != self._synced:
                self._synced = -1
            return
        if result.update_id != self._synced + 1:
            self._synced = -1
            return
        _apply(self._bid_texts, result.bids)
        _apply(self._ask_texts, result.asks)
        self._synced = result.update_id
        if result.bids_top_changed:
            self._bids_stale = True
        if result.asks_top_changed:
            self._asks_stale = True

    def value(self) -> int:
        """The checksum of the book as it is now."""
        st = self._state
        if self._synced != st.update_id:
            self._rebuild()
        if self._asks_stale:
            texts = self._ask_texts
            text = "".join([texts[p] for p in st.asks.prices[:TOP]])
            self._ask_crc = zlib.crc32(text.encode("ascii"))
        if self._bids_stale:
            texts = self._bid_texts
            text = "".join([texts[p] for p in st.bids.prices[-1 : -TOP - 1 : -1]])
            self._bid_bytes = text.encode("ascii")
        if self._asks_stale or self._bids_stale:
            self._value = zlib.crc32(self._bid_bytes, self._ask_crc)
            self._asks_stale = self._bids_stale = False
        return self._value

    def _rebuild(self) -> None:
        st = self._state
        self._ask_texts = {p: level_text(p, q) for p, q in st.asks.levels.items()}
        self._bid_texts = {p: level_text(p, q) for p, q in st.bids.levels.items()}
        self._synced = st.update_id
        self._asks_stale = self._bids_stale = True


def _apply(texts: dict[int, str], changes: list[Level]) -> None:
    for price, qty in changes:
        if qty:
            texts[price] = f"{price}{qty}"
        else:
            del texts[price]
