"""Events from their JSON as the NATS sink wrote it, checked, at a remote consumer's rate.

:func:`tradegw.schema.from_json` checks every field through pydantic (~20 µs an event);
market data arrives by the thousand a second, so :func:`decode_event` checks the same things
(known type, exactly the type's fields, each value's JSON type, levels as pairs of strings,
the literal values) with one table lookup per field (a few µs). ExecReports and merged
events, rarer and nested, go through :func:`~tradegw.schema.from_json` itself.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from typing import Any, Final, Literal

import orjson

from tradegw.schema import (
    EVENT_CLASSES,
    BookSnapshot,
    BookStatus,
    BookUpdate,
    Event,
    KlineSummary,
    Ticker,
    Trade,
    from_json,
)

_LEVELS: Final = "levels"


def _spec(annotation: Any) -> tuple[frozenset[type], frozenset[Any] | str | None]:
    """``(JSON types allowed, extra)`` for one field: ``extra`` is the literal values
    allowed, or ``"levels"`` for a book side."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        allowed: set[type] = set()
        extra: frozenset[Any] | str | None = None
        for arg in typing.get_args(annotation):
            t, e = _spec(arg)
            allowed |= t
            extra = e if e is not None else extra
        return frozenset(allowed), extra
    if annotation is type(None):
        return frozenset({type(None)}), None
    if origin is Literal:
        values = frozenset(typing.get_args(annotation))
        return frozenset(type(v) for v in values), values
    if origin is list:  # the only lists of the fast types are book sides
        return frozenset({list}), _LEVELS
    return frozenset({annotation}), None


def _specs(cls: type) -> dict[str, tuple[frozenset[type], frozenset[Any] | str | None]]:
    hints = typing.get_type_hints(cls)
    return {f.name: _spec(hints[f.name]) for f in fields(cls)}


_FAST: Final = {
    cls.__name__: (cls, _specs(cls), frozenset(f.name for f in fields(cls) if not f.init))
    for cls in (BookSnapshot, BookUpdate, BookStatus, Trade, Ticker, KlineSummary)
}


def _bad_levels(side: list[Any]) -> bool:
    for lv in side:
        if type(lv) is not list or len(lv) != 2 or type(lv[0]) is not str:
            return True
        if type(lv[1]) is not str:
            return True
    return False


def decode_event(data: bytes) -> Event:
    """The event ``data`` holds.

    Raises:
        ValueError: not a JSON object, an unknown ``event_type``, a missing or unknown
            field, or a value of the wrong type (the message names it).
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"event is not valid JSON: {exc}") from exc
    if type(obj) is not dict:
        raise ValueError(f"event JSON must be an object, not {type(obj).__name__}")
    name = obj.get("event_type")
    fast = _FAST.get(name) if type(name) is str else None
    if fast is None:
        if name in EVENT_CLASSES:
            return from_json(data)
        raise ValueError(f"unknown event_type {name!r}")
    cls, specs, not_init = fast
    if obj.keys() != specs.keys():
        missing = sorted(specs.keys() - obj.keys())
        unknown = sorted(obj.keys() - specs.keys())
        raise ValueError(f"{name} event: missing fields {missing}, unknown fields {unknown}")
    for key, (allowed, extra) in specs.items():
        value = obj[key]
        if type(value) not in allowed:
            raise ValueError(f"invalid {name} event: {key} has the wrong type: {value!r:.60}")
        if extra is not None:
            if extra == _LEVELS:
                if _bad_levels(value):
                    raise ValueError(f"invalid {name} event: {key} are not [price, qty] strings")
                obj[key] = [(p, q) for p, q in value]
            elif value is not None and value not in extra:
                raise ValueError(f"invalid {name} event: {key} {value!r:.60} is not allowed")
    for key in not_init:
        del obj[key]
    event: Event = cls(**obj)
    return event
