"""Coinbase CDP JWTs (protocols.md section 4.7): there is no fixed vector (ES256 is
randomized), so tokens are signed with generated keys and verified with the public key —
by PyJWT and by the simulator's own verifier — and every header field and claim is
checked."""

from __future__ import annotations

import base64
import logging
import pickle
import time

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.coinbase_trading import KEY_NAME, CdpKey, ed25519_key, es256_key
from tradegw.errors import CredentialError
from tradegw.orders.credentials import Secret
from tradegw.providers.coinbase.signing import CdpSigner, jwt_host
from tradegw.sim.coinbase.auth import AuthRefused, JwtVerifier

pytestmark = pytest.mark.timeout(10)

URI = "POST api.coinbase.com/api/v3/brokerage/orders"


def _decode(key: CdpKey, token: str) -> tuple[dict[str, object], dict[str, object]]:
    public = load_pem_public_key(key.public_pem.encode())
    claims = jwt.decode(
        token,
        public,  # type: ignore[arg-type]
        algorithms=[key.algorithm],
        options={"verify_exp": False, "verify_nbf": False},
    )
    return jwt.get_unverified_header(token), claims


@pytest.mark.parametrize(
    "make",
    [es256_key, ed25519_key, lambda: ed25519_key(as_base64=False)],
    ids=["es256-pem", "ed25519-base64", "ed25519-pem"],
)
def test_a_rest_token_carries_every_field_and_verifies_with_the_public_key(make: object) -> None:
    key: CdpKey = make()  # type: ignore[operator]
    signer = key.signer(clock=lambda: 1_700_000_000.4)
    token = signer.rest_jwt("post", "api.coinbase.com", "/api/v3/brokerage/orders")
    header, claims = _decode(key, token)
    assert header["alg"] == key.algorithm == signer.algorithm
    assert header["kid"] == KEY_NAME
    nonce = header["nonce"]
    assert isinstance(nonce, str)
    assert len(nonce) == 32
    int(nonce, 16)
    assert claims == {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": 1_700_000_000,
        "exp": 1_700_000_120,
        "uri": URI,
    }
    # The signature is what is checked: another key's public half refuses it.
    other = make()  # type: ignore[operator]
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(other, token)


def test_the_simulator_verifies_what_the_gateway_signs_and_refuses_the_rest() -> None:
    key = es256_key()
    now = time.time()
    verifier = JwtVerifier({key.name: key.api_key()}, clock=lambda: now)
    signer = key.signer()
    host = "127.0.0.1:8443"
    principal = verifier.verify(
        signer.rest_jwt("POST", host, "/api/v3/brokerage/orders"),
        uri=f"POST {host}/api/v3/brokerage/orders",
    )
    assert (principal.key_name, principal.account) == (KEY_NAME, "gateway")
    assert verifier.verify(signer.ws_jwt(), uri=None).account == "gateway"
    with pytest.raises(AuthRefused) as refused:
        verifier.verify(
            signer.rest_jwt("POST", host, "/api/v3/brokerage/orders/batch_cancel"),
            uri=f"POST {host}/api/v3/brokerage/orders",
        )
    assert refused.value.reason == "uri"
    stale = key.signer(clock=lambda: now - 121)
    with pytest.raises(AuthRefused) as refused:
        verifier.verify(stale.ws_jwt(), uri=None)
    assert refused.value.reason == "expired"
    stranger = es256_key()
    with pytest.raises(AuthRefused) as refused:
        verifier.verify(stranger.signer().ws_jwt(), uri=None)
    assert refused.value.reason == "signature"


def test_tokens_are_fresh_every_time() -> None:
    signer = es256_key().signer(clock=lambda: 1_700_000_000.0)
    tokens = {signer.rest_jwt("GET", "h", "/p") for _ in range(20)}
    assert len(tokens) == 20
    nonces = {jwt.get_unverified_header(t)["nonce"] for t in tokens}
    assert len(nonces) == 20


def test_a_websocket_token_has_no_uri_and_a_shorter_lifetime_is_kept() -> None:
    key = ed25519_key()
    signer = key.signer(lifetime_s=30, clock=lambda: 1_700_000_000.0)
    _, claims = _decode(key, signer.ws_jwt())
    assert "uri" not in claims
    assert claims["exp"] == claims["nbf"] + 30  # type: ignore[operator]
    assert signer.lifetime_s == 30
    with pytest.raises(ValueError, match="1-120"):
        key.signer(lifetime_s=121)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.coinbase.com", "api.coinbase.com"),
        ("https://api.coinbase.com:443/", "api.coinbase.com"),
        ("http://127.0.0.1:8443", "127.0.0.1:8443"),
        ("https://example.test:9443/base", "example.test:9443"),
    ],
)
def test_the_uri_host_is_the_host_called(url: str, host: str) -> None:
    assert jwt_host(url) == host


def test_bad_secrets_are_refused_without_showing_them(caplog: pytest.LogCaptureFixture) -> None:
    secret_text = (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI-not-a-key\n-----END EC PRIVATE KEY-----"
    )
    for text in (secret_text, "%%% not base64 %%%", base64.b64encode(b"x" * 40).decode()):
        with pytest.raises(CredentialError) as refused:
            CdpSigner(Secret(KEY_NAME), Secret(text))
        assert text not in str(refused.value)
        assert "MHcCAQ" not in str(refused.value)


def test_a_signer_never_shows_its_key() -> None:
    key = es256_key()
    signer = key.signer()
    for shown in (repr(signer), str(signer), f"{signer!r}"):
        assert key.name not in shown
        assert key.secret not in shown
        assert "********" in shown
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    logging.getLogger("tradegw.test").info("signer %s", signer)
