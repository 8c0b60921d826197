"""Order figures in /metrics (per venue and state, never per order) and the console's orders
line, read from them, after real orders through the entry on the fake venue."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from tests.unit._orders import best
from tests.unit.test_gateway_orders import make_gateway, order
from tradegw.config import GatewayConfig
from tradegw.console import LiveConsole
from tradegw.gateway import Gateway
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.states import OrderState
from tradegw.runner import summarize
from tradegw.telemetry.prometheus import UNREGISTERED, metrics_registry

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    g = make_gateway(tmp_path, FakeOrderVenue())
    await g.start()
    yield g
    await g.stop()


def samples(gw: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every ``tradegw_order*`` sample of a scrape, by (name, sorted labels)."""
    text = generate_latest(metrics_registry(gw)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("tradegw_order")
    }


async def trade(gw: Gateway) -> None:
    """One order filled, one cancelled, one left resting, one off tick (refused before
    sending) and one for a venue with no order entry."""
    venue = gw.order_entry.venue("fake")
    assert isinstance(venue, FakeOrderVenue)
    bid, ask = best(venue, "BTC-USD")
    below = str(Decimal(bid) - 50)
    filled = await gw.submit(order(price=ask, time_in_force="IOC"))
    await filled.wait()
    assert filled.state is OrderState.FILLED
    cancelled = await gw.submit(order(price=below, post_only=True))
    await gw.cancel(cancelled.client_order_id)
    assert cancelled.state is OrderState.CANCELLED
    resting = await gw.submit(order(price=below, post_only=True))
    assert resting.state is OrderState.ACK
    off_tick = await gw.submit(order(price=below + "5"))
    assert off_tick.state is OrderState.REJECTED
    nowhere = await gw.submit(order(venue="nowhere"))
    assert nowhere.state is OrderState.REJECTED


async def test_order_metrics_count_per_venue_and_state(gw: Gateway) -> None:
    before = samples(gw)
    assert before[("tradegw_orders_open", (("venue", "fake"),))] == 0
    assert before[("tradegw_orders_placed_total", (("venue", "fake"),))] == 0
    assert ("tradegw_order_last_fill_timestamp_seconds", (("venue", "fake"),)) not in before
    await trade(gw)
    got = samples(gw)

    def state(name: str, venue: str = "fake") -> float:
        return got[("tradegw_order_states_total", (("state", name), ("venue", venue)))]

    assert got[("tradegw_orders_placed_total", (("venue", "fake"),))] == 3  # not the refused
    assert got[("tradegw_orders_open", (("venue", "fake"),))] == 1
    assert state("FILLED") == 1
    assert state("CANCELLED") == 1
    assert state("REJECTED") == 1  # off tick
    assert state("ACK") >= 2
    assert state("EXPIRED") == 0
    assert state("REJECTED", UNREGISTERED) == 1  # a caller's venue name is not a label
    assert not any(dict(labels).get("venue") == "nowhere" for _, labels in got)
    fills = len(gw.fills(gw.orders(limit=None)[-1].client_order_id))
    assert fills >= 1
    assert got[("tradegw_order_fills_total", (("venue", "fake"),))] == fills
    at = got[("tradegw_order_last_fill_timestamp_seconds", (("venue", "fake"),))]
    assert abs(at - time.time()) < 30
    # Bounded labels: venue and state only, never an order id.
    assert {k for _, labels in got for k, _ in labels} <= {"venue", "state"}


async def test_the_console_shows_each_trading_venues_orders(gw: Gateway) -> None:
    await trade(gw)
    live = LiveConsole(gw, [], time.monotonic(), enabled=False)
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(live.render())
    line = next(x for x in out.getvalue().splitlines() if x.lstrip().startswith("orders"))
    assert line.split("last fill")[0].split() == [
        "orders",
        "fake",
        "open",
        "1",
        "placed",
        "3",
        "filled",
        "1",
        "cancelled",
        "1",
        "rejected",
        "1",
        "expired",
        "0",
        "fills",
        str(int(samples(gw)[("tradegw_order_fills_total", (("venue", "fake"),))])),
    ]
    last = gw.order_entry.stats.last_fill["fake"]
    assert f"last fill BTC-USD buy {last.qty} @ {last.price}, " in line
    assert line.rstrip().endswith("s ago")


def test_a_gateway_without_trading_shows_no_orders_line() -> None:
    from tests.unit.test_console import dummy_gateway, text_of

    live = LiveConsole(dummy_gateway(), [], time.monotonic(), enabled=False)
    assert "orders" not in text_of(live)


async def test_the_run_summary_has_the_orders_also_once_the_gateway_stopped(
    tmp_path: Path,
) -> None:
    gw = make_gateway(tmp_path, FakeOrderVenue())
    await gw.start()
    await trade(gw)
    fills = gw.order_entry.stats.venue_fills["fake"]
    open_now = gw.order_entry.open_counts()  # what the runner keeps before the ledger closes
    await gw.stop()
    orders = summarize(gw, [], 1.0, open_orders=open_now)["orders"]
    assert orders == {
        "fake": {
            "placed": 3,
            "filled": 1,
            "cancelled": 1,
            "rejected": 1,
            "expired": 0,
            "fills": fills,
            "open": 1,
        }
    }
    # A gateway that never traded has no orders to show, stopped or not (tradegw verify
    # summarises after the stop).
    idle = Gateway(GatewayConfig.model_validate({"telemetry": {"dlq_path": None}}))
    await idle.start()
    await idle.stop()
    assert summarize(idle, [], 1.0)["orders"] == {}
