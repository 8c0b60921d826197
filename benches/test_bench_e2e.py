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
