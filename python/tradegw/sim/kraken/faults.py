"""Fault injection on the Kraken simulator: the common plan, nothing Kraken adds.

Kraken's own part of the common kinds lives with its wire format: a book frame's corrupted
checksum (:class:`tradegw.sim.kraken.wire.BookFrame`) and its truncated frame
(:data:`tradegw.sim.kraken.wire.BAD_JSON`). The plan types are re-exported here for code that
imports them from the Kraken package.
"""

from tradegw.sim.faults import FAULT_KINDS, FaultInjector, FaultKind, FaultPlan, FaultSpec

__all__ = ["FAULT_KINDS", "FaultInjector", "FaultKind", "FaultPlan", "FaultSpec"]
