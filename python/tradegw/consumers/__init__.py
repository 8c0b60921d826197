"""Consumers: how user code receives events.

``async for event in gateway.subscribe(symbols=..., types=...)``, or a callback. Each
subscription has its own bounded, coalescing queue, so one slow consumer never slows another.
"""

from tradegw.consumers.subscription import Subscription, SubscriptionStats

__all__ = ["Subscription", "SubscriptionStats"]
