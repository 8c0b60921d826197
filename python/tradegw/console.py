"""The live console of ``tradegw run``: a line per venue, then the busiest books with their
best bid/ask, rates, checksums and latency, refreshed in place (rich). Ops view only: it
reads counters and the demo consumers' state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, TypeVar

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
        max_rows: int = 20,
    ) -> None:
        self._gw = gw
        self._consumers = consumers
        self._started = started
        self._enabled = enabled
        self._console = console or Console()
        self._max_rows = max_rows
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
        """One frame: a header line, a summary line per venue, then the busiest books."""
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
        statuses = {
            (venue, symbol): status
            for venue, p in gw.providers.items()
            for symbol, (status, _) in p.books().items()
        }
        lines: list[Text | Table] = [header]
        for venue in gw.providers:
            mine = [s for (v, _), s in statuses.items() if v == venue]
            synced = sum(s == "synced" for s in mine)
            health = "green" if synced == len(mine) else "yellow"
            lines.append(
                Text.assemble(
                    (f"  {venue:<9}", "bold"),
                    (f"books {synced}/{len(mine)} synced", health),
                    f"  frames {c.total('frames', venue)}",
                    f"  checksum ok {c.total('checksum_ok', venue)}",
                    f" failed {c.total('checksum_failed', venue)}",
                    f"  gaps {c.total('sequence_gaps', venue)}",
                    f"  resyncs {c.total('resyncs', venue)}",
                    f"  reconnects {c.total('reconnects', venue)}",
                    f"  dlq {c.total('dlq', venue)}",
                )
            )
        lines.append(self._book_table(statuses))
        return Group(*lines)

    def _book_table(self, statuses: dict[tuple[str, str], str]) -> Table:
        table = Table(expand=False, show_edge=False, pad_edge=False)
        columns = ("venue", "symbol", "book", "bid", "ask", "updates", "trades", "last", "ticker")
        for col in columns:
            table.add_column(col, justify="left" if col in ("venue", "symbol", "book") else "right")
        books = _handler(self._consumers, BookConsumer)
        tape = _handler(self._consumers, TapeConsumer)
        quotes = _handler(self._consumers, QuoteConsumer)

        def activity(key: tuple[str, str]) -> int:
            return (books.updates.get(key, 0) if books else 0) + (
                tape.trades.get(key, 0) if tape else 0
            )

        # Books that are not synced always show; the rest, busiest first, fill the table.
        keys = sorted(statuses, key=lambda k: (statuses[k] == "synced", -activity(k), k))
        shown = sorted(keys[: self._max_rows], key=lambda k: (statuses[k] == "synced", k))
        for key in shown:
            bid = ask = "-"
            updates = 0
            if books is not None and key in books.books:
                b = books.books[key]
                bb, ba = b.best_bid(), b.best_ask()
                bid = f"{bb[1]} @ {bb[0]}" if bb else "-"
                ask = f"{ba[1]} @ {ba[0]}" if ba else "-"
                updates = books.updates.get(key, 0)
            trades = tape.trades.get(key, 0) if tape else 0
            last = tape.last[key].price if tape and key in tape.last else "-"
            tick = quotes.tickers.get(key) if quotes else None
            status = statuses[key]
            table.add_row(
                key[0],
                key[1],
                Text(status, "green" if status == "synced" else "yellow"),
                bid,
                ask,
                str(updates),
                str(trades),
                last,
                f"{tick.bid} / {tick.ask}" if tick else "-",
            )
        if len(keys) > len(shown):
            table.caption = f"{len(keys) - len(shown)} quieter books not shown"
        return table


_H = TypeVar("_H", BookConsumer, TapeConsumer, QuoteConsumer)


def _handler(consumers: list[DemoConsumer], kind: type[_H]) -> _H | None:
    return next((c.handler for c in consumers if isinstance(c.handler, kind)), None)
