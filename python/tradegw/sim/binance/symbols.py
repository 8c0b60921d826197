"""Binance's names for the simulator's instruments: ``BASE+QUOTE`` in capitals.

Binance spot has no US dollar market, so the venue-neutral quote ``USD`` is written ``USDT``
(``BTC/USD`` -> ``BTCUSDT``, ``SYM17/USD`` -> ``SYM17USDT``). The one instrument that would
then read ``USDTUSDT`` - the dollar tether against the dollar - keeps ``USD`` as its quote:
``USDTUSD``. Every name maps back to exactly one instrument and every instrument to exactly
one name; symbols given in a config are parsed by their quote suffix and refused unless they
are that one name (``BTCUSD`` is not a Binance spelling of anything here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradegw.sim.instruments import Instrument, build_instruments

WIRE_DECIMALS = 8
"""Binance writes every price and quantity with eight decimals (``"0.35130000"``)."""

_QUOTE_ASSETS = ("USDT", "USDC", "BTC", "ETH", "BNB", "EUR", "TRY", "USD")
"""Quote assets a symbol may end with, tried longest first."""


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One instrument under its Binance name."""

    instrument: Instrument
    symbol: str
    """``BTCUSDT``."""
    base_asset: str
    quote_asset: str

    @property
    def stream(self) -> str:
        """The symbol as stream names spell it: ``btcusdt``."""
        return self.symbol.lower()

    @property
    def precisions(self) -> tuple[int, int]:
        """Decimals of PRICE_FILTER ``tickSize`` and of LOT_SIZE ``stepSize``."""
        return self.instrument.price_precision, self.instrument.qty_precision


def quote_asset(instrument: Instrument) -> str:
    """The Binance quote asset of an instrument (``USD`` becomes ``USDT``, but for USDT)."""
    if instrument.quote == "USD" and instrument.base != "USDT":
        return "USDT"
    return instrument.quote


def binance_symbol(instrument: Instrument) -> SymbolInfo:
    """An instrument under its Binance name."""
    quote = quote_asset(instrument)
    return SymbolInfo(instrument, f"{instrument.base}{quote}", instrument.base, quote)


def parse_symbol(symbol: str) -> tuple[str, str]:
    """``BTCUSDT`` -> the venue-neutral ``("BTC", "USD")``; ``USDTUSD`` -> ``("USDT", "USD")``.

    Raises:
        ValueError: not capitals and digits, no known quote suffix, or not the name this
            venue gives the instrument it would stand for (``BTCUSD``, ``USDTUSDT``).
    """
    if not symbol.isalnum() or symbol.upper() != symbol:
        raise ValueError(f"a Binance symbol is capital letters and digits: {symbol!r}")
    for quote in sorted(_QUOTE_ASSETS, key=len, reverse=True):
        base = symbol[: -len(quote)]
        if not symbol.endswith(quote) or not base:
            continue
        if quote == "USD" and base != "USDT":
            raise ValueError(f"{symbol!r}: Binance quotes dollars in USDT ({base}USDT)")
        if quote == "USDT" and base == "USDT":
            raise ValueError(f"{symbol!r}: the tether against the dollar is USDTUSD")
        return base, "USD" if quote == "USDT" else quote
    raise ValueError(f"{symbol!r}: cannot tell its base from its quote asset")


def build_symbols(spec: int | Sequence[str]) -> list[SymbolInfo]:
    """The symbols of a run: the first ``spec`` instruments, or the named Binance symbols.

    Raises:
        ValueError: a count below 1, an empty list, a duplicate or an unknown spelling.
    """
    if isinstance(spec, int):
        return [binance_symbol(i) for i in build_instruments(spec)]
    return [binance_symbol(i) for i in build_instruments([parse_symbol(s) for s in spec])]
