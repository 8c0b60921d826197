"""``tradegw order`` in a process of its own against a running gateway (the fake order
venue registered): submit, status, list, cancel over the control socket, the exit statuses,
and a submit repeated with the same id that reaches the venue once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
import pytest

from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.fake import FakeOrderVenue

pytestmark = pytest.mark.timeout(90)


async def order_cmd(addr: Path, *args: str) -> tuple[int, dict[str, object] | str]:
    """``tradegw order --address-file addr ARGS``: status and the Ack (or the raw output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradegw",
        "order",
        "--address-file",
        str(addr),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    try:
        return proc.returncode, orjson.loads(out)
    except orjson.JSONDecodeError:
        return proc.returncode, (out + err).decode()


async def test_tradegw_order_against_a_running_gateway(tmp_path: Path) -> None:
    addr = tmp_path / "control.addr"
    config = GatewayConfig.model_validate(
        {
            "control": {"port": 0, "address_path": str(addr)},
            "orders": {"ledger_path": str(tmp_path / "orders.sqlite")},
            "telemetry": {"dlq_path": None},
        }
    )
    gw = Gateway(config)
    venue = FakeOrderVenue()
    gw.register_order_venue("fake", venue)
    await gw.start()
    submit = (
        "submit", "--venue", "fake", "--symbol", "BTC-USD", "--side", "buy",
        "--type", "limit", "--qty", "0.001", "--price", "40000.0",
        "--client-order-id", "cli-1", "--decision-id", "d-cli",
    )  # fmt: skip
    try:
        code, ack = await order_cmd(addr, *submit)
        assert code == 0, ack
        assert isinstance(ack, dict)
        order = ack["order"]
        assert isinstance(order, dict)
        assert (order["client_order_id"], order["state"], order["duplicate"]) == (
            "cli-1",
            "ACK",
            False,
        )
        # The same command again (a retry after a timeout): answered from the ledger.
        code, ack = await order_cmd(addr, *submit)
        assert code == 0, ack
        assert isinstance(ack, dict)
        assert ack["order"]["duplicate"] is True  # type: ignore[index]
        assert venue.calls["place"] == 1

        code, ack = await order_cmd(addr, "status", "cli-1")
        assert code == 0, ack
        assert ack["order"]["decision_id"] == "d-cli"  # type: ignore[index]
        code, ack = await order_cmd(addr, "list", "--open")
        assert code == 0, ack
        assert [o["client_order_id"] for o in ack["orders"]] == ["cli-1"]  # type: ignore[index]
        code, ack = await order_cmd(addr, "cancel", "cli-1")
        assert code == 0, ack
        assert ack["order"]["state"] == "CANCELLED"  # type: ignore[index]
        assert gw.order("cli-1") is not None
        assert gw.order("cli-1").state == "CANCELLED"  # type: ignore[union-attr]

        # A rejected order: exit 1, the Ack says why.
        code, ack = await order_cmd(
            addr, "submit", "--venue", "fake", "--symbol", "BTC-USD", "--side", "buy",
            "--type", "limit", "--qty", "0.001", "--price", "40000.05",
        )  # fmt: skip
        assert code == 1, ack
        assert ack["order"]["state"] == "REJECTED"  # type: ignore[index]
        assert "price_increment" in ack["order"]["reason"]  # type: ignore[index]
        # A refused message: exit 1 with the error.
        code, ack = await order_cmd(addr, "status", "never-seen")
        assert code == 1, ack
        assert "no order with client_order_id" in ack["error"]  # type: ignore[index]
    finally:
        await gw.stop()
    code, out = await order_cmd(addr, "list")
    assert code == 2, out
    assert "no gateway address" in str(out)
