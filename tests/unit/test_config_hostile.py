"""Hostile config files (issue 8, item 7): whatever a file holds, loading it is a
GatewayConfig or a ConfigError whose every line starts with the file's path and names the
field when there is one, soon; never a traceback, a hang or an exploding structure.
``tradegw run --config`` exits 2 with that one line."""

from __future__ import annotations

import copy
import itertools
import math
import re
import time
import types
import typing
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tradegw import safe_yaml
from tradegw.cli import EXIT_BAD_CONFIG, main
from tradegw.config import DEFAULT_CONFIG, GatewayConfig, load_config
from tradegw.config.loader import MAX_CONFIG_BYTES, MAX_PROBLEMS
from tradegw.errors import ConfigError

# The limit catches a hang, not a slow machine: no test here takes more than a few seconds.
pytestmark = pytest.mark.timeout(30)

QUICK_S = 2.0
"""Longest a load of a small hostile file may take (milliseconds are typical); the few
tests of files at the caps allow more."""

Content = str | bytes


def write(directory: Path, content: Content, name: str = "hostile.yaml") -> Path:
    """``content`` (text as UTF-8) in ``directory/name``."""
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def outcome(path: Path, within_s: float = QUICK_S) -> GatewayConfig | str:
    """The config that ``path`` loads to, or the ConfigError's message; either way within
    ``within_s`` of this process's CPU time (not wall time: the bound is there to catch a
    parser that blows up, not to time a machine that other work keeps busy), and every line
    of a message starts with the path."""
    start = time.process_time()
    try:
        result: GatewayConfig | str = load_config(path)
    except ConfigError as e:
        result = str(e)
        assert result
        for line in result.splitlines():
            assert line.startswith(f"{path}: "), line
    elapsed = time.process_time() - start
    assert elapsed < within_s, f"{elapsed:.2f}s"
    return result


def one_line_error(path: Path) -> str:
    """The message of the ConfigError that ``path`` is, asserting it is one line."""
    result = outcome(path)
    assert isinstance(result, str), "the file loaded"
    assert "\n" not in result, result
    return result


def field_of(message: str) -> str:
    """The field a one-line message names."""
    match = re.search(r": field '([^']*)': ", message)
    assert match, message
    return match.group(1)


# ---- the file itself: size, encoding, bytes ----


def test_a_file_over_the_cap_is_refused_with_its_size(tmp_path: Path) -> None:
    path = write(tmp_path, "#" * MAX_CONFIG_BYTES + "\n")
    message = one_line_error(path)
    assert "too large" in message
    assert f"{MAX_CONFIG_BYTES + 1} bytes" in message
    assert f"limit is {MAX_CONFIG_BYTES} bytes" in message


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "sparse.yaml"
    with path.open("wb") as f:
        f.truncate(64 * 1024**3)  # sparse: 64 GiB that would take minutes to read
    message = one_line_error(path)
    assert f"{64 * 1024**3} bytes" in message


def test_a_file_at_the_cap_is_read(tmp_path: Path) -> None:
    text = "# padding\n" * (MAX_CONFIG_BYTES // 10)
    text += "#" * (MAX_CONFIG_BYTES - len(text) - 1) + "\n"
    assert len(text) == MAX_CONFIG_BYTES
    assert outcome(write(tmp_path, text)) == GatewayConfig()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_stream_is_cut_at_the_cap() -> None:
    # A device says size 0 up front, so only the bounded read stops it.
    message = one_line_error(Path("/dev/zero"))
    assert f"more than {MAX_CONFIG_BYTES} bytes" in message


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, b"telemetry:\n  log_path: caf\xe9.log\n")
    message = one_line_error(path)
    assert "not UTF-8 text (byte 26)" in message


def test_binary_garbage(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 64 + b"\x89PNG\r\n\x1a\n\x00\x00"
    assert "not UTF-8" in one_line_error(write(tmp_path, garbage))


def test_control_characters_in_utf8_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "dispatcher:\n  flush_ms: 5\x00\x01\n")
    message = one_line_error(path)
    assert "not valid YAML at line 2, column 14" in message
    assert "#x0000" in message


# ---- YAML that would explode, recurse or run code ----

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, BILLION_LAUGHS))
    assert "aliases expand to more than" in message
    assert re.search(r"field '[a-i]\[\d\]'", message)
    assert "at line 5" in message  # *d expands to 9**4 nodes; the fourth level goes over


