"""``python -m tradegw.sim kraken``: starts, answers, stops cleanly on a signal."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.sim.source_tree import source_tree_env
from tradegw.sim.__main__ import main
from tradegw.sim.cli import add_arguments, config_from_args, serve
from tradegw.sim.config import SimConfig
from tradegw.sim.kraken import SIMULATOR, KrakenSimConfig

pytestmark = pytest.mark.timeout(20)


async def _read_urls(proc: asyncio.subprocess.Process) -> dict[str, str]:
    assert proc.stdout is not None
    urls = {}
    while len(urls) < 2:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert line, "simulator exited before printing its URLs"
        _, kind, url = line.split()
        urls[kind] = url
    return urls


async def test_cli_serves_ws_and_rest_then_stops_on_sigint(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("- kind: http_429\n  after_messages: [1]\n")
    env = source_tree_env()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradegw.sim",
        "kraken",
        "--port",
        "0",
        "--rest-port",
        "0",
        "--pairs",
        "3",
        "--rate",
        "500",
        "--seed",
        "4",
        "--faults",
        str(faults),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        urls = await _read_urls(proc)
        assert urls["ws"].startswith("ws://127.0.0.1:")
        assert urls["ws"].endswith("/v2")
        async with aiohttp.ClientSession() as session:
            async with session.get(urls["rest"] + "/0/public/Time") as resp:
                assert resp.status == 200
            async with session.get(urls["rest"] + "/0/public/Time") as resp:
                assert resp.status == 429  # the fault plan was loaded
            async with session.ws_connect(urls["ws"]) as ws:
                status = await ws.receive_json(timeout=5)
                assert status["channel"] == "status"
                await ws.send_json(
                    {"method": "subscribe", "params": {"channel": "book", "symbol": ["SOL/USD"]}}
                )
                ack = await ws.receive_json(timeout=5)
                assert ack["success"] is True
                snapshot = await ws.receive_json(timeout=5)
                assert snapshot["type"] == "snapshot"
                update = await ws.receive_json(timeout=5)
                assert update["type"] == "update"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    assert (await proc.stderr.read()) == b""


def test_cli_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- kind: drop\n")
    assert main(["kraken", "--faults", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kraken simulator:")
    assert "needs rate" in err
    bad.write_text("- kind: explode\n  rate: 0.1\n")
    assert main(["kraken", "--faults", str(bad)]) == 2
    assert "unknown fault kind 'explode'" in capsys.readouterr().err
    assert main(["kraken", "--pairs", "0"]) == 2
    assert main(["kraken", "--faults", str(tmp_path / "missing.yaml")]) == 2
    with pytest.raises(SystemExit):
        main(["kraken", "--no-such-option"])


async def test_serve_prints_urls_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    stop = asyncio.Event()
    config = KrakenSimConfig(pairs=["BTC/USD", "XYZ/USD"], rate=0)
    task = asyncio.create_task(serve(SIMULATOR, config, stop))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if "kraken rest" in capsys.readouterr().out:
            break
    else:
        pytest.fail("serve() did not print its URLs")
    stop.set()
    await asyncio.wait_for(task, 5)


def _parse(argv: list[str]) -> SimConfig:
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, SIMULATOR)
    return config_from_args(parser.parse_args(argv), SIMULATOR, flags)


def test_config_file_then_options(tmp_path: Path) -> None:
    """``--config`` takes a dumped KrakenSimConfig (what tradegw.sim.process writes)."""
    saved = KrakenSimConfig(pairs=["ETH/USD", "SOL/USD"], rate=250, seed=3, stamp_send_ns=True)
    path = tmp_path / "sim.json"
    path.write_text(saved.model_dump_json())
    assert _parse(["--config", str(path)]) == saved
    overridden = _parse(["--config", str(path), "--seed", "8", "--pairs", "BTC/USD,XRP/USD"])
    assert overridden.seed == 8
    assert overridden.pairs == ["BTC/USD", "XRP/USD"]
    assert overridden.rate == 250
    assert _parse(["--pairs", "7", "--port", "1234", "--heartbeat", "0.5"]).model_dump(
        include={"pairs", "ws_port", "heartbeat_interval"}
    ) == {"pairs": 7, "ws_port": 1234, "heartbeat_interval": 0.5}
    assert _parse([]) == KrakenSimConfig()
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a mapping"):
        _parse(["--config", str(path)])
