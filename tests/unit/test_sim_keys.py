"""Keys made for a run's own simulators: the simulator accepts what the gateway signs with,
a simulator with keys of its own and a real venue are left alone, and no key shows."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal

import pytest

from tradegw.config import GatewayConfig, load_config
from tradegw.orders.credentials import MASK
from tradegw.orders.sim_keys import GENERATED, prepare_sim_trading
from tradegw.providers.coinbase.signing import CdpSigner
from tradegw.sim.coinbase.auth import JwtVerifier

pytestmark = pytest.mark.timeout(10)

SIMULATED = ["binance", "coinbase", "kraken"]


def test_the_embedded_default_trades_on_every_simulator_with_a_fresh_key() -> None:
    config = load_config()
    assert all(getattr(s, "trading", None) is None for _, s in config.venues.configured())
    one = prepare_sim_trading(config, trade_on=SIMULATED)
    other = prepare_sim_trading(config, trade_on=SIMULATED)
    assert sorted(one.credentials) == SIMULATED
    for venue in SIMULATED:
        section = one.config.venues.get(venue)
        assert section is not None
        trading = getattr(section, "trading", None)
        assert trading is not None
        assert trading.enabled
        keys = one.config.simulators.get(venue).api_keys
        creds = one.credentials[venue]
        assert list(keys) == [creds.api_key.reveal()]
        assert creds.key_source == creds.secret_source == GENERATED
        assert keys[creds.api_key.reveal()].account == "default"
        # Made for each run: never the same twice.
        assert creds.api_secret != other.credentials[venue].api_secret
        # What the account starts with (the simulators' starting_balance).
        assert one.balances[venue].of("BTC") == Decimal("1000000")
    # The caller's config is not changed.
    assert all(not config.simulators.get(v).api_keys for v in SIMULATED)
    assert all(getattr(s, "trading", None) is None for _, s in config.venues.configured())


def test_each_simulator_checks_with_the_part_that_matches_the_gateways_key() -> None:
    trading = prepare_sim_trading(load_config(), trade_on=SIMULATED)
    sims = trading.config.simulators
    binance = trading.credentials["binance"]
    assert sims.get("binance").api_keys[binance.api_key.reveal()].secret == (
        binance.api_secret.reveal()
    )
    kraken = trading.credentials["kraken"]
    secret = sims.get("kraken").api_keys[kraken.api_key.reveal()].secret
    assert secret == kraken.api_secret.reveal()
    assert len(base64.b64decode(secret, validate=True)) == 64
    # Coinbase: the simulator has only the public half, and verifies the gateway's JWT.
    coinbase = trading.credentials["coinbase"]
    spec = sims.get("coinbase").api_keys[coinbase.api_key.reveal()]
    assert spec.secret is None
    assert spec.public_key_pem is not None
    assert "PRIVATE" not in spec.public_key_pem
    token = CdpSigner(coinbase.api_key, coinbase.api_secret).rest_jwt(
        "POST", "127.0.0.1:1", "/api/v3/brokerage/orders"
    )
    verifier = JwtVerifier(sims.get("coinbase").api_keys)
    principal = verifier.verify(token, uri="POST 127.0.0.1:1/api/v3/brokerage/orders")
    assert principal.account == "default"


def test_venues_not_asked_to_trade_and_real_venues_are_left_alone() -> None:
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {},
                "coinbase": {"trading": {"enabled": False}},
                "binance": {
                    "ws_url": "wss://stream.binance.com:9443",
                    "rest_url": "https://api.binance.com",
                    "trading": {"url": "wss://ws-api.binance.com:443/ws-api/v3"},
                },
            }
        }
    )
    # Nothing asked: no section added, no key made (binance reads its key from the env).
    plain = prepare_sim_trading(config)
    assert plain.config is config
    assert plain.credentials == {}
    # Asked for every venue: only the simulated one without a section trades.
    asked = prepare_sim_trading(config, trade_on=SIMULATED)
    assert list(asked.credentials) == ["kraken"]
    coinbase = asked.config.venues.get("coinbase")
    assert coinbase is not None
    assert not getattr(coinbase, "trading").enabled  # noqa: B009 - VenueConfig has no field


def test_a_simulator_with_keys_of_its_own_keeps_them() -> None:
    config = GatewayConfig.model_validate(
        {
            "venues": {"kraken": {"trading": {}}},
            "simulators": {
                "kraken": {
                    "api_keys": {"mine": {"secret": "c2VjcmV0", "account": "alice"}},
                    "accounts": {"alice": {"balances": {"USD": "100"}}},
                    "starting_balance": "5",
                }
            },
        }
    )
    trading = prepare_sim_trading(config, trade_on=SIMULATED)
    assert trading.credentials == {}  # the gateway reads TRADEGW_KRAKEN_API_KEY as before
    assert list(trading.config.simulators.get("kraken").api_keys) == ["mine"]
    assert trading.balances["kraken"].of("USD") == Decimal("100")
    assert trading.balances["kraken"].of("BTC") == Decimal("5")


def test_no_generated_key_shows_in_a_rendering_or_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trading = prepare_sim_trading(load_config(), trade_on=SIMULATED)
    caplog.set_level(logging.DEBUG)
    for venue, creds in trading.credentials.items():
        logging.getLogger("tradegw.test").warning("%s %s %r", venue, creds, creds)
        shown = f"{creds} {creds!r} {trading.credentials}"
        for secret in (creds.api_key.reveal(), creds.api_secret.reveal()):
            assert secret not in shown
            assert secret not in caplog.text
        assert MASK in shown
