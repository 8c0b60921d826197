"""The run summary explains what went wrong: failures, protocol errors, duplicates and the DLQ
by reason, per venue and in total (issue 8, item 10)."""

from __future__ import annotations

import orjson
import pytest

from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.runner import summarize

pytestmark = pytest.mark.timeout(10)


def _gateway() -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {"symbols": ["BTC/USD"]},
                "binance": {"symbols": ["BTCUSDT"]},
            },
            "telemetry": {"dlq_path": None},
        }
    )
    urls = {"kraken": "ws://127.0.0.1:1", "binance": "ws://127.0.0.1:1"}
    return Gateway(config, urls=urls, rest_urls={"kraken": "", "binance": "http://127.0.0.1:1"})


def test_the_summary_counts_failures_duplicates_and_dead_letters_by_reason() -> None:
    gw = _gateway()
    kraken, binance = gw.providers["kraken"], gw.providers["binance"]
    c = gw.telemetry.counters
    c.inc("connect_failures", "kraken", by=3)
    c.inc("rest_failures", "binance", by=2)
    c.inc("protocol_errors", "kraken")
    c.inc("duplicate_trades", "kraken", by=4)
    c.inc("duplicate_frames", "binance", by=5)
    kraken.dead_letter(b"{", "t1", "malformed", "not JSON")
    kraken.dead_letter(b"", "t2", "protocol_error", "WSProtocolError: too big")
    binance.dead_letter(b"[]", "t3", "malformed", "no symbol")

    s = summarize(gw, [], 2.0)

    assert (s["connect_failures"], s["rest_failures"], s["protocol_errors"]) == (3, 2, 1)
    assert s["duplicates_dropped"] == 9
    assert s["dlq"] == 3
    assert s["dlq_by_reason"] == {"malformed": 2, "protocol_error": 1}
    k, b = s["venues"]["kraken"], s["venues"]["binance"]
    assert (k["connect_failures"], k["protocol_errors"], k["duplicates_dropped"]) == (3, 1, 4)
    assert (b["rest_failures"], b["duplicates_dropped"]) == (2, 5)
    assert k["dlq_by_reason"] == {"malformed": 1, "protocol_error": 1}
    assert b["dlq_by_reason"] == {"malformed": 1}
    assert (k["dlq"], b["dlq"]) == (2, 1)
    orjson.dumps(s)  # the summary file is JSON


def test_the_summary_has_each_merges_windows() -> None:
    gw = _gateway()
    merge_id = gw.merge("BTC-USD", ["kraken", "binance"], max_events=5)
    stats = gw.conductor.merge_stats(merge_id)
    stats.emitted, stats.suppressed, stats.closed_by_count, stats.closed_on_threshold = 3, 1, 4, 4

    merges = summarize(gw, [], 2.0)["merges"]

    assert list(merges) == [merge_id]
    m = merges[merge_id]
    assert (m["symbol"], m["venues"], m["emitted"], m["suppressed_partial"]) == (
        "BTC-USD",
        ["binance", "kraken"],
        3,
        1,
    )
    assert (m["closed_by_count"], m["on_threshold"], m["close_lateness_us"]["count"]) == (4, 1.0, 0)
    orjson.dumps(merges)
