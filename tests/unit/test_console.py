"""The live console: one rendered frame shows the counters, latency and per-symbol state of
the gateway and the demo consumers."""

from __future__ import annotations

import asyncio
import io
import re
import time

from rich.console import Console

from tests.unit._factories import book_snapshot, book_status, book_update, ticker, trade
from tradegw._core import BookAssembler
from tradegw.config import GatewayConfig
from tradegw.console import LiveConsole
from tradegw.consumers.demo import BookConsumer, QuoteConsumer, TapeConsumer
from tradegw.gateway import Gateway
from tradegw.runner import DemoConsumer


def text_of(live: LiveConsole) -> str:
    """``live.render()`` as plain text, 160 columns wide."""
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(live.render())
    return out.getvalue()


def dummy_gateway(*venues: str) -> Gateway:
    """A real gateway whose adapters (Kraken unless told) point at a dead address (never
    started)."""
    sections = {
        venue: {"ws_url": "ws://127.0.0.1:1/v2", "rest_url": "http://127.0.0.1:1"}
        for venue in venues or ("kraken",)
    }
    if "coinbase" in sections:
        sections["coinbase"]["symbols"] = ["BTC-USD"]  # type: ignore[assignment]
    config = GatewayConfig.model_validate({"venues": sections, "telemetry": {"dlq_path": None}})
    return Gateway(config)


def add_books(gw: Gateway, venue: str, books: dict[str, tuple[str, BookAssembler]]) -> None:
    """Tracks ``books`` (canonical symbol -> (status, assembler)) in ``venue``'s provider."""
    provider = gw.providers[venue]
    for symbol, (status, asm) in books.items():
        provider.add_book(symbol, symbol, asm).status = status


def demo_consumers(gw: Gateway) -> list[DemoConsumer]:
    """The three demo consumers, subscribed to ``gw``."""
    return [
        DemoConsumer("books", "book", gw.subscribe(name="books"), BookConsumer()),
        DemoConsumer("tape", "tape", gw.subscribe(name="tape"), TapeConsumer()),
        DemoConsumer("quotes", "ticker", gw.subscribe(name="quotes"), QuoteConsumer()),
    ]


def test_render_real_gateway_shows_counters_and_latency() -> None:
    gw = dummy_gateway()
    consumers = demo_consumers(gw)
    c = gw.telemetry.counters
    c.inc("checksum_ok", "kraken", "BTC-USD", by=1234)
    c.inc("checksum_failed", "kraken", "BTC-USD", by=2)
    c.inc("resyncs_checksum", "kraken", by=2)
    c.inc("resyncs_gap", "kraken")
    c.inc("reconnects", "kraken")
    gw.telemetry.dlq.put(venue="kraken", reason="malformed", raw="x", trace_id="0" * 16)
    old = trade()
    old.ingest_ts = time.time_ns() - 5_000_000  # 5 ms ago
    gw.dispatcher.publish(old)
    for dc in consumers:
        while (ev := dc.sub.get_nowait()) is not None:
            dc.handler.on_event(ev)
    live = LiveConsole(gw, consumers, time.monotonic(), enabled=False)
    live.start()  # disabled: a no-op
    text = text_of(live)
    live.stop()
    assert "tradegw" in text
    assert "checksum ok 1234" in text
    assert "failed 2" in text
    assert "resyncs 3" in text
    assert "reconnects 1" in text
    assert "dlq 1" in text
    assert "verified 99.84%" in text  # 1234 of 1236
    # The consumers' lag, the metrics (none: the gateway never started), the ops events.
    assert "books: lag 0, coalesced 0, spilled 0" in text
    assert "metrics (no ops server)" in text
    p50 = int(text.split("latency p50 ")[1].split("us")[0])
    assert p50 >= 4800  # the 5 ms old trade, at ~3 % resolution
    for column in ("symbol", "book", "bid", "ask", "updates", "trades", "last", "ticker"):
        assert column in text
    assert gw.telemetry.counters.get("frames") == 0


