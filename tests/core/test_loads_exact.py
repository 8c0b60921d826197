"""``_core.loads_exact`` against the standard library's decoder with numbers kept as text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradegw._core import loads_exact

_stdlib = json.JSONDecoder(parse_float=str, parse_int=str)

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=12).map(
        lambda d: format(d, "f") if "." in format(d, "f") else format(d, "f") + ".0"
    ),
    st.sampled_from(["1e-05", "1E+3", "-0.0", "0", "2.5e10", "45283.50000000"]),
)
json_text = st.recursive(
    st.one_of(
        st.none().map(lambda _: "null"),
        st.booleans().map(lambda b: "true" if b else "false"),
        numbers,
        st.text().map(lambda s: json.dumps(s, ensure_ascii=bool(len(s) % 2))),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.dictionaries(st.text(max_size=8), children, max_size=5).map(
            lambda d: "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_text)
def test_same_result_as_stdlib_with_numbers_as_text(text: str) -> None:
    expected: Any = _stdlib.decode(text)
    assert loads_exact(text.encode()) == expected


def test_kraken_frame_keeps_every_digit() -> None:
    frame = (
        b'{"channel":"book","data":[{"bids":[{"price":0.5660,"qty":12345678.123456789}],'
        b'"checksum":2439117997}],"connection_id":13834774380200032777}'
    )
    got = loads_exact(frame)
    assert got["data"][0]["bids"][0] == {"price": "0.5660", "qty": "12345678.123456789"}
    assert got["data"][0]["checksum"] == "2439117997"
    assert got["connection_id"] == "13834774380200032777"


@pytest.mark.parametrize(
    "bad",
    [b"", b"NaN", b"[Infinity]", b"01", b"[1,]", b'{"a":1,}', b'"\xff"', b"[" * 200, b"[1]x"],
)
def test_invalid_json_is_a_value_error(bad: bytes) -> None:
    with pytest.raises(ValueError, match="invalid JSON"):
        loads_exact(bad)
