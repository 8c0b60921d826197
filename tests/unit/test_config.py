"""Config loading: the embedded default and live.yaml load; every kind of bad file is a
ConfigError whose message names the file, the field path and the reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tradegw.config import DEFAULT_CONFIG, GatewayConfig, load_config
from tradegw.errors import ConfigError, TradegwError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "gw.yaml") -> Path:
    """A config file with ``text`` (dedented)."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    """The message of the ConfigError that loading ``path`` raises."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert isinstance(info.value, TradegwError)
    message = str(info.value)
    assert str(path) in message
    return message


# ---- good files ----


def test_default_config_loads() -> None:
    config = load_config()
    assert isinstance(config, GatewayConfig)
    assert DEFAULT_CONFIG.name == "default.yaml"
    # The plan's scale: 3 venues x 50 symbols, each on its simulator, 3 consumers.
    venues = config.venues.configured()
    assert [name for name, _ in venues] == ["binance", "coinbase", "kraken"]
    for name, section in venues:
        assert section.ws_url == "sim", name
        assert len(section.symbols) == len(set(section.symbols)) == 50, name
        assert config.simulators.get(name).pairs == 50, name
    kraken = config.venues.kraken
    assert kraken.symbols[:3] == ["BTC/USD", "ETH/USD", "SOL/USD"]
    assert [c.name for c in config.consumers] == ["books", "tape", "quotes"]
    assert [c.kind for c in config.consumers] == ["book", "tape", "ticker"]
    # The DLQ on disk in the run's folder, the metrics on any free port of 127.0.0.1.
    assert config.telemetry.dlq_path == "tradegw-dlq"
    assert (config.ops.host, config.ops.port) == ("127.0.0.1", 0)
    assert config.dispatcher.lateness_ms == 150


def test_repo_default_matches_the_embedded_default() -> None:
    assert load_config(REPO / "config" / "default.yaml") == load_config()


def test_live_config_loads() -> None:
    config = load_config(REPO / "config" / "live.yaml")
    assert [name for name, _ in config.venues.configured()] == ["binance", "coinbase", "kraken"]
    for _, section in config.venues.configured():
        assert section.ws_url.startswith("wss://")
        assert section.rest_url.startswith("https://")
    kraken = config.venues.kraken
    assert kraken is not None
    assert kraken.ws_url == "wss://ws.kraken.com/v2"
    assert kraken.rest_url == "https://api.kraken.com"
    assert kraken.stale_after_s == 10
    assert config.telemetry.log_level == "INFO"
    assert {c.name for c in config.consumers} == {"books", "tape", "quotes"}


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config == GatewayConfig()
    assert config.consumers == []
    assert config.venues.configured() == []  # no venue unless the file names one


