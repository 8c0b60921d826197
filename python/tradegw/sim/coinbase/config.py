"""Configuration of one Coinbase Advanced Trade simulator run."""

from __future__ import annotations

from pydantic import Field

from tradegw.sim.coinbase.faults import CoinbaseFaultPlan
from tradegw.sim.config import SimConfig

DAY = 86_400.0


class CoinbaseSimConfig(SimConfig):
    """Everything that shapes a Coinbase run (see :class:`SimConfig`). Pairs are product ids.

    ``heartbeat_interval`` is the period of the ``heartbeats`` channel (one a second on the
    venue).
    """

    pairs: int | list[str] = Field(
        default=5,
        description="how many products (the instrument table first, then SYMnn-USD), "
        "or their product ids (BTC-USD)",
    )
    faults: CoinbaseFaultPlan = Field(default_factory=CoinbaseFaultPlan)
    subscribe_deadline_s: float = Field(
        default=5.0,
        ge=0.0,
        le=DAY,
        description="close a connection that has not subscribed this long after connecting "
        "(0 = never)",
    )
    idle_timeout_s: float = Field(
        default=90.0,
        ge=0.0,
        le=DAY,
        description="close a connection that was sent nothing for this long, unless it "
        "subscribed to heartbeats (0 = never)",
    )
    ticker_batch_interval_s: float = Field(
        default=5.0, gt=0.0, le=3600.0, description="period of the ticker_batch channel"
    )
    rest_rate_limit: float = Field(
        default=10.0,
        ge=0.0,
        le=1e6,
        description="public REST requests per second per client address (0 = unlimited)",
    )
    rest_burst: int = Field(
        default=10,
        ge=1,
        le=1_000_000,
        description="REST requests a client may make at once before pacing",
    )
    private_rate_limit: float = Field(
        default=30.0,
        ge=0.0,
        le=1e6,
        description="private (order) REST requests per second per API key (0 = unlimited)",
    )
    private_burst: int = Field(
        default=30,
        ge=1,
        le=1_000_000,
        description="private requests an API key may make at once before pacing",
    )
    order_ack_lost_hold_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="order_ack_lost: how long an accepted order's request is held unanswered "
        "before its connection is closed",
    )
    jwt_leeway_s: float = Field(
        default=5.0,
        ge=0.0,
        le=300.0,
        description="how far in the future a JWT's nbf may lie (client clocks run ahead)",
    )
