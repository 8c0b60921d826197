"""Trading on a run's own simulators with keys made for the run.

A venue whose ``ws_url`` is ``"sim"`` gets its simulator started by the run (``tradegw
run``, ``tradegw.open``), and a simulator accepts only the keys in its config's
``api_keys``. Rather than asking for ``TRADEGW_<VENUE>_API_KEY`` variables that such a
simulator could never accept unless the same key were written into its config too,
:func:`prepare_sim_trading` makes a key for each simulated venue that trades and has no
``api_keys`` of its own: the simulator gets the part that checks signatures (the HMAC
secret, or a public key), the gateway the :class:`VenueCredentials`. The keys live in
memory for the run (a simulator child reads its config from a temporary file only its owner
can read, removed when it stops) and, as :class:`~tradegw.orders.credentials.Secret`
values, never show in a log line.

A simulator with ``api_keys`` configured keeps them, and the gateway reads its key from the
environment as for a real venue.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from tradegw.config import GatewayConfig
from tradegw.orders.credentials import Secret, VenueCredentials
from tradegw.providers.base.config import VenueConfig
from tradegw.sim.config import ApiKeyConfig, SimConfig

GENERATED: Final = "generated for this run"
"""Where a generated key came from, as :class:`VenueCredentials` says it."""


@dataclass(frozen=True, slots=True)
class AccountBalances:
    """What a simulator account starts with: named assets, every other one at
    ``otherwise`` (the simulator's ``starting_balance``)."""

    named: Mapping[str, Decimal] = field(default_factory=dict)
    otherwise: Decimal = Decimal(0)

    def of(self, asset: str) -> Decimal:
        """The starting balance of ``asset``."""
        return self.named.get(asset, self.otherwise)


@dataclass(frozen=True, slots=True)
class SimTrading:
    """A config ready to trade on its simulators, and what the gateway needs for it."""

    config: GatewayConfig
    """The config with order entry on where asked and the generated keys in its
    simulators' ``api_keys``."""
    credentials: dict[str, VenueCredentials]
    """The generated keys by venue (pass them to the :class:`~tradegw.gateway.Gateway`)."""
    balances: dict[str, AccountBalances]
    """By simulated venue that trades: what the account its key trades for starts with."""


def prepare_sim_trading(config: GatewayConfig, *, trade_on: Collection[str] = ()) -> SimTrading:
    """``config`` with order entry turned on for the simulated venues in ``trade_on`` that
    have no ``trading`` section (one with ``enabled: false`` is left off), and a key made
    for each simulated venue that trades on its simulator's order endpoints while that
    simulator has no ``api_keys``. Venues that are not simulated are left as they are."""
    venues: dict[str, Any] = {}
    simulators: dict[str, Any] = {}
    credentials: dict[str, VenueCredentials] = {}
    balances: dict[str, AccountBalances] = {}
    for venue, section in config.venues.configured():
        if not section.enabled or section.ws_url != "sim":
            continue
        if venue in trade_on and getattr(section, "trading", None) is None:
            section = type(section).model_validate({**section.model_dump(), "trading": {}})
            venues[venue] = section
        trading = getattr(section, "trading", None)
        if trading is None or not trading.enabled:
            continue
        sim = config.simulators.get(venue)
        make_key = _KEY_MAKERS.get(venue)
        if not sim.api_keys and make_key is not None and _on_simulator(section):
            account = "default" if "default" in sim.accounts else next(iter(sim.accounts))
            name, secret, checks = make_key()
            sim = sim.model_copy(
                update={"api_keys": {name: ApiKeyConfig(account=account, **checks)}}
            )
            simulators[venue] = sim
            credentials[venue] = VenueCredentials(
                venue, Secret(name), Secret(secret), GENERATED, GENERATED
            )
        if sim.api_keys:
            balances[venue] = _starting_balances(sim, next(iter(sim.api_keys.values())).account)
    if venues or simulators:
        config = config.model_copy(
            update={
                "venues": config.venues.model_copy(update=venues),
                "simulators": config.simulators.model_copy(update=simulators),
            }
        )
    return SimTrading(config, credentials, balances)


def _on_simulator(section: VenueConfig) -> bool:
    """Whether the venue's order endpoints are its simulator's (every URL of its trading
    section is ``"sim"``)."""
    trading = getattr(section, "trading", None)
    if trading is None:
        return False
    urls = [v for k, v in trading.model_dump().items() if k == "url" or k.endswith("_url")]
    return all(url == "sim" for url in urls)


def _starting_balances(sim: SimConfig, account: str) -> AccountBalances:
    spec = sim.accounts.get(account)
    named = {a: Decimal(v) for a, v in spec.balances.items()} if spec is not None else {}
    start = Decimal(sim.starting_balance) if sim.starting_balance is not None else Decimal(0)
    return AccountBalances(named, start)


# ---- one key maker per venue: (key, secret, what the simulator checks with) ----


def _hmac_key() -> tuple[str, str, dict[str, str]]:
    """Binance: an API key and the HMAC-SHA256 secret both sides hold."""
    secret = secrets.token_urlsafe(48)
    return "sim" + secrets.token_hex(24), secret, {"secret": secret}


def _kraken_key() -> tuple[str, str, dict[str, str]]:
    """Kraken: an API key and a base64 secret of 64 bytes, as Kraken issues them."""
    secret = base64.b64encode(secrets.token_bytes(64)).decode()
    return "sim" + secrets.token_hex(24), secret, {"secret": secret}


def _cdp_key() -> tuple[str, str, dict[str, str]]:
    """Coinbase: a CDP key name and an EC P-256 private key (SEC1 PEM, as the portal gives
    one); the simulator gets only the public half."""
    # Imported here: key generation is needed only by runs that trade on a simulator.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
    return name, pem, {"public_key_pem": public}


_KEY_MAKERS: Final[dict[str, Callable[[], tuple[str, str, dict[str, str]]]]] = {
    "binance": _hmac_key,
    "coinbase": _cdp_key,
    "kraken": _kraken_key,
}
"""How each venue's simulator is given a key; a venue not listed reads its key from the
environment, as for a real venue."""


__all__ = ["GENERATED", "AccountBalances", "SimTrading", "prepare_sim_trading"]
