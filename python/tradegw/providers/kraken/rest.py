"""Kraken public REST, used at start-up for reference data: ``/0/public/AssetPairs``.

The WebSocket ``instrument`` channel is the authority for precisions (the checksum depends on
them); AssetPairs lets the provider check its configured symbols before it connects and
cross-check the precisions. Rate limits (429) and server errors (5xx) are retried with
backoff, honouring ``Retry-After``; the provider goes on without REST if it stays down.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import aiohttp

from tradegw.telemetry import Counters

log = logging.getLogger("tradegw.providers.kraken.rest")

# Kraken's REST names some assets the old way; WebSocket v2 uses the common codes.
_V2_ASSET = {"XBT": "BTC", "XDG": "DOGE"}


def v2_symbol(wsname: str) -> str:
    """AssetPairs ``wsname`` (``XBT/USD``) → WebSocket v2 symbol (``BTC/USD``)."""
    base, _, quote = wsname.partition("/")
    return f"{_V2_ASSET.get(base, base)}/{_V2_ASSET.get(quote, quote)}"


class RestUnavailable(Exception):
    """REST kept failing after every retry."""


async def fetch_asset_pairs(
    rest_url: str,
    counters: Counters,
    *,
    attempts: int = 5,
    initial_backoff_s: float = 0.2,
    rng: random.Random | None = None,
) -> dict[str, tuple[int, int]]:
    """``{v2 symbol: (pair_decimals, lot_decimals)}`` from AssetPairs, with retries."""
    rng = rng or random.Random()
    url = rest_url.rstrip("/") + "/0/public/AssetPairs"
    delay = initial_backoff_s
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(1, attempts + 1):
            try:
                async with session.get(url) as resp:
                    if resp.status == 429 or resp.status >= 500:
                        counters.inc("rest_retries", "kraken", str(resp.status))
                        retry_after = resp.headers.get("Retry-After")
                        wait = (
                            float(retry_after) if retry_after and retry_after.isdigit() else delay
                        )
                        log.warning(
                            "kraken REST %s: HTTP %s; retry in %.2fs", url, resp.status, wait
                        )
                        await asyncio.sleep(min(wait, 10.0))
                        delay *= 2
                        continue
                    body: Any = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as e:
                counters.inc("rest_retries", "kraken", type(e).__name__)
                log.warning("kraken REST %s failed (%s); attempt %d/%d", url, e, attempt, attempts)
                await asyncio.sleep(delay * (1 + rng.uniform(-0.2, 0.2)))
                delay *= 2
                continue
            if not isinstance(body, dict) or body.get("error"):
                raise RestUnavailable(f"AssetPairs answered {str(body)[:200]}")
            out: dict[str, tuple[int, int]] = {}
            for info in (body.get("result") or {}).values():
                wsname = info.get("wsname")
                if wsname:
                    out[v2_symbol(wsname)] = (int(info["pair_decimals"]), int(info["lot_decimals"]))
            return out
    raise RestUnavailable(f"AssetPairs failed {attempts} times")
