"""Configuration of the Kraken spot adapter (WebSocket v2 + public REST)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradegw.providers.base.config import VenueConfig

Channel = Literal["book", "trade", "ticker", "ohlc"]
ALL_CHANNELS: tuple[Channel, ...] = ("book", "trade", "ticker", "ohlc")


class KrakenVenueConfig(VenueConfig):
    """The Kraken spot adapter (WebSocket v2 + public REST)."""

    ws_url: str = Field(
        "sim", description='wss://ws.kraken.com/v2, or "sim" for the embedded simulator'
    )
    rest_url: str = Field("sim", description='https://api.kraken.com, or "sim"')
    symbols: list[str] = Field(
        default_factory=lambda: ["BTC/USD", "ETH/USD"], min_length=1, description="v2 symbols"
    )
    channels: list[Channel] = Field(default_factory=lambda: list(ALL_CHANNELS), min_length=1)
    reference_budget_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="longest wait for REST AssetPairs before the instrument channel alone"
        " supplies the precisions",
    )
    book_depth: Literal[10, 25, 100, 500, 1000] = 10
    ohlc_interval_min: Literal[1, 5, 15, 30, 60, 240, 1440, 10080, 21600] = 1
    ticker_trigger: Literal["trades", "bbo"] = "bbo"
