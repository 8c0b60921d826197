"""The rig of the order criteria (SC-003, SC-007, SC-008): the three venue simulators in
child processes with a trading account each, API keys made for the run, their order faults
on and their inspection endpoints served; a gateway trading on all three whose ledger is a
file in a private temporary folder, which can be killed and followed by a new one on the
same ledger (:attr:`TradingRig.lives`).

Nothing of the user's is read or written: the keys are generated in memory and handed to
the gateway through its usual environment variables only while it is built (the user's own
``TRADEGW_<VENUE>_API_*`` are put back at once and never seen by it); the ledger and the
simulators' config files (the only other place a key goes) live in a folder only this user
can read, removed when the rig closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.credentials import env_names
from tradegw.sim.coinbase.auth import new_es256_key
from tradegw.sim.inspection import VenueOrderView
from tradegw.verify.gateway_lives import GatewayLives
from tradegw.verify.order_flow import Quote, gateway_quote
from tradegw.verify.rig import Rig, add_faults, rig_config

TRADED: Final[dict[str, tuple[str, ...]]] = {
    "binance": ("BTC-USDT", "ETH-USDT"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "kraken": ("BTC-USD", "ETH-USD"),
}
"""The symbols orders are placed on, per venue (canonical)."""
ACCOUNT: Final = "default"
"""The simulators' trading account the keys trade for."""
STARTING_BALANCE: Final = "1000000000"

ORDER_FAULTS: Final[dict[str, dict[str, float]]] = {
    # kind: rate per order request (REST request for http_5xx, order update for the stream)
    "binance": {
        "order_ack_lost": 0.03,
        "order_response_lost": 0.02,
        "order_5xx_after_accept": 0.04,
        "private_stream_drop": 0.02,
    },
    "coinbase": {
        "order_ack_lost": 0.03,
        "order_response_lost": 0.03,
        "order_5xx_after_accept": 0.04,
        "http_5xx": 0.02,
        "private_stream_drop": 0.01,
    },
    "kraken": {
        "order_ack_lost": 0.04,
        "order_response_lost": 0.03,
        "order_5xx_after_accept": 0.04,
        "http_5xx": 0.03,
        "private_stream_drop": 0.02,
    },
}
"""Each simulator's order faults (as the 1,000-order tests): answers lost, connections
closed after the order was accepted, 5xx after accept, REST 5xx, the private stream dropped
mid-fill. A venue's duplicate client order ids are handled its own way by its simulator."""

_SIM_TRADING: Final[dict[str, dict[str, Any]]] = {
    "binance": {},
    # Paced by the gateway instead; a held order answer gives up soon; an idle user channel
    # is never closed by the venue mid-run.
    "coinbase": {"private_rate_limit": 0, "order_ack_lost_hold_s": 2.0, "idle_timeout_s": 0},
    "kraken": {},
}
_GATEWAY_TRADING: Final[dict[str, dict[str, Any]]] = {
    "binance": {
        "request_timeout_s": 1.0,
        "recv_window_ms": 1500,
        "query_grace_extra_s": 0.3,
        "reconnect": {"initial_s": 0.05, "max_s": 0.5},
    },
    "coinbase": {
        "request_timeout_s": 0.5,
        # "Not found" is believed after a token's lifetime: short tokens, a short wait.
        "jwt_lifetime_s": 5,
        "clock_skew_s": 0.0,
        "requests_per_s": 10_000,
        "reconnect": {"initial_s": 0.05, "max_s": 0.3},
    },
    "kraken": {
        "query_grace_s": 0.5,
        "request_timeout_s": 0.5,
        "stale_after_s": 5.0,
        "reconnect": {"initial_s": 0.02, "max_s": 0.2},
    },
}
_ORDERS: Final[dict[str, Any]] = {
    "request_timeout_s": 1.0,
    "reconcile_backoff_s": 0.05,
    "reconcile_backoff_max_s": 0.5,
    "max_send_attempts": 3,
}


