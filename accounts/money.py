"""Credits as ``Decimal`` USD in Python, integer micro-USD in the database, 2-6 decimals in JSON."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICROS_PER_USD = 1_000_000
_MICRO = Decimal("0.000001")


def to_micros(amount: Decimal) -> int:
    """Whole micro-USD of ``amount`` (half-up beyond the sixth decimal). Negative amounts are a bug."""
    if not isinstance(amount, Decimal):
        # A float here would already have lost cents; make the caller say Decimal("0.10").
        raise TypeError(f"money must be Decimal, got {type(amount).__name__}")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"money must be a finite, non-negative amount, got {amount}")
    return int((amount * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS_PER_USD).quantize(_MICRO)


def format_usd(amount: Decimal) -> str:
    """``Decimal("5")`` -> ``"5.00"``, ``Decimal("0.125")`` -> ``"0.125"``: at least 2, at most 6 decimals."""
    text = f"{amount.quantize(_MICRO, rounding=ROUND_HALF_UP):f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{whole}.{fraction}"
