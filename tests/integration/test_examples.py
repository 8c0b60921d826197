"""``tradegw.open`` and the scripts in ``examples/``, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tradegw
from tradegw.config import GatewayConfig
from tradegw.errors import ConfigError
from tradegw.front_door import open_gateway
from tradegw.schema import BookSnapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script: str, cwd: Path, *args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,  # the embedded default keeps its state and DLQ in the current folder
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()


@pytest.mark.timeout(70)
def test_book_printer_prints_each_venues_top_of_book(tmp_path: Path) -> None:
    lines = _run("book_printer.py", tmp_path, "--duration", "5")
    venues = {line.split()[0] for line in lines}
    assert venues == {"coinbase", "kraken"}  # the two venues quoting BTC-USD
    assert all(" BTC-USD  bid ('" in line and "ask ('" in line for line in lines), lines[:3]


@pytest.mark.timeout(70)
def test_spread_watcher_prints_merged_windows(tmp_path: Path) -> None:
    lines = _run("spread_watcher.py", tmp_path, "--duration", "5", "--window-s", "0.5")
    assert lines[0].startswith("merging BTC-USD across coinbase, kraken every 0.5s")
    windows = [line for line in lines if line.startswith("window")]
    assert len(windows) >= 3
    for line in windows:
        bid = float(line.split(" bid ")[1].split()[0])
        ask = float(line.split(" ask ")[1].split()[0])
        spread = float(line.split(" spread ")[1].split()[0])
        assert abs((ask - bid) - spread) < 1e-6
        assert "(coinbase" in line or "(kraken" in line


@pytest.mark.timeout(70)
def test_place_and_cancel_trades_and_prints_its_reports_and_fills(tmp_path: Path) -> None:
    lines = _run("place_and_cancel.py", tmp_path, "--duration", "50")
    for venue in ("coinbase", "kraken"):
        reports = [x.split() for x in lines if x.startswith(f"report {venue} BTC-USD #")]
        states = [r[4] for r in reports]
        # A resting buy acknowledged and cancelled, then a buy and a sell that filled.
        assert states.count("ACK") >= 1, lines
        assert "CANCELLED" in states, lines
        assert states.count("FILLED") == 2, lines
        seqs = [int(r[3].lstrip("#")) for r in reports]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # in order, no gap
        assert len([x for x in lines if x.startswith(f"submitted {venue} ")]) == 3
        fills = [x for x in lines if x.startswith(f"fill {venue} BTC-USD ")]
        assert {f.split()[3] for f in fills} == {"buy", "sell"}, lines


@pytest.mark.timeout(60)
async def test_open_starts_the_configs_simulators_and_stops_them(tmp_path: Path) -> None:
    config = GatewayConfig.model_validate(
        {
            "venues": {"kraken": {"symbols": ["BTC/USD", "ETH/USD"], "book_depth": 10}},
            "simulators": {"kraken": {"pairs": 2, "rate": 200}},
            "ops": {"port": 0},
            "telemetry": {"dlq_path": str(tmp_path / "dlq")},
        }
    )
    said: list[str] = []
    async with open_gateway(config, say=said.append) as gw:
        assert said[0].startswith("started the kraken simulator in a child process: ws://")
        assert gw.metrics_url.startswith("http://127.0.0.1:")
        async for ev in gw.subscribe(types=["BookSnapshot"]):
            assert isinstance(ev, BookSnapshot)
            assert ev.symbol in ("BTC-USD", "ETH-USD")
            break
        provider = gw.providers["kraken"]
        assert provider.ws_url.startswith("ws://127.0.0.1:")
    assert gw.ops_server is None  # stopped
    assert not provider.is_connected
    # A config path works the same, and a bad one says what is wrong.
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues: {kraken: {book_depth: 7}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"venues\.kraken\.book_depth"):
        async with tradegw.open(bad):
            pass
