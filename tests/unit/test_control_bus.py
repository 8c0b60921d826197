"""The control bus (``tradegw.bus``): every message answered by an Ack, errors that say what
was wrong, routing from the next event, and state in SQLite that a restart restores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit._factories import exec_report, make_dispatcher, ticker, trade
from tradegw.bus.control import ControlBus
from tradegw.bus.messages import Ack, Subscribe
from tradegw.bus.store import ControlStore
from tradegw.config.models import TradingMode
from tradegw.consumers.subscription import Subscription
from tradegw.dispatch import Dispatcher, RouteFilter
from tradegw.schema import Event

pytestmark = pytest.mark.timeout(30)

SYMBOLS = {
    "kraken": frozenset({"BTC-USD", "ETH-USD"}),
    "coinbase": frozenset({"BTC-USD", "SOL-USD"}),
}


class FakeGateway:
    """What the bus changes: a real dispatcher, named consumers, merges kept in a list."""

    def __init__(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher = dispatcher or make_dispatcher()
        self.trading_mode: TradingMode = "enabled"
        self.consumers: dict[str, Subscription] = {}
        self.symbols: dict[str, frozenset[str] | None] = dict(SYMBOLS)
        self.merges: dict[str, tuple[str, list[str], float, int, int]] = {}

    @property
    def routing_version(self) -> int:
        return self.dispatcher.routing.version

    def consumer(self, name: str) -> Subscription:
        sub = self.consumers.get(name)
        if sub is None:
            sub = self.consumers[name] = self.dispatcher.subscribe(name=name)
            sub.set_filter("", None)
        return sub

    def find_consumer(self, name: str) -> Subscription | None:
        return self.consumers.get(name)

    def consumer_names(self) -> Iterable[str]:
        return list(self.consumers)

    def venue_symbols(self) -> Mapping[str, frozenset[str] | None]:
        return self.symbols

    def merge(
        self, symbol: str, venues: list[str], *, window_s: float, max_events: int, depth: int
    ) -> str:
        merge_id = f"merge-{len(self.merges) + 1}"
        self.merges[merge_id] = (symbol, venues, window_s, max_events, depth)
        return merge_id

    def unmerge(self, merge_id: str) -> None:
        del self.merges[merge_id]


def bus_for(tmp_path: Path | None = None) -> tuple[ControlBus, FakeGateway, ControlStore]:
    gw = FakeGateway()
    store = ControlStore(None if tmp_path is None else tmp_path / "state.sqlite")
    return ControlBus(gw, store), gw, store


def drain(sub: Subscription) -> list[Event]:
    out: list[Event] = []
    while (ev := sub.get_nowait()) is not None:
        out.append(ev)
    return out


def ok(ack: Ack) -> Ack:
    assert ack.ok, ack.error
    return ack


# ---- subscribe / unsubscribe ----


def test_a_subscription_routes_from_the_very_next_event() -> None:
    bus, gw, _ = bus_for()
    d = gw.dispatcher
    d.publish(trade("BTC-USD", trade_id="before"))
    ack = ok(
        bus.handle(
            {
                "type": "Subscribe",
                "consumer": "alpha",
                "venues": ["kraken"],
                "symbols": ["BTC-USD"],
                "types": ["Trade"],
                "request_id": "r1",
            }
        )
    )
    assert ack.type == "Subscribe"
    assert ack.request_id == "r1"
    assert ack.subscription_id
    assert ack.routing_version == d.routing.version
    d.publish(trade("BTC-USD", trade_id="after"))
    d.publish(trade("ETH-USD", trade_id="other symbol"))
    d.publish(ticker("BTC-USD"))
    got = drain(gw.consumers["alpha"])
    assert [e.trade_id for e in got] == ["after"]  # type: ignore[attr-defined]
    assert got[0].routing_version == ack.routing_version


def test_subscriptions_add_up_and_one_can_be_removed() -> None:
    bus, gw, _ = bus_for()
    d = gw.dispatcher
    a = ok(bus.handle({"type": "Subscribe", "consumer": "c", "types": ["Trade"]}))
    b = ok(bus.handle({"type": "Subscribe", "consumer": "c", "types": ["Ticker"]}))
    d.publish(trade())
    d.publish(ticker())
    assert [e.event_type for e in drain(gw.consumers["c"])] == ["Trade", "Ticker"]
    ack = ok(
        bus.handle({"type": "Unsubscribe", "consumer": "c", "subscription_id": a.subscription_id})
    )
    assert ack.routing_version > b.routing_version
    d.publish(trade())
    d.publish(ticker())
    assert [e.event_type for e in drain(gw.consumers["c"])] == ["Ticker"]
    ok(bus.handle({"type": "Unsubscribe", "consumer": "c"}))
    d.publish(ticker())
    assert drain(gw.consumers["c"]) == []


def test_a_consumer_keeps_what_was_queued_when_unsubscribed() -> None:
    bus, gw, _ = bus_for()
    ok(bus.handle({"type": "Subscribe", "consumer": "c"}))
    gw.dispatcher.publish(exec_report("c-1", 1))
    ok(bus.handle({"type": "Unsubscribe", "consumer": "c"}))
    assert [e.event_type for e in drain(gw.consumers["c"])] == ["ExecReport"]


def test_a_budget_in_a_subscribe_is_the_consumers_budget() -> None:
    bus, gw, _ = bus_for()
    ok(bus.handle({"type": "Subscribe", "consumer": "c", "budget": {"rate": 5, "burst": 2}}))
    assert gw.consumers["c"].budget == (5.0, 2.0)
    for i in range(5):
        gw.dispatcher.publish(trade(trade_id=str(i)))
    assert len(drain(gw.consumers["c"])) == 2  # the burst; the rest waits for tokens


def test_the_same_subscription_id_replaces_instead_of_adding() -> None:
    bus, gw, _ = bus_for()
    msg = {"type": "Subscribe", "consumer": "c", "subscription_id": "mine", "types": ["Trade"]}
    ok(bus.handle(msg))
    ok(bus.handle({**msg, "types": ["Ticker"]}))
    assert set(gw.consumers["c"].filters) == {"mine"}
    assert gw.consumers["c"].filters["mine"] == RouteFilter.of(None, None, ["Ticker"])


# ---- every kind of wrong gets an error Ack, and nothing changes ----


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        ("42", "JSON object"),
        ({"consumer": "c"}, "type"),
        ({"type": "Teleport"}, "type"),
        ({"type": "Subscribe"}, "field 'consumer': Field required"),
        ({"type": "Subscribe", "consumer": "c", "venues": ["ftx"]}, "unknown venue 'ftx'"),
        ({"type": "Subscribe", "consumer": "c", "symbols": ["DOGE-USD"]}, "unknown symbol"),
        (
            {"type": "Subscribe", "consumer": "c", "venues": ["kraken"], "symbols": ["SOL-USD"]},
            "unknown symbol 'SOL-USD' on kraken",
        ),
        ({"type": "Subscribe", "consumer": "c", "types": ["Quote"]}, "types[0]"),
        ({"type": "Subscribe", "consumer": "a b"}, "consumer"),
        ({"type": "Subscribe", "consumer": "c", "surprise": 1}, "surprise"),
        ({"type": "Subscribe", "consumer": "c", "budget": {"rate": -1}}, "budget.rate"),
        ({"type": "Unsubscribe", "consumer": "nobody"}, "unknown consumer 'nobody'"),
        ({"type": "SetTradingMode", "mode": "yolo"}, "mode"),
        (
            {"type": "MergedSubscribe", "consumer": "c", "symbol": "BTC-USD", "venues": ["kraken"]},
            "venues",
        ),
        (
            {
                "type": "MergedSubscribe",
                "consumer": "c",
                "symbol": "BTC-USD",
                "venues": ["kraken", "coinbase"],
                "window_s": 0,
            },
            "window_s",
        ),
        (
            {
                "type": "MergedSubscribe",
                "consumer": "c",
                "symbol": "BTC-USD",
                "venues": ["kraken", "kraken"],
            },
            "repeated venue",
        ),
        (
            {
                "type": "MergedSubscribe",
                "consumer": "c",
                "symbol": "ETH-USD",
                "venues": ["kraken", "coinbase"],
            },
            "unknown symbol 'ETH-USD' on coinbase",
        ),
        (b"x" * 70_000, "longer than"),
    ],
)
def test_a_wrong_message_gets_an_error_ack_and_changes_nothing(message: Any, says: str) -> None:
    bus, gw, _ = bus_for()
    version = gw.routing_version
    ack = bus.handle(message)
    assert not ack.ok
    assert ack.error is not None
    assert says in ack.error, ack.error
    assert "\n" not in ack.error
    assert gw.routing_version == version
    assert gw.consumers == {}
    assert gw.merges == {}
    assert gw.trading_mode == "enabled"


def test_a_message_with_every_field_wrong_names_them_all() -> None:
    bus, _, _ = bus_for()
    ack = bus.handle(
        {
            "type": "Subscribe",
            "request_id": "r-7",
            "consumer": "",
            "venues": "kraken",
            "symbols": [1],
            "types": ["Nope"],
            "budget": {"rate": "fast"},
            "extra": True,
        }
    )
    assert not ack.ok
    assert ack.request_id == "r-7"
    assert ack.type == "Subscribe"
    assert ack.error is not None
    for name in ("consumer", "venues", "symbols[0]", "types[0]", "budget.rate"):
        assert name in ack.error, (name, ack.error)
    assert bus.refused == 1


def test_a_symbol_is_refused_while_its_venue_has_not_loaded_its_symbols() -> None:
    bus, gw, _ = bus_for()
    gw.symbols["binance"] = None
    ack = bus.handle({"type": "Subscribe", "consumer": "c", "symbols": ["BTC-USDT"]})
    assert not ack.ok
    assert "binance has not loaded its symbols yet" in (ack.error or "")


def test_a_bug_in_applying_is_an_error_ack_not_an_exception() -> None:
    bus, gw, _ = bus_for()

    def broken(name: str) -> Subscription:
        raise RuntimeError("boom")

    gw.consumer = broken  # type: ignore[method-assign]
    ack = bus.handle({"type": "Subscribe", "consumer": "c"})
    assert not ack.ok
    assert ack.error == "internal error: RuntimeError: boom"


# ---- merges and the trading switch ----


def test_a_merged_subscribe_starts_a_merge_and_routes_its_events() -> None:
    bus, gw, _ = bus_for()
    ack = ok(
        bus.handle(
            {
                "type": "MergedSubscribe",
                "consumer": "spread",
                "symbol": "BTC-USD",
                "venues": ["kraken", "coinbase"],
                "window_s": 2.5,
                "max_events": 50,
            }
        )
    )
    assert ack.merge_id in gw.merges
    assert gw.merges[ack.merge_id] == ("BTC-USD", ["kraken", "coinbase"], 2.5, 50, 10)
    sub = gw.consumers["spread"]
    assert sub.wants("merged", "BTC-USD", "MergedBookSnapshot")
    assert not sub.wants("kraken", "BTC-USD", "BookUpdate")
    ok(bus.handle({"type": "Unsubscribe", "consumer": "spread"}))
    assert gw.merges == {}


def test_the_trading_mode_is_set_and_answered() -> None:
    bus, gw, _ = bus_for()
    ack = ok(bus.handle({"type": "SetTradingMode", "mode": "disabled"}))
    assert ack.trading_mode == "disabled"
    assert gw.trading_mode == "disabled"


def test_state_lists_consumers_merges_and_mode() -> None:
    bus, _, _ = bus_for()
    ok(bus.handle(Subscribe(type="Subscribe", consumer="c", types=["Trade"])))
    ok(
        bus.handle(
            {
                "type": "MergedSubscribe",
                "consumer": "m",
                "symbol": "BTC-USD",
                "venues": ["kraken", "coinbase"],
            }
        )
    )
    state = ok(bus.handle(b'{"type": "State"}')).state
    assert state is not None
    (filt,) = state["consumers"]["c"]["subscriptions"].values()
    assert filt == {"venues": None, "symbols": None, "types": ["Trade"]}
    (merge,) = state["merges"].values()
    assert merge["venues"] == ["kraken", "coinbase"]
    assert state["trading_mode"] == "enabled"
    orjson.dumps(state)  # it is plain JSON


# ---- a restart restores the state ----


def test_a_restart_restores_subscriptions_budgets_merges_and_mode(tmp_path: Path) -> None:
    bus, _, store = bus_for(tmp_path)
    sid = ok(
        bus.handle(
            {
                "type": "Subscribe",
                "consumer": "c",
                "venues": ["kraken"],
                "types": ["Trade"],
                "budget": {"rate": 100},
            }
        )
    ).subscription_id
    gone = ok(bus.handle({"type": "Subscribe", "consumer": "c", "types": ["Ticker"]}))
    unsubscribe = {"type": "Unsubscribe", "consumer": "c", "subscription_id": gone.subscription_id}
    ok(bus.handle(unsubscribe))
    ok(
        bus.handle(
            {
                "type": "MergedSubscribe",
                "consumer": "m",
                "symbol": "BTC-USD",
                "venues": ["kraken", "coinbase"],
                "max_events": 7,
            }
        )
    )
    ok(bus.handle({"type": "SetTradingMode", "mode": "cancel_only"}))
    store.close()

    # A new process: a fresh gateway, the same file.
    gw2 = FakeGateway()
    store2 = ControlStore(tmp_path / "state.sqlite")
    ControlBus(gw2, store2).restore()
    c = gw2.consumers["c"]
    assert set(c.filters) == {sid}
    assert c.filters[sid] == RouteFilter.of(["kraken"], None, ["Trade"])
    assert c.budget == (100.0, 100.0)
    assert list(gw2.merges.values()) == [("BTC-USD", ["coinbase", "kraken"], 10.0, 7, 10)]
    assert gw2.consumers["m"].wants("merged", "BTC-USD", "MergedBookSnapshot")
    assert gw2.trading_mode == "cancel_only"
    # Events are not replayed: nothing is queued for a restored consumer.
    assert len(c) == 0
    gw2.dispatcher.publish(trade())
    assert len(drain(c)) == 1


def test_a_state_file_of_another_schema_is_refused_with_its_path(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    from tradegw.errors import ConfigError

    with pytest.raises(ConfigError, match=r"state\.sqlite: control state schema 99"):
        ControlStore(path)


def test_a_state_file_that_is_not_sqlite_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    from tradegw.errors import ConfigError

    with pytest.raises(ConfigError, match=r"state\.sqlite: control state cannot be opened"):
        ControlStore(path)
