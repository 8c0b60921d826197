"""``tradegw ctl``: the control socket's command-line client.

Each command sends one control message to a running gateway and prints its Ack as JSON.
The gateway's address comes from ``--address HOST:PORT`` or from the file the gateway wrote
(``control.address_path``; ``--address-file``, default ``tradegw-control.addr`` in the
current folder, where the embedded default config puts it).

With ``--nats URL`` the message goes over NATS instead; where gateways run as shards it goes to
every shard and each one's answer is printed (``--shard NAME``: to one shard;
:mod:`tradegw.natsbus.control_client`).

Exit status: 0 the gateway accepted the message, 1 it refused it (the Ack says why; with
shards: one refused it, none took it, or a live shard did not answer), 2 no gateway could be
reached (or the command line was wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from tradegw.bus.messages import Ack

DEFAULT_ADDRESS_FILE = "tradegw-control.addr"
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2


def add_address_arguments(parser: argparse.ArgumentParser, timeout_s: float = 5.0) -> None:
    """``--address`` / ``--address-file`` and ``--timeout``: where the gateway is and how
    long to wait for its answer."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--address", metavar="HOST:PORT", help="the gateway's control socket")
    where.add_argument(
        "--nats", metavar="URL", help="a gateway's NATS server (nats://HOST:PORT) instead"
    )
    where.add_argument(
        "--address-file",
        metavar="PATH",
        default=DEFAULT_ADDRESS_FILE,
        help=f"file holding HOST:PORT (default: {DEFAULT_ADDRESS_FILE})",
    )
    parser.add_argument(
        "--timeout", type=float, default=timeout_s, metavar="S", help=f"default: {timeout_s:g}"
    )


def add_parser(commands: Any) -> None:
    """Adds ``ctl`` and its commands to the ``tradegw`` parser's subcommands."""
    ctl = commands.add_parser("ctl", help="send a control message to a running gateway")
    add_address_arguments(ctl)
    ctl.add_argument(
        "--shard", metavar="NAME", help="with --nats: to this shard alone (default: every shard)"
    )
    what = ctl.add_subparsers(dest="ctl_command", required=True, metavar="COMMAND")

    sub = what.add_parser("subscribe", help="route events to a consumer")
    sub.add_argument("--consumer", required=True)
    sub.add_argument("--venue", action="append", dest="venues", metavar="VENUE")
    sub.add_argument("--symbol", action="append", dest="symbols", metavar="SYMBOL")
    sub.add_argument("--type", action="append", dest="types", metavar="EVENT_TYPE")
    sub.add_argument("--budget", metavar="RATE[:BURST]", help="events/s and burst")
    sub.add_argument("--id", dest="subscription_id")

    unsub = what.add_parser("unsubscribe", help="stop one (--id) or all of a consumer's")
    unsub.add_argument("--consumer", required=True)
    unsub.add_argument("--id", dest="subscription_id")

    merge = what.add_parser("merge", help="merge a symbol's books across venues")
    merge.add_argument("--consumer", required=True)
    merge.add_argument("--symbol", required=True)
    merge.add_argument("--venue", action="append", dest="venues", required=True, metavar="VENUE")
    merge.add_argument("--window-s", type=float, default=10.0)
    merge.add_argument("--max-events", type=int, default=1000)
    merge.add_argument("--depth", type=int, default=10)
    merge.add_argument("--id", dest="subscription_id")

    mode = what.add_parser("trading-mode", help="set the trading switch")
    mode.add_argument("mode", choices=["enabled", "disabled", "cancel_only", "reduce_only"])

    what.add_parser("state", help="consumers, subscriptions, merges, trading mode")

    send = what.add_parser("send", help="send a control message written as JSON")
    send.add_argument("json", help='e.g. \'{"type": "State"}\'')


def message_of(args: argparse.Namespace) -> dict[str, Any] | bytes:
    """The control message a parsed ``ctl`` command line stands for."""
    command = args.ctl_command
    if command == "send":
        return str(args.json).encode()
    if command == "state":
        return {"type": "State"}
    if command == "trading-mode":
        return {"type": "SetTradingMode", "mode": args.mode}
    if command == "unsubscribe":
        return _without_none(
            {
                "type": "Unsubscribe",
                "consumer": args.consumer,
                "subscription_id": args.subscription_id,
            }
        )
    if command == "merge":
        return _without_none(
            {
                "type": "MergedSubscribe",
                "consumer": args.consumer,
                "symbol": args.symbol,
                "venues": args.venues,
                "window_s": args.window_s,
                "max_events": args.max_events,
                "depth": args.depth,
                "subscription_id": args.subscription_id,
            }
        )
    return _without_none(
        {
            "type": "Subscribe",
            "consumer": args.consumer,
            "venues": args.venues,
            "symbols": args.symbols,
            "types": args.types,
            "budget": _budget(args.budget),
            "subscription_id": args.subscription_id,
        }
    )


def _budget(text: str | None) -> dict[str, str] | None:
    # Passed on as text: the gateway checks the numbers and names the field if they are bad.
    if text is None:
        return None
    rate, _, burst = text.partition(":")
    return {"rate": rate, "burst": burst} if burst else {"rate": rate}


def _without_none(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """Sends the command's message and prints the Ack; returns the exit status."""
    if getattr(args, "nats", None):
        from tradegw.natsbus.control_client import run_over_nats

        return run_over_nats(args.nats, message_of(args), args.timeout, "tradegw ctl", args.shard)
    if getattr(args, "shard", None):
        print("tradegw ctl: --shard goes with --nats", file=sys.stderr)
        return EXIT_UNREACHABLE
    ack = send(args, message_of(args), "tradegw ctl")
    if ack is None:
        return EXIT_UNREACHABLE
    print_ack(ack)
    return EXIT_OK if ack.ok else EXIT_REFUSED


def send(args: argparse.Namespace, message: dict[str, Any] | bytes, prog: str) -> Ack | None:
    """Sends ``message`` to the gateway ``args`` name (see :func:`add_address_arguments`)
    and returns its Ack; None, after a line on stderr, when no gateway could be reached."""
    from tradegw.bus.client import ControlClient, read_address

    if getattr(args, "nats", None):
        from tradegw.natsbus.control_client import request_over_nats

        return request_over_nats(args.nats, message, args.timeout, prog)
    try:
        if args.address is not None:
            host, _, port = str(args.address).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"--address must be HOST:PORT, got {args.address!r}")
            address = (host, int(port))
        else:
            address = read_address(args.address_file)
    except (OSError, ValueError) as e:
        print(f"{prog}: no gateway address: {e}", file=sys.stderr)
        return None

    async def request() -> Ack:
        async with asyncio.timeout(args.timeout), ControlClient(*address) as client:
            return await client.request(message)

    try:
        return asyncio.run(request())
    except (OSError, TimeoutError, ConnectionError) as e:
        print(f"{prog}: {address[0]}:{address[1]}: {e or type(e).__name__}", file=sys.stderr)
        return None


def print_ack(ack: Ack) -> None:
    """The Ack as indented JSON on stdout."""
    out = ack.model_dump(exclude_none=True)
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")


def main(argv: Sequence[str]) -> int:  # pragma: no cover - tradegw.cli is the entry point
    """``python -m tradegw.ctl ...`` (the same as ``tradegw ctl ...``)."""
    parser = argparse.ArgumentParser(prog="tradegw")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["ctl", *argv]))
