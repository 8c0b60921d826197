"""A venue's API key and secret: from environment variables or from files only their owner
can read, held as :class:`Secret` values that never show themselves.

For venue ``binance`` (upper-cased in the names), each of the two comes from one of:

* ``TRADEGW_BINANCE_API_KEY`` / ``TRADEGW_BINANCE_API_SECRET``: the value itself;
* ``TRADEGW_BINANCE_API_KEY_FILE`` / ``TRADEGW_BINANCE_API_SECRET_FILE``: a file holding it
  (surrounding whitespace dropped, so a trailing newline or a PEM block is fine). A file that
  group or others may read (any of mode ``0o077``) is refused, naming the file and its mode:
  the secret has to be assumed leaked already.

Setting both forms of one is an error, as is neither. Error messages name variables and
files, never values. A :class:`Secret` renders as ``********`` through ``str``, ``repr``,
f-strings, ``%`` formatting and logging, refuses pickling, and gives its value only to
:meth:`Secret.reveal` — which signing code calls at the moment it signs.
"""

from __future__ import annotations

import hmac
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

from tradegw.errors import CredentialError

MASK: Final = "********"
"""What a secret looks like wherever it is shown."""

_MAX_FILE_BYTES: Final = 64 * 1024


class Secret:
    """A value that is never shown: ``str``, ``repr`` and formatting give :data:`MASK`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret is a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The value itself: for signing, at the moment of signing; never for logging."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        # The mask takes the format spec, so alignment in tables still works.
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # mutable-looking equality; never a dict key

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled (it would be written out in clear)")


@dataclass(frozen=True, slots=True)
class VenueCredentials:
    """One venue's key and secret, and where each came from (names, never values)."""

    venue: str
    api_key: Secret
    api_secret: Secret
    key_source: str
    """``env TRADEGW_<VENUE>_API_KEY`` or ``file <path>``."""
    secret_source: str


def env_names(venue: str) -> tuple[str, str]:
    """The two variables naming ``venue``'s key and secret (the ``_FILE`` forms add that
    suffix)."""
    prefix = f"TRADEGW_{venue.upper()}_"
    return prefix + "API_KEY", prefix + "API_SECRET"


def load_credentials(venue: str, environ: Mapping[str, str] | None = None) -> VenueCredentials:
    """``venue``'s key and secret from ``environ`` (default: the process environment).

    Raises:
        CredentialError: one is missing, given twice, or its file is unsafe or unreadable.
    """
    env = os.environ if environ is None else environ
    key_name, secret_name = env_names(venue)
    key, key_source = _one(venue, key_name, env)
    secret, secret_source = _one(venue, secret_name, env)
    return VenueCredentials(venue, key, secret, key_source, secret_source)


def _one(venue: str, name: str, env: Mapping[str, str]) -> tuple[Secret, str]:
    value = env.get(name)
    path = env.get(name + "_FILE")
    if value and path:
        raise CredentialError(f"{venue}: both {name} and {name}_FILE are set; keep one")
    if path:
        return read_secret_file(path), f"file {path}"
    if value:
        return Secret(value), f"env {name}"
    raise CredentialError(f"{venue}: no credential: set {name} or {name}_FILE")


def read_secret_file(path: str | os.PathLike[str]) -> Secret:
    """The secret a file holds, surrounding whitespace dropped.

    Raises:
        CredentialError: the file is missing or not a regular file, group or others may
            read or write it, it is empty, too large or not UTF-8 text.
    """
    p = Path(path)
    try:
        info = p.stat()
    except OSError as e:
        _fail(p, f"cannot be read: {e.strerror or type(e).__name__}")
    if not stat.S_ISREG(info.st_mode):
        _fail(p, "is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        _fail(p, f"has mode {mode:04o}, which lets group or others at it; chmod 600 {p}")
    try:
        with p.open("rb") as f:
            data = f.read(_MAX_FILE_BYTES + 1)
    except OSError as e:
        _fail(p, f"cannot be read: {e.strerror or type(e).__name__}")
    if len(data) > _MAX_FILE_BYTES:
        _fail(p, f"is larger than {_MAX_FILE_BYTES} bytes: not a key")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        _fail(p, "is not UTF-8 text")
    if not text:
        _fail(p, "is empty")
    return Secret(text)


def _fail(path: Path, why: str) -> NoReturn:
    raise CredentialError(f"credential file {path} {why}")


__all__ = [
    "MASK",
    "Secret",
    "VenueCredentials",
    "env_names",
    "load_credentials",
    "read_secret_file",
]
