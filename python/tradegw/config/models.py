"""The configuration schema. Every model forbids unknown keys so a typo is an error, not a
silently ignored setting."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradegw.conductor.spec import (
    MAX_DEPTH,
    MAX_EVENTS_LIMIT,
    MAX_WINDOW_S,
    MERGE_ID_PATTERN,
    MIN_VENUES,
    SYMBOL_PATTERN,
)
from tradegw.natsbus.config import ShardConfig, SinksConfig, shard_problems
from tradegw.providers.base.config import HOUR, StrictModel, VenueConfig
from tradegw.providers.registry import config_model, venue_names
from tradegw.schema import MERGED_PROVIDER
from tradegw.sim.config import SimConfig
from tradegw.sim.registry import load_venue
from tradegw.sim.registry import venue_names as sim_venue_names

EventTypeName = Literal[
    "BookSnapshot",
    "BookUpdate",
    "BookStatus",
    "Trade",
    "Ticker",
    "KlineSummary",
    "ExecReport",
    "MergedBookSnapshot",
    "MergedBBO",
]


class VenueTable(StrictModel):
    """One optional section per registered venue adapter (``venues.kraken``, ...)."""

    def configured(self) -> list[tuple[str, VenueConfig]]:
        """The venues that have a section, in registry order (enabled or not)."""
        out = []
        for name in venue_names():
            section = getattr(self, name, None)
            if section is not None:
                out.append((name, section))
        return out

    def get(self, venue: str) -> VenueConfig | None:
        """The section of ``venue``, or None when the file has none."""
        section = getattr(self, venue, None)
        return section if isinstance(section, VenueConfig) else None


# Built from the registry so that adding a venue needs no change here, while pydantic still
# reports errors at their full path (venues.kraken.book_depth).
VenuesConfig: type[VenueTable] = create_model(
    "VenuesConfig",
    __base__=VenueTable,
    __doc__=VenueTable.__doc__,
    **{name: (config_model(name) | None, None) for name in venue_names()},  # type: ignore[call-overload]
)


class SimulatorTable(StrictModel):
    """One section per registered venue simulator, started in a child process when the
    venue points at ``"sim"`` (``simulators.kraken``, ...)."""

    def get(self, venue: str) -> SimConfig:
        """The simulator settings of ``venue`` (its defaults when the file has none).

        Raises:
            KeyError: no simulator of that name is registered.
        """
        section = getattr(self, venue, None)
        if not isinstance(section, SimConfig):
            raise KeyError(venue)
        return section


# Like VenuesConfig: built from the simulator registry, errors keep their full path.
SimulatorsConfig: type[SimulatorTable] = create_model(
    "SimulatorsConfig",
    __base__=SimulatorTable,
    __doc__=SimulatorTable.__doc__,
    **{  # type: ignore[call-overload]
        name: (config_type, Field(default_factory=config_type))
        for name in sim_venue_names()
        for config_type in (load_venue(name).config_type,)
    },
)


class DispatcherConfig(StrictModel):
    """Ordering and fan-out."""

    # The native ReorderBuffer keeps these as u64 nanoseconds and a usize; a minute of
    # lateness is already far more than any venue's reordering.
    lateness_ms: int = Field(150, ge=0, le=60_000)
    flush_ms: int = Field(50, gt=0, le=60_000)
    max_events: int = Field(200, gt=0, le=1_000_000)
    consumer_slice_ms: float = Field(
        2.0,
        gt=0,
        le=1_000,
        description="a consumer's time slice: it gives the loop back after this much of "
        "its own time while more events wait (fair share)",
    )


class BudgetConfig(StrictModel):
    """A consumer's delivery budget: a token bucket of events (ExecReports need no token)."""

    rate: float = Field(gt=0, le=1e9, description="events per second")
    burst: float | None = Field(
        None,
        ge=1,
        le=1e9,
        description="events that may be taken at once (at least one); None = a second's worth",
    )

    def as_tuple(self) -> tuple[float, float]:
        """``(rate, burst)`` as :meth:`Gateway.subscribe` takes it."""
        return (self.rate, self.burst if self.burst is not None else max(1.0, self.rate))


