"""The ``shard`` section and the merge role's config: every mistake names the file and the
field; a shard runs what it owns and nothing else; which shard takes a control message sent to
all of them; a contested stream's market data is held back from the sink, its ExecReports
are not; claim keys are valid key-value keys."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tradegw.bus.messages import CONTROL_MESSAGE, Subscribe
from tradegw.cli import EXIT_BAD_CONFIG, main
from tradegw.config import load_config
from tradegw.config.models import GatewayConfig
from tradegw.errors import ConfigError
from tradegw.gateway import Gateway
from tradegw.natsbus import control_routing
from tradegw.natsbus.shard import stream_kv_key

pytestmark = pytest.mark.timeout(30)

VENUES = """
venues:
  kraken: {symbols: [BTC/USD, ETH/USD]}
  coinbase: {symbols: [BTC-USD, ETH-USD]}
  binance: {symbols: [BTCUSDT], enabled: false}
sinks: {nats: {enabled: true}}
telemetry: {dlq_path: null}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shard.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("shard", "field", "says"),
    [
        ("{name: a, owns: {kraken: [DOGE/USD]}}", "shard.owns.kraken[0]", "not one of"),
        ("{name: a, owns: {kraken: [BTC/USD, BTC/USD]}}", "shard.owns.kraken[1]", "twice"),
        ("{name: a, owns: {kraken: []}}", "shard.owns.kraken", "at least one symbol"),
        ("{name: a, owns: {bitstamp: all}}", "shard.owns.bitstamp", "unknown venue"),
        ("{name: a, owns: {binance: all}}", "shard.owns.binance", "no enabled section"),
        ("{name: a}", "shard.owns", "at least one venue"),
        ("{name: 'a.b', owns: {kraken: all}}", "shard.name", "pattern"),
        ("{owns: {kraken: all}}", "shard.name", "required"),
        ("{name: a, owns: {kraken: all}, claim_ttl_s: 0.5}", "shard.claim_ttl_s", "1"),
        ("{name: a, owns: {kraken: any}}", "shard.owns.kraken", "all"),
    ],
)
def test_a_bad_shard_section_names_the_file_and_the_field(
    tmp_path: Path, shard: str, field: str, says: str
) -> None:
    path = write(tmp_path, VENUES + f"shard: {shard}\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert str(path) in text
    assert f"field '{field}'" in text
    assert says in text


def test_a_shard_needs_nats_and_its_merges_need_owned_venues(tmp_path: Path) -> None:
    no_nats = VENUES.replace("enabled: true", "enabled: false")
    with pytest.raises(ConfigError, match=r"field 'sinks.nats.enabled': a shard publishes"):
        load_config(write(tmp_path, no_nats + "shard: {name: a, owns: {kraken: all}}\n"))
    merges = "merges: [{symbol: BTC-USD, venues: [kraken, coinbase]}]\n"
    with pytest.raises(ConfigError, match=r"merges\[0\].*does not own them"):
        load_config(write(tmp_path, VENUES + merges + "shard: {name: a, owns: {kraken: all}}\n"))
    config = load_config(
        write(tmp_path, VENUES + merges + "shard: {name: a, owns: {kraken: all, coinbase: all}}\n")
    )
    assert len(config.merges) == 1


def test_a_shard_runs_what_it_owns_and_nothing_else(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VENUES + "shard: {name: a, owns: {kraken: [ETH/USD]}}\n"))
    assert config.venues.kraken is not None
    assert config.venues.coinbase is not None
    assert config.venues.kraken.symbols == ["ETH/USD"]
    assert config.venues.kraken.enabled
    assert not config.venues.coinbase.enabled  # configured, not owned: not run
    gw = Gateway(config, urls={"kraken": "ws://127.0.0.1:1", "coinbase": "ws://127.0.0.1:1"})
    try:
        assert set(gw.providers) == {"kraken"}
        assert gw.shard is not None
        assert gw.shard.wanted() == [("kraken", "ETH/USD")]
    finally:
        gw.control_store.close()
        gw.order_ledger.close()
    # Without a shard section nothing changes.
    plain = load_config(write(tmp_path, VENUES))
    assert plain.venues.coinbase is not None
    assert plain.venues.coinbase.enabled
    assert plain.shard is None