def test_an_alias_inside_its_own_anchor(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, "consumers: &c [{name: a}, *c]\n"))
    assert "field 'consumers[1]'" in message
    assert "recursive" in message


def test_modest_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "venues:\n"
        "  kraken: {reconnect: &r {initial_s: 1, max_s: 8}}\n"
        "  coinbase: {reconnect: {<<: *r, multiplier: 3}}\n"
        "  binance: {reconnect: *r}\n"
    )
    config = outcome(write(tmp_path, text))
    assert isinstance(config, GatewayConfig)
    policies = {name: venue.reconnect for name, venue in config.venues.configured()}
    assert {name: (p.max_s, p.multiplier) for name, p in policies.items()} == {
        "binance": (8, 2),
        "coinbase": (8, 3),
        "kraken": (8, 2),
    }


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("dispatcher: " + "[" * 10_000 + "]" * 10_000 + "\n", id="flow-lists"),
        pytest.param("dispatcher: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", id="flow-maps"),
        # Indentation makes 10k block levels 50 MB, over the size cap: 1000 fit.
        pytest.param(
            "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v\n",
            id="block-maps",
        ),
        pytest.param("a:\n" + "- " * 10_000 + "x\n", id="block-lists"),
    ],
)
def test_ten_thousand_levels_deep(tmp_path: Path, text: str) -> None:
    message = one_line_error(write(tmp_path, text))
    assert "nest" in message
    assert "line " in message


def test_nesting_is_bounded_at_64_levels() -> None:
    # The top-level mapping is level 1: 63 nested lists in it reach level 64.
    assert safe_yaml.parse("a: " + "[" * 63 + "]" * 63) is not None
    with pytest.raises(safe_yaml.YamlRefused, match="nested deeper than 64 levels"):
        safe_yaml.parse("a: " + "[" * 64 + "]" * 64)
    # An alias counts the depth of what it names.
    deep = "[" * 40 + "]" * 40
    with pytest.raises(safe_yaml.YamlRefused, match="nests deeper than 64 levels"):
        safe_yaml.parse(f"a: &a {deep}\nb: {'[' * 30}*a{']' * 30}\n")


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/object:pathlib.Path {{}}",
        "!!python/name:os.system",
        "!!python/tuple [1, 2]",
        "!!binary aGVsbG8=",
        "!!set {{a: null}}",
        "!custom thing",
        "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {marker}']",
    ],
)
def test_tags_beyond_plain_data_are_refused_as_unsafe(tmp_path: Path, tagged: str) -> None:
    marker = tmp_path / "ran"
    path = write(tmp_path, f"telemetry:\n  log_path: {tagged.format(marker=marker)}\n")
    message = one_line_error(path)
    assert "field 'telemetry.log_path'" in message
    assert "is not allowed (unsafe" in message
    assert "at line 2, column 13" in message
    assert not marker.exists()


# ---- numbers ----


@pytest.mark.parametrize(
    ("text", "chars"),
    [
        pytest.param("1" + "0" * 100_000, 100_001, id="10**100000"),
        pytest.param("9" * 5000, 5000, id="over-int-max-str-digits"),
        pytest.param("0x" + "f" * 100_000, 100_002, id="hex"),
        pytest.param("1" + ":59" * 50_000, 150_001, id="sexagesimal"),
        pytest.param("-" + "1_000" * 1000, 5001, id="underscores"),
    ],
)
def test_huge_integer_text_is_refused_before_conversion(
    tmp_path: Path, text: str, chars: int
) -> None:
    message = one_line_error(write(tmp_path, f"dispatcher:\n  flush_ms: {text}\n"))
    assert field_of(message) == "dispatcher.flush_ms"
    assert f"integer of {chars} characters is out of range" in message
    assert "at line 2, column 13" in message


def test_huge_integer_as_a_key(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, f"venues:\n  {'7' * 200}: 1\n"))
    assert "field 'venues'" in message
    assert "out of range" in message


def test_a_large_but_convertible_integer_is_a_range_error_of_its_field(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, f"dispatcher: {{flush_ms: {'9' * 100}}}\n"))
    assert field_of(message) == "dispatcher.flush_ms"
    assert "less than or equal to 60000" in message
    assert "(got 99999999" in message


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.Inf", "1e400", "-1e999"])
def test_nan_and_infinity(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"venues: {{kraken: {{stale_after_s: {value}}}}}\n")
    message = one_line_error(path)
    assert field_of(message) == "venues.kraken.stale_after_s"
    assert "finite number" in message


