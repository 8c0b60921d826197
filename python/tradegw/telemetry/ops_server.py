"""The gateway's ops HTTP server (aiohttp, on the gateway's event loop): ``/metrics`` in
the Prometheus text format and ``/healthz``.

Bound to 127.0.0.1 unless ``ops.host`` says otherwise: the metrics name venues, symbols and
consumers, nothing for the open network.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tradegw.telemetry.health import health
from tradegw.telemetry.prometheus import metrics_registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from tradegw.gateway import Gateway

__all__ = ["OpsServer"]

log = logging.getLogger("tradegw.ops")

_SHUTDOWN_S = 0.5


class OpsServer:
    """Serves ``/metrics`` and ``/healthz`` for one gateway."""

    def __init__(self, gw: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self._gw = gw
        self.host = host
        self.port = port
        self.registry: CollectorRegistry = metrics_registry(gw)
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None
        """``(host, port)`` once listening (the port chosen when 0 was asked for)."""

    @property
    def url(self) -> str:
        """``http://host:port`` (empty before :meth:`start`)."""
        if self.address is None:
            return ""
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self) -> tuple[str, int]:
        """Listens; returns the address."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        # A scrape in flight gets half a second at shutdown: the run's whole stop has 1 s.
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.address = (str(host), int(port))
        log.info("ops server on %s (/metrics, /healthz)", self.url)
        return self.address

    async def stop(self) -> None:
        """Stops listening (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = health(self._gw)
        return web.json_response(body, status=200 if healthy else 503)
