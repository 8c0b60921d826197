"""Binance's request signing, checked the simulator's own way (independent of the gateway's
signing code, so tests check one implementation against another).

What a SIGNED request must carry and how it is refused (protocols.md section 1.6,
``web-socket-api.md`` "Request security", ``errors.md``):

* an API key: WebSocket API ``params.apiKey``, REST header ``X-MBX-APIKEY``. Not letters and
  digits (or absent from a REST request) -> ``-2014 API-key format invalid.``; not one of
  ``config.api_keys`` -> ``-2015 Invalid API-key, IP, or permissions for action.`` (both
  status 401);
* ``timestamp`` (ms, or µs when it has 16 digits) and ``signature``, else ``-1102 Mandatory
  parameter '...' was not sent, was empty/null, or malformed.``;
* ``recvWindow`` optional, default 5000 ms, up to three decimals, at most 60000;
* the signature over the payload - WebSocket API: every param but ``signature``, sorted by
  name, ``name=value`` joined by ``&``, UTF-8, not percent-encoded; REST: the query string
  concatenated with the body, exactly as sent (percent-encoded), without the ``signature``
  parameter. A key registered with a ``secret`` (HMAC) signs hex HMAC-SHA256, compared
  case-insensitively as the venue does; one registered with ``public_key_pem`` (Ed25519)
  signs base64 of the raw 64-byte Ed25519 signature, case-sensitive (on REST it arrives
  percent-encoded and is checked decoded), verified with the public key. A mismatch, a
  signature that is not of the key's form, or a key with neither is ``-1022 Signature for
  this request is not valid.``;
* the timing rule: accepted when ``timestamp < now + 1 s`` and ``now - timestamp <=
  recvWindow``, else ``-1021`` ("... was 1000ms ahead of the server's time." or "... is
  outside of the recvWindow.").
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tradegw.errors import SimulatorError
from tradegw.sim.config import ApiKeyConfig

DEFAULT_RECV_WINDOW_MS: Final = Decimal(5000)
MAX_RECV_WINDOW_MS: Final = Decimal(60000)
AHEAD_LIMIT_MS: Final = Decimal(1000)
"""A timestamp this far ahead of the server's clock, or more, is refused."""

_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{1,256}")
_RECV_WINDOW = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,3})?")
_MICROSECONDS_FROM = 10**15
"""Timestamps at or above this are microseconds (16 digits), below it milliseconds."""
_ED25519_SIGNATURE_B64 = re.compile(r"[A-Za-z0-9+/]{86}==")
"""Base64 of 64 bytes, as Binance's Ed25519 signatures are written."""


class ApiError(SimulatorError):
    """A request the venue refuses with an error object: ``{"code":..,"msg":..}`` and the
    HTTP (or WebSocket API ``status``) status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def mandatory(name: str) -> ApiError:
    """``-1102`` naming a parameter that was not sent, was empty or malformed."""
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a signed request is from."""

    api_key: str
    account: str


