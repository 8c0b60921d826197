"""What a simulator's matching engine holds, for whoever checks a client against the venue:
every order of an account with its fills, and the engine's counters — in process
(:func:`venue_orders`, :func:`trading_stats`) or, for a simulator in a child process, over
HTTP on a port of its own (:class:`InspectionServer`, on when ``inspect_port`` is set).

The inspection port is not the venue's: none of the venue's middlewares (request weights,
rate limits, HTTP faults) see its requests, and a client of the venue never finds it. ::

    GET  /orders?account=NAME  {"orders": [VenueOrderView as JSON, ...]}
    GET  /stats                {"sim": simulator counters and faults, "matching": {...}}
    POST /pause                the market stops moving (requests are still answered)
    POST /resume               it moves again
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from tradegw.sim.server import VenueSimulator


@dataclass(frozen=True, slots=True)
class VenueOrderView:
    """One order as the venue has it, in the terms a client can compare with its own."""

    client_order_id: str | None
    order_id: str
    symbol: str
    """The market's name of the pair (``BTC-USD``)."""
    status: str
    """A :class:`~tradegw.sim.matching.SimOrderStatus` value (``new``, ``filled``, ...)."""
    filled: Decimal
    """Filled quantity in the pair's units (not fixed-point)."""
    fills: tuple[str, ...]
    """The execution ids of its fills, oldest first."""

    def as_json(self) -> dict[str, Any]:
        """The view as plain JSON data (``filled`` as decimal text)."""
        return {
            "client_order_id": self.client_order_id,
            "order_id": self.order_id,
            "symbol": self.symbol,
            "status": self.status,
            "filled": format(self.filled, "f"),
            "fills": list(self.fills),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VenueOrderView:
        """The view :meth:`as_json` wrote.

        Raises:
            KeyError, TypeError, ArithmeticError: not such a view.
        """
        return cls(
            client_order_id=data["client_order_id"],
            order_id=str(data["order_id"]),
            symbol=str(data["symbol"]),
            status=str(data["status"]),
            filled=Decimal(data["filled"]),
            fills=tuple(str(f) for f in data["fills"]),
        )


def venue_orders(sim: VenueSimulator[Any], account: str) -> list[VenueOrderView]:
    """Every order of ``account`` at ``sim`` (open or closed, oldest first) with its fills."""
    engine = sim.matching
    out = []
    for order in engine.orders(account):
        qty_precision = sim.market.pairs[order.symbol].info.qty_precision
        out.append(
            VenueOrderView(
                client_order_id=order.client_order_id,
                order_id=order.order_id,
                symbol=order.symbol,
                status=order.status.value,
                filled=Decimal(order.filled).scaleb(-qty_precision),
                fills=tuple(f.exec_id for f in engine.fills(order.order_id)),
            )
        )
    return out


def trading_stats(sim: VenueSimulator[Any]) -> dict[str, Any]:
    """The simulator's counters (with ``faults``) and its matching engine's
    (:class:`~tradegw.sim.matching.MatchingStats`), as plain JSON data."""
    matching = dataclasses.asdict(sim.matching.stats)
    matching["by_reason"] = {str(k): v for k, v in matching["by_reason"].items()}
    return {"sim": sim.stats(), "matching": matching}


class InspectionServer:
    """The inspection endpoints of one simulator on ``host:port`` (0: any free port)."""

    def __init__(self, sim: VenueSimulator[Any], host: str, port: int) -> None:
        self._sim = sim
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""
        """``http://127.0.0.1:PORT`` once started."""

    async def start(self) -> None:
        """Binds the port and serves.

        Raises:
            OSError: the port cannot be bound.
        """
        app = web.Application()
        app.router.add_get("/orders", self._orders)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/pause", self._pause)
        app.router.add_post("/resume", self._resume)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self.url = f"http://{self._host}:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stops serving. Safe to call twice."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _orders(self, request: web.Request) -> web.Response:
        account = request.query.get("account")
        if not account:
            return _json({"error": "name the account: /orders?account=NAME"}, 400)
        if account not in self._sim.accounts:
            return _json({"error": f"no account {account[:64]!r}"}, 404)
        return _json({"orders": [o.as_json() for o in venue_orders(self._sim, account)]})

    async def _stats(self, _request: web.Request) -> web.Response:
        return _json(trading_stats(self._sim))

    async def _pause(self, _request: web.Request) -> web.Response:
        self._sim.pause()
        return _json({"paused": True})

    async def _resume(self, _request: web.Request) -> web.Response:
        self._sim.resume()
        return _json({"paused": False})


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
