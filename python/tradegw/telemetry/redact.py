"""Credentials never leave the process through logs, the DLQ or the run summary.

A venue URL may carry credentials: user-info (``wss://user:pass@host``) or a token-like query
or fragment parameter (``?listenKey=...``, ``#access_token=...``). Everything written for an
operator passes through :func:`redact`, which replaces those values with ``***``.

Secret parameter names: a ``name=value`` (or ``name%3Dvalue`` in a percent-encoded URL nested
in another) is secret when the name, compared case-insensitively, *ends with* one of
:data:`SECRET_PARAM_WORDS` — so ``api_key``, ``apiKey``, ``listenKey``, ``X-Amz-Signature``,
``access_token`` and ``client_secret`` are all covered. It is redacted wherever it stands: in
a query, in a fragment, or as a bare word in free text (an exception message quoting
``listenKey=...``). Over-redacting a harmless ``monkey=banana`` is the accepted price.

Not covered (no reliable way to tell a secret from data in free text): credentials in a URL
*path* (Binance's user-data stream ``/ws/<listenKey>``), percent-encoded user-info of a URL
nested inside another URL, ``Authorization`` headers and JSON fields (``"token": "..."``).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "MASK",
    "SECRET_PARAM_WORDS",
    "redact",
    "redact_prefix",
    "redact_strings",
    "redact_url",
]

MASK = "***"

_T = TypeVar("_T")

SECRET_PARAM_WORDS: tuple[str, ...] = (
    "token",
    "key",
    "secret",
    "signature",
    "sig",
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "jwt",
    "session",
)
"""A parameter whose name ends with one of these (any case) has its value redacted."""

# The value of a parameter is redacted when the text just before its "=" (or "%3D") ends
# with one of these, whatever precedes them: "apiKey", "X-Amz-Signature", "auth[token]".
_SECRET_TAILS = tuple(SECRET_PARAM_WORDS) + tuple(w + "]" for w in SECRET_PARAM_WORDS)
_TAIL_CHARS = max(map(len, _SECRET_TAILS))
# Scanning for the "=" and then looking back at a few characters costs next to nothing per
# character of text; a regex that matched the name itself had to try every word at every
# position and made an ordinary log line seven times dearer to format.
_EQUALS = re.compile(r"=|%3[dD]")
# A value runs to the next "&" (next parameter), "#" (fragment), whitespace, or a character
# that cannot stand unencoded in a URL ('"', "<", ">"). Quotes and parentheses are kept in the
# value on purpose: a password may contain them, and a mangled repr is better than a leak.
_PLAIN_VALUE = re.compile(r"[^&#\s\"<>]+")
# After "%3D" the parameter sits in a percent-encoded URL nested in another one, where an
# encoded "&" or "#" ends it too ("%26" inside a value directly after "=" is part of it).
_ENCODED_VALUE = re.compile(r"(?:[^&#\s\"<>%]|%(?!26|23))+")
# A parameter name as a whole, for redact_url's parsed query.
_SECRET_NAME = re.compile(r"[\w.\-\[]*(?:" + "|".join(SECRET_PARAM_WORDS) + r")\]?", re.IGNORECASE)
# User-info: from "://" to the last "@" before the authority ends. Anchored on the literal
# "://" (not on the scheme) so that a long run of letters is never rescanned from each start.
# Greedy, so a password containing a raw "@" is masked whole.
_USERINFO = re.compile(r"://[^/?#\s\"<>]+@")
_AUTHORITY_END = re.compile(r"[/?#\s\"<>]")


def redact(text: str) -> str:
    """``text`` with URL credentials and secret parameter values replaced by ``***``.

    Idempotent, and cheap on text with nothing to redact (a substring check before any
    regex runs); linear in the length of ``text``.
    """
    if "@" in text and "://" in text:
        text = _USERINFO.sub("://" + MASK + "@", text)
    if "=" in text or "%3D" in text or "%3d" in text:
        text = _redact_params(text)
    return text


def _redact_params(text: str) -> str:
    parts: list[str] = []
    pos = 0
    for eq in _EQUALS.finditer(text):
        at = eq.start()
        if at < pos:  # inside a value already masked ("sig=YWJj==")
            continue
        if not text[max(0, at - _TAIL_CHARS) : at].lower().endswith(_SECRET_TAILS):
            continue
        value = (_PLAIN_VALUE if eq.group() == "=" else _ENCODED_VALUE).match(text, eq.end())
        if value is None:
            continue
        parts += (text[pos : eq.end()], MASK)
        pos = value.end()
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def redact_prefix(text: str, max_chars: int) -> str:
    """At most the first ``max_chars`` characters of ``text``, redacted.

    Cutting first keeps the cost bounded for megabyte-long text, and it is safe: a cut inside
    a parameter value still leaves ``name=`` in front of what remains, and a cut inside a
    URL's authority, before the "@" that identifies user-info, masks that authority whole.
    Redacting the whole text first would also be safe but costs time in proportion to it.
    """
    if len(text) <= max_chars:
        out = redact(text)
    else:
        head = text[:max_chars]
        start = head.rfind("://")
        if start >= 0 and _AUTHORITY_END.search(head, start + 3) is None:
            head = head[: start + 3] + MASK
        out = redact(head)
    # A mask longer than what it hides may push the text past the bound; cutting after
    # redaction can only shorten a mask, never reveal anything.
    return out[:max_chars]


def redact_url(url: str) -> str:
    """``url`` with its user-info and secret query and fragment values replaced by ``***``.

    For a string known to be one URL: parsed, so it knows where each part ends even when a
    password holds characters that end a URL in free text.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host: fall back to the free-text rules
        return redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    query, fragment = _redact_pairs(parts.query), _redact_pairs(parts.fragment)
    out = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    # Also catches what a URL nested in a parameter value carries.
    return redact(out)


def _redact_pairs(query: str) -> str:
    if "=" not in query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _SECRET_NAME.fullmatch(name):
            pair = name + "=" + MASK
        pairs.append(pair)
    return "&".join(pairs)


def redact_strings(value: _T) -> _T:
    """A copy of ``value`` (JSON-like: dicts, lists, tuples, scalars) with :func:`redact`
    applied to every string in it, keys included; other values are kept as they are."""
    return cast(_T, _redact_any(value))


def _redact_any(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redact_any(k): _redact_any(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_any(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact_any(v) for v in value)
    return value
