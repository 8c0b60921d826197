"""Which shard takes a control message sent to every shard (``<prefix>.control``).

Every shard answers every such message: with its Ack when the message is about it, or with
an empty reply saying why not (``Tradegw-Skipped``), so that a client knows when it has heard
from every live shard (``docs/nats.md``, "Control with shards"). A message is about a shard
when:

- ``Subscribe``: it names no venue or one this shard runs (``merged`` counts when it runs a
  merge), and no symbol or one those venues quote here. The shard applies it narrowed to its
  own venues and symbols, so a subscription that spans shards is made, in part, in each.
- ``Unsubscribe``: the shard has that consumer.
- ``MergedSubscribe``: the shard can merge every venue named (it runs them all, or it is a
  merge-role process, which reads any venue from NATS).
- ``SubmitOrder``: the shard has order entry for the venue and, when it runs that venue's
  market data, holds the symbol's stream (a standby never trades it): one shard, so the
  order is sent once.
- ``CancelOrder``, ``OrderStatus``: the shard's ledger knows the ``client_order_id``.
- ``ListOrders``: no venue named, or the shard has order entry for it.
- ``SetTradingMode``, ``State``: every shard.

A message that is not a valid control message is answered by every shard with the error Ack
(the same from each). ``<prefix>.control.<shard>`` is not routed: that shard applies it as
is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradegw.bus.messages import (
    CancelOrder,
    ControlMessage,
    ListOrders,
    MergedSubscribe,
    OrderStatus,
    SubmitOrder,
    Subscribe,
    Unsubscribe,
)
from tradegw.schema import MERGED_PROVIDER

if TYPE_CHECKING:
    from tradegw.gateway import Gateway
    from tradegw.natsbus.shard import Shard


def route(msg: ControlMessage, gw: Gateway, shard: Shard) -> ControlMessage | str:
    """``msg`` as this shard applies it (narrowed for a ``Subscribe``), or why it is not
    about this shard (one of :data:`tradegw.natsbus.wire.SKIP_REASONS`)."""
    if isinstance(msg, Subscribe):
        return _subscribe(msg, gw)
    if isinstance(msg, Unsubscribe):
        return msg if gw.find_consumer(msg.consumer) is not None else "no_consumer"
    if isinstance(msg, MergedSubscribe):
        if shard.role == "merge" or set(msg.venues) <= gw.providers.keys():
            return msg
        return "no_merge_venues"
    if isinstance(msg, SubmitOrder):
        order = msg.order
        if order.venue not in gw.order_entry.venue_names():
            return "no_order_venue"
        if order.venue in gw.providers and not shard.holds(order.venue, order.symbol):
            return "not_holder"
        return msg
    if isinstance(msg, CancelOrder | OrderStatus):
        return msg if gw.order(msg.client_order_id) is not None else "unknown_order"
    if isinstance(msg, ListOrders):
        if msg.venue is not None and msg.venue not in gw.order_entry.venue_names():
            return "no_order_venue"
        return msg
    return msg  # SetTradingMode, State


def _subscribe(msg: Subscribe, gw: Gateway) -> Subscribe | str:
    known = gw.venue_symbols()
    if not gw.conductor.merges():
        known.pop(MERGED_PROVIDER, None)
    venues = list(known) if msg.venues is None else [v for v in msg.venues if v in known]
    if not venues:
        return "no_venue"
    symbols = msg.symbols
    if symbols is not None:
        quoted: set[str] = set()
        loading = False
        for venue in venues:
            loading |= known[venue] is None
            quoted |= known[venue] or frozenset()
        # A venue still loading its symbols cannot say yet: the bus asks to try again.
        symbols = symbols if loading else [s for s in symbols if s in quoted]
        if not symbols:
            return "no_symbol"
    if msg.venues is None and symbols == msg.symbols:
        return msg
    return msg.model_copy(
        update={"venues": venues if msg.venues is not None else None, "symbols": symbols}
    )
