"""Registered errors of the credits codespace; numbers never change once released."""

from app.core.errors import register

CREDITS = "credits"
INSUFFICIENT = register(CREDITS, 1, "insufficient_credits", "the paying org's balance is too low")
UNKNOWN_ORG = register(CREDITS, 2, "unknown_org", "no organisation with this id")
BAD_AMOUNT = register(CREDITS, 3, "bad_amount", "an amount must be a positive integer")
SAME_ORG = register(CREDITS, 4, "same_org", "an organisation cannot pay itself")
BALANCE_OVERFLOW = register(
    CREDITS, 5, "balance_overflow", "the receiving org's balance would pass 2^63-1"
)
