"""``tradegw order``: orders through a running gateway's control socket.

::

    tradegw order submit --venue binance --symbol BTC-USD --side buy --type limit \\
        --qty 0.001 --price 45000 [--tif GTC] [--post-only] [--client-order-id ID] \\
        [--decision-id ID]
    tradegw order cancel CLIENT_ORDER_ID
    tradegw order status CLIENT_ORDER_ID
    tradegw order list [--venue V] [--symbol S] [--open] [--limit N]

Each sends one message (``SubmitOrder``, ``CancelOrder``, ``OrderStatus``, ``ListOrders``)
and prints the Ack as JSON, the order under ``order`` (``orders`` for a list). The address
comes as for ``tradegw ctl`` (``--address`` or ``--address-file``). A submit without
``--client-order-id`` gets a fresh one from the gateway; repeating a submit with the same id
returns the recorded order and sends nothing, so a command retried after a timeout is safe.

Orders go through a running gateway only: sending to a venue directly needs its adapter's
signing and endpoints, which the venue adapters will bring.

Exit status: 0 accepted (for a submit: the order was not rejected), 1 refused, or the order
ended REJECTED, 2 no gateway could be reached (or the command line was wrong).
"""

from __future__ import annotations

import argparse
from typing import Any

from tradegw.ctl import EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, add_address_arguments

SUBMIT_TIMEOUT_S = 30.0
"""How long a command waits by default: a submit waits for the venue's answer."""


def add_parser(commands: Any) -> None:
    """Adds ``order`` and its commands to the ``tradegw`` parser's subcommands."""
    order = commands.add_parser("order", help="submit, cancel, show or list orders")
    add_address_arguments(order, SUBMIT_TIMEOUT_S)
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
    """Sends the command's message and prints the Ack; returns the exit status."""
    from tradegw.ctl import print_ack, send

    ack = send(args, message_of(args), "tradegw order")
    if ack is None:
        return EXIT_UNREACHABLE
    print_ack(ack)
    if not ack.ok:
        return EXIT_REFUSED
    rejected = ack.order is not None and ack.order.get("state") == "REJECTED"
    return EXIT_REFUSED if args.order_command == "submit" and rejected else EXIT_OK


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


__all__ = ["add_parser", "message_of", "run"]
