"""Venue simulators: real wire protocols on 127.0.0.1, driven by seeded synthetic markets.

Each venue lives in its own subpackage (``tradegw.sim.kraken``) and can run in-process (tests,
the gateway's embedded mode) or alone: ``python -m tradegw.sim <venue> --help``.
"""
