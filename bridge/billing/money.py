"""Currency exponents (ISO 4217, as billing providers use them), and minor → major unit conversion.

Amounts in minor units are integers in the currency's smallest unit; for zero-decimal currencies the integer is
already the major unit, and a few currencies have three decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def exponent(currency: str | None) -> int:
    """How many decimal places the currency's minor unit has (2 unless listed otherwise)."""
    code = (currency or "").strip().lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount_minor: int | float | str | None, currency: str | None) -> float | None:
    """Minor units as major units, rounded half-up to the currency's exponent; None stays None."""
    if amount_minor is None:
        return None
    places = exponent(currency)
    major = _decimal(amount_minor).scaleb(-places)
    return float(major.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def round_half_up(value: float, places: int = 2) -> float:
    """Round for display the way people expect (2.345 → 2.35), not the way binary floats do."""
    return float(_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _decimal(amount: int | float | str) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise TypeError(f"an amount must be a number, not {type(amount).__name__}")
    try:
        value = Decimal(str(amount).strip()) if isinstance(amount, str) else Decimal(repr(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    return value
