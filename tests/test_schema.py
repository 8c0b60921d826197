"""Tests of the canonical events in tradegw.schema."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import typing
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

from tradegw import schema
from tradegw.schema import (
    EVENT_CLASSES,
    EVENT_TYPES,
    SCHEMA_VERSION,
    TERMINAL_EXEC_STATES,
    BookSnapshot,
    BookStatus,
    BookUpdate,
    Event,
    ExecReport,
    ExecState,
    KlineSummary,
    MergedBBO,
    MergedBookSnapshot,
    MergedLevel,
    Ticker,
    Trade,
    from_json,
    json_schema,
    new_trace_id,
    next_event_id,
    to_json,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
TRACE_ID = re.compile(r"[0-9a-f]{16}")
T0 = 1_767_225_600_000_000_000

COMMON_FIELDS = (
    "schema_version",
    "event_type",
    "event_id",
    "provider",
    "symbol",
    "venue_symbol",
    "seq_provider",
    "exchange_ts",
    "ingest_ts",
    "routing_version",
    "trace_id",
    "merge_id",
)


def common(**overrides: Any) -> dict[str, Any]:
    """Required common fields, as a provider would pass them."""
    values: dict[str, Any] = {
        "provider": "kraken",
        "symbol": "BTC-USD",
        "venue_symbol": "BTC/USD",
        "seq_provider": 7,
        "exchange_ts": T0,
        "ingest_ts": T0 + 812_345,
        "trace_id": new_trace_id(),
    }
    values.update(overrides)
    return values


# Only the required type-specific fields: optional ones keep their defaults.
MINIMAL: dict[type[Event], dict[str, Any]] = {
    BookSnapshot: {"bids": [("87500.1", "0.25")], "asks": [("87500.2", "1.5")]},
    BookUpdate: {"bids": [("87499.8", "0")], "asks": []},
    BookStatus: {"state": "synced"},
    Trade: {"price": "87500.2", "qty": "0.01", "side": "sell", "trade_id": "t-1"},
    Ticker: {"bid": "87500.1", "bid_qty": "0.25", "ask": "87500.2", "ask_qty": "1.5"},
    KlineSummary: {
        "interval_s": 60,
        "open_ts": T0,
        "open": "1.0",
        "high": "2.0",
        "low": "0.5",
        "close": "1.5",
        "volume": "10",
        "closed": False,
    },
    ExecReport: {
        "client_order_id": "c-1",
        "state": ExecState.ACK,
        "side": "buy",
        "order_type": "limit",
        "qty": "1",
        "filled_qty": "0",
    },
}

MINIMAL[MergedBookSnapshot] = {
    "bids": [
        MergedLevel(price="87500.10", qty="0.75", venues={"kraken": "0.25", "coinbase": "0.5"})
    ],
    "asks": [],
    "depth": 10,
    "venues": ["coinbase", "kraken"],
    "fragments": {"coinbase": 3, "kraken": 12},
    "window_seq": 1,
    "window_open_ts": T0,
    "window_close_ts": T0 + 10_000_000_000,
    "close_reason": "time",
    "crossed": False,
}
MINIMAL[MergedBBO] = {
    "bid": None,
    "bid_qty": None,
    "bid_venues": {},
    "ask": "87500.20",
    "ask_qty": "1.5",
    "ask_venues": {"kraken": "1.5"},
    "crossed": False,
    "window_seq": 1,
}

# Every optional field set to a non-default value.
FULL_EXTRA: dict[type[Event], dict[str, Any]] = {
    BookSnapshot: {"depth": 10, "checksum": 541276059, "coalesced": True},
    BookUpdate: {"checksum": 3456235319, "coalesced": True},
    BookStatus: {"state": "resyncing", "reason": "checksum"},
    Trade: {"ord_type": "market"},
    Ticker: {
        "last": "87500.2",
        "volume": "1523.40188291",
        "vwap": "87012.6",
        "low": "85910.0",
        "high": "88120.5",
        "change": "-1290.3",
        "change_pct": "-1.50",
    },
    KlineSummary: {"vwap": "1.2", "trades": 1432},
    MergedBookSnapshot: {"close_reason": "count", "crossed": True},
    MergedBBO: {"bid": "87500.3", "bid_qty": "0.1", "bid_venues": {"coinbase": "0.1"}},
    ExecReport: {
        "venue_order_id": "OQCLML-BW3P3-BUCMWZ",
        "state": ExecState.PARTIAL,
        "price": "87500.0",
        "last_fill_price": "87500.0",
        "last_fill_qty": "0.04000000",
        "fee": "0.87500",
        "fee_asset": "USD",
        "reason": "partial fill",
        "venue_exec_id": "TCCCTY-WE2O6-P3NB37",
    },
}


def minimal(cls: type[Event], **overrides: Any) -> Event:
    return cls(**common(), **{**MINIMAL[cls], **overrides})


def full(cls: type[Event]) -> Event:
    return cls(
        **common(routing_version=3, merge_id="m-42", provider="merged"),
        **{**MINIMAL[cls], **FULL_EXTRA[cls]},
    )


def samples() -> list[Event]:
    return [make(cls) for cls in EVENT_TYPES for make in (minimal, full)]


def by_name(cls: type[Event]) -> str:
    return cls.__name__


# --- construction --------------------------------------------------------------------


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=by_name)
def test_construction_defaults(cls: type[Event]) -> None:
    event = minimal(cls)
    assert event.schema_version == SCHEMA_VERSION == 1
    assert event.event_type == cls.__name__
    assert event.routing_version == 0
    assert event.merge_id is None
    optional = set(FULL_EXTRA[cls]) - set(MINIMAL[cls])
    for f in dataclasses.fields(cls):
        if f.name in optional:
            assert getattr(event, f.name) == f.default
            assert f.default in (None, False)


def test_book_defaults() -> None:
    snapshot = minimal(BookSnapshot)
    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.depth, snapshot.checksum, snapshot.coalesced) == (None, None, False)
    update = minimal(BookUpdate)
    assert isinstance(update, BookUpdate)
    assert (update.checksum, update.coalesced) == (None, False)
    status = minimal(BookStatus)
    assert isinstance(status, BookStatus)
    assert status.reason is None


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=by_name)
def test_event_type_and_version_cannot_be_passed(cls: type[Event]) -> None:
    with pytest.raises(TypeError, match="event_type"):
        cls(**common(), **MINIMAL[cls], event_type="Trade")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="schema_version"):
        cls(**common(), **MINIMAL[cls], schema_version=2)  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=by_name)
def test_keyword_only_and_required(cls: type[Event]) -> None:
    with pytest.raises(TypeError, match="positional"):
        cls("kraken")  # type: ignore[call-arg, arg-type]
    without_trace = common()
    del without_trace["trace_id"]
    with pytest.raises(TypeError, match="trace_id"):
        cls(**without_trace, **MINIMAL[cls])


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=by_name)
def test_slotted_not_frozen(cls: type[Event]) -> None:
    event = minimal(cls)
    assert not hasattr(event, "__dict__")
    with pytest.raises(AttributeError):
        event.not_a_field = 1  # type: ignore[union-attr]
    event.routing_version = 5  # mutable: the dispatcher stamps it after construction
    assert event.routing_version == 5


def test_common_fields_first_in_declared_order() -> None:
    for cls in EVENT_TYPES:
        names = tuple(f.name for f in dataclasses.fields(cls))
        assert names[: len(COMMON_FIELDS)] == COMMON_FIELDS


def test_event_registry() -> None:
    assert typing.get_args(Event) == EVENT_TYPES
    assert len(EVENT_TYPES) == 9
    assert dict(EVENT_CLASSES) == {cls.__name__: cls for cls in EVENT_TYPES}
    with pytest.raises(TypeError):
        EVENT_CLASSES["Foo"] = Trade  # type: ignore[index]


def test_exec_state() -> None:
    assert [s.value for s in ExecState] == [
        "ACK",
        "PARTIAL",
        "FILLED",
        "CANCELLED",
        "REJECTED",
        "EXPIRED",
    ]
    assert ExecState("FILLED") is ExecState.FILLED
    assert ExecState.ACK == "ACK"
    assert {ExecState.ACK, ExecState.PARTIAL}.isdisjoint(TERMINAL_EXEC_STATES)
    assert len(TERMINAL_EXEC_STATES) == 4


# --- identifiers ---------------------------------------------------------------------


def test_event_ids_unique_and_increasing() -> None:
    ids = []
    for _ in range(200):
        ids.append(minimal(Trade).event_id)
        ids.append(next_event_id())
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, int) and i > 0 for i in ids)


def test_explicit_event_id_is_kept() -> None:
    assert minimal(Trade, event_id=12345).event_id == 12345


def test_trace_id_format_and_uniqueness() -> None:
    ids = [new_trace_id() for _ in range(10_000)]
    assert all(TRACE_ID.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)
    # One random prefix per process, so ids from the same process share it.
    assert len({i[:8] for i in ids}) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_trace_id_prefix_redrawn_after_fork() -> None:
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads; this child only
        # writes one line and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write_end, new_trace_id().encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert TRACE_ID.fullmatch(child_id)
    # A parent/child prefix clash has probability 2**-32.
    assert child_id[:8] != new_trace_id()[:8]


# --- JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("event", samples(), ids=lambda e: f"{e.event_type}-{e.provider}")
def test_json_round_trip(event: Event) -> None:
    data = to_json(event)
    assert isinstance(data, bytes)
    back = from_json(data)
    assert type(back) is type(event)
    assert back == event
    assert to_json(back) == data
    assert from_json(data.decode()) == event


@pytest.mark.parametrize("event", samples(), ids=lambda e: f"{e.event_type}-{e.provider}")
def test_json_has_every_field_in_order(event: Event) -> None:
    obj = orjson.loads(to_json(event))
    assert list(obj) == [f.name for f in dataclasses.fields(event)]
    assert obj["event_type"] == type(event).__name__
    assert obj["schema_version"] == 1


def test_levels_become_arrays_and_come_back_as_tuples() -> None:
    snapshot = minimal(BookSnapshot, bids=[("87500.1", "0.25000000"), ("87499.8", "1.1")])
    assert orjson.loads(to_json(snapshot))["bids"] == [
        ["87500.1", "0.25000000"],
        ["87499.8", "1.1"],
    ]
    back = from_json(to_json(snapshot))
    assert isinstance(back, BookSnapshot)
    assert back.bids == [("87500.1", "0.25000000"), ("87499.8", "1.1")]
    assert all(type(level) is tuple for level in back.bids)


def test_prices_stay_strings_with_their_digits() -> None:
    update = minimal(BookUpdate, bids=[("87499.80", "0.00000000")], asks=[("1e-05", "2")])
    data = to_json(update)
    assert b'"bids":[["87499.80","0.00000000"]]' in data
    assert b'"asks":[["1e-05","2"]]' in data
    trade = minimal(Trade, price="87500.10", qty="0.010")
    assert b'"price":"87500.10","qty":"0.010"' in to_json(trade)
    for event in samples():
        obj = orjson.loads(to_json(event))
        for name, value in obj.items():
            assert not isinstance(value, float), name


def test_merged_levels_become_objects_and_come_back_as_levels() -> None:
    snapshot = full(MergedBookSnapshot)
    obj = orjson.loads(to_json(snapshot))
    assert obj["bids"] == [
        {"price": "87500.10", "qty": "0.75", "venues": {"kraken": "0.25", "coinbase": "0.5"}}
    ]
    assert obj["fragments"] == {"coinbase": 3, "kraken": 12}
    back = from_json(to_json(snapshot))
    assert isinstance(back, MergedBookSnapshot)
    assert back.bids == snapshot.bids
    assert all(type(level) is MergedLevel for level in back.bids)
    assert (back.provider, back.merge_id, back.close_reason) == ("merged", "m-42", "count")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bids": [{"price": "1", "qty": "2", "venues": {}, "side": "bid"}]}, r"bids\.0\.side"),
        ({"bids": [{"price": 1.5, "qty": "2", "venues": {}}]}, r"bids\.0\.price: .*string"),
        ({"bids": [{"price": "1", "qty": "2", "venues": {"kraken": 2}}]}, "venues.kraken"),
        ({"bids": [{"price": "1", "venues": {}}]}, r"bids\.0\.qty"),
        ({"close_reason": "bored"}, "close_reason: .*'time' or 'count'"),
        ({"fragments": {"kraken": "3"}}, "fragments.kraken: .*integer"),
        ({"crossed": 0}, "crossed: .*boolean"),
    ],
)
def test_from_json_merged_snapshot_errors(changes: dict[str, Any], message: str) -> None:
    obj = orjson.loads(to_json(minimal(MergedBookSnapshot)))
    obj.update(changes)
    with pytest.raises(ValueError, match=message):
        from_json(orjson.dumps(obj))


def test_merged_level_is_a_value() -> None:
    level = MergedLevel(price="1.0", qty="2", venues={"kraken": "2"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.price = "1.1"  # type: ignore[misc]
    assert level == MergedLevel(price="1.0", qty="2", venues={"kraken": "2"})


def test_exec_state_serialises_as_its_value() -> None:
    report = full(ExecReport)
    assert b'"state":"PARTIAL"' in to_json(report)
    back = from_json(to_json(report))
    assert isinstance(back, ExecReport)
    assert back.state is ExecState.PARTIAL


def test_from_json_fills_defaults_for_absent_optional_fields() -> None:
    obj = orjson.loads(to_json(minimal(Trade)))
    for name in ("schema_version", "event_id", "routing_version", "merge_id", "ord_type"):
        del obj[name]
    back = from_json(orjson.dumps(obj))
    assert isinstance(back, Trade)
    assert back.ord_type is None
    assert back.routing_version == 0
    assert back.event_id > 0


def _trade_json(**changes: Any) -> bytes:
    obj = orjson.loads(to_json(minimal(Trade)))
    for name, value in changes.items():
        if value is _DELETE:
            del obj[name]
        else:
            obj[name] = value
    return orjson.dumps(obj)


_DELETE = object()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be an object, not list"),
        (b'"Trade"', "must be an object, not str"),
        (_trade_json(event_type=_DELETE), "no 'event_type' field"),
        (_trade_json(event_type="Order"), "unknown event_type 'Order'; expected one of BookSnap"),
        (_trade_json(event_type=7), "unknown event_type 7"),
        (_trade_json(schema_version=2), "schema_version 2; this build reads 1"),
        (_trade_json(schema_version=True), "schema_version True"),
        (_trade_json(price=_DELETE, side=_DELETE), "Trade event is missing field.*price, side"),
        (_trade_json(trace_id=_DELETE), "missing field.*trace_id"),
        (_trade_json(colour="red", bid="1"), "unknown field.*bid, colour"),
        (_trade_json(price=87500.1), r"invalid Trade event: price: .*string.*\(got 87500\.1\)"),
        (_trade_json(qty=1), "qty: .*string"),
        (_trade_json(side="b"), "side: .*'buy' or 'sell'"),
        (_trade_json(ingest_ts="1767225600000000000"), "ingest_ts: .*integer"),
        (_trade_json(ingest_ts=1.5e18), "ingest_ts: .*integer"),
        (_trade_json(seq_provider=True), "seq_provider"),
        (_trade_json(trace_id="ABCDEF0123456789"), "trace_id must be 16 lowercase hex"),
        (_trade_json(trace_id="abc"), "trace_id must be 16 lowercase hex"),
    ],
)
def test_from_json_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_json(data)


@pytest.mark.parametrize(
    ("cls", "changes", "message"),
    [
        (BookUpdate, {"bids": [["1.0"]]}, "bids.0"),
        (BookUpdate, {"bids": [["1.0", 2.0]]}, "bids.0.1: .*string"),
        (BookUpdate, {"coalesced": "yes"}, "coalesced: .*boolean"),
        (BookStatus, {"reason": "bored"}, "reason: "),
        (ExecReport, {"state": "NEW"}, "state: .*'ACK'"),
        (KlineSummary, {"closed": 1}, "closed: .*boolean"),
    ],
)
def test_from_json_type_errors(cls: type[Event], changes: dict[str, Any], message: str) -> None:
    obj = orjson.loads(to_json(minimal(cls)))
    obj.update(changes)
    with pytest.raises(ValueError, match=message):
        from_json(orjson.dumps(obj))


# --- JSON Schema ---------------------------------------------------------------------


def _check(instance: Any, node: dict[str, Any], root: dict[str, Any], path: str) -> None:
    """Validate against the JSON Schema keywords json_schema() uses; raise on a mismatch.

    jsonschema is not a dependency, so this covers the subset pydantic emits (and fails on
    any keyword it does not know, so a schema change cannot pass silently).
    """
    known = {
        "$ref",
        "oneOf",
        "anyOf",
        "discriminator",
        "type",
        "const",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "pattern",
        "title",
        "description",
        "default",
        "$defs",
        "$schema",
    }
    unknown = set(node) - known
    assert not unknown, f"{path}: validator does not know {unknown}"
    if "$ref" in node:
        _check(instance, root["$defs"][node["$ref"].rsplit("/", 1)[1]], root, path)
    if "oneOf" in node:
        errors = []
        for option in node["oneOf"]:
            try:
                _check(instance, option, root, path)
            except AssertionError as exc:
                errors.append(str(exc).splitlines()[0])
        matches = len(node["oneOf"]) - len(errors)
        assert matches == 1, f"{path}: {matches} oneOf branches match: {'; '.join(errors)}"
    if "anyOf" in node:
        for option in node["anyOf"]:
            try:
                _check(instance, option, root, path)
            except AssertionError:
                continue
            break
        else:
            raise AssertionError(f"{path}: no anyOf branch matches")
    if "type" in node:
        expected = {
            "object": dict,
            "array": list,
            "string": str,
            "integer": int,
            "boolean": bool,
            "null": type(None),
        }[node["type"]]
        ok = isinstance(instance, expected)
        if node["type"] == "integer":
            ok = ok and not isinstance(instance, bool)
        assert ok, f"{path}: {instance!r} is not {node['type']}"
    if "const" in node:
        assert instance == node["const"], f"{path}: {instance!r} != {node['const']!r}"
    if "enum" in node:
        assert instance in node["enum"], f"{path}: {instance!r} not in {node['enum']}"
    if "pattern" in node:
        assert re.search(node["pattern"], instance), f"{path}: {instance!r} !~ {node['pattern']}"
    if "required" in node:
        missing = set(node["required"]) - set(instance)
        assert not missing, f"{path}: missing {missing}"
    if "properties" in node:
        for name, value in instance.items():
            if name in node["properties"]:
                _check(value, node["properties"][name], root, f"{path}.{name}")
            else:
                assert node.get("additionalProperties", True), f"{path}: extra {name!r}"
    if "minItems" in node:
        assert len(instance) >= node["minItems"], f"{path}: too short"
    if "maxItems" in node:
        assert len(instance) <= node["maxItems"], f"{path}: too long"
    if "prefixItems" in node:
        for i, (item, sub) in enumerate(zip(instance, node["prefixItems"], strict=False)):
            _check(item, sub, root, f"{path}[{i}]")
    if "items" in node:
        for i, item in enumerate(instance[len(node.get("prefixItems", ())) :]):
            _check(item, node["items"], root, f"{path}[{i}]")


def validate(instance: Any, document: dict[str, Any]) -> None:
    _check(instance, document, document, "$")


def test_json_schema_document_shape() -> None:
    document = json_schema()
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["oneOf"] == [{"$ref": f"#/$defs/{cls.__name__}"} for cls in EVENT_TYPES]
    assert document["discriminator"] == {
        "propertyName": "event_type",
        "mapping": {cls.__name__: f"#/$defs/{cls.__name__}" for cls in EVENT_TYPES},
    }
    orjson.dumps(document)  # plain JSON data throughout
    for cls in EVENT_TYPES:
        definition = document["$defs"][cls.__name__]
        names = [f.name for f in dataclasses.fields(cls)]
        assert list(definition["properties"]) == names
        assert definition["required"] == names  # to_json always writes every field
        assert definition["additionalProperties"] is False
        assert definition["properties"]["event_type"]["const"] == cls.__name__
        assert definition["properties"]["schema_version"]["const"] == 1
        assert definition["properties"]["trace_id"]["pattern"] == "^[0-9a-f]{16}$"
        assert definition["description"]
        for name, prop in definition["properties"].items():
            assert prop.get("description"), f"{cls.__name__}.{name} has no description"
            assert "``" not in prop["description"]
    assert document["$defs"]["ExecState"]["enum"] == [s.value for s in ExecState]


def test_json_schema_returns_a_fresh_copy() -> None:
    document = json_schema()
    document["$defs"].clear()
    assert json_schema()["$defs"]


@pytest.mark.parametrize("event", samples(), ids=lambda e: f"{e.event_type}-{e.provider}")
def test_json_schema_accepts_events(event: Event) -> None:
    validate(orjson.loads(to_json(event)), json_schema())


@pytest.mark.parametrize(
    "change",
    [
        {"price": 87500.1},
        {"event_type": "Order"},
        {"extra": 1},
        {"side": "b"},
        {"trace_id": "ABCDEF0123456789"},
        {"schema_version": 2},
        {"seq_provider": True},
    ],
)
def test_json_schema_rejects_bad_events(change: dict[str, Any]) -> None:
    obj = orjson.loads(to_json(minimal(Trade)))
    obj.update(change)
    with pytest.raises(AssertionError):
        validate(obj, json_schema())
    with pytest.raises(ValueError, match=r"Trade event|event_type"):
        from_json(orjson.dumps(obj))


def test_json_schema_rejects_missing_field_and_bad_level() -> None:
    obj = orjson.loads(to_json(minimal(BookUpdate)))
    del obj["checksum"]
    with pytest.raises(AssertionError, match="missing"):
        validate(obj, json_schema())
    obj = orjson.loads(to_json(minimal(BookUpdate, bids=[("1", "2")])))
    obj["bids"] = [["1", "2", "3"]]
    with pytest.raises(AssertionError, match="too long"):
        validate(obj, json_schema())


def test_json_schema_with_jsonschema() -> None:
    import jsonschema  # a test dependency: the reference validator for draft 2020-12

    document = json_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    validator = jsonschema.Draft202012Validator(document)
    for event in samples():
        validator.validate(orjson.loads(to_json(event)))


# --- no floats -----------------------------------------------------------------------


def _contains_float(hint: Any) -> bool:
    if hint is float:
        return True
    return any(_contains_float(arg) for arg in typing.get_args(hint))


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=by_name)
def test_no_float_field_annotations(cls: type[Event]) -> None:
    hints = typing.get_type_hints(cls)
    assert set(hints) == {f.name for f in dataclasses.fields(cls)}
    floats = [name for name, hint in hints.items() if _contains_float(hint)]
    assert not floats


def test_no_float_anywhere_in_module_code() -> None:
    # Covers annotations of aliases and functions too (they are AST nodes under
    # `from __future__ import annotations`); prose in docstrings may still say "float".
    tree = ast.parse(Path(schema.__file__).read_text(encoding="utf-8"))
    uses = [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "float")
        or (isinstance(node, ast.Constant) and isinstance(node.value, float))
    ]
    assert not uses, f"float used on line(s) {uses}"


# --- docs/events.md ------------------------------------------------------------------


def _doc_sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _table_fields(section: str) -> list[str]:
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_docs_list_every_field() -> None:
    sections = _doc_sections()
    assert _table_fields(sections["Common fields"]) == list(COMMON_FIELDS)
    for cls in EVENT_TYPES:
        specific = [f.name for f in dataclasses.fields(cls)][len(COMMON_FIELDS) :]
        assert _table_fields(sections[cls.__name__]) == specific, cls.__name__


def test_docs_examples_are_what_to_json_writes() -> None:
    lines = re.findall(r"^```json\n(.+)\n```$", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    seen = []
    document = json_schema()
    for line in lines:
        event = from_json(line)
        assert to_json(event).decode() == line
        validate(orjson.loads(line), document)
        seen.append(event.event_type)
    assert seen == [cls.__name__ for cls in EVENT_TYPES]
