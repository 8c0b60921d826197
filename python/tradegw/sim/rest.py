"""What every venue's REST app shares: request counting and HTTP fault injection."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from tradegw.sim.faults import FaultInjector, FaultSpec
from tradegw.sim.stats import SimStats


def fault_middleware(
    stats: SimStats,
    injector: FaultInjector | None,
    refuse: Callable[[FaultSpec], web.StreamResponse],
) -> Middleware:
    """A middleware that counts every request and answers the ``http_429``/``http_5xx``
    faults that fire with ``refuse(spec)``, the venue's error response."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        stats.rest_requests += 1
        if injector is not None:
            fault = injector.http_fault()
            if fault is not None:
                return refuse(fault)
        return await handler(request)

    return middleware
