"""Configuration of one Binance simulator run: the common fields plus Binance's clocks and
limits (server pings, the connection lifetime, message and request-weight limits) and how the
private stream fault ends a user data stream."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tradegw.sim.binance.faults import BinanceFaultPlan
from tradegw.sim.config import SimConfig

HOUR = 3600.0
DAY = 86_400.0


class BinanceSimConfig(SimConfig):
    """Everything that shapes a Binance run (see :class:`SimConfig`). Pairs are Binance
    symbols (``BTCUSDT``); the defaults are the venue's published figures. Each of
    ``api_keys`` is an HMAC key (its ``secret``) or an Ed25519 key (its ``public_key_pem``),
    one or the other."""

    pairs: int | list[str] = Field(
        default=5,
        description="how many pairs (the instrument table first, then SYMnnUSDT), "
        "or their Binance symbols (BTCUSDT)",
    )
    faults: BinanceFaultPlan = Field(default_factory=BinanceFaultPlan)
    ping_interval_s: float = Field(
        default=20.0, gt=0.0, le=HOUR, description="a protocol ping to every client this often"
    )
    pong_timeout_s: float = Field(
        default=60.0,
        gt=0.0,
        le=HOUR,
        description="a ping not answered (payload echoed) this long ends it",
    )
    connection_lifetime_s: float = Field(
        default=DAY,
        gt=0.0,
        le=7 * DAY,
        description="the server closes every connection at this age",
    )
    shutdown_grace_s: float = Field(
        default=1.0,
        ge=0.0,
        le=HOUR,
        description="between a serverShutdown event and the close that follows it",
    )
    shutdown_notice_at_lifetime: bool = Field(
        default=False,
        description="announce the lifetime cut with serverShutdown (shutdown_grace_s before it)",
    )
    max_incoming_per_s: int = Field(
        default=5,
        ge=1,
        le=1_000_000,
        description="client messages per second beyond which it is cut off",
    )
    max_streams: int = Field(default=1024, ge=1, le=1_000_000, description="streams per connection")
    weight_limit: int = Field(
        default=6000,
        ge=1,
        le=1_000_000_000,
        description="REST request weight per IP per window (REQUEST_WEIGHT)",
    )
    weight_window_s: float = Field(
        default=60.0, gt=0.0, le=DAY, description="the weight window (Binance: one minute)"
    )
    ban_s: float = Field(
        default=120.0,
        gt=0.0,
        le=DAY,
        description="length of the 418 ban for requests during a back-off",
    )
    stream_drop: Literal["disconnect", "terminate", "alternate"] = Field(
        default="alternate",
        description="how the private_stream_drop fault ends a user data stream: the "
        "connection dropped, eventStreamTerminated sent, or each in turn",
    )
    snapshot_retain_s: float = Field(
        default=5.0,
        gt=0.0,
        le=HOUR,
        description="how often a depth snapshot is kept per pair for the stale_snapshot fault",
    )

    @model_validator(mode="after")
    def _keys_are_hmac_or_ed25519(self) -> BinanceSimConfig:
        # Imported here: reading a config needs no cryptography until a key names a PEM.
        from tradegw.sim.binance.auth import ed25519_public_key

        for key, spec in self.api_keys.items():
            shown = key[:6] + "..." if len(key) > 6 else key
            if (spec.secret is None) == (spec.public_key_pem is None):
                raise ValueError(
                    f"api key {shown!r}: a Binance key is HMAC (secret) or Ed25519 "
                    "(public_key_pem), one of the two"
                )
            if spec.public_key_pem is not None:
                try:
                    ed25519_public_key(spec.public_key_pem)
                except ValueError as e:
                    raise ValueError(f"api key {shown!r}: {e}") from None
        return self
