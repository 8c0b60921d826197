"""The dispatcher: per-stream ordering, routing and per-consumer fan-out.

It knows nothing of venue wire formats: providers hand it canonical events, consumers take
them from their :class:`~tradegw.consumers.Subscription`.
"""

from tradegw.dispatch.dispatcher import BookSource, Dispatcher
from tradegw.dispatch.routing import RouteFilter, RoutingTable

__all__ = ["BookSource", "Dispatcher", "RouteFilter", "RoutingTable"]
