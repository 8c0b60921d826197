"""tradegw — a crypto trading gateway with verified order books.

The hot primitives live in the native extension :mod:`tradegw._core`; everything venue-facing
(providers, dispatcher, consumers, simulators) is Python on uvloop.

>>> async with tradegw.open() as gw:   # or tradegw.open("config.yaml"), or a GatewayConfig
...     async for ev in gw.subscribe(symbols=["BTC-USD"], types=["Ticker"]):
...         print(ev.provider, ev.bid, ev.ask)
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradegw.config import GatewayConfig
    from tradegw.gateway import Gateway

__all__ = ["__version__", "open"]


def open(
    config: str | os.PathLike[str] | GatewayConfig | None = None,
    *,
    sim_trading: bool = False,
) -> AbstractAsyncContextManager[Gateway]:
    """Starts what ``config`` names — a YAML path, a :class:`~tradegw.config.GatewayConfig`,
    or None for the embedded default — as ``tradegw run`` does, the venue simulators
    included, for ``async with``; yields the started :class:`~tradegw.gateway.Gateway` and
    stops everything on the way out. ``sim_trading=True`` turns order entry on for the
    venues running on simulators, with keys made for the run. See
    :func:`tradegw.front_door.open_gateway`."""
    # Imported on use: `import tradegw` stays cheap (the CLI installs its signal handlers
    # before any heavy import).
    from tradegw.front_door import open_gateway

    return open_gateway(config, sim_trading=sim_trading)


def __getattr__(name: str) -> str:
    # Looked up on first use: importlib.metadata costs tens of milliseconds, paid by every
    # ``tradegw`` start before main() can install its signal handlers.
    if name != "__version__":
        raise AttributeError(f"module 'tradegw' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("tradegw")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
