"""Where a provider hands its events: the one thing a provider knows of what lies
downstream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tradegw.dispatch import BookSource
    from tradegw.schema import Event


class EventSink(Protocol):
    """What a provider calls downstream: the gateway gives it the
    :class:`~tradegw.conductor.Conductor` (which forwards to the dispatcher); tests may give it
    a :class:`~tradegw.dispatch.Dispatcher` directly."""

    def publish(self, event: Event) -> None:
        """Takes one canonical event, synchronously, from the provider's frame handler."""

    def register_book_source(self, provider: str, source: BookSource) -> None:
        """Lets whoever is downstream read ``provider``'s current books as snapshots."""
