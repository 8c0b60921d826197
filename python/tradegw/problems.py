"""Validation problems said one line each, naming the field: for a config file
(:mod:`tradegw.config`) and for a control message (:mod:`tradegw.bus`) alike.

Everything shown came from outside (a file, a socket), so every part is bounded: a key that
is long or not printable is quoted and cut, a refused value is shown through a bounded repr,
a line is cut to a readable length with its line breaks escaped.
"""

from __future__ import annotations

import reprlib
from collections.abc import Collection
from typing import Any

from pydantic import ValidationError

_MAX_PART = 40
_MAX_LINE = 400


def _part(part: int | str) -> str:
    """One step of a field path as text: a key that is long or not printable (it came from
    the file) is shown quoted and cut, so that it cannot break or flood the line."""
    if isinstance(part, str) and (len(part) > _MAX_PART or not part.isprintable() or not part):
        return repr(part[:_MAX_PART]) + ("..." if len(part) > _MAX_PART else "")
    return str(part)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``a.b[0].c`` of a pydantic error location, bounded."""
    out = ""
    for part in loc:
        step = _part(part)
        out += f"[{step}]" if isinstance(part, int) else (f".{step}" if out else step)
    if len(out) > 2 * _MAX_PART:
        out = out[:_MAX_PART] + "..." + out[-_MAX_PART:]
    return out or "(top level)"


# Bounded at every level, so that showing a value a validator refused never walks or
# prints more than a screenful of it, however big it is.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist = 3, 4, 6
_REPR.maxstring, _REPR.maxother = 80, 80


def _shown(value: Any) -> str:
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int beyond the 4300 digits Python converts to text
        text = f"<an integer of {value.bit_length()} bits>" if isinstance(value, int) else "?"
    return text if len(text) <= 80 else text[:77] + "..."


def one_line(text: str) -> str:
    """``text`` with line breaks escaped and cut to a readable length."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= _MAX_LINE else text[: _MAX_LINE - 3] + "..."


def problem_lines(error: ValidationError, most: int, tags: Collection[str] = ()) -> list[str]:
    """``field 'a.b[0]': why (got value)`` for each problem, at most ``most`` of them and
    one more line counting the rest. A location that starts with one of ``tags`` (the
    variant a tagged union chose, e.g. a control message's type) is named without it."""
    errors = error.errors(include_url=False, include_context=False)
    for err in errors:
        loc = err["loc"]
        if loc and loc[0] in tags:
            err["loc"] = loc[1:]
    lines = [
        one_line(
            f"field '{field_path(err['loc'])}': {err['msg']}"
            + (f" (got {_shown(err['input'])})" if err["type"] != "missing" else "")
        )
        for err in errors[:most]
    ]
    if len(errors) > most:
        lines.append(f"... and {len(errors) - most} more problems")
    return lines
