"""Published checksum vectors (protocols.md §3.2, §4.3-§4.5) through the native core.

Every expected number here is a published one: Kraken's own doc examples as recomputed in
protocols.md, and the standard CRC-32 check value. The point of the v2 vectors is that a
Kraken v2 book must be re-rendered at the instrument's precision before hashing: the JSON
number text (``0.566``) hashes to a different, wrong value.
"""

from __future__ import annotations

import zlib

import pytest

from tests.reference import RefOrderBook, ref_kraken_checksum
from tradegw._core import BookAssembler, OrderBook, kraken_checksum

Levels = list[tuple[str, str]]


def _levels(text: str) -> Levels:
    """Parses protocols.md's ``price qty · price qty`` notation."""
    out = []
    for pair in text.split("·"):
        price, qty = pair.split()
        out.append((price, qty))
    return out


def _as_json_number(text: str) -> str:
    """The shortest round-trip text of a number, which is how a JSON encoder writes it."""
    return repr(float(text))


# §4.3 Kraken v1 (guide spot-ws-book-v1).
V1_ASKS = _levels(
    "0.05005 0.00000500 · 0.05010 0.00000500 · 0.05015 0.00000500 · 0.05020 0.00000500 · "
    "0.05025 0.00000500 · 0.05030 0.00000500 · 0.05035 0.00000500 · 0.05040 0.00000500 · "
    "0.05045 0.00000500 · 0.05050 0.00000500"
)
V1_BIDS = _levels(
    "0.05000 0.00000500 · 0.04995 0.00000500 · 0.04990 0.00000500 · 0.04980 0.00000500 · "
    "0.04975 0.00000500 · 0.04970 0.00000500 · 0.04965 0.00000500 · 0.04960 0.00000500 · "
    "0.04955 0.00000500 · 0.04950 0.00000500"
)
V1_STRING = (
    "5005500501050050155005020500502550050305005035500504050050455005050500500050049955004990"
    "5004980500497550049705004965500496050049555004950500"
)
V1_CHECKSUM = 974947235

# §4.4 Kraken v2 BTC/USD (guide spot-ws-book-v2), precision 1 / 8, levels as published.
BTC_BIDS = _levels(
    "45283.5 0.10000000 · 45283.4 1.54582015 · 45282.1 0.10000000 · 45281.0 0.10000000 · "
    "45280.3 1.54592586 · 45279.0 0.07990000 · 45277.6 0.03310103 · 45277.5 0.30000000 · "
    "45277.3 1.54602737 · 45276.6 0.15445238"
)
BTC_ASKS = _levels(
    "45285.2 0.00100000 · 45286.4 1.54571953 · 45286.6 1.54571109 · 45289.6 1.54560911 · "
    "45290.2 0.15890660 · 45291.8 1.54553491 · 45294.7 0.04454749 · 45296.1 0.35380000 · "
    "45297.5 0.09945542 · 45299.5 0.18772827"
)
BTC_ASK_STRING = (
    "45285210000045286415457195345286615457110945289615456091145290215890660452918154553491"
    "452947445474945296135380000452975994554245299518772827"
)
BTC_BID_STRING = (
    "45283510000000452834154582015452821100000004528101000000045280315459258645279079900004"
    "5277633101034527753000000045277315460273745276615445238"
)
BTC_CHECKSUM = 3310070434

# §4.5 Kraken v2 MATIC/USD (websocket-v2 book reference page): the doc's JSON number text.
MATIC_BIDS = _levels(
    "0.5666 4831.75496356 · 0.5665 6658.22734739 · 0.5664 18724.91513344 · "
    "0.5663 11563.92544914 · 0.5662 14006.65365711 · 0.5661 17454.85679807 · "
    "0.566 18097.1547 · 0.5659 33644.89175666 · 0.5658 148.3464 · 0.5657 606.70854372"
)
MATIC_ASKS = _levels(
    "0.5668 4410.79769741 · 0.5669 4655.40412487 · 0.567 49844.89424998 · 0.5671 24306.41678 · "
    "0.5672 29783.25223475 · 0.5673 57234.71239278 · 0.5674 45065.04744 · "
    "0.5675 5912.76380354 · 0.5676 42514.92434778 · 0.5677 36304.0847022"
)
MATIC_CHECKSUM = 2439117997
MATIC_RAW_TEXT_CHECKSUM = 3830085102  # what hashing the JSON text gives: the documented pitfall
# §3.2: the update that follows the snapshot on the same reference page.
MATIC_UPDATE_BIDS = [("0.5657", "1098.3947558")]
MATIC_UPDATE_CHECKSUM = 2114181697


def test_crc_is_ieee_crc32() -> None:
    # "123456789" -> 0xCBF43926 is the published check value of CRC-32/ISO-HDLC (zlib's).
    # CRC-32C would give 0xE3069283, so this pins the polynomial as well as the reflection.
    assert kraken_checksum([("12345", "6789")], []) == 0xCBF43926
    assert ref_kraken_checksum([("12345", "6789")], []) == 0xCBF43926


def test_kraken_v1_doc_vector() -> None:
    assert zlib.crc32(V1_STRING.encode()) == V1_CHECKSUM  # the published string is the input
    assert kraken_checksum(V1_ASKS, V1_BIDS) == V1_CHECKSUM
    assert ref_kraken_checksum(V1_ASKS, V1_BIDS) == V1_CHECKSUM


