"""The order rig's set-up without its processes: keys made for the run that each simulator's
config accepts, the gateway config trading on every venue, and the process environment put
back exactly as it was after the gateway read the keys from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tradegw.orders.credentials import load_credentials
from tradegw.verify.trading_rig import (
    ORDER_FAULTS,
    TRADED,
    TradingKeys,
    credentials_env,
    trading_config,
)

pytestmark = pytest.mark.timeout(10)


def test_the_keys_are_new_for_every_rig_and_each_venue_reads_its_own() -> None:
    keys, other = TradingKeys.generate(), TradingKeys.generate()
    assert keys.env != other.env
    for venue in TRADED:
        creds = load_credentials(venue, keys.env)
        (sim_key,) = keys.sim_api_keys[venue]
        assert creds.api_key.reveal() == sim_key
        assert keys.sim_api_keys[venue][sim_key]["account"] == "default"
    # Coinbase's simulator gets only the public half.
    (spec,) = keys.sim_api_keys["coinbase"].values()
    assert "PRIVATE" not in spec["public_key_pem"]
    assert "EC PRIVATE KEY" in keys.env["TRADEGW_COINBASE_API_SECRET"]


def test_the_config_trades_on_every_venue_with_the_faults_on(tmp_path: Path) -> None:
    keys = TradingKeys.generate()
    config = trading_config(tmp_path / "orders.sqlite", keys)
    assert config.orders.ledger_path == str(tmp_path / "orders.sqlite")
    assert config.control.state_path is None
    for venue in TRADED:
        section = config.venues.get(venue)
        assert section is not None
        assert section.trading is not None  # type: ignore[attr-defined]
        sim = config.simulators.get(venue)
        assert sim.inspect_port == 0
        assert set(sim.api_keys) == set(keys.sim_api_keys[venue])
        kinds = {f.kind: f.rate for f in sim.faults.faults}
        assert kinds == ORDER_FAULTS[venue]
    quiet = trading_config(tmp_path / "orders.sqlite", keys, faults=False)
    assert all(not quiet.simulators.get(v).faults.faults for v in TRADED)


def test_the_environment_is_put_back_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEGW_BINANCE_API_KEY", "the-users-own")
    monkeypatch.setenv("TRADEGW_KRAKEN_API_SECRET_FILE", "/home/user/kraken.secret")
    monkeypatch.delenv("TRADEGW_COINBASE_API_KEY", raising=False)
    keys = TradingKeys.generate()
    with credentials_env(keys.env):
        assert os.environ["TRADEGW_BINANCE_API_KEY"] == keys.env["TRADEGW_BINANCE_API_KEY"]
        # A _FILE form of the user's would clash with the value given: hidden meanwhile.
        assert "TRADEGW_KRAKEN_API_SECRET_FILE" not in os.environ
        assert (
            load_credentials("kraken").api_secret.reveal() == keys.env["TRADEGW_KRAKEN_API_SECRET"]
        )
    assert os.environ["TRADEGW_BINANCE_API_KEY"] == "the-users-own"
    assert os.environ["TRADEGW_KRAKEN_API_SECRET_FILE"] == "/home/user/kraken.secret"
    assert "TRADEGW_COINBASE_API_KEY" not in os.environ
    assert "TRADEGW_KRAKEN_API_SECRET" not in os.environ
    with pytest.raises(RuntimeError), credentials_env(keys.env):
        raise RuntimeError("building the gateway failed")
    assert os.environ["TRADEGW_BINANCE_API_KEY"] == "the-users-own"
