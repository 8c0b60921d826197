"""Configuration of the Binance spot adapter (market streams + public REST)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tradegw.providers.base.config import DAY, HOUR, RestPolicy, VenueConfig

Channel = Literal["depth", "trade", "aggTrade", "bookTicker", "ticker", "kline"]
ALL_CHANNELS: tuple[Channel, ...] = ("depth", "trade", "bookTicker", "ticker", "kline")
SnapshotLimit = Literal[5, 10, 20, 50, 100, 500, 1000, 5000]


class BinanceRestPolicy(RestPolicy):
    """The shared REST policy with Binance's request-weight budget as its default, so that a
    config setting only some fields (``rest: {timeout_s: 3}``) keeps the 6000 per minute."""

    weight_per_minute: float = Field(
        6000.0,
        ge=1.0,
        le=1e6,
        description="REQUEST_WEIGHT per minute per IP (exchangeInfo rateLimits)",
    )


class BinanceVenueConfig(VenueConfig):
    """The Binance spot adapter: combined market streams and REST depth snapshots."""

    ws_url: str = Field(
        "sim",
        description='wss://stream.binance.com:9443 (streams go in the URL), or "sim"',
    )
    rest_url: str = Field("sim", description='https://api.binance.com, or "sim"')
    symbols: list[str] = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT"],
        min_length=1,
        description="Binance symbols (BTCUSDT)",
    )
    channels: list[Channel] = Field(default_factory=lambda: list(ALL_CHANNELS), min_length=1)
    book_depth: int = Field(10, ge=1, le=5000, description="levels per side published")
    snapshot_limit: SnapshotLimit = Field(
        100, description="levels per side of REST depth snapshots (weight 5 up to 100)"
    )
    depth_speed: Literal["100ms", "1000ms"] = "100ms"
    kline_interval: Literal["1s", "1m", "3m", "5m", "15m", "30m", "1h", "4h", "1d"] = "1m"
    max_connection_age_s: float = Field(
        23.5 * HOUR,
        gt=0,
        le=DAY,
        description="reconnect before the venue's 24 h cut (a planned reconnect, not a surprise)",
    )
    stale_after_s: float = Field(
        30.0,
        gt=0,
        le=HOUR,
        description="market streams carry no heartbeat; server pings come every 20 s",
    )
    rest: BinanceRestPolicy = Field(default_factory=BinanceRestPolicy)

    @model_validator(mode="after")
    def _snapshot_covers_depth(self) -> BinanceVenueConfig:
        if self.snapshot_limit < self.book_depth:
            raise ValueError(
                f"snapshot_limit {self.snapshot_limit} must be >= book_depth {self.book_depth}"
            )
        return self
