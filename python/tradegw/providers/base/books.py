"""One (venue, symbol) book as a provider tracks it: its assembler and its health.

The assembler (``_core.BookAssembler``) proves the book; this module keeps what the provider
adds around it: the state consumers are told (``synced``/``resyncing`` with a reason), when a
resync was asked for and when the book was last refreshed, and the token that ties a snapshot
request to the assembler's epoch so that a late answer is never applied to a newer book.
"""

from __future__ import annotations

from tradegw._core import BookAssembler
from tradegw.schema import Level, ResyncReason

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
        "status",
        "symbol",
        "synced_at",
        "view",
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
        self.synced_at = 0.0
        self.last_update = 0.0
        self.view: tuple[list[Level], list[Level]] | None = None
        """The top of the book as last published (venues whose diffs cover the whole book
        publish the change of this view, see :func:`view_diff`)."""

    def replace_assembler(self, asm: BookAssembler) -> None:
        """Starts over with a fresh assembler; answers to earlier requests become stale."""
        self.asm = asm
        self.price_places = asm.book.price_precision
        self.qty_places = asm.book.qty_precision
        self.generation += 1
        self.view = None

    def token(self) -> SnapshotToken:
        """Identifies the assembler and its epoch at the time a snapshot is requested."""
        return (self.generation, self.asm.epoch)

    def is_current(self, token: SnapshotToken) -> bool:
        """Whether a snapshot requested under ``token`` may still be applied."""
        return token == (self.generation, self.asm.epoch)


def view_diff(
    before: tuple[list[Level], list[Level]], after: tuple[list[Level], list[Level]]
) -> tuple[list[Level], list[Level]]:
    """The levels that turn view ``before`` into view ``after`` (qty ``"0"`` removes).

    A consumer that applies the result to its copy of ``before`` and truncates to the view's
    depth holds ``after``: levels that left the view are deleted, levels that entered it from
    below (because better ones went away) are added. This is what Kraken's depth-limited
    diffs carry natively; Binance and Coinbase diffs cover the whole book instead.
    """
    return _side_diff(before[0], after[0]), _side_diff(before[1], after[1])


def _side_diff(before: list[Level], after: list[Level]) -> list[Level]:
    old = dict(before)
    new = dict(after)
    out = [(p, "0") for p in old if p not in new]
    out.extend((p, q) for p, q in after if old.get(p) != q)
    return out
