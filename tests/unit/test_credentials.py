"""Venue credentials: from the environment or owner-only files, and a Secret that no
rendering, log line, error or serialisation ever shows."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import pickle
import traceback
from pathlib import Path

import orjson
import pytest

from tradegw.errors import CredentialError
from tradegw.orders.credentials import (
    MASK,
    Secret,
    VenueCredentials,
    env_names,
    load_credentials,
    read_secret_file,
)

pytestmark = pytest.mark.timeout(10)

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def creds() -> VenueCredentials:
    return load_credentials(
        "binance", {"TRADEGW_BINANCE_API_KEY": KEY, "TRADEGW_BINANCE_API_SECRET": SECRET}
    )


def renderings(value: object) -> list[str]:
    """``value`` shown every way Python code commonly shows things."""
    out = [
        str(value),
        repr(value),
        f"{value}",
        f"{value!r}",
        f"{value!s}",
        f"{value!a}",
        "%s" % (value,),  # noqa: UP031 - the old way is the point
        "%r" % (value,),  # noqa: UP031
        "{}".format(value),  # noqa: UP032
        str([value]),
        repr({"v": value}),
        str((value,)),
    ]
    try:
        out.append(f"{value:>40}")
    except TypeError as e:  # objects without a __format__ of their own refuse a spec
        out.append(str(e))
    try:
        out.append(json.dumps(value))
    except TypeError as e:
        out.append(str(e))
    try:
        out.append(orjson.dumps(value).decode())
    except TypeError as e:
        out.append(str(e))
    return out


def test_a_secret_never_shows_itself() -> None:
    c = creds()
    for value in (c.api_key, c.api_secret, c, dataclasses.asdict(c), copy.deepcopy(c)):
        for text in renderings(value):
            assert KEY not in text
            assert SECRET not in text
    assert str(c.api_secret) == MASK
    assert f"[{c.api_secret:>10}]" == f"[  {MASK}]"
    assert c.api_key.reveal() == KEY
    assert c.api_secret.reveal() == SECRET
    assert (c.key_source, c.secret_source) == (
        "env TRADEGW_BINANCE_API_KEY",
        "env TRADEGW_BINANCE_API_SECRET",
    )


def test_logging_and_tracebacks_show_only_the_mask(caplog: pytest.LogCaptureFixture) -> None:
    c = creds()
    log = logging.getLogger("tradegw.test.secrets")
    with caplog.at_level(logging.DEBUG, logger="tradegw.test.secrets"):
        log.info("key %s secret %r creds %s", c.api_key, c.api_secret, c)
        log.info(c.api_secret)
        log.info("extra", extra={"secret": c.api_secret})
        try:
            raise ValueError(c.api_secret, c)
        except ValueError:
            log.exception("failed with %s", c)
            text = traceback.format_exc()
    shown = caplog.text + text + "".join(str(r.__dict__) for r in caplog.records)
    assert MASK in shown
    assert KEY not in shown
    assert SECRET not in shown


def test_a_secret_cannot_be_pickled_or_used_as_a_key() -> None:
    s = Secret(SECRET)
    with pytest.raises(TypeError, match="cannot be pickled") as e:
        pickle.dumps(s)
    assert SECRET not in str(e.value)
    with pytest.raises(TypeError):
        {s: 1}  # noqa: B018
    assert copy.copy(s) is s
    assert s == Secret(SECRET)
    assert s != Secret(KEY)
    with pytest.raises(TypeError):
        vars(s)
    with pytest.raises(ValueError, match="non-empty"):
        Secret("")


def test_files_readable_by_group_or_others_are_refused_naming_file_and_mode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "binance.secret"
    path.write_text(SECRET + "\n")
    for mode in (0o644, 0o640, 0o604, 0o660, 0o602):
        path.chmod(mode)
        with pytest.raises(CredentialError) as e:
            read_secret_file(path)
        message = str(e.value)
        assert str(path) in message
        assert f"{mode:04o}" in message
        assert SECRET not in message
    path.chmod(0o600)
    assert read_secret_file(path).reveal() == SECRET
    path.chmod(0o400)
    assert read_secret_file(path).reveal() == SECRET


def test_credentials_from_files(tmp_path: Path) -> None:
    key_file, secret_file = tmp_path / "key", tmp_path / "secret"
    pem = "-----BEGIN EC PRIVATE KEY-----\nabc\ndef\n-----END EC PRIVATE KEY-----"
    for path, text in ((key_file, KEY), (secret_file, f"\n{pem}\n\n")):
        path.write_text(text)
        path.chmod(0o600)
    key_name, secret_name = env_names("coinbase")
    c = load_credentials(
        "coinbase", {key_name + "_FILE": str(key_file), secret_name + "_FILE": str(secret_file)}
    )
    assert c.api_key.reveal() == KEY
    assert c.api_secret.reveal() == pem
    assert c.secret_source == f"file {secret_file}"


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({}, "no credential: set TRADEGW_KRAKEN_API_KEY or TRADEGW_KRAKEN_API_KEY_FILE"),
        ({"TRADEGW_KRAKEN_API_KEY": KEY}, "set TRADEGW_KRAKEN_API_SECRET or"),
        (
            {"TRADEGW_KRAKEN_API_KEY": KEY, "TRADEGW_KRAKEN_API_KEY_FILE": "/x"},
            "both TRADEGW_KRAKEN_API_KEY and TRADEGW_KRAKEN_API_KEY_FILE",
        ),
        ({"TRADEGW_KRAKEN_API_KEY_FILE": "/nonexistent/key"}, "/nonexistent/key cannot be read"),
    ],
)
def test_missing_or_ambiguous_credentials_say_what_to_set(
    environ: dict[str, str], words: str
) -> None:
    with pytest.raises(CredentialError, match=words) as e:
        load_credentials("kraken", environ)
    assert KEY not in str(e.value)


@pytest.mark.parametrize("content", [b"", b"  \n", b"\xff\xfe", b"x" * 70_000])
def test_unusable_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(CredentialError, match=str(path)):
        read_secret_file(path)


def test_a_directory_is_not_a_credential_file(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    with pytest.raises(CredentialError, match="not a regular file"):
        read_secret_file(tmp_path)