def test_str_path_and_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        venues:
          kraken:
            ws_url: ws://127.0.0.1:1/v2
            book_depth: 25
            reconnect: {initial_s: 1, max_s: 1}
        dispatcher: {lateness_ms: 0}
        consumers:
          - {name: slow, max_pending: 5, delay_ms: 2.5, types: [Trade, ExecReport]}
        """,
    )
    config = load_config(str(path))
    assert config.venues.kraken is not None
    assert config.venues.kraken.book_depth == 25
    assert config.dispatcher.lateness_ms == 0
    (slow,) = config.consumers
    assert (slow.max_pending, slow.delay_ms, slow.types) == (5, 2.5, ["Trade", "ExecReport"])


# ---- bad files ----


def test_missing_file(tmp_path: Path) -> None:
    message = config_error(tmp_path / "nope.yaml")
    assert "cannot read" in message
    assert "No such file" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    message = config_error(tmp_path)
    assert "cannot read" in message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("telemetry: {log_path: caf\u00e9.log}\n".encode("latin-1"))
    message = config_error(path)
    assert "utf-8" in message.lower()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("venues:\n  kraken: [1, 2\ndispatcher: {}\n", 3),
        ('telemetry:\n  dlq_path: "unterminated\n', 3),
        ("dispatcher:\n  lateness_ms: 1\n   flush_ms: 2\n", 3),
    ],
)
def test_yaml_syntax_error_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    message = config_error(path)
    assert "not valid YAML" in message
    assert f"line {line}" in message


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("42\n", "int")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "top.yaml"
    path.write_text(text, encoding="utf-8")
    message = config_error(path)
    assert "mapping" in message
    assert kind in message


@pytest.mark.parametrize(
    ("text", "field", "why"),
    [
        ("venuez: {}\n", "venuez", "Extra inputs are not permitted"),
        ("venues: {kraken: {symbol: [BTC/USD]}}\n", "venues.kraken.symbol", "Extra inputs"),
        ("consumers: [{name: a, kindd: book}]\n", "consumers[0].kindd", "Extra inputs"),
        ("simulators: {kraken: {speed: 3}}\n", "simulators.kraken.speed", "Extra inputs"),
    ],
)
def test_unknown_key(tmp_path: Path, text: str, field: str, why: str) -> None:
    message = config_error(write(tmp_path, text))
    assert f"field '{field}'" in message
    assert why in message


@pytest.mark.parametrize(
    ("text", "field", "why"),
    [
        ("dispatcher: {lateness_ms: abc}\n", "dispatcher.lateness_ms", "valid integer"),
        ("dispatcher: {flush_ms: 1.5}\n", "dispatcher.flush_ms", "fractional part"),
        ("venues: {kraken: {symbols: BTC/USD}}\n", "venues.kraken.symbols", "valid list"),
        ("venues: {kraken: {enabled: maybe}}\n", "venues.kraken.enabled", "valid boolean"),
        ("venues: {kraken: {book_depth: 20}}\n", "venues.kraken.book_depth", "Input should be"),
        ("venues: {kraken: {channels: [book, news]}}\n", "venues.kraken.channels[1]", "'ohlc'"),
        ("consumers: [{name: a, kind: bot}]\n", "consumers[0].kind", "'book'"),
        ("consumers: [{name: a, types: [Order]}]\n", "consumers[0].types[0]", "'Trade'"),
        ("consumers: {name: a}\n", "consumers", "valid list"),
        ("telemetry: {log_level: LOUD}\n", "telemetry.log_level", "'WARNING'"),
        ("consumers: [{kind: book}]\n", "consumers[0].name", "Field required"),
    ],
)
def test_wrong_type(tmp_path: Path, text: str, field: str, why: str) -> None:
    message = config_error(write(tmp_path, text))
    assert f"field '{field}'" in message
    assert why in message


@pytest.mark.parametrize(
    ("text", "field", "why"),
    [
        ("dispatcher: {flush_ms: 0}\n", "dispatcher.flush_ms", "greater than 0"),
        ("dispatcher: {lateness_ms: -1}\n", "dispatcher.lateness_ms", "greater than or equal"),
        ("dispatcher: {max_events: 0}\n", "dispatcher.max_events", "greater than 0"),
        ("consumers: [{name: a, max_pending: 0}]\n", "consumers[0].max_pending", "greater"),
        ("consumers: [{name: a, delay_ms: -1}]\n", "consumers[0].delay_ms", "greater"),
        ("consumers: [{name: ''}]\n", "consumers[0].name", "at least 1 character"),
        ("venues: {kraken: {symbols: []}}\n", "venues.kraken.symbols", "at least 1 item"),
        (
            "venues: {kraken: {refresh_interval_s: 0.5}}\n",
            "venues.kraken.refresh_interval_s",
            "greater than or equal to 1",
        ),
        (
            "venues: {kraken: {reconnect: {jitter: 1.5}}}\n",
            "venues.kraken.reconnect.jitter",
            "less than or equal to 1",
        ),
        (
            "venues: {kraken: {reconnect: {multiplier: 0.5}}}\n",
            "venues.kraken.reconnect.multiplier",
            "greater than or equal to 1",
        ),
        ("simulators: {kraken: {pairs: 0}}\n", "simulators.kraken.pairs", "at least 1"),
        ("simulators: {kraken: {ws_port: 70000}}\n", "simulators.kraken.ws_port", "65535"),
    ],
)
def test_out_of_range(tmp_path: Path, text: str, field: str, why: str) -> None:
    message = config_error(write(tmp_path, text))
    assert f"field '{field}'" in message
    assert why in message


def test_every_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, "dispatcher: {flush_ms: 0, lateness_ms: x, bogus: 1}\n")
    lines = config_error(path).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}: field 'dispatcher.") for line in lines)
    assert "(got 0)" in lines[0] + lines[1] + lines[2]


def test_reconnect_max_below_initial(tmp_path: Path) -> None:
    path = write(tmp_path, "venues: {kraken: {reconnect: {initial_s: 5, max_s: 1}}}\n")
    message = config_error(path)
    assert "field 'venues.kraken.reconnect'" in message
    assert "max_s must be >= initial_s" in message


def test_duplicate_consumer_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        consumers:
          - {name: books, kind: book}
          - {name: tape, kind: tape}
          - {name: books, kind: ticker}
        """,
    )
    message = config_error(path)
    assert "unique" in message
    assert "books" in message
    # The field at fault is the consumers list, not "(top level)".
    assert "field 'consumers" in message