def test_render_shows_symbols_books_trades_and_tickers() -> None:
    btc = BookAssembler("kraken", 1, 2, 10)
    btc.on_snapshot([("100.0", "1.5")], [("101.0", "2")], checksum=None)
    eth = BookAssembler("kraken", 2, 3, 10)
    gw = dummy_gateway()
    add_books(gw, "kraken", {"BTC-USD": ("synced", btc), "ETH-USD": ("resyncing", eth)})
    gw.telemetry.counters.inc("checksum_ok", "kraken", "BTC-USD", by=7)
    real = dummy_gateway()
    consumers = demo_consumers(real)
    books, tape, quotes = (dc.handler for dc in consumers)
    for ev in (
        book_snapshot("BTC-USD", bids=[("100.0", "1.5")], asks=[("101.0", "2")]),
        book_update("BTC-USD", bids=[("100.0", "1.25")]),
        book_update("BTC-USD", asks=[("101.0", "3")]),
        book_status("ETH-USD", state="resyncing", reason="gap"),
    ):
        books.on_event(ev)
    for i in range(3):
        tape.on_event(trade("BTC-USD", price=f"100.{i}", trade_id=str(i)))
    quotes.on_event(ticker("BTC-USD", bid="99.9", ask="100.1"))
    live = LiveConsole(gw, consumers, time.monotonic(), enabled=False)
    text = text_of(live)
    assert "checksum ok 7" in text
    rows = {
        (cells[0], cells[1]): cells[2:]
        for line in text.splitlines()
        if len(cells := [c.strip() for c in line.split("\u2502")]) == 9
    }
    assert rows[("kraken", "BTC-USD")] == [
        "synced",
        "1.25 @ 100.0",
        "3.00 @ 101.0",
        "2",
        "3",
        "100.2",
        "99.9 / 100.1",
    ]
    assert rows[("kraken", "ETH-USD")] == ["resyncing", "-", "-", "0", "0", "-", "-"]
    # Books that are not synced come first; a summary line per venue above the table.
    assert text.index("ETH-USD") < text.index("BTC-USD")
    assert "kraken   books 1/2 synced, 0 stale, 1 resyncing" in text


def test_render_groups_by_venue_and_shows_only_the_busiest_books() -> None:
    assemblers = {}
    for i in range(30):
        asm = BookAssembler("kraken", 1, 2, 10)
        asm.on_snapshot([("100.0", "1.5")], [("101.0", "2")], checksum=None)
        assemblers[f"S{i:02d}-USD"] = ("synced", asm)
    gw = dummy_gateway("coinbase", "kraken")
    add_books(gw, "kraken", assemblers)
    add_books(gw, "coinbase", {"S00-USD": ("resyncing", BookAssembler("kraken", 1, 2))})
    gw.telemetry.counters.inc("frames", "coinbase", by=5)
    consumers = demo_consumers(dummy_gateway())
    books = consumers[0].handler
    assert isinstance(books, BookConsumer)
    for i in range(30):
        for _ in range(i):  # S29 is the busiest
            books.updates[("kraken", f"S{i:02d}-USD")] = i
    live = LiveConsole(gw, consumers, time.monotonic(), enabled=False, max_rows=5)
    text = text_of(live)
    assert "kraken   books 30/30 synced" in text
    assert "coinbase books 0/1 synced, 0 stale, 1 resyncing  frames 5" in text
    shown = [line.split("\u2502")[:2] for line in text.splitlines() if "\u2502" in line]
    shown = [(v.strip(), s.strip()) for v, s in shown]
    # The unsynced book always shows; the busiest synced ones fill the rest.
    assert shown == [
        ("coinbase", "S00-USD"),
        ("kraken", "S26-USD"),
        ("kraken", "S27-USD"),
        ("kraken", "S28-USD"),
        ("kraken", "S29-USD"),
    ]
    assert "26 quieter books not shown" in text


async def test_enabled_console_starts_and_stops() -> None:
    gw = dummy_gateway()
    consumers = demo_consumers(gw)
    out = io.StringIO()
    live = LiveConsole(
        gw, consumers, time.monotonic(), console=Console(file=out, width=160, color_system=None)
    )
    live.start()
    await asyncio.sleep(0.3)  # at least one refresh
    live.stop()
    live.stop()  # idempotent
    assert "checksum ok 0" in out.getvalue()


def test_venue_health_counts_stale_books_and_the_rate_follows_the_frames() -> None:
    gw = dummy_gateway()
    asm = BookAssembler("kraken", 1, 2, 10)
    add_books(gw, "kraken", {"A-USD": ("synced", asm), "B-USD": ("resyncing", asm)})
    gw.providers["kraken"].book("B-USD").reason = "stale"  # type: ignore[union-attr]
    live = LiveConsole(gw, [], time.monotonic(), enabled=False)
    text = text_of(live)
    assert "books 1/2 synced, 1 stale, 0 resyncing" in text
    assert "0 msg/s" in text
    # A second later, 500 more frames: 500 msg/s (read from tradegw_frames_total).
    gw.telemetry.counters.inc("frames", "kraken", by=500)
    live._read_at -= 1.0
    live._frames_before = (live._frames_before[0] - 1.0, live._frames_before[1])  # type: ignore[index]
    text = text_of(live)
    rate = re.search(r"frames 500\s+(\d+) msg/s", text)
    assert rate is not None
    assert 400 < int(rate.group(1)) <= 500  # 500 frames over a bit more than a second
    gw.telemetry.ops.emit("book.resync", venue="kraken", symbol="B-USD", reason="stale")
    live._read_at -= 1.0
    assert "last: book.resync kraken B-USD stale" in text_of(live)