def test_kraken_v1_doc_vector_ignores_trailing_level_fields() -> None:
    # v1 levels arrive as [price, volume, timestamp] and may carry a 4th "r" (republish).
    asks = [(p, q, "1618678133.365913") for p, q in V1_ASKS]
    bids = [(p, q, "1618678133.365913", "r") for p, q in V1_BIDS]
    assert kraken_checksum(asks, bids) == V1_CHECKSUM


def test_kraken_v1_doc_vector_through_order_book() -> None:
    book = OrderBook(5, 8)
    book.apply_snapshot(V1_BIDS, V1_ASKS)
    assert book.top(10) == (V1_BIDS, V1_ASKS)
    assert book.checksum_kraken() == V1_CHECKSUM


def test_kraken_v2_btc_usd_published_levels() -> None:
    assert zlib.crc32((BTC_ASK_STRING + BTC_BID_STRING).encode()) == BTC_CHECKSUM
    assert kraken_checksum(BTC_ASKS, BTC_BIDS) == BTC_CHECKSUM
    book = OrderBook(1, 8, depth=10)
    book.apply_snapshot(BTC_BIDS, BTC_ASKS)
    assert book.checksum_kraken() == BTC_CHECKSUM


def test_kraken_v2_btc_usd_from_json_numbers() -> None:
    bids = [(_as_json_number(p), _as_json_number(q)) for p, q in BTC_BIDS]
    asks = [(_as_json_number(p), _as_json_number(q)) for p, q in BTC_ASKS]
    # The wire text really is shorter than the precision ("0.1", "0.0799", "45281.0")...
    assert ("45281.0", "0.1") in bids
    assert ("45279.0", "0.0799") in bids
    assert ("45285.2", "0.001") in asks
    # ...so hashing it as received is wrong, and re-rendering at 1 / 8 decimals fixes it.
    assert kraken_checksum(asks, bids) != BTC_CHECKSUM
    book = OrderBook(1, 8, depth=10)
    book.apply_snapshot(bids, asks)
    top_bids, top_asks = book.top(10)
    assert (top_bids, top_asks) == (BTC_BIDS, BTC_ASKS)
    assert kraken_checksum(top_asks, top_bids) == BTC_CHECKSUM
    assert book.checksum_kraken() == BTC_CHECKSUM


def test_kraken_v2_matic_usd_raw_text_gives_the_wrong_checksum() -> None:
    assert kraken_checksum(MATIC_ASKS, MATIC_BIDS) == MATIC_RAW_TEXT_CHECKSUM
    assert ref_kraken_checksum(MATIC_ASKS, MATIC_BIDS) == MATIC_RAW_TEXT_CHECKSUM


def test_kraken_v2_matic_usd_rendered_at_instrument_precision() -> None:
    book = OrderBook(4, 8, depth=10)
    book.apply_snapshot(MATIC_BIDS, MATIC_ASKS)
    top_bids, top_asks = book.top(10)
    assert ("0.5660", "18097.15470000") in top_bids
    assert ("0.5670", "49844.89424998") in top_asks
    assert kraken_checksum(top_asks, top_bids) == MATIC_CHECKSUM
    assert book.checksum_kraken() == MATIC_CHECKSUM

    ref = RefOrderBook(4, 8, depth=10)
    ref.apply_snapshot(MATIC_BIDS, MATIC_ASKS)
    assert ref.top(10) == (top_bids, top_asks)
    assert ref.checksum_kraken() == MATIC_CHECKSUM


def test_kraken_v2_matic_usd_snapshot_then_documented_update() -> None:
    # The update sets the existing 10th bid (0.5657, was 606.70854372) to 1098.3947558; with
    # the 4 / 8 rendering the published checksum reproduces exactly.
    assembler = BookAssembler("kraken", 4, 8, depth=10)
    assert assembler.on_snapshot(MATIC_BIDS, MATIC_ASKS, MATIC_CHECKSUM) == "applied"
    assert assembler.on_update(MATIC_UPDATE_BIDS, [], MATIC_UPDATE_CHECKSUM) == "applied"
    assert assembler.state == "synced"
    bids, _ = assembler.book.top(10)
    assert bids[-1] == ("0.5657", "1098.39475580")
    assert assembler.book.checksum_kraken() == MATIC_UPDATE_CHECKSUM

    ref = RefOrderBook(4, 8, depth=10)
    ref.apply_snapshot(MATIC_BIDS, MATIC_ASKS)
    ref.apply(MATIC_UPDATE_BIDS, [])
    assert ref.checksum_kraken() == MATIC_UPDATE_CHECKSUM


@pytest.mark.parametrize("checksum", [MATIC_CHECKSUM, None])
def test_kraken_v2_matic_usd_snapshot_checksum_optional(checksum: int | None) -> None:
    # v1 snapshots carry no checksum; v2 ones do. Both sync the book.
    assembler = BookAssembler("kraken", 4, 8, depth=10)
    assert assembler.on_snapshot(MATIC_BIDS, MATIC_ASKS, checksum) == "applied"
    assert assembler.state == "synced"
    assert assembler.book.checksum_kraken() == MATIC_CHECKSUM
