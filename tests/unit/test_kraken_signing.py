"""Kraken's API-Sign: the worked example of protocols.md §4.2 reproduces exactly, so does
the Futures challenge cross-check of the same HMAC-SHA512 shape, and nonces only grow."""

from __future__ import annotations

import pytest

from tradegw.providers.kraken.signing import NonceSource, SigningError, api_sign

pytestmark = pytest.mark.timeout(5)

# protocols.md §4.2 (docs.kraken.com guide spot-rest-auth).
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
NONCE = "1616492376594"
PAYLOAD = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
PATH = "/0/private/AddOrder"
EXPECTED = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_the_documented_api_sign_vector_reproduces() -> None:
    assert api_sign(SECRET, PATH, NONCE, PAYLOAD) == EXPECTED
    assert api_sign(SECRET, PATH, NONCE, PAYLOAD.encode()) == EXPECTED


def test_each_part_of_the_message_counts() -> None:
    assert api_sign(SECRET, "/0/private/CancelOrder", NONCE, PAYLOAD) != EXPECTED
    assert api_sign(SECRET, PATH, "1616492376595", PAYLOAD) != EXPECTED
    assert api_sign(SECRET, PATH, NONCE, PAYLOAD.replace("1.25", "1.26")) != EXPECTED
    # The corrupted copy of the secret some public code carries does not reproduce it.
    corrupted = SECRET.replace("84Q18fWxnyRzBHCd", "84Q18fWxnyRzB3i38so/")
    assert api_sign(corrupted, PATH, NONCE, PAYLOAD) != EXPECTED


def test_the_futures_challenge_cross_check_has_the_same_shape() -> None:
    # base64(HMAC-SHA512(b64decode(secret), SHA256(challenge))): no path, no nonce.
    secret = (
        "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm"
    )
    signed = api_sign(secret, "", "", "c100b894-1729-464d-ace1-52dbce11db42")
    assert signed == (
        "4JEpF3ix66GA2B+ooK128Ift4XQVtc137N9yeg4Kqsn9PI0Kpzbysl9M1IeCEdjg0zl00wkVqcsnG4bmnlMb3A=="
    )


def test_a_secret_that_is_not_base64_is_refused_without_showing_it() -> None:
    with pytest.raises(SigningError) as caught:
        api_sign("not*base64*at*all", PATH, NONCE, PAYLOAD)
    assert "not*base64" not in str(caught.value)


def test_nonces_grow_even_when_the_clock_stands_still_or_goes_back() -> None:
    now = [1_000_000]
    nonces = NonceSource(lambda: now[0])
    first = nonces.next()
    assert first == 1_000_000
    assert nonces.next() == 1_000_001
    now[0] = 5
    assert nonces.next() == 1_000_002
    nonces.skip(1_000)
    assert nonces.next() == 1_001_003
    now[0] = 9_000_000
    assert nonces.next() == 9_000_000
