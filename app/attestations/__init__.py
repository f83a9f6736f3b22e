"""Attestations: append-only records of training, evaluation and validation runs about versions."""
