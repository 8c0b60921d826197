"""Configuration of the Coinbase Advanced Trade adapter (public market data + REST)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradegw.providers.base.config import (
    HOUR,
    ReconnectPolicy,
    RestPolicy,
    TradingConfig,
    VenueConfig,
)

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


class CoinbaseTradingConfig(TradingConfig):
    """Order entry on Coinbase Advanced Trade: REST orders and the ``user`` channel, each
    request carrying a CDP JWT signed with the key from ``TRADEGW_COINBASE_API_KEY`` (the
    key name) and ``TRADEGW_COINBASE_API_SECRET`` (its private key), or their ``_FILE``
    forms."""

    url: str = Field(
        "sim",
        description='the REST base for orders, https://api.coinbase.com, or "sim": the '
        "market-data rest_url (the simulator serves both)",
    )
    user_ws_url: str = Field(
        "sim",
        description='wss://advanced-trade-ws-user.coinbase.com, or "sim": the market-data '
        "ws_url (the simulator serves the user channel there)",
    )
    jwt_lifetime_s: int = Field(
        120,
        ge=5,
        le=120,
        description="exp - nbf of the tokens (the venue allows 120 s): an order request "
        "that has not reached the venue by then is refused, so an order not found after "
        "this (plus clock_skew_s) was never placed",
    )
    clock_skew_s: float = Field(
        5.0,
        ge=0.0,
        le=300.0,
        description="how far the venue's clock may be from ours; added to jwt_lifetime_s "
        "before a query's 'not found' is believed, and taken off the creation time when "
        "orders are looked up by client id",
    )
    requests_per_s: float = Field(
        30.0,
        gt=0,
        le=10_000.0,
        description="private REST requests per second (the venue allows 30 per user)",
    )
    stream_connect_wait_s: float = Field(
        5.0,
        ge=0.0,
        le=HOUR,
        description="how long start-up waits for the user channel's first subscription",
    )
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)


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
    trading: CoinbaseTradingConfig | None = Field(
        None, description="order entry (absent: market data only)"
    )
