"""Reference data of the simulated venue: assets and pairs, with their precisions.

The first pairs come from a table modelled on real Kraken spot pairs (names, REST names,
precisions of the same order as the venue's). When more pairs are asked for than the table
holds, further pairs are synthesised (``SYM15/USD``, ...) with precisions that vary from pair to
pair, so clients are exercised on 0 to 8 decimals. The set of pairs never depends on the seed:
only the market moves with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradegw.sim.kraken.wire import parse_fixed


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One asset as the v2 ``instrument`` channel and REST ``Assets`` describe it."""

    name: str
    """v2 identifier (``BTC``)."""
    rest_name: str
    """REST key (``XXBT``)."""
    altname: str
    """REST altname (``XBT``)."""
    decimals: int
    display_decimals: int


@dataclass(frozen=True, slots=True)
class PairInfo:
    """One tradeable pair, with everything the market and the wire need to know about it.

    Integer fields ending in a unit are fixed-point: prices at ``price_precision``, quantities
    at ``qty_precision``, costs at ``cost_precision``.
    """

    symbol: str
    """v2 symbol (``BTC/USD``)."""
    base: str
    quote: str
    rest_name: str
    """REST AssetPairs key (``XXBTZUSD``)."""
    altname: str
    """REST altname (``XBTUSD``)."""
    rest_base: str
    rest_quote: str
    price_precision: int
    qty_precision: int
    cost_precision: int
    start_price: int
    """Where the synthetic mid starts, in ticks."""
    qty_min: int
    """Smallest order and smallest level quantity."""
    qty_max: int
    """Largest quantity a new level is created with."""
    max_gap: int
    """Largest distance between neighbouring levels, in ticks."""
    cost_min: int
    marginable: bool


# symbol, REST name, altname, REST base, REST quote, price dp, qty dp, cost dp,
# start price, qty min, qty max, max gap in ticks
_PAIR_TABLE: tuple[tuple[str, str, str, str, str, int, int, int, str, str, str, int], ...] = (
    ("BTC/USD", "XXBTZUSD", "XBTUSD", "XXBT", "ZUSD", 1, 8, 5, "45000.0", "0.0001", "2.5", 3),
    ("ETH/USD", "XETHZUSD", "ETHUSD", "XETH", "ZUSD", 2, 8, 5, "2400.00", "0.002", "40", 3),
    ("SOL/USD", "SOLUSD", "SOLUSD", "SOL", "ZUSD", 2, 8, 5, "100.00", "0.02", "300", 2),
    ("XRP/USD", "XXRPZUSD", "XRPUSD", "XXRP", "ZUSD", 5, 8, 5, "0.60000", "2", "20000", 3),
    ("MATIC/USD", "MATICUSD", "MATICUSD", "MATIC", "ZUSD", 4, 8, 5, "0.5660", "4", "50000", 1),
    ("ADA/USD", "ADAUSD", "ADAUSD", "ADA", "ZUSD", 6, 8, 5, "0.400000", "5", "60000", 40),
    ("LTC/USD", "XLTCZUSD", "LTCUSD", "XLTC", "ZUSD", 2, 8, 5, "70.00", "0.05", "500", 2),
    ("DOT/USD", "DOTUSD", "DOTUSD", "DOT", "ZUSD", 4, 8, 5, "6.0000", "0.2", "5000", 3),
    ("LINK/USD", "LINKUSD", "LINKUSD", "LINK", "ZUSD", 5, 8, 5, "14.00000", "0.2", "3000", 40),
    ("ETH/BTC", "XETHXXBT", "ETHXBT", "XETH", "XXBT", 5, 8, 10, "0.05300", "0.002", "50", 1),
    ("BTC/EUR", "XXBTZEUR", "XBTEUR", "XXBT", "ZEUR", 1, 8, 5, "42000.0", "0.0001", "2", 3),
    ("ETH/EUR", "XETHZEUR", "ETHEUR", "XETH", "ZEUR", 2, 8, 5, "2200.00", "0.002", "40", 3),
    ("USDT/USD", "USDTZUSD", "USDTUSD", "USDT", "ZUSD", 4, 2, 5, "1.0002", "5", "250000", 1),
    ("SHIB/USD", "SHIBUSD", "SHIBUSD", "SHIB", "ZUSD", 8, 5, 5, "0.00001234", "50000", "9e8", 1),
    ("AVAX/USD", "AVAXUSD", "AVAXUSD", "AVAX", "ZUSD", 2, 8, 5, "35.00", "0.1", "800", 2),
    ("ATOM/USD", "ATOMUSD", "ATOMUSD", "ATOM", "ZUSD", 4, 8, 5, "9.0000", "0.2", "4000", 4),
)

