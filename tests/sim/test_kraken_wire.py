"""Number text, JSON encoding and the checksum of the Kraken simulator's wire module."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.sim.kraken_helpers import ref_checksum
from tradegw.sim.kraken.wire import (
    DataFrame,
    Num,
    book_frame,
    checksum,
    div_round,
    dumps,
    fixed,
    jstr,
    num,
    parse_fixed,
    rfc3339_ns,
    rfc3339_us,
    stamp,
    ws_text_header,
)

pytestmark = pytest.mark.timeout(10)

# protocols.md 4.4 (guide spot-ws-book-v2, BTC/USD, precision 1/8) -> 3310070434
BTC_BIDS = [
    ("45283.5", "0.10000000"), ("45283.4", "1.54582015"), ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"), ("45280.3", "1.54592586"), ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"), ("45277.5", "0.30000000"), ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]  # fmt: skip
BTC_ASKS = [
    ("45285.2", "0.00100000"), ("45286.4", "1.54571953"), ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"), ("45290.2", "0.15890660"), ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"), ("45296.1", "0.35380000"), ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]  # fmt: skip
# protocols.md 4.5 (websocket-v2 book page, MATIC/USD, precision 4/8, doc JSON text) -> 2439117997
MATIC_BIDS = [
    ("0.5666", "4831.75496356"), ("0.5665", "6658.22734739"), ("0.5664", "18724.91513344"),
    ("0.5663", "11563.92544914"), ("0.5662", "14006.65365711"), ("0.5661", "17454.85679807"),
    ("0.566", "18097.1547"), ("0.5659", "33644.89175666"), ("0.5658", "148.3464"),
    ("0.5657", "606.70854372"),
]  # fmt: skip
MATIC_ASKS = [
    ("0.5668", "4410.79769741"), ("0.5669", "4655.40412487"), ("0.567", "49844.89424998"),
    ("0.5671", "24306.41678"), ("0.5672", "29783.25223475"), ("0.5673", "57234.71239278"),
    ("0.5674", "45065.04744"), ("0.5675", "5912.76380354"), ("0.5676", "42514.92434778"),
    ("0.5677", "36304.0847022"),
]  # fmt: skip


def _fixed_levels(levels: list[tuple[str, str]], pp: int, qp: int) -> list[tuple[int, int]]:
    return [(parse_fixed(p, pp), parse_fixed(q, qp)) for p, q in levels]


@pytest.mark.parametrize(
    ("bids", "asks", "pp", "qp", "expected"),
    [
        (BTC_BIDS, BTC_ASKS, 1, 8, 3310070434),
        (MATIC_BIDS, MATIC_ASKS, 4, 8, 2439117997),
    ],
)
def test_checksum_matches_kraken_vectors(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], pp: int, qp: int, expected: int
) -> None:
    assert checksum(_fixed_levels(asks, pp, qp), _fixed_levels(bids, pp, qp)) == expected
    # The tests' own Decimal implementation must agree on the same vectors.
    ref_bids = {Decimal(p): Decimal(q) for p, q in bids}
    ref_asks = {Decimal(p): Decimal(q) for p, q in asks}
    assert ref_checksum(ref_bids, ref_asks, pp, qp) == expected


def test_checksum_uses_only_top_ten() -> None:
    asks = _fixed_levels(MATIC_ASKS, 4, 8)
    bids = _fixed_levels(MATIC_BIDS, 4, 8)
    more = [(1, 1), (2, 2)]
    assert checksum([*asks, (99999, 1)], bids + more) == 2439117997


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [
        (5660, 4, "0.566"),
        (5, 6, "0.000005"),
        (1, 8, "0.00000001"),
        (452810, 1, "45281"),
        (452852, 1, "45285.2"),
        (100000, 8, "0.001"),
        (0, 4, "0"),
        (-25, 2, "-0.25"),
        (-400, 2, "-4"),
        (17, 0, "17"),
        (123456789012345678, 8, "1234567890.12345678"),
    ],
)
def test_num_is_plain_decimal_without_trailing_zeros(value: int, precision: int, text: str) -> None:
    assert num(value, precision) == text
    assert "e" not in text.lower()
    assert Decimal(text) == Decimal(value).scaleb(-precision)


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [
        (5660, 4, "0.5660"),
        (5, 6, "0.000005"),
        (452810, 1, "45281.0"),
        (-7, 3, "-0.007"),
        (3, 0, "3"),
    ],
)
def test_fixed_keeps_all_decimals(value: int, precision: int, text: str) -> None:
    assert fixed(value, precision) == text


def test_parse_fixed_round_trips_and_refuses_rounding() -> None:
    assert parse_fixed("0.566", 4) == 5660
    assert parse_fixed("-1.5", 2) == -150
    assert parse_fixed("12", 3) == 12000
    assert parse_fixed("0.56600", 4) == 5660  # extra zeros are harmless
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
    assert repr(Num.fixed(5660, 4)) == "Num(0.566)"
    with pytest.raises(TypeError, match="floats"):
        dumps({"bad": 0.1})


def test_book_frame_shape() -> None:
    frame = book_frame("update", '"MATIC/USD"', [(5660, 1809715470000)], [], 4, 8, 42, "T")
    assert frame == (
        b'{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD",'
        b'"bids":[{"price":0.566,"qty":18097.1547}],"asks":[],"checksum":42,"timestamp":"T"}]}'
    )
    wrong = DataFrame("book", "MATIC/USD", frame, 42, True, True).with_wrong_checksum()
    assert wrong.checksum != 42
    assert json.loads(wrong.data)["data"][0]["checksum"] == wrong.checksum
    assert json.loads(stamp(frame, 123))["sim_send_ns"] == 123


def test_timestamps_are_rfc3339() -> None:
    ns = 1_696_613_755_440_295_123
    assert rfc3339_us(ns) == "2023-10-06T17:35:55.440295Z"
    assert rfc3339_ns(ns) == "2023-10-06T17:35:55.440295123Z"


@pytest.mark.parametrize(("length", "header"), [(5, b"\x81\x05"), (300, b"\x81\x7e\x01\x2c")])
def test_ws_text_header(length: int, header: bytes) -> None:
    assert ws_text_header(length) == header
    assert ws_text_header(70000) == b"\x81\x7f" + (70000).to_bytes(8, "big")