def test_the_merge_role_reads_merges_of_any_venue_and_needs_nats(tmp_path: Path) -> None:
    text = """
merges: [{merge_id: btc, symbol: BTC-USD, venues: [kraken, coinbase], window_s: 1}]
sinks: {nats: {enabled: true}}
"""
    config = load_config(write(tmp_path, text), role="merge")
    assert config.merges[0].venues == ["kraken", "coinbase"]
    with pytest.raises(ConfigError, match="needs venues"):  # a gateway would run them
        load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"field 'sinks.nats.enabled': the merge role"):
        load_config(write(tmp_path, text.replace("true", "false")), role="merge")
    with pytest.raises(ConfigError, match=r"field 'shard.owns': a merge-role process runs no"):
        load_config(write(tmp_path, text + "shard: {name: m, owns: {kraken: all}}\n"), role="merge")
    named = load_config(write(tmp_path, text + "shard: {name: m1}\n"), role="merge")
    assert named.shard is not None
    assert named.shard.name == "m1"


def test_tradegw_run_role_merge_refuses_bad_setups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "merges: [{symbol: BTC-USD, venues: [kraken, coinbase]}]\n")
    assert main(["run", "--role", "merge", "--config", str(path)]) == EXIT_BAD_CONFIG
    assert "sinks.nats.enabled" in capsys.readouterr().err
    assert main(["run", "--role", "merge", "--demo-strategy"]) == EXIT_BAD_CONFIG
    assert "--role merge runs none" in capsys.readouterr().err


def test_ctl_shard_goes_with_nats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ctl", "--shard", "a", "state"]) == 2
    assert "--shard goes with --nats" in capsys.readouterr().err


def test_claim_keys_are_key_value_keys() -> None:
    assert stream_kv_key("kraken", "BTC/USD") == "stream.kraken.BTC/USD"
    assert stream_kv_key("merged", "BTC-USD") == "stream.merged.BTC-USD"
    assert stream_kv_key("x", "A.B C*é") == "stream.x.A=2EB=20C=2A=C3=A9"


# ---- which shard takes a message sent to every shard ----


class _Shard:
    def __init__(self, role: str, held: set[tuple[str, str]]) -> None:
        self.role = role
        self.held = held

    def holds(self, venue: str, symbol: str) -> bool:
        return (venue, symbol) in self.held


def _gateway(
    providers: list[str],
    symbols: dict[str, frozenset[str] | None],
    *,
    order_venues: list[str] = (),  # type: ignore[assignment]
    consumers: set[str] = frozenset(),  # type: ignore[assignment]
    orders: set[str] = frozenset(),  # type: ignore[assignment]
    merges: int = 0,
) -> Any:
    return SimpleNamespace(
        providers=dict.fromkeys(providers),
        venue_symbols=lambda: {**symbols, "merged": frozenset({"BTC-USD"} if merges else set())},
        conductor=SimpleNamespace(merges=lambda: [object()] * merges),
        find_consumer=lambda name: object() if name in consumers else None,
        order=lambda cid: object() if cid in orders else None,
        order_entry=SimpleNamespace(venue_names=lambda: list(order_venues)),
    )


def _route(raw: dict[str, Any], gw: Any, shard: _Shard) -> Any:
    return control_routing.route(
        CONTROL_MESSAGE.validate_python(raw), cast(Gateway, gw), cast(Any, shard)
    )