def test_a_partial_rest_section_keeps_each_venues_own_weight_budget(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        venues:
          binance: {rest: {timeout_s: 3}}
          coinbase: {rest: {timeout_s: 3}}
          kraken: {rest: {timeout_s: 3}}
        """,
    )
    budgets = {
        name: (section.rest.timeout_s, section.rest.weight_per_minute)
        for name, section in load_config(path).venues.configured()
    }
    assert budgets == {"binance": (3, 6000), "coinbase": (3, 600), "kraken": (3, 60)}


# ---- merges ----


def test_merges_load_with_the_plans_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        venues: {kraken: {}, coinbase: {}}
        merges:
          - {symbol: BTC-USD, venues: [kraken, coinbase]}
          - {merge_id: eth-2v, symbol: ETH-USD, venues: [coinbase, kraken], window_s: 2.5,
             max_events: 50, depth: 25}
        consumers:
          - {name: merged, venues: [merged], types: [MergedBookSnapshot, MergedBBO]}
        """,
    )
    config = load_config(path)
    btc, eth = config.merges
    assert (btc.merge_id, btc.window_s, btc.max_events, btc.depth) == (None, 10.0, 1000, 10)
    assert (eth.merge_id, eth.window_s, eth.max_events, eth.depth) == ("eth-2v", 2.5, 50, 25)
    assert config.consumers[0].venues == ["merged"]


_PAIR = "symbol: BTC-USD, venues: [kraken, coinbase]"


@pytest.mark.parametrize(
    ("entry", "field", "why"),
    [
        ("symbol: BTC-USD, venues: [kraken]", "merges[0].venues", "at least 2 items"),
        ("symbol: BTC-USD, venues: [kraken, bitmex]", "merges[0].venues", "unknown venues"),
        ("symbol: BTC-USD, venues: [kraken, kraken]", "merges[0].venues", "more than once"),
        ("symbol: BTC/USD, venues: [kraken, coinbase]", "merges[0].symbol", "pattern"),
        ("venues: [kraken, coinbase]", "merges[0].symbol", "Field required"),
        (f"{_PAIR}, window_s: 0", "merges[0].window_s", "greater than 0"),
        (f"{_PAIR}, window_s: .inf", "merges[0].window_s", "finite"),
        (f"{_PAIR}, max_events: 1", "merges[0].max_events", "greater than or equal to 2"),
        (f"{_PAIR}, depth: 0", "merges[0].depth", "greater than or equal to 1"),
        (f"{_PAIR}, merge_id: 'a b'", "merges[0].merge_id", "pattern"),
        (f"{_PAIR}, window: 5", "merges[0].window", "Extra inputs"),
        (
            "symbol: BTC-USD, venues: [kraken, coinbase, binance], max_events: 2",
            "merges[0].max_events",
            "number of venues (3)",
        ),
    ],
)
def test_a_bad_merge_names_its_field(tmp_path: Path, entry: str, field: str, why: str) -> None:
    venues = "venues: {kraken: {}, coinbase: {}, binance: {}}\n"
    message = config_error(write(tmp_path, f"{venues}merges: [{{{entry}}}]\n"))
    assert f"field '{field}'" in message
    assert why in message


def test_a_merge_needs_its_venues_enabled(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        venues: {kraken: {}, coinbase: {enabled: false}}
        merges: [{symbol: BTC-USD, venues: [kraken, coinbase, binance]}]
        """,
    )
    message = config_error(path)
    assert "field 'merges'" in message
    assert "merges[0] (BTC-USD) needs venues ['binance', 'coinbase']" in message


def test_merge_ids_are_unique(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        venues: {kraken: {}, coinbase: {}}
        merges:
          - {merge_id: m, symbol: BTC-USD, venues: [kraken, coinbase]}
          - {merge_id: m, symbol: ETH-USD, venues: [kraken, coinbase]}
        """,
    )
    message = config_error(path)
    assert "field 'merges'" in message
    assert "repeated: ['m']" in message


def test_a_consumer_of_an_unknown_venue_is_refused_but_merged_is_known(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "consumers: [{name: a, venues: [merged, mergd]}]\n"))
    assert "field 'consumers[0].venues'" in message
    assert "unknown venues ['mergd']" in message
    assert "'merged'" in message
