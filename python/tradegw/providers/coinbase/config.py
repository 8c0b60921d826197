"""Configuration of the Coinbase Advanced Trade adapter (public market data + REST)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradegw.providers.base.config import RestPolicy, VenueConfig

Channel = Literal["level2", "market_trades", "ticker", "candles"]
ALL_CHANNELS: tuple[Channel, ...] = ("level2", "market_trades", "ticker", "candles")


class CoinbaseRestPolicy(RestPolicy):
    """The shared REST policy with Coinbase's public budget as its default, so that a config
    setting only some fields (``rest: {timeout_s: 3}``) keeps it."""

    weight_per_minute: float = Field(
        600.0,
        ge=1.0,
        le=1e6,
        description="public endpoints: about 10 requests per second per IP",
    )


class CoinbaseVenueConfig(VenueConfig):
    """The Coinbase Advanced Trade adapter: WebSocket market data, REST reference data."""

    ws_url: str = Field(
        "sim", description='wss://advanced-trade-ws.coinbase.com, or "sim" for the simulator'
    )
    rest_url: str = Field("sim", description='https://api.coinbase.com, or "sim"')
    symbols: list[str] = Field(
        default_factory=lambda: ["BTC-USD", "ETH-USD"],
        min_length=1,
        description="product ids (BTC-USD)",
    )
    channels: list[Channel] = Field(default_factory=lambda: list(ALL_CHANNELS), min_length=1)
    book_depth: int = Field(10, ge=1, le=10_000, description="levels per side published")
    trade_side_is_maker: bool = Field(
        True,
        description="market_trades 'side' is the maker's (the docs' wording); the aggressor "
        "is the other side. Set false if the venue is found to send the taker's side.",
    )
    rest: CoinbaseRestPolicy = Field(default_factory=CoinbaseRestPolicy)
