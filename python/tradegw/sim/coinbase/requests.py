"""Validation of client messages (``subscribe``/``unsubscribe``) into typed form.

Advanced Trade takes one channel per message::

    {"type": "subscribe", "product_ids": ["ETH-USD", "BTC-USD"], "channel": "level2", "jwt": "..."}

``jwt`` is accepted and ignored on public channels (they need none); the private ``user``
channel needs one, which the connection checks (:mod:`tradegw.sim.coinbase.auth`). An unknown
channel name, and ``user`` without a ``jwt``, are refused with the venue's own words,
``authentication failure``. The other refusals are the simulator's own texts,
in the venue's error shape; an unknown product refuses the whole request, as the Exchange
feed does (``Failed to subscribe`` / ``X is not a valid product``).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from tradegw.errors import SimulatorError
from tradegw.sim.coinbase.feed import FEED_CHANNELS

HEARTBEATS = "heartbeats"
STATUS = "status"
USER = "user"
CHANNELS = frozenset({*FEED_CHANNELS, HEARTBEATS, STATUS})
"""Every channel served without authentication."""
PRIVATE_CHANNELS = frozenset({USER})
"""Channels that need a valid ``jwt`` in the subscribe message."""

AUTH_FAILURE = "authentication failure"
SUBSCRIBE_FAILED = "Failed to subscribe"


class RequestError(SimulatorError, ValueError):
    """A message the venue refuses: ``message`` (and ``reason``) of its error frame."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message if reason is None else f"{message}: {reason}")
        self.message = message
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    """A valid ``subscribe`` or ``unsubscribe`` message."""

    subscribe: bool
    channel: str
    product_ids: tuple[str, ...] | None
    """As given, repeats removed; None when the message has no ``product_ids`` (on
    unsubscribe: the whole channel)."""
    jwt: str | None = None
    """The message's token, when it has one (only private channels look at it)."""


def parse_request(payload: bytes) -> Request:
    """Validate one client message.

    Product ids are not checked against the venue's products here.

    Raises:
        RequestError: the venue would answer with an error frame.
    """
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise RequestError("malformed message", "not JSON") from exc
    if not isinstance(msg, dict):
        raise RequestError("malformed message", "not a JSON object")
    kind = msg.get("type")
    if kind not in ("subscribe", "unsubscribe"):
        raise RequestError("malformed message", "type must be subscribe or unsubscribe")
    channel = msg.get("channel")
    if not isinstance(channel, str) or not channel:
        raise RequestError(SUBSCRIBE_FAILED, "channel is required (one per message)")
    if channel not in CHANNELS and channel not in PRIVATE_CHANNELS:
        raise RequestError(AUTH_FAILURE)
    jwt = msg.get("jwt")
    if not isinstance(jwt, str) or not jwt:
        jwt = None
    if channel in PRIVATE_CHANNELS and jwt is None and kind == "subscribe":
        raise RequestError(AUTH_FAILURE)
    raw = msg.get("product_ids")
    product_ids: tuple[str, ...] | None = None
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise RequestError(SUBSCRIBE_FAILED, "product_ids must be a list of strings")
        # An empty list is no list: on unsubscribe it drops the whole channel.
        product_ids = tuple(dict.fromkeys(raw)) or None
    subscribe = kind == "subscribe"
    if subscribe and channel in FEED_CHANNELS and not product_ids:
        raise RequestError(SUBSCRIBE_FAILED, f"{channel} needs product_ids")
    return Request(subscribe, channel, product_ids, jwt)
