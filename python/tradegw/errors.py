"""One exception hierarchy for the whole package.

The native core raises these classes (imported from Rust with ``import_exception!``), so a
caller can catch :class:`BookError` whether the fault was found in Rust or in Python. Classes
that describe bad values also derive from :class:`ValueError`, which is what callers of a
parsing function expect.
"""

from __future__ import annotations


class TradegwError(Exception):
    """Base class of every error tradegw raises on purpose."""


class BookError(TradegwError):
    """An order book or its assembler refused an input."""


class InvalidDecimal(BookError, ValueError):
    """A price or quantity text is not a decimal the book can hold exactly.

    Raised for malformed text, more significant decimals than the book's precision,
    negative values, or values that overflow the fixed-point range.
    """


class CrossedBook(BookError, ValueError):
    """A snapshot would leave the best bid at or above the best ask."""


class SequenceGap(BookError):
    """A venue sequence number skipped ahead: updates were lost."""


class ChecksumMismatch(BookError):
    """A venue checksum disagrees with the locally assembled book."""


class AdapterError(TradegwError):
    """A venue adapter met something it cannot use (a malformed frame, a failed REST call).

    Adapter errors are counted and logged and never end a feed (see
    ``tradegw.providers.base``)."""


class SimulatorError(TradegwError):
    """A venue simulator refused a request (the text is what it answers the client)."""


class OrderError(TradegwError):
    """An order could not be handled as asked (see the subclasses)."""


class UnknownOrder(OrderError, LookupError):
    """No order with that ``client_order_id`` is in the ledger."""


class OrderRefused(OrderError):
    """A request about an order was refused before reaching a venue (the trading switch
    blocks cancels while ``disabled``). ``reason`` is the machine-readable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class VenueUnavailable(OrderError):
    """A venue cannot say now what became of an order (a query or fills request failed: a
    timeout, a 5xx, no connection). The caller tries again later; it is never taken as
    "the venue has no such order"."""


class LedgerInUse(TradegwError):
    """The order ledger file is held by another order entry (a running gateway, or a
    ``tradegw order`` sending directly): two on one ledger could both send one
    ``client_order_id``. ``holder`` says who holds it, as that process wrote it."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class CredentialError(TradegwError):
    """A venue's key or secret is missing, or its file is unsafe (readable by group or
    others). The message names the variable or the file, never the value."""


class ConfigError(TradegwError):
    """A configuration file is missing, unreadable or invalid.

    The message names the file, the field and the reason.
    """


__all__ = [
    "AdapterError",
    "BookError",
    "ChecksumMismatch",
    "ConfigError",
    "CredentialError",
    "CrossedBook",
    "InvalidDecimal",
    "LedgerInUse",
    "OrderError",
    "OrderRefused",
    "SequenceGap",
    "SimulatorError",
    "TradegwError",
    "UnknownOrder",
    "VenueUnavailable",
]


def one_line(e: BaseException) -> str:
    """An exception as one line that is never empty (a bare ``TimeoutError()`` says nothing):
    its type and the first line of its message, cut to 300 characters."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300]}" if text else type(e).__name__
