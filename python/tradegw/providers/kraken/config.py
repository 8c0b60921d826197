"""Configuration of the Kraken spot adapter (WebSocket v2 + public REST) and its order
entry (``trading``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradegw.providers.base.config import HOUR, ReconnectPolicy, TradingConfig, VenueConfig

Channel = Literal["book", "trade", "ticker", "ohlc"]
ALL_CHANNELS: tuple[Channel, ...] = ("book", "trade", "ticker", "ohlc")


class KrakenTradingConfig(TradingConfig):
    """Orders on Kraken: WS v2 ``add_order``/``cancel_order`` and the ``executions`` channel on
    the authenticated endpoint, private REST for tokens and queries. The API key and secret
    come from ``TRADEGW_KRAKEN_API_KEY``/``TRADEGW_KRAKEN_API_SECRET`` (or their ``_FILE``
    forms), never from this file."""

    url: str = Field(
        "sim",
        description="the authenticated WebSocket v2 endpoint (wss://ws-auth.kraken.com/v2), "
        "or \"sim\": the simulator's /ws-auth/v2 beside the venue's ws_url",
    )
    rest_url: str = Field(
        "sim",
        description='the REST base of the private calls (https://api.kraken.com), or "sim": '
        "the venue's rest_url",
    )
    query_grace_s: float = Field(
        5.0,
        ge=0,
        le=HOUR,
        description="seconds after a send before a query that finds no order is believed "
        "(Kraken has no recvWindow: a generous bound on a request's time in flight)",
    )
    stale_after_s: float = Field(
        10.0,
        gt=0,
        le=HOUR,
        description="reconnect the private stream when it carries nothing for this long "
        "(Kraken sends a heartbeat every second once subscribed)",
    )
    reference_budget_s: float = Field(
        10.0, gt=0, le=300, description="longest wait for AssetPairs at start-up"
    )
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)


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
    trading: KrakenTradingConfig | None = Field(
        None, description="order entry on Kraken (absent: market data only)"
    )
