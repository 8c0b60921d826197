"""Coinbase CDP JWTs: what authenticates every private REST request and the ``user``
channel's subscribe (protocols.md sections 2.4 and 4.7).

A CDP API key is a key *name* (``organizations/{org_id}/apiKeys/{key_id}``) and a private
key: an EC P-256 PEM (``-----BEGIN EC PRIVATE KEY-----``, algorithm ES256) or an Ed25519
key (a PKCS#8 PEM, or the base64 text of its 32-byte seed or 64-byte seed + public key, as
the CDP portal hands it out; algorithm EdDSA). Each request gets a fresh token::

    header  {"alg": "ES256"|"EdDSA", "kid": <key name>, "nonce": <random hex>, "typ": "JWT"}
    claims  {"sub": <key name>, "iss": "cdp", "nbf": now, "exp": now + lifetime,
             "uri": "<METHOD> <host><path>"}          # REST only; the WebSocket's has none

``<host>`` is the host the request goes to, with its port when not the scheme's default
(``api.coinbase.com``, or ``127.0.0.1:8443`` for the simulator); ``<path>`` has no query
string. Tokens are signed with PyJWT, as Coinbase's own SDK does; ES256 signatures are
randomized, so there is no fixed vector: tests sign and verify with the public key.

Nothing here keeps a usable key: :class:`CdpSigner` holds the two
:class:`~tradegw.orders.credentials.Secret` values and reveals them only inside
:meth:`CdpSigner.rest_jwt`/:meth:`CdpSigner.ws_jwt`, loading the private key for that one
signature. Errors name what is wrong, never a value.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable
from typing import Final, Literal

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from yarl import URL

from tradegw.errors import CredentialError
from tradegw.orders.credentials import MASK, Secret

Algorithm = Literal["ES256", "EdDSA"]

ISSUER: Final = "cdp"
MAX_LIFETIME_S: Final = 120
"""The venue's JWT lifetime (``exp = nbf + 120``); a shorter one is also accepted."""

_SigningKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey


def jwt_host(base_url: str) -> str:
    """The host a token's ``uri`` names for requests to ``base_url``: host, plus the port
    when it is not the scheme's default (what an HTTP client sends as ``Host``).

    Raises:
        ValueError: ``base_url`` has no host.
    """
    url = URL(base_url)
    if not url.host:
        raise ValueError(f"not an absolute URL: {base_url!r}")
    if url.port is None or url.is_default_port():
        return url.host
    return f"{url.host}:{url.port}"


def _load(pem_or_b64: str) -> _SigningKey:
    """The private key a CDP secret holds. Raises ``CredentialError`` (naming no value)."""
    text = pem_or_b64.strip().replace("\\n", "\n")
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CredentialError(
                "coinbase: the API secret is a PEM block that does not load as an unencrypted "
                "private key"
            ) from None
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return key
        if isinstance(key, Ed25519PrivateKey):
            return key
        raise CredentialError(
            "coinbase: the API secret is neither an EC P-256 nor an Ed25519 private key"
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialError(
            "coinbase: the API secret is neither a PEM block nor base64 text"
        ) from None
    if len(raw) not in (32, 64):
        raise CredentialError(
            "coinbase: a base64 API secret must hold an Ed25519 key (32 or 64 bytes)"
        )
    # 64 bytes are the seed followed by the public key; the seed alone makes the key.
    return Ed25519PrivateKey.from_private_bytes(raw[:32])


class CdpSigner:
    """Makes CDP JWTs for one API key (see the module docstring)."""

    __slots__ = ("_clock", "_key_name", "_lifetime", "_secret", "algorithm")

    def __init__(
        self,
        key_name: Secret,
        private_key: Secret,
        *,
        lifetime_s: int = MAX_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Checks that ``private_key`` loads (then forgets the loaded key).

        Raises:
            CredentialError: the secret is not a key Coinbase signs with.
            ValueError: ``lifetime_s`` is not 1-120.
        """
        if not 1 <= lifetime_s <= MAX_LIFETIME_S:
            raise ValueError(f"a CDP JWT lives 1-{MAX_LIFETIME_S} s, not {lifetime_s}")
        key = _load(private_key.reveal())
        es256 = isinstance(key, ec.EllipticCurvePrivateKey)
        self.algorithm: Algorithm = "ES256" if es256 else "EdDSA"
        """What the key signs with."""
        self._key_name = key_name
        self._secret = private_key
        self._lifetime = lifetime_s
        self._clock = clock

    @property
    def lifetime_s(self) -> int:
        """Seconds a token lives: a request that reaches the venue later is refused."""
        return self._lifetime

    def rest_jwt(self, method: str, host: str, path: str) -> str:
        """A token for one REST request: ``method`` (``POST``), ``host`` (see
        :func:`jwt_host`) and ``path`` (``/api/v3/brokerage/orders``, no query)."""
        return self._sign(f"{method.upper()} {host}{path}")

    def ws_jwt(self) -> str:
        """A token for one WebSocket subscribe message (no ``uri`` claim)."""
        return self._sign(None)

    def _sign(self, uri: str | None) -> str:
        name = self._key_name.reveal()
        now = int(self._clock())
        claims: dict[str, object] = {
            "sub": name,
            "iss": ISSUER,
            "nbf": now,
            "exp": now + self._lifetime,
        }
        if uri is not None:
            claims["uri"] = uri
        return jwt.encode(
            claims,
            _load(self._secret.reveal()),
            algorithm=self.algorithm,
            headers={"kid": name, "nonce": secrets.token_hex(16)},
        )

    def __repr__(self) -> str:
        return f"CdpSigner({self.algorithm}, key {MASK})"

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("a CdpSigner cannot be pickled (it holds a secret)")


__all__ = ["ISSUER", "MAX_LIFETIME_S", "Algorithm", "CdpSigner", "jwt_host"]
