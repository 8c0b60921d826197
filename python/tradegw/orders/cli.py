"""``tradegw order``: orders through a running gateway's control socket, or, when none
answers, directly against the venue on the gateway's own ledger.

::

    tradegw order [--config PATH] submit --venue binance --symbol BTC-USD --side buy \\
        --type limit --qty 0.001 --price 45000 [--tif GTC] [--post-only] \\
        [--client-order-id ID] [--decision-id ID]
    tradegw order [--config PATH] cancel CLIENT_ORDER_ID
    tradegw order [--config PATH] status CLIENT_ORDER_ID
    tradegw order [--config PATH] list [--venue V] [--symbol S] [--open] [--limit N]

Each is one message (``SubmitOrder``, ``CancelOrder``, ``OrderStatus``, ``ListOrders``);
the Ack is printed as JSON, the order under ``order`` (``orders`` for a list). A submit
without ``--client-order-id`` gets a fresh one; repeating a submit with the same id returns
the recorded order and sends nothing, so a command retried after a timeout is safe.

Where it goes: to the gateway at ``--address``, or at the address in ``--address-file``
(default: with ``--config``, that config's ``control.address_path``, else
``tradegw-control.addr``). When no gateway answers there (no address file, or a stale one)
and ``--config`` is given, the command runs directly (:mod:`tradegw.orders.direct`): the
config's ledger, trading mode and the venue's ``trading`` section, the same Ack printed; a
line on stderr says so. A gateway that holds the ledger is never bypassed: the ledger is
locked by whoever has it open.

Exit status: 0 done (for a submit: the order was not rejected); 1 refused, or the order
ended REJECTED; 2 no gateway could be reached and no ``--config`` to go directly with (or
the command line was wrong); without a gateway, 3 it cannot be set up (a bad config, no
``orders.ledger_path``, no ``trading`` section for the venue, ``sim`` URLs, a key variable
missing or its file unsafe), 4 the venue did not answer (no trading rules loaded, or the
order not settled within ``--timeout``: it is then reconciled by the next order entry on
the ledger), 5 the ledger is held by another process (a gateway whose control socket did not
answer, or another command).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradegw.ctl import (
    DEFAULT_ADDRESS_FILE,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    add_address_arguments,
)

if TYPE_CHECKING:
    from tradegw.bus.messages import Ack
    from tradegw.config import GatewayConfig

PROG = "tradegw order"

SUBMIT_TIMEOUT_S = 30.0
"""How long a command waits by default: a submit waits for the venue's answer."""


def add_parser(commands: Any) -> None:
    """Adds ``order`` and its commands to the ``tradegw`` parser's subcommands."""
    order = commands.add_parser(
        "order",
        help="submit, cancel, show or list orders (through a gateway, or directly)",
        description="Through a running gateway's control socket; with --config, directly "
        "against the venue (on the gateway's ledger) when no gateway answers.",
    )
    add_address_arguments(order, SUBMIT_TIMEOUT_S)
    # Unset means: the config's control.address_path with --config, else the default file.
    order.set_defaults(address_file=None)
    order.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="the gateway's config: its control address file, and, when no gateway answers, "
        "its ledger, trading mode and venue trading sections for sending directly",
    )
    what = order.add_subparsers(dest="order_command", required=True, metavar="COMMAND")

    submit = what.add_parser("submit", help="submit an order")
    submit.add_argument("--venue", required=True)
    submit.add_argument("--symbol", required=True, help="canonical, e.g. BTC-USD")
    submit.add_argument("--side", required=True, choices=["buy", "sell"])
    submit.add_argument("--type", required=True, choices=["limit", "market"], dest="order_type")
    submit.add_argument("--qty", required=True, help="decimal text, base units")
    submit.add_argument("--price", help="decimal text; limit orders only")
    submit.add_argument(
        "--tif", choices=["GTC", "IOC", "FOK"], help="default: GTC (limit), IOC (market)"
    )
    submit.add_argument("--post-only", action="store_true")
    submit.add_argument("--client-order-id", help="default: a fresh one")
    submit.add_argument("--decision-id")

    cancel = what.add_parser("cancel", help="cancel an order")
    cancel.add_argument("client_order_id")

    status = what.add_parser("status", help="an order as recorded, with its fills")
    status.add_argument("client_order_id")

    listing = what.add_parser("list", help="recorded orders, newest first")
    listing.add_argument("--venue")
    listing.add_argument("--symbol")
    listing.add_argument("--open", action="store_true", dest="open_only", help="open ones only")
    listing.add_argument("--limit", type=int, default=100)


