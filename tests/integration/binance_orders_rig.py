"""What the Binance order tests share: a simulator with trading keys (an HMAC one and an
Ed25519 one), the adapter pointed at it, and orders shaped as the order entry hands them to
``place``."""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tradegw.orders.credentials import Secret, VenueCredentials
from tradegw.orders.record import OrderRecord
from tradegw.orders.requests import new_client_order_id
from tradegw.orders.states import OrderState
from tradegw.providers.binance.config import BinanceTradingConfig
from tradegw.providers.binance.orders import BinanceOrderVenue
from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator

API_KEY = "gwTestKey7f3a9c0d1e2b4a5968"
API_SECRET = "gwTestSecret-7c1e9a2f4b6d8e0a3c5f7b9d1e3a5c7f"
SYMBOLS = ["BTCUSDT", "ETHUSDT"]

ED_API_KEY = "gwTestEdKey5b8e1d3a7c9f0b2d4e6"
_ED_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tradegw ed25519 test").digest())
ED_PRIVATE_PEM = _ED_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
"""The Ed25519 key's private half, as ``TRADEGW_BINANCE_API_SECRET`` holds it."""
ED_PUBLIC_PEM = (
    _ED_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
)
"""Its public half, as the simulator registers it."""
API_KEYS = {API_KEY: {"secret": API_SECRET}, ED_API_KEY: {"public_key_pem": ED_PUBLIC_PEM}}


def sim_config(**fields: Any) -> BinanceSimConfig:
    """Two pairs, the trading keys, no market movement unless asked."""
    fields.setdefault("pairs", list(SYMBOLS))
    fields.setdefault("rate", 0)
    fields.setdefault("api_keys", API_KEYS)
    return BinanceSimConfig(**fields)


def credentials(key: str = API_KEY, secret: str = API_SECRET) -> VenueCredentials:
    return VenueCredentials("binance", Secret(key), Secret(secret), "test", "test")


def ed_credentials() -> VenueCredentials:
    """The Ed25519 key (use it with ``key_type="ed25519"``)."""
    return credentials(ED_API_KEY, ED_PRIVATE_PEM)


def venue_for(
    sim: BinanceSimulator,
    *,
    creds: VenueCredentials | None = None,
    **trading: Any,
) -> BinanceOrderVenue:
    """The adapter against ``sim`` (not started)."""
    trading.setdefault("request_timeout_s", 2.0)
    trading.setdefault("recv_window_ms", 1000)
    trading.setdefault("query_grace_extra_s", 0.2)
    trading.setdefault("reconnect", {"initial_s": 0.05, "max_s": 0.5})
    return BinanceOrderVenue(
        BinanceTradingConfig(**trading),
        ws_api_url=f"{sim.ws_url}/ws-api/v3",
        rest_url=sim.rest_url,
        symbols=list(SYMBOLS),
        credentials=creds or credentials(),
    )


def record(
    symbol: str,
    *,
    qty: str,
    price: str | None,
    side: str = "buy",
    tif: str = "GTC",
    post_only: bool = False,
    cid: str | None = None,
) -> OrderRecord:
    """An order as the entry hands it to ``place`` (SENT, attempt 1)."""
    now = time.time_ns()
    return OrderRecord(
        client_order_id=cid or new_client_order_id(),
        venue="binance",
        symbol=symbol,
        venue_symbol=symbol.replace("-", ""),
        side=side,  # type: ignore[arg-type]
        type="limit" if price is not None else "market",
        qty=qty,
        price=price,
        time_in_force=tif,  # type: ignore[arg-type]
        post_only=post_only,
        state=OrderState.SENT,
        created_ns=now,
        updated_ns=now,
        send_attempts=1,
        last_sent_ns=now,
    )


def prices(sim: BinanceSimulator, symbol: str = "BTCUSDT") -> tuple[str, str]:
    """``(resting buy price, taking buy price)``: below the bids, through three asks."""
    bids, asks = sim.book(symbol, 5)
    return _plain(bids[4][0]), _plain(asks[2][0])


def _plain(text: str) -> str:
    return format(Decimal(text).normalize(), "f")
