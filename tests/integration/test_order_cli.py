"""``tradegw order`` in a process of its own: against a running gateway (the fake order
venue registered) over the control socket, and, with ``--config`` and no gateway, directly
against the Binance simulator on 127.0.0.1 on the gateway's ledger. Submit, status, list,
cancel, the exit statuses, a submit repeated with the same id that reaches the venue once
(whichever of gateway and command line sent it first), the socket preferred while a gateway
runs and the ledger refused to a second holder, and errors that name what is wrong."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.integration.binance_orders_rig import (
    API_KEY,
    API_SECRET,
    SYMBOLS,
    prices,
    sim_config,
)
from tradegw.bus.store import ControlStore
from tradegw.config import GatewayConfig, load_config
from tradegw.errors import LedgerInUse
from tradegw.gateway import Gateway
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.ledger import OrderLedger
from tradegw.sim.binance import BinanceSimulator
from tradegw.sim.matching import SimOrderStatus

pytestmark = pytest.mark.timeout(120)


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


# ---------------------------------------------------------------- without a gateway

KEYS = {"TRADEGW_BINANCE_API_KEY": API_KEY, "TRADEGW_BINANCE_API_SECRET": API_SECRET}


async def direct(
    config: Path, *args: str, env: Mapping[str, str] = KEYS
) -> tuple[int, dict[str, Any] | None, str]:
    """``tradegw order --config config ARGS`` with ``env`` for keys: exit status, the Ack
    printed (None if none) and stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGW_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradegw", "order", "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**clean, **env},
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    ack = orjson.loads(out) if out.strip() else None
    return proc.returncode, ack, err.decode()


def write_config(folder: Path, sim: BinanceSimulator | None, **changes: Any) -> Path:
    """A gateway config trading on ``sim`` (its URLs written in), ledger and control files
    in ``folder``; ``changes`` replace top-level sections."""
    binance: dict[str, Any] = {
        "ws_url": sim.ws_url if sim is not None else "sim",
        "rest_url": sim.rest_url if sim is not None else "sim",
        "symbols": list(SYMBOLS),
        "channels": ["trade"],
        "trading": {
            "request_timeout_s": 2.0,
            "recv_window_ms": 1000,
            "query_grace_extra_s": 0.2,
            "reconnect": {"initial_s": 0.05, "max_s": 0.5},
        },
    }
    config: dict[str, Any] = {
        "venues": {"binance": binance},
        "orders": {"ledger_path": str(folder / "orders.sqlite"), "request_timeout_s": 2.0},
        "control": {
            "port": 0,
            "address_path": str(folder / "control.addr"),
            "state_path": str(folder / "state.sqlite"),
        },
        "telemetry": {"dlq_path": None},
        **changes,
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def submit_args(cid: str, price: str, *extra: str) -> tuple[str, ...]:
    return (
        "submit", "--venue", "binance", "--symbol", "BTC-USDT", "--side", "buy",
        "--type", "limit", "--qty", "0.001", "--price", price, "--client-order-id", cid,
        *extra,
    )  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimulator]:
    async with BinanceSimulator(sim_config(rate=50)) as s:
        yield s


def venue_orders(sim: BinanceSimulator) -> Counter[str]:
    """Orders at the venue per client order id."""
    return Counter(o.client_order_id for o in sim.matching.orders("default"))


