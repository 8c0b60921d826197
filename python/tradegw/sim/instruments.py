"""The instruments a simulated venue lists, venue-neutral: assets, precisions, sizes.

The first instruments come from a table modelled on real spot pairs (precisions of the same
order as the venues'). When more are asked for than the table holds, further ones are
synthesised (``SYM17``/``USD``, ...) with precisions that vary from pair to pair, so clients are
exercised on 0 to 8 decimals. The set of instruments never depends on the seed: only the market
moves with it. Each venue maps an :class:`Instrument` to its own names (Kraken ``BTC/USD`` and
``XXBTZUSD``, Binance ``BTCUSDT``, Coinbase ``BTC-USD``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradegw.sim.wire import parse_fixed


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradeable pair, with what the market and the wire need to know about it.

    Integer fields that hold amounts are fixed-point: prices at ``price_precision``,
    quantities at ``qty_precision``, notionals (price * qty) at ``notional_precision``.
    """

    base: str
    quote: str
    price_precision: int
    qty_precision: int
    notional_precision: int
    start_price: int
    """Where the synthetic mid starts, in ticks."""
    qty_min: int
    """Smallest order and smallest level quantity."""
    qty_max: int
    """Largest quantity a new level is created with."""
    max_gap: int
    """Largest distance between neighbouring levels, in ticks."""
    min_notional: int
    """Smallest order value, in the quote asset."""

    @property
    def name(self) -> str:
        """``BASE-QUOTE``: the key of this instrument in the market (not a venue's name)."""
        return f"{self.base}-{self.quote}"


# base, quote, price dp, qty dp, notional dp, start price, qty min, qty max, max gap in ticks
_TABLE: tuple[tuple[str, str, int, int, int, str, str, str, int], ...] = (
    ("BTC", "USD", 1, 8, 5, "45000.0", "0.0001", "2.5", 3),
    ("ETH", "USD", 2, 8, 5, "2400.00", "0.002", "40", 3),
    ("SOL", "USD", 2, 8, 5, "100.00", "0.02", "300", 2),
    ("XRP", "USD", 5, 8, 5, "0.60000", "2", "20000", 3),
    ("MATIC", "USD", 4, 8, 5, "0.5660", "4", "50000", 1),
    ("ADA", "USD", 6, 8, 5, "0.400000", "5", "60000", 40),
    ("LTC", "USD", 2, 8, 5, "70.00", "0.05", "500", 2),
    ("DOT", "USD", 4, 8, 5, "6.0000", "0.2", "5000", 3),
    ("LINK", "USD", 5, 8, 5, "14.00000", "0.2", "3000", 40),
    ("ETH", "BTC", 5, 8, 10, "0.05300", "0.002", "50", 1),
    ("BTC", "EUR", 1, 8, 5, "42000.0", "0.0001", "2", 3),
    ("ETH", "EUR", 2, 8, 5, "2200.00", "0.002", "40", 3),
    ("USDT", "USD", 4, 2, 5, "1.0002", "5", "250000", 1),
    ("SHIB", "USD", 8, 5, 5, "0.00001234", "50000", "900000000", 1),
    ("AVAX", "USD", 2, 8, 5, "35.00", "0.1", "800", 2),
    ("ATOM", "USD", 4, 8, 5, "9.0000", "0.2", "4000", 4),
    ("DOGE", "USD", 7, 8, 5, "0.1500000", "50", "500000", 5),
)

# Precisions cycled through by synthesised instruments: every price precision meets every
# qty one.
_SYNTH_PRICE_DP = (1, 2, 3, 4, 5, 6, 8)
_SYNTH_QTY_DP = (8, 6, 4, 2, 0, 5, 3)

SYNTHETIC_QUOTE = "USD"
"""Quote asset of the instruments synthesised beyond the table when counting."""


def _table_instrument(row: tuple[str, str, int, int, int, str, str, str, int]) -> Instrument:
    base, quote, pdp, qdp, ndp, start, qmin, qmax, gap = row
    return Instrument(
        base=base,
        quote=quote,
        price_precision=pdp,
        qty_precision=qdp,
        notional_precision=ndp,
        start_price=parse_fixed(start, pdp),
        qty_min=parse_fixed(qmin, qdp),
        qty_max=parse_fixed(qmax, qdp),
        max_gap=gap,
        min_notional=parse_fixed("0.5", ndp),
    )


TABLE: tuple[Instrument, ...] = tuple(_table_instrument(row) for row in _TABLE)
"""The instruments modelled on real pairs, in the order counts take them."""


def synthetic_instrument(base: str, quote: str, index: int) -> Instrument:
    """A made-up instrument; ``index`` picks its precisions, start price and gap."""
    if not base or not quote:
        raise ValueError(f"an instrument needs a base and a quote: {base!r}/{quote!r}")
    pdp = _SYNTH_PRICE_DP[index % len(_SYNTH_PRICE_DP)]
    qdp = _SYNTH_QTY_DP[(index // len(_SYNTH_PRICE_DP)) % len(_SYNTH_QTY_DP)]
    return Instrument(
        base=base,
        quote=quote,
        price_precision=pdp,
        qty_precision=qdp,
        notional_precision=5,
        # Five significant digits of ticks whatever the precision: 1234.5 at 1 dp, 0.00012345
        # at 8 dp, so low-priced pairs with leading zeros come up as often as large prices.
        start_price=10_000 + (index * 7919) % 90_000,
        qty_min=max(1, 10**qdp // 100),
        qty_max=500 * 10**qdp,
        max_gap=1 + index % 3,
        min_notional=parse_fixed("0.5", 5),
    )


def synthetic_base(index: int) -> str:
    """The base asset of the ``index``-th instrument when it lies beyond the table."""
    return f"SYM{index:02d}"


def build_instruments(spec: int | Sequence[tuple[str, str]]) -> list[Instrument]:
    """The instruments of a run: the first ``spec`` ones, or the named ``(base, quote)`` ones.

    Named pairs from the table get the table's data; others are synthesised.

    Raises:
        ValueError: a count below 1, an empty list, a pair listed twice, or an empty name.
    """
    if isinstance(spec, int):
        if spec < 1:
            raise ValueError("at least one pair is needed")
        out = list(TABLE[:spec])
        out += [
            synthetic_instrument(synthetic_base(i), SYNTHETIC_QUOTE, i)
            for i in range(len(TABLE), spec)
        ]
        return out
    by_pair = {(i.base, i.quote): i for i in TABLE}
    named: list[Instrument] = []
    seen: set[tuple[str, str]] = set()
    for i, (base, quote) in enumerate(spec):
        if (base, quote) in seen:
            raise ValueError(f"pair listed twice: {base}/{quote}")
        seen.add((base, quote))
        named.append(
            by_pair.get((base, quote)) or synthetic_instrument(base, quote, len(TABLE) + i)
        )
    if not named:
        raise ValueError("at least one pair is needed")
    return named