class ConsumerConfig(StrictModel):
    """An in-process consumer started by ``tradegw run``."""

    name: str = Field(min_length=1)
    kind: Literal["book", "tape", "ticker"] = "book"
    venues: list[str] | None = Field(
        None, description="venue names, or 'merged' for merged events; None = every venue"
    )
    symbols: list[str] | None = Field(None, description="canonical symbols; None = all")
    types: list[EventTypeName] | None = Field(None, description="None = all types")
    max_pending: int = Field(
        10_000,
        gt=0,
        le=10_000_000,
        description="queued events beyond which book diffs become a snapshot",
    )
    delay_ms: float = Field(
        0.0, ge=0, le=60_000, description="artificial per-event work (demo of a slow consumer)"
    )
    budget: BudgetConfig | None = Field(None, description="None = no budget")

    @field_validator("venues")
    @classmethod
    def _known_venues(cls, venues: list[str] | None) -> list[str] | None:
        known = [*venue_names(), MERGED_PROVIDER]
        unknown = sorted(set(venues or ()) - set(known))
        if unknown:
            raise ValueError(f"unknown venues {unknown}; known: {known}")
        return venues


class MergeConfig(StrictModel):
    """A windowed merge of one symbol's books across venues, started with the gateway
    (``Gateway.merge`` takes the same fields)."""

    merge_id: str | None = Field(
        None, pattern=MERGE_ID_PATTERN, description="None: a fresh id such as m-BTC-USD-9c41e07a"
    )
    symbol: str = Field(pattern=SYMBOL_PATTERN, description="canonical symbol, e.g. BTC-USD")
    venues: list[str] = Field(min_length=MIN_VENUES, description="venue names, each enabled")
    window_s: float = Field(10.0, gt=0, le=MAX_WINDOW_S)
    max_events: int = Field(1000, ge=MIN_VENUES, le=MAX_EVENTS_LIMIT)
    depth: int = Field(10, ge=1, le=MAX_DEPTH)

    @field_validator("venues")
    @classmethod
    def _known_distinct_venues(cls, venues: list[str]) -> list[str]:
        unknown = sorted(set(venues) - set(venue_names()))
        if unknown:
            raise ValueError(f"unknown venues {unknown}; known: {list(venue_names())}")
        twice = sorted(v for v, n in Counter(venues).items() if n > 1)
        if twice:
            raise ValueError(f"venues listed more than once: {twice}")
        return venues

    @field_validator("max_events")
    @classmethod
    def _room_for_every_venue(cls, max_events: int, info: ValidationInfo) -> int:
        # Fewer fragments than venues: every window would close partial, and be suppressed.
        venues = info.data.get("venues")
        if venues is not None and max_events < len(venues):
            raise ValueError(f"must be at least the number of venues ({len(venues)})")
        return max_events


def _no_nul(path: str | None) -> str | None:
    # No OS can name such a file: opening it would be a ValueError traceback at start-up.
    if path is not None and "\0" in path:
        raise ValueError("a path cannot contain a NUL character")
    return path


TradingMode = Literal["enabled", "disabled", "cancel_only", "reduce_only"]
"""``enabled``: orders pass; ``disabled``: every submit and cancel is refused;
``cancel_only``: only cancels pass; ``reduce_only``: meant to let only orders that reduce a
position pass, but the gateway keeps no positions yet, so it refuses new orders like
``cancel_only`` (reason ``reduce_only``)."""


