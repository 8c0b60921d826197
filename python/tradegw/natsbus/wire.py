"""The NATS wire: subjects, headers and ExecReport message ids (``docs/nats.md``).

Subjects (``<prefix>`` is ``tradegw`` unless ``sinks.nats.subject_prefix`` says otherwise):

- ``<prefix>.md.<venue>.<symbol>.<type>``: market data on core NATS, one event per message
  (:func:`tradegw.schema.to_json`); merged events under the venue ``merged``.
- ``<prefix>.exec.<venue>.<symbol>``: ExecReports, stored in a JetStream stream.
- ``<prefix>.snapshot.<venue>.<symbol>``: request/reply, the current verified book.
- ``<prefix>.control``: request/reply, a control message and its Ack (every shard's, when
  several gateway processes are shards of one deployment).
- ``<prefix>.control.<shard>``: request/reply, a control message to one shard.

A symbol is one subject token: its canonical form (``BTC-USD``) is one already; the few
characters a token cannot hold (``.``, ``*``, ``>``, whitespace) and ``%`` itself are written
``%XX``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Final

TYPE_TOKENS: Final = {
    "BookSnapshot": "book",
    "BookUpdate": "diff",
    "BookStatus": "status",
    "Trade": "trade",
    "Ticker": "ticker",
    "KlineSummary": "kline",
    "MergedBookSnapshot": "book",
    "MergedBBO": "bbo",
}
"""The ``<type>`` token of each market-data event type (merged events live under the venue
``merged``, so ``book`` and ``bbo`` there are the merged book and best bid and offer)."""

BOOK_TYPES: Final = frozenset({"BookSnapshot", "BookUpdate", "BookStatus"})
"""The event types of one book's stream: numbered together on the wire (``Tradegw-Seq``)."""

HEADER_EPOCH: Final = "Tradegw-Epoch"
"""Which run of a gateway's NATS bridge published the message (16 hex digits, new at every
start): numbers in ``Tradegw-Seq`` only compare within one epoch."""
HEADER_SEQ: Final = "Tradegw-Seq"
"""The message's number in its wire stream (1, 2, 3, ... per epoch): one counter per book for
BookSnapshot, BookUpdate and BookStatus together, one per subject for other market data.
A number skipped is a message the receiver did not get."""
HEADER_UPDATE_SEQ: Final = "Tradegw-Update-Seq"
"""On a snapshot reply: the ``seq_provider`` of the last BookUpdate the snapshot includes."""
HEADER_ERROR: Final = "Tradegw-Error"
"""On a snapshot reply that carries no snapshot: why (:data:`SNAPSHOT_ERRORS`)."""
HEADER_SHARD: Final = "Tradegw-Shard"
"""On a control reply from a shard: its name."""
HEADER_SKIPPED: Final = "Tradegw-Skipped"
"""On a shard's reply to a control message sent to every shard that is not about it: why
(:data:`SKIP_REASONS`); the body is empty."""
HEADER_MSG_ID: Final = "Nats-Msg-Id"
"""JetStream's de-duplication header: the ExecReport's stable id (:func:`exec_msg_id`)."""

SNAPSHOT_ERRORS: Final = ("unknown_symbol", "not_synced", "bad_subject")
"""What a snapshot reply without a snapshot says (``Tradegw-Error``)."""
SKIP_REASONS: Final = (
    "no_venue",
    "no_symbol",
    "no_consumer",
    "no_merge_venues",
    "not_holder",
    "no_order_venue",
    "unknown_order",
)
"""Why a shard let a control message sent to every shard pass (``Tradegw-Skipped``)."""

_ESCAPED = re.compile(r"[%.*>\s]")
_UNESCAPE = re.compile(r"%([0-9A-F]{2})")
_TOKEN = re.compile(r"[^.*>\s]+")


def symbol_token(symbol: str) -> str:
    """``symbol`` as one subject token (``BTC-USD`` stays ``BTC-USD``; ``A.B`` is
    ``A%2EB``)."""
    if _ESCAPED.search(symbol) is None:
        return symbol
    # Canonical symbols are ASCII (the control bus refuses others): one byte per escape.
    return _ESCAPED.sub(lambda m: f"%{ord(m[0]):02X}", symbol)


def token_symbol(token: str) -> str:
    """The symbol a :func:`symbol_token` stands for."""
    if "%" not in token:
        return token
    return _UNESCAPE.sub(lambda m: chr(int(m[1], 16)), token)


