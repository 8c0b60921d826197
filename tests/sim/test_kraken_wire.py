"""Kraken's number text, frames and checksum code in the simulator."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tests.sim.kraken_helpers import literal_checksum, parse_text, ref_checksum
from tradegw.sim.instruments import build_instruments
from tradegw.sim.kraken.checksum import BookChecksum, checksum
from tradegw.sim.kraken.feed import shuffle_levels
from tradegw.sim.kraken.wire import BookFrame, book_frame, float_text, trimmed
from tradegw.sim.market import Market
from tradegw.sim.wire import fixed, parse_fixed

pytestmark = pytest.mark.timeout(20)

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
    # The tests' own Decimal implementation must agree on the same vectors...
    ref_bids = {Decimal(p): Decimal(q) for p, q in bids}
    ref_asks = {Decimal(p): Decimal(q) for p, q in asks}
    assert ref_checksum(ref_bids, ref_asks, pp, qp) == expected

    # ...and so must the literal-text one, once the numbers are written as the wire does.
    def wire(levels: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(fixed(p, pp), fixed(q, qp)) for p, q in _fixed_levels(levels, pp, qp)]

    assert literal_checksum(wire(asks), wire(bids)) == expected


def test_checksum_uses_only_top_ten() -> None:
    asks = _fixed_levels(MATIC_ASKS, 4, 8)
    bids = _fixed_levels(MATIC_BIDS, 4, 8)
    assert checksum([*asks, (99999, 1)], [*bids, (1, 1), (2, 2)]) == 2439117997


def test_book_checksum_follows_the_market_even_when_steps_are_missed() -> None:
    """The cached checksum equals a from-scratch one after every step, observed or not."""
    market = Market(build_instruments([("MATIC", "USD")]), 4, 40, 0)
    state = market.state("MATIC-USD")
    cached = BookChecksum(state)
    for i in range(3000):
        result = market.step("MATIC-USD", (), 0)
        if i % 97 not in (3, 4):  # now and then a step goes unobserved
            cached.observe(result)
        if i % 5 == 0 or i % 97 == 5:
            bids, asks = market.top("MATIC-USD")
            assert cached.value() == checksum(asks, bids)


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [
        (1, 8, "1e-08"),
        (5000, 8, "5e-05"),
        (15, 6, "1.5e-05"),
        (1, 5, "1e-05"),
        (1, 4, "0.0001"),
        (10000, 8, "0.0001"),
        (12345, 8, "0.00012345"),
        (1, 1, "0.1"),
        (50000, 5, "0.5"),
        (200000000, 8, "2.0"),
        (450000, 1, "45000.0"),
        (5000000000, 5, "50000.0"),
        (0, 8, "0.0"),
        (-25, 2, "-0.25"),
        (1, -16, "1e+16"),
        (123, -14, "1.23e+16"),
        (1234567890123456, 0, "1234567890123456.0"),
    ],
)
def test_float_text_writes_what_a_float_repr_writes(value: int, precision: int, text: str) -> None:
    # Python's repr of the same decimal value is the reference (a test oracle only).
    assert float_text(value, precision) == text == repr(float(Decimal(value).scaleb(-precision)))


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [(5660, 4, "0.566"), (452810, 1, "45281"), (1, 8, "0.00000001"), (17, 0, "17")],
)
def test_trimmed_drops_trailing_zeros(value: int, precision: int, text: str) -> None:
    assert trimmed(value, precision) == text


def test_book_frame_writes_full_precision_and_corrupts_only_its_checksum() -> None:
    data = book_frame("update", '"BTC/USD"', [(628070, 0), (628069, 50930100)], [], 1, 8, 42, "T")
    assert data == (
        b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD",'
        b'"bids":[{"price":62807.0,"qty":0.00000000},{"price":62806.9,"qty":0.50930100}],'
        b'"asks":[],"checksum":42,"timestamp":"T"}]}'
    )
    frame = BookFrame("BTC/USD", data, 42, True)
    assert (frame.channel, frame.corruptible, frame.loss_detectable) == ("book", True, True)
    wrong = frame.corrupted()
    assert wrong.checksum != 42
    assert wrong.loss_detectable
    parsed, original = parse_text(wrong.data.decode()), parse_text(data.decode())
    assert parsed["data"][0]["checksum"] == wrong.checksum
    parsed["data"][0]["checksum"] = 42
    assert parsed == original


def test_shuffle_levels_is_seeded_and_a_permutation() -> None:
    levels = [(p, p * 10) for p in range(1, 8)]
    orders = set()
    for seed in range(30):
        shuffled = list(levels)
        shuffle_levels(shuffled, random.Random(seed))
        assert sorted(shuffled) == levels
        again = list(levels)
        shuffle_levels(again, random.Random(seed))
        assert again == shuffled
        orders.add(tuple(shuffled))
    assert len(orders) > 20
    long = [(p, 1) for p in range(50)]
    shuffle_levels(long, random.Random(1))
    assert sorted(long) == [(p, 1) for p in range(50)]
    assert long != sorted(long)