FieldPath = tuple[int | str, ...]


def _fields(model: type[BaseModel], path: FieldPath) -> Iterator[tuple[FieldPath, type]]:
    for name, info in model.model_fields.items():
        yield from _walk(info.annotation, (*path, name))


def _walk(tp: Any, path: FieldPath) -> Iterator[tuple[FieldPath, type]]:
    """Every int and float field under ``tp``, with its path (lists through item 0)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _walk(arg, path)
    elif origin is typing.Annotated:
        yield from _walk(typing.get_args(tp)[0], path)
    elif origin is list:
        yield from _walk(typing.get_args(tp)[0], (*path, 0))
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        yield from _fields(tp, path)
    elif tp in (int, float):
        yield path, tp


NUMERIC_FIELDS = sorted(set(_walk(GatewayConfig, ())), key=lambda f: str(f[0]))
# What a list item needs besides the number under test to be valid on its own.
_ITEM = {
    "consumers": {"name": "c"},
    "faults": {"kind": "stall", "rate": 0.5},
    "merges": {"symbol": "BTC-USD", "venues": ["kraken", "coinbase"]},
}
# What a section needs besides the number under test.
_SECTION = {"budget": {"rate": 10}, "shard": {"name": "s"}}


def _doc(path: FieldPath, value: object) -> dict[str, Any]:
    """A config with ``value`` at ``path`` and only what that needs around it."""
    doc: dict[str, Any] = {}
    node: Any = doc
    for i, (step, after) in enumerate(itertools.pairwise(path)):
        if isinstance(after, int):
            item = copy.deepcopy(_ITEM.get(str(step), {}))
            node[step] = [item] if i + 2 < len(path) else []
            node = node[step]
        elif isinstance(step, int):
            node = node[step]
        else:
            node = node.setdefault(step, copy.deepcopy(_SECTION.get(str(step), {})))
    if isinstance(path[-1], int):
        node.append(value)
    else:
        node[path[-1]] = value
    return doc


def _field_text(path: FieldPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def test_the_field_walk_finds_every_section() -> None:
    found = {_field_text(path) for path, _ in NUMERIC_FIELDS}
    for expected in (
        "dispatcher.lateness_ms",
        "consumers[0].delay_ms",
        "venues.binance.rest.weight_per_minute",
        "venues.kraken.reconnect.multiplier",
        "simulators.coinbase.rest_burst",
        "simulators.binance.faults.faults[0].at_seconds[0]",
        "simulators.kraken.pairs",
        "simulators.kraken.seed",
    ):
        assert expected in found
    assert len(found) >= 100


@pytest.mark.parametrize(
    ("path", "kind"), NUMERIC_FIELDS, ids=[_field_text(p) for p, _ in NUMERIC_FIELDS]
)
def test_every_number_is_finite_and_bounded(tmp_path: Path, path: FieldPath, kind: type) -> None:
    field = _field_text(path)
    huge: list[object] = [10**30, -(10**30)] if kind is int else [1e300, -1e300]
    hostile = huge + ([math.nan, math.inf, -math.inf] if kind is float else [])
    for value in hostile:
        config = write(tmp_path, yaml.safe_dump(_doc(path, value)))
        message = one_line_error(config)
        # A list item out of range may be refused by its item's own check (a negative
        # at_seconds by the fault spec): the field named is then a prefix of the path.
        assert field.startswith(field_of(message)), (value, message)
        if isinstance(value, float) and not math.isfinite(value):
            assert "finite number" in message


def test_a_nul_in_a_path_is_refused(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, 'telemetry: {log_path: "a\\0b.log"}\n'))
    assert field_of(message) == "telemetry.log_path"
    assert "NUL" in message


# ---- values YAML reads only with help ----


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2024-13-45", "month must be in 1..12"),
        ("!!bool maybe", "no such value"),
        ("!!int twelve", "invalid literal"),
        ("!!float x", "could not convert"),
        ("*nowhere", "undefined alias"),
    ],
)
def test_values_yaml_cannot_read(tmp_path: Path, value: str, why: str) -> None:
    message = one_line_error(write(tmp_path, f"dispatcher:\n  flush_ms: {value}\n"))
    assert "not valid YAML at line 2, column 13" in message
    assert why in message


def test_a_second_document(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, "dispatcher: {}\n---\ndispatcher: {}\n"))
    assert "not valid YAML at line 2, column 1" in message
    assert "expected a single document in the stream, but found another document" in message


def test_a_hostile_key_cannot_break_the_line(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, 'dispatcher: {"a\\nb\\rc": 1}\n'))
    assert "field 'dispatcher.'a\\nb\\rc''" in message


def test_a_long_key_is_cut(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, f"dispatcher: {{{'k' * 100_000}: 1}}\n"))
    assert len(message) < 300


def test_many_problems_are_counted_not_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "consumers: [" + "{kind: x}, " * 5000 + "]\n")
    lines = str(outcome(path)).splitlines()
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[-1] == f"{path}: ... and {2 * 5000 - MAX_PROBLEMS} more problems"


def test_as_many_consumers_as_a_file_can_hold_validate_quickly(tmp_path: Path) -> None:
    # Three values each (mapping, key, name): 30k is about the most under the value cap.
    # Unique names are checked in one pass; the quadratic check took ten seconds here.
    text = "consumers:\n" + "".join(f"- {{name: c{i}}}\n" for i in range(30_000))
    # About a second of CPU; the quadratic check took ten.
    config = outcome(write(tmp_path, text), within_s=5.0)
    assert isinstance(config, GatewayConfig)
    assert len(config.consumers) == 30_000


def test_values_are_capped(tmp_path: Path) -> None:
    count = safe_yaml.MAX_NODES
    text = "venues: {kraken: {symbols: [" + "a," * count + "]}}"
    message = str(outcome(write(tmp_path, text), within_s=5.0))
    assert "\n" not in message
    assert f"more than {count} values in one file" in message
    assert field_of(message).startswith("venues.kraken.symbols[")


# ---- both YAML parsers refuse the same way ----


@pytest.mark.parametrize("pure", [False, True], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(BILLION_LAUGHS, "aliases expand", id="billion-laughs"),
        pytest.param("a: &a [*a]\n", "recursive", id="recursive-alias"),
        pytest.param("a: " + "{b: " * 100 + "1" + "}" * 100, "nested deeper", id="deep"),
        pytest.param("a: " + "1" * 5000, "out of range", id="huge-int"),
        pytest.param("a: [" + "1, " * safe_yaml.MAX_NODES + "]", "more than", id="values"),
        pytest.param("a: !!python/object/apply:os.system [ls]\n", "not allowed", id="tag"),
        pytest.param("a: 2024-02-30\n", "day is out of range", id="bad-date"),
        pytest.param("a: \x00\n", "unacceptable character", id="nul"),
    ],
)
def test_both_parsers(pure: bool, text: str, error: str) -> None:
    if not pure and not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")
    with pytest.raises(yaml.YAMLError, match=error):
        safe_yaml.parse(text, pure=pure)


# ---- the command ----

HOSTILE: dict[str, Callable[[Path], Content]] = {
    "oversized": lambda _: "#" * (MAX_CONFIG_BYTES + 1),
    "billion-laughs": lambda _: BILLION_LAUGHS,
    "deep": lambda _: "a: " + "[" * 10_000 + "]" * 10_000,
    "huge-int": lambda _: "dispatcher: {flush_ms: 1" + "0" * 100_000 + "}",
    "nan": lambda _: "consumers: [{name: a, delay_ms: .nan}]",
    "inf": lambda _: "venues: {kraken: {reconnect: {max_s: .inf}}}",
    "non-utf8": lambda _: b"telemetry: {log_path: caf\xe9.log}\n",
    "garbage": lambda _: bytes(range(256)),
    "python-tag": lambda d: f"a: !!python/object/apply:os.system ['touch {d / 'ran'}']",
    "nul-path": lambda _: 'telemetry: {log_path: "x\\0"}',
}


@pytest.mark.parametrize("case", HOSTILE)
def test_run_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path = write(tmp_path, HOSTILE[case](tmp_path))
    assert main(["run", "--config", str(path), "--no-live", "--duration", "0"]) == EXIT_BAD_CONFIG
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"tradegw: bad config: {path}: ")
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert not (tmp_path / "ran").exists()


# ---- fuzz ----

_FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=QUICK_S),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for a fuzz test's file, rewritten for every example."""
    return tmp_path_factory.mktemp("fuzz")


