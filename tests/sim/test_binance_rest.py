"""Request weights on the Binance simulator's REST side: the used-weight headers, 429 when a
window's weight is spent, 418 for requests during the back-off, and the injected HTTP faults
in the venue's words."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tradegw.sim.binance import BinanceFaultPlan, BinanceSimConfig, BinanceSimulator
from tradegw.sim.binance.rest import depth_weight
from tradegw.sim.binance.weights import WeightLimiter
from tradegw.sim.faults import FaultSpec

pytestmark = pytest.mark.timeout(30)


async def _get(
    session: aiohttp.ClientSession, url: str, **params: str
) -> tuple[int, dict[str, str], object]:
    async with session.get(url, params=params) as resp:
        return resp.status, dict(resp.headers), await resp.json(content_type=None)


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimulator]:
    config = BinanceSimConfig(
        pairs=["BTCUSDT"], rate=0, weight_limit=60, weight_window_s=1.5, ban_s=1.0
    )
    async with BinanceSimulator(config) as s:
        yield s


def test_depth_weights_follow_the_documented_limits() -> None:
    assert [depth_weight(n) for n in (1, 100, 101, 500, 501, 1000, 1001, 5000)] == [
        5, 5, 25, 25, 50, 50, 250, 250,
    ]  # fmt: skip


async def test_every_answer_reports_the_weight_used_in_the_window(sim: BinanceSimulator) -> None:
    url = sim.rest_url
    async with aiohttp.ClientSession() as session:
        window = sim.config.weight_window_s
        steps = [
            ("/api/v3/time", {}, 1),
            ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "500"}, 25),
            ("/api/v3/exchangeInfo", {}, 20),
        ]
        # On a loaded machine the window may roll over mid-sequence (its count starts again
        # below what we expect): that attempt proves nothing, so it starts over.
        for _ in range(5):
            # Start with the first request of a window, so the whole sequence falls in one.
            while True:
                status, headers, _ = await _get(session, f"{url}/api/v3/ping")
                used = int(headers["X-MBX-USED-WEIGHT-1M"])
                if used == 1:
                    break
                await asyncio.sleep(window / 10)
            expected = used
            rolled = False
            for path, params, weight in steps:
                status, headers, _ = await _get(session, url + path, **params)
                expected += weight
                assert status == 200
                assert headers["X-MBX-USED-WEIGHT-1M"] == headers["X-MBX-USED-WEIGHT"]
                got = int(headers["X-MBX-USED-WEIGHT-1M"])
                if got < expected and got <= weight:
                    rolled = True
                    break
                assert got == expected
            if not rolled:
                return
        pytest.fail("the weight window rolled over in every attempt")


async def test_429_when_the_weight_is_spent_then_418_for_requests_that_keep_coming(
    sim: BinanceSimulator,
) -> None:
    depth = f"{sim.rest_url}/api/v3/depth"
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(4):
            status, headers, body = await _get(session, depth, symbol="BTCUSDT", limit="500")
            statuses.append(status)
            if status == 429:
                assert isinstance(body, dict)
                assert body["code"] == -1003
                assert "request weight" in str(body["msg"])
                retry_after = int(headers["Retry-After"])
                assert 1 <= retry_after <= 2
                break
        assert statuses[-1] == 429, statuses
        status, headers, body = await _get(session, f"{sim.rest_url}/api/v3/ping")
        assert status == 418
        assert isinstance(body, dict)
        assert body["code"] == -1003
        assert "IP banned until" in str(body["msg"])
        assert headers["Retry-After"] == "1"
        # Honouring the ban and the window: served again.
        await asyncio.sleep(1.6)
        for _ in range(20):
            status, _, _ = await _get(session, f"{sim.rest_url}/api/v3/ping")
            if status == 200:
                break
            await asyncio.sleep(0.3)
        assert status == 200
    stats = sim.stats()
    assert stats["refused_429"] == 1
    assert stats["refused_418"] >= 1


def test_the_limiter_counts_per_ip_and_forgets_at_the_next_window() -> None:
    limiter = WeightLimiter(limit=10, window_s=60.0, ban_s=120.0)
    assert limiter.charge("a", 6, 60.0).status == 200
    assert limiter.charge("b", 6, 61.0).status == 200  # another IP, another ledger
    verdict = limiter.charge("a", 6, 62.0)
    assert (verdict.status, verdict.used, verdict.retry_after) == (429, 12, 58)
    banned = limiter.charge("a", 1, 63.0)
    assert (banned.status, banned.retry_after) == (418, 120)
    assert limiter.charge("a", 1, 150.0).status == 418  # still banned in the next window
    assert limiter.charge("a", 1, 184.0).status == 200
    assert limiter.used("a", 184.5) == 1


@pytest.mark.parametrize(
    ("kind", "status", "code"), [("http_429", 429, -1003), ("http_5xx", 503, -1001)]
)
async def test_injected_http_faults_answer_in_binances_words(
    kind: str, status: int, code: int
) -> None:
    plan = BinanceFaultPlan(faults=[FaultSpec(kind=kind, after_messages=[1], max_count=1)])
    async with (
        BinanceSimulator(BinanceSimConfig(pairs=1, rate=0, faults=plan)) as sim,
        aiohttp.ClientSession() as session,
    ):
        url = f"{sim.rest_url}/api/v3/time"
        first = await _get(session, url)
        second = await _get(session, url)
        third = await _get(session, url)
    assert first[0] == third[0] == 200
    assert second[0] == status
    assert isinstance(second[2], dict)
    assert second[2]["code"] == code
    assert "X-MBX-USED-WEIGHT-1M" in second[1]
    assert ("Retry-After" in second[1]) == (kind == "http_429")
    assert sim.stats()["faults"][kind] == 1
