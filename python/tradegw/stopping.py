"""SIGINT and SIGTERM as a request to stop ``tradegw run``, from the first line of ``main()``
to the interpreter's exit.

The handlers are plain :func:`signal.signal` handlers rather than an event loop's
``add_signal_handler``: a loop's handlers exist only while it runs (none while modules import,
the config loads or the summary prints) and removing them puts back Python's
``KeyboardInterrupt`` for SIGINT and death for SIGTERM. These stay put across all of it, and
the loop still wakes for them at once: uvloop points :func:`signal.set_wakeup_fd` at its
self-pipe whenever it runs in the main thread. (Under another loop a handler runs at the
loop's next wake-up at the latest.)
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# No typing import: this module loads before the signal handlers exist, so it stays light.
Handler = Callable[[int, FrameType | None], object] | int | None
"""What :func:`signal.signal` takes and returns."""

Listener = Callable[[int], None]
"""Called from the signal handler with the number of stop signals received so far."""


class StopRequest:
    """Counts SIGINT/SIGTERM once :meth:`install` ran and tells the listeners.

    The handler only records and calls listeners, it never raises, so a signal cannot
    interrupt whatever the main thread was doing (an import, a ``finally`` block, a write).
    A listener runs inside the signal handler, between two bytecodes of arbitrary code: it
    must only hand over, e.g. with ``loop.call_soon_threadsafe``.
    """

    def __init__(self) -> None:
        self.signals: list[int] = []
        """The stop signals received, in order."""
        self._listeners: list[Listener] = []
        self._previous: dict[int, Handler] = {}

    @property
    def count(self) -> int:
        """How many stop signals arrived."""
        return len(self.signals)

    def install(self) -> None:
        """Takes over SIGINT and SIGTERM (main thread only); :meth:`restore` gives them back.

        A signal ignored already stays ignored: whoever started the process chose so (a
        non-interactive shell does for SIGINT in ``tradegw run &``), as Python itself does.
        """
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue
            previous = signal.signal(sig, self._on_signal)
            self._previous.setdefault(sig, previous)

    def restore(self) -> None:
        """Puts back the handlers :meth:`install` replaced."""
        for sig, previous in self._previous.items():
            # None: the previous handler was not installed from Python; the default is the
            # closest equivalent.
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()

    def ignore(self) -> None:
        """Ignores both signals from now on, for a process about to exit: the interpreter's
        finalization puts the default action back in place of any Python handler (so a
        signal then would kill the process, SIGINT and SIGTERM alike), but leaves SIG_IGN."""
        for sig in self._previous:
            signal.signal(sig, signal.SIG_IGN)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Calls ``listener`` on every later stop signal; returns what stops that."""
        self._listeners.append(listener)

        def forget() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return forget

    def trigger(self, signum: int = signal.SIGTERM) -> None:
        """Acts as if stop signal ``signum`` arrived: for code that runs a gateway in its own
        process (tests, an embedding application) and decides itself when it should stop."""
        self._on_signal(signum, None)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)
        for listener in list(self._listeners):
            # A failing listener must not turn the signal into an exception in whatever code
            # the main thread was running.
            with contextlib.suppress(Exception):
                listener(len(self.signals))
