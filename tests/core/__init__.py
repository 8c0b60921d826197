"""Tests of the native core, tradegw._core."""
