"""What a merge is: one canonical symbol, the venues whose books it consolidates, and when
its windows close."""

from __future__ import annotations

import math
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from tradegw.providers.registry import venue_names

SYMBOL_PATTERN: Final = r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$"
"""A canonical symbol: ``BASE-QUOTE`` in capitals and digits (``BTC-USD``, ``SYM17-USD``)."""
MERGE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
"""A merge id: up to 64 letters, digits and ``._:-``, starting with a letter or digit (it
appears in log lines and metric labels, so nothing that needs quoting)."""

MIN_VENUES: Final = 2
"""A merge of one venue would be that venue's book again."""
MAX_WINDOW_S: Final = 3600.0
"""Longest window: an hour (longer ones would hold a timer the operator has forgotten)."""
MAX_EVENTS_LIMIT: Final = 10_000_000
"""Largest ``max_events``."""
MAX_DEPTH: Final = 1000
"""Largest ``depth``: the deepest book a venue adapter keeps."""

_SYMBOL_RE: Final = re.compile(SYMBOL_PATTERN)
_MERGE_ID_RE: Final = re.compile(MERGE_ID_PATTERN)


def new_merge_id(symbol: str) -> str:
    """A fresh merge id for ``symbol``: ``m-BTC-USD-9c41e07a`` (random, so that an id a
    consumer kept from before a restart never names a new merge)."""
    return f"m-{symbol}-{secrets.token_hex(4)}"


def _whole(name: str, value: object, low: int, high: int) -> int:
    # bool is an int subclass: True must not pass as a count of 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r:.40}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class MergeSpec:
    """One configured merge, validated on construction.

    Raises:
        ValueError: a field is out of range or of the wrong type; the message starts with
            the field's name.
    """

    merge_id: str
    """Names the merge in its events (``merge_id``), logs and counters."""
    symbol: str
    """The canonical symbol merged, e.g. ``BTC-USD``."""
    venues: frozenset[str]
    """The venues whose books are consolidated; each must send a fragment in a window and
    have its book synced at the close, or the window is suppressed."""
    window_s: float = 10.0
    """A window closes this long after the fragment that opened it..."""
    max_events: int = 1000
    """...or on its ``max_events``-th fragment, whichever comes first."""
    depth: int = 10
    """Levels per side of the consolidated book."""

    def __post_init__(self) -> None:
        # The symbol first: a generated merge_id is made from it.
        if not isinstance(self.symbol, str) or not _SYMBOL_RE.match(self.symbol):
            raise ValueError(
                f"symbol must be a canonical symbol like BTC-USD, got {self.symbol!r:.80}"
            )
        if not isinstance(self.merge_id, str) or not _MERGE_ID_RE.match(self.merge_id):
            raise ValueError(f"merge_id must match {MERGE_ID_PATTERN}, got {self.merge_id!r:.80}")
        object.__setattr__(self, "venues", _venue_set(self.venues))
        window = self.window_s
        if isinstance(window, bool) or not isinstance(window, int | float):
            raise ValueError(f"window_s must be a number of seconds, got {window!r:.40}")
        if not math.isfinite(window) or not 0 < window <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be > 0 and <= {MAX_WINDOW_S:g}, got {window}")
        object.__setattr__(self, "window_s", float(window))
        # Every venue must send a fragment into a window: with fewer fragments than venues
        # every window would close by count partial, and be suppressed.
        _whole("max_events", self.max_events, len(self.venues), MAX_EVENTS_LIMIT)
        _whole("depth", self.depth, 1, MAX_DEPTH)


def _venue_set(venues: Iterable[str]) -> frozenset[str]:
    # A string is iterable too: "kraken" would become the venues k, r, a, e, n.
    if isinstance(venues, str | bytes) or not isinstance(venues, Iterable):
        raise ValueError(f"venues must be a collection of venue names, got {venues!r:.80}")
    names = list(venues)
    if not all(isinstance(v, str) for v in names):
        raise ValueError(f"venues must be venue names (strings), got {names!r:.80}")
    twice = sorted(v for v, n in Counter(names).items() if n > 1)
    if twice:
        raise ValueError(f"venues lists {twice} more than once")
    unknown = sorted(set(names) - set(venue_names()))
    if unknown:
        raise ValueError(f"venues {unknown} are unknown; known: {list(venue_names())}")
    if len(names) < MIN_VENUES:
        raise ValueError(f"venues must name at least {MIN_VENUES} venues, got {sorted(names)}")
    return frozenset(names)
