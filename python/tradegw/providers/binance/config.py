"""Configuration of the Binance spot adapter (market streams + public REST) and of its order
entry (WebSocket API + SIGNED REST), which is off unless a ``trading`` section is given."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tradegw.providers.base.config import (
    DAY,
    HOUR,
    ReconnectPolicy,
    RestPolicy,
    TradingConfig,
    VenueConfig,
)

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


class BinanceTradingConfig(TradingConfig):
    """Order entry on Binance: orders and the user data stream over the WebSocket API, fills
    recovered from REST ``myTrades``. The API key and secret come from
    ``TRADEGW_BINANCE_API_KEY`` / ``TRADEGW_BINANCE_API_SECRET`` (or their ``_FILE`` forms),
    never from this file; for ``key_type: ed25519`` the secret is the Ed25519 private key
    (PEM)."""

    key_type: Literal["hmac", "ed25519"] = Field(
        "hmac",
        description="the API key's type: hmac (TRADEGW_BINANCE_API_SECRET is the secret key, "
        "requests are signed HMAC-SHA256) or ed25519 (it is the private key as PEM, requests "
        "are signed Ed25519)",
    )

    url: str = Field(
        "sim",
        description='the WebSocket API, wss://ws-api.binance.com:443/ws-api/v3, or "sim": '
        "/ws-api/v3 on the simulator's WebSocket port (ws_url must then be the simulator's)",
    )
    rest_url: str = Field(
        "sim",
        description='REST base for SIGNED queries (myTrades), or "sim": the venue\'s rest_url',
    )
    recv_window_ms: int = Field(
        5000,
        ge=100,
        le=60_000,
        description="how long a signed request stays valid after its timestamp (the venue "
        "refuses it later); a query finding nothing is believed this long after a send",
    )
    query_grace_extra_s: float = Field(
        2.0,
        ge=0.0,
        le=60.0,
        description="added to recv_window_ms before 'not found' is believed: a request "
        "accepted just inside its window may still be on its way to the matching engine",
    )
    heartbeat_s: float = Field(
        20.0, gt=0, le=HOUR, description="client ping period on the WebSocket API connections"
    )
    weight_per_minute: float = Field(
        5000.0,
        ge=10.0,
        le=1e6,
        description="request weight order entry may spend per minute (the venue allows 6000 "
        "per IP, shared with market data); requests wait for it before they are sent",
    )
    open_orders_reuse_s: float = Field(
        0.5,
        ge=0.0,
        le=60.0,
        description="queries arriving together (a reconciliation after a stream gap) share "
        "one openOrders.status answer per symbol for this long; 0 = one order.status each",
    )
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)


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
    trading: BinanceTradingConfig | None = Field(
        None, description="order entry; absent: market data only"
    )

    @model_validator(mode="after")
    def _snapshot_covers_depth(self) -> BinanceVenueConfig:
        if self.snapshot_limit < self.book_depth:
            raise ValueError(
                f"snapshot_limit {self.snapshot_limit} must be >= book_depth {self.book_depth}"
            )
        return self
