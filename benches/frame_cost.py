"""CPU per frame inside the gateway, without sockets: a Kraken simulator's frames, captured
once, replayed straight into a fresh provider with a dispatcher and consumers.

The end-to-end bench (``e2e_latency.py``) measures what a user sees, but on a shared 2-core VM
its CPU-per-frame figure moves by ±15 % from run to run, too much to tell a 2 µs lever from
noise. Here the same frame sequence (instrument snapshot, book snapshots, updates with their
checksums, trades, tickers, candles) goes through ``VenueProvider._on_frame`` in a tight loop:
decode, validation, book apply and checksum, event build, ordering, routing, queueing, and the
consumers taking every event with ``get_nowait``. Only the socket read and the event loop are
left out. The best of several rounds is reported, per frame and per kind of frame.

    .venv/bin/python benches/frame_cost.py --symbols 50 --seconds 4 --rounds 7 --consumers 3
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Sequence
from typing import Any

from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.providers.base import decode_exact
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.server import KrakenSimulator
from tradegw.sim.registry import load_venue


def _names(count: int) -> list[str]:
    """The simulator's first ``count`` pairs."""
    spec = load_venue("kraken")
    return spec.simulator_type(spec.config_type(pairs=count, warmup_steps=0)).symbols


def _gateway(symbols: list[str], url: str) -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "venues": {"kraken": {"symbols": symbols, "book_depth": 10}},
            "telemetry": {"dlq_path": None},
        }
    )
    return Gateway(config, urls={"kraken": url}, rest_urls={"kraken": ""})


async def capture(symbols: int, rate: float, seconds: float, seed: int = 1) -> list[bytes]:
    """Every frame the gateway received from a Kraken simulator over ``seconds``, from the
    connection's first frame on."""
    names = _names(symbols)
    sim = KrakenSimulator(KrakenSimConfig(pairs=names, rate=rate, seed=seed))
    await sim.start()
    gw = _gateway(list(names), sim.ws_url)
    provider = gw.providers["kraken"]
    frames: list[bytes] = []
    handle = provider._on_frame

    def record(payload: bytes, ingest_ts: int) -> None:
        frames.append(payload)
        handle(payload, ingest_ts)

    provider._on_frame = record  # type: ignore[method-assign]
    try:
        await gw.start()
        await asyncio.sleep(seconds)
    finally:
        await gw.stop()
        await sim.stop()
    return frames


def replay(
    frames: list[bytes], symbols: list[str], consumers: int, *, fan_out: bool = True
) -> tuple[float, Gateway]:
    """Seconds to push ``frames`` through a fresh provider, consumers draining as they go.
    Without ``fan_out`` the provider's events stop at a no-op dispatcher: what the venue
    adapter itself costs."""
    gw = _gateway(symbols, "ws://127.0.0.1:1")
    provider = gw.providers["kraken"]
    if not fan_out:
        provider._dispatcher = _NoDispatch()  # type: ignore[assignment]
    subs = [gw.subscribe(name=f"c{i}", max_pending=1_000_000) for i in range(consumers)]
    on_frame = provider._on_frame
    now = time.time_ns()
    gc.collect()
    t0 = time.perf_counter()
    for i, payload in enumerate(frames):
        on_frame(payload, now)
        if i % 16 == 15:  # a socket read's worth, then every consumer takes what is queued
            for sub in subs:
                while sub.get_nowait() is not None:
                    pass
    for sub in subs:
        while sub.get_nowait() is not None:
            pass
    return time.perf_counter() - t0, gw


class _NoDispatch:
    def publish(self, event: object) -> None:
        pass


def decode_only(frames: list[bytes]) -> float:
    """Seconds to decode every frame (the exact-number JSON decoder) and nothing else."""
    t0 = time.perf_counter()
    for payload in frames:
        decode_exact(payload)
    return time.perf_counter() - t0


