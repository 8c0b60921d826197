"""Redaction of credentials in URLs and free text: user-info, every secret parameter name in
any case, encoded values, nested URLs, cuts at any position, and text that must be left
alone."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradegw.telemetry.redact import (
    SECRET_PARAM_WORDS,
    redact,
    redact_prefix,
    redact_strings,
    redact_url,
)

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cr3tV4lue"

# Names as venues and cloud services spell them: the words themselves and names ending in them.
NAMES = [
    *SECRET_PARAM_WORDS,
    "apikey",
    "api_key",
    "apiKey",
    "api-key",
    "access_token",
    "listenKey",
    "client_secret",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "auth[token]",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wss://user:pass@host/ws", "wss://***@host/ws"),
        ("wss://user@host:9443/ws", "wss://***@host:9443/ws"),
        ("https://user:p@ss@host/x", "https://***@host/x"),  # raw "@" in the password
        ("http://u:p@127.0.0.1:1", "http://***@127.0.0.1:1"),
        ("connect to ws://a:b@h/x failed", "connect to ws://***@h/x failed"),
        ("url='http://u:p@h/x'", "url='http://***@h/x'"),
        ("two ws://a:b@h1/ and wss://c:d@h2/", "two ws://***@h1/ and wss://***@h2/"),
    ],
)
def test_user_info_is_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("name", NAMES)
def test_each_secret_parameter_name_is_masked(name: str) -> None:
    for shown in (name, name.upper(), name.lower(), name.swapcase()):
        assert redact(f"wss://h/ws?{shown}={SECRET}") == f"wss://h/ws?{shown}=***"
        assert redact(f"wss://h/ws?a=1&{shown}={SECRET}&b=2") == f"wss://h/ws?a=1&{shown}=***&b=2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # URL-encoded values: "%26" after a plain "=" is part of the value.
        (f"wss://h/?token={SECRET}%26more%3D1&x=1", "wss://h/?token=***&x=1"),
        (f"wss://h/?token={quote('a b&c=d/é', safe='')}", "wss://h/?token=***"),
        # Several parameters at once.
        ("wss://h/?key=a&x=1&signature=b&sig=c", "wss://h/?key=***&x=1&signature=***&sig=***"),
        # Fragments: the value stops at "#", and a fragment can itself carry a token.
        (f"https://h/cb?token={SECRET}#section", "https://h/cb?token=***#section"),
        (f"https://h/cb#access_token={SECRET}&state=1", "https://h/cb#access_token=***&state=1"),
        # Base64 padding inside a value.
        ("https://h/?sig=YWJjZA==&x=1", "https://h/?sig=***&x=1"),
        # Free text quoting a parameter, and a URL ending at a quote or bracket.
        (f"invalid listenKey={SECRET} (code -1125)", "invalid listenKey=*** (code -1125)"),
        (f'{{"url": "wss://h/?token={SECRET}"}}', '{"url": "wss://h/?token=***"}'),
        (f"<wss://h/?token={SECRET}>", "<wss://h/?token=***>"),
        # A URL nested in another: its parameters are percent-encoded.
        (
            f"https://h/?next=https%3A%2F%2Fx%2F%3Ftoken%3D{SECRET}%26a%3D1",
            "https://h/?next=https%3A%2F%2Fx%2F%3Ftoken%3D***%26a%3D1",
        ),
        # Both forms in one URL.
        (f"wss://u:{SECRET}@h/?apiKey={SECRET}", "wss://***@h/?apiKey=***"),
    ],
)
def test_secret_forms(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "binance: resync BTCUSDT (gap) trace_id=0f3a",
        "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/ethusdt@trade",
        "ws://127.0.0.1:8765/v2?symbol=BTC/USD&depth=10",
        "dead letter: malformed from kraken (ValueError: bad price '1e5')",
        "mail ops@example.com about ws://127.0.0.1:1",
        "a = b, key: value, token",  # no "=" straight after a secret name
        "checksum=123 limit=1000 product_ids=BTC-USD",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    text = f"wss://u:{SECRET}@h/?token={SECRET}&x=1 listenKey={SECRET}"
    once = redact(text)
    assert redact(once) == once
    assert SECRET not in once


def test_redact_url_knows_where_a_url_ends() -> None:
    # Characters that end a URL in free text cannot hide the rest of a known URL's password.
    url = 'wss://user:p"a ss@host:443/ws?token=a b&depth=10#sig=zz'
    out = redact_url(url)
    assert out == "wss://***@host:443/ws?token=***&depth=10#sig=***"
    assert redact_url("ws://127.0.0.1:8765/v2") == "ws://127.0.0.1:8765/v2"
    assert redact_url("sim") == "sim"
    assert "s3" not in redact_url("http://[::1/?token=s3")  # not parseable: free-text rules


@pytest.mark.parametrize(
    "text",
    [
        f"connect to wss://user:{SECRET}@host/ws failed",
        f"connect to wss://user:{SECRET}@@host/ws failed",
        f"connect to wss://h/ws?token={SECRET} failed",
        f"connect to wss://h/ws?x=1&api_key={SECRET}&y=2",
        f"x=1 listenKey={SECRET} y=2",
    ],
)
def test_a_cut_anywhere_leaves_no_part_of_a_secret(text: str) -> None:
    for n in range(len(text) + 2):
        out = redact_prefix(text, n)
        assert len(out) <= n
        assert SECRET[:3] not in out, (n, out)


def test_redact_strings_walks_json_like_values() -> None:
    summary = {
        "venues": {"kraken": {"url": f"ws://u:{SECRET}@h/", "dlq": 3, "ok": True}},
        "notes": [f"?token={SECRET}", None, 1.5, (f"key={SECRET}",)],
        f"wss://u:{SECRET}@h/": "a key too",
    }
    out = redact_strings(summary)
    assert SECRET not in repr(out)
    assert out["venues"]["kraken"] == {"url": "ws://***@h/", "dlq": 3, "ok": True}
    assert out["notes"] == ["?token=***", None, 1.5, ("key=***",)]
    assert summary["venues"]["kraken"]["url"] == f"ws://u:{SECRET}@h/"  # a copy


def test_megabyte_text_is_linear() -> None:
    # Long runs of the characters the patterns look for must not be rescanned per position.
    for text in ("a" * 1_000_000, "=" * 100_000, "://" * 300_000 + "@", "token" * 200_000):
        redact(text + "=x")


# ---- properties ----

# Any text as a secret, percent-encoded as it would be in a URL; and raw secrets made of the
# characters a URL allows unencoded in that place.
encoded_secrets = st.text(min_size=6, max_size=40).map(lambda s: quote(s, safe=""))
raw_query_secrets = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$'()*+,;=:@/?%", min_size=6, max_size=40
)
raw_userinfo_secrets = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$'()*+,;=:@%", min_size=6, max_size=40
)
names = st.sampled_from(NAMES).flatmap(
    lambda n: st.lists(st.booleans(), min_size=len(n), max_size=len(n)).map(
        lambda ups: "".join(c.upper() if u else c.lower() for c, u in zip(n, ups, strict=True))
    )
)
surroundings = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


def _template(user: str, name: str, param: str, before: str, after: str) -> str:
    return f"{before} connect to wss://user:{user}@example.com/ws?a=1&{name}={param}#frag {after}"


@settings(max_examples=400, deadline=None)
@given(
    secret=st.one_of(encoded_secrets, raw_query_secrets),
    user_secret=st.one_of(encoded_secrets, raw_userinfo_secrets),
    name=names,
    before=surroundings,
    after=surroundings,
)
def test_no_embedded_secret_survives(
    secret: str, user_secret: str, name: str, before: str, after: str
) -> None:
    text = _template(user_secret, name, secret, before, after)
    out = redact(text)
    # Only a secret that was not in the rest of the text to begin with can be looked for.
    rest = _template("", name, "", before, after)
    if secret not in rest:
        assert secret not in out
    if user_secret not in rest:
        assert user_secret not in out
    # And the cut-aware variant, cut anywhere: no secret survives whole.
    for n in range(0, len(text) + 1, 7):
        cut = redact_prefix(text, n)
        assert len(cut) <= n
        if secret not in rest:
            assert secret not in cut
        if user_secret not in rest:
            assert user_secret not in cut
