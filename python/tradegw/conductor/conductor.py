"""The stage between providers and the dispatcher (DESIGN.md, "Shape": Providers →
Orchestrator → Dispatcher)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradegw.conductor.engine import MergeEngine, MergeStats

if TYPE_CHECKING:
    from tradegw.conductor.clock import MergeClock
    from tradegw.conductor.spec import MergeSpec
    from tradegw.dispatch import BookSource, Dispatcher
    from tradegw.schema import BookSnapshot, Event
    from tradegw.telemetry import Telemetry


class Conductor:
    """Forwards every provider event to the dispatcher unchanged and shows the book
    fragments of merged symbols to the :class:`MergeEngine`, whose merged events go to the
    dispatcher too.

    Providers are given the conductor where they were given the dispatcher (it is an
    :class:`~tradegw.providers.base.sink.EventSink`). An event of a symbol no merge watches
    costs one dict lookup here beyond the dispatcher's own work.
    """

    def __init__(
        self, dispatcher: Dispatcher, telemetry: Telemetry, clock: MergeClock | None = None
    ) -> None:
        self.dispatcher = dispatcher
        self.engine = MergeEngine(
            dispatcher.publish, dispatcher.book_snapshot, telemetry.counters, clock, telemetry.ops
        )
        # Bound once: publish runs for every event of every venue.
        self._forward = dispatcher.publish
        self._watched = self.engine.watched
        self._observe = self.engine.observe

    # ---- providers' side ----

    def publish(self, event: Event) -> None:
        """Hands ``event`` to the dispatcher, then to the merges watching its symbol (so a
        window closed by this fragment is published after it)."""
        self._forward(event)
        merges = self._watched.get(event.symbol)
        if merges is not None:
            self._observe(event, merges)

    def register_book_source(self, provider: str, source: BookSource) -> None:
        """Registers ``provider``'s books with the dispatcher (merges read them from there)."""
        self.dispatcher.register_book_source(provider, source)

    def book_snapshot(self, provider: str, symbol: str) -> BookSnapshot | None:
        """The provider's current book as a snapshot event, or None if it is not synced."""
        return self.dispatcher.book_snapshot(provider, symbol)

    # ---- merges ----

    def merge(self, spec: MergeSpec) -> None:
        """Starts a merge. Raises ``ValueError`` if its ``merge_id`` is in use."""
        self.engine.add(spec)

    def unmerge(self, merge_id: str) -> MergeSpec:
        """Stops a merge, discarding its open window. Raises ``KeyError`` for an unknown id."""
        return self.engine.remove(merge_id)

    def merges(self) -> list[MergeSpec]:
        """Every merge, in the order they were started."""
        return self.engine.specs()

    def merge_stats(self, merge_id: str) -> MergeStats:
        """One merge's figures. Raises ``KeyError`` for an unknown id."""
        return self.engine.stats(merge_id)

    def stop(self) -> int:
        """Discards every open window (a restart starts with none); returns how many."""
        return self.engine.discard_windows()
