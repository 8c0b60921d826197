"""Reading a config file into a validated :class:`GatewayConfig`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tradegw.config.models import GatewayConfig
from tradegw.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")
"""The embedded default: the Kraken simulator and three demo consumers, no network."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_config(path: str | os.PathLike[str] | None = None) -> GatewayConfig:
    """Loads and validates a YAML config (the embedded default when ``path`` is None).

    Raises:
        ConfigError: the file is missing, unreadable, not YAML or invalid; the message names
            the file, the field and the reason, one problem per line.
    """
    p = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text (byte {e.start}): {e.reason}") from e
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}: {getattr(e, 'problem', e)}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        return GatewayConfig.model_validate(raw)
    except ValidationError as e:
        lines = [
            f"{p}: field '{_field_path(err['loc'])}': {err['msg']}"
            + (f" (got {_shown(err['input'])})" if err["type"] != "missing" else "")
            for err in e.errors()
        ]
        raise ConfigError("\n".join(lines)) from e
