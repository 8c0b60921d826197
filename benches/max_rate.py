"""The highest offered rate the gateway keeps up with, per venue set, symbols and consumers.

"Keeps up" at a rate means, over the measured window of ``e2e_latency.run_once``: no
consumer fell behind (no backlog of book diffs turned into a snapshot, no trade spilled) and
socket→consumer p99 stayed under ``--p99-ms`` (10 ms). Tickers and candles replaced
latest-wins while still queued are counted (``coalesced``) but are not a failure: two
tickers of one symbol within one loop turn is ordinary at a few symbols and high rates. A
gateway that falls behind its socket fails the second test within seconds, since its queue
and so its latency then grow without bound. Rates climb a ladder and stop at the first
failure; each rung is a fresh simulator and gateway.

    .venv/bin/python -m benches.max_rate                       # the full grid (long)
    .venv/bin/python -m benches.max_rate --venues kraken --symbols 50 --consumers 1,3
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop

from benches.e2e_latency import RunParams, machine_line, run_once

LADDER = (1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 50_000, 75_000, 100_000)
VENUE_SETS = ("kraken", "binance", "coinbase", "binance,coinbase,kraken")


def keeps_up(result: dict[str, Any], p99_ms: float) -> bool:
    """Whether no consumer fell behind in a run and p99 stayed under ``p99_ms``."""
    lost = result["snapshots_for_backlog"] + result["spilled"]
    p99 = result["socket_to_consumer_us"]["p99"]
    return lost == 0 and p99 is not None and p99 < p99_ms * 1000


def climb(params: RunParams, p99_ms: float, ladder: Sequence[int]) -> dict[str, Any]:
    """Runs the ladder for one configuration; returns the last rung that kept up (or None)
    and every rung's figures."""
    rungs = []
    best: dict[str, Any] | None = None
    for rate in ladder:
        result = uvloop.run(run_once(dataclasses.replace(params, rate=float(rate))))
        gc.collect()
        ok = keeps_up(result, p99_ms)
        rungs.append(
            {
                "rate": rate,
                "kept_up": ok,
                "frames_per_s": result["offered_per_s"],
                "p50_us": result["socket_to_consumer_us"]["p50"],
                "p99_us": result["socket_to_consumer_us"]["p99"],
                "p999_us": result["socket_to_consumer_us"]["p999"],
                "cpu_us_per_frame": result["gateway_cpu_us_per_frame"],
                "coalesced": result["coalesced"],
                "checksum_failed": result["checksum_failed"],
                "out_of_order": result["out_of_order"],
            }
        )
        print(f"  {rate:>7,} msgs/s: {'kept up' if ok else 'fell behind'}", file=sys.stderr)
        if not ok:
            break
        best = rungs[-1]
    return {"max": best, "rungs": rungs}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the grid and prints one line per configuration."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venues", default=";".join(VENUE_SETS), help="';'-separated venue sets")
    p.add_argument("--symbols", default="1,3,50", help="symbols per venue, comma list")
    p.add_argument("--consumers", default="1,3", help="consumer counts, comma list")
    p.add_argument("--seconds", type=float, default=8.0, help="window per rung")
    p.add_argument("--p99-ms", type=float, default=10.0)
    p.add_argument("--ladder", default=",".join(map(str, LADDER)), help="rates to try, in order")
    p.add_argument("--json", type=Path, help="write every rung's figures here")
    args = p.parse_args(argv)
    ladder = [int(r) for r in args.ladder.split(",")]
    rows = []
    for venues in args.venues.split(";"):
        for symbols in (int(s) for s in args.symbols.split(",")):
            for consumers in (int(c) for c in args.consumers.split(",")):
                print(f"{venues} x {symbols} symbols x {consumers} consumers", file=sys.stderr)
                params = RunParams(
                    symbols=symbols,
                    consumers=consumers,
                    seconds=args.seconds,
                    venues=tuple(venues.split(",")),
                )
                found = climb(params, args.p99_ms, ladder)
                rows.append({"venues": venues, "symbols": symbols, "consumers": consumers, **found})
    print(f"# {machine_line()}")
    print(
        f"# kept up = no backlog snapshot, no spilled trade, socket→consumer p99 < {args.p99_ms} ms"
    )
    print("venues | symbols | consumers | max msgs/s kept up | p50 / p99 µs | CPU µs/frame")
    for row in rows:
        m = row["max"]
        figures = (
            f"{m['rate']:,} | {m['p50_us']} / {m['p99_us']} | {m['cpu_us_per_frame']}"
            if m
            else "below the ladder | - | -"
        )
        print(f"{row['venues']} | {row['symbols']} | {row['consumers']} | {figures}")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": machine_line(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
