"""The venue-neutral instrument reference: table first, then synthesised, never seeded."""

from __future__ import annotations

import pytest

from tradegw.sim.instruments import TABLE, build_instruments, synthetic_instrument


def test_counts_take_the_table_then_synthesise() -> None:
    instruments = build_instruments(24)
    assert [i.name for i in instruments[:3]] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    btc = instruments[0]
    assert (btc.price_precision, btc.qty_precision, btc.start_price) == (1, 8, 450000)
    synthetic = instruments[len(TABLE) :]
    assert [i.name for i in synthetic[:2]] == ["SYM17-USD", "SYM18-USD"]
    assert len({(i.price_precision, i.qty_precision) for i in synthetic}) >= 5
    assert len({i.name for i in instruments}) == 24
    assert build_instruments(24) == instruments


def test_named_pairs_use_the_table_or_are_synthesised() -> None:
    named = build_instruments([("MATIC", "USD"), ("FOO", "EUR")])
    assert named[0] == next(i for i in TABLE if i.name == "MATIC-USD")
    assert named[1].name == "FOO-EUR"
    assert named[1] == synthetic_instrument("FOO", "EUR", len(TABLE) + 1)
    for inst in named:
        assert 0 < inst.qty_min <= inst.qty_max
        assert inst.start_price > 0
        assert inst.max_gap >= 1


@pytest.mark.parametrize("spec", [0, [], [("BTC", "USD"), ("BTC", "USD")], [("", "USD")]])
def test_bad_specs_are_refused(spec: int | list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages
        build_instruments(spec)