_YAML_CHARS = [
    *"[]{}:,-?&*!|>'\"#%@`\n\t .0123456789aeflnrstux_<=~+",
    "\u00e9",
    "\x00",
    "\x85",
    "\ufeff",
    "\U0001f600",
]
_yamlish = st.text(alphabet=st.sampled_from(_YAML_CHARS), max_size=400)


@pytest.mark.timeout(60)
@_FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500),
        _yamlish,
        # Valid config lines with noise spliced in, so the fuzz gets past the parser.
        st.tuples(st.sampled_from(DEFAULT_CONFIG.read_text().splitlines()), _yamlish).map(
            lambda pair: f"dispatcher:\n  flush_ms: 5\n{pair[1]}{pair[0]}\n"
        ),
    )
)
def test_fuzz_any_bytes(fuzz_dir: Path, content: Content) -> None:
    outcome(write(fuzz_dir, content))


class _Digits(str):
    """Integer text too long for ``int()`` (over 4300 digits), dumped as a plain integer."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Digits, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:int", str(text))
)

DEFAULT_DOC: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value (leaf or not) under ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*path, key)
        if isinstance(value, dict | list):
            yield from _places(value, (*path, key))


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


PLACES = list(_places(DEFAULT_DOC))
KEY_PLACES = [p for p in PLACES if isinstance(_get(DEFAULT_DOC, p[:-1]), dict)]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


_hostile_value = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**32, 2**63, 2**64, -(2**63) - 1, 10**30, 10**4000]),
    st.integers(4301, 150_000).map(lambda n: _Digits("9" * n)),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e-300, -0.0]),
    st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{0,20})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.text(max_size=40),
    st.integers(1000, 150_000).map(lambda n: "x" * n),
    st.none(),
    st.booleans(),
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=12,
    ),
    st.integers(30, 120).map(_nested),
)
_hostile_key = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["a\nb", "", " ", "<<", "?", "*x", "&y", "k" * 2000]),
    st.integers(),
    st.none(),
    st.booleans(),
)


def _mutate(doc: dict[str, Any], data: st.DataObject) -> None:
    """One hostile change to ``doc``: a value, a key, or a subtree shared by two places
    (which the dumper writes as an anchor and an alias)."""
    what = data.draw(st.sampled_from(["value", "value", "key", "alias"]))
    places = KEY_PLACES if what == "key" else PLACES
    path = data.draw(st.sampled_from(places))
    try:
        parent = _get(doc, path[:-1])
        if what == "value":
            parent[path[-1]] = data.draw(_hostile_value)
        elif what == "key":
            parent[data.draw(_hostile_key)] = parent.pop(path[-1])
        else:
            parent[path[-1]] = _get(doc, data.draw(st.sampled_from(PLACES)))
    except (KeyError, IndexError, TypeError, AttributeError):
        pass  # an earlier change removed or replaced the place


@pytest.mark.timeout(60)
@_FUZZ
@given(data=st.data())
def test_fuzz_the_default_config(fuzz_dir: Path, data: st.DataObject) -> None:
    doc = copy.deepcopy(DEFAULT_DOC)
    for _ in range(data.draw(st.integers(1, 4))):
        _mutate(doc, data)
    text = yaml.dump(doc, Dumper=_Dumper, allow_unicode=data.draw(st.booleans()))
    outcome(write(fuzz_dir, text))


@pytest.mark.parametrize("pure", [False, True])
def test_a_key_written_twice_is_refused_not_last_wins(tmp_path: Path, pure: bool) -> None:
    with pytest.raises(yaml.YAMLError, match="'flush_ms' appears twice"):
        safe_yaml.parse("dispatcher:\n  flush_ms: 1\n  flush_ms: 2\n", pure=pure)
    # A merge key's keys may be overridden: that is what merging is for.
    data = safe_yaml.parse("a: &p {x: 1, y: 2}\nb:\n  <<: *p\n  x: 3\n", pure=pure)
    assert data["b"] == {"x": 3, "y": 2}
    path = tmp_path / "dup.yaml"
    path.write_text("dispatcher:\n  flush_ms: 1\n  flush_ms: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup\.yaml: .*appears twice"):
        load_config(path)
