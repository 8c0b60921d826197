"""Kraken's private REST API for the order adapter: signed, one call at a time, never retried.

Each call is ``POST /0/private/<Method>`` with a form-encoded body that starts with the
nonce, an ``API-Key`` header and the ``API-Sign`` of :func:`~.signing.api_sign`. Calls go
out one after another (a gate around nonce, signature and request): Kraken refuses a nonce
below one it has already seen, so two calls racing on two connections could have the
later nonce arrive first and the earlier call refused. An ``urgent`` call (the token a
reconnect waits for) goes ahead of the calls waiting at the gate, so a reconnect is not
queued behind a wave of queries.

Nothing here retries. The order adapter only uses these calls for what may be asked again
(the token, queries, trade lists); the order entry decides when. Every failure is raised as
:class:`~tradegw.errors.VenueUnavailable` (no answer, HTTP 5xx, ``EService``,
``EGeneral:Internal error``, an unreadable body) or :class:`KrakenApiError` (the venue's
``error[]``: its words). Neither message ever carries the key, the secret, the signature or
a token: only the method, the HTTP status and the venue's error strings.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp

from tradegw.errors import VenueUnavailable
from tradegw.orders.credentials import VenueCredentials
from tradegw.providers.base.decode import FrameError, decode_exact
from tradegw.providers.kraken.signing import NonceSource, api_sign

log = logging.getLogger("tradegw.orders.kraken")

_NONCE_SKIP_US: Final = 1_000_000
"""How far the nonce jumps after ``EAPI:Invalid nonce`` (another user of the key, or a
previous process, was ahead of the clock)."""

_UNAVAILABLE_PREFIXES: Final = ("EService:", "EGeneral:Internal error", "EAPI:Rate limit")
"""Errors that say "not now" rather than "no": asked again later."""


class KrakenApiError(Exception):
    """The venue answered a private call with ``error[]`` (its words are the message)."""

    def __init__(self, method: str, errors: list[str]) -> None:
        super().__init__(f"{method}: {', '.join(errors)}")
        self.errors = errors


class _Gate:
    """A mutex whose waiters go in by priority (lower first), then in arrival order."""

    def __init__(self) -> None:
        self._busy = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @contextlib.asynccontextmanager
    async def hold(self, priority: int) -> AsyncIterator[None]:
        if self._busy or self._waiters:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (priority, next(self._arrivals), fut))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release()  # handed over just as we gave up: pass it on
                raise
        self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)  # still busy: the waiter holds it now
                return
        self._busy = False


class KrakenPrivateRest:
    """Signed calls for one key; create it inside the event loop, :meth:`close` it after."""

    def __init__(self, base_url: str, credentials: VenueCredentials, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._nonces = NonceSource()
        self._gate = _Gate()
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0

    def __repr__(self) -> str:
        return f"KrakenPrivateRest({self.base_url!r})"

    async def call(
        self, method: str, params: Mapping[str, str] | None = None, *, urgent: bool = False
    ) -> Any:
        """The ``result`` of ``method`` (numbers as their exact text); ``urgent`` calls go
        ahead of those waiting.

        Raises:
            KrakenApiError: the venue refused the call (its ``error[]``).
            VenueUnavailable: no usable answer (timeout, connection, 5xx, ``EService``...).
        """
        path = f"/0/private/{method}"
        async with self._gate.hold(0 if urgent else 1):
            nonce = str(self._nonces.next())
            body = urlencode({"nonce": nonce, **(params or {})})
            headers = {
                "API-Key": self._credentials.api_key.reveal(),
                "API-Sign": api_sign(self._credentials.api_secret.reveal(), path, nonce, body),
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            }
            self.calls += 1
            try:
                session = self._ensure_session()
                async with session.post(self.base_url + path, data=body, headers=headers) as r:
                    status = r.status
                    raw = await r.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                # The exception's text names the URL at most (aiohttp never shows headers).
                raise VenueUnavailable(f"kraken {method}: {type(e).__name__}") from None
        if status >= 500:
            raise VenueUnavailable(f"kraken {method}: HTTP {status}")
        try:
            answer = decode_exact(raw)
        except FrameError:
            raise VenueUnavailable(f"kraken {method}: HTTP {status}, not JSON") from None
        errors = answer.get("error") if isinstance(answer, dict) else None
        if not isinstance(errors, list):
            raise VenueUnavailable(f"kraken {method}: HTTP {status}, no error list")
        texts = [str(e) for e in errors]
        if any(t.startswith("E") for t in texts):
            if "EAPI:Invalid nonce" in texts:
                self._nonces.skip(_NONCE_SKIP_US)
                raise VenueUnavailable(f"kraken {method}: EAPI:Invalid nonce")
            if any(t.startswith(_UNAVAILABLE_PREFIXES) for t in texts):
                raise VenueUnavailable(f"kraken {method}: {', '.join(texts)}")
            raise KrakenApiError(method, texts)
        if status >= 400 or "result" not in answer:
            raise VenueUnavailable(f"kraken {method}: HTTP {status}, no result")
        return answer["result"]

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        """Closes the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


__all__ = ["KrakenApiError", "KrakenPrivateRest"]