def param_text(value: object) -> str:
    """A WebSocket API parameter's value as the payload spells it: strings as they are,
    booleans ``true``/``false``, numbers as JSON writes them."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def ws_payload(params: Mapping[str, object]) -> str:
    """The WebSocket API signature payload: params but ``signature``, sorted by name."""
    return "&".join(
        f"{name}={param_text(params[name])}" for name in sorted(params) if name != "signature"
    )


def rest_payload(query: str, body: str) -> str:
    """The REST signature payload: the raw query string, then the raw body, each without its
    ``signature`` parameter."""
    return _without_signature(query) + _without_signature(body)


def _without_signature(raw: str) -> str:
    if not raw:
        return ""
    return "&".join(part for part in raw.split("&") if not part.startswith("signature="))


def hmac_hex(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret`` (both UTF-8)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def ed25519_public_key(pem: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a PEM block.

    Raises:
        ValueError: it does not load, or is another kind of key.
    """
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("public_key_pem does not load as a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"public_key_pem is a {type(key).__name__}, not an Ed25519 key")
    return key


class _Key:
    """One registered key: what checks its signatures, and its account."""

    __slots__ = ("account", "public", "secret")

    def __init__(self, spec: ApiKeyConfig) -> None:
        self.account = spec.account
        self.secret = spec.secret
        self.public: Ed25519PublicKey | None = None
        if spec.public_key_pem is not None:
            # A key the run cannot use (the config refuses one): every request it signs fails.
            with contextlib.suppress(ValueError):
                self.public = ed25519_public_key(spec.public_key_pem)

    def signed(self, signature: str, payload: str) -> bool:
        """Whether ``signature`` is this key's over ``payload``."""
        if self.public is not None:
            # Case-sensitive base64 of exactly 64 bytes; anything else is not a signature.
            if _ED25519_SIGNATURE_B64.fullmatch(signature) is None:
                return False
            try:
                self.public.verify(base64.b64decode(signature, validate=True), payload.encode())
            except (InvalidSignature, binascii.Error):
                return False
            return True
        if self.secret is not None:
            return hmac.compare_digest(hmac_hex(self.secret, payload), signature.lower())
        return False


class Authenticator:
    """Checks signed requests against a run's ``api_keys``: HMAC keys by their ``secret``,
    Ed25519 keys by their ``public_key_pem``."""

    def __init__(self, keys: Mapping[str, ApiKeyConfig]) -> None:
        self._keys = {name: _Key(spec) for name, spec in keys.items()}
        self.refused: dict[int, int] = {}
        """Refusals by error code."""
        self.accepted = 0

    def check_ws(self, params: Mapping[str, object], now_ms: Decimal) -> Caller:
        """The caller of a signed WebSocket API request.

        Raises:
            ApiError: the venue's refusal (see the module docstring).
        """
        key = params.get("apiKey")
        if key is None or key == "":
            raise self._refuse(mandatory("apiKey"))
        if not isinstance(key, str):
            raise self._refuse(ApiError(-2014, "API-key format invalid.", 401))
        signature = params.get("signature")
        if not isinstance(signature, str) or not signature:
            raise self._refuse(mandatory("signature"))
        return self._check(
            key,
            params.get("timestamp"),
            params.get("recvWindow"),
            signature,
            ws_payload(params),
            now_ms,
        )

    def check_rest(
        self,
        api_key: str | None,
        params: Mapping[str, str],
        query: str,
        body: str,
        now_ms: Decimal,
    ) -> Caller:
        """The caller of a signed REST request (``params``: query and body parameters,
        decoded; ``query``/``body``: as sent).

        Raises:
            ApiError: the venue's refusal (see the module docstring).
        """
        if api_key is None:
            raise self._refuse(ApiError(-2014, "API-key format invalid.", 401))
        signature = params.get("signature")
        if not signature:
            raise self._refuse(mandatory("signature"))
        return self._check(
            api_key,
            params.get("timestamp"),
            params.get("recvWindow"),
            signature,
            rest_payload(query, body),
            now_ms,
        )

    def _check(
        self,
        key: str,
        timestamp: object,
        recv_window: object,
        signature: str,
        payload: str,
        now_ms: Decimal,
    ) -> Caller:
        if _KEY_FORMAT.fullmatch(key) is None:
            raise self._refuse(ApiError(-2014, "API-key format invalid.", 401))
        spec = self._keys.get(key)
        if spec is None:
            raise self._refuse(
                ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            )
        stamp_ms = _timestamp_ms(timestamp)
        if stamp_ms is None:
            raise self._refuse(mandatory("timestamp"))
        window = _recv_window_ms(recv_window)
        if window is None:
            raise self._refuse(mandatory("recvWindow"))
        if window > MAX_RECV_WINDOW_MS:
            raise self._refuse(
                ApiError(
                    -1102,
                    "'recvWindow' contains unexpected value. Cannot be greater than "
                    f"{MAX_RECV_WINDOW_MS}.",
                )
            )
        # The signature before the clock: a request nobody could have signed learns nothing
        # about the server's time.
        if not spec.signed(signature, payload):
            raise self._refuse(ApiError(-1022, "Signature for this request is not valid."))
        if stamp_ms >= now_ms + AHEAD_LIMIT_MS:
            raise self._refuse(
                ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
            )
        if now_ms - stamp_ms > window:
            raise self._refuse(
                ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
            )
        self.accepted += 1
        return Caller(key, spec.account)

    def _refuse(self, error: ApiError) -> ApiError:
        self.refused[error.code] = self.refused.get(error.code, 0) + 1
        return error


def _timestamp_ms(raw: object) -> Decimal | None:
    """A ``timestamp`` parameter in milliseconds (a µs one divided), or None if malformed."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        if not raw.isdigit() or len(raw) > 19:
            return None
        raw = int(raw)
    if not isinstance(raw, int) or raw <= 0:
        return None
    return Decimal(raw) / 1000 if raw >= _MICROSECONDS_FROM else Decimal(raw)


def _recv_window_ms(raw: object) -> Decimal | None:
    """``recvWindow`` in ms (default 5000), or None if malformed."""
    if raw is None:
        return DEFAULT_RECV_WINDOW_MS
    if isinstance(raw, bool):
        return None
    text = raw if isinstance(raw, str) else str(raw)
    if isinstance(raw, float):
        text = repr(raw)
    if _RECV_WINDOW.fullmatch(text) is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value > 0 else None


__all__ = [
    "ApiError",
    "Authenticator",
    "Caller",
    "ed25519_public_key",
    "hmac_hex",
    "mandatory",
    "param_text",
    "rest_payload",
    "ws_payload",
]
