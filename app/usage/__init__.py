"""Uses of models: the license decision, the fee, and the append-only receipt."""
