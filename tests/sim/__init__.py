"""Tests of the venue simulators (tradegw.sim)."""
