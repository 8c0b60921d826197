"""One (venue, symbol) book as a provider tracks it: its assembler and its health.

The assembler (``_core.BookAssembler``) proves the book; this module keeps what the provider
adds around it: the state consumers are told (``synced``/``resyncing`` with a reason), when a
resync was asked for and when the book was last refreshed, and the token that ties a snapshot
request to the assembler's epoch so that a late answer is never applied to a newer book.
"""

from __future__ import annotations

from tradegw._core import BookAssembler
from tradegw.schema import ResyncReason

SnapshotToken = tuple[int, int]
"""``(generation, epoch)`` a snapshot was requested under; see :meth:`TrackedBook.token`."""


class TrackedBook:
    """One symbol's book and its health."""

    __slots__ = (
        "asm",
        "canonical",
        "generation",
        "last_update",
        "price_places",
        "qty_places",
        "reason",
        "resync_deadline",
        "resyncing_since",
        "status",
        "symbol",
        "synced_at",
    )

    def __init__(self, symbol: str, canonical: str, asm: BookAssembler) -> None:
        self.symbol = symbol
        """The venue's own symbol (``BTC/USD``, ``BTCUSDT``, ``BTC-USD``)."""
        self.canonical = canonical
        """The canonical symbol consumers see (``BTC-USD``)."""
        self.asm = asm
        self.price_places = asm.book.price_precision
        """The instrument's price decimals (trades and tickers are checked against them)."""
        self.qty_places = asm.book.qty_precision
        self.generation = 0
        """Bumped whenever the assembler is replaced (a new connection, new precisions)."""
        self.status = "resyncing"
        self.reason: ResyncReason | None = None
        self.resync_deadline = 0.0
        self.resyncing_since = 0.0
        """When the book last left ``synced`` (monotonic seconds; 0.0: never synced yet)."""
        self.synced_at = 0.0
        self.last_update = 0.0

    def replace_assembler(self, asm: BookAssembler) -> None:
        """Starts over with a fresh assembler; answers to earlier requests become stale."""
        self.asm = asm
        self.price_places = asm.book.price_precision
        self.qty_places = asm.book.qty_precision
        self.generation += 1

    def token(self) -> SnapshotToken:
        """Identifies the assembler and its epoch at the time a snapshot is requested."""
        return (self.generation, self.asm.epoch)

    def is_current(self, token: SnapshotToken) -> bool:
        """Whether a snapshot requested under ``token`` may still be applied."""
        return token == (self.generation, self.asm.epoch)
