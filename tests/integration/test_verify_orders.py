"""``tradegw verify``'s order criteria (SC-003, SC-007, SC-008) on the three simulators in
child processes, with real orders through their order faults: the quick run passes, the
issue's own 30 s stall passes, and each measure fails when what it guards is broken — a
venue adapter that sends every order twice, a trading switch that lets orders through, an
ExecReport lost on its way to the consumers. (The gateway runs in this process, so the
breakage is patched into it; the simulators count at the venue.)"""

from __future__ import annotations

import contextlib

import pytest

from tradegw.conductor.conductor import Conductor
from tradegw.orders.entry import OrderEntry
from tradegw.orders.instrument import OrderInstrument
from tradegw.orders.record import OrderRecord
from tradegw.orders.requests import OrderRequest
from tradegw.orders.venue import PlaceResult
from tradegw.providers.binance.orders import BinanceOrderVenue
from tradegw.schema import Event, ExecReport
from tradegw.verify.outcome import Outcome
from tradegw.verify.session import run_verify

VENUES = {"binance", "coinbase", "kraken"}


async def _one(criterion: str, *, quick: bool = True) -> Outcome:
    report = await run_verify([criterion], quick=quick)
    (outcome,) = report.outcomes
    assert outcome.criterion == criterion
    return outcome


@pytest.mark.timeout(120)
async def test_the_order_criteria_pass_on_three_venues_through_the_faults() -> None:
    report = await run_verify(["SC-003", "SC-007", "SC-008"], quick=True)
    got = {o.criterion: o for o in report.outcomes}
    for o in got.values():
        assert o.passed is True, (o.criterion, o.value, o.note)
    assert report.passed

    reports = got["SC-003"].figures
    assert got["SC-003"].value == 100.0
    assert set(reports["venues"]) == VENUES
    assert reports["real_reports"] > 50
    assert reports["injected"] == 10_000
    assert reports["delivered_to_stalled"] == reports["real_reports"] + 10_000
    assert reports["fills"] > 0
    assert reports["stalled_market_data"]["coalesced"] > 0

    ids = got["SC-007"].figures
    assert got["SC-007"].value == 100.0
    assert ids["ids"] == 90
    assert ids["submits"] > ids["ids"]
    assert ids["restarts"] == 1
    assert ids["twice_at_once"] > 0
    assert ids["reused_after_close"] > 0
    assert ids["duplicate_orders"] == dict.fromkeys(VENUES, 0)
    assert sum(ids["faults"].values()) > 0
    assert ids["fills_announced_twice"] == ids["fills_not_announced"] == 0

    switch = got["SC-008"].figures
    assert got["SC-008"].value == 0
    assert switch["submitted_per_direction"] == 30
    assert switch["reached_while_disabled"] == 0
    assert switch["order_requests_while_disabled"] == dict.fromkeys(VENUES, 0)
    assert switch["blocked_while_enabled"] == dict.fromkeys(VENUES, 0)


@pytest.mark.timeout(150)
async def test_a_consumer_stalled_30_s_gets_every_exec_report_in_order() -> None:
    # The issue's own figure, not the quick form: the full scenario (a 30 s stall).
    outcome = await _one("SC-003", quick=False)
    assert outcome.passed is True, (outcome.value, outcome.note)
    figures = outcome.figures
    assert figures["stall_s"] >= 30
    assert figures["real_reports"] > 500
    assert figures["delivered_to_stalled"] == figures["real_reports"] + 10_000


@pytest.mark.timeout(90)
async def test_an_adapter_that_sends_every_order_twice_fails_sc007(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place = BinanceOrderVenue.place

    async def twice(self: BinanceOrderVenue, order: OrderRecord) -> PlaceResult:
        first = await place(self, order)
        with contextlib.suppress(Exception):
            await place(self, order)
        return first

    monkeypatch.setattr(BinanceOrderVenue, "place", twice)
    outcome = await _one("SC-007")
    assert outcome.passed is False
    assert outcome.value is not None
    assert outcome.value < 100
    assert outcome.figures["duplicate_orders"]["binance"] > 0
    assert outcome.figures["duplicate_orders"]["kraken"] == 0
    assert outcome.figures["ids_with_several_orders"]
    assert "duplicate orders at the simulators" in outcome.note


@pytest.mark.timeout(90)
async def test_a_switch_that_lets_orders_through_fails_sc008(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusal = OrderEntry._refusal

    def leaky(
        self: OrderEntry, request: OrderRequest, instrument: OrderInstrument | None
    ) -> str | None:
        mode = self._mode
        self._mode = lambda: "enabled"  # the switch is never read
        try:
            return refusal(self, request, instrument)
        finally:
            self._mode = mode

    monkeypatch.setattr(OrderEntry, "_refusal", leaky)
    outcome = await _one("SC-008")
    assert outcome.passed is False
    assert outcome.value == outcome.figures["reached_while_disabled"] > 0
    assert sum(outcome.figures["order_requests_while_disabled"].values()) > 0
    assert outcome.figures["not_refused_while_disabled"] == 30


@pytest.mark.timeout(90)
async def test_an_exec_report_lost_on_its_way_fails_sc003(monkeypatch: pytest.MonkeyPatch) -> None:
    publish = Conductor.publish
    lost: list[ExecReport] = []

    def lossy(self: Conductor, event: Event) -> None:
        # One report of a real order, not an injected one, never reaches the dispatcher.
        if isinstance(event, ExecReport) and event.client_order_id.startswith("fl") and not lost:
            lost.append(event)
            return
        publish(self, event)

    monkeypatch.setattr(Conductor, "publish", lossy)
    outcome = await _one("SC-003")
    assert len(lost) == 1
    assert outcome.passed is False
    assert outcome.value is not None
    assert outcome.value < 100
    stream = f"{lost[0].provider} {lost[0].symbol}"
    assert f"stalled {stream}" in outcome.note
    assert "1 missing" in outcome.note
