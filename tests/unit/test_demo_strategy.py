"""The demo strategy's decisions without a venue: prices on the tick and on the right side of
the spread, sizes on the lot and above the minimums, sides within the position limit and
what the account can pay, the checks it makes of the ExecReports it receives, and its
config switch."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit._factories import book_snapshot, book_status, exec_report
from tests.unit.test_console import dummy_gateway
from tradegw.cli import main
from tradegw.config import load_config
from tradegw.config.models import DemoStrategyConfig
from tradegw.consumers.demo_strategy import TouchQuoter, order_qty, price_for
from tradegw.consumers.demo_wallet import DemoWallet
from tradegw.errors import ConfigError
from tradegw.gateway import Gateway
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.instrument import OrderInstrument, check_order
from tradegw.orders.requests import OrderRequest
from tradegw.schema import ExecReport, ExecState

pytestmark = pytest.mark.timeout(30)

BTC = OrderInstrument.of(
    "BTC-USD", "BTC/USD", price_increment="0.1", qty_increment="0.00000001", min_qty="0.0001"
)


# ---- sizes and prices ----


def test_the_order_is_the_smallest_the_instrument_takes_times_lots() -> None:
    assert order_qty(BTC, Decimal("45000"), 1) == Decimal("0.0001")
    assert order_qty(BTC, Decimal("45000"), 3) == Decimal("0.0003")
    notional = dataclasses.replace(BTC, min_notional=Decimal("10"))
    # 10 / 45000 = 0.000222..., up to the next lot.
    assert order_qty(notional, Decimal("45000"), 1) == Decimal("0.00022223")
    coarse = OrderInstrument.of(
        "X-USD", "X", price_increment="1", qty_increment="0.001", min_qty="0.0015"
    )
    assert order_qty(coarse, Decimal("10"), 1) == Decimal("0.002")
    capped = dataclasses.replace(BTC, max_qty=Decimal("0.0002"))
    assert order_qty(capped, Decimal("45000"), 3) is None


def test_prices_rest_at_or_behind_the_touch_and_cross_to_the_far_one() -> None:
    bid, ask, tick = Decimal("100.05"), Decimal("100.25"), Decimal("0.1")
    assert price_for("buy", bid, ask, tick, crossing=False) == Decimal("100.0")
    assert price_for("buy", bid, ask, tick, crossing=False, behind=1) == Decimal("99.9")
    assert price_for("sell", bid, ask, tick, crossing=False) == Decimal("100.3")
    assert price_for("sell", bid, ask, tick, crossing=False, behind=1) == Decimal("100.4")
    assert price_for("buy", bid, ask, tick, crossing=True) == Decimal("100.3")
    assert price_for("sell", bid, ask, tick, crossing=True) == Decimal("100.0")
    assert price_for("buy", Decimal("0.1"), Decimal("0.2"), tick, crossing=False, behind=1) is None


decimals = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8)


@given(
    bid=decimals,
    spread=decimals,
    tick=st.sampled_from([Decimal("0.1"), Decimal("0.01"), Decimal("0.00001"), Decimal("0.5")]),
    lot=st.sampled_from([Decimal("0.00000001"), Decimal("0.001"), Decimal("1")]),
    side=st.sampled_from(["buy", "sell"]),
    crossing=st.booleans(),
    behind=st.integers(0, 1),
)
def test_every_order_decided_passes_the_entrys_checks(
    bid: Decimal,
    spread: Decimal,
    tick: Decimal,
    lot: Decimal,
    side: str,
    crossing: bool,
    behind: int,
) -> None:
    ask = bid + spread
    price = price_for(side, bid, ask, tick, crossing=crossing, behind=behind)
    if price is None:
        return
    instrument = OrderInstrument.of(
        "X-USD",
        "X",
        price_increment=str(tick),
        qty_increment=str(lot),
        min_qty=str(lot * 3),
        min_notional="0.5",
    )
    qty = order_qty(instrument, price, 2)
    assert qty is not None
    request = OrderRequest(
        venue="v",
        symbol="X-USD",
        side=side,  # type: ignore[arg-type]
        type="limit",
        qty=format(qty, "f"),
        price=format(price, "f"),
    )
    assert check_order(request, instrument) is None
    if crossing:
        assert price >= ask if side == "buy" else price <= bid
    else:
        assert price < ask if side == "buy" else price > bid


# ---- the wallet ----


def fill(
    cid: str,
    side: str,
    qty: str,
    price: str,
    *,
    state: ExecState = ExecState.PARTIAL,
    fee: str | None = None,
) -> ExecReport:
    return dataclasses.replace(
        exec_report(cid, 1, state=state),
        side=side,  # type: ignore[arg-type]
        last_fill_qty=qty,
        last_fill_price=price,
        fee=fee,
        fee_asset=None if fee is None else "USD",
    )


def test_the_wallet_holds_back_what_open_orders_may_spend() -> None:
    wallet = DemoWallet({"USD": Decimal("100"), "BTC": Decimal("0")})
    price, qty = Decimal("45000"), Decimal("0.001")
    assert not wallet.affords("sell", "BTC-USD", price, qty)  # no BTC
    assert wallet.affords("buy", "BTC-USD", price, qty)
    wallet.hold("a", "buy", "BTC-USD", price, qty)  # 45 USD and a 1 % fee margin
    assert wallet.available("USD") == Decimal("54.55")
    wallet.hold("b", "buy", "BTC-USD", price, qty)
    assert not wallet.affords("buy", "BTC-USD", price, qty)
    wallet.on_report(fill("a", "buy", "0.0005", "44990", fee="0.05"))
    assert wallet.total("BTC") == Decimal("0.0005")
    assert wallet.total("USD") == Decimal("100") - Decimal("22.495") - Decimal("0.05")
    assert wallet.affords("sell", "BTC-USD", price, Decimal("0.0005"))
    wallet.on_report(dataclasses.replace(exec_report("b", 2), state=ExecState.CANCELLED))
    assert wallet.affords("buy", "BTC-USD", price, qty)  # b's hold let go
    # Balances not known: the venue decides.
    assert DemoWallet(None).affords("buy", "BTC-USD", price, Decimal("1000"))


# ---- the strategy over a gateway that is never started ----


def quoter(
    gw: Gateway, balances: dict[str, Decimal] | None = None, **config: object
) -> TouchQuoter:
    cfg = DemoStrategyConfig.model_validate({"symbols": ["BTC-USD"], **config})
    bal = {"fake": (balances, Decimal(0))} if balances is not None else None
    return TouchQuoter(gw, cfg, ["fake"], balances=bal, seed=7)  # type: ignore[arg-type]


def gateway_with_fake_venue() -> Gateway:
    gw = dummy_gateway()
    gw.register_order_venue("fake", FakeOrderVenue())
    return gw


def synced_book(q: TouchQuoter, bid: str = "45000.0", ask: str = "45000.5") -> None:
    q.on_event(
        book_snapshot("BTC-USD", 1, bids=[(bid, "1.0")], asks=[(ask, "1.0")], provider="fake")
    )


def test_it_quotes_only_synced_books_and_crosses_every_nth_order() -> None:
    gw = gateway_with_fake_venue()
    q = quoter(gw, cross_every=3)
    assert q.decide("fake") is None  # no book yet
    synced_book(q)
    q.on_event(book_status("BTC-USD", 2, state="resyncing", reason="gap", provider="fake"))
    assert q.decide("fake") is None  # a book being resynced is not quoted
    synced_book(q)
    crossing = []
    for _ in range(6):
        quote = q.decide("fake")
        assert quote is not None
        assert quote.qty == Decimal("0.0001")
        if quote.crossing:
            assert quote.price == (
                Decimal("45000.5") if quote.side == "buy" else Decimal("45000.0")
            )
        else:
            assert (
                quote.price <= Decimal("45000.0")
                if quote.side == "buy"
                else quote.price >= Decimal("45000.5")
            )
        crossing.append(quote.crossing)
        q._count += 1  # as placing it does
    assert crossing == [False, False, True, False, False, True]


def test_the_position_limit_and_the_balances_choose_the_side() -> None:
    gw = gateway_with_fake_venue()
    q = quoter(gw, max_position_lots=2)
    synced_book(q)
    q._position[("fake", "BTC-USD")] = Decimal("0.0002")  # two orders long: sell only
    assert {q.decide("fake").side for _ in range(10)} == {"sell"}  # type: ignore[union-attr]
    poor = quoter(gw, balances={"USD": Decimal("1"), "BTC": Decimal("1")})
    synced_book(poor)
    assert {poor.decide("fake").side for _ in range(10)} == {"sell"}  # type: ignore[union-attr]
    broke = quoter(gw, balances={"USD": Decimal("1")})
    synced_book(broke)
    assert broke.decide("fake") is None
    assert broke.stats.unaffordable == 1


def test_it_counts_exec_reports_out_of_order_and_states_going_back() -> None:
    q = quoter(gateway_with_fake_venue())
    for seq, state in ((5, ExecState.ACK), (6, ExecState.FILLED)):
        q.on_event(exec_report("x", seq, state=state, provider="fake"))
    assert (q.stats.reports, q.stats.out_of_order, q.stats.state_regressions) == (2, 0, 0)
    q.on_event(exec_report("x", 8, state=ExecState.ACK, provider="fake"))  # 7 missing, and back
    assert (q.stats.out_of_order, q.stats.state_regressions) == (1, 1)
    q.on_event(exec_report("y", 8, state=ExecState.ACK, provider="fake"))  # 8 again
    assert q.stats.out_of_order == 2
    # Another stream is numbered on its own.
    q.on_event(exec_report("z", 1, symbol="ETH-USD", state=ExecState.ACK, provider="fake"))
    assert q.stats.out_of_order == 2


# ---- the switch ----


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(text, encoding="utf-8")
    return path


LIVE_KRAKEN = (
    "venues:\n  kraken:\n    ws_url: wss://ws.kraken.com/v2\n    rest_url: https://api.kraken.com\n"
)


def test_the_switch_is_off_by_default_and_its_errors_name_the_field_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not load_config().demo_strategy.enabled
    assert load_config(demo_strategy=True).demo_strategy.enabled
    bad = write(tmp_path, "demo_strategy:\n  enabled: true\n  interval_s: 0\n  venues: [nyse]\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    message = str(info.value)
    assert f"{bad}: field 'demo_strategy.interval_s'" in message
    assert f"{bad}: field 'demo_strategy.venues': Value error, unknown venues ['nyse']" in message
    live = write(tmp_path, LIVE_KRAKEN)
    assert not load_config(live).demo_strategy.enabled  # off: a live config is fine
    with pytest.raises(ConfigError, match=r"gw\.yaml: field 'demo_strategy': .*simulator"):
        load_config(live, demo_strategy=True)
    assert main(["run", "--config", str(live), "--demo-strategy", "--duration", "0"]) == 2
    err = capsys.readouterr().err
    assert f"tradegw: bad config: {live}: field 'demo_strategy'" in err
    named = write(
        tmp_path, LIVE_KRAKEN + "  coinbase: {}\ndemo_strategy: {enabled: true, venues: [kraken]}\n"
    )
    with pytest.raises(ConfigError, match=r"venues \['kraken'\] do not run on a simulator"):
        load_config(named)
