"""The simulator registry, ``python -m tradegw.sim`` and the child-process runner."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace

import aiohttp
import pytest

from tradegw.sim.__main__ import main
from tradegw.sim.cli import add_arguments, config_from_args
from tradegw.sim.kraken import SIMULATOR, KrakenSimConfig, KrakenSimulator
from tradegw.sim.process import SimulatorProcess
from tradegw.sim.registry import VENUES, VenueSpec, load_venue, venue_names

pytestmark = pytest.mark.timeout(30)


def test_venues_are_found_by_name_and_loaded_on_demand() -> None:
    assert venue_names() == list(VENUES)
    assert {"binance", "coinbase", "kraken"} <= set(VENUES)
    spec = load_venue("kraken")
    assert spec is SIMULATOR
    assert (spec.name, spec.config_type, spec.simulator_type) == (
        "kraken",
        KrakenSimConfig,
        KrakenSimulator,
    )
    with pytest.raises(ValueError, match="unknown venue 'nope'"):
        load_venue("nope")


def _modules_loaded_by(imports: str) -> list[str]:
    """The tradegw.sim.kraken and tradegw._core modules a fresh interpreter has loaded after
    running ``imports``."""
    probe = (
        f"import sys; {imports};"
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('tradegw.sim.kraken', 'tradegw._core'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=20
    )
    return list(ast.literal_eval(out.stdout.strip()))


def test_the_runner_side_never_imports_a_venue_and_no_simulator_imports_the_core() -> None:
    """The registry, command line and process runner name venues, they do not import them;
    the simulators' checksum and sequence code stays independent of the Rust core."""
    assert _modules_loaded_by("import tradegw.sim.process, tradegw.sim.__main__") == []
    loaded = _modules_loaded_by(
        "import tradegw.sim.kraken, tradegw.sim.kraken.faults; "
        "from tradegw.sim.registry import load_venue; load_venue('kraken')"
    )
    assert "tradegw.sim.kraken.checksum" in loaded
    assert "tradegw._core" not in loaded


def test_main_help_and_unknown_venues(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "kraken" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["kraken", "--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    assert "python -m tradegw.sim kraken" in help_text
    assert "--rest-port" in help_text
    for argv in ([], ["nope"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


def test_a_venue_can_add_options_of_its_own() -> None:
    def extra(parser: argparse.ArgumentParser) -> Mapping[str, str]:
        parser.add_argument("--warmup", type=int)
        return {"warmup": "warmup_steps"}

    spec: VenueSpec = replace(SIMULATOR, add_arguments=extra)
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, spec)
    config = config_from_args(parser.parse_args(["--warmup", "7", "--seed", "3"]), spec, flags)
    assert isinstance(config, KrakenSimConfig)
    assert (config.warmup_steps, config.seed) == (7, 3)
    default = config_from_args(parser.parse_args([]), spec, flags)
    assert default.warmup_steps == KrakenSimConfig().warmup_steps


def test_simulator_process_refuses_unknown_venues() -> None:
    with pytest.raises(ValueError, match="unknown venue 'nope'"):
        SimulatorProcess("nope", KrakenSimConfig())


async def test_simulator_process_runs_a_venue_by_name() -> None:
    proc = SimulatorProcess("kraken", KrakenSimConfig(pairs=["ETH/USD"], rate=0, seed=5))
    try:
        await proc.start()
        assert proc.ws_url.startswith("ws://127.0.0.1:")
        assert proc.ws_url.endswith("/v2")
        async with (
            aiohttp.ClientSession() as session,
            session.get(proc.rest_url + "/0/public/AssetPairs") as resp,
        ):
            body = await resp.json()
        # The child got this config: only the one pair.
        assert list(body["result"]) == ["XETHZUSD"]
    finally:
        await proc.stop()
    await proc.stop()  # twice is harmless
