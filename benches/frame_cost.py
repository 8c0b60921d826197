"""CPU per frame inside the gateway, without sockets: a venue simulator's frames, captured
once, replayed straight into a fresh provider with a dispatcher and consumers.

The end-to-end bench (``e2e_latency.py``) measures what a user sees, but on a shared 2-core VM
its CPU-per-frame figure moves by ±15 % from run to run, too much to tell a 2 µs lever from
noise. Here the same frame sequence (instrument snapshot, book snapshots, updates with their
checksums, trades, tickers, candles) goes through ``VenueProvider._on_frame`` in a tight loop:
decode, validation, book apply and checksum, event build, ordering, routing, queueing, and the
consumers taking every event with ``get_nowait``. Only the socket read and the event loop are
left out. The best of several rounds is reported, per frame and per kind of frame.

Binance's books need a REST depth snapshot between frames (step 3 of its procedure). The
capture notes each snapshot the live provider applied and how many frames had come before
it; a replayed provider's snapshot request is not sent anywhere, and the recorded answer is
applied when the replay reaches the same frame (through ``apply_snapshot``, under the
book's current token), so every book syncs where it did live and the diffs buffered until
then are replayed onto it. The run prints how many snapshots were asked for and applied and
whether every book ended synced.

    .venv/bin/python benches/frame_cost.py --venue kraken --by-kind
    .venv/bin/python benches/frame_cost.py --venue coinbase --by-kind
    .venv/bin/python benches/frame_cost.py --venue binance --by-kind
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import itertools
import sys
import time
from collections.abc import Sequence
from typing import Any

from tradegw._core import CoinbaseFrameDecoder, KrakenFrameDecoder
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.providers.base import TrackedBook, decode, decode_exact
from tradegw.providers.binance import BinanceProvider
from tradegw.providers.binance.rest import DepthSnapshot
from tradegw.sim.registry import load_venue

CHANNELS = {
    "kraken": ("book", "trade", "ticker", "ohlc"),
    "coinbase": ("l2_data", "market_trades", "ticker", "candles"),
    "binance": ("depth", "trade", "aggTrade", "bookTicker", "ticker", "kline"),
}
"""The market-data channels of each venue, as their frames name them (Binance: the stream
name without its symbol and suffix)."""

Snapshots = dict[int, list[tuple[str, DepthSnapshot]]]
"""Binance REST depth snapshots by the index of the frame they were applied before."""


def _names(venue: str, count: int) -> list[str]:
    """The simulator's first ``count`` symbols."""
    spec = load_venue(venue)
    return spec.simulator_type(spec.config_type(pairs=count, warmup_steps=0)).symbols


def _gateway(venue: str, symbols: list[str], url: str, rest_url: str) -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "venues": {venue: {"symbols": symbols, "book_depth": 10}},
            "telemetry": {"dlq_path": None},
        }
    )
    return Gateway(config, urls={venue: url}, rest_urls={venue: rest_url})


