"""Network namespaces for the cluster test: a hub namespace holding a bridge, and one
namespace per host, each joined to the bridge by a veth pair with an address in
10.213.0.0/24. Nothing is made in the namespace the tests run in, and no namespace has a route
to it, so nothing leaves the box; the host namespaces reach each other only through the hub.

Every name carries a per-run tag, and :meth:`Hosts.remove` kills whatever still runs in the
namespaces (only processes this run started can be there) and deletes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence

SUBNET = "10.213.0"
_IP_TIMEOUT_S = 10.0


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=_IP_TIMEOUT_S, check=check
    )


def unavailable() -> str | None:
    """Why network namespaces cannot be made here (None: they can)."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"tgwprobe{os.getpid()}"
    try:
        made = _ip("netns", "add", probe, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"ip netns add failed: {e}"
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip() or made.returncode}"
    _ip("netns", "del", probe, check=False)
    return None


class Hosts:
    """A hub namespace with a bridge and host namespaces attached to it."""

    def __init__(self, names: Sequence[str]) -> None:
        self.tag = f"tgw{os.getpid() % 100_000}"
        self.hub = f"{self.tag}-hub"
        self.names = list(names)
        self.address = {name: f"{SUBNET}.{10 + i}" for i, name in enumerate(self.names)}
        self._made: list[str] = []

    def netns(self, name: str) -> str:
        """The namespace of host ``name``."""
        return f"{self.tag}-{name}"

    def make(self) -> None:
        """Makes the hub, its bridge and every host namespace with its link up."""
        _ip("netns", "add", self.hub)
        self._made.append(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, name in enumerate(self.names):
            ns = self.netns(name)
            _ip("netns", "add", ns)
            self._made.append(ns)
            port = f"p{i}"
            _ip(
                "-n",
                self.hub,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            )
            _ip("-n", self.hub, "link", "set", port, "master", "br0")
            _ip("-n", self.hub, "link", "set", port, "up")
            _ip("-n", ns, "addr", "add", f"{self.address[name]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def exec(self, name: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside host ``name``'s namespace."""
        return ["ip", "netns", "exec", self.netns(name), *argv]

    def remove(self) -> None:
        """Kills what still runs in the namespaces, then deletes them (never raises)."""
        for ns in self._made:
            try:
                pids = _ip("netns", "pids", ns, check=False).stdout.split()
            except (OSError, subprocess.TimeoutExpired):
                pids = []
            for pid in pids:
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        if self._made:
            time.sleep(0.2)
        for ns in reversed(self._made):
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                _ip("netns", "del", ns, check=False)
        self._made.clear()