def kind(payload: bytes) -> str:
    """The channel of a Kraken v2 frame, from its first bytes."""
    head = payload[:40]
    for name in ("book", "trade", "ticker", "ohlc", "heartbeat", "instrument", "status"):
        if b'"channel":"' + name.encode() + b'"' in head:
            return name
    return "other"


def run(symbols: int, rate: float, seconds: float, rounds: int, consumers: int) -> dict[str, Any]:
    """Captures once, replays ``rounds`` times per stage; the best round of each, in µs per
    frame: decoding alone, the venue adapter (events built, not dispatched), then with the
    dispatcher and 0, 1 and ``consumers`` consumers."""
    frames = asyncio.run(capture(symbols, rate, seconds))
    names = _names(symbols)
    n = len(frames)

    def best(fn: Any) -> float:
        return round(min(fn() for _ in range(rounds)) / n * 1e6, 2)

    stages = {
        "decode": best(lambda: decode_only(frames)),
        "adapter": best(lambda: replay(frames, names, 0, fan_out=False)[0]),
        "dispatch, 0 consumers": best(lambda: replay(frames, names, 0)[0]),
        "1 consumer": best(lambda: replay(frames, names, 1)[0]),
        f"{consumers} consumers": best(lambda: replay(frames, names, consumers)[0]),
    }
    _, gw = replay(frames, names, consumers)
    counters = gw.telemetry.counters
    kinds: dict[str, int] = {}
    for payload in frames:
        k = kind(payload)
        kinds[k] = kinds.get(k, 0) + 1
    return {
        "frames": n,
        "kinds": kinds,
        "us_per_frame": stages,
        "checksum_ok": counters.get("checksum_ok"),
        "checksum_failed": counters.get("checksum_failed"),
        "dlq": gw.telemetry.dlq.count,
        "events": counters.get("events"),
    }


def by_kind(frames: list[bytes], names: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """µs per frame of each channel: decoding alone, the adapter, and with the dispatcher and
    one consumer (each replay holds the instrument snapshot and that channel's frames)."""
    base = [f for f in frames if kind(f) in ("instrument", "status")]
    out = {}
    for channel in ("book", "trade", "ticker", "ohlc"):
        only = [f for f in frames if kind(f) == channel]
        if not only:
            continue
        replayed = base + only
        n = len(only)
        out[channel] = {
            "decode": round(min(decode_only(only) for _ in range(rounds)) / n * 1e6, 2),
            "adapter": round(
                min(replay(replayed, names, 0, fan_out=False)[0] for _ in range(rounds)) / n * 1e6,
                2,
            ),
            "1 consumer": round(
                min(replay(replayed, names, 1)[0] for _ in range(rounds)) / n * 1e6, 2
            ),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the figures of one capture and its replays."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--rate", type=float, default=5000.0, help="simulator msgs/s while capturing")
    p.add_argument("--seconds", type=float, default=4.0, help="capture length")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--consumers", type=int, default=3)
    p.add_argument("--by-kind", action="store_true", help="also the cost of each channel")
    args = p.parse_args(argv)
    r = run(args.symbols, args.rate, args.seconds, args.rounds, args.consumers)
    print(
        f"kraken, {args.symbols} symbols: {r['frames']} frames {r['kinds']}; {r['events']} "
        f"events, checksums ok {r['checksum_ok']} failed {r['checksum_failed']}, "
        f"dlq {r['dlq']}"
    )
    print(f"µs per frame, best of {args.rounds} (each stage includes the ones above it):")
    for stage, us in r["us_per_frame"].items():
        print(f"  {stage:24} {us:6.2f}")
    if args.by_kind:
        frames = asyncio.run(capture(args.symbols, args.rate, args.seconds))
        print("µs per frame of each channel: decode / adapter / with dispatch and 1 consumer")
        for channel, figures in by_kind(frames, _names(args.symbols), args.rounds).items():
            print(f"  {channel:8} " + " / ".join(f"{v:6.2f}" for v in figures.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