def is_token(text: str) -> bool:
    """Whether ``text`` can be one subject token as it is."""
    return _TOKEN.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Subjects:
    """The subjects under one prefix."""

    prefix: str = "tradegw"

    def __post_init__(self) -> None:
        if not all(is_token(t) for t in self.prefix.split(".")):
            raise ValueError(f"subject prefix {self.prefix!r} is not a NATS subject")

    def md(self, venue: str, symbol: str, event_type: str) -> str:
        """``<prefix>.md.<venue>.<symbol>.<type>`` of a market-data event."""
        return f"{self.prefix}.md.{venue}.{symbol_token(symbol)}.{TYPE_TOKENS[event_type]}"

    def md_pattern(self, venue: str | None, symbol: str | None, token: str | None) -> str:
        """A subscription pattern over market data (None: any, ``*``)."""
        v = "*" if venue is None else venue
        s = "*" if symbol is None else symbol_token(symbol)
        return f"{self.prefix}.md.{v}.{s}.{'*' if token is None else token}"

    def exec(self, venue: str, symbol: str) -> str:
        """``<prefix>.exec.<venue>.<symbol>``: where a stream's ExecReports are stored."""
        return f"{self.prefix}.exec.{venue}.{symbol_token(symbol)}"

    def exec_pattern(self, venue: str | None = None, symbol: str | None = None) -> str:
        """A filter over ExecReport subjects (None: any)."""
        v = "*" if venue is None else venue
        s = "*" if symbol is None else symbol_token(symbol)
        return f"{self.prefix}.exec.{v}.{s}"

    @property
    def exec_all(self) -> str:
        """Every ExecReport subject (the stream's subjects)."""
        return f"{self.prefix}.exec.>"

    def snapshot(self, venue: str, symbol: str) -> str:
        """``<prefix>.snapshot.<venue>.<symbol>``: ask for a book's current snapshot."""
        return f"{self.prefix}.snapshot.{venue}.{symbol_token(symbol)}"

    def snapshot_venue(self, venue: str) -> str:
        """Every snapshot request of ``venue`` (what a gateway running it answers)."""
        return f"{self.prefix}.snapshot.{venue}.*"

    def parse_snapshot(self, subject: str) -> tuple[str, str] | None:
        """``(venue, symbol)`` of a snapshot request subject, or None if it is not one."""
        head = f"{self.prefix}.snapshot."
        if not subject.startswith(head):
            return None
        parts = subject[len(head) :].split(".")
        if len(parts) != 2 or not all(parts):
            return None
        return parts[0], token_symbol(parts[1])

    @property
    def control(self) -> str:
        """``<prefix>.control``: control messages and their Acks."""
        return f"{self.prefix}.control"

    def control_shard(self, shard: str) -> str:
        """``<prefix>.control.<shard>``: control messages to one shard."""
        return f"{self.prefix}.control.{shard}"


def stream_key(venue: str, symbol: str, event_type: str) -> tuple[str, str, str]:
    """The wire stream an event is numbered in (``Tradegw-Seq``): a book's three types share
    one, other types have one each."""
    return (venue, symbol, "book" if event_type in BOOK_TYPES else event_type)


def new_epoch() -> str:
    """A fresh epoch: 16 random lowercase hex digits."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class ExecId:
    """The stable id of an ExecReport: its number in its (venue, symbol) stream, and the
    order ledger that numbered it (numbering carries on across restarts in one ledger)."""

    ledger: str
    venue: str
    symbol: str
    seq: int

    def __str__(self) -> str:
        return f"{self.ledger}.{self.venue}.{symbol_token(self.symbol)}.{self.seq}"


def exec_msg_id(ledger: str, venue: str, symbol: str, seq: int) -> str:
    """``<ledger>.<venue>.<symbol>.<seq>``: the ``Nats-Msg-Id`` of an ExecReport."""
    return str(ExecId(ledger, venue, symbol, seq))


def parse_exec_msg_id(text: str) -> ExecId | None:
    """The :class:`ExecId` a ``Nats-Msg-Id`` names, or None if it is not one of ours."""
    parts = text.split(".")
    if len(parts) != 4 or not parts[3].isdigit() or not all(parts[:3]):
        return None
    return ExecId(parts[0], parts[1], token_symbol(parts[2]), int(parts[3]))


__all__ = [
    "BOOK_TYPES",
    "HEADER_EPOCH",
    "HEADER_ERROR",
    "HEADER_MSG_ID",
    "HEADER_SEQ",
    "HEADER_SHARD",
    "HEADER_SKIPPED",
    "HEADER_UPDATE_SEQ",
    "SKIP_REASONS",
    "SNAPSHOT_ERRORS",
    "TYPE_TOKENS",
    "ExecId",
    "Subjects",
    "exec_msg_id",
    "is_token",
    "new_epoch",
    "parse_exec_msg_id",
    "stream_key",
    "symbol_token",
    "token_symbol",
]
