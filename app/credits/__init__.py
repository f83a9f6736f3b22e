"""Consortium credits: per-organisation balances that pay license fees; the total never changes."""
