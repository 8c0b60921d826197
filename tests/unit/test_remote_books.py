"""The remote book rule (tradegw.remote.books): a diff is applied only to a book it provably
continues; gaps, duplicates, epochs, replies, superseded and held diffs."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tests.unit._factories import book_snapshot, book_status, book_update, trade
from tradegw.remote.books import RemoteBooks
from tradegw.remote.client import RemoteGateway, StreamGap
from tradegw.schema import BookSnapshot, BookUpdate, Event

pytestmark = pytest.mark.timeout(10)

E1, E2 = "e1", "e2"


class Rig:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int]] = []
        self.books = RemoteBooks(lambda v, s, t: self.asked.append((v, s, t)))

    def msg(self, ev: Event, n: int, epoch: str = E1) -> list[Event]:
        return self.books.on_message(ev, epoch, n)

    def reply(self, snap: BookSnapshot, u: int, epoch: str = E1) -> list[Event]:
        venue, symbol, token = self.asked[-1]
        return self.books.on_reply(venue, symbol, token, epoch, snap, u)


def snap(bid: str = "100.0") -> BookSnapshot:
    return book_snapshot(bids=[(bid, "1.00")], asks=[("101.0", "1.00")])


def diff(seq: int, bid: str = "99.0", qty: str = "2.00") -> BookUpdate:
    return book_update(seq=seq, bids=[(bid, qty)])


def test_a_stream_snapshot_syncs_and_continuous_diffs_apply() -> None:
    r = Rig()
    assert r.msg(snap(), 1) != []
    assert r.msg(diff(5), 2) != []
    assert r.msg(diff(6, "98.0"), 3) != []
    book = r.books.book("kraken", "BTC-USD")
    assert book is not None
    assert book.top(5)[0] == [("100.0", "1.00"), ("99.0", "2.00"), ("98.0", "2.00")]
    assert r.asked == []
    assert r.books.state("kraken", "BTC-USD") == "synced"


def test_a_first_diff_without_snapshot_is_held_and_a_snapshot_asked_for() -> None:
    r = Rig()
    assert r.msg(diff(10), 7) == []
    assert r.books.state("kraken", "BTC-USD") == "resyncing"
    assert len(r.asked) == 1
    assert r.msg(diff(11, "98.0"), 8) == []
    # The gateway answered at diff 10: 10 is in the snapshot, 11 continues it.
    out = r.reply(snap(), 10)
    assert [type(e).__name__ for e in out] == ["BookSnapshot", "BookUpdate"]
    assert out[0].seq_provider is None
    assert isinstance(out[0], BookSnapshot)
    assert out[0].coalesced
    assert out[1].seq_provider == 11
    assert r.books.stats.superseded == 1
    # Later diffs at or below what the snapshot has are dropped; the next one applies.
    assert r.msg(diff(12), 9) != []
    assert r.books.state("kraken", "BTC-USD") == "synced"


def test_a_lost_message_resyncs_and_nothing_is_applied_until_proven() -> None:
    r = Rig()
    r.msg(snap(), 1)
    r.msg(diff(5), 2)
    assert r.msg(diff(7), 4) == []  # n 3 never came
    assert r.books.stats.lost == 1
    assert r.books.stats.gaps == 1
    assert r.books.state("kraken", "BTC-USD") == "resyncing"
    # The reply stands at 8: the held 7 is in it, 9 must follow.
    assert r.msg(diff(9), 5) == []
    out = r.reply(snap("100.5"), 8)
    assert [e.seq_provider for e in out] == [None, 9]


def test_a_reply_that_does_not_reach_the_held_diffs_asks_again() -> None:
    r = Rig()
    r.msg(diff(10), 1)
    r.msg(diff(11), 2)
    out = r.reply(snap(), 8)  # 9 is missing between the snapshot and the held 10
    assert [type(e).__name__ for e in out] == ["BookSnapshot"]
    assert r.books.state("kraken", "BTC-USD") == "resyncing"
    assert len(r.asked) == 2
    out = r.reply(snap(), 10)
    assert [e.seq_provider for e in out] == [None, 11]


def test_a_break_in_the_held_chain_restarts_the_hold_and_a_late_reply_is_ignored() -> None:
    r = Rig()
    r.msg(diff(10), 1)
    venue, symbol, old = r.asked[-1]
    r.msg(diff(12), 3)  # n 2 lost while holding: the chain starts again here
    assert len(r.asked) == 2
    assert r.books.on_reply(venue, symbol, old, E1, snap(), 10) == []
    assert r.books.stats.stale_replies == 1
    out = r.reply(snap(), 11)
    assert [e.seq_provider for e in out] == [None, 12]


def test_a_stream_snapshot_ends_a_resync_and_makes_the_pending_reply_stale() -> None:
    r = Rig()
    r.msg(diff(10), 1)
    assert r.msg(snap(), 2) != []
    assert r.books.state("kraken", "BTC-USD") == "synced"
    assert r.reply(snap(), 10) == []
    assert r.msg(diff(11), 3) != []


def test_duplicates_are_dropped_and_a_new_epoch_breaks_the_chain() -> None:
    r = Rig()
    r.msg(snap(), 1)
    r.msg(diff(2), 2)
    assert r.msg(diff(2), 2) == []
    assert r.books.stats.duplicates == 1
    # The gateway restarted: its numbers start again, the book must be proven anew.
    assert r.msg(diff(1), 1, E2) == []
    assert r.books.stats.restarts == 1
    assert r.books.state("kraken", "BTC-USD") == "resyncing"
    # A reply from the old epoch cannot be used.
    assert r.reply(snap(), 0, E1) == []
    out = r.reply(snap(), 0, E2)
    assert [e.seq_provider for e in out] == [None, 1]


def test_a_seq_gap_with_continuous_messages_is_not_applied() -> None:
    r = Rig()
    r.msg(diff(10), 1)
    r.reply(snap(), 10)
    assert r.msg(diff(13), 2) == []  # n continuous, but diffs 11-12 never reached the sink's stream
    assert r.books.state("kraken", "BTC-USD") == "resyncing"


def test_status_is_always_delivered_and_a_local_snapshot_reflects_the_book() -> None:
    r = Rig()
    assert r.books.snapshot("kraken", "BTC-USD") is None
    r.msg(book_snapshot(bids=[("100.0", "1.00")], asks=[("101.0", "1.00")], depth=10), 1)
    r.msg(diff(3), 2)
    status = book_status(state="resyncing", reason="gap")
    assert r.msg(status, 3) == [status]
    fresh = r.books.snapshot("kraken", "BTC-USD")
    assert fresh is not None
    assert fresh.bids == [("100.0", "1.00"), ("99.0", "2.00")]
    assert fresh.coalesced
    assert fresh.depth == 10


def test_an_unusable_snapshot_or_diff_resyncs_instead_of_applying() -> None:
    r = Rig()
    crossed = book_snapshot(bids=[("101.0", "1.00")], asks=[("100.0", "1.00")])
    assert r.msg(crossed, 1) == []
    assert r.books.state("kraken", "BTC-USD") == "resyncing"
    r.reply(snap(), 0)
    assert r.msg(diff(1, bid="abc"), 2) == []  # not a decimal the book takes
    assert r.books.state("kraken", "BTC-USD") == "resyncing"


def test_other_streams_drop_duplicates_count_losses_and_report_seq_gaps() -> None:
    remote = RemoteGateway(cast(Any, object()), state_path=None)
    gaps: list[Any] = []
    remote.on_gap = gaps.append

    def t(seq: int) -> Event:
        ev = trade()
        ev.seq_provider = seq
        return ev

    assert remote._in_order(t(1), E1, 1)
    assert remote._in_order(t(2), E1, 2)
    assert not remote._in_order(t(2), E1, 2)  # the same message twice
    assert remote._in_order(t(5), E1, 3)  # the gateway skipped 3-4 (spilled): reported
    assert remote._in_order(t(6), E1, 5)  # wire message 4 never arrived
    assert remote._in_order(t(1), E2, 1)  # a restarted gateway starts again: no gap
    assert remote.stats.duplicates == 1
    assert remote.stats.lost == 1
    assert remote.stats.gaps["Trade"] == 1
    assert remote.stats.restarts == 1
    assert gaps == [StreamGap("kraken", "BTC-USD", "Trade", 3, 5)]
