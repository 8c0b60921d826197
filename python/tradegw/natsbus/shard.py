"""A gateway process as one shard of several publishing into the same NATS.

Each shard runs the venues and symbols its config owns (``shard.owns``; the config narrows
``venues`` to them) and *claims* each of its streams in a JetStream key-value bucket
(``shard.bucket``, ``TRADEGW_SHARDS``):

- ``stream.<venue>.<symbol>`` (the venue's own spelling; ``merged.<symbol>`` for a merge's
  output) holds ``{"shard", "epoch"}`` of the process that publishes that stream. A claim is
  made with a create (it exists nowhere yet, or it lapsed) and renewed every third of the
  bucket's TTL (``claim_ttl_s``) with an update at the revision this process last wrote, so
  two processes can never both believe they hold it.
- ``shard.<name>`` says the shard is alive: its epoch, role, the canonical symbols it
  publishes per venue (``streams``) and the contested ones. The control client reads these to
  know whose answers to wait for; the merge role, which venues' symbols exist.

A stream claimed by another live shard is *contested*: this process keeps running it (books,
in-process consumers, orders, whose ExecReports still go out) but publishes none of its market
data and answers no snapshot
request for it, and it tries to claim it again at every renewal, so it takes over within
``claim_ttl_s`` once the holder is gone (a standby). Each contested stream is logged once
with the shard that holds it and counted (``shard.conflict`` ops event,
``tradegw_nats_shard_streams{state="contested"}``). A shard that restarts under its own name
takes its claims back at once; a second live process under the same name is told apart by
its epoch and stands by like any other. A stopping shard deletes its claims, so a standby
takes over at its next renewal.

Until the first claims are made (NATS away at start) nothing of the shard's market data goes
out anyway; the snapshot service answers only for streams held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import nats.errors
import nats.js.errors
import orjson
from nats.js.api import KeyValueConfig, StorageType
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from tradegw.dispatch.routing import RouteFilter
from tradegw.natsbus.sink import PUBLISH_ERRORS
from tradegw.schema import EVENT_CLASSES, MERGED_EVENT_TYPES, MERGED_PROVIDER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue
    from prometheus_client.metrics_core import Metric

    from tradegw.gateway import Gateway
    from tradegw.natsbus.bridge import NatsBridge
    from tradegw.natsbus.config import ShardConfig

log = logging.getLogger("tradegw.nats.shard")

Role = Literal["gateway", "merge"]
StreamKey = tuple[str, str]
"""``(venue, symbol)`` of a claimed stream: the venue's own spelling of the symbol, or the
canonical symbol under ``merged``."""

MERGED_TYPES: Final = frozenset(t.__name__ for t in MERGED_EVENT_TYPES)
MARKET_DATA_TYPES: Final = frozenset(EVENT_CLASSES) - MERGED_TYPES - {"ExecReport"}
"""What a venue publishes (ExecReports reach the sink through the order ledger instead)."""
KV_ERRORS: Final = (*PUBLISH_ERRORS, nats.js.errors.APIError)
"""What a key-value call over a failing connection or server raises."""
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_/-]")
_SHARD_PREFIX: Final = "shard."
_RELEASE_S = 1.0
REFRESH_S = 1.0
"""Between renewals, how often a shard rewrites its key when its streams' names changed
(and the merge role reads the registry)."""


def stream_kv_key(venue: str, symbol: str) -> str:
    """``stream.<venue>.<symbol>`` as a key-value key: characters a key cannot hold (and
    ``.``, which would make a symbol two tokens) written ``=XX``."""
    token = _KEY_SAFE.sub(lambda m: "".join(f"={b:02X}" for b in m[0].encode()), symbol)
    return f"stream.{venue}.{token}"


def shard_kv_key(name: str) -> str:
    """``shard.<name>``: the key saying shard ``name`` is alive."""
    return f"{_SHARD_PREFIX}{name}"


async def open_bucket(
    js: JetStreamContext, bucket: str, ttl_s: float, replicas: int, *, create: bool = True
) -> KeyValue:
    """The shards' key-value bucket, made with ``ttl_s`` and ``replicas`` if it does not
    exist (and ``create``); an existing bucket keeps its own settings.

    Raises:
        nats.js.errors.BucketNotFoundError: none exists and ``create`` is false.
    """
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        if not create:
            raise
    try:
        return await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                ttl=ttl_s,
                history=1,
                replicas=replicas,
                storage=StorageType.FILE,
                description="tradegw shards and their stream claims",
            )
        )
    except nats.js.errors.BadRequestError:
        # Made by another shard at the same moment with other settings: use that one.
        return await js.key_value(bucket)


async def live_shards(kv: KeyValue) -> dict[str, dict[str, object]]:
    """Every shard whose ``shard.<name>`` key has not lapsed, with what it last wrote."""
    try:
        # No filters= here: nats-py then warns on every call that old servers ignore them.
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return {}
    out: dict[str, dict[str, object]] = {}
    for key in keys:
        if not key.startswith(_SHARD_PREFIX):
            continue
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            entry = await kv.get(key)
            if entry.value:
                value = orjson.loads(entry.value)
                if isinstance(value, dict):
                    out[key.removeprefix(_SHARD_PREFIX)] = value
    return out


@dataclass
class ShardStats:
    """What the shard's claims look like now (read by the metrics)."""

    held: int = 0
    contested: int = 0
    conflicts: int = 0
    """Times a stream was found held by another shard (each stream once per episode)."""
    takeovers: int = 0
    """Streams claimed after another shard had held them (a standby taking over)."""
    lost: int = 0
    """Claims this shard held and found taken by another (it stood by from then on)."""
    kv_errors: int = 0
    rounds: int = 0
    holders: dict[StreamKey, str] = field(default_factory=dict)
    """Contested streams and the shard holding each."""


