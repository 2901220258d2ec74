"""Money: integer minor units plus an ISO-4217 currency. Never a float."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from panorama.errors import ContractError

# ISO-4217 minor-unit exponents that differ from the default of 2.
_EXPONENTS = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "XOF": 0, "XAF": 0,
    "PYG": 0, "UGX": 0, "RWF": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}
DEFAULT_EXPONENT = 2


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (JPY 0, EUR 2, KWD 3)."""
    return _EXPONENTS.get(currency, DEFAULT_EXPONENT)


class Money(BaseModel):
    """An amount in the currency's minor units (cents, yen, fils)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_minor: int
    currency: str

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str) -> Money:
        """Exact conversion; raises ContractError if ``amount`` has more decimals than the
        currency allows (19.999 EUR), rather than rounding money silently."""
        minor = amount.scaleb(currency_exponent(currency))
        if minor != minor.to_integral_value():
            raise ContractError("amount_minor", f"{amount} {currency} has more decimals than {currency} allows", "invalid_money")
        return cls(amount_minor=int(minor), currency=currency)
