"""The Grafana dashboard in docs/ queries only what the gateway exports."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.test_console import dummy_gateway
from tradegw.telemetry.prometheus import metrics_registry

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


@pytest.mark.timeout(10)
def test_every_query_names_an_exported_metric() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 18
    gw = dummy_gateway()
    text = generate_latest(metrics_registry(gw)).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    names: set[str] = set()
    for f, kind in families.items():
        names.add(f)
        names.update(f + s for s in _SUFFIXES if kind in ("counter", "histogram"))
    used = {m for e in exprs for m in re.findall(r"\b((?:tradegw|process)_[a-z_]+)", e)}
    assert used
    assert used <= names, sorted(used - names)
