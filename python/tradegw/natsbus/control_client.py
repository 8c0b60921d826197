"""``tradegw ctl --nats URL``: one control message over NATS request/reply.

To a single gateway (no shards registered at that NATS) it is one request and one Ack. When
gateway processes run as shards (:mod:`tradegw.natsbus.shard`), the message goes to every
shard (``<prefix>.control``) and the client waits for a reply from each live shard listed in
the shards' key-value bucket: each answers with its Ack, or says why the message is not about
it (:mod:`tradegw.natsbus.control_routing`). ``--shard NAME`` sends it to that shard alone
(``<prefix>.control.<name>``).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
import nats.js.errors
import orjson
from pydantic import ValidationError

from tradegw.bus.messages import Ack
from tradegw.natsbus.shard import KV_ERRORS, live_shards, open_bucket
from tradegw.natsbus.wire import HEADER_SHARD, HEADER_SKIPPED, Subjects

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

DEFAULT_BUCKET = "TRADEGW_SHARDS"


@dataclass
class ShardAnswers:
    """What the shards said to a message sent to all of them."""

    acks: dict[str, Ack] = field(default_factory=dict)
    """The Ack of each shard the message was about."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Each shard it was not about, and why."""
    missing: list[str] = field(default_factory=list)
    """Live shards (in the bucket) that did not answer in time."""

    @property
    def ok(self) -> bool:
        """At least one shard took it, every one that did accepted it, none is missing."""
        return bool(self.acks) and all(a.ok for a in self.acks.values()) and not self.missing

    def as_dict(self) -> dict[str, Any]:
        """The JSON the command line prints."""
        return {
            "ok": self.ok,
            "shards": {n: a.model_dump(exclude_none=True) for n, a in sorted(self.acks.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "missing": sorted(self.missing),
        }


def _ack(msg: Msg) -> Ack:
    try:
        return Ack.model_validate_json(msg.data)
    except ValidationError as e:
        raise ValueError(f"the answer is not an Ack: {msg.data[:80]!r}") from e


async def request(
    url: str,
    message: dict[str, Any] | bytes,
    timeout_s: float,
    prefix: str = "tradegw",
    shard: str | None = None,
) -> Ack:
    """Sends ``message`` to ``<prefix>.control`` (``<prefix>.control.<shard>`` with
    ``shard``) at the NATS server ``url``; returns the first Ack.

    Raises:
        nats.errors.Error, OSError, TimeoutError: no server, or no gateway answered.
        ValueError: the answer is not an Ack (a shard that let the message pass says so).
    """
    payload = message if isinstance(message, bytes) else orjson.dumps(message)
    subjects = Subjects(prefix)
    subject = subjects.control if shard is None else subjects.control_shard(shard)
    nc = await nats.connect(servers=[url], connect_timeout=timeout_s, allow_reconnect=False)
    try:
        reply = await nc.request(subject, payload, timeout=timeout_s)
    finally:
        await nc.close()
    skipped = (reply.headers or {}).get(HEADER_SKIPPED)
    if skipped is not None:
        raise ValueError(f"shard {(reply.headers or {}).get(HEADER_SHARD)} skipped it: {skipped}")
    return _ack(reply)


async def ask(
    url: str,
    message: dict[str, Any] | bytes,
    timeout_s: float,
    prefix: str = "tradegw",
    bucket: str = DEFAULT_BUCKET,
) -> Ack | ShardAnswers:
    """Sends ``message`` to the gateway at ``url``: its Ack when no shards are registered
    there, else what every live shard answered (waiting ``timeout_s`` at most).

    Raises:
        nats.errors.Error, OSError, TimeoutError: no server, or (no shards) no answer.
        ValueError: an answer that is not an Ack.
    """
    payload = message if isinstance(message, bytes) else orjson.dumps(message)
    subjects = Subjects(prefix)
    nc = await nats.connect(servers=[url], connect_timeout=timeout_s, allow_reconnect=False)
    try:
        shards = await _shards(nc, bucket, timeout_s)
        if not shards:
            return _ack(await nc.request(subjects.control, payload, timeout=timeout_s))
        return await _gather(nc, subjects.control, payload, set(shards), timeout_s)
    finally:
        await nc.close()


async def _shards(nc: Client, bucket: str, timeout_s: float) -> list[str]:
    try:
        kv = await open_bucket(nc.jetstream(timeout=timeout_s), bucket, 1, 1, create=False)
        return sorted(await live_shards(kv))
    except (*KV_ERRORS, nats.js.errors.BucketNotFoundError):
        return []  # no JetStream or no bucket: no shards here


async def _gather(
    nc: Client, subject: str, payload: bytes, expected: set[str], timeout_s: float
) -> ShardAnswers:
    answers = ShardAnswers()
    heard: set[str] = set()
    every = asyncio.Event()
    problems: list[Exception] = []

    async def on_reply(msg: Msg) -> None:
        headers = msg.headers or {}
        name = headers.get(HEADER_SHARD, "?")
        heard.add(name)
        skipped = headers.get(HEADER_SKIPPED)
        if skipped is not None:
            answers.skipped[name] = skipped
        else:
            try:
                answers.acks[name] = _ack(msg)
            except ValueError as e:
                problems.append(e)
        if expected <= heard:
            every.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(subject, payload, reply=inbox)
        try:
            async with asyncio.timeout(timeout_s):
                await every.wait()
        except TimeoutError:
            pass
    finally:
        await sub.unsubscribe()
    if problems and not answers.acks:
        raise ValueError(str(problems[0]))
    answers.missing = sorted(expected - heard)
    return answers


def run_over_nats(
    url: str, message: dict[str, Any] | bytes, timeout_s: float, prog: str, shard: str | None
) -> int:
    """``tradegw ctl --nats``: sends, prints the Ack (or every shard's answers) as JSON and
    returns the exit status: 0 accepted, 1 refused (or no shard took it, or a live shard did
    not answer), 2 nobody answered."""
    try:
        if shard is not None:
            answer: Ack | ShardAnswers = asyncio.run(request(url, message, timeout_s, shard=shard))
        else:
            answer = asyncio.run(ask(url, message, timeout_s))
    except nats.errors.NoRespondersError:
        whom = f"shard {shard}" if shard is not None else "no gateway"
        print(f"{prog}: {url}: {whom} answers control messages there", file=sys.stderr)
        return 2
    except (nats.errors.Error, OSError, TimeoutError, ValueError) as e:
        print(f"{prog}: {url}: {e or type(e).__name__}", file=sys.stderr)
        return 2
    if isinstance(answer, Ack):
        out = answer.model_dump(exclude_none=True)
        ok = answer.ok
    else:
        if not answer.acks and not answer.skipped:
            print(f"{prog}: {url}: no shard answered", file=sys.stderr)
            return 2
        out = answer.as_dict()
        ok = answer.ok
        if answer.missing:
            print(f"{prog}: no answer from shards {answer.missing}", file=sys.stderr)
        if not answer.acks:
            print(f"{prog}: no shard took it: {answer.skipped}", file=sys.stderr)
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if ok else 1


def request_over_nats(
    url: str, message: dict[str, Any] | bytes, timeout_s: float, prog: str
) -> Ack | None:
    """:func:`request` for the command line: None, after a line on stderr, when no gateway
    answered."""
    try:
        return asyncio.run(request(url, message, timeout_s))
    except nats.errors.NoRespondersError:
        print(f"{prog}: {url}: no gateway answers control messages there", file=sys.stderr)
    except (nats.errors.Error, OSError, TimeoutError, ValueError) as e:
        print(f"{prog}: {url}: {e or type(e).__name__}", file=sys.stderr)
    return None
