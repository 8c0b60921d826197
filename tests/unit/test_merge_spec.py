"""MergeSpec: what a merge is, validated on construction with errors that name the field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tradegw.conductor import MergeSpec, new_merge_id
from tradegw.conductor.spec import MERGE_ID_PATTERN

pytestmark = pytest.mark.timeout(10)


def make(**overrides: Any) -> MergeSpec:
    fields: dict[str, Any] = {
        "merge_id": "m1",
        "symbol": "BTC-USD",
        "venues": frozenset({"kraken", "coinbase"}),
    }
    fields.update(overrides)
    return MergeSpec(**fields)


def test_defaults_are_the_plans() -> None:
    s = make()
    assert (s.window_s, s.max_events, s.depth) == (10.0, 1000, 10)
    assert s.venues == frozenset({"coinbase", "kraken"})


def test_any_collection_of_venues_becomes_a_frozenset_and_ints_become_seconds() -> None:
    s = make(venues=["kraken", "binance", "coinbase"], window_s=2)
    assert s.venues == frozenset({"binance", "coinbase", "kraken"})
    assert type(s.window_s) is float


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"merge_id": ""}, "^merge_id must match"),
        ({"merge_id": "a b"}, "^merge_id must match"),
        ({"merge_id": "x" * 65}, "^merge_id must match"),
        ({"merge_id": 7}, "^merge_id must match"),
        ({"symbol": "BTC/USD"}, "^symbol must be a canonical symbol like BTC-USD, got 'BTC/USD'"),
        ({"symbol": "btc-usd"}, "^symbol must be"),
        ({"symbol": "BTCUSD"}, "^symbol must be"),
        ({"symbol": None}, "^symbol must be"),
        ({"venues": "kraken"}, "^venues must be a collection of venue names"),
        ({"venues": frozenset({"kraken"})}, r"^venues must name at least 2 venues, got \['kr"),
        ({"venues": ["kraken", "kraken"]}, r"^venues lists \['kraken'\] more than once"),
        ({"venues": ["kraken", "bitmex"]}, r"^venues \['bitmex'\] are unknown; known: \["),
        ({"venues": ["kraken", "merged"]}, r"^venues \['merged'\] are unknown"),
        ({"venues": ["kraken", 3]}, "^venues must be venue names"),
        ({"venues": 3}, "^venues must be a collection"),
        ({"window_s": 0}, "^window_s must be > 0 and <= 3600, got 0"),
        ({"window_s": -1.0}, "^window_s must be > 0"),
        ({"window_s": float("nan")}, "^window_s must be > 0"),
        ({"window_s": float("inf")}, "^window_s must be > 0"),
        ({"window_s": 3601}, "^window_s must be > 0 and <= 3600"),
        ({"window_s": "10"}, "^window_s must be a number of seconds"),
        ({"window_s": True}, "^window_s must be a number of seconds"),
        ({"max_events": 0}, "^max_events must be between 2 and 10000000, got 0"),
        ({"max_events": 1}, "^max_events must be between 2 and"),
        ({"max_events": 10_000_001}, "^max_events must be between"),
        ({"max_events": 10.0}, "^max_events must be an integer"),
        ({"max_events": True}, "^max_events must be an integer"),
        ({"depth": 0}, "^depth must be between 1 and 1000, got 0"),
        ({"depth": 1001}, "^depth must be between 1 and 1000"),
        ({"depth": "10"}, "^depth must be an integer"),
    ],
)
def test_a_bad_field_is_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_max_events_must_leave_room_for_every_venue() -> None:
    make(max_events=2)
    with pytest.raises(ValueError, match=r"^max_events must be between 3 and"):
        make(venues=["binance", "coinbase", "kraken"], max_events=2)


def test_a_spec_is_immutable() -> None:
    s = make()
    with pytest.raises(AttributeError):
        s.window_s = 1.0  # type: ignore[misc]


def test_new_merge_ids_are_valid_unique_and_name_the_symbol() -> None:
    ids = {new_merge_id("BTC-USD") for _ in range(1000)}
    assert len(ids) == 1000
    for merge_id in ids:
        assert merge_id.startswith("m-BTC-USD-")
        assert re.match(MERGE_ID_PATTERN, merge_id)
        make(merge_id=merge_id)
