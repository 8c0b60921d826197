"""Simulated trading accounts: a balance per asset, part of it reserved by open orders.

Amounts are integers of :data:`UNIT` (10**-18) of their asset whatever the asset, so a
balance moved between pairs of different precisions never rounds: a quantity at a pair's
``qty_precision`` q is ``qty * 10**(18 - q)`` units, a notional (price * qty, at ``pp + q``
decimals) ``notional * 10**(18 - pp - q)``. Venue endpoints render balances with
:func:`units_text` or their own format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from tradegw.sim.wire import fixed, parse_fixed

DECIMALS: Final = 18
"""Decimals of every balance."""
UNIT: Final = 10**DECIMALS
"""Units in one whole asset."""
_SCALE: Final[tuple[int, ...]] = tuple(10 ** (DECIMALS - d) for d in range(DECIMALS + 1))


def to_units(text: str) -> int:
    """Decimal text (``"1.5"``) as units.

    Raises:
        ValueError: not a plain decimal, or more than 18 decimals.
    """
    return parse_fixed(text, DECIMALS)


def units_text(units: int) -> str:
    """Units as plain decimal text without trailing zeros (``"1.5"``, ``"0"``)."""
    text = fixed(units, DECIMALS).rstrip("0")
    return text[:-1] if text.endswith(".") else text


def scale(value: int, decimals: int) -> int:
    """A fixed-point value at ``decimals`` as units (exact: ``decimals`` <= 18).

    Raises:
        ValueError: ``decimals`` above 18 (a value that cannot be held exactly).
    """
    if not 0 <= decimals <= DECIMALS:
        raise ValueError(f"an amount with {decimals} decimals cannot be held in units of 1e-18")
    return value * _SCALE[decimals]


@dataclass(slots=True)
class Balance:
    """One asset of an account."""

    total: int = 0
    """Everything the account holds, reserved or not."""
    reserved: int = 0
    """What open orders hold back."""

    @property
    def available(self) -> int:
        """What a new order may reserve."""
        return self.total - self.reserved


class Account:
    """One account's balances; every change keeps ``0 <= reserved <= total``."""

    def __init__(self, name: str, balances: Mapping[str, int]) -> None:
        self.name = name
        self._balances = {asset: Balance(total) for asset, total in balances.items()}

    def balance(self, asset: str) -> Balance:
        """The balance of ``asset`` (an empty one, recorded, if the account never held it)."""
        bal = self._balances.get(asset)
        if bal is None:
            bal = self._balances[asset] = Balance()
        return bal

    def balances(self) -> dict[str, Balance]:
        """Every asset's balance (copies)."""
        return {a: Balance(b.total, b.reserved) for a, b in self._balances.items()}

    def reserve(self, asset: str, units: int) -> bool:
        """Holds ``units`` back for an order; False (nothing held) when not available."""
        bal = self.balance(asset)
        if units < 0 or units > bal.available:
            return False
        bal.reserved += units
        return True

    def release(self, asset: str, units: int) -> None:
        """Gives back ``units`` an order held and did not spend."""
        bal = self.balance(asset)
        if not 0 <= units <= bal.reserved:
            raise ValueError(f"{self.name}: release {units} of {asset}, {bal.reserved} reserved")
        bal.reserved -= units

    def spend(self, asset: str, units: int) -> None:
        """Pays ``units`` out of what an order reserved (a fill)."""
        bal = self.balance(asset)
        if not 0 <= units <= bal.reserved:
            raise ValueError(f"{self.name}: spend {units} of {asset}, {bal.reserved} reserved")
        bal.reserved -= units
        bal.total -= units

    def credit(self, asset: str, units: int) -> None:
        """Adds ``units`` (what a fill brings in)."""
        if units < 0:
            raise ValueError(f"{self.name}: credit of {units} {asset}")
        self.balance(asset).total += units


class Accounts:
    """Every account of a simulator run, by name."""

    def __init__(
        self,
        balances: Mapping[str, Mapping[str, str]],
        *,
        assets: Iterable[str] = (),
        starting_balance: str | None = None,
    ) -> None:
        """``balances``: account name -> asset -> decimal text. With ``starting_balance``,
        every asset in ``assets`` an account does not name starts at that amount.

        Raises:
            ValueError: an amount is not plain decimal text.
        """
        start = None if starting_balance is None else to_units(starting_balance)
        assets = list(assets)
        self._accounts: dict[str, Account] = {}
        for name, named in balances.items():
            units = {asset: to_units(text) for asset, text in named.items()}
            negative = sorted(asset for asset, value in units.items() if value < 0)
            if negative:
                raise ValueError(f"account {name!r}: negative balance of {', '.join(negative)}")
            if start is not None:
                for asset in assets:
                    units.setdefault(asset, start)
            self._accounts[name] = Account(name, units)

    def __contains__(self, name: object) -> bool:
        return name in self._accounts

    def get(self, name: str) -> Account:
        """The account ``name``. Raises ``KeyError`` for an unknown one."""
        return self._accounts[name]

    def names(self) -> list[str]:
        """Every account's name."""
        return list(self._accounts)


__all__ = [
    "DECIMALS",
    "UNIT",
    "Account",
    "Accounts",
    "Balance",
    "scale",
    "to_units",
    "units_text",
]