@dataclass(frozen=True, slots=True)
class TradingKeys:
    """One run's API keys: what the gateway reads (:attr:`env`) and what each simulator
    checks them with (:attr:`sim_api_keys`). Made fresh for every rig."""

    env: Mapping[str, str]
    sim_api_keys: Mapping[str, dict[str, dict[str, str]]]

    @classmethod
    def generate(cls) -> TradingKeys:
        """A Binance HMAC key, a Kraken API-Sign key and a Coinbase CDP (ES256) key."""
        binance = (f"verify{secrets.token_hex(16)}", secrets.token_urlsafe(48))
        kraken = (f"verify-{secrets.token_hex(12)}", base64.b64encode(os.urandom(64)).decode())
        name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
        pem, public = new_es256_key()
        env: dict[str, str] = {}
        for venue, (key, secret) in {
            "binance": binance,
            "kraken": kraken,
            "coinbase": (name, pem),
        }.items():
            key_var, secret_var = env_names(venue)
            env[key_var], env[secret_var] = key, secret
        return cls(
            env,
            {
                "binance": {binance[0]: {"account": ACCOUNT, "secret": binance[1]}},
                "kraken": {kraken[0]: {"account": ACCOUNT, "secret": kraken[1]}},
                "coinbase": {name: {"account": ACCOUNT, "public_key_pem": public}},
            },
        )


