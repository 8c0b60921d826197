"""Deterministic inputs shared by the benches, so every implementation gets the same work.

The book workload looks like a Binance spot diff stream for a mid-priced pair: prices and
quantities as 8-decimal strings, a ladder of a few hundred levels per side, updates that hit
near the touch more often than far from it, and about one in seven setting a quantity of
zero (a delete). A delete of a level that is absent is legal and cheap, as on a real feed.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

PRICE_PRECISION = 8
QTY_PRECISION = 8
MID_TICKS = 35_000  # price 0.35000000 in ticks of 0.00001
LADDER = 300  # levels per side in the starting book

Level = tuple[str, str]
Side = list[Level]


def price_text(ticks: int) -> str:
    return f"0.{ticks:05d}000"


def qty_text(rng: random.Random) -> str:
    if rng.random() < 0.14:
        return "0.00000000"
    return f"{rng.randint(1, 50_000)}.{rng.randint(0, 99_999_999):08d}"


def _bid_ticks(rng: random.Random) -> int:
    return MID_TICKS - 1 - int(rng.expovariate(1 / 40)) % LADDER


def _ask_ticks(rng: random.Random) -> int:
    return MID_TICKS + 1 + int(rng.expovariate(1 / 40)) % LADDER


def snapshot() -> tuple[Side, Side]:
    rng = random.Random(7)
    bids = [(price_text(MID_TICKS - 1 - i), qty_text(rng)) for i in range(LADDER)]
    asks = [(price_text(MID_TICKS + 1 + i), qty_text(rng)) for i in range(LADDER)]
    # A snapshot holds no zero levels.
    bids = [(p, q) for p, q in bids if q != "0.00000000"]
    asks = [(p, q) for p, q in asks if q != "0.00000000"]
    return bids, asks


def updates(levels_per_side: int, count: int = 4096, seed: int = 11) -> list[tuple[Side, Side]]:
    """``count`` messages with ``levels_per_side`` bid and ask levels each (0 = bids only)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        if levels_per_side == 0:
            out.append(([(price_text(_bid_ticks(rng)), qty_text(rng))], []))
            continue
        bids = [(price_text(_bid_ticks(rng)), qty_text(rng)) for _ in range(levels_per_side)]
        asks = [(price_text(_ask_ticks(rng)), qty_text(rng)) for _ in range(levels_per_side)]
        out.append((bids, asks))
    return out


def top10_strings() -> tuple[Side, Side]:
    """Kraken's MATIC/USD doc book at 4 / 8 decimals (protocols.md §4.5): asks, bids."""
    asks = [
        ("0.5668", "4410.79769741"),
        ("0.5669", "4655.40412487"),
        ("0.5670", "49844.89424998"),
        ("0.5671", "24306.41678000"),
        ("0.5672", "29783.25223475"),
        ("0.5673", "57234.71239278"),
        ("0.5674", "45065.04744000"),
        ("0.5675", "5912.76380354"),
        ("0.5676", "42514.92434778"),
        ("0.5677", "36304.08470220"),
    ]
    bids = [
        ("0.5666", "4831.75496356"),
        ("0.5665", "6658.22734739"),
        ("0.5664", "18724.91513344"),
        ("0.5663", "11563.92544914"),
        ("0.5662", "14006.65365711"),
        ("0.5661", "17454.85679807"),
        ("0.5660", "18097.15470000"),
        ("0.5659", "33644.89175666"),
        ("0.5658", "148.34640000"),
        ("0.5657", "606.70854372"),
    ]
    return asks, bids


def order_book_module() -> Any:
    """cryptofeed's C order book (PyPI ``order-book``), or a skip when it is not installed."""
    return pytest.importorskip(
        "order_book", reason="optional comparison: `pip install order-book` to include it"
    )


def label(benchmark: Any, impl: str, per_call: int = 1, unit: str = "op") -> None:
    """Tags a bench so benches/summarize.py can line it up against the reference."""
    benchmark.extra_info.update({"impl": impl, "per_call": per_call, "unit": unit})
