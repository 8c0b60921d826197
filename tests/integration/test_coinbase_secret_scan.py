"""A whole ``tradegw run`` trading on the Coinbase simulator — its key name from the
environment, its private key from an owner-only file, logs at DEBUG to a file, the DLQ on
disk, a summary, the ops server, ``tradegw order`` commands, order faults on — and then
every output scanned: neither the key name nor any part of the private key, nor any JWT
(so no signature), nor a ``Bearer`` header appears anywhere."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from tests.coinbase_trading import CdpKey, es256_key

pytestmark = pytest.mark.timeout(120)

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")
"""Any JWT (header and claims are base64url JSON objects, so both start ``eyJ``)."""


def _config(tmp_path: Path, key: CdpKey) -> Path:
    config: dict[str, Any] = {
        "venues": {
            "coinbase": {
                "symbols": ["BTC-USD", "ETH-USD"],
                "trading": {"jwt_lifetime_s": 5, "clock_skew_s": 0, "request_timeout_s": 2},
            }
        },
        "simulators": {
            "coinbase": {
                "pairs": ["BTC-USD", "ETH-USD"],
                "rate": 300,
                "seed": 3,
                "api_keys": {key.name: {"account": "default", "public_key_pem": key.public_pem}},
                "faults": {
                    "faults": [
                        {"kind": "order_5xx_after_accept", "after_messages": [1]},
                        {"kind": "private_stream_drop", "after_messages": [2], "max_count": 1},
                        {"kind": "order_response_lost", "after_messages": [4]},
                        # Unreadable frames go to the DLQ, which is scanned too.
                        {"kind": "bad_json", "after_messages": [100, 300]},
                    ]
                },
            }
        },
        "telemetry": {
            "log_path": str(tmp_path / "run.log"),
            "log_level": "DEBUG",
            "log_format": "json",
            "dlq_path": str(tmp_path / "dlq"),
        },
        "control": {
            "port": 0,
            "address_path": str(tmp_path / "control.addr"),
            "state_path": str(tmp_path / "state.sqlite"),
        },
        "orders": {"ledger_path": str(tmp_path / "orders.sqlite"), "request_timeout_s": 2},
        "ops": {"port": 0},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def _order(addr: Path, env: dict[str, str], *args: str) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradegw",
        "order",
        "--address-file",
        str(addr),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out


def _secrets(key: CdpKey) -> list[bytes]:
    """What must never show: the key name, and the private key whole and line by line."""
    lines = [ln for ln in key.secret.splitlines() if ln and not ln.startswith("-----")]
    return [key.name.encode(), key.secret.encode(), *(ln.encode() for ln in lines)]


async def test_a_trading_run_shows_no_key_secret_token_or_signature(tmp_path: Path) -> None:
    key = es256_key()
    secret_file = tmp_path / "coinbase.key"
    secret_file.write_text(key.secret + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    env = {
        **os.environ,
        "TRADEGW_COINBASE_API_KEY": key.name,
        "TRADEGW_COINBASE_API_SECRET_FILE": str(secret_file),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("TRADEGW_COINBASE_API_SECRET", None)
    addr = tmp_path / "control.addr"
    summary = tmp_path / "summary.json"
    config_path = _config(tmp_path, key)
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradegw",
        "run",
        "--config",
        str(config_path),
        "--duration",
        "120",  # stopped by SIGTERM once the steps below are done (they take 15-25 s)
        "--summary-json",
        str(summary),
        "--no-live",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    outputs: list[bytes] = []
    try:
        assert run.stdout is not None
        # Start-up lines, up to the ops server's address (its scrape is an output too).
        metrics_url = ""
        async with asyncio.timeout(30):
            while not metrics_url:
                line = await run.stdout.readline()
                assert line, "the run ended before it served metrics"
                outputs.append(line)
                found = re.search(rb"(http://127\.0\.0\.1:\d+/metrics)", line)
                metrics_url = found.group(1).decode() if found else ""
            await _appears(addr)
        await asyncio.sleep(1.0)  # the user channel subscribes, books arrive
        common = ("submit", "--venue", "coinbase", "--symbol", "BTC-USD", "--qty", "0.01")
        taking = (*common, "--side", "buy", "--type", "limit", "--price", "46000")
        resting = (*common, "--side", "buy", "--type", "limit", "--price", "40000")
        for i in range(4):
            outputs.append((await _order(addr, env, *taking, "--client-order-id", f"t-{i}"))[1])
        for i in range(3):
            outputs.append((await _order(addr, env, *resting, "--client-order-id", f"r-{i}"))[1])
        await asyncio.sleep(7)  # past the tokens' lifetime: unknown orders are queried
        outputs.append((await _order(addr, env, "cancel", "r-0"))[1])
        await asyncio.sleep(1)
        status, listed = await _order(addr, env, "list")
        outputs.append(listed)
        assert status == 0, listed
        outputs.append(await _scrape(metrics_url))
    finally:
        if run.returncode is None:
            run.send_signal(signal.SIGTERM)  # a clean stop: the summary and logs are written
        stdout, stderr = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0, stderr.decode()[-2000:]
    outputs += [stdout, stderr]

    # What the run did: it traded, through faults (the scan is not of an idle run).
    states = {row["client_order_id"]: row["state"] for row in _rows(orjson.loads(listed))}
    assert states.get("r-0") == "CANCELLED", states
    assert {states.get(f"t-{i}") for i in range(4)} <= {"FILLED", "PARTIAL", "EXPIRED"}, states
    assert "FILLED" in states.values()
    files = _files(tmp_path, secret_file, config_path)
    log_bytes = b"".join(data for path, data in files.items() if path.name.startswith("run.log"))
    assert b'"level":"DEBUG"' in log_bytes
    assert b"t-0" in log_bytes, "order lines are in the log"
    assert b"coinbase_order_requests" in outputs[-3] or b"tradegw" in outputs[-3]

    assert any(path.parent.name == "dlq" for path in files), "the DLQ has entries"
    scanned = outputs + list(files.values())
    for blob in scanned:
        for secret in _secrets(key):
            assert secret not in blob, f"a secret appears in an output ({len(blob)} bytes)"
        assert not JWT.search(blob), "a JWT (with its signature) appears in an output"
        assert b"Bearer " not in blob
    # The scan would have seen them: a token made here is matched by the pattern.
    assert JWT.search(key.signer().ws_jwt().encode())


def _files(root: Path, *inputs: Path) -> dict[Path, bytes]:
    """Every file the run left (logs, DLQ, summary, ledger, state), read whole; not the
    test's own inputs (the key file, and the config, whose simulator section names the
    key the simulator accepts)."""
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p not in inputs}


async def _appears(path: Path) -> None:
    for _ in range(300):
        if await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def _rows(answer: Any) -> list[dict[str, Any]]:
    """The orders of a ``tradegw order list`` answer, wherever the Ack keeps them."""
    if isinstance(answer, list):
        return [r for r in answer if isinstance(r, dict) and "client_order_id" in r]
    if isinstance(answer, dict):
        if "client_order_id" in answer:
            return [answer]
        out: list[dict[str, Any]] = []
        for value in answer.values():
            out += _rows(value)
        return out
    return []


async def _scrape(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.read()
