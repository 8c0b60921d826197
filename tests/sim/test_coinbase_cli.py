"""``python -m tradegw.sim coinbase``, the child-process runner, and the simulator's
independence from the Rust core."""

from __future__ import annotations

import argparse
import ast
import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.sim.source_tree import source_tree_env
from tradegw.sim.cli import add_arguments, config_from_args
from tradegw.sim.coinbase import SIMULATOR, CoinbaseSimConfig, CoinbaseSimulator
from tradegw.sim.process import SimulatorProcess
from tradegw.sim.registry import load_venue

pytestmark = pytest.mark.timeout(20)


async def test_cli_prints_its_urls_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("- kind: skip_sequence\n  after_messages: [0]\n  max_count: 1\n")
    env = source_tree_env()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tradegw.sim", "coinbase", "--pairs", "BTC-USD,ETH-BTC"),
        *("--rate", "300", "--faults", str(faults), "--rest-rate-limit", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 10)).decode() for _ in range(2)]
        assert lines[0].startswith("coinbase ws   ws://127.0.0.1:")
        assert lines[1].startswith("coinbase rest http://127.0.0.1:")
        ws_url, rest_url = lines[0].split()[2], lines[1].split()[2]
        assert ws_url.endswith("/")
        async with aiohttp.ClientSession() as session:
            path = "/api/v3/brokerage/market/products"
            async with session.get(rest_url + path) as resp:
                ids = [p["product_id"] for p in (await resp.json())["products"]]
                assert ids == ["BTC-USD", "ETH-BTC"]
            async with session.ws_connect(ws_url) as ws:
                await ws.send_json(
                    {"type": "subscribe", "channel": "level2", "product_ids": ["ETH-BTC"]}
                )
                snapshot = await ws.receive_json(timeout=5)
                assert snapshot["sequence_num"] == 0
                assert snapshot["events"][0]["product_id"] == "ETH-BTC"
                ack = await ws.receive_json(timeout=5)
                assert ack["channel"] == "subscriptions"
                update = await ws.receive_json(timeout=5)
                assert update["events"][0]["type"] == "update"
                # The fault plan was loaded: once one data frame had gone by, a number was
                # skipped.
                assert update["sequence_num"] == ack["sequence_num"] + 2
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    assert (await proc.stderr.read()) == b""


def test_coinbase_options_map_onto_its_config() -> None:
    assert load_venue("coinbase") is SIMULATOR
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, SIMULATOR)
    argv = ["--subscribe-deadline", "0", "--idle-timeout", "30", "--rest-rate-limit", "2.5"]
    config = config_from_args(parser.parse_args([*argv, "--pairs", "4"]), SIMULATOR, flags)
    assert isinstance(config, CoinbaseSimConfig)
    assert (config.subscribe_deadline_s, config.idle_timeout_s) == (0.0, 30.0)
    assert (config.rest_rate_limit, config.pairs) == (2.5, 4)
    default = config_from_args(parser.parse_args([]), SIMULATOR, flags)
    assert default == CoinbaseSimConfig()
    with pytest.raises(ValueError, match="BASE-QUOTE"):
        CoinbaseSimulator(pairs=["BTC/USD"])


async def test_simulator_process_runs_coinbase_by_name() -> None:
    proc = SimulatorProcess("coinbase", CoinbaseSimConfig(pairs=["SOL-USD"], rate=0, seed=5))
    try:
        await proc.start()
        assert proc.ws_url.startswith("ws://127.0.0.1:")
        assert proc.ws_url.endswith("/")
        async with (
            aiohttp.ClientSession() as session,
            session.get(proc.rest_url + "/api/v3/brokerage/market/products/SOL-USD") as resp,
        ):
            assert (await resp.json())["product_id"] == "SOL-USD"
    finally:
        await proc.stop()


def test_the_coinbase_simulator_never_imports_the_core() -> None:
    probe = (
        "import sys; import tradegw.sim.coinbase;"
        "from tradegw.sim.registry import load_venue; load_venue('coinbase');"
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('tradegw.sim.coinbase', 'tradegw._core', 'tradegw.providers'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=20
    )
    loaded = ast.literal_eval(out.stdout.strip())
    assert "tradegw.sim.coinbase.ws" in loaded
    assert not [m for m in loaded if m.startswith(("tradegw._core", "tradegw.providers"))]
