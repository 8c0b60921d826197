"""Validation of live control messages (``SUBSCRIBE``, ``UNSUBSCRIBE``,
``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY``, ``GET_PROPERTY``) into typed form.

Refusals carry the venue's documented texts (protocols.md section 1.2), with the line and
column its JSON reader reports; they travel in the venue's envelope
``{"error":{"code":...,"msg":...},"id":...}``. Where the venue documents no text (a request
that is not an object, params that are not a list of stream names) the simulator answers with
the nearest documented one (``invalid stream`` is the venue's own, seen on its futures
streams).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from tradegw.errors import SimulatorError

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
PROPERTIES = ("combined",)

_ID_TEXT = re.compile(r"[A-Za-z0-9]{1,36}")
_METHOD_VALUE = re.compile(rb'"method"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)')
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1


class RequestError(SimulatorError, ValueError):
    """A request the venue refuses: the error object's ``code`` and ``msg``, and the request's
    ``id`` when it could be read."""

    def __init__(self, code: int, msg: str, req_id: object = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.req_id = req_id


@dataclass(frozen=True, slots=True)
class Request:
    """A well-formed control message."""

    method: str
    params: list[object]
    req_id: object


def _position(text: bytes, index: int) -> tuple[int, int]:
    """Line and column (1-based) of byte ``index`` of ``text``, as serde counts them."""
    head = text[:index]
    line = head.count(b"\n") + 1
    return line, index - (head.rfind(b"\n") + 1)


def parse_request(payload: bytes) -> Request:
    """Read one control message.

    Raises:
        RequestError: not JSON (code 3), not a request (code 2).
    """
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise RequestError(
            3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(msg, dict):
        line, col = _position(payload, len(payload.rstrip()))
        raise RequestError(
            2, f"Invalid request: missing field `method` at line {line} column {col}"
        )
    req_id = msg.get("id")
    if not _valid_id(req_id):
        raise RequestError(2, "Invalid request: request ID must be an unsigned integer")
    if "method" not in msg:
        line, col = _position(payload, len(payload.rstrip()))
        raise RequestError(
            2, f"Invalid request: missing field `method` at line {line} column {col}", req_id
        )
    method = msg["method"]
    if method not in METHODS:
        match = _METHOD_VALUE.search(payload)
        line, col = _position(payload, match.end(1) if match else len(payload))
        shown = method if isinstance(method, str) else orjson.dumps(method).decode()
        expected = ", ".join(f"`{m}`" for m in METHODS)
        raise RequestError(
            2,
            f"Invalid request: unknown variant `{shown}`, expected one of {expected} "
            f"at line {line} column {col}",
            req_id,
        )
    params = msg.get("params")
    if params is None:
        params = []
    if not isinstance(params, list):
        raise RequestError(2, "Invalid request: invalid stream", req_id)
    return Request(method, params, req_id)


def _valid_id(req_id: object) -> bool:
    """An id is null, a 64-bit integer or up to 36 letters and digits."""
    if req_id is None:
        return True
    if type(req_id) is int:
        return _INT64_MIN <= req_id <= _UINT64_MAX
    return isinstance(req_id, str) and _ID_TEXT.fullmatch(req_id) is not None


def stream_names(req: Request) -> list[str]:
    """The stream names of a ``SUBSCRIBE``/``UNSUBSCRIBE``, each once, in order.

    Raises:
        RequestError: a parameter that is not a string.
    """
    if not all(isinstance(p, str) for p in req.params):
        raise RequestError(2, "Invalid request: invalid stream", req.req_id)
    return list(dict.fromkeys(str(p) for p in req.params))


def property_name(req: Request, arity: int) -> str:
    """The property a ``SET_PROPERTY`` (``arity`` 2) or ``GET_PROPERTY`` (1) is about.

    Raises:
        RequestError: too many parameters, a name that is not a string, or an unknown one.
    """
    if len(req.params) > arity:
        raise RequestError(2, "Invalid request: too many parameters", req.req_id)
    name = req.params[0] if req.params else None
    if not isinstance(name, str):
        raise RequestError(2, "Invalid request: property name must be a string", req.req_id)
    if name not in PROPERTIES:
        raise RequestError(0, "Unknown property", req.req_id)
    return name


def property_value(req: Request) -> bool:
    """The value of a ``SET_PROPERTY``.

    Raises:
        RequestError: not a boolean.
    """
    value = req.params[1] if len(req.params) > 1 else None
    if not isinstance(value, bool):
        raise RequestError(1, "Invalid value type: expected Boolean", req.req_id)
    return value
