"""The configuration schema. Every model forbids unknown keys so a typo is an error, not a
silently ignored setting."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradegw.sim.kraken.config import KrakenSimConfig

EventTypeName = Literal[
    "BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker", "KlineSummary", "ExecReport"
]


Channel = Literal["book", "trade", "ticker", "ohlc"]
ALL_CHANNELS: tuple[Channel, ...] = ("book", "trade", "ticker", "ohlc")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReconnectPolicy(_Strict):
    """Exponential backoff with jitter between reconnect attempts."""

    initial_s: float = Field(0.25, gt=0)
    max_s: float = Field(30.0, gt=0)
    multiplier: float = Field(2.0, ge=1.0)
    jitter: float = Field(0.2, ge=0.0, le=1.0, description="± fraction of each delay")

    @model_validator(mode="after")
    def _bounds(self) -> ReconnectPolicy:
        if self.max_s < self.initial_s:
            raise ValueError("max_s must be >= initial_s")
        return self


class KrakenVenueConfig(_Strict):
    """The Kraken spot adapter (WebSocket v2 + public REST)."""

    enabled: bool = True
    ws_url: str = Field(
        "sim", description='wss://ws.kraken.com/v2, or "sim" for the embedded simulator'
    )
    rest_url: str = Field("sim", description='https://api.kraken.com, or "sim"')
    symbols: list[str] = Field(
        default_factory=lambda: ["BTC/USD", "ETH/USD"], min_length=1, description="v2 symbols"
    )
    channels: list[Channel] = Field(default_factory=lambda: list(ALL_CHANNELS), min_length=1)
    book_depth: Literal[10, 25, 100, 500, 1000] = 10
    ohlc_interval_min: Literal[1, 5, 15, 30, 60, 240, 1440, 10080, 21600] = 1
    ticker_trigger: Literal["trades", "bbo"] = "bbo"
    stale_after_s: float = Field(5.0, gt=0, description="no data or heartbeat for this long")
    refresh_interval_s: float = Field(
        180.0, ge=1.0, description="periodic book refresh (2-5 min in production)"
    )
    resync_timeout_s: float = Field(5.0, gt=0, description="resubscribe if no snapshot by then")
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)
    ping_interval_s: float = Field(10.0, gt=0)


class VenuesConfig(_Strict):
    """One section per venue adapter."""

    kraken: KrakenVenueConfig | None = Field(default_factory=KrakenVenueConfig)


class SimulatorsConfig(_Strict):
    """Venue simulators started in a child process when a venue points at ``"sim"``."""

    kraken: KrakenSimConfig = Field(default_factory=KrakenSimConfig)


class DispatcherConfig(_Strict):
    """Ordering and fan-out."""

    lateness_ms: int = Field(150, ge=0)
    flush_ms: int = Field(50, gt=0)
    max_events: int = Field(200, gt=0)


class ConsumerConfig(_Strict):
    """An in-process consumer started by ``tradegw run``."""

    name: str = Field(min_length=1)
    kind: Literal["book", "tape", "ticker"] = "book"
    symbols: list[str] | None = Field(None, description="canonical symbols; None = all")
    types: list[EventTypeName] | None = Field(None, description="None = all types")
    max_pending: int = Field(
        10_000, gt=0, description="queued events beyond which book diffs become a snapshot"
    )
    delay_ms: float = Field(
        0.0, ge=0, description="artificial per-event work (demo of a slow consumer)"
    )


class TelemetryConfig(_Strict):
    """Ops outputs."""

    dlq_path: str | None = Field("tradegw-dlq.jsonl", description="None keeps the DLQ in memory")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_path: str | None = None


class GatewayConfig(_Strict):
    """The whole file."""

    venues: VenuesConfig = Field(default_factory=VenuesConfig)
    simulators: SimulatorsConfig = Field(default_factory=SimulatorsConfig)
    dispatcher: DispatcherConfig = Field(default_factory=DispatcherConfig)
    consumers: list[ConsumerConfig] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)

    @field_validator("consumers")
    @classmethod
    def _unique_consumers(cls, consumers: list[ConsumerConfig]) -> list[ConsumerConfig]:
        names = [c.name for c in consumers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"consumer names must be unique, repeated: {sorted(dup)}")
        return consumers
