"""Locating and reading the recorded venue traffic in ``shared/recorded``.

The captures live beside the repository (never copied into it). Their line format is the
cryptofeed recorder's: a first ``URL <-> <epoch>`` line, ``URL <- <epoch>: <json>`` for frames
the client sent, ``URL -> <epoch>: <body>`` for REST responses, and ``<epoch>: <frame>`` for
every frame received.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def recorded_dir() -> Path:
    """The recorded-data folder, or a skip when this checkout has none beside it."""
    override = os.environ.get("TRADEGW_RECORDED_DIR")
    path = Path(override) if override else (REPO_ROOT / ".." / "shared" / "recorded").resolve()
    if not path.is_dir():
        pytest.skip(f"recorded traffic not found at {path}")
    return path


def recorded_file(name: str) -> Path:
    path = recorded_dir() / name
    if not path.is_file():
        pytest.skip(f"recorded traffic not found at {path}")
    return path


@dataclass(frozen=True, slots=True)
class Frame:
    """One recorded line: when it was seen, which way it went, and its decoded JSON."""

    epoch: float
    direction: str  # "recv" (WS frame received), "sent" (WS frame sent), "rest" (REST reply)
    url: str | None
    data: Any


def read_frames(path: Path) -> Iterator[Frame]:
    """Yields every frame of a recording in file order, JSON-decoded."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line or " <-> " in line.split(": ", 1)[0]:
                continue  # the connect line carries no frame
            head, _, body = line.partition(": ")
            if " <- " in head:
                url, _, epoch = head.partition(" <- ")
                yield Frame(float(epoch), "sent", url, json.loads(body))
            elif " -> " in head:
                url, _, epoch = head.partition(" -> ")
                yield Frame(float(epoch), "rest", url, json.loads(body))
            else:
                yield Frame(float(head), "recv", None, json.loads(body))


def decimals(text: str) -> int:
    """How many digits a decimal text has after its dot."""
    _, dot, fraction = text.partition(".")
    return len(fraction) if dot else 0
