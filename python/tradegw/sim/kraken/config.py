"""Configuration of one Kraken simulator run."""

from __future__ import annotations

from pydantic import Field

from tradegw.sim.config import SimConfig


class KrakenSimConfig(SimConfig):
    """Everything that shapes a Kraken run (see :class:`SimConfig`). Pairs are v2 symbols."""

    pairs: int | list[str] = Field(
        default=5,
        description="how many pairs (the instrument table first, then SYMnn/USD), "
        "or their v2 symbols (BTC/USD)",
    )
