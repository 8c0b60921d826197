"""Binance signing: the worked examples of protocols.md section 4.1 (the venue's own REST and
WebSocket API examples) reproduce exactly, and the signed requests are built the documented
way."""

from __future__ import annotations

import pytest

from tradegw.orders.credentials import MASK, Secret
from tradegw.providers.binance.signing import (
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
