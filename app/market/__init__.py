"""The market: models for sale, versions for rent, and the leases that were paid."""
