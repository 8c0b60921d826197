"""What an attacker needs to know of each venue's wire format, written from the frames the
simulators send (and the venues' documentation), independently of the adapters: where a
frame's trade and ticker items are, which keys hold their symbol, price, quantity and id, and
which frames carry a symbol's book."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Msg = dict[str, Any]


def _kraken_items(channel: str) -> Callable[[Msg], list[Msg]]:
    def items(m: Msg) -> list[Msg]:
        data = m.get("data")
        return data if m.get("channel") == channel and isinstance(data, list) else []

    return items


def _binance_items(event: str | None) -> Callable[[Msg], list[Msg]]:
    def items(m: Msg) -> list[Msg]:
        data = m.get("data")
        if not isinstance(data, dict):
            return []
        # bookTicker payloads carry no event type at all.
        return [data] if data.get("e") == event else []

    return items


def _coinbase_items(channel: str, key: str) -> Callable[[Msg], list[Msg]]:
    def items(m: Msg) -> list[Msg]:
        if m.get("channel") != channel:
            return []
        return [item for ev in m.get("events", []) for item in ev.get(key, [])]

    return items


def _kraken_book_symbols(m: Msg) -> list[str]:
    return [d.get("symbol") for d in _kraken_items("book")(m)]


def _binance_book_symbols(m: Msg) -> list[str]:
    data = m.get("data")
    return [data["s"]] if isinstance(data, dict) and data.get("e") == "depthUpdate" else []


def _coinbase_book_symbols(m: Msg) -> list[str]:
    if m.get("channel") != "l2_data":
        return []
    return [ev.get("product_id") for ev in m.get("events", [])]


def _binance_rename(m: Msg, new: str) -> None:
    data = m.get("data")
    if isinstance(data, dict):
        old = data.get("s", "")
        data["s"] = new
        if isinstance(data.get("k"), dict):
            data["k"]["s"] = new
        m["stream"] = str(m.get("stream", "")).replace(old.lower(), new.lower())


def _kraken_rename(m: Msg, new: str) -> None:
    data = m.get("data")
    if isinstance(data, list):
        for d in data:
            if isinstance(d, dict) and "symbol" in d:
                d["symbol"] = new


def _coinbase_rename(m: Msg, new: str) -> None:
    for ev in m.get("events", []):
        if "product_id" in ev:
            ev["product_id"] = new
        for key in ("trades", "tickers", "candles"):
            for item in ev.get(key, []):
                item["product_id"] = new


@dataclass(frozen=True)
class VenueFacts:
    """One venue's wire, as an attacker reads it."""

    name: str
    pairs: list[str]
    """Venue symbols the rig trades."""
    unknown_symbol: str
    """A well-formed symbol the venue could list but the rig never subscribed to."""
    numbers_are_strings: bool
    """Binance and Coinbase quote numbers; Kraken v2 writes JSON numbers."""
    trade_items: Callable[[Msg], list[Msg]]
    ticker_items: Callable[[Msg], list[Msg]]
    symbol_key: str
    trade_price: str
    trade_qty: str
    trade_id: str
    ticker_price: str
    book_symbols: Callable[[Msg], list[str]]
    """The symbols whose book a frame updates (empty for other frames)."""
    rename: Callable[[Msg, str], None]
    """Rewrites every symbol a frame names (items and, for Binance, the stream name)."""
    reference_path: str
    """The REST path of the instrument list the adapter loads before it connects."""
    ids_are_strings: bool = False


KRAKEN = VenueFacts(
    name="kraken",
    pairs=["BTC/USD", "ETH/USD", "MATIC/USD"],
    unknown_symbol="DOGE/USD",
    numbers_are_strings=False,
    trade_items=_kraken_items("trade"),
    ticker_items=_kraken_items("ticker"),
    symbol_key="symbol",
    trade_price="price",
    trade_qty="qty",
    trade_id="trade_id",
    ticker_price="bid",
    book_symbols=_kraken_book_symbols,
    rename=_kraken_rename,
    reference_path="/0/public/AssetPairs",
)
BINANCE = VenueFacts(
    name="binance",
    pairs=["BTCUSDT", "ETHUSDT", "MATICUSDT"],
    unknown_symbol="DOGEUSDT",
    numbers_are_strings=True,
    trade_items=_binance_items("trade"),
    ticker_items=_binance_items(None),
    symbol_key="s",
    trade_price="p",
    trade_qty="q",
    trade_id="t",
    ticker_price="b",
    book_symbols=_binance_book_symbols,
    rename=_binance_rename,
    reference_path="/api/v3/exchangeInfo",
)
COINBASE = VenueFacts(
    name="coinbase",
    pairs=["BTC-USD", "ETH-USD", "MATIC-USD"],
    unknown_symbol="DOGE-USD",
    numbers_are_strings=True,
    trade_items=_coinbase_items("market_trades", "trades"),
    ticker_items=_coinbase_items("ticker", "tickers"),
    symbol_key="product_id",
    trade_price="price",
    trade_qty="size",
    trade_id="trade_id",
    ticker_price="best_bid",
    book_symbols=_coinbase_book_symbols,
    rename=_coinbase_rename,
    reference_path="/api/v3/brokerage/market/products",
    ids_are_strings=True,
)

VENUES = {v.name: v for v in (KRAKEN, BINANCE, COINBASE)}