class ControlConfig(StrictModel):
    """The control bus: where its state is kept and where its socket listens."""

    state_path: str | None = Field(
        None,
        description="SQLite file of subscriptions, merges and the trading mode, restored on "
        "start; None keeps them in memory (nothing survives a restart)",
    )
    host: str = Field("127.0.0.1", min_length=1, max_length=255)
    port: int | None = Field(
        None, ge=0, le=65_535, description="control socket port; 0 = any free one; None = none"
    )
    address_path: str | None = Field(
        None, description="file the socket's host:port is written to (read by tradegw ctl)"
    )
    trading_mode: TradingMode = Field(
        "enabled", description="the trading switch at start, unless the state file holds one"
    )

    @field_validator("state_path", "address_path")
    @classmethod
    def _paths(cls, path: str | None) -> str | None:
        return _no_nul(path)


class OrdersConfig(StrictModel):
    """Order entry: the idempotency ledger and how unknown outcomes are reconciled."""

    ledger_path: str | None = Field(
        None,
        description="SQLite file of every order and fill (the idempotency ledger); None keeps "
        "it in memory: nothing survives a restart, fine for tests only",
    )
    request_timeout_s: float = Field(
        10.0,
        gt=0,
        le=HOUR,
        description="a venue call (place, cancel, query, fills) not answered in this time: an "
        "unknown outcome for place, 'cannot say' for the others",
    )
    max_send_attempts: int = Field(
        3,
        ge=1,
        le=100,
        description="sends of one order, counting the first: a re-send happens only after a "
        "query proved the venue never got the earlier one",
    )
    reconcile_backoff_s: float = Field(
        0.5, gt=0, le=HOUR, description="first wait before asking a venue again"
    )
    reconcile_backoff_max_s: float = Field(
        30.0, gt=0, le=HOUR, description="longest wait between two queries of one order"
    )
    reports_keep_days: float = Field(
        1.0,
        ge=0,
        le=3650,
        description="ExecReports kept in the ledger's outbox after every sink (NATS) confirmed "
        "them: deleted once older than this ...",
    )
    reports_keep_last: int = Field(
        10_000,
        ge=0,
        le=10_000_000,
        description="... or once this many newer reports of their (venue, symbol) exist; "
        "reports a sink has not confirmed are never deleted",
    )

    @field_validator("ledger_path")
    @classmethod
    def _paths(cls, path: str | None) -> str | None:
        return _no_nul(path)

    @model_validator(mode="after")
    def _backoff_bounds(self) -> OrdersConfig:
        if self.reconcile_backoff_max_s < self.reconcile_backoff_s:
            raise ValueError("reconcile_backoff_max_s must be >= reconcile_backoff_s")
        return self


MIB = 1024 * 1024


class TelemetryConfig(StrictModel):
    """Ops outputs."""

    dlq_path: str | None = Field(
        "tradegw-dlq",
        description="folder of the DLQ's JSON-lines files (rotated by size, bounded in "
        "total); None keeps the DLQ in memory",
    )
    dlq_file_bytes: int = Field(
        16 * MIB, ge=MIB, le=1024 * MIB, description="a DLQ file's size before the next starts"
    )
    dlq_total_bytes: int = Field(
        256 * MIB,
        ge=2 * MIB,
        le=1024 * 1024 * MIB,
        description="the DLQ files' size together; the oldest are deleted past it "
        "(at least twice dlq_file_bytes)",
    )
    ops_queue_size: int = Field(
        10_000,
        ge=16,
        le=1_000_000,
        description="unread ops events kept; past it the oldest are dropped (counted)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_path: str | None = None
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="json: one JSON object per line; text: for people; auto: text when the "
        "log is a terminal, json otherwise",
    )

    @field_validator("dlq_path", "log_path")
    @classmethod
    def _paths(cls, path: str | None) -> str | None:
        return _no_nul(path)

    @field_validator("dlq_total_bytes")
    @classmethod
    def _room_for_rotation(cls, total: int, info: ValidationInfo) -> int:
        # The file being written is never deleted: the bound needs room for it and another.
        per_file = info.data.get("dlq_file_bytes")
        if per_file is not None and total < 2 * per_file:
            raise ValueError(f"must be at least twice dlq_file_bytes ({2 * per_file})")
        return total


