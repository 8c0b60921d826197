"""The conductor: the orchestrator between providers and the dispatcher, and its windowed
merge engine.

- :mod:`.conductor` — :class:`Conductor`: forwards every event to the dispatcher and shows
  merged symbols' book fragments to the engine.
- :mod:`.engine` — :class:`MergeEngine`: windows open on a fragment, close by time or count,
  emit or are suppressed.
- :mod:`.window` — :class:`MergeWindow`: one open window's counts.
- :mod:`.consolidate` — several venues' books as one, in exact decimals.
- :mod:`.spec` — :class:`MergeSpec`: what a merge is, validated.
- :mod:`.clock` — the time and timers the engine uses (the event loop's, or a test's).
"""

from tradegw.conductor.clock import LoopClock, MergeClock, Timer
from tradegw.conductor.conductor import Conductor
from tradegw.conductor.consolidate import ConsolidatedBook, consolidate
from tradegw.conductor.engine import CLOSE_TOLERANCE_S, FRAGMENT_TYPES, MergeEngine, MergeStats
from tradegw.conductor.spec import MergeSpec, new_merge_id
from tradegw.conductor.window import MergeWindow

__all__ = [
    "CLOSE_TOLERANCE_S",
    "FRAGMENT_TYPES",
    "Conductor",
    "ConsolidatedBook",
    "LoopClock",
    "MergeClock",
    "MergeEngine",
    "MergeSpec",
    "MergeStats",
    "MergeWindow",
    "Timer",
    "consolidate",
    "new_merge_id",
]
