"""Registered errors of the usage codespace; numbers never change once released."""

from app.core.errors import register

USAGE = "usage"
INVALID_PURPOSE = register(USAGE, 1, "invalid_purpose", "the purpose is not in the vocabulary")
INVALID_QUANTITY = register(USAGE, 2, "invalid_quantity", "quantity must be 1 to 2^32")
NO_LICENSE = register(USAGE, 3, "no_license", "no license governs this version")
DENIED = register(USAGE, 4, "denied", "the license denied this use")
OUT_OF_GAS = register(USAGE, 5, "out_of_gas", "the license script ran out of gas")
MEMORY_EXCEEDED = register(USAGE, 6, "memory_exceeded", "the license script built too much data")
SCRIPT_FAILED = register(USAGE, 7, "script_failed", "the license script failed while deciding")
FEE_ABOVE_MAX = register(USAGE, 8, "fee_above_max", "the license asks more than max_fee")
VERSION_REVOKED = register(USAGE, 9, "version_revoked", "a revoked version cannot be used")
VERSION_NOT_FOUND = register(USAGE, 10, "version_not_found", "no such version")
BAD_QUERY = register(USAGE, 11, "bad_receipt_query", "the receipt query is not valid")
FEE_OUT_OF_RANGE = register(USAGE, 12, "fee_out_of_range", "the license asks a fee above 2^63-1")
COUNTER_OVERFLOW = register(
    USAGE, 13, "counter_overflow", "the consumer's usage counter would pass 2^64-1"
)
IDS_EXHAUSTED = register(USAGE, 14, "ids_exhausted", "every receipt id has been used")
INVALID_PERIOD = register(
    USAGE, 15, "invalid_period", "the license's period_seconds is not 1 to 2^64-1"
)
LICENSOR_REMOVED = register(
    USAGE, 16, "licensor_removed", "the model's owner is no longer a member of the consortium"
)
