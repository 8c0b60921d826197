"""A full run trading on Kraken (``tradegw run``'s own code in this process: logs at DEBUG to
a file, the DLQ on disk, ops events logged, the summary written; orders submitted over the
control socket against the Kraken simulator with its order and HTTP faults on) never writes
the API key, the secret, any API-Sign signature or any WebSocket token anywhere: the log,
the DLQ, the summary, standard output or standard error."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.kraken_trading import API_KEY, API_SECRET, ENV, trading_sim, until
from tradegw import runner
from tradegw.bus.client import ControlClient, read_address
from tradegw.config import GatewayConfig
from tradegw.providers.kraken import private_rest
from tradegw.stopping import StopRequest
from tradegw.telemetry.logs import configure_logging

pytestmark = pytest.mark.timeout(60)

FAULTS = {
    "faults": [
        # Rates, and one of each for sure (the 4th and 7th order requests).
        {"kind": "order_ack_lost", "rate": 0.08, "after_messages": [3]},
        {"kind": "order_response_lost", "rate": 0.08, "after_messages": [6]},
        {"kind": "order_5xx_after_accept", "rate": 0.08},
        {"kind": "private_stream_drop", "rate": 0.2},
        {"kind": "http_5xx", "rate": 0.05},
        {"kind": "bad_json", "rate": 0.01},
    ]
}


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every API-Sign the gateway computes during the test."""
    made: list[str] = []
    sign = private_rest.api_sign

    def recording(secret: str, path: str, nonce: str, body: str | bytes) -> str:
        signature = sign(secret, path, nonce, body)
        made.append(signature)
        return signature

    monkeypatch.setattr(private_rest, "api_sign", recording)
    return made


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Leaves the root logger as the test found it (the run installs a file handler)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


async def submit_orders(address_file: Path, sim: Any) -> dict[str, int]:
    """Resting, taking, post-only and off-tick orders, and cancels, over the control
    socket; the Acks' states counted."""
    await until(address_file.exists, what="the control address file")
    states: dict[str, int] = {}
    async with ControlClient(*read_address(address_file)) as client:
        for i in range(36):
            symbol = ("BTC/USD", "ETH/USD")[i % 2]
            bids, asks = sim.book(symbol, 1)
            bid, ask = Decimal(bids[0][0]), Decimal(asks[0][0])
            order: dict[str, Any] = {
                "venue": "kraken",
                "symbol": symbol.replace("/", "-"),
                "side": "buy",
                "type": "limit",
                "qty": "0.002" if symbol == "ETH/USD" else "0.0002",
                "client_order_id": f"scan-{i:03d}",
            }
            kind = i % 6
            if kind == 0:
                order.update(price=str(ask), time_in_force="IOC")
            elif kind == 1:
                order.update(price=str(ask), post_only=True)  # refused by the venue
            elif kind == 2:
                order.update(price=str(bid) + "3")  # off tick: refused before sending
            else:
                order.update(price=str(bid))
            ack = await client.request({"type": "SubmitOrder", "order": order})
            state = (ack.order or {}).get("state", "none")
            states[state] = states.get(state, 0) + 1
            if kind == 4:
                cancel = {"type": "CancelOrder", "client_order_id": order["client_order_id"]}
                await client.request(cancel)
            await asyncio.sleep(0.05)
    return states


async def test_a_full_kraken_trading_run_never_shows_a_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    signatures: list[str],
    root_logging: None,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    log_path = tmp_path / "gateway.log"
    dlq_path = tmp_path / "dlq"
    summary_path = tmp_path / "summary.json"
    address_file = tmp_path / "control.addr"
    async with trading_sim(faults=FAULTS, rate=400, seed=5) as sim:
        config = GatewayConfig.model_validate(
            {
                "venues": {
                    "kraken": {
                        "ws_url": sim.ws_url,
                        "rest_url": sim.rest_url,
                        "symbols": ["BTC/USD", "ETH/USD"],
                        "channels": ["book", "trade"],
                        "trading": {
                            "query_grace_s": 0.2,
                            "request_timeout_s": 1.0,
                            "reconnect": {"initial_s": 0.05, "max_s": 0.5},
                        },
                    }
                },
                "orders": {
                    "ledger_path": str(tmp_path / "orders.sqlite"),
                    "request_timeout_s": 1.0,
                    "reconcile_backoff_s": 0.05,
                    "reconcile_backoff_max_s": 0.5,
                },
                "control": {
                    "port": 0,
                    "address_path": str(address_file),
                    "state_path": str(tmp_path / "state.sqlite"),
                },
                "consumers": [{"name": "tape", "kind": "tape", "types": ["ExecReport"]}],
                "telemetry": {
                    "log_level": "DEBUG",
                    "log_path": str(log_path),
                    "log_format": "json",
                    "dlq_path": str(dlq_path),
                },
            }
        )
        configure_logging(config.telemetry)
        # Stopped once every order went in (a fixed duration raced them on a loaded box).
        stop = StopRequest()
        run = asyncio.ensure_future(
            runner.run(
                config, duration_s=60.0, summary_path=summary_path, live=False, stop_request=stop
            )
        )
        try:
            states = await submit_orders(address_file, sim)
            await asyncio.sleep(1.0)  # the last answers' reports and the stream's reconnects
        finally:
            stop.trigger()
        summary = await run
    out, err = capfd.readouterr()

    # The run traded, met the faults, and wrote everything that is scanned.
    assert states.get("REJECTED", 0) >= 6, states
    assert sum(states.values()) == 36
    assert sim.matching.stats.placed >= 12
    assert sim.matching.stats.fills > 0
    faults = sim.stats()["faults"]
    assert faults["order_ack_lost"] > 0, faults
    assert faults["order_response_lost"] > 0, faults
    assert summary["dlq"] > 0
    written = {
        "log": log_path.read_text(),
        "dlq": "".join(p.read_text() for p in sorted(dlq_path.iterdir())),
        "summary": summary_path.read_text(),
        "stdout": out,
        "stderr": err,
    }
    log = written["log"]
    assert '"logger":"tradegw.orders.kraken"' in log  # the adapter's own lines
    assert '"logger":"tradegw.ops"' in log  # the ops events, as the run logs them
    assert "private stream" in log  # its reconnects after the faults
    assert "control socket on" in out
    assert written["dlq"]

    tokens = list(sim.trading.tokens.issued)
    assert len(tokens) >= 2, "reconnects fetched new tokens"
    assert len(signatures) >= len(tokens)  # each token came from a signed call, at least
    secrets = {
        "key": [API_KEY],
        "secret": [API_SECRET, API_SECRET.rstrip("="), base64.b64decode(API_SECRET).hex()],
        "signature": signatures,
        "token": tokens,
    }
    for where, text in written.items():
        for what, values in secrets.items():
            for value in values:
                for form in {value, quote(value, safe="")}:
                    assert form not in text, f"a {what} in the {where}"
