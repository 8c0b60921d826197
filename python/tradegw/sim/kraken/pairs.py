"""Kraken's names for the simulator's instruments: v2 symbols, REST keys, v1 names, assets.

The instruments themselves (precisions, sizes, start prices) are venue-neutral
(:mod:`tradegw.sim.instruments`); here they get Kraken's spellings. Kraken has three:

* v2 WebSocket symbols use the common asset codes: ``BTC/USD``, ``DOGE/USD``;
* REST keys use the legacy X/Z-prefixed asset names where Kraken has them (``XXBTZUSD``,
  ``XETHXXBT``), altnames drop the prefixes (``XBTUSD``), and some are simply irregular
  (``XDGUSD``, ``USDTZUSD``), hence a table;
* AssetPairs ``wsname`` is the v1 WebSocket name, built from asset altnames: ``XBT/USD``,
  ``XDG/USD`` (clients map XBT to BTC and XDG to DOGE to reach the v2 symbol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradegw.sim.instruments import Instrument, build_instruments


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One asset as the v2 ``instrument`` channel and REST ``Assets`` describe it."""

    name: str
    """v2 identifier (``BTC``)."""
    rest_name: str
    """REST key (``XXBT``)."""
    altname: str
    """REST altname and v1 name (``XBT``)."""
    decimals: int
    display_decimals: int


@dataclass(frozen=True, slots=True)
class PairInfo:
    """One pair under Kraken's names, with the instrument behind it.

    Amount fields are fixed-point: prices at ``price_precision``, quantities at
    ``qty_precision``, costs at ``cost_precision``.
    """

    instrument: Instrument
    symbol: str
    """v2 symbol (``BTC/USD``)."""
    rest_name: str
    """REST AssetPairs key (``XXBTZUSD``)."""
    altname: str
    """REST altname (``XBTUSD``)."""
    wsname: str
    """v1 WebSocket name, as REST AssetPairs ``wsname`` gives it (``XBT/USD``)."""
    rest_base: str
    rest_quote: str
    marginable: bool

    @property
    def base(self) -> str:
        """v2 base asset (``BTC``)."""
        return self.instrument.base

    @property
    def quote(self) -> str:
        """v2 quote asset (``USD``)."""
        return self.instrument.quote

    @property
    def price_precision(self) -> int:
        """Decimals of prices (``pair_decimals``)."""
        return self.instrument.price_precision

    @property
    def qty_precision(self) -> int:
        """Decimals of quantities (``lot_decimals``)."""
        return self.instrument.qty_precision

    @property
    def cost_precision(self) -> int:
        """Decimals of costs (``cost_decimals``)."""
        return self.instrument.notional_precision

    @property
    def qty_min(self) -> int:
        """Smallest order quantity (``ordermin``), fixed-point."""
        return self.instrument.qty_min

    @property
    def cost_min(self) -> int:
        """Smallest order cost (``costmin``), fixed-point."""
        return self.instrument.min_notional


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
    ("DOGE", "XXDG", "XDG", 8, 2),
)
_ASSETS = {row[0]: AssetInfo(*row) for row in _ASSET_TABLE}

# (base, quote) -> REST name, altname: where the venue's names follow no rule.
_PAIR_NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("BTC", "USD"): ("XXBTZUSD", "XBTUSD"),
    ("ETH", "USD"): ("XETHZUSD", "ETHUSD"),
    ("XRP", "USD"): ("XXRPZUSD", "XRPUSD"),
    ("LTC", "USD"): ("XLTCZUSD", "LTCUSD"),
    ("ETH", "BTC"): ("XETHXXBT", "ETHXBT"),
    ("BTC", "EUR"): ("XXBTZEUR", "XBTEUR"),
    ("ETH", "EUR"): ("XETHZEUR", "ETHEUR"),
    ("USDT", "USD"): ("USDTZUSD", "USDTUSD"),
    ("DOGE", "USD"): ("XDGUSD", "XDGUSD"),
}

_MARGIN_BASES = frozenset({"BTC", "ETH", "SOL", "XRP", "LTC"})
_MARGIN_QUOTES = frozenset({"USD", "EUR"})


def _asset(name: str) -> AssetInfo | None:
    return _ASSETS.get(name)


def _altname(asset: str) -> str:
    known = _asset(asset)
    return known.altname if known else asset


def _rest_asset(asset: str) -> str:
    known = _asset(asset)
    return known.rest_name if known else asset


def kraken_pair(instrument: Instrument) -> PairInfo:
    """An instrument under Kraken's names."""
    base, quote = instrument.base, instrument.quote
    regular = f"{_altname(base)}{_altname(quote)}"
    rest_name, altname = _PAIR_NAMES.get((base, quote), (regular, regular))
    return PairInfo(
        instrument=instrument,
        symbol=f"{base}/{quote}",
        rest_name=rest_name,
        altname=altname,
        wsname=f"{_altname(base)}/{_altname(quote)}",
        rest_base=_rest_asset(base),
        rest_quote=_rest_asset(quote),
        marginable=quote in _MARGIN_QUOTES and base in _MARGIN_BASES,
    )


def parse_symbol(symbol: str) -> tuple[str, str]:
    """``BTC/USD`` -> ``("BTC", "USD")``.

    Raises:
        ValueError: not ``BASE/QUOTE``.
    """
    base, slash, quote = symbol.partition("/")
    if not slash or not base or not quote or "/" in quote:
        raise ValueError(f"pair symbol must look like BASE/QUOTE: {symbol!r}")
    return base, quote


def build_pairs(spec: int | Sequence[str]) -> list[PairInfo]:
    """The pairs of a run: the first ``spec`` instruments, or the named v2 symbols.

    Raises:
        ValueError: a count below 1, an empty list, a duplicate, or a name that is not
            ``BASE/QUOTE``.
    """
    if isinstance(spec, int):
        instruments = build_instruments(spec)
    else:
        instruments = build_instruments([parse_symbol(symbol) for symbol in spec])
    return [kraken_pair(i) for i in instruments]


def build_assets(pairs: Sequence[PairInfo]) -> list[AssetInfo]:
    """The assets the given pairs use, in order of first use."""
    out: dict[str, AssetInfo] = {}
    for pair in pairs:
        for name, rest_name in ((pair.base, pair.rest_base), (pair.quote, pair.rest_quote)):
            if name not in out:
                out[name] = _asset(name) or AssetInfo(name, rest_name, name, 8, 5)
    return list(out.values())
