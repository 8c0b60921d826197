"""What the Kraken order tests share: a simulator that trades, credentials for it, and the
adapter connected to it."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from tradegw.orders.credentials import VenueCredentials, load_credentials
from tradegw.providers.kraken.config import KrakenTradingConfig
from tradegw.providers.kraken.orders import KrakenOrderVenue
from tradegw.sim.kraken import KrakenSimConfig, KrakenSimulator

API_KEY = "kraken-test-key-7Qm2"
API_SECRET = base64.b64encode(bytes((i * 37 + 11) % 256 for i in range(64))).decode()

ENV = {"TRADEGW_KRAKEN_API_KEY": API_KEY, "TRADEGW_KRAKEN_API_SECRET": API_SECRET}
"""The environment a gateway trading on the test simulator reads its key from."""


def credentials(key: str = API_KEY, secret: str = API_SECRET) -> VenueCredentials:
    env = {"TRADEGW_KRAKEN_API_KEY": key, "TRADEGW_KRAKEN_API_SECRET": secret}
    return load_credentials("kraken", env)


def trading_sim(**overrides: Any) -> KrakenSimulator:
    """A Kraken simulator with the test key, frozen market (``rate=0``) unless told."""
    fields: dict[str, Any] = {
        "pairs": ["BTC/USD", "ETH/USD"],
        "rate": 0,
        "api_keys": {API_KEY: {"secret": API_SECRET, "account": "default"}},
        "starting_balance": "1000000000",
        **overrides,
    }
    return KrakenSimulator(KrakenSimConfig.model_validate(fields))


FAST_TRADING: dict[str, Any] = {
    "query_grace_s": 0.1,
    "request_timeout_s": 2.0,
    "stale_after_s": 5.0,
    "reconnect": {"initial_s": 0.02, "max_s": 0.2},
}


def order_venue(
    sim: KrakenSimulator, creds: VenueCredentials | None = None, **config: Any
) -> KrakenOrderVenue:
    """The adapter pointed at ``sim`` (not started)."""
    return KrakenOrderVenue(
        KrakenTradingConfig.model_validate({**FAST_TRADING, **config}),
        creds or credentials(),
        ws_url=sim.auth_ws_url,
        rest_url=sim.rest_url,
    )


async def until(condition: Any, within: float = 10.0, what: str = "condition") -> None:
    """Waits until ``condition()`` is true (fails naming ``what`` after ``within``)."""
    try:
        async with asyncio.timeout(within):
            while True:
                if condition():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"no {what} within {within}s") from None
