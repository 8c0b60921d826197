"""The venue-neutral wire helpers: fixed-point text, times, JSON, frames."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tradegw.sim.wire import (
    DataFrame,
    Num,
    div_round,
    dumps,
    fixed,
    jstr,
    parse_fixed,
    rfc3339_ns,
    rfc3339_us,
    stamp,
    ws_text_header,
)

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [
        (5660, 4, "0.5660"),
        (5, 6, "0.000005"),
        (1, 8, "0.00000001"),
        (0, 8, "0.00000000"),
        (628070, 1, "62807.0"),
        (50930100, 8, "0.50930100"),
        (100000000, 8, "1.00000000"),
        (452852, 1, "45285.2"),
        (-7, 3, "-0.007"),
        (-400, 2, "-4.00"),
        (3, 0, "3"),
        (0, 0, "0"),
        (123456789012345678, 8, "1234567890.12345678"),
    ],
)
def test_fixed_keeps_every_decimal_and_never_uses_exponents(
    value: int, precision: int, text: str
) -> None:
    assert fixed(value, precision) == text
    assert "e" not in text.lower()
    assert Decimal(text) == Decimal(value).scaleb(-precision)


def test_parse_fixed_round_trips_and_refuses_rounding() -> None:
    assert parse_fixed("0.566", 4) == 5660
    assert parse_fixed("-1.5", 2) == -150
    assert parse_fixed("12", 3) == 12000
    assert parse_fixed("0.56600", 4) == 5660  # extra zeros are harmless
    assert parse_fixed(fixed(-123456, 3), 3) == -123456
    with pytest.raises(ValueError, match="more than 4 decimals"):
        parse_fixed("0.56601", 4)
    with pytest.raises(ValueError, match="plain decimal"):
        parse_fixed("5e-06", 6)


def test_div_round_rounds_half_away_from_zero() -> None:
    assert div_round(5, 2) == 3
    assert div_round(-5, 2) == -3
    assert div_round(4, 3) == 1
    assert div_round(-4, 3) == -1
    assert div_round(7, -2) == -4


def test_dumps_encodes_json_and_refuses_floats() -> None:
    body = {"a": [1, True, False, None, 'x"\\\n\x01é'], "n": Num("0.000005"), "t": (2, 3)}
    text = dumps(body)
    assert text == '{"a":[1,true,false,null,"x\\"\\\\\\n\\u0001é"],"n":0.000005,"t":[2,3]}'
    assert json.loads(text)["a"][4] == 'x"\\\n\x01é'
    assert jstr("BTC/USD") == '"BTC/USD"'
    assert repr(Num.fixed(5660, 4)) == "Num(0.5660)"
    with pytest.raises(TypeError, match="floats"):
        dumps({"bad": 0.1})


def test_a_plain_data_frame_has_no_integrity_field_to_corrupt() -> None:
    frame = DataFrame("trade", "BTC/USD", b'{"x":1}')
    assert frame.corruptible is False
    assert frame.loss_detectable is False
    with pytest.raises(TypeError, match="no integrity field"):
        frame.corrupted()


def test_stamp_appends_the_send_time() -> None:
    assert json.loads(stamp(b'{"channel":"book"}', 123)) == {"channel": "book", "sim_send_ns": 123}


def test_timestamps_are_rfc3339() -> None:
    ns = 1_696_613_755_440_295_123
    assert rfc3339_us(ns) == "2023-10-06T17:35:55.440295Z"
    assert rfc3339_ns(ns) == "2023-10-06T17:35:55.440295123Z"
    assert rfc3339_us(ns + 1_000_000_000) == "2023-10-06T17:35:56.440295Z"


@pytest.mark.parametrize(("length", "header"), [(5, b"\x81\x05"), (300, b"\x81\x7e\x01\x2c")])
def test_ws_text_header(length: int, header: bytes) -> None:
    assert ws_text_header(length) == header
    assert ws_text_header(70000) == b"\x81\x7f" + (70000).to_bytes(8, "big")
