"""The NATS wire (subjects, tokens, ExecReport ids), the remote decoder, the sinks config
section and the ledger identity the ids are made of (the ExecReport outbox the sink reads:
test_exec_outbox.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit._factories import book_update, exec_report, trade
from tradegw.config import GatewayConfig, load_config
from tradegw.dispatch.routing import RouteFilter
from tradegw.errors import ConfigError
from tradegw.natsbus.wire import (
    ExecId,
    Subjects,
    exec_msg_id,
    parse_exec_msg_id,
    stream_key,
    symbol_token,
    token_symbol,
)
from tradegw.orders.ledger import OrderLedger
from tradegw.remote.client import _patterns
from tradegw.remote.decode import decode_event
from tradegw.schema import to_json

pytestmark = pytest.mark.timeout(10)


def test_subjects() -> None:
    s = Subjects()
    assert s.md("kraken", "BTC-USD", "BookUpdate") == "tradegw.md.kraken.BTC-USD.diff"
    assert s.md("merged", "BTC-USD", "MergedBBO") == "tradegw.md.merged.BTC-USD.bbo"
    assert s.exec("coinbase", "ETH-USD") == "tradegw.exec.coinbase.ETH-USD"
    assert s.snapshot("kraken", "A.B") == "tradegw.snapshot.kraken.A%2EB"
    assert s.parse_snapshot("tradegw.snapshot.kraken.A%2EB") == ("kraken", "A.B")
    assert s.parse_snapshot("tradegw.snapshot.kraken") is None
    assert s.parse_snapshot("other.snapshot.kraken.X") is None
    assert Subjects("a.b").control == "a.b.control"
    with pytest.raises(ValueError, match="prefix"):
        Subjects("a..b")


@pytest.mark.parametrize("symbol", ["BTC-USD", "A.B", "x*y>z", "50%", "a b"])
def test_symbol_tokens_round_trip_and_are_one_token(symbol: str) -> None:
    token = symbol_token(symbol)
    assert token_symbol(token) == symbol
    assert not set(token) & set(".*> ")


def test_exec_ids_round_trip_and_book_types_share_a_stream() -> None:
    text = exec_msg_id("0123456789abcdef", "binance", "BTC-USDT", 42)
    assert text == "0123456789abcdef.binance.BTC-USDT.42"
    assert parse_exec_msg_id(text) == ExecId("0123456789abcdef", "binance", "BTC-USDT", 42)
    assert parse_exec_msg_id("no.t.ours") is None
    assert parse_exec_msg_id("a.b.c.x") is None
    key = stream_key("kraken", "BTC-USD", "BookSnapshot")
    assert key == stream_key("kraken", "BTC-USD", "BookStatus")
    assert stream_key("kraken", "BTC-USD", "Trade") != key


def test_patterns_never_overlap() -> None:
    s = Subjects()
    one = _patterns(s, [RouteFilter.of(["kraken"], ["BTC-USD"], ["Trade", "Ticker"])])
    assert one == {"tradegw.md.kraken.BTC-USD.trade", "tradegw.md.kraken.BTC-USD.ticker"}
    books = _patterns(s, [RouteFilter.of(None, ["ETH-USD"], ["BookUpdate", "Trade"])])
    assert books == {"tradegw.md.*.ETH-USD.*"}
    both = _patterns(
        s, [RouteFilter.of(["kraken"], None, None), RouteFilter.of(None, ["ETH-USD"], None)]
    )
    assert both == {"tradegw.md.>"}
    assert _patterns(s, [RouteFilter.of(None, None, ["ExecReport"])]) == set()


def test_the_remote_decoder_reads_what_the_sink_writes_and_names_what_is_wrong() -> None:
    for ev in (book_update(seq=3, bids=[("1.0", "2.0")]), trade(), exec_report()):
        assert decode_event(to_json(ev)) == ev
    good = to_json(trade())
    cases = {
        b"[1]": "object",
        b"{": "JSON",
        b'{"event_type": "Nope"}': "unknown event_type",
        good.replace(b'"side":"buy"', b'"side":"up"'): "side",
        good.replace(b',"ord_type":null', b""): "missing",
        good.replace(b'"qty":"', b'"extra":1,"qty":"'): "unknown",
        good.replace(b'"schema_version":1', b'"schema_version":true'): "schema_version",
    }
    for data, says in cases.items():
        with pytest.raises(ValueError, match=says):
            decode_event(data)


def test_the_sinks_section_is_off_by_default_and_bad_values_name_field_and_file(
    tmp_path: Path,
) -> None:
    assert not GatewayConfig().sinks.nats.enabled
    bad = tmp_path / "bad.yaml"
    for text, field in (
        ("sinks: {nats: {servers: ['http://x']}}", "sinks.nats.servers"),
        ("sinks: {nats: {types: [Trades]}}", "sinks.nats.types"),
        ("sinks: {nats: {ack_timeout_s: 0}}", "sinks.nats.ack_timeout_s"),
        ("sinks: {nats: {subject_prefix: 'a b'}}", "sinks.nats.subject_prefix"),
        ("sinks: {nats: {enable: true}}", "sinks.nats.enable"),
    ):
        bad.write_text(text)
        with pytest.raises(ConfigError) as e:
            load_config(bad)
        assert str(bad) in str(e.value)
        assert field in str(e.value)


def test_a_ledger_keeps_its_identity_and_a_new_one_gets_another(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    first = OrderLedger(path)
    ident = first.identity
    first.close()
    again = OrderLedger(path)
    assert again.identity == ident
    again.close()
    other = OrderLedger(tmp_path / "other.sqlite")
    assert other.identity != ident
    assert len(ident) == 16
    other.close()
