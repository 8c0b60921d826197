"""What the order entry counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class OrderEntryStats:
    """What the entry did since it was made."""

    submits: int = 0
    duplicate_submits: int = 0
    """Submits of a known client_order_id (answered from the ledger, nothing sent)."""
    refused_by_switch: int = 0
    """Submits and cancels the trading switch refused."""
    invalid: int = 0
    """Submits rejected by the checks (unknown venue or symbol, tick, lot, minimums)."""
    sends: int = 0
    """Order requests handed to a venue (``place`` calls)."""
    resends: int = 0
    """Of those, sends after a query proved the venue never got the earlier one."""
    unknown: int = 0
    """Sends whose answer left the order UNKNOWN."""
    queries: int = 0
    query_failures: int = 0
    """Queries and fills requests that could not say (retried with backoff)."""
    adopted: int = 0
    """Orders whose state a query settled."""
    cancels_sent: int = 0
    reports: int = 0
    """Private-stream updates received."""
    fills: int = 0
    """Fills recorded."""
    duplicate_fills: int = 0
    """Fills reported again (stream and REST recovery, a duplicated update): not applied."""
    duplicate_reports: int = 0
    """Updates repeating the state the order is in."""
    stale_reports: int = 0
    """Updates behind the order's state (a late ACK after FILLED): ignored."""
    foreign_reports: int = 0
    """Updates of orders this gateway did not place."""
    exec_reports: int = 0
    """ExecReports published."""
    placed: Counter[str] = field(default_factory=Counter)
    """By venue: orders sent to it (the first send of each; re-sends are :attr:`resends`)."""
    entered: Counter[tuple[str, str]] = field(default_factory=Counter)
    """By (venue, published state): orders that moved into that state (a REJECTED before
    sending included)."""
    venue_fills: Counter[str] = field(default_factory=Counter)
    """By venue: fills recorded."""
    last_fill: dict[str, LastFill] = field(default_factory=dict)
    """By venue: the last fill recorded."""


@dataclass(frozen=True, slots=True)
class LastFill:
    """A venue's last fill, as the console shows it."""

    symbol: str
    side: str
    qty: str
    price: str
    recorded_ns: int
    """Wall-clock ns when the gateway recorded it."""


__all__ = ["LastFill", "OrderEntryStats"]
