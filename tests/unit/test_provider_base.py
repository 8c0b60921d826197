"""The shared venue-adapter base: REST client (retries, Retry-After, weights), backoff,
view diffs, snapshot tokens, and the supervised session loop."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tradegw._core import BookAssembler, OrderBook
from tradegw.config import DispatcherConfig, ReconnectPolicy, RestPolicy
from tradegw.dispatch import Dispatcher
from tradegw.errors import TradegwError
from tradegw.providers.base import (
    Backoff,
    FrameError,
    RestClient,
    RestError,
    RestUnavailable,
    TrackedBook,
)
from tradegw.providers.kraken import KrakenProvider, KrakenVenueConfig
from tradegw.sim.kraken import KrakenSimConfig, KrakenSimulator
from tradegw.telemetry import Counters, Telemetry

# ---- REST client ----

Handler = Callable[[web.Request], web.StreamResponse]


@pytest.fixture
async def rest_server() -> AsyncIterator[Callable[[Handler], Any]]:
    """Starts an aiohttp app on 127.0.0.1 serving one handler at /x; yields its base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_get("/x", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def _client(url: str, counters: Counters, **policy: Any) -> RestClient:
    defaults: dict[str, Any] = {"attempts": 3, "initial_backoff_s": 0.01}
    return RestClient(
        "testvenue",
        url,
        counters,
        RestPolicy(**{**defaults, **policy}),
        used_weight_header="X-Used-Weight",
        rng=random.Random(1),
    )


async def test_rest_retries_429_honouring_retry_after(rest_server: Any) -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.json_response({"ok": request.query.get("q")})

    counters = Counters()
    rest = _client(await rest_server(handler), counters)
    assert await rest.get_json("/x", {"q": "7"}) == {"ok": "7"}
    await rest.close()
    assert counters.get("rest_retries", "testvenue", "429") == 1
    assert calls[1] - calls[0] >= 0.95  # waited as told, not the 10 ms backoff


async def test_rest_caps_a_long_ban_and_gives_up_after_every_attempt(rest_server: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=418, headers={"Retry-After": "7200"})

    counters = Counters()
    rest = _client(await rest_server(handler), counters, max_retry_after_s=0.05)
    with pytest.raises(RestUnavailable, match="failed 3 times") as info:
        await rest.get_json("/x")
    await rest.close()
    assert isinstance(info.value, TradegwError)
    assert counters.get("rest_retries", "testvenue", "418") == 3
    assert counters.get("rest_retry_after_capped", "testvenue") == 3


async def test_rest_server_errors_are_retried(rest_server: Any) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503) if calls < 3 else web.json_response([1, 2])

    counters = Counters()
    rest = _client(await rest_server(handler), counters)
    assert await rest.get_json("/x") == [1, 2]
    await rest.close()
    assert counters.get("rest_retries", "testvenue", "503") == 2


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [(400, b'{"code":-1121}', "HTTP 400"), (200, b"<html>", "not JSON")],
)
async def test_rest_client_errors_and_bad_bodies_raise_rest_error(
    rest_server: Any, status: int, body: bytes, match: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body)

    counters = Counters()
    rest = _client(await rest_server(handler), counters)
    with pytest.raises(RestError, match=match):
        await rest.get_json("/x")
    await rest.close()
    assert counters.total("rest_errors", "testvenue") == 1


async def test_rest_unreachable_host_is_unavailable() -> None:
    counters = Counters()
    rest = _client("http://127.0.0.1:1", counters, attempts=2)
    with pytest.raises(RestUnavailable):
        await rest.get_json("/x")
    await rest.close()
    assert counters.total("rest_retries", "testvenue") == 2


