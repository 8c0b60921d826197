"""``/healthz`` decided from the providers' state at the moment it is asked."""

from __future__ import annotations

import time

import pytest

from tests.unit.test_console import add_books, dummy_gateway
from tradegw._core import BookAssembler
from tradegw.telemetry.health import health

pytestmark = pytest.mark.timeout(10)


class _Connected:
    """Stands in for a live connection."""

    def disconnect(self) -> None:
        pass


def test_unhealthy_until_connected_and_synced_then_stale_when_quiet() -> None:
    gw = dummy_gateway()
    provider = gw.providers["kraken"]
    ok, body = health(gw)
    assert not ok
    assert body["status"] == "unhealthy"
    assert [p["problem"] for p in body["problems"]] == ["not connected", "no books yet"]
    asm = BookAssembler("kraken", 1, 2, 10)
    add_books(gw, "kraken", {"BTC-USD": ("synced", asm), "ETH-USD": ("resyncing", asm)})
    provider._transport = _Connected()  # type: ignore[assignment]
    now = time.monotonic()
    provider._last_rx = now
    ok, body = health(gw, now)
    assert not ok
    assert body["problems"] == [
        {"venue": "kraken", "symbol": "ETH-USD", "problem": "resyncing", "reason": None}
    ]
    provider.book("ETH-USD").status = "synced"  # type: ignore[union-attr]
    ok, body = health(gw, now)
    assert ok
    assert body == {
        "status": "ok",
        "venues": {
            "kraken": {"connected": True, "books": 2, "synced": 2, "resyncing": 0, "stale": 0}
        },
        "problems": [],
        "problems_total": 0,
    }
    # Quiet for longer than stale_after_s (5 s): unhealthy at once, before any watchdog.
    ok, body = health(gw, now + 5.1)
    assert not ok
    assert body["problems"][0] == {"venue": "kraken", "problem": "feed quiet", "quiet_s": 5.1}


def test_a_quiet_book_is_a_problem_where_book_staleness_is_configured() -> None:
    gw = dummy_gateway()
    provider = gw.providers["kraken"]
    provider.config = provider.config.model_copy(update={"book_stale_after_s": 2.0})
    add_books(gw, "kraken", {"BTC-USD": ("synced", BookAssembler("kraken", 1, 2, 10))})
    provider._transport = _Connected()  # type: ignore[assignment]
    now = time.monotonic()
    provider._last_rx = now
    book = provider.book("BTC-USD")
    assert book is not None
    book.synced_at = book.last_update = now - 3.0
    ok, body = health(gw, now)
    assert not ok
    assert body["problems"] == [
        {"venue": "kraken", "symbol": "BTC-USD", "problem": "book quiet", "quiet_s": 3.0}
    ]