def test_a_message_to_every_shard_is_taken_where_it_is_about() -> None:
    kraken = _gateway(
        ["kraken"],
        {"kraken": frozenset({"BTC-USD", "ETH-USD"})},
        order_venues=["kraken"],
        consumers={"alpha"},
        orders={"k-1"},
    )
    shard = _Shard("gateway", {("kraken", "BTC-USD")})
    sub = {"type": "Subscribe", "consumer": "c"}
    assert isinstance(_route(sub, kraken, shard), Subscribe)
    assert _route({**sub, "venues": ["coinbase"]}, kraken, shard) == "no_venue"
    narrowed = _route(
        {**sub, "venues": ["kraken", "coinbase"], "symbols": ["ETH-USD", "SOL-USD"]}, kraken, shard
    )
    assert isinstance(narrowed, Subscribe)
    assert (narrowed.venues, narrowed.symbols) == (["kraken"], ["ETH-USD"])
    assert _route({**sub, "symbols": ["SOL-USD"]}, kraken, shard) == "no_symbol"
    loading = _gateway(["kraken"], {"kraken": None})
    kept = _route({**sub, "symbols": ["SOL-USD"]}, loading, shard)
    assert isinstance(kept, Subscribe)  # the bus says "try again once it is connected"
    assert _route({"type": "Unsubscribe", "consumer": "alpha"}, kraken, shard) != "no_consumer"
    assert _route({"type": "Unsubscribe", "consumer": "beta"}, kraken, shard) == "no_consumer"
    merge = {
        "type": "MergedSubscribe",
        "consumer": "m",
        "symbol": "BTC-USD",
        "venues": ["kraken", "coinbase"],
    }
    assert _route(merge, kraken, shard) == "no_merge_venues"
    assert _route(merge, _gateway([], {}), _Shard("merge", set())) != "no_merge_venues"
    order = {
        "venue": "kraken",
        "symbol": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "qty": "1",
        "price": "1",
    }
    assert _route({"type": "SubmitOrder", "order": order}, kraken, shard) != "not_holder"
    eth = {**order, "symbol": "ETH-USD"}
    assert _route({"type": "SubmitOrder", "order": eth}, kraken, shard) == "not_holder"
    elsewhere = {**order, "venue": "coinbase"}
    assert _route({"type": "SubmitOrder", "order": elsewhere}, kraken, shard) == "no_order_venue"
    assert (
        _route({"type": "OrderStatus", "client_order_id": "k-1"}, kraken, shard) != "unknown_order"
    )
    assert (
        _route({"type": "CancelOrder", "client_order_id": "k-2"}, kraken, shard) == "unknown_order"
    )
    assert _route({"type": "ListOrders", "venue": "coinbase"}, kraken, shard) == "no_order_venue"
    for raw in (
        {"type": "ListOrders"},
        {"type": "State"},
        {"type": "SetTradingMode", "mode": "disabled"},
    ):
        assert not isinstance(_route(raw, kraken, shard), str)


# ---- what the sink publishes while a stream is contested ----


async def test_a_contested_streams_market_data_is_held_back_from_the_sink() -> None:
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {"symbols": ["BTC/USD", "ETH/USD"]},
                "coinbase": {"symbols": ["BTC-USD"]},
            },
            "shard": {"name": "a", "owns": {"kraken": "all", "coinbase": "all"}},
            "telemetry": {"dlq_path": None},
            "sinks": {"nats": {"enabled": True, "servers": ["nats://127.0.0.1:1"]}},
        }
    )
    gw = Gateway(config, urls={"kraken": "ws://127.0.0.1:1", "coinbase": "ws://127.0.0.1:1"})
    assert gw.nats is not None
    assert gw.shard is not None
    shard = gw.shard
    await gw.nats.start()  # the sink's subscription; the connection is never made
    try:
        assert gw.nats.sink is not None
        sub = gw.nats.sink.sub
        shard.canonical = lambda key: key[1].replace("/", "-")  # type: ignore[method-assign]
        shard._revisions = {("kraken", "ETH/USD"): 1, ("coinbase", "BTC-USD"): 1}
        shard._contested = {("kraken", "BTC/USD"): "b"}
        shard.apply()
        assert not sub.wants("kraken", "BTC-USD", "BookUpdate")
        assert not sub.wants("kraken", "BTC-USD", "Trade")
        assert sub.wants("kraken", "ETH-USD", "BookUpdate")
        assert sub.wants("coinbase", "BTC-USD", "Trade")
        assert sub.wants("merged", "BTC-USD", "MergedBBO")
        shard._contested = {}
        shard.apply()
        assert sub.filters.keys() == {""}
        assert sub.wants("kraken", "BTC-USD", "BookUpdate")
    finally:
        await gw.stop()