async def test_direct_submit_status_cancel_and_list_on_the_gateways_ledger(
    tmp_path: Path, sim: BinanceSimulator
) -> None:
    config = write_config(tmp_path, sim)
    resting, taking = prices(sim)

    code, ack, err = await direct(config, *submit_args("direct-1", resting, "--decision-id", "d"))
    assert code == 0, err
    assert ack is not None
    assert "no gateway answered" in err
    assert "directly to the venue" in err
    order = ack["order"]
    assert (ack["ok"], ack["type"]) == (True, "SubmitOrder")
    assert (order["client_order_id"], order["state"], order["duplicate"]) == (
        "direct-1",
        "ACK",
        False,
    )
    at_venue = sim.matching.order("default", client_order_id="direct-1")
    assert at_venue is not None
    assert order["venue_order_id"] == at_venue.order_id
    # The same command again: answered from the ledger, nothing sent.
    placed = sim.matching.stats.placed
    code, ack, err = await direct(config, *submit_args("direct-1", resting))
    assert code == 0, err
    assert ack is not None
    assert ack["order"]["duplicate"] is True
    assert ack["order"]["decision_id"] == "d"  # the first order stands
    assert sim.matching.stats.placed == placed

    # Behind the ledger's back the venue cancels it: status asks the venue first.
    sim.matching.cancel("default", client_order_id="direct-1", now_ns=time.time_ns())
    code, ack, err = await direct(config, "status", "direct-1")
    assert code == 0, err
    assert ack is not None
    assert ack["order"]["state"] == "CANCELLED"
    assert ack["order"]["fills"] == []

    # A taking order fills; its status lists the fills (a venue id each).
    code, ack, err = await direct(config, *submit_args("direct-2", taking))
    assert code == 0, err
    code, ack, err = await direct(config, "status", "direct-2")
    assert code == 0, err
    assert ack is not None
    assert ack["order"]["state"] in ("FILLED", "PARTIAL")
    assert ack["order"]["fills"]
    assert ack["order"]["filled_qty"] != "0"

    # A resting one cancelled through the command line.
    code, ack, err = await direct(config, *submit_args("direct-3", resting))
    assert code == 0, err
    code, ack, err = await direct(config, "cancel", "direct-3")
    assert code == 0, err
    assert ack is not None
    assert (ack["type"], ack["order"]["state"]) == ("CancelOrder", "CANCELLED")
    venue = sim.matching.order("default", client_order_id="direct-3")
    assert venue is not None
    assert venue.status is SimOrderStatus.CANCELLED

    code, ack, err = await direct(config, "list")
    assert code == 0, err
    assert ack is not None
    assert [o["client_order_id"] for o in ack["orders"]] == ["direct-3", "direct-2", "direct-1"]
    code, ack, err = await direct(config, "list", "--open")
    assert code == 0, err
    assert ack is not None
    assert ack["orders"] == []
    # What a refusal looks like is as through a gateway.
    code, ack, err = await direct(config, "status", "never-seen")
    assert code == 1, err
    assert ack is not None
    assert "no order with client_order_id 'never-seen'" in ack["error"]

    # One order at the venue per client id; the gateway's ledger holds them all.
    assert venue_orders(sim) == {"direct-1": 1, "direct-2": 1, "direct-3": 1}
    assert sim.matching.stats.duplicate_orders == 0
    ledger = OrderLedger(tmp_path / "orders.sqlite")
    try:
        assert ledger.count() == 3
        assert ledger.last_seq("binance", "BTC-USDT") > 0  # ExecReports numbered as ever
    finally:
        ledger.close()