class OpsConfig(StrictModel):
    """The ops HTTP server: ``/metrics`` (Prometheus) and ``/healthz``."""

    host: str = Field("127.0.0.1", min_length=1, max_length=255)
    port: int | None = Field(
        None, ge=0, le=65_535, description="0 = any free port; None = no ops server"
    )


DEFAULT_DEMO_SYMBOLS = ("BTC-USD", "ETH-USD", "BTC-USDT", "ETH-USDT")
"""Two symbols on each simulated venue of the embedded default (Binance quotes USDT)."""


class DemoStrategyConfig(StrictModel):
    """``tradegw run``'s demo strategy (:mod:`tradegw.consumers.demo_strategy`): small
    post-only orders near the touch of each verified book, cancelled when still resting
    after ``rest_s``, now and then one that crosses to get a fill. Off unless ``enabled``;
    it trades only on simulators, each of which then gets order entry with a key generated
    for the run."""

    enabled: bool = False
    venues: list[str] | None = Field(
        None, description="venues to trade, each on its simulator; None = every simulated one"
    )
    symbols: list[Annotated[str, Field(pattern=SYMBOL_PATTERN)]] = Field(
        default_factory=lambda: list(DEFAULT_DEMO_SYMBOLS),
        min_length=1,
        max_length=100,
        description="canonical symbols, each traded on the venues that list it",
    )
    interval_s: float = Field(
        0.5, ge=0.01, le=60, description="pause between two orders on a venue"
    )
    rest_s: float = Field(3.0, gt=0, le=HOUR, description="a resting order is cancelled this late")
    cross_every: int = Field(
        4, ge=0, le=1000, description="every n-th order crosses the spread (IOC); 0 = never"
    )
    max_open_orders: int = Field(4, ge=1, le=100, description="resting orders per venue at most")
    lots: int = Field(
        1, ge=1, le=1000, description="order size, in smallest orders the instrument takes"
    )
    max_position_lots: int = Field(
        10,
        ge=1,
        le=100_000,
        description="net position per venue and symbol, in orders; past it only the side "
        "that reduces it is traded",
    )

    @field_validator("venues")
    @classmethod
    def _known_venues(cls, venues: list[str] | None) -> list[str] | None:
        unknown = sorted(set(venues or ()) - set(venue_names()))
        if unknown:
            raise ValueError(f"unknown venues {unknown}; known: {list(venue_names())}")
        return venues


