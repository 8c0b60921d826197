"""What every venue adapter shares (see DESIGN.md, "One shape for every venue").

- :mod:`.provider` — :class:`VenueProvider`: the supervised session loop, book health, the
  frame catch-all and DLQ, event numbering; venues fill in its hooks.
- :mod:`.books` — :class:`TrackedBook` (an assembler and its health).
- :mod:`.session` — the socket listener, connecting with bounded waits, :class:`Backoff`.
- :mod:`.rest` — :class:`RestClient`: retries, ``Retry-After``, request weights.
- :mod:`.decode` — exact JSON, integer and timestamp fields, :class:`FrameError`.
- :mod:`.config` — :class:`VenueConfig`, the settings every venue has.
- :mod:`.sink` — :class:`EventSink`, where a provider hands its events.
"""

from tradegw.providers.base.books import SnapshotToken, TrackedBook
from tradegw.providers.base.config import (
    ReconnectPolicy,
    RestPolicy,
    StrictModel,
    TradingConfig,
    VenueConfig,
)
from tradegw.providers.base.decode import (
    FrameError,
    as_int,
    decimal_text,
    decode,
    decode_exact,
    signed_decimal_text,
    timestamp_ns,
)
from tradegw.providers.base.provider import MALFORMED, VenueProvider
from tradegw.providers.base.rest import RestClient, RestError, RestUnavailable
from tradegw.providers.base.session import Backoff
from tradegw.providers.base.sink import EventSink

__all__ = [
    "MALFORMED",
    "Backoff",
    "EventSink",
    "FrameError",
    "ReconnectPolicy",
    "RestClient",
    "RestError",
    "RestPolicy",
    "RestUnavailable",
    "SnapshotToken",
    "StrictModel",
    "TrackedBook",
    "TradingConfig",
    "VenueConfig",
    "VenueProvider",
    "as_int",
    "decimal_text",
    "decode",
    "decode_exact",
    "signed_decimal_text",
    "timestamp_ns",
]
