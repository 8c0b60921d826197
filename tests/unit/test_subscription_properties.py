"""Property: whatever the interleaving of book diffs and consumer pops, a consumer that
applies what it receives ends with the same books as a reference that applied every diff."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit._factories import (
    ConsumerBooks,
    ReferenceBooks,
    book_update,
    make_dispatcher,
    snapshot_of,
)

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")

# Bids below 50, asks from 51 up: the reference book never crosses, so its snapshots are
# valid. A quantity of 0 deletes the level.
_bid = st.tuples(st.integers(1, 50).map(lambda p: f"{p}.0"), st.integers(0, 3).map(str))
_ask = st.tuples(st.integers(51, 100).map(lambda p: f"{p}.0"), st.integers(0, 3).map(str))
_update = st.tuples(
    st.just("update"),
    st.sampled_from(SYMBOLS),
    st.lists(_bid, max_size=3),
    st.lists(_ask, max_size=3),
)
_pop = st.tuples(st.just("pop"), st.integers(0, 20))
_ops = st.lists(st.one_of(_update, _update, _pop), max_size=120)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops, max_pending=st.integers(1, 6), with_seq=st.booleans())
def test_consumer_book_always_matches_the_reference(
    ops: list[tuple[object, ...]], max_pending: int, with_seq: bool
) -> None:
    d = make_dispatcher()
    ref = ReferenceBooks(price_precision=1, qty_precision=0)
    d.register_book_source("kraken", ref.source)
    sub = d.subscribe(max_pending=max_pending)
    seq = dict.fromkeys(SYMBOLS, 0)
    for symbol in SYMBOLS:
        d.publish(snapshot_of(ref.book(symbol), symbol))
    mine = ConsumerBooks()

    for op in ops:
        if op[0] == "update":
            _, symbol, bids, asks = op
            assert isinstance(symbol, str)
            assert isinstance(bids, list)
            assert isinstance(asks, list)
            ref.book(symbol).apply(bids, asks)
            seq[symbol] += 1
            d.publish(book_update(symbol, seq[symbol] if with_seq else None, bids=bids, asks=asks))
        else:
            n = op[1]
            assert isinstance(n, int)
            for _ in range(n):
                ev = sub.get_nowait()
                if ev is None:
                    break
                mine.apply(ev)

    while (ev := sub.get_nowait()) is not None:
        mine.apply(ev)
    for symbol in SYMBOLS:
        assert mine.top(symbol) == ref.book(symbol).top(1_000_000)
    assert sub.stats.out_of_order == 0
    assert len(sub) == 0
