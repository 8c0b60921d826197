"""Kraken's REST authentication: the ``API-Sign`` header and the nonces it covers.

``API-Sign = base64(HMAC-SHA512(key = base64decode(secret), msg = path + SHA256(nonce +
body)))`` with ``path`` the URI path (``/0/private/AddOrder``) and ``body`` the POST body
exactly as sent (form-encoded or JSON; it holds the nonce too). protocols.md §4.2 carries
Kraken's worked example, which :func:`api_sign` reproduces (``tests/unit/test_kraken_signing.py``).

Nonces are unsigned 64-bit integers that must grow with every call of one key: Kraken
refuses a nonce at or below the last one it saw with ``EAPI:Invalid nonce``.
:class:`NonceSource` counts from the wall clock in microseconds, so a restarted gateway
starts above every nonce the previous process used (unless it issued over a million calls
a second), and never hands out the same value twice.

The secret is passed in as the :class:`~tradegw.orders.credentials.Secret`'s revealed text
at the moment of signing and is not kept; the signature returned is itself a credential for
that one request and is never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable


class SigningError(ValueError):
    """The secret is not base64 text (Kraken secrets are); the message never shows it."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key a Kraken API secret stands for (its base64 decoding).

    Raises:
        SigningError: ``secret`` is not valid base64.
    """
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError("the Kraken API secret is not base64 text") from None


def api_sign(secret: str, path: str, nonce: str, body: str | bytes) -> str:
    """The ``API-Sign`` header of one private REST call.

    ``path`` is the URI path (``/0/private/AddOrder``), ``nonce`` the nonce exactly as the
    body carries it, ``body`` the POST body byte for byte.

    Raises:
        SigningError: ``secret`` is not valid base64.
    """
    data = body.encode() if isinstance(body, str) else body
    digest = hashlib.sha256(nonce.encode() + data).digest()
    mac = hmac.new(decode_secret(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class NonceSource:
    """Strictly increasing nonces: wall-clock microseconds, or one above the last nonce
    when the clock has not moved on (or went back)."""

    def __init__(self, clock_us: Callable[[], int] | None = None) -> None:
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)
        self._last = 0

    def next(self) -> int:
        """A nonce above every one handed out before."""
        self._last = max(self._last + 1, self._clock_us())
        return self._last

    def skip(self, micros: int) -> None:
        """Jumps ahead (after ``EAPI:Invalid nonce``: another client of the same key, or an
        earlier process, used nonces above the clock)."""
        self._last = max(self._last, self._clock_us()) + micros


__all__ = ["NonceSource", "SigningError", "api_sign", "decode_secret"]
