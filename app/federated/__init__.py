"""Federated-learning rounds: open, submit updates, finalize into a version, or expire."""