class Capture:
    """A simulator whose frames to one gateway were recorded; it stays up (paused) so that
    each replay's provider can load its reference data over REST as it would live."""

    def __init__(self, venue: str, symbols: int, rate: float, seed: int = 1) -> None:
        self.venue = venue
        self.names = _names(venue, symbols)
        spec = load_venue(venue)
        self.sim = spec.simulator_type(spec.config_type(pairs=self.names, rate=rate, seed=seed))
        self.frames: list[bytes] = []
        self.snapshots: Snapshots = {}
        """Binance: the depth snapshots the live provider applied, by frame index."""

    @property
    def rest_url(self) -> str:
        # Kraken's adapter runs without REST (its instrument channel gives the precisions).
        return "" if self.venue == "kraken" else self.sim.rest_url

    async def record(self, seconds: float) -> None:
        """Starts the simulator and records ``seconds`` of what a gateway receives, from the
        connection's first frame on; then pauses the market (its REST stays up for the
        replays, which must run on the same event loop)."""
        await self.sim.start()
        gw = _gateway(self.venue, self.names, self.sim.ws_url, self.rest_url)
        provider = gw.providers[self.venue]
        handle = provider._on_frame

        def record(payload: bytes, ingest_ts: int) -> None:
            self.frames.append(payload)
            handle(payload, ingest_ts)

        provider._on_frame = record  # type: ignore[method-assign]
        if isinstance(provider, BinanceProvider):
            apply = provider.apply_snapshot

            def noted(book: TrackedBook, token: Any, snap: DepthSnapshot) -> bool:
                # Only answers the book took: one asked under an older token was dropped.
                if book.is_current(token):
                    at = self.snapshots.setdefault(len(self.frames), [])
                    at.append((book.symbol, snap))
                return apply(book, token, snap)

            provider.apply_snapshot = noted  # type: ignore[method-assign]
        try:
            await gw.start()
            await asyncio.sleep(seconds)
        finally:
            await gw.stop()
            self.sim.pause()

    async def market_decoder(self) -> Any:
        """The native market-data decoder as the adapter holds it once its reference data is
        loaded: Coinbase's knows every product's precisions from REST, so its items are
        checked field by field; Kraken's learns them from the instrument channel only, so
        here it stays empty (as in the figures measured before this one was added). None
        for an adapter without one."""
        if self.venue == "kraken":
            return KrakenFrameDecoder()
        _, provider = await self.provider_for_replay(fan_out=False)
        return getattr(provider, "_decoder", None)

    async def provider_for_replay(self, *, fan_out: bool) -> tuple[Gateway, Any]:
        """A fresh gateway and its provider with the venue's reference data loaded."""
        gw = _gateway(self.venue, self.names, "ws://127.0.0.1:1", self.rest_url)
        provider = gw.providers[self.venue]
        await provider.load_reference_data()
        await provider.close()
        if not fan_out:
            provider._sink = _NoDispatch()  # type: ignore[assignment]
        return gw, provider


class SnapshotAnswers:
    """Binance in replay: snapshot requests go nowhere; the recorded answers are applied at
    the frame where they were applied live, and counted."""

    def __init__(self, provider: BinanceProvider) -> None:
        self.provider = provider
        self.asked = 0
        self.applied = 0
        """Answers that left their book synced."""
        self.pending: set[str] = set()
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)

        def request(book: TrackedBook, token: Any) -> None:
            self.asked += 1
            self.pending.add(book.symbol)
            # As a live fetch does: later diffs of the book do not ask again.
            provider._fetching[book.symbol] = done  # type: ignore[assignment]

        provider.request_snapshot = request  # type: ignore[method-assign]

    def answer(self, due: list[tuple[str, DepthSnapshot]]) -> None:
        for symbol, snap in due:
            book = self.provider.book(symbol)
            assert book is not None
            self.pending.discard(symbol)
            self.provider.apply_snapshot(book, book.token(), snap)
            self.applied += book.status == "synced"


async def replay(
    cap: Capture,
    frames: list[bytes],
    consumers: int,
    *,
    fan_out: bool = True,
    snapshots: Snapshots | None = None,
) -> tuple[float, Gateway, SnapshotAnswers | None]:
    """Seconds to push ``frames`` through a fresh provider, consumers draining as they go.
    Without ``fan_out`` the provider's events stop at a no-op dispatcher: what the venue
    adapter itself costs. ``snapshots`` (Binance) are applied before the frame of their
    index."""
    gw, provider = await cap.provider_for_replay(fan_out=fan_out)
    answers = SnapshotAnswers(provider) if isinstance(provider, BinanceProvider) else None
    snapshots = snapshots or {}
    # The frames between two snapshots run in one plain loop, as they do without any.
    bounds = [0, *sorted(at for at in snapshots if 0 < at < len(frames)), len(frames)]
    # Timed from here on: nothing below awaits, the loop never runs in between.
    subs = [gw.subscribe(name=f"c{i}", max_pending=1_000_000) for i in range(consumers)]
    on_frame = provider._on_frame
    now = time.time_ns()
    gc.collect()
    t0 = time.perf_counter()
    for start, end in itertools.pairwise(bounds):
        due = snapshots.get(start)
        if due is not None and answers is not None:
            answers.answer(due)
        for i, payload in enumerate(itertools.islice(frames, start, end), start):
            on_frame(payload, now)
            if i % 16 == 15:  # a socket read's worth, then every consumer takes what is queued
                for sub in subs:
                    while sub.get_nowait() is not None:
                        pass
    for sub in subs:
        while sub.get_nowait() is not None:
            pass
    return time.perf_counter() - t0, gw, answers