class Shard:
    """The claims of one shard process (see the module docstring), kept in the background
    while its NATS bridge is connected."""

    def __init__(
        self, gw: Gateway, bridge: NatsBridge, config: ShardConfig, role: Role = "gateway"
    ) -> None:
        self.gw = gw
        self.bridge = bridge
        self.config = config
        self.role: Role = role
        self.name = config.name
        self.epoch = bridge.epoch
        self.stats = ShardStats()
        self._revisions: dict[StreamKey, int] = {}
        self._held: set[tuple[str, str]] = set()
        self._contested: dict[StreamKey, str] = {}
        self._first_round = True
        self._task: asyncio.Task[None] | None = None
        self._kv: KeyValue | None = None
        self._base: RouteFilter | None = None
        self.heartbeat_s = config.claim_ttl_s / 3
        self.registry: dict[str, dict[str, object]] = {}
        """Every live shard's key as last read (the merge role reads it at each renewal)."""
        self.claimed = asyncio.Event()
        """Set once a round of claims has been made (for tests and the merge role)."""

    # ---- what the services ask ----

    def wanted(self) -> list[StreamKey]:
        """The streams this process publishes when it holds them: every symbol of every
        venue it runs, and each merge's symbol under ``merged``."""
        out: list[StreamKey] = []
        for venue, provider in self.gw.providers.items():
            out.extend((venue, symbol) for symbol in provider.config.symbols)
        out.extend((MERGED_PROVIDER, spec.symbol) for spec in self.gw.conductor.merges())
        return out

    def canonical(self, key: StreamKey) -> str | None:
        """The canonical symbol of a stream (None while its venue has not loaded it)."""
        venue, symbol = key
        if venue == MERGED_PROVIDER:
            return symbol
        provider = self.gw.providers.get(venue)
        book = provider.book(symbol) if provider is not None else None
        return book.canonical if book is not None else None

    def holds(self, venue: str, canonical: str) -> bool:
        """Whether this shard holds the stream of ``venue``'s canonical ``symbol``."""
        if (venue, canonical) not in self._held:
            # A venue may have loaded a held symbol's canonical name since: look again.
            self._held = self._held_canonical()
        return (venue, canonical) in self._held

    def held_symbols(self, venue: str) -> set[str]:
        """The canonical symbols of ``venue`` this shard holds (known ones)."""
        self._held = self._held_canonical()
        return {symbol for v, symbol in self._held if v == venue}

    def _held_canonical(self) -> set[tuple[str, str]]:
        out = set()
        for key in self._revisions:
            canonical = self.canonical(key)
            if canonical is not None:
                out.add((key[0], canonical))
        return out

    @property
    def contested(self) -> dict[StreamKey, str]:
        """Streams another shard holds, and which."""
        return dict(self._contested)

    def metrics(self) -> Iterator[Metric]:
        """``tradegw_nats_shard_*``: streams held and contested, conflicts, takeovers."""
        streams = GaugeMetricFamily(
            "tradegw_nats_shard_streams",
            "streams this shard publishes (held) or runs while another shard holds them "
            "(contested: not published)",
            labels=["state"],
        )
        streams.add_metric(["held"], self.stats.held)
        streams.add_metric(["contested"], self.stats.contested)
        yield streams
        yield CounterMetricFamily(
            "tradegw_nats_shard_conflicts",
            "streams found claimed by another shard",
            value=self.stats.conflicts,
        )
        yield CounterMetricFamily(
            "tradegw_nats_shard_takeovers",
            "streams claimed after another shard had held them",
            value=self.stats.takeovers,
        )

    # ---- lifecycle ----

    def start(self) -> None:
        """Keeps the claims from now on (each time the bridge is connected)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="nats-shard")

    async def stop(self) -> None:
        """Stops renewing and deletes this shard's claims (best effort, briefly), so a
        standby takes over at its next renewal instead of after the TTL."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        kv = self._kv
        if kv is None or not self.bridge.connected:
            return
        with contextlib.suppress(*KV_ERRORS, TimeoutError):
            async with asyncio.timeout(_RELEASE_S):
                for key, rev in list(self._revisions.items()):
                    await kv.delete(stream_kv_key(*key), last=rev)
                await kv.delete(shard_kv_key(self.name))
        self._revisions.clear()

    async def _run(self) -> None:
        warned = False
        next_round = 0.0
        while True:
            await self.bridge.ready.wait()
            nc = self.bridge.nc
            if nc is None:
                await asyncio.sleep(self.heartbeat_s)
                continue
            try:
                if self._kv is None:
                    js = nc.jetstream(timeout=self.bridge.config.ack_timeout_s)
                    self._kv = await open_bucket(
                        js,
                        self.config.bucket,
                        self.config.claim_ttl_s,
                        self.bridge.config.stream_replicas,
                    )
                    ttl = (await self._kv.status()).ttl
                    if ttl:
                        self.heartbeat_s = min(self.config.claim_ttl_s, ttl) / 3
                now = time.monotonic()
                if now >= next_round:
                    next_round = now + self.heartbeat_s
                    await self.round(self._kv)
                else:
                    await self.refresh(self._kv)
                warned = False
            except KV_ERRORS as e:
                self.stats.kv_errors += 1
                if not warned:
                    log.warning("shard %s: claims not renewed (%r); retrying", self.name, e)
                    warned = True
            await asyncio.sleep(min(self.heartbeat_s, REFRESH_S))

    async def refresh(self, kv: KeyValue) -> None:
        """Between renewals: says at once which streams it publishes when a venue has
        loaded more of its symbols' names, and (merge role) reads the registry again."""
        if self._held_canonical() != self._held:
            await self._register(kv)
            self.apply()
        if self.role == "merge":
            self.registry = await live_shards(kv)

    # ---- one round of claims ----

    async def round(self, kv: KeyValue) -> None:
        """Claims or renews every wanted stream, writes the shard's own key, and applies
        what it holds to the sink."""
        wanted = self.wanted()
        for key in set(self._revisions) - set(wanted):  # a merge removed since
            with contextlib.suppress(*KV_ERRORS):
                await kv.delete(stream_kv_key(*key), last=self._revisions[key])
            del self._revisions[key]
        self._contested = {k: v for k, v in self._contested.items() if k in wanted}
        value = orjson.dumps({"shard": self.name, "epoch": self.epoch})
        for key in wanted:
            await self._claim(kv, key, value)
        await self._register(kv)
        if self.role == "merge":  # what the venues publish, for merges asked for at run time
            self.registry = await live_shards(kv)
        self._first_round = False
        self.stats.rounds += 1
        self.stats.held = len(self._revisions)
        self.stats.contested = len(self._contested)
        self.stats.holders = dict(self._contested)
        self.apply()
        self.claimed.set()

    async def _claim(self, kv: KeyValue, key: StreamKey, value: bytes) -> None:
        kv_key = stream_kv_key(*key)
        rev = self._revisions.get(key)
        if rev is not None:
            try:
                self._revisions[key] = await kv.update(kv_key, value, last=rev)
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                del self._revisions[key]  # written by someone else, or lapsed: look again
        try:
            self._revisions[key] = await kv.create(kv_key, value)
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        else:
            if key in self._contested:
                previous = self._contested.pop(key)
                self.stats.takeovers += 1
                log.warning("shard %s: took over %s.%s from %s", self.name, *key, previous)
                self.gw.telemetry.ops.emit(
                    "shard.takeover",
                    venue=key[0],
                    symbol=key[1],
                    shard=self.name,
                    previous=previous,
                )
            return
        found = await self._holder(kv, kv_key)
        if found is None:  # lapsed between the two calls: next round
            return
        name, epoch, revision = found
        if name == self.name and (self._first_round or epoch == self.epoch):
            # This shard's own claim: from before a restart, or written by an update whose
            # answer was lost (so the revision kept here is behind): take it back at once.
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                self._revisions[key] = await kv.update(kv_key, value, last=revision)
                return
        who = name if name != self.name else f"{name} (another process, epoch {epoch})"
        if key not in self._contested:
            if rev is not None:
                self.stats.lost += 1
            self.stats.conflicts += 1
            log.error(
                "shard %s: %s.%s is claimed by shard %s: this process does not publish it "
                "(and takes it over if that claim lapses)",
                *(self.name, key[0], key[1], who),
            )
            self.gw.telemetry.ops.emit(
                "shard.conflict", venue=key[0], symbol=key[1], shard=self.name, holder=who
            )
        self._contested[key] = who

    async def _register(self, kv: KeyValue) -> None:
        """Writes ``shard.<name>``: alive, and the canonical symbols it publishes."""
        self._held = self._held_canonical()
        streams: dict[str, list[str]] = {}
        for venue, symbol in sorted(self._held):
            streams.setdefault(venue, []).append(symbol)
        await kv.put(
            shard_kv_key(self.name),
            orjson.dumps(
                {
                    "shard": self.name,
                    "epoch": self.epoch,
                    "role": self.role,
                    "streams": streams,
                    "contested": {f"{v}.{s}": h for (v, s), h in sorted(self._contested.items())},
                }
            ),
        )

    @staticmethod
    async def _holder(kv: KeyValue, kv_key: str) -> tuple[str, str, int] | None:
        try:
            entry = await kv.get(kv_key)
        except nats.js.errors.KeyNotFoundError:
            return None
        try:
            value = orjson.loads(entry.value or b"")
            return str(value["shard"]), str(value.get("epoch", "")), int(entry.revision or 0)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return "(unreadable claim)", "", int(entry.revision or 0)

    # ---- what the sink publishes ----

    def apply(self) -> None:
        """Restricts the sink to what this shard holds: nothing changes while no stream is
        contested; otherwise the sink's market data filter is rebuilt without them.
        ExecReports are not held back: the sink reads them from the order ledger, not from
        this subscription."""
        sink = self.bridge.sink
        if sink is None:
            return
        sub = sink.sub
        if self._base is None:  # what the config asked for, before any gating
            self._base = sub.filters.get("", RouteFilter())
        base = self._base
        filters = {"": base} if not self._contested else self._gated(base)
        if filters != sub.filters:
            for sid in set(sub.filters) - set(filters):
                sub.set_filter(sid, None)
            for sid, route in filters.items():
                sub.set_filter(sid, route)

    def _gated(self, base: RouteFilter) -> dict[str, RouteFilter]:
        """``base`` as filters that leave out the contested streams' market data."""

        def types(wanted: Iterable[str]) -> frozenset[str] | None:
            return frozenset(wanted) & base.types if base.types is not None else frozenset(wanted)

        def venues(wanted: Iterable[str]) -> frozenset[str]:
            v = frozenset(wanted)
            return v & base.venues if base.venues is not None else v

        def symbols(wanted: set[str]) -> frozenset[str]:
            s = frozenset(wanted)
            return s & base.symbols if base.symbols is not None else s

        out: dict[str, RouteFilter] = {}
        gated_venues = {venue for venue, _ in self._contested}
        for venue in [*self.gw.providers, MERGED_PROVIDER]:
            kinds = MERGED_TYPES if venue == MERGED_PROVIDER else MARKET_DATA_TYPES
            route_venues = venues({venue})
            if not route_venues:
                continue
            if venue not in gated_venues:
                out[f"shard:{venue}"] = RouteFilter(route_venues, base.symbols, types(kinds))
                continue
            contested = {self.canonical(k) for k in self._contested if k[0] == venue}
            if None in contested:  # a contested symbol not loaded yet: hold the venue back
                continue
            out[f"shard:{venue}"] = RouteFilter(
                route_venues, symbols(self.held_symbols(venue) - contested), types(kinds)
            )
        return out
