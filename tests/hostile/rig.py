"""A gateway on one venue's simulator with the hostile proxies in between, and the consumers
whose view the attacks must not spoil."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.hostile.proxy import RestProxy, WsProxy
from tests.hostile.venues import VenueFacts
from tests.integration._loopback import book_mismatches, settle, stop_rig, wait_for
from tradegw.config import GatewayConfig
from tradegw.consumers.demo import BookConsumer
from tradegw.gateway import Gateway
from tradegw.schema import BookStatus, Event, Ticker, Trade
from tradegw.sim.registry import load_venue
from tradegw.sim.server import VenueSimulator

DEPTH = 10
SANE_MAGNITUDE = Decimal(10) ** 15
"""Above any price or quantity the simulators (or real spot markets) produce."""


@dataclass
class Seen:
    """Everything non-book the consumers received, kept for the assertions."""

    trades: list[Trade] = field(default_factory=list)
    tickers: list[Ticker] = field(default_factory=list)
    statuses: list[BookStatus] = field(default_factory=list)
    symbols: set[tuple[str, str]] = field(default_factory=set)

    def on_event(self, event: Event) -> None:
        self.symbols.add((event.provider, event.symbol))
        if isinstance(event, Trade):
            self.trades.append(event)
        elif isinstance(event, Ticker):
            self.tickers.append(event)
        elif isinstance(event, BookStatus):
            self.statuses.append(event)


@dataclass
class Rig:
    facts: VenueFacts
    sim: VenueSimulator[Any]
    ws: WsProxy
    rest: RestProxy
    gw: Gateway
    books: BookConsumer
    seen: Seen
    tasks: list[asyncio.Task[None]]

    @property
    def venue(self) -> str:
        return self.facts.name

    def counter(self, name: str) -> int:
        return self.gw.telemetry.counters.total(name, self.venue)

    def canonical(self, symbol: str) -> str:
        book = self.gw.providers[self.venue].book(symbol)
        assert book is not None, symbol
        return book.canonical

    def all_synced(self) -> bool:
        statuses = self.gw.providers[self.venue].books().values()
        return len(statuses) == len(self.facts.pairs) and all(s == "synced" for s, _ in statuses)

    def trades_of(self, symbol: str) -> list[Trade]:
        name = self.canonical(symbol)
        return [t for t in self.seen.trades if t.symbol == name]

    async def until_synced(self, within_s: float = 10.0) -> None:
        assert await wait_for(self.all_synced, within_s), self.gw.providers[self.venue].books()

    async def books_match(self, within_s: float = 8.0) -> list[str]:
        """Freezes the market and waits until every consumer book equals the simulator's;
        returns the symbols that did not."""
        return await settle(
            self.sim,
            lambda: book_mismatches(
                self.gw, self.venue, self.books, self.sim, DEPTH, self.canonical
            ),
            within_s,
        )

    def invalid_fields(self) -> list[str]:
        """Every price or quantity consumers received that is not a plain positive decimal
        within the instrument's precision and a sane magnitude."""
        bad = []
        precision = {
            self.canonical(s): (
                self.sim.instrument(s).price_precision,
                self.sim.instrument(s).qty_precision,
            )
            for s in self.facts.pairs
        }
        for t in self.seen.trades:
            pp, qp = precision[t.symbol]
            bad += _check(t.price, pp, f"trade {t.trade_id} price") + _check(
                t.qty, qp, f"trade {t.trade_id} qty"
            )
        for k in self.seen.tickers:
            pp, qp = precision[k.symbol]
            for name in ("bid", "ask", "last"):
                value = getattr(k, name)
                if value is not None:
                    bad += _check(value, pp, f"ticker {name}")
        return bad


def _check(text: str, places: int, what: str) -> list[str]:
    head, _, tail = text.partition(".")
    tail = tail.rstrip("0")  # Binance pads every number to eight decimals
    ok = (
        head.isdigit()
        and head.isascii()
        and (not tail or (tail.isdigit() and tail.isascii()))
        and len(tail) <= places
        and 0 < Decimal(text) < SANE_MAGNITUDE
    )
    return [] if ok else [f"{what} {text[:40]!r}"]


def _sim_config(facts: VenueFacts, rate: float) -> Any:
    spec = load_venue(facts.name)
    fields: dict[str, Any] = {"pairs": facts.pairs, "rate": rate, "seed": 11}
    if "heartbeat_interval" in spec.config_type.model_fields:
        fields["heartbeat_interval"] = 0.2
    return spec.simulator_type(spec.config_type.model_validate(fields))


@asynccontextmanager
async def hostile_rig(
    facts: VenueFacts,
    *,
    rate: float = 300.0,
    dlq_path: str | os.PathLike[str] | None = None,
    before_gateway: Callable[[RestProxy], None] | None = None,
    **venue: Any,
) -> AsyncIterator[Rig]:
    """The simulator, the proxies and a gateway with a book consumer and an event recorder;
    all stopped on exit."""
    sim = _sim_config(facts, rate)
    await sim.start()
    ws = WsProxy(sim.ws_url)
    rest = RestProxy(sim.rest_url)
    await ws.start()
    await rest.start()
    if before_gateway is not None:
        before_gateway(rest)
    section = {
        "symbols": facts.pairs,
        "book_depth": DEPTH,
        "stale_after_s": 5.0,
        "resync_timeout_s": 1.5,
        "reconnect": {"initial_s": 0.1, "max_s": 0.5},
        "rest": {"initial_backoff_s": 0.1, "timeout_s": 2.0},
        **venue,
    }
    config = GatewayConfig.model_validate(
        {
            "venues": {facts.name: section},
            "telemetry": {"dlq_path": None if dlq_path is None else str(dlq_path)},
        }
    )
    gw = Gateway(config, urls={facts.name: ws.url}, rest_urls={facts.name: rest.url})
    books = BookConsumer()
    seen = Seen()
    book_sub = gw.subscribe(
        types=["BookSnapshot", "BookUpdate", "BookStatus"], name="books", max_pending=100_000
    )
    all_sub = gw.subscribe(name="all", max_pending=100_000)

    async def drain(sub: Any, handler: Callable[[Event], None]) -> None:
        async for event in sub:
            handler(event)

    tasks = [
        asyncio.create_task(drain(book_sub, books.on_event)),
        asyncio.create_task(drain(all_sub, seen.on_event)),
    ]
    await gw.start()
    rig = Rig(facts, sim, ws, rest, gw, books, seen, tasks)
    try:
        yield rig
    finally:
        await stop_rig(gw, tasks)
        await ws.stop()
        await rest.stop()
        await sim.stop()
