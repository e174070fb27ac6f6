"""What M-Pesa can move: whole shillings between a minimum and KES 250,000."""

from __future__ import annotations

from app.domain import mpesa
from app.domain.money import format_kes
from app.errors import refused


def check_mpesa_amount(amount: object, *, minimum: int, what: str) -> int:
    """Raises ValidationFailed ('invalid_amount') unless M-Pesa can move `amount` cents
    as `what` ('a deposit', 'a withdrawal'): whole shillings from minimum to the cap."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise refused("invalid_amount", "the amount must be whole cents")
    if not minimum <= amount <= mpesa.MAX_PAYMENT:
        raise refused(
            "invalid_amount",
            f"{what} is from KES {format_kes(minimum)} to KES {format_kes(mpesa.MAX_PAYMENT)}",
        )
    try:
        mpesa.shillings(amount)
    except mpesa.NotWholeShillings:
        raise refused("invalid_amount", "M-Pesa moves whole shillings only") from None
    return amount