async def test_rest_weights_spend_the_bucket_and_follow_the_venues_count(rest_server: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({}, headers={"X-Used-Weight": request.query["used"]})

    counters = Counters()
    rest = _client(await rest_server(handler), counters, weight_per_minute=600)
    assert rest.bucket.tokens() == pytest.approx(600, abs=1)
    await rest.get_json("/x", {"used": "5"}, weight=5)
    assert rest.bucket.tokens() == pytest.approx(595, abs=1)
    # Someone else on this IP spent 300: the bucket follows the venue's count down...
    await rest.get_json("/x", {"used": "310"}, weight=5)
    assert rest.bucket.tokens() == pytest.approx(290, abs=1)
    # ...but a lower count never refills it (the header may lag our own calls).
    await rest.get_json("/x", {"used": "1"}, weight=5)
    assert rest.bucket.tokens() == pytest.approx(285, abs=1)
    await rest.close()


async def test_rest_waits_for_weight_when_the_bucket_is_empty(rest_server: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    counters = Counters()
    # 60 weight per minute: one per second, and a call of 60 empties it.
    rest = _client(await rest_server(handler), counters, weight_per_minute=60)
    await rest.get_json("/x", weight=60)
    started = time.monotonic()
    await rest.get_json("/x", weight=1)
    await rest.close()
    assert time.monotonic() - started >= 0.9
    assert counters.get("rest_throttled", "testvenue") == 1


# ---- backoff ----


def test_backoff_grows_caps_jitters_and_resets() -> None:
    b = Backoff(ReconnectPolicy(initial_s=1, max_s=8, multiplier=2, jitter=0.1), random.Random(3))
    delays = [b.next_delay() for _ in range(6)]
    for got, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.9 <= got <= nominal * 1.1
    assert len(set(delays)) == 6  # jittered, never the same instant twice
    b.reset()
    assert 0.9 <= b.next_delay() <= 1.1


# ---- books ----


def test_snapshot_tokens_go_stale_with_a_new_epoch_or_assembler() -> None:
    asm = BookAssembler("kraken", 1, 2, 10)
    book = TrackedBook("BTC/USD", "BTC-USD", asm)
    token = book.token()
    assert book.is_current(token)
    asm.on_snapshot([("100.0", "1")], [("101.0", "1")], None)
    asm.on_update([("100.5", "1")], [], 12345)  # checksum mismatch: sync lost, epoch moves on
    assert not book.is_current(token)
    token = book.token()
    book.replace_assembler(BookAssembler("kraken", 1, 2, 10))
    assert not book.is_current(token)  # same epoch number, but another assembler
    assert book.is_current(book.token())


_prices = st.integers(1, 60)
_sides = st.dictionaries(_prices, st.integers(1, 5), max_size=25)


@given(
    bids=_sides,
    asks=_sides,
    rounds=st.lists(
        st.lists(st.tuples(st.booleans(), _prices, st.integers(0, 5)), max_size=6), max_size=6
    ),
)
def test_top_changes_turn_the_consumers_view_into_the_books_top(
    bids: dict[int, int], asks: dict[int, int], rounds: list[list[tuple[bool, int, int]]]
) -> None:
    depth = 5
    full = OrderBook(0, 0)
    # Bids below 100, asks above: never crossed, whatever the changes.
    full.apply_snapshot([(str(p), str(q)) for p, q in bids.items()], [])
    full.apply([], [(str(100 + p), str(q)) for p, q in asks.items()])
    consumer = OrderBook(0, 0, depth)
    consumer.apply_snapshot(*full.top(depth))  # a snapshot event...
    full.mark_top(depth)  # ...and the view it gave the consumer
    for changes in rounds:
        for is_bid, p, q in changes:
            price = str(p) if is_bid else str(100 + p)
            full.apply([(price, str(q))] if is_bid else [], [] if is_bid else [(price, str(q))])
        before = consumer.top(depth)
        bids_changed, asks_changed = full.top_changes(depth)
        consumer.apply(bids_changed, asks_changed)
        assert consumer.top(depth) == full.top(depth)
        # Nothing is sent when the top did not move.
        assert (not bids_changed and not asks_changed) == (before == full.top(depth))
    assert full.top_changes(depth) == ([], [])


# ---- supervision ----


async def _until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Polls ``condition`` until it holds (TimeoutError after ``within_s``)."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.05)


class _Flaky(KrakenProvider):
    """Raises from a hook the first ``failures`` times a connection comes up."""

    failures = 1

    def on_connected(self) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("injected failure")
        super().on_connected()


@pytest.mark.timeout(30)
async def test_an_exception_escaping_a_hook_restarts_the_feed() -> None:
    async with KrakenSimulator(KrakenSimConfig(pairs=["BTC/USD"], rate=300, seed=3)) as sim:
        telemetry = Telemetry()
        dispatcher = Dispatcher(DispatcherConfig(), telemetry)
        config = KrakenVenueConfig(
            symbols=["BTC/USD"], reconnect=ReconnectPolicy(initial_s=0.05, max_s=0.1)
        )
        provider = _Flaky(config, dispatcher, telemetry, ws_url=sim.ws_url, rest_url="")
        task = asyncio.create_task(provider.run())
        try:
            await _until(lambda: telemetry.counters.get("checksum_ok") >= 20)
        finally:
            provider.stop()
            await asyncio.wait_for(task, 5)
        assert telemetry.counters.get("provider_restarts", "kraken") == 1
        assert provider.books()["BTC-USD"][0] == "synced"
        assert task.exception() is None


class _BrokenTick(KrakenProvider):
    ticks_left = 3

    def on_tick(self, now: float) -> bool:
        self.ticks_left -= 1
        if self.ticks_left == 0:
            raise FrameError("a watchdog hook that fails once")
        return True


@pytest.mark.timeout(30)
async def test_a_failing_watchdog_reconnects_instead_of_dying_silently() -> None:
    async with KrakenSimulator(KrakenSimConfig(pairs=["BTC/USD"], rate=300, seed=3)) as sim:
        telemetry = Telemetry()
        dispatcher = Dispatcher(DispatcherConfig(), telemetry)
        config = KrakenVenueConfig(
            symbols=["BTC/USD"], reconnect=ReconnectPolicy(initial_s=0.05, max_s=0.1)
        )
        provider = _BrokenTick(config, dispatcher, telemetry, ws_url=sim.ws_url, rest_url="")
        task = asyncio.create_task(provider.run())
        try:
            await _until(
                lambda: telemetry.counters.get("reconnects") >= 1 and provider.connected.is_set()
            )
        finally:
            provider.stop()
            await asyncio.wait_for(task, 5)
        assert telemetry.counters.get("provider_restarts", "kraken") == 1


def test_adapter_rest_and_simulator_errors_are_tradegw_errors() -> None:
    from tradegw.errors import AdapterError, SimulatorError
    from tradegw.sim.kraken.requests import RequestError, parse_subscription

    with pytest.raises(RequestError) as info:
        parse_subscription("subscribe", "not a dict")
    assert isinstance(info.value, SimulatorError)
    assert isinstance(info.value, TradegwError)
    assert issubclass(FrameError, AdapterError)
    assert issubclass(FrameError, ValueError)  # what parsing callers expect
    assert issubclass(RestUnavailable, RestError)
    assert issubclass(RestError, AdapterError)


def test_a_book_without_updates_is_marked_stale_and_resubscribed() -> None:
    telemetry = Telemetry()
    dispatcher = Dispatcher(DispatcherConfig(), telemetry)
    statuses = dispatcher.subscribe(types=["BookStatus"])
    config = KrakenVenueConfig(symbols=["BTC/USD", "ETH/USD"], book_stale_after_s=2.0)
    provider = KrakenProvider(config, dispatcher, telemetry, ws_url="ws://127.0.0.1:1/v2")
    requested: list[str] = []
    provider.request_snapshot = lambda book, token: requested.append(book.symbol)  # type: ignore[method-assign]
    now = time.monotonic()
    for symbol, last in (("BTC/USD", now - 3.0), ("ETH/USD", now - 0.5)):
        asm = BookAssembler("kraken", 1, 8, 10)
        asm.on_snapshot([("100.0", "1")], [("101.0", "1")], None)
        book = provider.add_book(symbol, symbol.replace("/", "-"), asm)
        book.status, book.synced_at, book.last_update = "synced", now - 10.0, last
    provider._last_rx = provider._last_ping = now  # the connection itself is alive
    assert provider._tick(now) is True
    assert requested == ["BTC/USD"]
    assert provider.books()["BTC-USD"][0] == "resyncing"
    assert provider.books()["ETH-USD"][0] == "synced"
    assert telemetry.counters.get("stale_books", "kraken", "BTC-USD") == 1
    event = statuses.get_nowait()
    assert event is not None
    assert (event.symbol, event.reason) == ("BTC-USD", "stale")  # type: ignore[attr-defined]


def test_an_exception_is_said_in_one_line_that_is_never_empty() -> None:
    from tradegw.errors import one_line

    assert one_line(TimeoutError()) == "TimeoutError"
    assert one_line(OSError("refused\nsecond line")) == "OSError: refused"
    assert one_line(ValueError("   ")) == "ValueError"
    assert len(one_line(ValueError("x" * 10_000))) < 400


def test_backoff_survives_a_long_outage_at_its_ceiling() -> None:
    from tradegw.providers.base.config import ReconnectPolicy
    from tradegw.providers.base.session import Backoff

    policy = ReconnectPolicy(initial_s=0.25, max_s=30.0, multiplier=2.0, jitter=0.2)
    backoff = Backoff(policy, random.Random(1))
    delays = [backoff.next_delay() for _ in range(5000)]  # days of failed attempts
    assert max(delays) <= 30.0 * 1.2
    assert min(delays[-100:]) >= 30.0 * 0.8
