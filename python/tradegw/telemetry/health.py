"""``/healthz``: whether every configured feed is synced and fresh, and if not, why.

Computed from the providers' state at the moment of the request (not from a watchdog's last
tick), so it turns unhealthy as soon as a connection has been quiet for its venue's
``stale_after_s``, or a book for ``book_stale_after_s`` where that is set, and healthy again
once every book of every feed is synced.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tradegw.telemetry.prometheus import book_state

if TYPE_CHECKING:
    from tradegw.gateway import Gateway

__all__ = ["MAX_PROBLEMS", "health"]

MAX_PROBLEMS = 20
"""Problems listed in the body at most (the count says how many there are)."""


def health(gw: Gateway, now: float | None = None) -> tuple[bool, dict[str, Any]]:
    """``(healthy, body)``: healthy when every enabled venue is connected, its connection
    fresh and every one of its books synced (and fresh, where ``book_stale_after_s`` is set).
    ``body`` has ``status`` (``ok`` or ``unhealthy``), per venue its book counts by state, and
    ``problems``, each naming the venue (and symbol) and saying what is wrong."""
    now = time.monotonic() if now is None else now
    problems: list[dict[str, Any]] = []
    venues: dict[str, dict[str, Any]] = {}
    for venue, provider in gw.providers.items():
        cfg = provider.config
        counts = {"synced": 0, "resyncing": 0, "stale": 0}
        books = provider.tracked_books()
        for book in books:
            state = book_state(book.status, book.reason)
            counts[state] += 1
            if state != "synced":
                problems.append(
                    {
                        "venue": venue,
                        "symbol": book.canonical,
                        "problem": state,
                        "reason": book.reason,
                    }
                )
            elif cfg.book_stale_after_s is not None:
                quiet = now - max(book.last_update, book.synced_at)
                if quiet > cfg.book_stale_after_s:
                    problems.append(
                        {
                            "venue": venue,
                            "symbol": book.canonical,
                            "problem": "book quiet",
                            "quiet_s": round(quiet, 3),
                        }
                    )
        connected = provider.is_connected
        quiet_s = provider.quiet_s(now) if connected else None
        venues[venue] = {"connected": connected, "books": len(books), **counts}
        if not connected:
            problems.insert(0, {"venue": venue, "problem": "not connected"})
        elif quiet_s is not None and quiet_s > cfg.stale_after_s:
            problems.insert(
                0, {"venue": venue, "problem": "feed quiet", "quiet_s": round(quiet_s, 3)}
            )
        if not books:
            problems.append({"venue": venue, "problem": "no books yet"})
    healthy = not problems and bool(venues)
    if not venues:
        problems.append({"problem": "no venue configured"})
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unhealthy",
        "venues": venues,
        "problems": problems[:MAX_PROBLEMS],
        "problems_total": len(problems),
    }
    return healthy, body
