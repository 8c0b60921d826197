"""Test suite of tradegw (a package so tests can import tests.reference)."""