async def test_a_submit_the_gateway_took_is_never_sent_again_by_the_command_line(
    tmp_path: Path, sim: BinanceSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = write_config(tmp_path, sim)
    resting, _ = prices(sim)
    gw = Gateway(load_config(config))
    await gw.start()
    try:
        first = await gw.submit(
            {
                "venue": "binance",
                "symbol": "BTC-USDT",
                "side": "buy",
                "type": "limit",
                "qty": "0.001",
                "price": resting,
                "client_order_id": "shared-1",
            }
        )
        assert first.state.value == "ACK"
        first_id = first.record.venue_order_id
    finally:
        await gw.stop()
    code, ack, err = await direct(config, *submit_args("shared-1", resting))
    assert code == 0, err
    assert "directly to the venue" in err
    assert ack is not None
    assert ack["order"]["duplicate"] is True
    assert ack["order"]["venue_order_id"] == first_id
    # And the other way round: the command line first, then a gateway.
    code, ack, err = await direct(config, *submit_args("shared-2", resting))
    assert code == 0, err
    gw = Gateway(load_config(config))
    await gw.start()
    try:
        again = await gw.submit(
            {
                "venue": "binance",
                "symbol": "BTC-USDT",
                "side": "buy",
                "type": "limit",
                "qty": "0.001",
                "price": resting,
                "client_order_id": "shared-2",
            }
        )
        assert again.duplicate
    finally:
        await gw.stop()
    assert venue_orders(sim) == {"shared-1": 1, "shared-2": 1}
    assert sim.matching.stats.duplicate_orders == 0


async def test_the_socket_is_used_while_a_gateway_runs_and_its_ledger_is_never_shared(
    tmp_path: Path, sim: BinanceSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = write_config(tmp_path, sim)
    resting, _ = prices(sim)
    gw = Gateway(load_config(config))
    await gw.start()
    try:
        code, ack, err = await direct(config, *submit_args("via-socket", resting))
        assert code == 0, err
        assert "directly" not in err
        assert ack is not None
        assert ack["order"]["state"] == "ACK"
        assert gw.order("via-socket") is not None  # the running gateway took it
        # The gateway's socket cannot be found (its address file gone): the command line
        # must not become a second order entry on the gateway's ledger.
        (tmp_path / "control.addr").unlink()
        code, ack, err = await direct(config, *submit_args("not-sent", resting))
        assert code == 5, err
        assert ack is None
        assert "orders.sqlite: the order ledger is in use by pid" in err
        assert "a tradegw gateway" in err
        assert gw.order("not-sent") is None
        # A gateway cannot open a ledger another holds either.
        with pytest.raises(LedgerInUse, match="in use by pid"):
            Gateway(load_config(config))
    finally:
        await gw.stop()
    assert venue_orders(sim) == {"via-socket": 1}
    code, ack, err = await direct(config, "status", "via-socket")
    assert code == 0, err
    assert "directly" in err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_direct_errors_name_what_is_wrong_with_their_exit_statuses(tmp_path: Path) -> None:
    submit = submit_args("e-1", "45000")
    # No trading section for the venue.
    bare = write_config(tmp_path, None)
    data = yaml.safe_load(bare.read_text())
    del data["venues"]["binance"]["trading"]
    bare.write_text(yaml.safe_dump(data))
    code, ack, err = await direct(bare, *submit)
    assert (code, ack) == (3, None)
    assert "venues.binance has no trading section" in err
    # "sim" URLs: there is no simulator to find without a gateway.
    code, ack, err = await direct(write_config(tmp_path, None), *submit)
    assert (code, ack) == (3, None)
    assert "venues.binance.ws_url is 'sim'" in err
    # The venue's URLs, but no key.
    port = closed_port()
    dead = write_config(tmp_path, None)
    data = yaml.safe_load(dead.read_text())
    data["venues"]["binance"]["ws_url"] = f"ws://127.0.0.1:{port}"
    data["venues"]["binance"]["rest_url"] = f"http://127.0.0.1:{port}"
    dead.write_text(yaml.safe_dump(data))
    code, ack, err = await direct(dead, *submit, env={})
    assert (code, ack) == (3, None)
    assert "TRADEGW_BINANCE_API_KEY" in err
    # Keys, but nobody listens there: unreachable, nothing recorded or sent.
    code, ack, err = await direct(dead, *submit)
    assert (code, ack) == (4, None)
    assert "binance: no trading rules for BTC-USDT: the venue did not answer" in err
    code, ack, err = await direct(dead, "list")
    assert code == 0, err
    assert ack is not None
    assert ack["orders"] == []
    # No ledger file in the config, and a config that does not load.
    code, ack, err = await direct(write_config(tmp_path, None, orders={}), "list")
    assert (code, ack) == (3, None)
    assert "orders.ledger_path is not set" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("orders: {ledger_path: 3, nope: 1}\n")
    code, ack, err = await direct(broken, "list")
    assert (code, ack) == (3, None)
    assert "bad config" in err
    assert "nope" in err


async def test_without_a_gateway_the_trading_switch_it_would_have_still_holds(
    tmp_path: Path,
) -> None:
    """The mode ``tradegw ctl trading-mode disabled`` stored holds for direct commands too:
    a submit is recorded REJECTED ``trading_disabled`` and no venue is even built."""
    config = write_config(tmp_path, None)  # "sim" URLs: any venue use would fail loudly
    store = ControlStore(tmp_path / "state.sqlite")
    store.set_setting("trading_mode", "disabled")
    store.close()
    code, ack, err = await direct(config, *submit_args("off-1", "45000"), env={})
    assert code == 1, err
    assert ack is not None
    assert (ack["order"]["state"], ack["order"]["reason"]) == ("REJECTED", "trading_disabled")
    code, ack, err = await direct(config, "cancel", "off-1", env={})
    assert code == 1, err
    assert ack is not None
    assert "trading is disabled" in ack["error"]
