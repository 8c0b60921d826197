"""The ``tradegw`` command line: exit status 2 and a readable message on a bad config, and
the ``schema`` command. (A full ``run`` is tested elsewhere.)"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import orjson
import pytest

from tests.unit._factories import book_update, exec_report, trade
from tradegw.cli import EXIT_BAD_CONFIG, EXIT_OK, main
from tradegw.schema import to_json


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dispatcher: {flush_ms: 0}\n", "field 'dispatcher.flush_ms'"),
        ("consumers: [{name: a, kind: bot}]\n", "field 'consumers[0].kind'"),
        ("venuez: {}\n", "field 'venuez'"),
        ("dispatcher: [1, 2\n", "not valid YAML at line"),
        ("- 1\n", "top level must be a mapping"),
    ],
)
def test_run_with_a_bad_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", "--config", str(path), "--no-live", "--duration", "0"]) == EXIT_BAD_CONFIG
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("tradegw: bad config: ")
    assert str(path) in err
    assert expected in err


def test_run_with_a_missing_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.yaml"
    assert main(["run", "--config", str(path)]) == EXIT_BAD_CONFIG
    err = capsys.readouterr().err
    assert str(path) in err
    assert "cannot read config" in err


def test_run_with_a_non_utf8_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"telemetry: {log_path: caf\xe9.log}\n")
    assert main(["run", "--config", str(path)]) == EXIT_BAD_CONFIG
    assert str(path) in capsys.readouterr().err


def test_schema_prints_the_event_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == EXIT_OK
    out = capsys.readouterr().out
    schema = orjson.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    names = set(schema["$defs"])
    assert {"BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker"} <= names
    assert {"KlineSummary", "ExecReport"} <= names
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for ev in (trade(seq=1), book_update(bids=[("1.0", "2")]), exec_report()):
        validator.validate(orjson.loads(to_json(ev)))


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_python_dash_m_tradegw_is_the_command_line() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "tradegw", "schema"], capture_output=True, timeout=50, check=True
    )
    assert b'"BookSnapshot"' in out.stdout
