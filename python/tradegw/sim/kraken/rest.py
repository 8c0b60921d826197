"""The REST endpoints a Kraken client fetches at start, served by aiohttp.

``/0/public/Time``, ``SystemStatus``, ``Assets``, ``AssetPairs`` and ``Depth`` answer in Kraken's
envelope ``{"error": [...], "result": {...}}``; GET and POST both work, as on the venue. The
private endpoints (``/0/private/...``) are :class:`tradegw.sim.kraken.trading.KrakenTrading`'s.
Numbers in REST answers are strings where Kraken uses strings (prices, volumes, ``ordermin``)
and fixed-point renderings where it uses numbers (fee schedules).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from tradegw.sim.faults import FaultInjector, FaultSpec
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo
from tradegw.sim.kraken.trading import KrakenTrading
from tradegw.sim.kraken.wire import trimmed
from tradegw.sim.market import Market
from tradegw.sim.rest import fault_middleware
from tradegw.sim.stats import SimStats
from tradegw.sim.wire import Num, dumps, fixed, rfc3339_us

_DEPTH_MAX = 500
_DEPTH_DEFAULT = 100
# Kraken's published tiered fee schedule (volume in USD, fee in percent).
_FEES = ((0, "0.4"), (10000, "0.35"), (50000, "0.24"), (100000, "0.22"), (250000, "0.2"))
_FEES_MAKER = ((0, "0.25"), (10000, "0.2"), (50000, "0.14"), (100000, "0.12"), (250000, "0.1"))


def _answer(result: object = None, errors: Sequence[str] = (), status: int = 200) -> web.Response:
    body = {"error": list(errors)} if errors else {"error": [], "result": result}
    return web.Response(text=dumps(body), status=status, content_type="application/json")


class KrakenRest:
    """The REST side of one simulator run; :attr:`app` is the aiohttp application."""

    def __init__(
        self,
        pairs: Sequence[PairInfo],
        assets: Sequence[AssetInfo],
        market: Market,
        stats: SimStats,
        injector: FaultInjector | None,
        trading: KrakenTrading | None = None,
    ) -> None:
        self._pairs = list(pairs)
        self._assets = list(assets)
        self._market = market
        # Kraken accepts a pair by REST name (XXBTZUSD), altname (XBTUSD), v1 wsname (XBT/USD)
        # or v2 symbol (BTC/USD).
        self._pair_names: dict[str, PairInfo] = {}
        for p in self._pairs:
            for name in (p.rest_name, p.altname, p.wsname, p.symbol):
                self._pair_names.setdefault(name.upper(), p)
        self._asset_names: dict[str, AssetInfo] = {}
        for a in self._assets:
            for name in (a.rest_name, a.altname, a.name):
                self._asset_names.setdefault(name.upper(), a)
        self.app = web.Application(
            middlewares=[fault_middleware(stats, injector, _refuse), self._errors]
        )
        routes = {
            "Time": self._time,
            "SystemStatus": self._system_status,
            "Assets": self._assets_handler,
            "AssetPairs": self._asset_pairs,
            "Depth": self._depth,
        }
        for name, handler in routes.items():
            self.app.router.add_route("GET", f"/0/public/{name}", handler)
            self.app.router.add_route("POST", f"/0/public/{name}", handler)
        if trading is not None:
            trading.add_routes(self.app)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Unknown paths and methods answered in Kraken's envelope."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _answer(errors=["EGeneral:Unknown method"], status=404)
        except web.HTTPMethodNotAllowed:
            return _answer(errors=["EGeneral:Invalid arguments"], status=405)

    @staticmethod
    async def _params(request: web.Request) -> Mapping[str, str]:
        """Query parameters, plus form fields of a POST (Kraken accepts either)."""
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    async def _time(self, request: web.Request) -> web.Response:
        now = time.time()
        return _answer(
            {
                "unixtime": int(now),
                # Kraken's rfc1123 field has a two-digit year: "Sun, 21 Mar 21 14:23:14 +0000".
                "rfc1123": time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now)),
            }
        )

    async def _system_status(self, request: web.Request) -> web.Response:
        stamp = rfc3339_us(time.time_ns()).split(".")[0] + "Z"
        return _answer({"status": "online", "timestamp": stamp})

    async def _assets_handler(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        wanted = params.get("asset")
        assets = self._assets
        if wanted:
            assets = []
            for name in wanted.split(","):
                asset = self._asset_names.get(name.strip().upper())
                if asset is None:
                    return _answer(errors=["EQuery:Unknown asset"])
                assets.append(asset)
        return _answer(
            {
                a.rest_name: {
                    "aclass": "currency",
                    "altname": a.altname,
                    "decimals": a.decimals,
                    "display_decimals": a.display_decimals,
                    "status": "enabled",
                }
                for a in assets
            }
        )

    def _lookup(self, names: str) -> list[PairInfo] | None:
        pairs: list[PairInfo] = []
        for name in names.split(","):
            pair = self._pair_names.get(name.strip().upper())
            if pair is None:
                return None
            pairs.append(pair)
        return pairs

    async def _asset_pairs(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        wanted = params.get("pair")
        pairs = self._pairs if not wanted else self._lookup(wanted)
        if pairs is None:
            return _answer(errors=["EQuery:Unknown asset pair"])
        return _answer({p.rest_name: _asset_pair(p) for p in pairs})

    async def _depth(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        name = params.get("pair")
        if not name:
            return _answer(errors=["EGeneral:Invalid arguments"])
        pairs = self._lookup(name)
        if pairs is None or len(pairs) != 1:
            return _answer(errors=["EQuery:Unknown asset pair"])
        try:
            count = int(params.get("count", _DEPTH_DEFAULT))
        except ValueError:
            return _answer(errors=["EGeneral:Invalid arguments"])
        if not 1 <= count <= _DEPTH_MAX:
            return _answer(errors=["EGeneral:Invalid arguments"])
        pair = pairs[0]
        bids, asks = self._market.top(pair.instrument.name, count)
        now = int(time.time())
        pp, qp = pair.price_precision, pair.qty_precision
        return _answer(
            {
                pair.rest_name: {
                    "asks": [[fixed(p, pp), fixed(q, qp), now] for p, q in asks],
                    "bids": [[fixed(p, pp), fixed(q, qp), now] for p, q in bids],
                }
            }
        )


def _refuse(fault: FaultSpec) -> web.Response:
    """Kraken's answers to the injected HTTP faults."""
    if fault.kind == "http_429":
        return _answer(errors=["EAPI:Rate limit exceeded"], status=429)
    return _answer(errors=["EService:Unavailable"], status=fault.status)


def _asset_pair(p: PairInfo) -> dict[str, object]:
    """One AssetPairs entry, fields in Kraken's order."""
    leverage = [2, 3, 4, 5] if p.marginable else []
    return {
        "altname": p.altname,
        "wsname": p.wsname,
        "aclass_base": "currency",
        "base": p.rest_base,
        "aclass_quote": "currency",
        "quote": p.rest_quote,
        "lot": "unit",
        "cost_decimals": p.cost_precision,
        "pair_decimals": p.price_precision,
        "lot_decimals": p.qty_precision,
        "lot_multiplier": 1,
        "leverage_buy": leverage,
        "leverage_sell": leverage,
        "fees": [[volume, Num(fee)] for volume, fee in _FEES],
        "fees_maker": [[volume, Num(fee)] for volume, fee in _FEES_MAKER],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": trimmed(p.qty_min, p.qty_precision),
        "costmin": trimmed(p.cost_min, p.cost_precision),
        "tick_size": trimmed(1, p.price_precision),
        "status": "online",
    }
