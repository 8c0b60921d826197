"""How the Kraken simulator checks who is calling: ``API-Key``/``API-Sign`` on private REST
calls, nonces, and the WebSocket tokens ``GetWebSocketsToken`` hands out.

This is the simulator's own implementation of Kraken's rule, written apart from the
gateway's (:mod:`tradegw.providers.kraken.signing`), so a test of one against the other
compares two readings of the documentation::

    API-Sign == base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))

A call is refused, in Kraken's words, when its key is unknown (``EAPI:Invalid key``), its
nonce is missing or not above the last one the key used (``EAPI:Invalid nonce``), or its
signature does not match (``EAPI:Invalid signature``). A refused call changes nothing: its
nonce is not remembered.

Tokens: a token must be used within ``ttl_s`` of being issued (Kraken: 15 minutes), and
stays valid for as long as a private subscription made with it lasts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from tradegw.sim.config import ApiKeyConfig

INVALID_KEY: Final = "EAPI:Invalid key"
INVALID_SIGNATURE: Final = "EAPI:Invalid signature"
INVALID_NONCE: Final = "EAPI:Invalid nonce"
INVALID_SESSION: Final = "ESession:Invalid session"
"""A WebSocket request whose token is unknown or expired. Kraken's v1 wording (clients such
as ccxt map it); the v2 text is not published."""

_NONCE_MAX: Final = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a checked request comes from."""

    api_key: str
    account: str


class PrivateAuth:
    """Checks private REST calls against ``api_keys`` and keeps each key's last nonce."""

    def __init__(self, api_keys: Mapping[str, ApiKeyConfig]) -> None:
        self._keys: dict[str, tuple[bytes, str]] = {}
        for key, spec in api_keys.items():
            assert spec.secret is not None  # KrakenSimConfig makes sure
            self._keys[key] = (base64.b64decode(spec.secret), spec.account)
        self._last_nonce: dict[str, int] = {}
        self.refused: Counter[str] = Counter()
        """Refusals by error text."""
        self.accepted = 0

    def check(
        self, path: str, api_key: str | None, api_sign: str | None, nonce: str | None, body: bytes
    ) -> Caller | str:
        """The caller of a private call to ``path`` with raw POST ``body`` (whose ``nonce``
        field is given), or the error to refuse it with."""
        known = None if api_key is None else self._keys.get(api_key)
        if known is None or api_key is None:
            return self._refuse(INVALID_KEY)
        if nonce is None or not nonce.isdigit() or not 0 < int(nonce) <= _NONCE_MAX:
            return self._refuse(INVALID_NONCE)
        key_bytes, account = known
        inner = hashlib.sha256(nonce.encode("ascii") + body).digest()
        expected = hmac.new(key_bytes, path.encode() + inner, hashlib.sha512).digest()
        try:
            given = base64.b64decode(api_sign or "", validate=True)
        except ValueError:
            given = b""
        if not hmac.compare_digest(expected, given):
            return self._refuse(INVALID_SIGNATURE)
        value = int(nonce)
        if value <= self._last_nonce.get(api_key, 0):
            return self._refuse(INVALID_NONCE)
        self._last_nonce[api_key] = value
        self.accepted += 1
        return Caller(api_key, account)

    def _refuse(self, error: str) -> str:
        self.refused[error] += 1
        return error


@dataclass(slots=True)
class _Token:
    caller: Caller
    issued: float
    holders: int = 0


class Tokens:
    """WebSocket tokens: issued to a checked caller, valid ``ttl_s`` until first held, and
    for as long as any subscription holds them."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self.issued: list[str] = []
        """Every token handed out, in order (tests scan outputs for them)."""

    def issue(self, caller: Caller) -> str:
        """A new token for ``caller`` (43 base64 characters, like Kraken's)."""
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self._tokens[token] = _Token(caller, self._clock())
        self.issued.append(token)
        return token

    def caller(self, token: object) -> Caller | None:
        """Who ``token`` belongs to, or None when it is unknown or has expired."""
        if not isinstance(token, str):
            return None
        entry = self._tokens.get(token)
        if entry is None:
            return None
        if entry.holders == 0 and self._clock() - entry.issued > self.ttl_s:
            return None
        return entry.caller

    def hold(self, token: str) -> None:
        """A private subscription made with ``token`` starts: it no longer expires."""
        self._tokens[token].holders += 1

    def release(self, token: str) -> None:
        """That subscription ended: the token ages again from now."""
        entry = self._tokens.get(token)
        if entry is not None and entry.holders > 0:
            entry.holders -= 1
            if entry.holders == 0:
                entry.issued = self._clock()


__all__ = [
    "INVALID_KEY",
    "INVALID_NONCE",
    "INVALID_SESSION",
    "INVALID_SIGNATURE",
    "Caller",
    "PrivateAuth",
    "Tokens",
]
