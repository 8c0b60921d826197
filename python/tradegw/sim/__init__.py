"""Venue simulators: real wire protocols on 127.0.0.1, driven by seeded synthetic markets.

What every venue shares lives here: the market model (:mod:`.market`), instruments
(:mod:`.instruments`), wire text helpers (:mod:`.wire`), fault injection (:mod:`.faults`), the
subscription index and feed base (:mod:`.subscriptions`, :mod:`.feed`), the connection and
server bases (:mod:`.connection`, :mod:`.server`), config, statistics, the command line and the
registry. Each venue lives in its own subpackage (``tradegw.sim.kraken``) with only its wire
format, requests, REST endpoints, naming and checksum/sequence code. A simulator runs
in-process (tests, the gateway's embedded mode) or alone: ``python -m tradegw.sim <venue>``.
"""
