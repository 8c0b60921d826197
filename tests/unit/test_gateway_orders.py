"""Orders through the gateway: gw.submit/cancel/order/orders, the control messages
SubmitOrder, CancelOrder, OrderStatus and ListOrders (Acks with an ``order`` payload), the
trading switch set over the control bus, ExecReports reaching a consumer, a restart on the
same ledger, and the ``tradegw order`` command line's messages."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit._orders import best
from tradegw.config import GatewayConfig
from tradegw.errors import OrderRefused
from tradegw.gateway import Gateway
from tradegw.orders import cli as order_cli
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport, ExecState

pytestmark = pytest.mark.timeout(30)


def make_gateway(tmp_path: Path, venue: FakeOrderVenue) -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "control": {"state_path": str(tmp_path / "state.sqlite")},
            "orders": {"ledger_path": str(tmp_path / "orders.sqlite"), "request_timeout_s": 1},
            "telemetry": {"dlq_path": None},
        }
    )
    gw = Gateway(config)
    gw.register_order_venue("fake", venue)
    return gw


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    g = make_gateway(tmp_path, FakeOrderVenue())
    await g.start()
    yield g
    await g.stop()


def order(**fields: Any) -> dict[str, Any]:
    return {
        "venue": "fake",
        "symbol": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "qty": "0.001",
        "price": "40000.0",
        **fields,
    }


async def test_submit_cancel_and_read_orders_through_the_gateway(gw: Gateway) -> None:
    sub = gw.subscribe(types=["ExecReport"])
    venue = gw.order_entry.venue("fake")
    assert isinstance(venue, FakeOrderVenue)
    bid, _ = best(venue, "BTC-USD")
    h = await gw.submit(order(price=bid, client_order_id="gw-1", decision_id="d-1"))
    assert h.state is OrderState.ACK
    assert gw.order("gw-1") == h.record
    await gw.cancel("gw-1")
    assert h.state is OrderState.CANCELLED
    assert [o.client_order_id for o in gw.orders()] == ["gw-1"]
    assert gw.orders(open_only=True) == []
    got = [await anext(sub), await anext(sub)]
    assert all(isinstance(e, ExecReport) for e in got)
    assert [(e.state, e.seq_provider) for e in got if isinstance(e, ExecReport)] == [
        (ExecState.ACK, 1),
        (ExecState.CANCELLED, 2),
    ]
    with pytest.raises(ValidationError, match="qty"):
        await gw.submit(order(qty=1))


async def test_the_switch_set_on_the_control_bus_is_what_orders_meet(gw: Gateway) -> None:
    ack = gw.control({"type": "SetTradingMode", "mode": "disabled"})
    assert ack.ok
    h = await gw.submit(order())
    assert (h.state, h.record.reason) == (OrderState.REJECTED, "trading_disabled")
    with pytest.raises(OrderRefused):
        await gw.cancel(h.client_order_id)
    gw.control({"type": "SetTradingMode", "mode": "enabled"})
    h2 = await gw.submit(order())
    assert h2.state is OrderState.ACK


async def test_order_messages_answer_with_the_order(gw: Gateway) -> None:
    ack = await gw.control_async(
        {"type": "SubmitOrder", "request_id": "r1", "order": order(client_order_id="m-1")}
    )
    assert ack.ok, ack.error
    assert (ack.type, ack.request_id) == ("SubmitOrder", "r1")
    assert ack.order is not None
    assert (ack.order["client_order_id"], ack.order["state"]) == ("m-1", "ACK")
    assert ack.order["duplicate"] is False
    again = await gw.control_async({"type": "SubmitOrder", "order": order(client_order_id="m-1")})
    assert again.order is not None
    assert again.order["duplicate"] is True
    status = gw.control({"type": "OrderStatus", "client_order_id": "m-1"})
    assert status.ok
    assert status.order is not None
    assert (status.order["state"], status.order["fills"]) == ("ACK", [])
    listing = gw.control({"type": "ListOrders", "venue": "fake", "open_only": True})
    assert listing.orders is not None
    assert [o["client_order_id"] for o in listing.orders] == ["m-1"]
    cancelled = await gw.control_async({"type": "CancelOrder", "client_order_id": "m-1"})
    assert cancelled.order is not None
    assert cancelled.order["state"] == "CANCELLED"
    # A generated id comes back in the Ack.
    fresh = await gw.control_async({"type": "SubmitOrder", "order": order()})
    assert fresh.order is not None
    assert len(fresh.order["client_order_id"]) == 32


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"type": "OrderStatus", "client_order_id": "nope"}, "no order with client_order_id"),
        ({"type": "CancelOrder", "client_order_id": "nope"}, "no order with client_order_id"),
        ({"type": "SubmitOrder", "order": order(qty=0.5)}, "order.qty"),
        ({"type": "SubmitOrder", "order": order(price=None)}, "price is required"),
        ({"type": "ListOrders", "limit": 0}, "limit"),
        ({"type": "OrderStatus", "client_order_id": "has space"}, "client_order_id"),
    ],
)
async def test_bad_order_messages_get_error_acks(
    gw: Gateway, message: dict[str, Any], words: str
) -> None:
    ack = await gw.control_async(message)
    assert not ack.ok
    assert ack.error is not None
    assert words in ack.error
    assert ack.type == message["type"]


async def test_the_synchronous_path_refuses_messages_that_wait_for_a_venue(gw: Gateway) -> None:
    ack = gw.control({"type": "SubmitOrder", "order": order()})
    assert not ack.ok
    assert ack.error is not None
    assert "control_async" in ack.error
    assert gw.orders() == []


async def test_a_restarted_gateway_knows_its_orders(tmp_path: Path) -> None:
    venue = FakeOrderVenue()
    first = make_gateway(tmp_path, venue)
    await first.start()
    h = await first.submit(order(client_order_id="keep-1"))
    assert h.state is OrderState.ACK
    await first.stop()
    second = make_gateway(tmp_path, venue)
    await second.start()
    try:
        again = await second.submit(order(client_order_id="keep-1"))
        assert again.duplicate
        assert venue.calls["place"] == 1
        await second.cancel("keep-1")
        # Numbering carries on after the restart.
        assert second.order_ledger.last_seq("fake", "BTC-USD") == 2
    finally:
        await second.stop()


def test_a_venue_is_registered_under_its_own_name(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, FakeOrderVenue())
    with pytest.raises(ValueError, match="registered as 'other'"):
        gw.register_order_venue("other", FakeOrderVenue())
    gw.order_ledger.close()
    gw.control_store.close()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    order_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["order", *argv])


def test_the_command_line_builds_the_messages() -> None:
    assert order_cli.message_of(
        parse(
            "submit", "--venue", "fake", "--symbol", "BTC-USD", "--side", "sell",
            "--type", "limit", "--qty", "0.5", "--price", "100.5", "--post-only",
            "--client-order-id", "c-1", "--decision-id", "d-2",
        )
    ) == {
        "type": "SubmitOrder",
        "order": {
            "venue": "fake",
            "symbol": "BTC-USD",
            "side": "sell",
            "type": "limit",
            "qty": "0.5",
            "price": "100.5",
            "post_only": True,
            "client_order_id": "c-1",
            "decision_id": "d-2",
        },
    }  # fmt: skip
    market = order_cli.message_of(
        parse("submit", "--venue", "fake", "--symbol", "X", "--side", "buy", "--type", "market",
              "--qty", "1", "--tif", "FOK")
    )  # fmt: skip
    assert market["order"] == {
        "venue": "fake",
        "symbol": "X",
        "side": "buy",
        "type": "market",
        "qty": "1",
        "time_in_force": "FOK",
    }
    assert order_cli.message_of(parse("cancel", "c-1")) == {
        "type": "CancelOrder",
        "client_order_id": "c-1",
    }
    assert order_cli.message_of(parse("status", "c-1"))["type"] == "OrderStatus"
    assert order_cli.message_of(parse("list", "--open", "--venue", "fake", "--limit", "5")) == {
        "type": "ListOrders",
        "venue": "fake",
        "open_only": True,
        "limit": 5,
    }
    assert parse("status", "x").timeout == order_cli.SUBMIT_TIMEOUT_S
