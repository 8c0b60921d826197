"""The native core of tradegw: order book, book assembler, checksums, reorder buffer,
coalescer and token bucket, implemented in Rust.

Prices and quantities cross this boundary as decimal strings, exactly as the venue wrote them;
inside they are fixed-point integers, never floats. Errors are ``ValueError``/``TypeError`` or
classes of :mod:`tradegw.errors` (``InvalidDecimal`` and ``CrossedBook`` subclass
``ValueError``).
"""

from collections.abc import Iterable, Sequence
from typing import Any, Literal, final, overload

__all__ = [
    "MAX_INTEGER_DIGITS",
    "BinanceFrameDecoder",
    "BookAssembler",
    "Coalescer",
    "CoinbaseFrameDecoder",
    "KrakenFrameDecoder",
    "OrderBook",
    "ReorderBuffer",
    "TokenBucket",
    "__version__",
    "crc32",
    "decimal_ok",
    "kraken_checksum",
    "loads_exact",
]

__version__: str

_Level = Sequence[str]
"""A ``(price, qty)`` pair of decimal strings. Up to two extra trailing items (Kraken v1's
timestamp and ``"r"`` republish flag) are accepted and ignored."""

_Levels = Iterable[_Level]

_Outcome = Literal[
    "applied", "buffered", "stale", "gap", "checksum_mismatch", "crossed", "needs_snapshot"
]

@final
class TokenBucket:
    """Refills continuously at ``rate`` tokens per second up to ``burst``; starts full.

    Without ``now_ns`` the clock is CLOCK_MONOTONIC, the same as :func:`time.monotonic_ns`;
    an explicit ``now_ns`` makes it deterministic. A timestamp earlier than the last one adds
    nothing. ``rate <= 0``, ``burst <= 0``, ``n <= 0`` or ``n > burst`` raise ``ValueError``.
    """

    def __new__(cls, rate: float, burst: float) -> TokenBucket: ...
    def try_acquire(self, n: float = 1.0, now_ns: int | None = None) -> bool:
        """Takes ``n`` tokens if they are available now; returns whether it did."""
    def time_until(self, n: float = 1.0, now_ns: int | None = None) -> float:
        """Seconds until ``n`` tokens are available (0.0 when they are now)."""
    def tokens(self, now_ns: int | None = None) -> float:
        """Tokens available now."""
    @property
    def rate(self) -> float:
        """Refill rate in tokens per second."""
    @property
    def burst(self) -> float:
        """Capacity."""

@final
class ReorderBuffer:
    """Releases the items of many streams in strictly increasing ``seq`` order per stream.

    The first ``seq`` of a stream starts it and is released at once. ``last + 1`` is
    released at once together with any held successors; a higher ``seq`` is held; a ``seq``
    at or below the last released, or one already held, is a duplicate: dropped and counted.
    :meth:`expire` releases, per stream, what has been held at least ``lateness_ms``,
    skipping the gap (counted); a stream holding more than ``max_events`` items skips its gap
    at once. ``stream`` and ``seq`` are ints in ``0..2**64`` (others raise
    ``OverflowError``).
    """

    def __new__(
        cls, lateness_ms: int = 150, flush_ms: int = 50, max_events: int = 200
    ) -> ReorderBuffer: ...
    def push(self, stream: int, seq: int, item: object, now_ns: int | None = None) -> list[object]:
        """Offers ``item`` as number ``seq`` of ``stream``; returns what is releasable now."""
    def expire(self, now_ns: int | None = None) -> list[object]:
        """Releases what waited at least ``lateness_ms``, stream by stream, in order."""
    def reset(self, stream: int) -> None:
        """Forgets a stream and what it held (its numbering restarts after a resync)."""
    def stats(self) -> dict[str, int]:
        """``released``, ``duplicates``, ``gaps_skipped``, ``skipped_seqs``, ``held``,
        ``streams``."""
    @property
    def lateness_ms(self) -> int:
        """How long a held item may wait for its gap to fill."""
    @property
    def flush_ms(self) -> int:
        """The cadence at which the caller should run :meth:`expire`."""
    @property
    def max_events(self) -> int:
        """Items one stream may hold before its gap is skipped at once."""

