"""Configuration of one Kraken simulator run."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, model_validator

from tradegw.sim.config import SimConfig

DUPLICATE_ORDER_ERROR = "EOrder:Duplicate order"
"""What the simulator answers an order whose ``cl_ord_id`` an open order of the account
uses. Kraken does not publish this text (protocols.md §6); third-party code assumes it."""


class KrakenSimConfig(SimConfig):
    """Everything that shapes a Kraken run (see :class:`SimConfig`). Pairs are v2 symbols.

    ``api_keys`` map an API key to its ``secret`` (base64, as Kraken issues them) and the
    account it trades for; private REST calls and WebSocket tokens are checked against them.
    """

    pairs: int | list[str] = Field(
        default=5,
        description="how many pairs (the instrument table first, then SYMnn/USD), "
        "or their v2 symbols (BTC/USD)",
    )
    duplicate_order_error: str = Field(
        default=DUPLICATE_ORDER_ERROR,
        pattern=r"^[EW][A-Za-z]+:[ -~]{1,200}$",
        description="the error an order gets whose cl_ord_id an open order of the account "
        "uses (the venue's exact text is unpublished)",
    )
    ws_token_ttl_s: float = Field(
        default=900.0,
        gt=0.0,
        le=86_400.0,
        description="how long a GetWebSocketsToken token may wait for its first private "
        "subscription (it stays valid while one lasts)",
    )
    ack_hold_s: float = Field(
        default=60.0,
        gt=0.0,
        le=3600.0,
        description="how long a REST order whose answer is lost (order_ack_lost) is held "
        "open without one, at most, when the client does not give up first",
    )

    @model_validator(mode="after")
    def _secrets_are_base64(self) -> KrakenSimConfig:
        for key, spec in self.api_keys.items():
            shown = key[:6] + "..." if len(key) > 6 else key
            if spec.secret is None:
                raise ValueError(f"api key {shown!r}: Kraken keys sign with a secret")
            try:
                base64.b64decode(spec.secret, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"api key {shown!r}: the secret is not base64") from None
        return self


__all__ = ["DUPLICATE_ORDER_ERROR", "KrakenSimConfig"]
