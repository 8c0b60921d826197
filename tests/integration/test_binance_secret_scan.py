"""No key, secret or signature of Binance trading leaves the process: a full ``tradegw run``
trading on the simulator through its order faults (logs at DEBUG to a file, the DLQ folder,
the summary, stdout and stderr, the ops events it logs, ``/metrics``), and in process every
log record, answer, exception text and ``repr`` of a faulty session, checked against each
signature the adapter actually made. Both key types: an HMAC secret, and an Ed25519 private
key (PEM) whose every body line, raw seed and base64 signatures are looked for too."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Collection, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
import yaml
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from tests.integration.binance_orders_rig import (
    API_KEY,
    API_KEYS,
    API_SECRET,
    ED_API_KEY,
    ED_PRIVATE_PEM,
    credentials,
    ed_credentials,
    prices,
    record,
    sim_config,
    venue_for,
)
from tests.unit.order_venue_contract import VenueUnderTest
from tradegw.bus.client import ControlClient, read_address
from tradegw.errors import VenueUnavailable
from tradegw.providers.binance import signing
from tradegw.sim.binance import BinanceSimulator

HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
"""Any HMAC-SHA256 signature (Binance's are 64 hex digits)."""
B64SIG = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==")
"""Any Ed25519 signature (base64 of 64 bytes; looked for in the text percent-decoded too)."""
_SEED = load_pem_private_key(ED_PRIVATE_PEM.encode(), None).private_bytes(
    Encoding.Raw, PrivateFormat.Raw, NoEncryption()
)
SECRETS = {
    "key": API_KEY,
    "secret": API_SECRET,
    "ed key": ED_API_KEY,
    **{f"pem line {i}": line for i, line in enumerate(ED_PRIVATE_PEM.splitlines()[1:-1])},
    "ed seed hex": _SEED.hex(),
    "ed seed base64": base64.b64encode(_SEED).decode(),
}
"""Every secret value, in each form it could show up in."""

FAULTS = [
    {"kind": "order_ack_lost", "rate": 0.1},
    {"kind": "order_response_lost", "rate": 0.05},
    {"kind": "order_5xx_after_accept", "rate": 0.1},
    {"kind": "private_stream_drop", "rate": 0.2},
]


def leaks(text: str, *, signatures: Collection[str] = ()) -> list[str]:
    """What of the secrets ``text`` holds (empty: nothing)."""
    found = [name for name, value in SECRETS.items() if value in text]
    found += [f"hex64 {m[:8]}..." for m in HEX64.findall(text)]
    found += [f"base64 signature {m[:8]}..." for m in B64SIG.findall(text + "\n" + unquote(text))]
    found += [f"signature {s[:8]}..." for s in signatures if s in text or s.upper() in text]
    return found


def _files(folder: Path) -> Iterator[Path]:
    yield from (p for p in folder.rglob("*") if p.is_file())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("key_type", ["hmac", "ed25519"])
async def test_a_full_run_trading_on_binance_writes_no_secret_anywhere(
    tmp_path: Path, key_type: str
) -> None:
    secret_file = tmp_path / "binance.secret"
    secret = ED_PRIVATE_PEM if key_type == "ed25519" else API_SECRET + "\n"
    secret_file.write_text(secret, encoding="utf-8")
    secret_file.chmod(0o600)
    out = tmp_path / "out"
    out.mkdir()
    config = {
        "venues": {
            "binance": {
                "ws_url": "sim",
                "rest_url": "sim",
                "symbols": ["BTCUSDT", "ETHUSDT"],
                "channels": ["depth", "trade"],
                "trading": {
                    "key_type": key_type,
                    "request_timeout_s": 2.0,
                    "recv_window_ms": 2000,
                    "query_grace_extra_s": 0.3,
                    "reconnect": {"initial_s": 0.05, "max_s": 0.5},
                },
            }
        },
        "simulators": {
            "binance": {
                "pairs": ["BTCUSDT", "ETHUSDT"],
                "rate": 300,
                "seed": 3,
                "api_keys": API_KEYS,
                "faults": {"faults": FAULTS},
            }
        },
        "consumers": [{"name": "tape", "kind": "tape"}],
        "orders": {
            "ledger_path": str(out / "orders.sqlite"),
            "request_timeout_s": 2.0,
            "reconcile_backoff_s": 0.05,
            "reconcile_backoff_max_s": 0.5,
        },
        "control": {
            "port": 0,
            "address_path": str(out / "control.addr"),
            "state_path": str(out / "state.sqlite"),
        },
        "ops": {"port": 0},
        "telemetry": {
            "log_level": "DEBUG",
            "log_path": str(out / "tradegw.log"),
            "log_format": "json",
            "dlq_path": str(out / "dlq"),
        },
    }
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGW_BINANCE_")}
    env["TRADEGW_BINANCE_API_KEY"] = ED_API_KEY if key_type == "ed25519" else API_KEY
    env["TRADEGW_BINANCE_API_SECRET_FILE"] = str(secret_file)
    summary = out / "summary.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradegw",
        "run",
        "--config",
        str(cfg),
        "--no-live",
        "--duration",
        "90",
        "--summary-json",
        str(summary),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        rest_url = metrics_url = ""
        printed = []
        async with asyncio.timeout(30):
            while not (out / "control.addr").exists() or not rest_url or not metrics_url:
                line = (await proc.stdout.readline()).decode()
                assert line, "the run ended early"
                printed.append(line)
                found = re.search(r"\(REST (http://[^)\s]+)\)", line)
                rest_url = found.group(1) if found else rest_url
                found = re.search(r"metrics on (http://\S+/metrics)", line)
                metrics_url = found.group(1) if found else metrics_url
        listed = await _trade(read_address(out / "control.addr"), rest_url)
        async with aiohttp.ClientSession() as http, http.get(metrics_url) as r:
            metrics = await r.text()
        assert "tradegw" in metrics
        states = {o["state"] for o in listed}
        assert len(listed) == 24
        assert {"ACK", "FILLED"} <= states, states
        assert any(Decimal(o["filled_qty"]) > 0 for o in listed)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]

    outputs = {
        "stdout": "".join(printed) + stdout.decode(),
        "stderr": stderr.decode(),
        "metrics": metrics,
    }
    for path in _files(out):
        if path.suffix != ".sqlite" and not path.name.endswith(("-wal", "-shm")):
            outputs[str(path.relative_to(out))] = path.read_text(encoding="utf-8", errors="replace")
    log = outputs["tradegw.log"]
    assert '"level":"DEBUG"' in log, "DEBUG lines were written"
    assert "order.place scan001 answered" in log
    assert "binance orders: user data stream subscribed" in log
    assert "order_venue" not in outputs["stderr"]
    assert summary.is_file()
    found = {name: leaks(text) for name, text in outputs.items()}
    assert all(not v for v in found.values()), {k: v for k, v in found.items() if v}


