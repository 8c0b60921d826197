"""The configuration every venue adapter shares; each venue's model extends :class:`VenueConfig`.

Every model forbids unknown keys, so a typo is an error that names the field, not a silently
ignored setting. Every number has a range: floats are finite, and upper bounds keep a value
from overflowing what it reaches (``asyncio`` timers, the native core's u64 fields) or from
making a wait or a loop endless.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOUR = 3600.0
DAY = 86_400.0


class StrictModel(BaseModel):
    """A config section that refuses keys it does not define, and NaN or infinite floats
    (``.nan`` passes every ``ge``/``le`` check, ``.inf`` every ``ge``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ReconnectPolicy(StrictModel):
    """Exponential backoff with jitter between reconnect attempts."""

    initial_s: float = Field(0.25, gt=0, le=HOUR)
    max_s: float = Field(30.0, gt=0, le=HOUR)
    multiplier: float = Field(2.0, ge=1.0, le=10.0)
    jitter: float = Field(0.2, ge=0.0, le=1.0, description="± fraction of each delay")

    @model_validator(mode="after")
    def _bounds(self) -> ReconnectPolicy:
        if self.max_s < self.initial_s:
            raise ValueError("max_s must be >= initial_s")
        return self


class RestPolicy(StrictModel):
    """How the adapter's REST client paces and retries its calls."""

    attempts: int = Field(5, ge=1, le=50, description="tries per call before giving up")
    initial_backoff_s: float = Field(0.2, gt=0, le=60.0)
    max_retry_after_s: float = Field(
        10.0,
        gt=0,
        le=HOUR,
        description="longest Retry-After honoured as given (longer ones are capped)",
    )
    timeout_s: float = Field(5.0, gt=0, le=HOUR, description="whole-request timeout")
    # At least one a minute: the bucket waits weight / (weight_per_minute / 60) seconds, so a
    # tiny positive budget would be a wait of centuries.
    weight_per_minute: float = Field(
        60.0,
        ge=1.0,
        le=1e6,
        description="request weight the venue allows per minute (shared bucket)",
    )


class TradingConfig(StrictModel):
    """Order entry on a venue (absent: market data only). Each venue extends it with its
    own endpoints; the API key and secret never come from the config file but from the
    environment or owner-only files (:mod:`tradegw.orders.credentials`)."""

    enabled: bool = True
    url: str = Field(
        "sim",
        description='the venue\'s order endpoint (WebSocket API or REST base), or "sim": '
        "the simulator's, derived from the market-data URLs it serves",
    )
    request_timeout_s: float = Field(
        10.0, gt=0, le=HOUR, description="one order request's wait for the venue's answer"
    )


class VenueConfig(StrictModel):
    """What every venue adapter is configured with; venues add their own fields."""

    enabled: bool = True
    ws_url: str = Field("sim", description='the venue WebSocket URL, or "sim" for the simulator')
    rest_url: str = Field("sim", description='the venue REST base URL, or "sim"')
    symbols: list[str] = Field(min_length=1, description="the venue's own symbols")
    book_depth: int = Field(
        10, ge=1, le=10_000, description="levels per side published to consumers"
    )
    stale_after_s: float = Field(
        5.0,
        gt=0,
        le=HOUR,
        description="reconnect when the connection carries nothing for this long",
    )
    refresh_interval_s: float = Field(
        180.0, ge=1.0, le=DAY, description="periodic book refresh (2-5 min in production)"
    )
    resync_timeout_s: float = Field(
        5.0, gt=0, le=HOUR, description="ask again if no snapshot by then"
    )
    book_stale_after_s: float | None = Field(
        None,
        gt=0,
        le=DAY,
        description="resync a book that got no update for this long while the connection "
        "lives (None: off; quiet books on real venues can be silent for minutes)",
    )
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)
    rest: RestPolicy = Field(default_factory=RestPolicy)
    ping_interval_s: float = Field(10.0, gt=0, le=HOUR, description="client keep-alive ping period")
