"""What the demo strategy may spend on one venue: :class:`DemoWallet`.

The gateway has no balance query, so the strategy keeps its own books of the account its key
trades for: it starts from the account's starting balances (the simulator's config says
them), holds back what each open order may spend (a buy its price times quantity plus a fee
margin, in the quote asset; a sell its quantity, in the base asset), moves the assets on
each fill its ExecReports announce and lets go of the rest when the order ends. An order it
cannot pay for is never sent, so the venue never has to refuse one for funds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from tradegw.schema import TERMINAL_EXEC_STATES, ExecReport

FEE_MARGIN: Final = Decimal("0.01")
"""Held back for fees beyond a buy's price times quantity (venues charge 0.1-0.6 %)."""


def assets_of(symbol: str) -> tuple[str, str]:
    """``(base, quote)`` of a canonical symbol (``BTC-USD`` -> ``("BTC", "USD")``)."""
    base, _, quote = symbol.partition("-")
    return base, quote


@dataclass(slots=True)
class _Hold:
    asset: str
    amount: Decimal
    """What is still held back for the order."""
    per_unit: Decimal
    """Held per unit of base filled (a buy: its price plus the fee margin; a sell: 1)."""


class DemoWallet:
    """One venue's balances as the strategy knows them; all amounts are ``Decimal``.

    ``starting`` gives an asset's starting balance; None means the balances are not known
    (every order is taken to be affordable, and the venue decides).
    """

    def __init__(self, starting: Mapping[str, Decimal] | None, default: Decimal = Decimal(0)):
        self._known = starting is not None
        self._start = dict(starting or {})
        self._default = default
        self._moved: dict[str, Decimal] = {}
        self._holds: dict[str, _Hold] = {}

    def total(self, asset: str) -> Decimal:
        """What the account holds of ``asset``, held back or not."""
        return self._start.get(asset, self._default) + self._moved.get(asset, Decimal(0))

    def available(self, asset: str) -> Decimal:
        """What a new order may hold back."""
        held = sum((h.amount for h in self._holds.values() if h.asset == asset), Decimal(0))
        return self.total(asset) - held

    @staticmethod
    def cost(side: str, symbol: str, price: Decimal, qty: Decimal) -> tuple[str, Decimal]:
        """``(asset, amount)`` an order holds back."""
        base, quote = assets_of(symbol)
        if side == "buy":
            return quote, price * qty * (1 + FEE_MARGIN)
        return base, qty

    def affords(self, side: str, symbol: str, price: Decimal, qty: Decimal) -> bool:
        """Whether an order of ``qty`` at ``price`` can be paid for now."""
        if not self._known:
            return True
        asset, amount = self.cost(side, symbol, price, qty)
        return self.available(asset) >= amount

    def hold(self, cid: str, side: str, symbol: str, price: Decimal, qty: Decimal) -> None:
        """Holds back what order ``cid`` may spend."""
        asset, amount = self.cost(side, symbol, price, qty)
        per_unit = amount / qty if qty else Decimal(0)
        self._holds[cid] = _Hold(asset, amount, per_unit)

    def on_report(self, report: ExecReport) -> None:
        """Moves the assets of the fill ``report`` announces; lets go of what the order
        still holds once it has ended."""
        if report.last_fill_qty is not None and report.last_fill_price is not None:
            self._fill(report)
        if report.state in TERMINAL_EXEC_STATES:
            self._holds.pop(report.client_order_id, None)

    def on_ended(self, cid: str) -> None:
        """Lets go of what order ``cid`` holds (it was not sent after all)."""
        self._holds.pop(cid, None)

    def _fill(self, report: ExecReport) -> None:
        assert report.last_fill_qty is not None
        assert report.last_fill_price is not None
        qty, price = Decimal(report.last_fill_qty), Decimal(report.last_fill_price)
        base, quote = assets_of(report.symbol)
        sign = 1 if report.side == "buy" else -1
        self._move(base, sign * qty)
        self._move(quote, -sign * qty * price)
        if report.fee is not None:
            self._move(report.fee_asset or quote, -Decimal(report.fee))
        hold = self._holds.get(report.client_order_id)
        if hold is not None:
            hold.amount = max(Decimal(0), hold.amount - qty * hold.per_unit)

    def _move(self, asset: str, amount: Decimal) -> None:
        self._moved[asset] = self._moved.get(asset, Decimal(0)) + amount


__all__ = ["FEE_MARGIN", "DemoWallet", "assets_of"]
