"""The control bus over NATS: the same messages and Acks as in process and on the socket,
bad messages answered with an error Ack, and ``tradegw ctl --nats``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import orjson
import pytest

from tests.natsbus.rig import Sims, gateway
from tests.natsbus.server import NatsServer
from tradegw.bus.control import MAX_MESSAGE_BYTES
from tradegw.bus.messages import Ack
from tradegw.gateway import Gateway
from tradegw.natsbus.control_client import request

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def gw(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Gateway]:
    g = gateway(Sims(), nats_server, tmp_path, venues=False)
    await g.start()
    assert g.nats is not None
    await g.nats.wait_connected(10)
    yield g
    await g.stop()


async def test_control_messages_over_nats_get_the_buses_acks(
    gw: Gateway, nats_server: NatsServer
) -> None:
    ack = await request(nats_server.url, {"type": "SetTradingMode", "mode": "cancel_only"}, 5)
    assert ack.ok
    assert ack.trading_mode == "cancel_only"
    assert gw.trading_mode == "cancel_only"
    ack = await request(
        nats_server.url, {"type": "Subscribe", "consumer": "a", "types": ["Trade"]}, 5
    )
    assert ack.ok
    assert ack.subscription_id
    assert gw.find_consumer("a") is not None
    state = await request(nats_server.url, {"type": "State", "request_id": "r1"}, 5)
    assert state.ok
    assert state.request_id == "r1"
    assert state.state is not None
    assert "a" in state.state["consumers"]
    status = await request(nats_server.url, {"type": "OrderStatus", "client_order_id": "nope-1"}, 5)
    assert not status.ok
    assert status.error is not None
    assert gw.nats is not None
    assert gw.nats.stats.requests["control", "ok"] == 3


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"{not json", "JSON"),
        (b'{"type": "Bogus"}', "Bogus"),
        (b'{"type": "Subscribe"}', "consumer"),
        (b'{"type": "SetTradingMode", "mode": "sideways"}', "mode"),
        (b'{"type": "Unsubscribe", "consumer": "ghost"}', "ghost"),
        (b'"x" ' * (MAX_MESSAGE_BYTES // 4 + 1), "longer than"),
    ],
)
async def test_a_bad_control_message_over_nats_gets_an_error_ack(
    gw: Gateway, nats_server: NatsServer, payload: bytes, says: str
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        reply = await nc.request("tradegw.control", payload, timeout=5)
    finally:
        await nc.close()
    ack = Ack.model_validate_json(reply.data)
    assert not ack.ok
    assert ack.error is not None
    assert says in ack.error
    assert gw.trading_mode == "enabled"  # nothing changed
    assert gw.nats is not None
    assert gw.nats.stats.requests["control", "refused"] == 1


async def test_tradegw_ctl_nats(gw: Gateway, nats_server: NatsServer, tmp_path: Path) -> None:
    async def ctl(url: str, *args: str) -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tradegw", "ctl", "--nats", url, "--timeout", "5", *args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out, err

    code, out, _ = await ctl(nats_server.url, "trading-mode", "disabled")
    assert code == 0
    assert orjson.loads(out)["trading_mode"] == "disabled"
    assert gw.trading_mode == "disabled"
    code, out, _ = await ctl(nats_server.url, "send", '{"type": "Unsubscribe", "consumer": "x"}')
    assert code == 1
    assert "x" in orjson.loads(out)["error"]
    # A NATS server no gateway answers on: said so, exit 2.
    lonely = NatsServer(tmp_path / "lonely")
    lonely.start()
    try:
        code, _, err = await ctl(lonely.url, "state")
    finally:
        lonely.stop()
    assert code == 2
    assert b"no gateway" in err


async def test_tradegw_order_nats(gw: Gateway, nats_server: NatsServer, tmp_path: Path) -> None:
    # The order commands go to the gateway over NATS too (the option used to be accepted and
    # ignored: the command looked for a control socket and found none).
    async def order(url: str, *args: str) -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tradegw", "order", "--nats", url, "--timeout", "5", *args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path,
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out, err

    code, out, err = await order(nats_server.url, "status", "no-such-order")
    assert code == 1, err
    assert "no-such-order" in orjson.loads(out)["error"]
    code, out, err = await order(nats_server.url, "list")
    assert code == 0, err
    assert orjson.loads(out)["ok"] is True
    lonely = NatsServer(tmp_path / "lonely")
    lonely.start()
    try:
        code, _, err = await order(lonely.url, "list")
    finally:
        lonely.stop()
    assert code == 2
    assert b"no gateway" in err