@final
class Coalescer:
    """Per-consumer FIFO that collapses undelivered market data.

    A coalescable item replaces the pending coalescable item of the same key *in its queue
    position*; a non-coalescable item (Trade, ExecReport) is always appended, never replaced,
    never dropped. ``key`` is an int in ``0..2**64``.
    """

    def __new__(cls) -> Coalescer: ...
    def push(self, key: int, item: object, coalescable: bool) -> bool:
        """Queues ``item``; True when it replaced a pending item of ``key`` in place."""
    def pop(self, max_items: int) -> list[object]:
        """Removes and returns up to ``max_items`` items in queue order."""
    def stats(self) -> dict[str, int]:
        """``pushed``, ``replaced``, ``popped``."""
    def __len__(self) -> int: ...

@final
class OrderBook:
    """L2 order book on fixed-point integers.

    ``price_precision`` and ``qty_precision`` are 0..18 decimals; ``depth``, when set, keeps
    that many levels per side after every update. _Level text may have fewer decimals than the
    precision (``"0.566"`` at 4 is 0.5660), trailing zeros or exponent form (``"1e-05"``), but
    never more significant decimals than the precision: that, malformed text, negative values,
    a zero price or overflow raise :class:`tradegw.errors.InvalidDecimal` naming the text. A
    call with any bad level changes nothing.
    """

    def __new__(
        cls, price_precision: int, qty_precision: int, depth: int | None = None
    ) -> OrderBook: ...
    def apply_snapshot(self, bids: _Levels, asks: _Levels) -> None:
        """Replaces everything. _Levels may come in any order; zero quantities are skipped.

        A price listed twice on one side raises ``ValueError``; a crossed snapshot raises
        :class:`tradegw.errors.CrossedBook`; either way the book is unchanged.
        """
    def apply(self, bids: _Levels, asks: _Levels) -> None:
        """Sets absolute quantities in order (zero deletes), then truncates to ``depth``."""
    def best_bid(self) -> tuple[str, str] | None:
        """The best bid as ``(price, qty)`` text at the book's precision, or None."""
    def best_ask(self) -> tuple[str, str] | None:
        """The best ask as ``(price, qty)`` text at the book's precision, or None."""
    def top(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The best ``n`` levels: ``(bids descending, asks ascending)`` at the precision."""
    def mark_top(self, n: int) -> None:
        """Remembers the best ``n`` levels of each side as the view consumers hold (after a
        snapshot was published from ``top(n)``), for the next :meth:`top_changes`."""
    def top_changes(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The levels that changed within the best ``n`` of each side since the last
        :meth:`mark_top` or :meth:`top_changes`: levels that left the best ``n`` with quantity
        ``"0"``, then new or changed levels — what a consumer holding that view applies (and
        truncates to ``n``) to hold the current one. Remembers the current best ``n`` as the
        new view. Two empty lists when nothing within the best ``n`` changed."""
    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
    def checksum_kraken(self) -> int:
        """Kraken's CRC32 over the top 10 asks then bids at the book's precision."""
    def clear(self) -> None:
        """Removes every level."""
    @property
    def bid_count(self) -> int:
        """Number of bid levels."""
    @property
    def ask_count(self) -> int:
        """Number of ask levels."""
    @property
    def price_precision(self) -> int:
        """Decimals of prices."""
    @property
    def qty_precision(self) -> int:
        """Decimals of quantities."""
    @property
    def depth(self) -> int | None:
        """_Levels kept per side, or None for unlimited."""

@final
class BookAssembler:
    """Snapshot + diff state machine of one (venue, symbol) book over an :class:`OrderBook`.

    Every message returns an outcome. After ``"gap"``, ``"checksum_mismatch"`` or
    ``"crossed"`` the state is ``"unsynced"`` and updates answer ``"needs_snapshot"`` until a
    new snapshot.

    - binance: :meth:`on_diff` ``(U, u, bids, asks)`` buffers until
      :meth:`on_snapshot` ``(lastUpdateId, bids, asks)``; a snapshot older than the first
      buffered diff is ``"stale"`` (fetch another). Then ``u <= local`` is stale,
      ``U > local + 1`` a gap. While unsynced, diffs are still buffered for the next snapshot.
    - coinbase: :meth:`on_snapshot` ``(seq, bids, asks)``, :meth:`on_update`
      ``(seq, bids, asks)`` with ``seq`` strictly +1.
    - kraken: :meth:`on_snapshot` / :meth:`on_update` ``(bids, asks, checksum=None)``;
      all levels applied in order, truncated to depth, then the CRC32 of the top 10 checked.
    """

    def __new__(
        cls, venue: str, price_precision: int, qty_precision: int, depth: int | None = None
    ) -> BookAssembler: ...
    def on_diff(self, first_id: int, final_id: int, bids: _Levels, asks: _Levels) -> _Outcome:
        """binance: one depth diff event with first id ``U`` and final id ``u``."""
    @overload
    def on_snapshot(self, id: int, bids: _Levels, asks: _Levels, /) -> _Outcome: ...
    @overload
    def on_snapshot(self, bids: _Levels, asks: _Levels, checksum: int | None, /) -> _Outcome: ...
    @overload
    def on_snapshot(
        self, bids: _Levels, asks: _Levels, /, *, checksum: int | None = None
    ) -> _Outcome:
        """binance ``(lastUpdateId, bids, asks)``, coinbase ``(seq, bids, asks)``,
        kraken ``(bids, asks, checksum=None)``."""
    @overload
    def on_update(self, seq: int, bids: _Levels, asks: _Levels, /) -> _Outcome: ...
    @overload
    def on_update(self, bids: _Levels, asks: _Levels, checksum: int | None, /) -> _Outcome: ...
    @overload
    def on_update(
        self, bids: _Levels, asks: _Levels, /, *, checksum: int | None = None
    ) -> _Outcome:
        """coinbase ``(seq, bids, asks)``, kraken ``(bids, asks, checksum=None)``."""
    def stats(self) -> dict[str, int]:
        """``applied``, ``buffered``, ``stale``, ``gaps``, ``checksum_ok``,
        ``checksum_mismatches``, ``crossed``, ``snapshots``."""
    @property
    def book(self) -> OrderBook:
        """The assembled book (the same object on every access)."""
    @property
    def venue(self) -> str:
        """``"binance"``, ``"coinbase"`` or ``"kraken"``."""
    @property
    def state(self) -> Literal["awaiting_snapshot", "synced", "unsynced"]:
        """Where the assembler stands."""
    @property
    def resyncs(self) -> int:
        """How many times sync was lost."""
    @property
    def epoch(self) -> int:
        """Incremented whenever sync is lost: drop answers to snapshot requests made in an
        earlier epoch."""
    @property
    def last_update_id(self) -> int | None:
        """Binance final update id or Coinbase sequence of the last applied message."""

@final
class KrakenFrameDecoder:
    """Reads a whole Kraken v2 ``book``, ``trade``, ``ticker`` or ``ohlc`` frame natively
    (numbers keep their exact text) and checks every item the way the adapter needs it.

    Items name a symbol tracked with :meth:`set_precision`; prices and quantities are plain
    decimals (see :func:`decimal_ok`; a JSON string holding one passes too) within the
    symbol's decimals where they must be; integers are ``-?[0-9]+``. :meth:`decode` returns
    ``(channel, snapshot, items, stamp)``: ``snapshot`` is ``type == "snapshot"``, ``stamp``
    the frame's top-level ``sim_send_ns`` text (the simulators' bench stamp) or None, and
    ``items`` holds one slot per item of ``data``, in order. A malformed item is a ``str``
    saying why (for ``book``: an item naming no tracked symbol, or not an object), except a
    malformed book item of a tracked symbol, which is ``(symbol, why)``. Well-formed items:

    - book: ``(symbol, bids, asks, checksum, timestamp)``, levels as ``[(price, qty), ...]``
      in frame order (their texts are the assembler's to check), ``checksum`` a u32 or None;
    - trade: ``(symbol, trade_id, price, qty, side, ord_type, timestamp)``, ``trade_id`` in
      0..2**63, ``price`` and ``qty`` positive, ``side`` ``"buy"``/``"sell"``, ``ord_type``
      up to 16 characters or None;
    - ticker: ``(symbol, timestamp, bid, bid_qty, ask, ask_qty, last, volume, vwap, low,
      high, change, change_pct)``, ``bid`` and ``ask`` positive, the last seven optional,
      ``change`` and ``change_pct`` with an optional ``-``;
    - ohlc: ``(symbol, timestamp, interval_begin, interval, open, high, low, close, volume,
      vwap, trades)``, ``interval`` an int, ``vwap`` and ``trades`` optional.

    Timestamps (``timestamp``, ``interval_begin``) are RFC 3339 text read to ns since the
    epoch (to the nanosecond, a zone ``Z``, ``±hh:mm`` or none for UTC, every field range
    checked; a malformed one makes its item malformed), or None when absent or null.
    """

    def __new__(cls) -> KrakenFrameDecoder: ...
    def set_precision(self, symbol: str, price_precision: int, qty_precision: int) -> None:
        """Tracks ``symbol`` with its price and quantity decimals (0..18, else
        ``ValueError``), replacing earlier ones."""
    def precision(self, symbol: str) -> tuple[int, int] | None:
        """The ``(price_precision, qty_precision)`` of a tracked symbol, or None."""
    def decode(self, payload: bytes) -> tuple[str, bool, list[Any], str | None] | None:
        """``(channel, snapshot, items, stamp)`` of a market-data frame; None for a frame of
        another channel (status, heartbeat, instrument) or without one (method replies).
        ``ValueError`` for a malformed frame: not JSON, not an object, ``data`` not a list,
        a book frame whose ``type`` is neither ``"snapshot"`` nor ``"update"``."""

@final
class CoinbaseFrameDecoder:
    """Reads a whole Coinbase Advanced Trade ``l2_data``, ``market_trades``, ``ticker`` or
    ``candles`` frame natively and checks every event and item the way the adapter needs
    it, taking exactly what reading it with orjson and checking it in Python took.

    :meth:`decode` returns ``(channel, sequence_num, timestamp, events, stamp)``:
    ``sequence_num`` is the frame's ``sequence_num`` as an int (a JSON integer in orjson's
    range, -2**63 to 2**64 - 1, or a string of ``-?[0-9]+``), or None when absent or null;
    it is not judged here, the connection's sequence check is the caller's and must come
    first. What is wrong with the frame beyond it (no ``events`` list, a malformed
    ``timestamp``) makes ``events`` a ``str`` saying why. Otherwise ``timestamp`` is the
    frame's ``timestamp`` in ns since the epoch, or None when absent or null and for
    ``market_trades`` (whose frame timestamp is not read); ``stamp`` is the top-level
    ``sim_send_ns`` text (the simulators' bench stamp) or None; ``events`` holds one slot
    per event, in order:

    - l2_data: ``(product_id, snapshot, bids, asks)``, levels as ``[(price_level,
      new_quantity), ...]`` in frame order (``side`` ``"bid"`` or ``"offer"``; their texts
      are plain decimals, whether they fit the book is the assembler's check); a malformed
      event of a tracked product is ``(product_id, why)``; an event that is not an object
      or names no tracked product is a ``str``, why;
    - market_trades: ``(snapshot, trades)``, each trade ``(product_id, trade_id, price,
      size, side, time)`` or a ``str`` (why it was refused): ``trade_id`` 1-64 of
      ``[0-9A-Za-z-]``, ``price`` and ``size`` positive within the product's decimals,
      ``side`` ``"BUY"`` or ``"SELL"`` as the venue wrote it, ``time`` ns or None;
    - ticker: a list, each ticker ``(product_id, best_bid, best_bid_quantity, best_ask,
      best_ask_quantity, price, volume_24_h, low_24_h, high_24_h, price_percent_chg_24_h)``
      or a ``str``: the bids and asks within the product's decimals, prices positive; the
      last five optional (None), ``price_percent_chg_24_h`` with an optional ``-``;
    - candles: a list, each candle ``(product_id, start, open, high, low, close, volume)``
      or a ``str``: ``start`` an int (seconds), the rest decimals.

    A ``market_trades``, ``ticker`` or ``candles`` event that is not an object holding a
    list of objects is a ``str``, why. Every product id must be tracked with
    :meth:`set_precision`; decimals must be JSON strings holding a plain decimal (see
    :func:`decimal_ok`): a bare JSON number is refused. Timestamps are RFC 3339 text read to
    the nanosecond (zone ``Z``, ``±hh:mm`` or none for UTC, every field range checked).
    """

    def __new__(cls) -> CoinbaseFrameDecoder: ...
    def set_precision(self, product_id: str, price_precision: int, qty_precision: int) -> None:
        """Tracks ``product_id`` with its price and quantity decimals (0..18, else
        ``ValueError``), replacing earlier ones."""
    def precision(self, product_id: str) -> tuple[int, int] | None:
        """The ``(price_precision, qty_precision)`` of a tracked product, or None."""
    def decode(
        self, payload: bytes
    ) -> tuple[str, int | None, int | None, list[Any] | str, str | None] | None:
        """``(channel, sequence_num, timestamp, events, stamp)`` of a market-data frame;
        None for a frame of another channel (heartbeats, subscriptions, status) or without
        one (error frames). ``ValueError`` for a frame that is not JSON as orjson reads it
        (numbers beyond a float's range, nesting deeper than 128, too), not an object, or
        whose ``sequence_num`` is not an integer."""

@final
class BinanceFrameDecoder:
    """Reads a whole Binance spot ``depthUpdate``, ``trade``, ``aggTrade``, ``bookTicker``,
    ``24hrTicker`` or ``kline`` frame natively and checks its event the way the adapter
    needs it.

    The frame is a combined stream's ``{"stream": ..., "data": {...}}`` or the bare event.
    The event names a symbol tracked with :meth:`set_precision`; prices and quantities are
    JSON strings holding plain decimals (see :func:`decimal_ok`; a JSON number is refused)
    within the symbol's decimals where they must be; ids and times are JSON integers within
    64 bits or strings of ``-?[0-9]+`` (any length); times come out in ns since the epoch.
    :meth:`decode` returns ``(event, item, stamp)``: ``event`` the event's ``e`` (or
    ``"bookTicker"``, the event known by its ``u``, ``b`` and ``a``), ``stamp`` the frame's
    top-level ``sim_send_ns`` text (the simulators' bench stamp) or None, and ``item``:

    - depthUpdate: ``(symbol, U, u, bids, asks, exchange_ts)``, levels as
      ``[(price, qty), ...]`` in frame order (their texts, and the ids' range, are the
      assembler's to check); a malformed ``U``, ``u``, ``b`` or ``a`` makes the item
      ``(symbol, why)`` instead;
    - trade, aggTrade: ``(symbol, trade_id, price, qty, side, exchange_ts)``, ``trade_id``
      (``t``, or ``a`` of an aggTrade) as ``str(int(...))`` writes it, ``price`` and ``qty``
      positive, ``side`` the aggressor's (``"sell"`` when ``m``, the buyer is the maker);
    - bookTicker: ``(symbol, u, bid, bid_qty, ask, ask_qty)``, prices positive;
    - 24hrTicker: ``(symbol, bid, bid_qty, ask, ask_qty, last, volume, vwap, low, high,
      change, change_pct, exchange_ts)``, ``last`` positive, ``change`` and ``change_pct``
      with an optional ``-``;
    - kline: ``(symbol, exchange_ts, interval_s, open_ts, open, high, low, close, volume,
      trades, closed)``, ``interval_s`` the seconds of ``i`` (``1s`` .. ``1w``).

    ``exchange_ts`` is ``E`` (``T`` of a trade) in ns, or None when absent or null. Of a
    depthUpdate and a 24hrTicker, which the adapter acts on before it reads the time, a
    malformed one is a ``str`` saying why.
    """

    def __new__(cls) -> BinanceFrameDecoder: ...
    def set_precision(self, symbol: str, price_precision: int, qty_precision: int) -> None:
        """Tracks ``symbol`` with its price and quantity decimals (0..18, else
        ``ValueError``), replacing earlier ones."""
    def precision(self, symbol: str) -> tuple[int, int] | None:
        """The ``(price_precision, qty_precision)`` of a tracked symbol, or None."""
    def decode(self, payload: bytes) -> tuple[str, tuple[Any, ...], str | None] | None:
        """``(event, item, stamp)`` of a market-data frame; None for any other frame
        (``serverShutdown``, control replies, errors, unknown events). ``ValueError`` for a
        malformed frame: not JSON (a number beyond a double's range included, as orjson
        refuses it), not an object, ``data`` of a stream not an object, an event of an
        untracked symbol, or an event other than a depth diff with a malformed field."""

def kraken_checksum(asks: _Levels, bids: _Levels) -> int:
    """Kraken's CRC32 over the first 10 asks then the first 10 bids, each ``(price, qty)``
    text exactly as given with ``.`` removed and leading zeros stripped (v1 strings as
    received; render v2 numbers at the pair's precision first, as :meth:`OrderBook.top`
    does)."""

def crc32(data: bytes) -> int:
    """CRC32 (IEEE 802.3 polynomial, the same as :func:`zlib.crc32`) of ``data``."""

MAX_INTEGER_DIGITS: int
"""Integer digits (leading zeros aside) of any price or quantity :func:`decimal_ok` takes."""

def decimal_ok(raw: object, places: int = -1, positive: bool = False) -> bool:
    """Whether ``raw`` is a ``str`` holding a plain unsigned decimal as venues quote prices and
    quantities: ASCII digits with at most one ``.`` that has digits on both sides, no sign,
    exponent or space, at most 64 characters and :data:`MAX_INTEGER_DIGITS` integer digits
    after leading zeros; with ``places`` >= 0, no significant decimal beyond it (trailing
    zeros do not count); with ``positive``, not zero."""

def loads_exact(data: bytes) -> Any:
    """Parses a JSON document like :func:`json.loads`, except that every number is returned
    as the ``str`` of its exact text (``0.5660`` → ``"0.5660"``), so no digit is lost to a
    float. NaN/Infinity, invalid UTF-8 and nesting deeper than 128 raise ``ValueError``."""
