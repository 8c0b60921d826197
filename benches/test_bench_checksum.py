"""``kraken_checksum`` over 10 + 10 levels of strings, against zlib in plain Python.

DESIGN.md's target for the checksum called from Python is <= 400 ns.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.reference import ref_kraken_checksum

from benches._workload import label, top10_strings
from tradegw._core import kraken_checksum

MATIC_CHECKSUM = 2439117997  # protocols.md §4.5: the inputs are that published book


@pytest.mark.benchmark(group="kraken-checksum-20-strings")
def test_kraken_checksum_core(benchmark: Any) -> None:
    asks, bids = top10_strings()
    label(benchmark, "core")
    assert benchmark(kraken_checksum, asks, bids) == MATIC_CHECKSUM


@pytest.mark.benchmark(group="kraken-checksum-20-strings")
def test_kraken_checksum_reference(benchmark: Any) -> None:
    asks, bids = top10_strings()
    label(benchmark, "reference")
    assert benchmark(ref_kraken_checksum, asks, bids) == MATIC_CHECKSUM
