"""The attacks: each a rewrite of the venue's frames as a man in the middle would do it.

Frames are decoded, changed and encoded again only when an attack touches them, so every
other frame (Kraken's book frames above all, whose checksums depend on the digits as sent)
reaches the gateway byte for byte. Coinbase numbers every frame of a connection
(``sequence_num``); an attack that adds or removes frames there renumbers the rest, as a
competent attacker would, so that the gateway cannot notice it from the numbering alone.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from tests.hostile.proxy import Attack, Out, Raw
from tests.hostile.venues import Msg, VenueFacts

_HOLE = "@@hostile{}@@"


def hostile_values(facts: VenueFacts) -> list[bytes]:
    """JSON tokens a number field must never be accepted with (the venue's own notation:
    quoted decimals for Binance and Coinbase, bare numbers for Kraken)."""

    def q(text: str) -> bytes:
        return orjson.dumps(text) if facts.numbers_are_strings else text.encode()

    return [
        q("-1"),
        q("0"),
        q("1e5"),
        q("1" + "0" * 40),
        q("0." + "1" * 30),
        b"null",
        b'{"a":1}',
        b"[1]",
        b"true",
        b'"NaN"',
        b'"1.2.3"',
        b'"\xef\xbc\x91"',  # a full-width digit one
        # A JSON number where the venue quotes: a float, never to be taken as text. (Kraken
        # has no such counterpart: its exact-number decoder hands a quoted decimal over as
        # the same text, a plausible value this test cannot tell from a real one.)
        *([b"12.5"] if facts.numbers_are_strings else []),
    ]


class Rewriter(Attack):
    """Decodes every frame for :meth:`rewrite`; encodes only what it changed."""

    def __init__(self, facts: VenueFacts) -> None:
        self.facts = facts
        self.armed = False
        self.payload = b""
        self._shift: dict[int, int] = {}

    def frame(self, payload: bytes, conn: int) -> list[Out]:
        out: list[Out] = [payload]
        if self.armed:
            try:
                msg = orjson.loads(payload)
            except orjson.JSONDecodeError:
                msg = None
            if isinstance(msg, dict):
                self.payload = payload
                result = self.rewrite(msg)
                if result is not None:
                    out = result
        return self._renumbered(out, conn, payload)

    def rewrite(self, msg: Msg) -> list[Out] | None:
        """The frames sent instead of ``msg`` (None: ``msg`` unchanged); the frame as
        received is :attr:`payload`."""
        return None

    def _renumbered(self, out: list[Out], conn: int, original: bytes) -> list[Out]:
        shift = self._shift.get(conn, 0)
        if self.facts.name != "coinbase" or (shift == 0 and out == [original]):
            return out
        if b'"sequence_num"' not in original:
            return out
        seq = orjson.loads(original)["sequence_num"]
        following = seq + shift
        fixed: list[Out] = []
        for item in out:
            m = None if isinstance(item, Raw) else orjson.loads(item)
            if isinstance(m, dict) and "sequence_num" in m:
                m["sequence_num"] = following
                following += 1
                fixed.append(orjson.dumps(m))
            else:
                fixed.append(item)
        self._shift[conn] = following - 1 - seq
        return fixed


def encode(msg: Msg, holes: list[bytes]) -> bytes:
    """``msg`` as JSON with each ``hole(i)`` placeholder replaced by the raw token
    ``holes[i]``."""
    data = orjson.dumps(msg)
    for i, token in enumerate(holes):
        data = data.replace(orjson.dumps(_HOLE.format(i)), token)
    return data


def hole(i: int) -> str:
    """The placeholder of raw token ``i`` for :func:`encode`."""
    return _HOLE.format(i)


class SpoilFields(Rewriter):
    """Replaces the price or quantity of the target's trade and ticker items with hostile
    tokens in turn, in place."""

    def __init__(self, facts: VenueFacts, target: str, *, tickers: bool = True) -> None:
        super().__init__(facts)
        self.target = target
        self.tickers = tickers
        self.values = hostile_values(facts)
        self.spoiled_trades: list[str] = []
        self.spoiled_tickers = 0
        self._turn = 0

    def rewrite(self, msg: Msg) -> list[Out] | None:
        f = self.facts
        holes: list[bytes] = []
        for item in f.trade_items(msg):
            if item.get(f.symbol_key) == self.target:
                key = f.trade_price if self._turn % 2 == 0 else f.trade_qty
                self.spoiled_trades.append(str(item.get(f.trade_id)))
                holes.append(self._next())
                item[key] = hole(len(holes) - 1)
        if self.tickers:
            for item in f.ticker_items(msg):
                if item.get(f.symbol_key) == self.target:
                    self.spoiled_tickers += 1
                    holes.append(self._next())
                    item[f.ticker_price] = hole(len(holes) - 1)
        return [encode(msg, holes)] if holes else None

    def _next(self) -> bytes:
        value = self.values[self._turn % len(self.values)]
        self._turn += 1
        return value


class FlankWithBadCopies(Rewriter):
    """Puts a hostile copy of each of the target's trade items before and after it in the
    same frame: the real item between them must still reach consumers."""

    def __init__(self, facts: VenueFacts, target: str) -> None:
        super().__init__(facts)
        self.target = target
        self.values = hostile_values(facts)
        self.kept: list[str] = []
        self._turn = 0

    def rewrite(self, msg: Msg) -> list[Out] | None:
        f = self.facts
        holes: list[bytes] = []
        for items in _item_lists(f, msg):
            for i in reversed(range(len(items))):
                item = items[i]
                if item.get(f.symbol_key) != self.target:
                    continue
                self.kept.append(str(item.get(f.trade_id)))
                copies = []
                for _ in range(2):
                    bad = dict(item)
                    holes.append(self.values[self._turn % len(self.values)])
                    self._turn += 1
                    bad[f.trade_price] = hole(len(holes) - 1)
                    copies.append(bad)
                items[i : i + 1] = [copies[0], item, copies[1]]
        return [encode(msg, holes)] if holes else None


def _item_lists(f: VenueFacts, msg: Msg) -> list[list[Any]]:
    """The lists that hold a frame's trade items (Kraken ``data``, Coinbase each event's
    ``trades``)."""
    if f.name == "kraken" and msg.get("channel") == "trade":
        return [msg["data"]]
    if f.name == "coinbase" and msg.get("channel") == "market_trades":
        return [ev["trades"] for ev in msg.get("events", [])]
    return []


class PoisonTradeId(Rewriter):
    """Gives the target's next trade the largest id the venue's notation can carry."""

    def __init__(self, facts: VenueFacts, target: str, value: int) -> None:
        super().__init__(facts)
        self.target = target
        self.value = value
        self.poisoned: str | None = None

    def rewrite(self, msg: Msg) -> list[Out] | None:
        if self.poisoned is not None:
            return None
        f = self.facts
        for item in f.trade_items(msg):
            if item.get(f.symbol_key) == self.target:
                self.poisoned = str(item.get(f.trade_id))
                item[f.trade_id] = str(self.value) if f.ids_are_strings else hole(0)
                return [encode(msg, [str(self.value).encode()])]
        return None


class EchoUnderUnknownSymbol(Rewriter):
    """Sends every frame that names a symbol a second time, renamed to a symbol nobody
    subscribed to: on every channel, books included."""

    def __init__(self, facts: VenueFacts) -> None:
        super().__init__(facts)
        self.echoed = 0

    def rewrite(self, msg: Msg) -> list[Out] | None:
        f = self.facts
        if not (f.trade_items(msg) or f.ticker_items(msg) or f.book_symbols(msg)):
            return None
        f.rename(msg, f.unknown_symbol)
        self.echoed += 1
        return [self.payload, orjson.dumps(msg)]


class SilenceBook(Rewriter):
    """Drops every book frame of the target while the connection carries everything else."""

    def __init__(self, facts: VenueFacts, target: str) -> None:
        super().__init__(facts)
        self.target = target
        self.dropped = 0

    def rewrite(self, msg: Msg) -> list[Out] | None:
        f = self.facts
        symbols = f.book_symbols(msg)
        if self.target not in symbols:
            return None
        self.dropped += 1
        if f.name == "coinbase" and len(symbols) > 1:
            msg["events"] = [ev for ev in msg["events"] if ev.get("product_id") != self.target]
            return [orjson.dumps(msg)]
        return []


class HugeValues(Rewriter):
    """Every ``every``-th trade or book frame of the target carries a price ``size`` bytes
    long."""

    def __init__(self, facts: VenueFacts, target: str, size: int, every: int = 1) -> None:
        super().__init__(facts)
        self.target = target
        self.size = size
        self.every = every
        self.sent = 0
        self._seen = 0

    def rewrite(self, msg: Msg) -> list[Out] | None:
        f = self.facts
        digits = "9" * self.size
        token = orjson.dumps(digits) if f.numbers_are_strings else digits.encode()
        trades = [i for i in f.trade_items(msg) if i.get(f.symbol_key) == self.target]
        if not trades and self.target not in f.book_symbols(msg):
            return None
        self._seen += 1
        if self._seen % self.every:
            return None
        self.sent += 1
        if trades:
            trades[0][f.trade_price] = hole(0)
        else:
            _spoil_first_level(f, msg)
        return [encode(msg, [token])]


def _spoil_first_level(f: VenueFacts, msg: Msg) -> None:
    if f.name == "kraken":
        side = msg["data"][0]
        levels = side.get("bids") or side.get("asks")
        if levels:
            levels[0]["price"] = hole(0)
        else:
            side["bids"] = [{"price": hole(0), "qty": 1}]
    elif f.name == "binance":
        data = msg["data"]
        data["b"] = [[hole(0), "1.0"], *data.get("b", [])]
    else:
        ev = msg["events"][0]
        ev["updates"][0]["price_level"] = hole(0)


BOGUS_LENGTH = Raw(b"\x81\x7f" + struct.pack("!Q", (1 << 63) - 1))
"""A text frame header claiming 2^63 - 1 bytes of payload."""
OVER_LIMIT = Raw(b"\x81\x7f" + struct.pack("!Q", 64 * 1024 * 1024) + b"{" * 4096)
"""A text frame header claiming 64 MiB, over the gateway's frame size limit."""
RESERVED_OPCODE = Raw(b"\x83\x02{}")
"""A frame with a reserved (undefined) opcode."""


class ProtocolViolation(Rewriter):
    """After the next frame, writes raw bytes that break the WebSocket protocol, once per
    :meth:`fire`."""

    def __init__(self, facts: VenueFacts) -> None:
        super().__init__(facts)
        self.pending: Raw | None = None
        self.sent: list[bytes] = []

    def fire(self, raw: Raw) -> None:
        self.pending = raw
        self.armed = True

    def rewrite(self, msg: Msg) -> list[Out] | None:
        if self.pending is None:
            return None
        raw, self.pending = self.pending, None
        self.sent.append(raw.data)
        self.armed = False
        return [self.payload, raw]