def message_of(args: argparse.Namespace) -> dict[str, Any]:
    """The control message a parsed ``order`` command line stands for."""
    command = args.order_command
    if command in ("cancel", "status"):
        kind = "CancelOrder" if command == "cancel" else "OrderStatus"
        return {"type": kind, "client_order_id": args.client_order_id}
    if command == "list":
        return _without_none(
            {
                "type": "ListOrders",
                "venue": args.venue,
                "symbol": args.symbol,
                "open_only": args.open_only,
                "limit": args.limit,
            }
        )
    # Passed on as text: the gateway checks every field and names the one that is wrong.
    order = _without_none(
        {
            "venue": args.venue,
            "symbol": args.symbol,
            "side": args.side,
            "type": args.order_type,
            "qty": args.qty,
            "price": args.price,
            "time_in_force": args.tif,
            "post_only": args.post_only or None,
            "client_order_id": args.client_order_id,
            "decision_id": args.decision_id,
        }
    )
    return {"type": "SubmitOrder", "order": order}


def run(args: argparse.Namespace) -> int:
    """Sends the command's message to the gateway, or carries it out directly when none
    answers and ``--config`` is given; prints the Ack; returns the exit status."""
    config: GatewayConfig | None = None
    if args.config is not None:
        from tradegw.config import load_config
        from tradegw.errors import ConfigError
        from tradegw.orders.direct import EXIT_SETUP

        try:
            config = load_config(args.config)
        except ConfigError as e:
            print(f"{PROG}: bad config: {e}", file=sys.stderr)
            return EXIT_SETUP
    message = message_of(args)
    if message["type"] == "SubmitOrder" and "client_order_id" not in message["order"]:
        from tradegw.orders.requests import new_client_order_id

        # Made here, not by whoever takes the order: a gateway that fails mid-answer and
        # the direct attempt after it must mean one order, not two.
        message["order"]["client_order_id"] = new_client_order_id()
    if getattr(args, "nats", None):
        from tradegw.natsbus.control_client import run_over_nats

        # Over NATS to the gateway (or the shard) that runs the venue; never directly: the
        # venue's ledger is that gateway's.
        return run_over_nats(args.nats, message, args.timeout, PROG, None)
    ack, why = _ask_gateway(args, config, message)
    if ack is not None:
        return _finish(args, ack)
    if config is None:
        print(f"{PROG}: {why}", file=sys.stderr)
        print(f"{PROG}: (with --config, orders go to the venue directly)", file=sys.stderr)
        return EXIT_UNREACHABLE
    return _run_direct(args, config, message, why)


def _ask_gateway(
    args: argparse.Namespace, config: GatewayConfig | None, message: dict[str, Any]
) -> tuple[Ack | None, str]:
    """The gateway's Ack, or None and why no gateway answered."""
    from tradegw.bus.client import ControlClient, read_address

    try:
        if args.address is not None:
            host, _, port = str(args.address).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"--address must be HOST:PORT, got {args.address!r}")
            address = (host, int(port))
        else:
            path = args.address_file
            if path is None:
                path = DEFAULT_ADDRESS_FILE
                if config is not None:
                    path = config.control.address_path
            if path is None:
                return None, f"{args.config} has no control.address_path: no gateway to ask"
            address = read_address(path)
    except (OSError, ValueError) as e:
        return None, f"no gateway address: {e}"

    async def request() -> Ack:
        async with asyncio.timeout(args.timeout), ControlClient(*address) as client:
            return await client.request(message)

    try:
        return asyncio.run(request()), ""
    except (OSError, TimeoutError, ConnectionError) as e:
        return None, f"{address[0]}:{address[1]}: {e or type(e).__name__}"


def _run_direct(
    args: argparse.Namespace, config: GatewayConfig, message: dict[str, Any], why: str
) -> int:
    import uvloop

    from tradegw.orders.direct import DirectOrderError, run_direct
    from tradegw.telemetry.logs import configure_logging

    configure_logging(config.telemetry)
    print(
        f"{PROG}: no gateway answered ({why}); directly to the venue, on the ledger "
        f"{config.orders.ledger_path}",
        file=sys.stderr,
    )
    try:
        answer = uvloop.run(
            run_direct(config, message, config_path=str(args.config), timeout_s=args.timeout)
        )
    except DirectOrderError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.exit_status
    status = _finish(args, answer.ack)
    if answer.problem is not None:
        print(f"{PROG}: {answer.problem}", file=sys.stderr)
    return answer.exit_status if answer.exit_status is not None else status


def _finish(args: argparse.Namespace, ack: Ack) -> int:
    """Prints the Ack; the exit status it stands for."""
    from tradegw.ctl import print_ack

    print_ack(ack)
    if not ack.ok:
        return EXIT_REFUSED
    rejected = ack.order is not None and ack.order.get("state") == "REJECTED"
    return EXIT_REFUSED if args.order_command == "submit" and rejected else EXIT_OK


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


__all__ = ["add_parser", "message_of", "run"]
