"""The simulator's own check of Coinbase CDP JWTs (protocols.md sections 2.4 and 4.7).

Written against ``cryptography`` alone, apart from the gateway's signing module (which uses
PyJWT), so that a test signing with one and verifying with the other checks two
implementations against each other.

A CDP JWT is ``base64url(header) . base64url(claims) . base64url(signature)``:

* header ``{"alg": "ES256" | "EdDSA", "kid": <key name>, "nonce": <random hex>}``
  (``typ`` may be there too);
* claims ``{"sub": <key name>, "iss": "cdp", "nbf": <unix s>, "exp": <unix s>}`` plus, on
  REST only, ``"uri": "<METHOD> <host><path>"`` (the host the client called, no scheme, no
  query: ``POST 127.0.0.1:8443/api/v3/brokerage/orders``);
* ES256 signatures are the raw 64-byte ``r || s`` of ECDSA P-256 over SHA-256 (JWS, not
  DER); EdDSA ones the 64-byte Ed25519 signature.

What is refused (each a :class:`AuthRefused` with a short ``reason``, counted by the
simulator; the venue answers all of them alike, HTTP 401 ``Unauthorized`` on REST and
``{"type":"error","message":"authentication failure"}`` on the WebSocket): ``malformed``
(not three base64url JSON parts, a claim of the wrong type), ``unknown_key`` (``kid`` names
no key of the run, or a key without a public key), ``key_mismatch`` (``sub`` is not
``kid``), ``algorithm`` (an ``alg`` other than the key's), ``signature``, ``issuer``
(``iss`` neither ``cdp`` nor the older ``coinbase-cloud``), ``expired`` (``exp`` has
passed), ``not_yet_valid`` (``nbf`` in the future beyond the leeway), ``lifetime`` (``exp -
nbf`` above 120 s, the venue's two minutes), ``uri`` (a REST token for another method, host
or path), and ``replayed`` (a nonce seen before on this key while its token lives: the
venue's docs ask for a fresh nonce per request and do not say what it does with a repeat;
the simulator refuses it, the safe reading).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tradegw.errors import SimulatorError
from tradegw.sim.config import ApiKeyConfig

MAX_LIFETIME_S: Final = 120
"""The longest ``exp - nbf`` the venue takes: a JWT lives two minutes."""
ISSUER: Final = "cdp"
ISSUERS: Final = frozenset({ISSUER, "coinbase-cloud"})
"""``cdp`` now; ``coinbase-cloud`` (with an ``aud``) is what keys signed with before SDK 1.4.1
and what ccxt still sends for ES256 keys, which the venue takes."""
_MAX_TOKEN = 16 * 1024
_MAX_NONCES = 200_000


class AuthRefused(SimulatorError):
    """A token the venue refuses; ``reason`` says why (for the simulator's counters and
    tests, never on the wire: the venue gives every client the same answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"authentication refused: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for."""

    key_name: str
    account: str


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise AuthRefused("malformed") from None


def _json_object(part: str) -> dict[str, Any]:
    try:
        value = orjson.loads(_b64url(part))
    except orjson.JSONDecodeError:
        raise AuthRefused("malformed") from None
    if not isinstance(value, dict):
        raise AuthRefused("malformed")
    return value


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    # bool is an int to Python, not to a JWT.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthRefused("malformed")
    return int(value)


def _names(claims: Mapping[str, Any], uri: str) -> bool:
    """Whether the token is for ``uri``: its ``uri`` claim, or one of its ``uris`` (the
    EdDSA form some clients send). A client written for the venue (HTTPS only) strips
    ``https://`` from the URL it signs; over the simulator's plain HTTP the same client
    leaves ``http://`` in, which is taken for the same URI."""
    method, _, rest = uri.partition(" ")
    accepted = {uri, f"{method} http://{rest}"}
    named = claims.get("uri")
    if isinstance(named, str) and named in accepted:
        return True
    many = claims.get("uris")
    return isinstance(many, list) and any(isinstance(u, str) and u in accepted for u in many)


class _Key:
    """One API key's public key, loaded once."""

    __slots__ = ("account", "alg", "public")

    def __init__(self, spec: ApiKeyConfig) -> None:
        self.account = spec.account
        self.public: ec.EllipticCurvePublicKey | Ed25519PublicKey | None = None
        self.alg = ""
        if spec.public_key_pem is None:
            return
        try:
            key = load_pem_public_key(spec.public_key_pem.encode())
        except (ValueError, UnsupportedAlgorithm):
            return  # a key the run cannot use: every token for it is refused
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            self.public, self.alg = key, "ES256"
        elif isinstance(key, Ed25519PublicKey):
            self.public, self.alg = key, "EdDSA"

    def verify(self, signature: bytes, signed: bytes) -> None:
        public = self.public
        try:
            if isinstance(public, Ed25519PublicKey):
                public.verify(signature, signed)
            elif public is not None:
                if len(signature) != 64:
                    raise AuthRefused("signature")
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                public.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise AuthRefused("signature") from None


class JwtVerifier:
    """Checks CDP JWTs against the run's ``api_keys`` (key name -> public key, account)."""

    def __init__(
        self,
        api_keys: Mapping[str, ApiKeyConfig],
        *,
        leeway_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``leeway_s`` is how far in the future an ``nbf`` may lie (client clocks run a
        little ahead); ``clock`` gives Unix seconds."""
        self._keys = {name: _Key(spec) for name, spec in api_keys.items()}
        self._leeway = leeway_s
        self._clock = clock
        self._nonces: dict[tuple[str, str], int] = {}

    def verify(self, token: str, *, uri: str | None) -> Principal:
        """The principal ``token`` speaks for. ``uri`` is ``"<METHOD> <host><path>"`` of a
        REST request (the token's ``uri`` claim must equal it), None on the WebSocket.

        Raises:
            AuthRefused: the venue would refuse the token.
        """
        if not token or len(token) > _MAX_TOKEN:
            raise AuthRefused("malformed")
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthRefused("malformed")
        header, claims = _json_object(parts[0]), _json_object(parts[1])
        signature = _b64url(parts[2])
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None or key.public is None:
            raise AuthRefused("unknown_key")
        assert isinstance(kid, str)
        if header.get("alg") != key.alg:
            raise AuthRefused("algorithm")
        nonce = header.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise AuthRefused("malformed")
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        # Only a token that is what it claims to be is judged on its claims.
        if claims.get("sub") != kid:
            raise AuthRefused("key_mismatch")
        if claims.get("iss") not in ISSUERS:
            raise AuthRefused("issuer")
        nbf, exp = _int_claim(claims, "nbf"), _int_claim(claims, "exp")
        now = self._clock()
        if exp <= now:
            raise AuthRefused("expired")
        if nbf > now + self._leeway:
            raise AuthRefused("not_yet_valid")
        if exp - nbf > MAX_LIFETIME_S:
            raise AuthRefused("lifetime")
        if uri is not None and not _names(claims, uri):
            raise AuthRefused("uri")
        self._remember(kid, nonce, exp, now)
        return Principal(kid, key.account)

    def _remember(self, kid: str, nonce: str, exp: int, now: float) -> None:
        seen = self._nonces.get((kid, nonce))
        if seen is not None and seen > now:
            raise AuthRefused("replayed")
        if len(self._nonces) >= _MAX_NONCES:
            # Expired tokens are refused on their own: their nonces need no memory.
            self._nonces = {k: e for k, e in self._nonces.items() if e > now}
        self._nonces[(kid, nonce)] = exp


__all__ = ["ISSUER", "ISSUERS", "MAX_LIFETIME_S", "AuthRefused", "JwtVerifier", "Principal"]


def new_es256_key() -> tuple[str, str]:
    """A new EC P-256 key as the CDP portal gives one: ``(private key as a SEC1 "EC PRIVATE
    KEY" PEM, public key as an SPKI PEM)`` — the secret for the client, the half the
    simulator checks with (``api_keys.<name>.public_key_pem``)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, public.decode()
