"""Binance spot wire format: number text, market data frames, control replies.

What the real wire looks like (the 2021 capture in ``shared/recorded/BINANCE.*``,
protocols.md section 1.3):

* prices and quantities are JSON *strings* with eight decimals whatever the pair's tick
  (``"0.35130000"``, ``"6195.00000000"``); the pair's real precision is only in
  ``exchangeInfo`` (``tickSize``/``stepSize``) - :func:`amount` renders the former from a
  fixed-point value at the latter;
* ids and times are integers (times in ms), flags booleans;
* a combined stream (``/stream?streams=...``) wraps each payload as
  ``{"stream":"<name>","data":<payload>}``; a raw stream (``/ws/...``) sends the payload bare.
  A payload is rendered once per stream and each connection wraps it or not
  (:meth:`StreamFrame.wrapped`, cached on the frame).

Hot frames are concatenated by hand; replies go through :func:`tradegw.sim.wire.dumps`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from tradegw.sim.binance.symbols import WIRE_DECIMALS
from tradegw.sim.wire import DataFrame, Level, div_round, dumps, fixed

_SCALE: tuple[int, ...] = tuple(10 ** (WIRE_DECIMALS - p) for p in range(WIRE_DECIMALS + 1))


def amount(value: int, precision: int) -> str:
    """A fixed-point value as Binance writes it: eight decimals (``"0.35130000"``).

    A value with more than eight decimals (a notional at price + qty precision) is rounded
    half away from zero, as the venue's own eight-decimal quote volumes are.
    """
    if precision <= WIRE_DECIMALS:
        return fixed(value * _SCALE[precision], WIRE_DECIMALS)
    return fixed(div_round(value, 10 ** (precision - WIRE_DECIMALS)), WIRE_DECIMALS)


def levels_json(levels: Iterable[Level], price_precision: int, qty_precision: int) -> str:
    """``[["0.35130000","6195.00000000"],...]``: a side of a depth event or snapshot."""
    pscale, qscale = _SCALE[price_precision], _SCALE[qty_precision]
    inner = ",".join(
        [
            f'["{fixed(p * pscale, WIRE_DECIMALS)}","{fixed(q * qscale, WIRE_DECIMALS)}"]'
            for p, q in levels
        ]
    )
    return f"[{inner}]"


def ms(ns: int) -> int:
    """Nanoseconds to the venue's milliseconds."""
    return ns // 1_000_000


# --------------------------------------------------------------------------- frames


class StreamFrame(DataFrame):
    """A data frame of one stream: the bare payload plus the stream's name for the
    combined wrapper.

    ``channel`` is the stream name without the symbol (``depth@100ms``, ``kline_1m``), so the
    reorder fault swaps two frames of the same stream and symbol, never of two streams.
    """

    __slots__ = ("_wrapped", "stream")

    def __init__(
        self, channel: str, symbol: str, stream: str, data: bytes, loss_detectable: bool = False
    ) -> None:
        # Set here rather than through super().__init__: one frame per event on the hot path.
        self.channel = channel
        self.symbol = symbol
        self.data = data
        self.loss_detectable = loss_detectable
        self.stream = stream
        self._wrapped: bytes | None = None

    def wrapped(self) -> bytes:
        """The payload inside the combined stream's ``{"stream":...,"data":...}``."""
        if self._wrapped is None:
            self._wrapped = combined(self.stream, self.data)
        return self._wrapped


class DepthFrame(StreamFrame):
    """A diff depth event: ``U``/``u`` are its integrity fields, which the
    ``corrupt_checksum`` fault spoils (Binance has no checksum)."""

    __slots__ = ("final_id", "first_id")

    corruptible: ClassVar[bool] = True

    def __init__(
        self, symbol: str, stream: str, speed: str, data: bytes, first_id: int, final_id: int
    ) -> None:
        super().__init__(speed, symbol, stream, data, loss_detectable=True)
        self.first_id = first_id
        self.final_id = final_id

    def corrupted(self) -> DepthFrame:
        """A copy whose ``U`` and ``u`` are one higher: whoever applied the event before
        sees ``U > local + 1`` (a gap), and ``U <= u`` still holds, so the event is not
        refused as malformed but as discontinuous."""
        old = b'"U":%d,"u":%d,' % (self.first_id, self.final_id)
        new = b'"U":%d,"u":%d,' % (self.first_id + 1, self.final_id + 1)
        data = self.data.replace(old, new, 1)
        return DepthFrame(
            self.symbol, self.stream, self.channel, data, self.first_id + 1, self.final_id + 1
        )


