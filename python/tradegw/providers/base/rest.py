"""One REST client for every venue: retries, ``Retry-After``, request weights, typed errors.

Every call spends its request weight from a shared ``_core.TokenBucket`` sized to what the
venue allows per minute, so the adapter slows itself down before the venue has to. Venues
that report the weight used so far (Binance's ``X-MBX-USED-WEIGHT-1M``) correct the bucket
from that header, since other clients on the same IP spend the same budget. Rate limits (429,
Binance's 418 ban) and server errors (5xx) are retried with backoff, honouring
``Retry-After`` up to a cap; a body that is not JSON is an error, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from tradegw._core import TokenBucket
from tradegw.errors import AdapterError
from tradegw.providers.base.config import RestPolicy
from tradegw.telemetry import Counters

log = logging.getLogger("tradegw.providers.rest")


class RestError(AdapterError):
    """A REST call failed for good (a client error, or an answer of the wrong shape)."""


class RestUnavailable(RestError):
    """A REST call kept failing after every retry."""


class RestClient:
    """Calls one venue's REST API; create it inside the event loop, :meth:`close` it after."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        counters: Counters,
        policy: RestPolicy,
        *,
        used_weight_header: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._counters = counters
        self._used_weight_header = used_weight_header
        self._rng = rng or random.Random()
        limit = policy.weight_per_minute
        self.bucket = TokenBucket(limit / 60.0, limit)
        self._session: aiohttp.ClientSession | None = None

    async def get_json(
        self, path: str, params: Mapping[str, str | int] | None = None, *, weight: float = 1.0
    ) -> Any:
        """GETs ``path`` and returns its JSON body (numbers as orjson reads them).

        Raises:
            RestUnavailable: every attempt failed (network, timeouts, 429/418, 5xx).
            RestError: the venue refused the request (other 4xx) or sent no JSON.
        """
        policy = self.policy
        url = self.base_url + path
        delay = policy.initial_backoff_s
        weight = min(weight, self.bucket.burst)
        session = self._ensure_session()
        for attempt in range(1, policy.attempts + 1):
            wait = self.bucket.time_until(weight)
            if wait > 0:
                self._counters.inc("rest_throttled", self.venue)
                await asyncio.sleep(wait)
            self.bucket.try_acquire(weight)
            self._counters.inc("rest_weight", self.venue, by=round(weight))
            try:
                async with session.get(url, params=params) as resp:
                    self._note_used_weight(resp.headers)
                    status = resp.status
                    if status in (418, 429) or status >= 500:
                        self._counters.inc("rest_retries", self.venue, str(status))
                        wait = self._retry_after(resp.headers, delay)
                        log.warning(
                            "%s REST %s: HTTP %s; retry in %.2fs", self.venue, path, status, wait
                        )
                        await asyncio.sleep(wait)
                        delay = min(delay * 2, policy.max_retry_after_s)
                        continue
                    body = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as e:
                self._counters.inc("rest_retries", self.venue, type(e).__name__)
                log.warning(
                    "%s REST %s failed (%s); attempt %d/%d",
                    self.venue,
                    path,
                    e,
                    attempt,
                    policy.attempts,
                )
                await asyncio.sleep(delay * (1 + self._rng.uniform(-0.2, 0.2)))
                # Doubling, but never past what a venue's own Retry-After may ask for.
                delay = min(delay * 2, policy.max_retry_after_s)
                continue
            if status >= 400:
                self._counters.inc("rest_errors", self.venue, str(status))
                raise RestError(f"{self.venue} REST {path}: HTTP {status}: {body[:200]!r}")
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError as e:
                self._counters.inc("rest_errors", self.venue, "json")
                raise RestError(f"{self.venue} REST {path}: not JSON ({e}): {body[:80]!r}") from e
        raise RestUnavailable(f"{self.venue} REST {path} failed {policy.attempts} times")

    def _retry_after(self, headers: Mapping[str, str], fallback: float) -> float:
        raw = headers.get("Retry-After", "")
        wait = float(raw) if raw.isdigit() else fallback
        if wait > self.policy.max_retry_after_s:
            # A ban (418) can last days; the adapter retries sooner and is told again.
            self._counters.inc("rest_retry_after_capped", self.venue)
        return min(wait, self.policy.max_retry_after_s)

    def _note_used_weight(self, headers: Mapping[str, str]) -> None:
        if self._used_weight_header is None:
            return
        raw = headers.get(self._used_weight_header, "")
        if not raw.isdigit():
            return
        left = self.bucket.burst - int(raw)
        excess = self.bucket.tokens() - max(left, 0.0)
        if excess > 0:
            # The venue counts weight we did not see being spent (other clients on this IP,
            # or calls before a restart): spend it here too.
            self.bucket.try_acquire(min(excess, self.bucket.burst))

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.policy.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        """Closes the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