@contextlib.contextmanager
def credentials_env(env: Mapping[str, str]) -> Iterator[None]:
    """Sets the variables of ``env`` (and hides their ``_FILE`` forms) in the process
    environment, and puts back exactly what was there on leaving. Only for code that reads
    them synchronously inside (building a gateway): nothing else runs meanwhile."""
    names = [*env, *(f"{name}_FILE" for name in env)]
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(env)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def trading_config(
    ledger_path: Path,
    keys: TradingKeys,
    *,
    faults: bool = True,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> GatewayConfig:
    """The rig's config (:func:`~tradegw.verify.rig.rig_config`: the embedded default's
    full load) with trading on every venue, the ledger at ``ledger_path``, the simulators'
    accounts, keys and inspection endpoints, and their order faults unless ``faults`` is
    False; ``change`` edits the raw form last."""

    def trading(raw: dict[str, Any]) -> None:
        raw["orders"] = {"ledger_path": str(ledger_path), **_ORDERS}
        for venue in TRADED:
            raw["venues"][venue]["trading"] = dict(_GATEWAY_TRADING[venue])
            raw["simulators"][venue].update(
                api_keys=keys.sim_api_keys[venue],
                starting_balance=STARTING_BALANCE,
                inspect_port=0,
                **_SIM_TRADING[venue],
            )
            if faults:
                add_faults(
                    raw, venue, *({"kind": k, "rate": r} for k, r in ORDER_FAULTS[venue].items())
                )
        if change is not None:
            change(raw)

    return rig_config(trading)


class SimInspector:
    """One simulator's inspection endpoints (:mod:`tradegw.sim.inspection`)."""

    def __init__(self, venue: str, url: str, session: aiohttp.ClientSession) -> None:
        self.venue = venue
        self._url = url
        self._session = session

    async def orders(self, account: str = ACCOUNT) -> list[VenueOrderView]:
        """Every order of ``account`` at the venue, with its fills."""
        data = await self._get(f"/orders?account={account}")
        return [VenueOrderView.from_json(o) for o in data["orders"]]

    async def stats(self) -> dict[str, Any]:
        """``{"sim": counters and faults, "matching": the matching engine's counters}``."""
        data: dict[str, Any] = await self._get("/stats")
        return data

    async def pause(self) -> None:
        """Stops the venue's market (its requests are still answered)."""
        async with self._session.post(f"{self._url}/pause") as response:
            response.raise_for_status()

    async def _get(self, path: str) -> Any:
        async with self._session.get(f"{self._url}{path}") as response:
            response.raise_for_status()
            return orjson.loads(await response.read())


class TradingRig(Rig):
    """:class:`~tradegw.verify.rig.Rig` with trading: see the module docstring. Make one
    with :meth:`create`; :attr:`lives` has the gateway of now (``lives.gw``) and every
    ExecReport any gateway of the rig published."""

    def __init__(self, config: GatewayConfig, keys: TradingKeys, workdir: Path) -> None:
        super().__init__(config, workdir=workdir)
        self.keys = keys
        self.lives = GatewayLives(self._build_gateway)
        self.inspectors: dict[str, SimInspector] = {}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def create(
        cls, *, faults: bool = True, change: Callable[[dict[str, Any]], None] | None = None
    ) -> TradingRig:
        """A rig with fresh keys and a private folder for its ledger (see
        :func:`trading_config` for ``faults`` and ``change``)."""
        workdir = Path(tempfile.mkdtemp(prefix="tradegw-verify-"))
        keys = TradingKeys.generate()
        try:
            config = trading_config(workdir / "orders.sqlite", keys, faults=faults, change=change)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return cls(config, keys, workdir)

    async def start_simulators(self) -> None:
        """Starts the simulators, then builds the first gateway (not started)."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10.0))
        await super().start_simulators()
        for venue, sim in self.sims.items():
            if not sim.inspect_url:
                raise RuntimeError(f"the {venue} simulator serves no inspection endpoints")
            self.inspectors[venue] = SimInspector(venue, sim.inspect_url, self._session)

    def _build_gateway(self) -> Gateway:
        with credentials_env(self.keys.env):
            return Rig.new_gateway(self)

    def new_gateway(self) -> Gateway:
        """A gateway (not started) whose ExecReports :attr:`lives` collects."""
        return self.lives.new()

    async def start(self) -> None:
        """Starts the gateway built last; it becomes ``lives.gw``."""
        self._started = True
        await self.lives.start(self.gw)

    async def restart_gateway(self) -> Gateway:
        """Kills the gateway of now and starts a new one on the same ledger."""
        gw = await self.lives.restart()
        self._gw = gw
        return gw

    async def stop_gateway(self) -> None:
        """Stops the gateway of now and collects the last of its ExecReports. Idempotent."""
        if self._started:
            self._started = False
            await self.lives.close()

    async def wait_trading(self, within_s: float = 30.0) -> None:
        """Waits until every venue's order adapter has its instruments and private stream
        and every traded book a quote.

        Raises:
            TimeoutError: not within ``within_s`` (the message says what is missing).
        """
        deadline = time.monotonic() + within_s
        while True:
            missing = self._not_trading()
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready to trade after {within_s:g} s: {missing}")
            await asyncio.sleep(0.05)

    def _not_trading(self) -> list[str]:
        gw = self.gw
        missing = []
        for venue, symbols in TRADED.items():
            if venue not in gw.order_entry.venue_names():
                missing.append(f"{venue}: no order venue")
                continue
            if not getattr(gw.order_entry.venue(venue), "connected", True):
                missing.append(f"{venue}: private stream")
            missing.extend(f"{venue} {s}" for s in symbols if gateway_quote(gw, venue, s) is None)
        return missing

    def quote(self, venue: str) -> Callable[[str], Quote]:
        """``symbol -> Quote`` of ``venue`` from the gateway of now (the last one when none
        runs this instant).

        The function raises ``LookupError`` for a book that has no quote right now."""

        def of(symbol: str) -> Quote:
            gw = self.lives.gw or self.gw
            q = gateway_quote(gw, venue, symbol)
            if q is None:
                raise LookupError(f"no quote for {symbol} on {venue} now")
            return q

        return of

    async def venue_orders(self) -> dict[str, list[VenueOrderView]]:
        """Every venue's orders of the trading account."""
        views = await asyncio.gather(*(i.orders() for i in self.inspectors.values()))
        return dict(zip(self.inspectors, views, strict=True))

    async def venue_stats(self) -> dict[str, dict[str, Any]]:
        """Every simulator's counters (``sim``) and its matching engine's (``matching``)."""
        stats = await asyncio.gather(*(i.stats() for i in self.inspectors.values()))
        return dict(zip(self.inspectors, stats, strict=True))

    async def pause_markets(self) -> None:
        """Stops every venue's market: resting orders fill no more."""
        await asyncio.gather(*(i.pause() for i in self.inspectors.values()))

    async def close(self) -> None:
        """Stops everything (:meth:`Rig.close`), then removes the private folder."""
        try:
            await super().close()
        finally:
            self.lives.abandon()  # what a gateway slow to stop left collecting
            if self._session is not None:
                await self._session.close()
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
