"""StopRequest: SIGINT/SIGTERM counted and handed to listeners, handlers given back."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tradegw.stopping import STOP_SIGNALS, StopRequest

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def saved_handlers() -> Iterator[None]:
    """Whatever a test does to the stop signals' handlers is undone after it."""
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.usefixtures("saved_handlers")
def test_signals_are_counted_and_listeners_told_until_they_stop_listening() -> None:
    request = StopRequest()
    heard: list[int] = []
    request.install()
    forget = request.listen(heard.append)
    signal.raise_signal(signal.SIGINT)  # the handler runs before this returns
    signal.raise_signal(signal.SIGTERM)
    forget()
    forget()  # twice is harmless
    signal.raise_signal(signal.SIGINT)
    assert heard == [1, 2]
    assert request.signals == [signal.SIGINT, signal.SIGTERM, signal.SIGINT]
    assert request.count == 3


@pytest.mark.usefixtures("saved_handlers")
def test_a_failing_listener_does_not_turn_the_signal_into_an_exception() -> None:
    request = StopRequest()
    request.install()

    def fail(count: int) -> None:
        raise RuntimeError("listener bug")

    request.listen(fail)
    signal.raise_signal(signal.SIGTERM)
    assert request.count == 1


@pytest.mark.usefixtures("saved_handlers")
def test_restore_gives_back_the_previous_handlers() -> None:
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    request = StopRequest()
    request.install()
    request.install()  # a second install must not lose the first's previous handlers
    assert all(signal.getsignal(sig) != before[sig] for sig in STOP_SIGNALS)
    request.restore()
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before


@pytest.mark.usefixtures("saved_handlers")
def test_an_ignored_signal_stays_ignored_and_ignore_covers_the_rest() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    request = StopRequest()
    request.install()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    request.ignore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