async def _trade(address: tuple[str, int], rest_url: str) -> list[dict[str, Any]]:
    """Submits 24 orders (resting, taking, post-only that would take, IOC), cancels some,
    asks their status; returns the list once none is unsettled."""
    depth = f"{rest_url}/api/v3/depth?symbol=BTCUSDT&limit=5"
    async with aiohttp.ClientSession() as http, http.get(depth) as r:
        book = await r.json()
    bid, ask = Decimal(book["bids"][4][0]), Decimal(book["asks"][2][0])
    rest, take = format(bid.normalize(), "f"), format(ask.normalize(), "f")
    async with ControlClient(*address) as client:
        for i in range(24):
            kind = i % 4
            order: dict[str, Any] = {
                "venue": "binance",
                "symbol": "BTC-USDT",
                "side": "buy",
                "type": "limit",
                "qty": "0.001",
                "client_order_id": f"scan{i:03d}",
            }
            order["price"] = take if kind in (1, 2) else rest
            if kind == 2:
                order["post_only"] = True  # would take: refused by the venue
            if kind == 3:
                order["time_in_force"] = "IOC"
                order["price"] = take
            ack = await client.request({"type": "SubmitOrder", "order": order})
            assert ack.ok, ack.error
        for i in range(0, 24, 8):
            await client.request({"type": "CancelOrder", "client_order_id": f"scan{i:03d}"})
        deadline = time.monotonic() + 40
        while True:
            ack = await client.request({"type": "ListOrders", "venue": "binance", "limit": 100})
            assert ack.orders is not None
            if not any(o["state"] in ("NEW", "SENT", "UNKNOWN") for o in ack.orders):
                return ack.orders
            assert time.monotonic() < deadline, [o["state"] for o in ack.orders]
            await asyncio.sleep(0.2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key_type", ["hmac", "ed25519"])
async def test_no_signature_in_logs_answers_errors_or_reprs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, key_type: str
) -> None:
    """In process, every signature the adapter makes is recorded and looked for in every log
    record (DEBUG up), every answer and error text and the adapter's repr, through faults, a
    refused key, a dead venue."""
    made: set[str] = set()
    name = "ed25519_signature" if key_type == "ed25519" else "hmac_signature"
    real = getattr(signing, name)

    def recording(secret: Any, payload: str) -> str:
        signature: str = real(secret, payload)
        made.add(signature)
        return signature

    monkeypatch.setattr(signing, name, recording)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    faults = {"faults": [{**f, "rate": 0.3} for f in FAULTS]}
    sim = BinanceSimulator(sim_config(rate=200, faults=faults))
    await sim.start()
    creds = ed_credentials() if key_type == "ed25519" else credentials()
    venue = venue_for(sim, creds=creds, key_type=key_type, request_timeout_s=0.5)
    resting, taking = prices(sim)
    v = VenueUnderTest(venue, "BTC-USDT", "0.001", resting, taking)
    try:
        await venue.start(v.on_report, v.on_stream_gap)
        for i in range(30):
            order = v.order(taking if i % 2 else resting, tif="IOC" if i % 3 == 0 else "GTC")
            texts.append(repr(await venue.place(order)))
            texts.append(repr(await venue.cancel(order)))
            try:
                texts.append(repr(await venue.query(order)))
                texts.append(repr(await venue.fills(order)))
            except VenueUnavailable as e:
                texts.append(str(e))
        texts.append(repr(venue))
        texts.append(repr(venue.config))
        texts.extend(repr(r) for r in v.reports)
        wrong = venue_for(sim, creds=credentials(secret="wrong-secret"))  # an HMAC key
        await wrong.start(v.on_report, v.on_stream_gap)
        texts.append(repr(await wrong.place(record("BTC-USDT", qty="0.001", price=resting))))
        await wrong.stop()
        await sim.stop()
        try:
            await venue.query(v.order(resting))
        except VenueUnavailable as e:
            texts.append(str(e))
        texts.append(repr(await venue.place(v.order(resting))))
    finally:
        await venue.stop()
        await sim.stop()
    assert len(made) > 60, "signatures were made"
    assert sim.stats()["faults"]["order_ack_lost"] > 0
    everything = "\n".join(
        [*texts, *(r.getMessage() for r in caplog.records), *(str(r.args) for r in caplog.records)]
    )
    assert leaks(everything, signatures=made) == []
