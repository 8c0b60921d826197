"""The ``sinks:`` section of the config: where the gateway publishes besides its in-process
consumers. Off unless ``sinks.nats.enabled`` is true."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Literal

from pydantic import Field, PlainValidator, field_validator

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


SHARD_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
"""A shard's name: one NATS subject token and one KV key token."""


def _owned(value: object) -> list[str] | Literal["all"]:
    # One check with one message: a plain union would report each branch's failure under
    # the branch's name (owns.kraken.literal['all']).
    if value == "all":
        return "all"
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    raise ValueError("must be a list of the venue's symbols, or 'all'")


OwnedSymbols = Annotated[list[str] | Literal["all"], PlainValidator(_owned)]
"""A venue's symbols a shard owns: a list, or ``all``."""


class ShardConfig(StrictModel):
    """This gateway process as one shard of several publishing into the same NATS
    (``docs/nats.md``, "Shards"): which venues and symbols it owns, under what name it
    answers control messages, and how its claims on its streams are kept."""

    name: str = Field(
        pattern=SHARD_NAME_PATTERN,
        description="the shard's name: control messages addressed to it go to "
        "<prefix>.control.<name>; unique in the deployment",
    )
    owns: dict[str, OwnedSymbols] = Field(
        default_factory=dict,
        description="venue -> its symbols this shard owns, spelled as under "
        "venues.<venue>.symbols, or 'all'; the shard runs these and nothing else",
    )
    claim_ttl_s: float = Field(
        10.0,
        ge=1.0,
        le=3600.0,
        description="a claim on a stream lapses this long after its shard stopped renewing "
        "it (renewed every third of it); the KV bucket's first maker sets it for all",
    )
    bucket: str = Field(
        "TRADEGW_SHARDS",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the JetStream key-value bucket of shards and their stream claims",
    )

    def owned_symbols(self, venue: str, configured: list[str]) -> list[str]:
        """The symbols of ``venue`` this shard owns, in the order ``configured`` lists
        them (every one when it owns 'all', none when it does not own the venue)."""
        owned = self.owns.get(venue)
        if owned is None:
            return []
        if owned == "all":
            return list(configured)
        wanted = set(owned)
        return [s for s in configured if s in wanted]


Problem = tuple[tuple[str | int, ...], str, object]
"""Where in the ``shard`` section (a path under it), what is wrong, and the value refused."""


def shard_problems(
    shard: ShardConfig,
    configured: Mapping[str, tuple[bool, list[str]]],
    known_venues: Collection[str],
    *,
    merge_role: bool,
) -> list[Problem]:
    """What is wrong with ``shard`` against the config's venues (``configured``: each
    venue's (enabled, symbols)). A merge-role process owns no venue; a gateway shard owns at
    least one, each with an enabled section, each symbol one of that section's."""
    if merge_role:
        if shard.owns:
            return [(("owns",), "a merge-role process runs no venue: leave owns out", shard.owns)]
        return []
    if not shard.owns:
        return [(("owns",), "a gateway shard owns at least one venue", shard.owns)]
    problems: list[Problem] = []
    for venue, symbols in shard.owns.items():
        if venue not in known_venues:
            problems.append(
                (("owns", venue), f"unknown venue; known: {sorted(known_venues)}", venue)
            )
            continue
        enabled, listed = configured.get(venue, (False, []))
        if not enabled:
            problems.append(
                (("owns", venue), "this venue has no enabled section under venues", symbols)
            )
            continue
        if symbols == "all":
            continue
        if not symbols:
            problems.append((("owns", venue), "name at least one symbol, or 'all'", symbols))
        seen: set[str] = set()
        for i, symbol in enumerate(symbols):
            if symbol in seen:
                problems.append((("owns", venue, i), "listed twice", symbol))
            elif symbol not in listed:
                shown = listed[:10] + (["..."] if len(listed) > 10 else [])
                problems.append(
                    (("owns", venue, i), f"not one of venues.{venue}.symbols {shown}", symbol)
                )
            seen.add(symbol)
    return problems