# name, REST name, altname, decimals, display decimals
_ASSET_TABLE: tuple[tuple[str, str, str, int, int], ...] = (
    ("BTC", "XXBT", "XBT", 10, 5),
    ("ETH", "XETH", "ETH", 10, 5),
    ("SOL", "SOL", "SOL", 10, 5),
    ("XRP", "XXRP", "XRP", 8, 5),
    ("MATIC", "MATIC", "MATIC", 10, 5),
    ("ADA", "ADA", "ADA", 8, 6),
    ("LTC", "XLTC", "LTC", 10, 5),
    ("DOT", "DOT", "DOT", 10, 8),
    ("LINK", "LINK", "LINK", 10, 5),
    ("USD", "ZUSD", "USD", 4, 2),
    ("EUR", "ZEUR", "EUR", 4, 2),
    ("USDT", "USDT", "USDT", 8, 4),
    ("SHIB", "SHIB", "SHIB", 5, 5),
    ("AVAX", "AVAX", "AVAX", 10, 5),
    ("ATOM", "ATOM", "ATOM", 8, 6),
)

# Precisions cycled through by synthesised pairs: every price precision meets every qty one.
_SYNTH_PRICE_DP = (1, 2, 3, 4, 5, 6, 8)
_SYNTH_QTY_DP = (8, 6, 4, 2, 0, 5, 3)


def _expand(text: str) -> str:
    """Allow ``9e8`` in the table for readability; the market never sees exponent text."""
    if "e" in text:
        mantissa, exponent = text.split("e")
        return str(int(mantissa) * 10 ** int(exponent))
    return text


def _table_pair(row: tuple[str, str, str, str, str, int, int, int, str, str, str, int]) -> PairInfo:
    symbol, rest, alt, rbase, rquote, pdp, qdp, cdp, start, qmin, qmax, gap = row
    base, quote = symbol.split("/")
    return PairInfo(
        symbol=symbol,
        base=base,
        quote=quote,
        rest_name=rest,
        altname=alt,
        rest_base=rbase,
        rest_quote=rquote,
        price_precision=pdp,
        qty_precision=qdp,
        cost_precision=cdp,
        start_price=parse_fixed(start, pdp),
        qty_min=parse_fixed(qmin, qdp),
        qty_max=parse_fixed(_expand(qmax), qdp),
        max_gap=gap,
        cost_min=parse_fixed("0.5", cdp),
        marginable=quote in ("USD", "EUR") and base in ("BTC", "ETH", "SOL", "XRP", "LTC"),
    )


def synthetic_pair(symbol: str, index: int) -> PairInfo:
    """A made-up pair for ``symbol`` (``BASE/QUOTE``); ``index`` picks its precisions."""
    base, _, quote = symbol.partition("/")
    if not base or not quote:
        raise ValueError(f"pair symbol must look like BASE/QUOTE: {symbol!r}")
    pdp = _SYNTH_PRICE_DP[index % len(_SYNTH_PRICE_DP)]
    qdp = _SYNTH_QTY_DP[(index // len(_SYNTH_PRICE_DP)) % len(_SYNTH_QTY_DP)]
    known_quote = {a[0]: a[1] for a in _ASSET_TABLE}.get(quote, quote)
    return PairInfo(
        symbol=symbol,
        base=base,
        quote=quote,
        rest_name=f"{base}{quote}",
        altname=f"{base}{quote}",
        rest_base=base,
        rest_quote=known_quote,
        price_precision=pdp,
        qty_precision=qdp,
        cost_precision=5,
        # Five significant digits of ticks whatever the precision: 1234.5 at 1 dp, 0.00012345
        # at 8 dp, so low-priced pairs with leading zeros come up as often as large prices.
        start_price=10_000 + (index * 7919) % 90_000,
        qty_min=max(1, 10**qdp // 100),
        qty_max=500 * 10**qdp,
        max_gap=1 + index % 3,
        cost_min=parse_fixed("0.5", 5),
        marginable=False,
    )


def build_pairs(spec: int | Sequence[str]) -> list[PairInfo]:
    """The pairs of a run: the first ``spec`` pairs, or the named ones.

    Names from the table get the table's data; other ``BASE/QUOTE`` names are synthesised.

    Raises:
        ValueError: a count below 1, a duplicate name, or a name that is not ``BASE/QUOTE``.
    """
    table = [_table_pair(row) for row in _PAIR_TABLE]
    if isinstance(spec, int):
        if spec < 1:
            raise ValueError("at least one pair is needed")
        pairs = table[:spec]
        pairs += [synthetic_pair(f"SYM{i:02d}/USD", i) for i in range(len(table), spec)]
        return pairs
    by_symbol = {p.symbol: p for p in table}
    out: list[PairInfo] = []
    for i, symbol in enumerate(spec):
        if any(p.symbol == symbol for p in out):
            raise ValueError(f"pair listed twice: {symbol}")
        out.append(by_symbol.get(symbol) or synthetic_pair(symbol, len(table) + i))
    if not out:
        raise ValueError("at least one pair is needed")
    return out


def build_assets(pairs: Sequence[PairInfo]) -> list[AssetInfo]:
    """The assets the given pairs use, table entries first, in a stable order."""
    known = {row[0]: AssetInfo(*row) for row in _ASSET_TABLE}
    out: dict[str, AssetInfo] = {}
    for pair in pairs:
        for name, rest_name in ((pair.base, pair.rest_base), (pair.quote, pair.rest_quote)):
            if name not in out:
                out[name] = known.get(name) or AssetInfo(name, rest_name, name, 8, 5)
    return list(out.values())
