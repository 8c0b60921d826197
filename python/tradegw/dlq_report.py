"""``tradegw dlq``: list and summarise the dead-letter queue's files.

``tradegw dlq [PATH] [--reason R] [--venue V] [--since T] [--json] [--summary]`` reads a DLQ
folder (every ``dlq-*.jsonl`` in it, oldest first) or one DLQ file. Without ``PATH`` it reads
the folder of ``--config`` (the embedded default: ``tradegw-dlq`` in the current folder,
where ``tradegw run`` writes it). ``--reason`` and ``--venue`` may be repeated (any of them
matches); ``--since`` takes an ISO 8601 time (UTC unless it says otherwise) or an age such
as ``90s``, ``15m``, ``2h``, ``1d``. It prints one line per matching entry, then a summary
by reason and venue; ``--json`` prints the matching entries as JSON lines instead (for
``jq``), ``--summary`` only the summary.

Exit status: 0 (also when nothing matches), 2 when PATH does not exist or an option is
wrong.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2
_PREVIEW = 96
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def add_parser(commands: Any) -> None:
    """Adds ``dlq`` to the ``tradegw`` parser's subcommands."""
    dlq = commands.add_parser("dlq", help="list and summarise the dead-letter queue")
    dlq.add_argument("path", nargs="?", type=Path, help="a DLQ folder or file")
    dlq.add_argument("--config", type=Path, help="read the DLQ folder this config names")
    dlq.add_argument("--reason", action="append", dest="reasons", metavar="R")
    dlq.add_argument("--venue", action="append", dest="venues", metavar="V")
    dlq.add_argument("--since", metavar="T", help="ISO 8601 time, or an age: 90s, 15m, 2h, 1d")
    out = dlq.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="matching entries as JSON lines")
    out.add_argument("--summary", action="store_true", help="only the summary")


def parse_since(text: str, now_ns: int | None = None) -> int:
    """``--since`` as ns since the epoch.

    Raises:
        ValueError: neither an ISO 8601 time nor an age.
    """
    age = _AGE.fullmatch(text.strip())
    if age is not None:
        now = time.time_ns() if now_ns is None else now_ns
        return now - int(float(age.group(1)) * _UNIT_S[age.group(2)] * 1e9)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: not an ISO 8601 time nor an age like 90s, 15m, 2h, 1d"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the DLQ's times are UTC
    return int(when.timestamp() * 1_000_000) * 1000


def select(
    entries: Iterable[dict[str, Any]],
    *,
    reasons: Iterable[str] | None = None,
    venues: Iterable[str] | None = None,
    since_ns: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The entries that match every filter given (each list: any of its values)."""
    reason_set = set(reasons) if reasons else None
    venue_set = set(venues) if venues else None
    for e in entries:
        if reason_set is not None and e.get("reason") not in reason_set:
            continue
        if venue_set is not None and e.get("venue") not in venue_set:
            continue
        ts = e.get("ts_ns")
        if since_ns is not None and (not isinstance(ts, int) or ts < since_ns):
            continue
        yield e


def line_of(entry: dict[str, Any]) -> str:
    """One entry as one line: time, venue, reason, trace id, detail, the raw's start."""
    raw = str(entry.get("raw", ""))
    if entry.get("raw_encoding") == "base64":
        raw = "base64:" + raw
    preview = raw[:_PREVIEW].replace("\n", "\\n") + ("…" if len(raw) > _PREVIEW else "")
    detail = str(entry.get("detail", "")).replace("\n", " ")
    return (
        f"{entry.get('time', '?')}  {entry.get('venue', '?'):<9} {entry.get('reason', '?'):<18}"
        f" {entry.get('trace_id', '?')}  {detail}  {preview}"
    )


def summary_of(entries: list[dict[str, Any]], scanned: int, path: Path) -> str:
    """How many matched, of how many, when, by reason and by venue."""
    lines = [f"{len(entries)} entries of {scanned} in {path}"]
    if entries:
        lines[0] += f", from {entries[0].get('time', '?')} to {entries[-1].get('time', '?')}"
        for key in ("reason", "venue"):
            counts = Counter(str(e.get(key, "?")) for e in entries)
            shown = ", ".join(f"{k} {n}" for k, n in counts.most_common())
            lines.append(f"  by {key}: {shown}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Lists and summarises; returns the exit status."""
    import orjson

    from tradegw.telemetry.dlq import read_entries

    path: Path | None = args.path
    if path is None:
        from tradegw.config import load_config
        from tradegw.errors import ConfigError

        try:
            folder = load_config(args.config).telemetry.dlq_path
        except ConfigError as bad_config:
            print(f"tradegw dlq: bad config: {bad_config}", file=sys.stderr)
            return EXIT_USAGE
        if folder is None:
            print(
                "tradegw dlq: the config keeps the DLQ in memory (dlq_path: null)", file=sys.stderr
            )
            return EXIT_USAGE
        path = Path(folder)
    if not path.exists():
        print(f"tradegw dlq: no DLQ at {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        since = parse_since(args.since) if args.since is not None else None
    except ValueError as bad:
        print(f"tradegw dlq: {bad}", file=sys.stderr)
        return EXIT_USAGE
    scanned = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal scanned
        for e in read_entries(path):
            scanned += 1
            yield e

    matched: list[dict[str, Any]] = []
    out = sys.stdout
    for entry in select(counted(), reasons=args.reasons, venues=args.venues, since_ns=since):
        if args.json:
            out.write(orjson.dumps(entry).decode() + "\n")
        else:
            matched.append(entry)
            if not args.summary:
                out.write(line_of(entry) + "\n")
    if not args.json:
        out.write(summary_of(matched, scanned, path) + "\n")
    return EXIT_OK
