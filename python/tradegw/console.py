"""The live console of ``tradegw run``: books, rates, checksums and latency, refreshed in
place (rich). Ops view only: it reads counters and the demo consumers' state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tradegw.consumers.demo import BookConsumer, QuoteConsumer, TapeConsumer
from tradegw.telemetry import LatencyHistogram

if TYPE_CHECKING:
    from tradegw.gateway import Gateway
    from tradegw.runner import DemoConsumer

_REFRESH_S = 0.25


class LiveConsole:
    """Renders the gateway's state about four times a second while the run lasts."""

    def __init__(
        self,
        gw: Gateway,
        consumers: list[DemoConsumer],
        started: float,
        *,
        enabled: bool = True,
        console: Console | None = None,
    ) -> None:
        self._gw = gw
        self._consumers = consumers
        self._started = started
        self._enabled = enabled
        self._console = console or Console()
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None
        self._last = (time.monotonic(), 0)
        self._rate = 0.0

    def start(self) -> None:
        """Starts refreshing (no-op when disabled)."""
        if not self._enabled:
            return
        self._live = Live(
            self.render(), console=self._console, refresh_per_second=4, transient=False
        )
        self._live.start()
        self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH_S)
            if self._live is not None:
                self._live.update(self.render())

    def stop(self) -> None:
        """Draws the last frame and stops."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._live is not None:
            with contextlib.suppress(Exception):
                self._live.update(self.render())
            self._live.stop()
            self._live = None

    def render(self) -> Group:
        """One frame: a header line and the per-symbol table."""
        gw = self._gw
        c = gw.telemetry.counters
        now = time.monotonic()
        frames = c.get("frames")
        t0, f0 = self._last
        if now - t0 >= 1.0:
            self._rate = (frames - f0) / (now - t0)
            self._last = (now, frames)
        latency = LatencyHistogram()
        for consumer in self._consumers:
            latency.merge(consumer.sub.stats.latency)
        lat = latency.summary_us()
        header = Text.assemble(
            ("tradegw ", "bold"),
            f"{now - self._started:6.1f}s  ",
            (f"{self._rate:8.0f} msg/s  ", "cyan"),
            ("checksum ok ", ""),
            (f"{c.get('checksum_ok')}", "green"),
            "  failed ",
            (f"{c.get('checksum_failed')}", "red" if c.get("checksum_failed") else "green"),
            f"  resyncs {c.get('resyncs')}  reconnects {c.get('reconnects')}",
            f"  dlq {gw.telemetry.dlq.count}",
            f"  latency p50 {lat['p50']:.0f}us p99 {lat['p99']:.0f}us",
        )
        table = Table(expand=False, show_edge=False, pad_edge=False)
        for col in ("symbol", "book", "bid", "ask", "updates", "trades", "last", "ticker bid/ask"):
            table.add_column(col, justify="right" if col not in ("symbol", "book") else "left")
        books = next(
            (x.handler for x in self._consumers if isinstance(x.handler, BookConsumer)), None
        )
        tape = next(
            (x.handler for x in self._consumers if isinstance(x.handler, TapeConsumer)), None
        )
        quotes = next(
            (x.handler for x in self._consumers if isinstance(x.handler, QuoteConsumer)), None
        )
        statuses = {s: st for p in gw.providers.values() for s, (st, _) in p.books().items()}
        for symbol in sorted(statuses):
            bid = ask = "-"
            updates = 0
            if books is not None and symbol in books.books:
                b = books.books[symbol]
                bb, ba = b.best_bid(), b.best_ask()
                bid = f"{bb[1]} @ {bb[0]}" if bb else "-"
                ask = f"{ba[1]} @ {ba[0]}" if ba else "-"
                updates = books.updates.get(symbol, 0)
            trades = tape.trades.get(symbol, 0) if tape else 0
            last = tape.last[symbol].price if tape and symbol in tape.last else "-"
            tick = quotes.tickers.get(symbol) if quotes else None
            status = statuses.get(symbol, "-")
            table.add_row(
                symbol,
                Text(status, "green" if status == "synced" else "yellow"),
                bid,
                ask,
                str(updates),
                str(trades),
                last,
                f"{tick.bid} / {tick.ask}" if tick else "-",
            )
        return Group(header, table)
