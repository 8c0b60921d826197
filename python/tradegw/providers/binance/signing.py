"""Binance request signing (HMAC-SHA256), as ``rest-api.md`` and ``web-socket-api.md`` define
it (protocols.md section 1.6; the worked examples of section 4.1 reproduce in the tests).

* **WebSocket API**: every parameter but ``signature``, sorted by name, ``name=value`` joined
  by ``&``, values as UTF-8 text - not percent-encoded (:func:`ws_api_payload`);
* **REST**: the query string (and the form body after it, no separator), percent-encoded,
  in the order sent (:func:`rest_query`);
* the signature is the hex HMAC-SHA256 of that payload with the secret key.

The secret is a :class:`~tradegw.orders.credentials.Secret` and is revealed only inside
:func:`hmac_signature`; nothing here logs, and the signed parameters are handed straight to
the socket. Signatures are never to be logged either: whoever holds one can replay its
request within ``recvWindow``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from tradegw.orders.credentials import Secret

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


def sign_ws_api(
    params: Mapping[str, ParamValue],
    *,
    api_key: Secret,
    secret: Secret,
    timestamp_ms: int,
    recv_window_ms: int | None = None,
) -> dict[str, ParamValue]:
    """``params`` with ``apiKey``, ``timestamp``, ``recvWindow`` (when given) and the
    ``signature`` over all of them: a SIGNED WebSocket API request's ``params``."""
    out: dict[str, ParamValue] = dict(params)
    out["apiKey"] = api_key.reveal()
    out["timestamp"] = timestamp_ms
    if recv_window_ms is not None:
        out["recvWindow"] = recv_window_ms
    out["signature"] = hmac_signature(secret, ws_api_payload(out))
    return out


def signed_rest_query(
    params: Mapping[str, ParamValue],
    *,
    secret: Secret,
    timestamp_ms: int,
    recv_window_ms: int | None = None,
) -> str:
    """The query string of a SIGNED REST request: ``params``, ``recvWindow``, ``timestamp``,
    then ``signature`` over everything before it. The key goes in the ``X-MBX-APIKEY``
    header."""
    fields: dict[str, ParamValue] = dict(params)
    if recv_window_ms is not None:
        fields["recvWindow"] = recv_window_ms
    fields["timestamp"] = timestamp_ms
    query = rest_query(fields)
    return f"{query}&signature={hmac_signature(secret, query)}"


__all__ = [
    "ParamValue",
    "hmac_signature",
    "param_text",
    "rest_query",
    "sign_ws_api",
    "signed_rest_query",
    "ws_api_payload",
]
