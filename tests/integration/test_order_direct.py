"""``tradegw order`` without a gateway, in process (:func:`tradegw.orders.direct.run_direct`
against the Binance simulator): what happens when the venue leaves a command unfinished
within the timeout (reported, exit 4, the order left to the next start and settled by it),
the setup errors the command line turns into exit statuses, and Kraken's and Coinbase's
adapters built from their config sections alone (no market-data provider). The command line
itself, end to end, is ``test_order_cli.py``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.coinbase_trading import es256_key
from tests.integration import kraken_trading
from tests.integration.binance_orders_rig import API_KEY, API_SECRET, prices, sim_config
from tests.integration.test_order_cli import closed_port, write_config
from tests.unit.test_order_ledger import order
from tradegw.cli import main
from tradegw.config import load_config
from tradegw.orders.direct import (
    EXIT_SETUP,
    EXIT_VENUE_UNREACHABLE,
    DirectOrderError,
    run_direct,
)
from tradegw.orders.ledger import OrderLedger
from tradegw.sim.binance import BinanceSimulator
from tradegw.sim.binance.auth import ApiError
from tradegw.sim.binance.wsapi import BinanceWsApiConnection
from tradegw.sim.coinbase import CoinbaseSimConfig, CoinbaseSimulator
from tradegw.telemetry import logs

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEGW_BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("TRADEGW_BINANCE_API_SECRET", API_SECRET)


def submit(cid: str, price: str) -> dict[str, Any]:
    order = {
        "venue": "binance",
        "symbol": "BTC-USDT",
        "side": "buy",
        "type": "limit",
        "qty": "0.001",
        "price": price,
        "client_order_id": cid,
    }
    return {"type": "SubmitOrder", "order": order}


async def test_an_answer_lost_past_the_timeout_is_reported_and_settled_by_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = {"faults": [{"kind": "order_ack_lost", "after_messages": [0]}]}
    async with BinanceSimulator(sim_config(rate=0, faults=faults)) as sim:
        path = write_config(tmp_path, sim)
        config = load_config(path)
        resting, _ = prices(sim)

        def no_stream(self: object, caller: object) -> None:
            raise ApiError(-1000, "An unknown error occurred while processing the request.")

        # No private stream either: nothing but a query can say what became of the order.
        with monkeypatch.context() as patched:
            patched.setattr(BinanceWsApiConnection, "_subscribe", no_stream)
            # The start waits 2 s for the stream (the request timeout), then the answer is
            # lost: the send ends UNKNOWN 2 s later, when the command's own 3 s are over,
            # before any query could settle it (1.2 s after the send at the soonest).
            answer = await run_direct(
                config, submit("lost-1", resting), config_path=str(path), timeout_s=3
            )
        assert answer.exit_status == EXIT_VENUE_UNREACHABLE
        assert answer.problem is not None
        assert "has not said whether it has the order within 3s" in answer.problem
        assert "lost-1 is UNKNOWN in the ledger" in answer.problem
        assert answer.ack.ok
        assert answer.ack.order is not None
        assert answer.ack.order["state"] == "UNKNOWN"
        # The next command on the ledger reconciles it: the venue has it, it is not sent
        # again.
        status = await run_direct(
            config,
            {"type": "OrderStatus", "client_order_id": "lost-1"},
            config_path=str(path),
            timeout_s=10,
        )
        assert status.problem is None
        assert status.ack.order is not None
        assert status.ack.order["state"] == "ACK"
        assert status.ack.order["send_attempts"] == 1
        assert sim.matching.stats.placed == 1
        assert sim.matching.stats.duplicate_orders == 0


async def test_a_venue_gone_after_start_leaves_status_and_cancel_unfinished(
    tmp_path: Path,
) -> None:
    async with BinanceSimulator(sim_config(rate=0)) as sim:
        path = write_config(tmp_path, sim)
        config = load_config(path)
        resting, _ = prices(sim)
        placed = await run_direct(
            config, submit("gone-1", resting), config_path=str(path), timeout_s=10
        )
        assert placed.problem is None
        assert placed.ack.order is not None
        assert placed.ack.order["state"] == "ACK"
        sim.pause()
        # The venue cancels it, and then stops answering order requests altogether: every
        # request is now refused for its signature, which says nothing of the order.
        sim.matching.cancel("default", client_order_id="gone-1", now_ns=time.time_ns())
        sim.auth._keys.clear()  # type: ignore[attr-defined]
        cancel = await run_direct(
            config,
            {"type": "CancelOrder", "client_order_id": "gone-1"},
            config_path=str(path),
            timeout_s=4,
        )
        assert cancel.exit_status == EXIT_VENUE_UNREACHABLE
        assert cancel.problem is not None
        assert "has not confirmed the cancel" in cancel.problem
        status = await run_direct(
            config,
            {"type": "OrderStatus", "client_order_id": "gone-1"},
            config_path=str(path),
            timeout_s=4,
        )
        assert status.exit_status == EXIT_VENUE_UNREACHABLE
        assert status.problem is not None
        assert "could not say what became of it" in status.problem
        assert status.ack.order is not None
        assert status.ack.order["state"] == "ACK"  # as recorded: nothing was learnt
        assert status.ack.order["cancel_requested"] is True  # kept for the next start


async def test_setup_errors_name_the_field(tmp_path: Path) -> None:
    path = write_config(tmp_path, None)

    async def refused(config_changes: dict[str, Any], message: dict[str, Any]) -> str:
        data = load_config(path).model_dump()
        for dotted, value in config_changes.items():
            *parents, leaf = dotted.split(".")
            node = data
            for name in parents:
                node = node[name]
            node[leaf] = value
        config = type(load_config(path)).model_validate(data)
        with pytest.raises(DirectOrderError) as e:
            await run_direct(config, message, config_path="gw.yaml", timeout_s=5)
        assert e.value.exit_status == EXIT_SETUP
        return str(e.value)

    # The market-data URLs are the venue's, so trading.url "sim" has nothing to derive from
    # (refused before anything connects).
    text = await refused(
        {
            "venues.binance.ws_url": "wss://stream.binance.com:9443",
            "venues.binance.rest_url": "https://api.binance.com",
        },
        submit("s-1", "45000"),
    )
    assert "trading.url is 'sim' but ws_url is not a simulator's" in text
    text = await refused({}, {**submit("s-2", "45000"), "order": {
        **submit("s-2", "45000")["order"], "venue": "nowhere"}})  # fmt: skip
    assert "unknown venue 'nowhere'" in text
    text = await refused({"venues.binance.enabled": False}, submit("s-3", "45000"))
    assert "venues.binance is disabled" in text
    (tmp_path / "dir.sqlite").mkdir()
    text = await refused(
        {"orders.ledger_path": str(tmp_path / "dir.sqlite")}, {"type": "ListOrders"}
    )
    assert "order ledger cannot be opened" in text


@pytest.mark.parametrize("venue", ["kraken", "coinbase"])
async def test_kraken_and_coinbase_trade_directly_from_their_config_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venue: str
) -> None:
    if venue == "kraken":
        sim: Any = kraken_trading.trading_sim()
        trading: dict[str, Any] = {"query_grace_s": 0.2, "request_timeout_s": 2.0}
        for name, value in kraken_trading.ENV.items():
            monkeypatch.setenv(name, value)
        symbol, listed = "BTC-USD", "BTC/USD"
    else:
        key = es256_key()
        sim = CoinbaseSimulator(
            CoinbaseSimConfig(
                pairs=["BTC-USD"], rate=0, api_keys={key.name: key.api_key("default")}
            )
        )
        trading = {"request_timeout_s": 2.0}
        monkeypatch.setenv("TRADEGW_COINBASE_API_KEY", key.name)
        monkeypatch.setenv("TRADEGW_COINBASE_API_SECRET", key.secret)
        symbol = listed = "BTC-USD"
    async with sim:
        section = {
            "ws_url": sim.ws_url,
            "rest_url": sim.rest_url,
            "symbols": [listed],
            "trading": trading,  # every URL "sim": found from the two above
        }
        config = load_config(write_config(tmp_path, None))
        config = type(config).model_validate({**config.model_dump(), "venues": {venue: section}})
        bids, _ = sim.book(listed, 5)
        price = format(Decimal(bids[3][0]).normalize(), "f")
        order = {**submit("x-1", price)["order"], "venue": venue, "symbol": symbol}

        async def run(message: dict[str, Any]) -> dict[str, Any]:
            answer = await run_direct(config, message, config_path="gw.yaml", timeout_s=15)
            assert answer.problem is None
            assert answer.ack.ok, answer.ack.error
            assert answer.ack.order is not None
            return answer.ack.order

        assert (await run({"type": "SubmitOrder", "order": order}))["state"] == "ACK"
        assert (await run({"type": "SubmitOrder", "order": order}))["duplicate"] is True
        assert (await run({"type": "OrderStatus", "client_order_id": "x-1"}))["state"] == "ACK"
        cancelled = await run({"type": "CancelOrder", "client_order_id": "x-1"})
        assert cancelled["state"] == "CANCELLED"
        assert sim.matching.stats.placed == 1
        assert sim.matching.stats.duplicate_orders == 0


@pytest.fixture
def root_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Leaves the root logger as the test found it (the command installs its handler)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    monkeypatch.setattr(logs, "_installed", None)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_the_command_line_goes_directly_when_no_gateway_answers_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process (the subprocess tests do not count towards coverage): ``list`` needs no
    venue, so the whole way runs here: no address file, then a stale one."""
    path = write_config(tmp_path, None)
    ledger = OrderLedger(tmp_path / "orders.sqlite")
    ledger.add(order("from-a-gateway"))
    ledger.close()
    assert main(["order", "--config", str(path), "list"]) == 0
    out = capsys.readouterr()
    assert [o["client_order_id"] for o in orjson.loads(out.out)["orders"]] == ["from-a-gateway"]
    assert "no gateway answered (no gateway address:" in out.err
    assert f"on the ledger {tmp_path / 'orders.sqlite'}" in out.err
    # A stale address file: nobody listens there any more.
    port = closed_port()
    (tmp_path / "control.addr").write_text(f"127.0.0.1:{port}\n")
    assert main(["order", "--config", str(path), "list", "--open"]) == 0
    out = capsys.readouterr()
    assert orjson.loads(out.out)["orders"] == [{**order("from-a-gateway").as_dict()}]
    assert f"no gateway answered (127.0.0.1:{port}:" in out.err
    # Without --config it is as before: no gateway, exit 2, and a hint.
    addr = str(tmp_path / "control.addr")
    assert main(["order", "--address-file", addr, "status", "from-a-gateway"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert "(with --config, orders go to the venue directly)" in out.err
    # A config that does not load: exit 3, before anything is asked.
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders: [1]\n")
    assert main(["order", "--config", str(bad), "list"]) == 3
    assert "tradegw order: bad config:" in capsys.readouterr().err