class _NoDispatch:
    def publish(self, event: object) -> None:
        pass


def decode_only(venue: str, frames: list[bytes], native: Any = None) -> float:
    """Seconds to decode every frame with the venue's decoder and nothing else: the native
    frame decoder for market data (which also checks every field) and the venue's general
    reader for the other frames (the exact-number JSON reader for Kraken, orjson for
    Coinbase and Binance). ``native`` is the market-data decoder to use; by default an empty
    one, whose items come back refused after the same parse (see
    :meth:`Capture.market_decoder`). Binance without one: orjson for every frame."""
    if venue == "kraken":
        kraken = native or KrakenFrameDecoder()

        def decoder(payload: bytes) -> Any:
            return kraken.decode(payload) or decode_exact(payload)

    elif venue == "coinbase":
        coinbase = native or CoinbaseFrameDecoder()

        def decoder(payload: bytes) -> Any:
            return coinbase.decode(payload) or decode(payload)

    elif native is not None:
        binance = native

        def decoder(payload: bytes) -> Any:
            return binance.decode(payload) or decode(payload)

    else:
        decoder = decode

    t0 = time.perf_counter()
    for payload in frames:
        decoder(payload)
    return time.perf_counter() - t0


def kind(payload: bytes) -> str:
    """The channel a frame names in its first bytes (every venue puts it first; Binance's
    combined stream names it in the stream: ``btcusdt@depth@100ms`` is ``depth``)."""
    head = payload[:40]
    if head.startswith(b'{"stream":"'):
        stream = head[11:].split(b'"', 1)[0]
        channel = stream.partition(b"@")[2].partition(b"@")[0].partition(b"_")[0]
        return channel.decode("ascii", "replace") or "other"
    at = head.find(b'"channel":"')
    if at < 0:
        return "other"
    name = head[at + 11 :].split(b'"', 1)[0]
    return name.decode("ascii", "replace")


async def run(cap: Capture, rounds: int, consumers: int) -> dict[str, Any]:
    """Replays ``rounds`` times per stage; the best round of each, in µs per frame: decoding
    alone, the venue adapter (events built, not dispatched), then with the dispatcher and 0,
    1 and ``consumers`` consumers."""
    frames = cap.frames
    n = len(frames)
    snaps = cap.snapshots

    async def best(consumers: int, *, fan_out: bool = True) -> float:
        times = [
            (await replay(cap, frames, consumers, fan_out=fan_out, snapshots=snaps))[0]
            for _ in range(rounds)
        ]
        return round(min(times) / n * 1e6, 2)

    native = await cap.market_decoder()
    stages = {
        "decode": round(
            min(decode_only(cap.venue, frames, native) for _ in range(rounds)) / n * 1e6, 2
        ),
        "adapter": await best(0, fan_out=False),
        "dispatch, 0 consumers": await best(0),
        "1 consumer": await best(1),
        f"{consumers} consumers": await best(consumers),
    }
    _, gw, answers = await replay(cap, frames, consumers, snapshots=snaps)
    counters = gw.telemetry.counters
    books = [status for status, _ in gw.providers[cap.venue].books().values()]
    kinds: dict[str, int] = {}
    for payload in frames:
        k = kind(payload)
        kinds[k] = kinds.get(k, 0) + 1
    return {
        "frames": n,
        "kinds": kinds,
        "us_per_frame": stages,
        "checksum_ok": counters.get("checksum_ok"),
        "sequence_gaps": counters.get("sequence_gaps"),
        "resyncs": counters.get("resyncs"),
        "dlq": gw.telemetry.dlq.count,
        "events": counters.get("events"),
        "books synced": f"{books.count('synced')}/{len(books)}",
        "snapshots": None
        if answers is None
        else {
            "recorded": sum(len(due) for due in snaps.values()),
            "asked": answers.asked,
            "applied": answers.applied,
            "still asked": len(answers.pending),
            "stale diffs": counters.get("stale_book_messages"),
        },
    }


