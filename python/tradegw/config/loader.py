"""Reading a config file into a validated :class:`GatewayConfig`."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from tradegw import safe_yaml
from tradegw.config.models import GatewayConfig
from tradegw.errors import ConfigError
from tradegw.problems import field_path, one_line, problem_lines

Role = Literal["gateway", "merge"]
"""What ``tradegw run`` runs: a gateway (venues, books, orders) or the merge role."""

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")
"""The embedded default: the three venue simulators and three demo consumers, no network."""


MAX_CONFIG_BYTES = 1024 * 1024
"""Largest config file read. The embedded default is 4 KiB; what a file may hold is bounded
by :data:`tradegw.safe_yaml.MAX_NODES` values, and this cap bounds the rest (comments,
long strings) before any of it is parsed."""

MAX_PROBLEMS = 20
"""Validation problems listed one per line; the rest are counted in one more line."""


def _read_text(p: Path) -> str:
    """The file's text, refusing more than ``MAX_CONFIG_BYTES`` before reading it all."""
    try:
        st = p.stat()
        # A regular file says its size up front; a pipe or device says 0, so the read
        # below is bounded too, and also covers a file that grew since the stat.
        if stat.S_ISREG(st.st_mode) and st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{p}: config file too large: {st.st_size} bytes, "
                f"the limit is {MAX_CONFIG_BYTES} bytes"
            )
        with p.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e}") from e
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{p}: config file too large: more than {MAX_CONFIG_BYTES} bytes, "
            f"the limit is {MAX_CONFIG_BYTES} bytes"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text (byte {e.start}): {e.reason}") from e


def _at(line: int | None, column: int | None) -> str:
    return f" at line {line}, column {column}" if line is not None else ""


def _parse(p: Path, text: str) -> Any:
    """The YAML data of ``text``; every way it can fail is one ConfigError line."""
    try:
        return safe_yaml.parse(text)
    except safe_yaml.YamlRefused as e:
        field = f"field '{field_path(e.path)}': " if e.path else ""
        raise ConfigError(one_line(f"{p}: {field}{e.problem}{_at(e.line, e.column)}")) from e
    except yaml.reader.ReaderError as e:
        # Its position counts bytes under libyaml and characters otherwise; the character
        # itself is exact, and the first one in the text is the one the reader stopped at.
        at = text.find(chr(e.character)) if isinstance(e.character, int) else -1
        line = text.count("\n", 0, at) + 1 if at >= 0 else None
        column = at - text.rfind("\n", 0, at) if at >= 0 else None
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        problem = f"unacceptable character {char}: {e.reason}"
        raise ConfigError(one_line(f"{p}: not valid YAML{_at(line, column)}: {problem}")) from e
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        # The context says what was being read ("while parsing a flow sequence"), the
        # problem what went wrong there; either may be missing.
        problem = ", ".join(part for part in (e.context, e.problem) if part) or type(e).__name__
        raise ConfigError(one_line(f"{p}: not valid YAML{_at(line, column)}: {problem}")) from e
    except yaml.YAMLError as e:
        raise ConfigError(one_line(f"{p}: not valid YAML: {e}")) from e
    except RecursionError as e:  # the depth bound should come first; this is the backstop
        raise ConfigError(f"{p}: not valid YAML: nested too deeply") from e


def _validate(p: Path, raw: dict[Any, Any], role: Role) -> GatewayConfig:
    try:
        return GatewayConfig.model_validate(raw, context={"role": role})
    except ValidationError as e:
        lines = [f"{p}: {line}" for line in problem_lines(e, MAX_PROBLEMS)]
        raise ConfigError("\n".join(lines)) from e
    except RecursionError as e:  # the YAML depth bound should prevent it; the backstop
        raise ConfigError(f"{p}: nested too deeply to validate") from e


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    demo_strategy: bool = False,
    role: Role = "gateway",
) -> GatewayConfig:
    """Loads and validates a YAML config (the embedded default when ``path`` is None);
    ``demo_strategy`` turns its demo strategy on (``tradegw run --demo-strategy``), as
    ``demo_strategy: {enabled: true}`` in the file would. ``role="merge"`` reads it for
    ``tradegw run --role merge``: its merges' venues come over NATS, so they need no
    enabled section, and ``sinks.nats`` must be on.

    Whatever the file holds, the outcome is a config or a ConfigError, soon: the file is
    capped at ``MAX_CONFIG_BYTES``, the YAML is read by :mod:`tradegw.safe_yaml`
    (no alias explosion, bounded nesting and integers, plain data only) and every number is
    checked against its field's bounds (finite floats only).

    Raises:
        ConfigError: the file is missing, unreadable, too large, not YAML or invalid; the
            message names the file, the field (when there is one) and the reason, one
            problem per line.
    """
    p = Path(path) if path is not None else DEFAULT_CONFIG
    raw = _parse(p, _read_text(p))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: the top level must be a mapping, got {type(raw).__name__}")
    if demo_strategy:
        section = raw.setdefault("demo_strategy", {})
        if isinstance(section, dict):  # anything else is refused, naming the field
            section["enabled"] = True
    return _validate(p, raw, role)
