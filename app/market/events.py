"""Event types of the market domain: part of what clients and indexers subscribe to, so they
never change once released."""

from __future__ import annotations

LISTED = "market.listed"
"""A model was listed for sale, or its price changed."""
DELISTED = "market.delisted"
"""A listing ended without a sale: withdrawn, or closed by a transfer of the model."""
SOLD = "market.sold"
"""A model was bought: credits to the seller, the model to the buyer."""
LEASE_OFFERED = "market.lease_offered"
"""A version was offered for rent, or its offer changed."""
LEASE_WITHDRAWN = "market.lease_withdrawn"
"""A lease offer ended: withdrawn, or closed by a transfer of the model."""
LEASED = "market.leased"
"""A version was rented for a number of blocks, paid up front."""
