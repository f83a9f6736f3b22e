"""Registered errors of the market codespace; numbers never change once released."""

from app.core.errors import register

MARKET = "market"
INVALID_FIELD = register(MARKET, 1, "invalid_field", "a field of the message is not valid")
BAD_PRICE = register(MARKET, 2, "bad_price", "a price is a whole number of credits, 1 to 2^63-1")
NOT_LISTED = register(MARKET, 3, "not_listed", "the model is not for sale")
PRICE_ABOVE_MAX = register(
    MARKET, 4, "price_above_max", "the price asked is above the buyer's max_price"
)
OWN_MODEL = register(MARKET, 5, "own_model", "an organisation cannot buy or rent its own model")
NO_OFFER = register(MARKET, 6, "no_offer", "the version is not offered for rent")
BAD_BLOCKS = register(MARKET, 7, "bad_blocks", "a lease lasts 1 block to the offer's maximum")
LEASE_ACTIVE = register(
    MARKET, 8, "lease_active", "the organisation already rents this version; lease after it ends"
)
PRICE_OVERFLOW = register(
    MARKET, 9, "price_overflow", "price per 1,000 blocks times blocks passes 2^63-1 credits"
)
IDS_EXHAUSTED = register(MARKET, 10, "ids_exhausted", "every lease id is used")
VERSION_UNAVAILABLE = register(
    MARKET, 11, "version_unavailable", "the version is not published, or revoked"
)
NOT_LEASABLE = register(
    MARKET,
    12,
    "not_leasable",
    "a version with upstream terms or federated contributors is paid per use, not rented",
)
TOO_MANY_OFFERS = register(
    MARKET, 13, "too_many_offers", "the model has the most lease offers allowed"
)
TERMS_NARROWED = register(
    MARKET,
    14,
    "terms_narrowed",
    "the offer no longer grants every purpose, or the download, the renter asked for",
)
VERSION_GONE = register(
    MARKET, 15, "version_gone", "a version the buyer pays for is not published, or revoked"
)
LICENSE_CHANGED = register(
    MARKET,
    16,
    "license_changed",
    "the license attached to the version is not the one the renter named",
)
LEASED = register(
    MARKET,
    17,
    "leased",
    "a lease of the model runs: it is sold or transferred after the last running lease ends",
)
