"""Binance request signing, HMAC-SHA256 or Ed25519, as ``rest-api.md`` and
``web-socket-api.md`` define it (protocols.md section 1.6; the HMAC worked examples of section
4.1 reproduce in the tests).

* **WebSocket API**: every parameter but ``signature``, sorted by name, ``name=value`` joined
  by ``&``, values as UTF-8 text - not percent-encoded (:func:`ws_api_payload`);
* **REST**: the query string (and the form body after it, no separator), percent-encoded,
  in the order sent (:func:`rest_query`);
* the signature of that payload (its UTF-8 bytes) is, for an HMAC key, the hex HMAC-SHA256
  with the secret key (:func:`hmac_signature`); for an Ed25519 key, the base64 of the raw
  64-byte Ed25519 signature with the private key (:func:`ed25519_signature`), which is
  case-sensitive and, on REST, percent-encoded where it joins the query string (``+``,
  ``/`` and ``=`` would not survive as they are). Both key types sign the same payloads.

:class:`RequestSigner` is one key of either type. The secret (an HMAC secret key, or the
Ed25519 private key as PEM) is a :class:`~tradegw.orders.credentials.Secret`, revealed only
inside the two signature functions (the PEM is parsed there, for that one signature, and not
kept); nothing here logs, and the signed parameters are handed straight to the socket.
Signatures are never to be logged either: whoever holds one can replay its request within
``recvWindow``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final, Literal
from urllib.parse import quote, urlencode

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tradegw.errors import CredentialError
from tradegw.orders.credentials import MASK, Secret

KeyType = Literal["hmac", "ed25519"]
"""What signs a venue's requests: an HMAC secret key, or an Ed25519 private key (PEM)."""

_PEM_START: Final = "-----BEGIN"

ParamValue = str | int | bool
"""What a signed parameter may be: decimal text and names as strings, times as integers."""


def param_text(value: ParamValue) -> str:
    """A parameter's value as the payload spells it (``true``/``false`` for booleans, as the
    request's JSON has them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ws_api_payload(params: Mapping[str, ParamValue]) -> str:
    """The WebSocket API signature payload of ``params`` (``signature`` itself left out)."""
    return "&".join(
        f"{name}={param_text(params[name])}" for name in sorted(params) if name != "signature"
    )


def rest_query(params: Mapping[str, ParamValue]) -> str:
    """``params`` as a percent-encoded query string, in their order: what a REST request
    sends, and signs."""
    return urlencode([(name, param_text(value)) for name, value in params.items()])


def hmac_signature(secret: Secret, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` (UTF-8) with the secret key."""
    return hmac.new(secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()


def ed25519_signature(private_key: Secret, payload: str) -> str:
    """Base64 of the Ed25519 signature of ``payload`` (UTF-8) with the private key (PEM).

    Raises:
        CredentialError: the secret is not an unencrypted Ed25519 private key in PEM form.
    """
    key = _ed25519_key(private_key, "the private key")
    return base64.b64encode(key.sign(payload.encode())).decode("ascii")


def _ed25519_key(private_key: Secret, named: str) -> Ed25519PrivateKey:
    text = private_key.reveal().strip().replace("\\n", "\n")
    if not text.startswith(_PEM_START):
        raise CredentialError(f"binance: {named} is not a PEM block (-----BEGIN PRIVATE KEY-----)")
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's words may quote the input: none of them.
        raise CredentialError(
            f"binance: {named} is a PEM block that does not load as an unencrypted private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CredentialError(
            f"binance: {named} is a {type(key).__name__.removeprefix('_')}, not an Ed25519 "
            "private key"
        )
    return key


class RequestSigner:
    """Signs Binance payloads with one key: an HMAC secret (``key_type="hmac"``) or an
    Ed25519 private key in PEM form (``"ed25519"``). ``source`` says where the key came from
    (``env TRADEGW_BINANCE_API_SECRET``, ``file PATH``) for error messages; the key itself
    is never shown (``repr`` masks it)."""

    __slots__ = ("_secret", "key_type")

    def __init__(
        self, key_type: KeyType, secret: Secret, *, source: str = "the API secret"
    ) -> None:
        """Checks that ``secret`` is a key of ``key_type`` (an Ed25519 key is loaded once,
        then forgotten).

        Raises:
            CredentialError: an Ed25519 key that does not load, or a PEM private key given
                as an HMAC secret; the message names ``source`` and the setting, no value.
        """
        named = f"the API secret ({source})"
        if key_type == "ed25519":
            _ed25519_key(secret, named)
        elif secret.reveal().lstrip().startswith(_PEM_START):
            raise CredentialError(
                f"binance: {named} is a PEM block, but venues.binance.trading.key_type is "
                "hmac: set key_type: ed25519 for an Ed25519 key"
            )
        self.key_type: KeyType = key_type
        self._secret = secret

    def sign(self, payload: str) -> str:
        """The signature of ``payload``: hex HMAC-SHA256, or base64 Ed25519."""
        if self.key_type == "ed25519":
            return ed25519_signature(self._secret, payload)
        return hmac_signature(self._secret, payload)

    def __repr__(self) -> str:
        return f"RequestSigner(key_type={self.key_type!r}, key={MASK!r})"


def _signer(secret: Secret | RequestSigner) -> RequestSigner:
    return secret if isinstance(secret, RequestSigner) else RequestSigner("hmac", secret)


def sign_ws_api(
    params: Mapping[str, ParamValue],
    *,
    api_key: Secret,
    secret: Secret | RequestSigner,
    timestamp_ms: int,
    recv_window_ms: int | None = None,
) -> dict[str, ParamValue]:
    """``params`` with ``apiKey``, ``timestamp``, ``recvWindow`` (when given) and the
    ``signature`` over all of them: a SIGNED WebSocket API request's ``params``. ``secret``
    is a :class:`RequestSigner`, or a :class:`Secret` that signs HMAC."""
    out: dict[str, ParamValue] = dict(params)
    out["apiKey"] = api_key.reveal()
    out["timestamp"] = timestamp_ms
    if recv_window_ms is not None:
        out["recvWindow"] = recv_window_ms
    out["signature"] = _signer(secret).sign(ws_api_payload(out))
    return out


def signed_rest_query(
    params: Mapping[str, ParamValue],
    *,
    secret: Secret | RequestSigner,
    timestamp_ms: int,
    recv_window_ms: int | None = None,
) -> str:
    """The query string of a SIGNED REST request: ``params``, ``recvWindow``, ``timestamp``,
    then ``signature`` over everything before it, percent-encoded (a base64 Ed25519
    signature has ``+``, ``/`` and ``=``; hex is left as it is). The key goes in the
    ``X-MBX-APIKEY`` header. ``secret`` is as for :func:`sign_ws_api`."""
    fields: dict[str, ParamValue] = dict(params)
    if recv_window_ms is not None:
        fields["recvWindow"] = recv_window_ms
    fields["timestamp"] = timestamp_ms
    query = rest_query(fields)
    return f"{query}&signature={quote(_signer(secret).sign(query), safe='')}"


__all__ = [
    "KeyType",
    "ParamValue",
    "RequestSigner",
    "ed25519_signature",
    "hmac_signature",
    "param_text",
    "rest_query",
    "sign_ws_api",
    "signed_rest_query",
    "ws_api_payload",
]