def combined(stream: str, payload: bytes) -> bytes:
    """``{"stream":"<name>","data":<payload>}``."""
    return b'{"stream":"%s","data":%s}' % (stream.encode(), payload)


def depth_event(
    symbol: str,
    event_ms: int,
    first_id: int,
    final_id: int,
    bids: Iterable[Level],
    asks: Iterable[Level],
    price_precision: int,
    qty_precision: int,
) -> bytes:
    """A ``depthUpdate`` payload, fields in the venue's order."""
    return (
        f'{{"e":"depthUpdate","E":{event_ms},"s":"{symbol}","U":{first_id},"u":{final_id},'
        f'"b":{levels_json(bids, price_precision, qty_precision)},'
        f'"a":{levels_json(asks, price_precision, qty_precision)}}}'
    ).encode()


def partial_depth(
    last_id: int,
    bids: Iterable[Level],
    asks: Iterable[Level],
    price_precision: int,
    qty_precision: int,
) -> bytes:
    """A partial book depth payload (``<s>@depth<N>``): no event type, no symbol."""
    return (
        f'{{"lastUpdateId":{last_id},'
        f'"bids":{levels_json(bids, price_precision, qty_precision)},'
        f'"asks":{levels_json(asks, price_precision, qty_precision)}}}'
    ).encode()


def trade_event(
    symbol: str,
    event_ms: int,
    trade_id: int,
    price: str,
    qty: str,
    trade_ms: int,
    buyer_maker: bool,
) -> bytes:
    """A ``trade`` payload (``m``: the buyer was the maker, i.e. the taker sold)."""
    return (
        f'{{"e":"trade","E":{event_ms},"s":"{symbol}","t":{trade_id},"p":"{price}",'
        f'"q":"{qty}","T":{trade_ms},"m":{_bool(buyer_maker)},"M":true}}'
    ).encode()


def agg_trade_event(
    symbol: str,
    event_ms: int,
    agg_id: int,
    price: str,
    qty: str,
    first_trade: int,
    last_trade: int,
    trade_ms: int,
    buyer_maker: bool,
) -> bytes:
    """An ``aggTrade`` payload."""
    return (
        f'{{"e":"aggTrade","E":{event_ms},"s":"{symbol}","a":{agg_id},"p":"{price}",'
        f'"q":"{qty}","f":{first_trade},"l":{last_trade},"T":{trade_ms},'
        f'"m":{_bool(buyer_maker)},"M":true}}'
    ).encode()


def book_ticker(
    update_id: int, symbol: str, bid: str, bid_qty: str, ask: str, ask_qty: str
) -> bytes:
    """A ``bookTicker`` payload: no event type or time; ``u`` is the book update id at which
    this best bid and offer hold."""
    return (
        f'{{"u":{update_id},"s":"{symbol}","b":"{bid}","B":"{bid_qty}",'
        f'"a":"{ask}","A":"{ask_qty}"}}'
    ).encode()


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


SERVER_SHUTDOWN_STREAM = "!serverShutdown"


def server_shutdown(event_ms: int) -> bytes:
    """The ``serverShutdown`` event a raw connection gets before a planned close."""
    return b'{"e":"serverShutdown","E":%d}' % event_ms


BAD_JSON = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":17'
"""A combined depth frame cut off mid-number, as a truncated write would deliver it."""


# --------------------------------------------------------------------------- replies


def result_reply(result: object, req_id: object) -> bytes:
    """``{"result":...,"id":N}``: the answer to a request that worked."""
    return dumps({"result": result, "id": req_id}).encode()


def error_reply(code: int, msg: str, req_id: object = None) -> bytes:
    """``{"error":{"code":2,"msg":"..."},"id":N}``: a refused request, in the envelope the
    venue wraps its documented error objects in (``id`` null when it could not be read)."""
    return dumps({"error": {"code": code, "msg": msg}, "id": req_id}).encode()
