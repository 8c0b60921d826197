"""The ``sinks:`` section of the config: where the gateway publishes besides its in-process
consumers. Off unless ``sinks.nats.enabled`` is true."""

from __future__ import annotations

from pydantic import Field, field_validator

from tradegw.providers.base.config import HOUR, StrictModel
from tradegw.schema import EVENT_CLASSES

DAY = 24 * HOUR


class NatsSinkConfig(StrictModel):
    """The NATS bridge: market data on core NATS, ExecReports to JetStream, and the
    snapshot and control services (``docs/nats.md``)."""

    enabled: bool = False
    servers: list[str] = Field(
        default_factory=lambda: ["nats://127.0.0.1:4222"],
        min_length=1,
        max_length=32,
        description="NATS server URLs (nats://HOST:PORT); the client fails over between them",
    )
    name: str = Field("tradegw", min_length=1, max_length=64, description="connection name")
    subject_prefix: str = Field(
        "tradegw",
        pattern=r"^[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9_-]{1,32}){0,3}$",
        description="first tokens of every subject",
    )
    venues: list[str] | None = Field(None, description="what is published; None = every venue")
    symbols: list[str] | None = Field(None, description="canonical symbols; None = all")
    types: list[str] | None = Field(None, description="event type names; None = all")
    max_pending: int = Field(
        10_000,
        gt=0,
        le=10_000_000,
        description="the sink's queue bound: past it its book diffs become one snapshot, as "
        "for any consumer",
    )
    stream: str = Field(
        "TRADEGW_EXEC",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the JetStream stream of ExecReports (created or updated at connect)",
    )
    stream_replicas: int = Field(1, ge=1, le=5)
    stream_max_age_s: float = Field(
        7 * DAY, gt=0, le=365 * DAY, description="how long the stream keeps an ExecReport"
    )
    duplicate_window_s: float = Field(
        120.0,
        gt=0,
        le=DAY,
        description="JetStream's de-duplication window by Nats-Msg-Id",
    )
    exec_memory_max: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="no longer used (ExecReports wait in the order ledger's outbox): accepted "
        "so that older configs load, with a warning",
    )
    spool_path: str | None = Field(
        None,
        description="no longer used (ExecReports wait in the order ledger's outbox): accepted "
        "so that older configs load, with a warning",
    )
    ack_timeout_s: float = Field(
        5.0,
        gt=0,
        le=HOUR,
        description="a JetStream publish or request unanswered this long is tried again",
    )
    connect_timeout_s: float = Field(2.0, gt=0, le=60)
    reconnect_wait_s: float = Field(0.5, gt=0, le=60, description="between reconnect attempts")
    snapshots: bool = Field(True, description="answer <prefix>.snapshot.<venue>.<symbol>")
    control: bool = Field(True, description="answer <prefix>.control with the control bus")

    @field_validator("servers")
    @classmethod
    def _urls(cls, servers: list[str]) -> list[str]:
        for url in servers:
            if not url.startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"{url[:60]!r} is not a nats://, tls://, ws:// or wss:// URL")
        return servers

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: list[str] | None) -> list[str] | None:
        unknown = sorted(set(types or ()) - EVENT_CLASSES.keys())
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_CLASSES)}")
        return types


class SinksConfig(StrictModel):
    """Where events go besides the in-process consumers."""

    nats: NatsSinkConfig = Field(default_factory=NatsSinkConfig)