async def by_kind(cap: Capture, rounds: int) -> dict[str, dict[str, float]]:
    """µs per frame of each channel: decoding alone, the adapter, and with the dispatcher and
    one consumer (each Kraken replay holds the instrument snapshot and that channel's frames;
    Binance's depth replay gets the recorded snapshots at the same place among its frames).
    Kraken and Binance only: Coinbase numbers every frame of a connection, so a replay of one
    channel's frames would be one sequence gap after another."""
    base = [f for f in cap.frames if kind(f) in ("instrument", "status")]
    native = await cap.market_decoder()
    out = {}
    for channel in CHANNELS[cap.venue]:
        kept = [i for i, f in enumerate(cap.frames) if kind(f) == channel]
        if not kept:
            continue
        only = [cap.frames[i] for i in kept]
        replayed = base + only
        n = len(only)
        snaps: Snapshots = {}
        if channel == "depth":
            # A snapshot goes before the first kept frame at or after its place.
            for at, due in cap.snapshots.items():
                snaps.setdefault(len(base) + bisect.bisect_left(kept, at), []).extend(due)

        adapter = [
            (await replay(cap, replayed, 0, fan_out=False, snapshots=snaps))[0]
            for _ in range(rounds)
        ]
        one = [(await replay(cap, replayed, 1, snapshots=snaps))[0] for _ in range(rounds)]
        out[channel] = {
            "decode": round(
                min(decode_only(cap.venue, only, native) for _ in range(rounds)) / n * 1e6, 2
            ),
            "adapter": round(min(adapter) / n * 1e6, 2),
            "1 consumer": round(min(one) / n * 1e6, 2),
        }
    return out


async def _main(args: argparse.Namespace) -> None:
    cap = Capture(args.venue, args.symbols, args.rate)
    await cap.record(args.seconds)
    try:
        r = await run(cap, args.rounds, args.consumers)
        print(
            f"{args.venue}, {args.symbols} symbols: {r['frames']} frames {r['kinds']}; "
            f"{r['events']} events, checksums ok {r['checksum_ok']}, sequence gaps "
            f"{r['sequence_gaps']}, resyncs {r['resyncs']}, dlq {r['dlq']}, "
            f"books synced {r['books synced']}"
        )
        if r["snapshots"] is not None:
            print("REST depth snapshots in the replay: " + str(r["snapshots"]))
        print(f"µs per frame, best of {args.rounds} (each stage includes the ones above it):")
        for stage, us in r["us_per_frame"].items():
            print(f"  {stage:24} {us:6.2f}")
        if args.by_kind and args.venue != "coinbase":
            print("µs per frame of each channel: decode / adapter / with dispatch and 1 consumer")
            for channel, figures in (await by_kind(cap, args.rounds)).items():
                print(f"  {channel:10} " + " / ".join(f"{v:6.2f}" for v in figures.values()))
    finally:
        await cap.sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the figures of one capture and its replays."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venue", choices=tuple(CHANNELS), default="kraken")
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--rate", type=float, default=5000.0, help="simulator msgs/s while capturing")
    p.add_argument("--seconds", type=float, default=4.0, help="capture length")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--consumers", type=int, default=3)
    p.add_argument(
        "--by-kind", action="store_true", help="also each channel's cost (Kraken, Binance)"
    )
    args = p.parse_args(argv)
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
