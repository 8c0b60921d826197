"""Configuration of one simulator run: what every venue's config has."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar, overload

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradegw.safe_yaml import parse
from tradegw.sim.faults import FaultPlan

MAX_PAIRS = 10_000
"""Pairs of one run: each costs a book and its warm-up steps before the simulator serves."""

AMOUNT_PATTERN = r"^(?:0|[1-9][0-9]{0,20})(?:\.[0-9]{1,18})?$"
"""A non-negative plain decimal with at most 18 decimals (balances are kept to 10**-18)."""

PlanT = TypeVar("PlanT", bound=FaultPlan)
ConfigT = TypeVar("ConfigT", bound="SimConfig")


AccountName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
"""An account's name in a run: 1-64 letters, digits and ``_ . -``."""


class AccountConfig(BaseModel):
    """One trading account of a run."""

    model_config = ConfigDict(extra="forbid")

    balances: dict[
        Annotated[str, Field(pattern=r"^[A-Z0-9]{1,16}$")],
        Annotated[str, Field(pattern=AMOUNT_PATTERN)],
    ] = Field(
        default_factory=dict,
        description="asset -> starting balance as decimal text; assets not named start at "
        "starting_balance",
    )


class ApiKeyConfig(BaseModel):
    """One API key the simulator accepts, and the account it trades for. A venue that signs
    with a shared secret (Binance HMAC, Kraken API-Sign) checks with ``secret``; one that
    signs with a private key (Coinbase CDP JWT, Binance Ed25519) checks with
    ``public_key_pem``."""

    model_config = ConfigDict(extra="forbid")

    account: AccountName = "default"
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    public_key_pem: str | None = Field(default=None, min_length=1, max_length=8192)


def _default_accounts() -> dict[str, AccountConfig]:
    return {"default": AccountConfig()}


class SimConfig(BaseModel):
    """Everything that shapes a run. Ports 0 pick free ports.

    A venue's config subclasses this (adding its own fields, or a :class:`FaultPlan` subclass
    with its own fault kinds as the type of ``faults``). Floats are finite and every number
    has an upper bound, so that no setting overflows a timer or makes start-up endless.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    host: str = "127.0.0.1"
    ws_port: int = Field(default=0, ge=0, le=65535)
    rest_port: int = Field(default=0, ge=0, le=65535)
    inspect_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve the matching engine's orders and counters over HTTP on this port "
        "of its own (0: any free one; None: not at all), see tradegw.sim.inspection",
    )
    pairs: int | list[str] = Field(
        default=5,
        description="how many pairs (the instrument table first, then SYMnn), "
        "or their symbols in the venue's own spelling",
    )
    rate: float = Field(
        default=1000.0,
        ge=0.0,
        le=1e6,
        description="target data messages per second over all subscribed pairs (0 = frozen)",
    )
    seed: int = Field(default=1, ge=-(2**63), le=2**63 - 1)
    book_levels: int = Field(
        default=300, ge=10, le=5000, description="levels per side of full books"
    )
    warmup_steps: int = Field(
        default=100, ge=0, le=10_000, description="market steps per pair before serving"
    )
    heartbeat_interval: float = Field(default=1.0, gt=0.0, le=3600.0)
    faults: FaultPlan = Field(default_factory=FaultPlan)
    stamp_send_ns: bool = Field(
        default=False,
        description='add "sim_send_ns" (monotonic ns at send) to data frames (benches)',
    )
    accounts: dict[AccountName, AccountConfig] = Field(
        default_factory=_default_accounts,
        max_length=1_000,
        description="trading accounts by name (the venue maps its API keys to them)",
    )
    api_keys: dict[Annotated[str, Field(min_length=1, max_length=256)], ApiKeyConfig] = Field(
        default_factory=dict,
        max_length=1_000,
        description="API key -> what checks its signatures and the account it trades for; "
        "a request signed with any other key is refused as the venue refuses it",
    )
    starting_balance: str | None = Field(
        default="1000000",
        pattern=AMOUNT_PATTERN,
        description="what every asset of the run starts at in an account that names no "
        "balance for it; None = nothing",
    )
    maker_fee_ppm: int = Field(
        default=1_000, ge=0, le=1_000_000, description="maker fee, parts per million (0.1 %)"
    )
    taker_fee_ppm: int = Field(
        default=2_000, ge=0, le=1_000_000, description="taker fee, parts per million (0.2 %)"
    )
    max_write_buffer: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        le=2**32,
        description="bytes queued for a client beyond which it is cut off as too slow",
    )

    @model_validator(mode="after")
    def _keys_name_accounts(self) -> SimConfig:
        for key, spec in self.api_keys.items():
            if spec.account not in self.accounts:
                shown = key[:6] + "..." if len(key) > 6 else key
                raise ValueError(
                    f"api key {shown!r} trades for account {spec.account!r}, which is not in "
                    f"accounts ({sorted(self.accounts)[:10]})"
                )
        return self

    @field_validator("pairs")
    @classmethod
    def _pairs_valid(cls, value: int | list[str]) -> int | list[str]:
        if isinstance(value, int) and value < 1:
            raise ValueError("pairs must be at least 1")
        if isinstance(value, int) and value > MAX_PAIRS:
            raise ValueError(f"pairs must be at most {MAX_PAIRS}")
        if isinstance(value, list) and not value:
            raise ValueError("pairs must not be empty")
        if isinstance(value, list) and len(value) > MAX_PAIRS:
            raise ValueError(f"pairs must list at most {MAX_PAIRS} symbols")
        return value


def resolve_config(
    config_type: type[ConfigT], config: ConfigT | None, overrides: dict[str, Any]
) -> ConfigT:
    """``config`` with ``overrides`` applied (validated), or a new config from them alone.

    Raises:
        ValueError: an override is invalid (pydantic's ``ValidationError`` is one).
    """
    if config is None:
        return config_type.model_validate(overrides)
    if not overrides:
        return config
    return config_type.model_validate({**config.model_dump(), **overrides})


_MAX_FAULT_FILE = 1024 * 1024


def read_fault_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a fault plan YAML file: ``{faults: [...]}`` or just the list.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not YAML (``yaml.YAMLError`` is re-raised as ``ValueError``).
    """
    with Path(path).open("rb") as f:
        data = f.read(_MAX_FAULT_FILE + 1)
    if len(data) > _MAX_FAULT_FILE:
        raise ValueError(f"{path}: fault file larger than {_MAX_FAULT_FILE} bytes")
    try:
        raw: Any = parse(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    if raw is None:
        return {"faults": []}
    if isinstance(raw, list):
        return {"faults": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a list of faults or a mapping with 'faults'")
    return raw


@overload
def load_fault_plan(path: str | Path) -> FaultPlan: ...
@overload
def load_fault_plan(path: str | Path, plan_type: type[PlanT]) -> PlanT: ...
def load_fault_plan(path: str | Path, plan_type: type[FaultPlan] = FaultPlan) -> FaultPlan:
    """Read a fault plan from YAML: ``{faults: [...]}`` or just the list of specs.

    ``plan_type`` is the venue's plan class when it has fault kinds of its own.

    Raises:
        ValueError: the file does not hold a valid plan (pydantic's ``ValidationError`` is one).
        OSError: the file cannot be read.
    """
    return plan_type.model_validate(read_fault_file(path))