class GatewayConfig(StrictModel):
    """The whole file."""

    if TYPE_CHECKING:
        venues: VenueTable
    else:
        venues: VenuesConfig = Field(default_factory=VenuesConfig)
    if TYPE_CHECKING:
        simulators: SimulatorTable
    else:
        simulators: SimulatorsConfig = Field(default_factory=SimulatorsConfig)
    dispatcher: DispatcherConfig = Field(default_factory=DispatcherConfig)
    consumers: list[ConsumerConfig] = Field(default_factory=list)
    shard: ShardConfig | None = Field(
        None, description="this process as one shard of several (docs/nats.md); None: not one"
    )
    merges: list[MergeConfig] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    demo_strategy: DemoStrategyConfig = Field(default_factory=DemoStrategyConfig)
    sinks: SinksConfig = Field(default_factory=SinksConfig)

    @field_validator("consumers")
    @classmethod
    def _unique_consumers(cls, consumers: list[ConsumerConfig]) -> list[ConsumerConfig]:
        # Counted in one pass: a file may list many thousands of consumers.
        dup = {n for n, k in Counter(c.name for c in consumers).items() if k > 1}
        if dup:
            raise ValueError(f"consumer names must be unique, repeated: {sorted(dup)}")
        return consumers

    @field_validator("merges")
    @classmethod
    def _merges_of_running_venues(
        cls, merges: list[MergeConfig], info: ValidationInfo
    ) -> list[MergeConfig]:
        ids = Counter(m.merge_id for m in merges if m.merge_id is not None)
        dup = sorted(i for i, n in ids.items() if n > 1)
        if dup:
            raise ValueError(f"merge ids must be unique, repeated: {dup}")
        venues = info.data.get("venues")
        if venues is None or _merge_role(info):  # the merge role's venues come over NATS
            return merges
        running = _running(venues, info.data.get("shard"))
        for i, m in enumerate(merges):
            idle = sorted(set(m.venues) - running)
            if idle:
                raise ValueError(
                    f"merges[{i}] ({m.symbol}) needs venues {idle}, which have no enabled "
                    f"section under venues (or this shard does not own them)"
                )
        return merges

    @field_validator("shard")
    @classmethod
    def _shard_owns_configured_streams(
        cls, shard: ShardConfig | None, info: ValidationInfo
    ) -> ShardConfig | None:
        venues = info.data.get("venues")
        if shard is None or venues is None:  # an invalid venues section says why itself
            return shard
        configured = {name: (s.enabled, s.symbols) for name, s in venues.configured()}
        problems = shard_problems(shard, configured, venue_names(), merge_role=_merge_role(info))
        if problems:
            raise ValidationError.from_exception_data(
                "ShardConfig",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("shard", message), loc=loc, input=value
                    )
                    for loc, message, value in problems
                ],
            )
        return shard

    @model_validator(mode="after")
    def _shard_runs_what_it_owns(self, info: ValidationInfo) -> GatewayConfig:
        merge_role = _merge_role(info)
        if (self.shard is not None or merge_role) and not self.sinks.nats.enabled:
            where = "the merge role reads and publishes" if merge_role else "a shard publishes"
            raise ValidationError.from_exception_data(
                "GatewayConfig",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "nats_needed", f"{where} over NATS: set sinks.nats.enabled: true"
                        ),
                        loc=("sinks", "nats", "enabled"),
                        input=False,
                    )
                ],
            )
        if self.shard is not None and not merge_role:
            self.venues = _narrowed(self.venues, self.shard)
        return self

    @field_validator("demo_strategy")
    @classmethod
    def _demo_on_simulators(
        cls, demo: DemoStrategyConfig, info: ValidationInfo
    ) -> DemoStrategyConfig:
        venues = info.data.get("venues")
        if not demo.enabled or venues is None:  # an invalid venues section says why itself
            return demo
        running = _running(venues, info.data.get("shard"))
        simulated = [n for n, s in venues.configured() if n in running and s.ws_url == "sim"]
        if demo.venues is None:
            if not simulated:
                raise ValueError("no enabled venue runs on its simulator (ws_url 'sim')")
            return demo
        live = sorted(set(demo.venues) - set(simulated))
        if live:
            raise ValueError(
                f"venues {live} do not run on a simulator (an enabled section with ws_url "
                f"'sim'): the demo strategy trades on simulators only"
            )
        return demo


def _merge_role(info: ValidationInfo) -> bool:
    """Whether the config is read for ``tradegw run --role merge`` (the loader says so)."""
    return isinstance(info.context, dict) and info.context.get("role") == "merge"


def _running(venues: VenueTable, shard: ShardConfig | None) -> set[str]:
    """The venues a gateway with this config runs: enabled, and owned when it is a shard."""
    enabled = {name for name, section in venues.configured() if section.enabled}
    return enabled if shard is None else enabled & shard.owns.keys()


def _narrowed(venues: VenueTable, shard: ShardConfig) -> VenueTable:
    """``venues`` as the shard runs them: a venue it does not own is disabled, an owned one
    keeps only its owned symbols."""
    update: dict[str, VenueConfig] = {}
    for name, section in venues.configured():
        owned = shard.owned_symbols(name, section.symbols)
        if owned:
            update[name] = section.model_copy(update={"symbols": owned})
        else:
            update[name] = section.model_copy(update={"enabled": False})
    return venues.model_copy(update=update)
