"""``tradegw.open``: the gateway in one line, started as ``tradegw run`` starts it.

>>> async with tradegw.open() as gw:              # the embedded default: its simulators too
...     async for ev in gw.subscribe(symbols=["BTC-USD"], types=["Ticker"]):
...         print(ev.provider, ev.bid, ev.ask)

The config names what runs: a venue whose URL is ``"sim"`` gets its simulator in a child
process (the same start-up as ``tradegw run``, :func:`tradegw.runner.start_simulators`), so a
strategy never needs to know a port. Its control socket, ops server (``gw.metrics_url``),
state file and DLQ start as configured. The config's ``consumers:`` and ``demo_strategy`` are
``tradegw run``'s demos and are not started: the code inside the ``async with`` is the
consumer.

A simulated venue that trades (a ``trading`` section, or any simulated venue with
``sim_trading=True``) gets a key made for the run that its simulator accepts
(:mod:`tradegw.orders.sim_keys`): no key variables are needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

from tradegw.config import GatewayConfig, load_config
from tradegw.gateway import Gateway
from tradegw.orders.sim_keys import prepare_sim_trading
from tradegw.runner import SIM_GRACE_S, start_simulators
from tradegw.sim.process import SimulatorProcess

__all__ = ["open_gateway"]

log = logging.getLogger("tradegw")


@contextlib.asynccontextmanager
async def open_gateway(
    config: str | os.PathLike[str] | GatewayConfig | None = None,
    *,
    say: Callable[[str], None] | None = None,
    sim_trading: bool = False,
) -> AsyncIterator[Gateway]:
    """Starts what ``config`` names (a YAML path, a :class:`GatewayConfig`, or None for the
    embedded default) and yields the started :class:`Gateway`; on the way out (an exception
    or cancellation included) stops the gateway, then the simulators.

    ``sim_trading`` turns order entry on for every venue running on its simulator (one
    whose ``trading`` section says ``enabled: false`` stays off).

    ``say`` receives the lines ``tradegw run`` prints (simulator URLs); by default they go to
    the ``tradegw`` logger at INFO.

    Raises:
        tradegw.errors.ConfigError: the file is not a valid config (it names the field).
    """
    cfg = config if isinstance(config, GatewayConfig) else load_config(config)
    simulated = [v for v, s in cfg.venues.configured() if s.enabled and s.ws_url == "sim"]
    trading = prepare_sim_trading(cfg, trade_on=simulated if sim_trading else ())
    sims: list[SimulatorProcess] = []
    try:
        urls, rest_urls = await start_simulators(trading.config, sims, say or log.info)
        gw = Gateway(
            trading.config, urls=urls, rest_urls=rest_urls, credentials=trading.credentials
        )
        await gw.start()
        try:
            yield gw
        finally:
            await gw.stop()
    finally:
        await asyncio.gather(*(sim.stop(SIM_GRACE_S) for sim in sims))
