"""Binance signing: the worked examples of protocols.md section 4.1 (the venue's own REST and
WebSocket API examples) reproduce exactly, and the signed requests are built the documented
way; Ed25519 signatures (no published vector: the docs keep their private key) are base64
of 64 bytes that verify with the public key over the same payloads, and a changed payload
does not."""

from __future__ import annotations

import base64
from urllib.parse import unquote

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from tradegw.errors import CredentialError
from tradegw.orders.credentials import MASK, Secret
from tradegw.providers.binance.signing import (
    RequestSigner,
    ed25519_signature,
    hmac_signature,
    rest_query,
    sign_ws_api,
    signed_rest_query,
    ws_api_payload,
)

pytestmark = pytest.mark.timeout(10)

API_KEY = Secret("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
SECRET = Secret("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
FULLWIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16"
"""The docs' non-ASCII symbol: six fullwidth digits, one to six."""


def test_the_rest_vectors_reproduce() -> None:
    params = {
        "symbol": "LTCBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "1",
        "price": "0.1",
        "recvWindow": 5000,
        "timestamp": 1499827319559,
    }
    query = rest_query(params)
    assert query == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert hmac_signature(SECRET, query) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    # Non-ASCII is percent-encoded before signing.
    query = rest_query({**params, "symbol": FULLWIDTH})
    assert query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert hmac_signature(SECRET, query) == (
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )


def test_signed_rest_query_appends_timestamp_then_the_signature_over_the_rest() -> None:
    query = signed_rest_query(
        {
            "symbol": "LTCBTC",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "1",
            "price": "0.1",
        },
        secret=SECRET,
        timestamp_ms=1499827319559,
        recv_window_ms=5000,
    )
    assert query == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
        "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_the_ws_api_vectors_reproduce() -> None:
    ascii_params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
    }
    signed = sign_ws_api(
        ascii_params,
        api_key=API_KEY,
        secret=SECRET,
        timestamp_ms=1645423376532,
        recv_window_ms=100,
    )
    assert ws_api_payload(signed) == (
        "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
        "&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
        "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert signed["signature"] == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )
    assert signed["apiKey"] == API_KEY.reveal()
    assert (signed["timestamp"], signed["recvWindow"]) == (1645423376532, 100)
    # UTF-8, not percent-encoded.
    utf8 = sign_ws_api(
        {
            **ascii_params,
            "symbol": FULLWIDTH,
            "side": "BUY",
            "quantity": "1.00000000",
            "price": "0.10000000",
        },
        api_key=API_KEY,
        secret=SECRET,
        timestamp_ms=1645423376532,
        recv_window_ms=5000,
    )
    assert f"&symbol={FULLWIDTH}&" in ws_api_payload(utf8)
    assert utf8["signature"] == "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"


def test_the_ws_payload_sorts_and_leaves_the_signature_out() -> None:
    payload = ws_api_payload({"b": "2", "signature": "zz", "a": 1, "c": True, "d": False})
    assert payload == "a=1&b=2&c=true&d=false"


def test_secrets_stay_masked() -> None:
    assert str(SECRET) == MASK
    assert SECRET.reveal() not in repr(SECRET)


ED_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ED_PEM = ED_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
ED_API_KEY = Secret("4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO")
"""The docs' Ed25519 example key name (its private key is not published)."""


def test_an_ed25519_signature_is_base64_of_64_bytes_that_verifies_with_the_public_key() -> None:
    payload = (
        "apiKey=4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO&price=52000.00"
        "&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
        "&timestamp=1645423376532&type=LIMIT"
    )
    signature = ed25519_signature(Secret(ED_PEM), payload)
    raw = base64.b64decode(signature, validate=True)
    assert len(raw) == 64
    assert len(signature) == 88
    ED_KEY.public_key().verify(raw, payload.encode())
    assert ed25519_signature(Secret(ED_PEM), payload) == signature  # Ed25519 is deterministic
    with pytest.raises(InvalidSignature):
        ED_KEY.public_key().verify(raw, payload.replace("52000.00", "52000.01").encode())
    # UTF-8 payloads are signed as their bytes (the docs' second example).
    utf8 = payload.replace("BTCUSDT", FULLWIDTH)
    ED_KEY.public_key().verify(
        base64.b64decode(ed25519_signature(Secret(ED_PEM), utf8)), utf8.encode()
    )


def test_ws_api_and_rest_requests_signed_ed25519() -> None:
    signer = RequestSigner("ed25519", Secret(ED_PEM))
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.01"}
    signed = sign_ws_api(
        params, api_key=ED_API_KEY, secret=signer, timestamp_ms=1645423376532, recv_window_ms=100
    )
    assert isinstance(signed["signature"], str)
    ED_KEY.public_key().verify(
        base64.b64decode(signed["signature"]), ws_api_payload(signed).encode()
    )
    query = signed_rest_query(params, secret=signer, timestamp_ms=1499827319559)
    unsigned, _, signature = query.partition("&signature=")
    assert unsigned == rest_query({**params, "timestamp": 1499827319559})
    # Percent-encoded where it joins the query: base64's "+", "/" and "=" are not left bare.
    assert signature.endswith("%3D%3D")
    assert not {"+", "/", "="} & set(signature)
    ED_KEY.public_key().verify(base64.b64decode(unquote(signature)), unsigned.encode())
    # An HMAC signer signs the same payloads as before (hex, nothing to encode).
    hmac_query = signed_rest_query(
        params, secret=RequestSigner("hmac", SECRET), timestamp_ms=1499827319559
    )
    assert hmac_query.rpartition("=")[2] == hmac_signature(SECRET, unsigned)


def test_a_key_not_of_its_type_is_refused_naming_where_it_came_from_not_its_value() -> None:
    source = "env TRADEGW_BINANCE_API_SECRET"
    with pytest.raises(CredentialError, match="key_type is hmac: set key_type: ed25519") as e:
        RequestSigner("hmac", Secret(ED_PEM), source=source)
    assert source in str(e.value)
    with pytest.raises(CredentialError, match="is not a PEM block") as e:
        RequestSigner("ed25519", SECRET, source=source)
    assert SECRET.reveal() not in str(e.value)
    assert source in str(e.value)
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )
    with pytest.raises(CredentialError, match="not an Ed25519 private key"):
        RequestSigner("ed25519", Secret(ec_pem), source=source)
    broken = ED_PEM.replace(ED_PEM.splitlines()[1], "AAAA" + ED_PEM.splitlines()[1][4:])
    with pytest.raises(CredentialError, match="does not load") as e:
        RequestSigner("ed25519", Secret(broken), source=source)
    assert ED_PEM.splitlines()[1][4:] not in str(e.value)
    # A PEM given with literal backslash-n pairs (one env var line) loads all the same.
    one_line = RequestSigner("ed25519", Secret(ED_PEM.replace("\n", "\\n")))
    assert one_line.sign("a=1") == RequestSigner("ed25519", Secret(ED_PEM)).sign("a=1")
    assert repr(one_line) == f"RequestSigner(key_type='ed25519', key={MASK!r})"
