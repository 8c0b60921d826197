"""What the Coinbase order tests share: generated CDP keys, a simulator that knows them, and
the order adapter against it.

Keys are made fresh for each use (ES256 is randomized, so no fixed vector exists:
protocols.md section 4.7); the simulator is given only the public half.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradegw.orders.credentials import Secret
from tradegw.providers.coinbase.config import CoinbaseTradingConfig
from tradegw.providers.coinbase.orders import CoinbaseOrderVenue
from tradegw.providers.coinbase.signing import CdpSigner
from tradegw.sim.coinbase import CoinbaseSimConfig, CoinbaseSimulator
from tradegw.sim.coinbase.auth import new_es256_key
from tradegw.sim.config import ApiKeyConfig

KEY_NAME = (
    "organizations/5e1d0c1f-7a4b-4b8e-9d61-2f0c3b7a9e11"
    "/apiKeys/8c2b6f0e-1d3a-4c5b-a7e9-0f1e2d3c4b5a"
)
"""A CDP key name of the usual shape (made up)."""
ACCOUNT = "gateway"


@dataclass(frozen=True)
class CdpKey:
    """A generated API key: its name, the private key as the secret, the public PEM."""

    name: str
    secret: str
    public_pem: str
    algorithm: str

    def signer(self, **kwargs: Any) -> CdpSigner:
        return CdpSigner(Secret(self.name), Secret(self.secret), **kwargs)

    def api_key(self, account: str = ACCOUNT) -> ApiKeyConfig:
        return ApiKeyConfig(account=account, public_key_pem=self.public_pem)


def es256_key(name: str = KEY_NAME) -> CdpKey:
    """An EC P-256 key as the CDP portal gives one (SEC1 ``EC PRIVATE KEY`` PEM)."""
    pem, public = new_es256_key()
    return CdpKey(name, pem, public, "ES256")


def ed25519_key(name: str = KEY_NAME, *, as_base64: bool = True) -> CdpKey:
    """An Ed25519 key: base64 of seed + public key (the portal's form), or a PKCS#8 PEM."""
    private = Ed25519PrivateKey.generate()
    if as_base64:
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        secret = base64.b64encode(seed + public).decode()
    else:
        secret = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    return CdpKey(name, secret, _public_pem(private), "EdDSA")


def _public_pem(private: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sim_config(key: CdpKey, **overrides: Any) -> CoinbaseSimConfig:
    """A simulator run that knows ``key`` (trading for :data:`ACCOUNT`)."""
    fields: dict[str, Any] = {
        "pairs": ["BTC-USD", "ETH-USD"],
        "rate": 0,
        "seed": 5,
        "accounts": {ACCOUNT: {}},
        "api_keys": {key.name: key.api_key()},
        "private_rate_limit": 0,
        "starting_balance": "100000000",
        "subscribe_deadline_s": 0,
        "idle_timeout_s": 0,
    }
    fields.update(overrides)
    return CoinbaseSimConfig.model_validate(fields)


def trading_config(**overrides: Any) -> CoinbaseTradingConfig:
    """A trading section for tests: short tokens, so "not found" is believed soon."""
    fields: dict[str, Any] = {
        "request_timeout_s": 2.0,
        "jwt_lifetime_s": 5,
        "clock_skew_s": 0.0,
        "requests_per_s": 10_000.0,
        "reconnect": {"initial_s": 0.05, "max_s": 0.2},
    }
    fields.update(overrides)
    return CoinbaseTradingConfig.model_validate(fields)


def venue_for(
    sim: CoinbaseSimulator, key: CdpKey, config: CoinbaseTradingConfig | None = None
) -> CoinbaseOrderVenue:
    """The order adapter pointed at ``sim``'s REST and WebSocket."""
    config = config or trading_config()
    return CoinbaseOrderVenue(
        config,
        key.signer(lifetime_s=config.jwt_lifetime_s),
        rest_url=sim.rest_url,
        user_ws_url=sim.ws_url,
    )


def best(sim: CoinbaseSimulator, product_id: str) -> tuple[Decimal, Decimal]:
    """``(best bid, best ask)`` of the simulator's book."""
    bids, asks = sim.book(product_id, 1)
    return Decimal(bids[0][0]), Decimal(asks[0][0])


@asynccontextmanager
async def running_sim(key: CdpKey, **overrides: Any) -> AsyncIterator[CoinbaseSimulator]:
    async with CoinbaseSimulator(sim_config(key, **overrides)) as sim:
        yield sim
