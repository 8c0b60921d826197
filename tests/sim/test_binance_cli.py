"""``python -m tradegw.sim binance`` and the child-process runner: the base URL the gateway
appends its stream path to, the venue's own options, a clean stop."""

from __future__ import annotations

import argparse
import json

import aiohttp
import pytest

from tradegw.sim.binance import SIMULATOR, BinanceSimConfig, BinanceSimulator
from tradegw.sim.cli import add_arguments, config_from_args
from tradegw.sim.process import SimulatorProcess
from tradegw.sim.registry import load_venue

pytestmark = pytest.mark.timeout(30)


def test_binance_is_registered_with_its_own_options() -> None:
    spec = load_venue("binance")
    assert spec is SIMULATOR
    assert (spec.config_type, spec.simulator_type) == (BinanceSimConfig, BinanceSimulator)
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, spec)
    argv = "--pairs BTCUSDT,ETHBTC --ping-interval 2 --lifetime 30 --pong-timeout 5"
    args = parser.parse_args([*argv.split(), "--weight-limit", "100"])
    config = config_from_args(args, spec, flags)
    assert isinstance(config, BinanceSimConfig)
    assert config.pairs == ["BTCUSDT", "ETHBTC"]
    assert (config.ping_interval_s, config.pong_timeout_s) == (2.0, 5.0)
    assert (config.connection_lifetime_s, config.weight_limit) == (30.0, 100)


async def test_the_child_process_prints_a_base_ws_url_and_serves_both_paths() -> None:
    proc = SimulatorProcess("binance", BinanceSimConfig(pairs=["ETHBTC"], rate=200, seed=5))
    try:
        await proc.start()
        host_port = proc.ws_url.removeprefix("ws://")
        assert proc.ws_url.startswith("ws://127.0.0.1:")
        assert "/" not in host_port, "the adapter appends /stream?streams=... itself"
        async with aiohttp.ClientSession() as session:
            async with session.get(proc.rest_url + "/api/v3/exchangeInfo") as resp:
                body = await resp.json()
            # The child got this config: only the one pair.
            assert [s["symbol"] for s in body["symbols"]] == ["ETHBTC"]
            async with session.ws_connect(f"{proc.ws_url}/stream?streams=ethbtc@trade") as ws:
                frame = json.loads((await ws.receive(timeout=5)).data)
                assert frame["stream"] == "ethbtc@trade"
            async with session.ws_connect(f"{proc.ws_url}/ws/ethbtc@trade") as ws:
                frame = json.loads((await ws.receive(timeout=5)).data)
                assert frame["e"] == "trade"
    finally:
        await proc.stop()
