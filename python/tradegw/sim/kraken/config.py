"""Configuration of one Kraken simulator run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tradegw.sim.kraken.faults import FaultPlan


class KrakenSimConfig(BaseModel):
    """Everything that shapes a run. Ports 0 pick free ports."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    ws_port: int = Field(default=0, ge=0, le=65535)
    rest_port: int = Field(default=0, ge=0, le=65535)
    pairs: int | list[str] = Field(
        default=5, description="how many pairs (table first, then SYMnn/USD), or their v2 symbols"
    )
    rate: float = Field(
        default=1000.0,
        ge=0.0,
        description="target data messages per second over all subscribed pairs (0 = frozen)",
    )
    seed: int = 1
    book_levels: int = Field(
        default=300, ge=10, le=5000, description="levels per side of full books"
    )
    warmup_steps: int = Field(default=100, ge=0, description="market steps per pair before serving")
    heartbeat_interval: float = Field(default=1.0, gt=0.0)
    faults: FaultPlan = Field(default_factory=FaultPlan)
    stamp_send_ns: bool = Field(
        default=False,
        description='add "sim_send_ns" (monotonic ns at send) to data frames (benches)',
    )
    max_write_buffer: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="bytes queued for a client beyond which it is cut off as too slow",
    )

    @field_validator("pairs")
    @classmethod
    def _pairs_valid(cls, value: int | list[str]) -> int | list[str]:
        if isinstance(value, int) and value < 1:
            raise ValueError("pairs must be at least 1")
        if isinstance(value, list) and not value:
            raise ValueError("pairs must not be empty")
        return value


def load_fault_plan(path: str | Path) -> FaultPlan:
    """Read a fault plan from YAML: ``{faults: [...]}`` or just the list of specs.

    Raises:
        ValueError: the file does not hold a valid plan (pydantic's ``ValidationError`` is one).
    """
    raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if raw is None:
        return FaultPlan()
    if isinstance(raw, list):
        raw = {"faults": raw}
    return FaultPlan.model_validate(raw)
