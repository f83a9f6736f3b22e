"""The documented vocabulary of purposes a use declares and a license script decides on."""

from __future__ import annotations

PURPOSES = (
    "research",
    "evaluation",
    "inference",
    "commercial-inference",
    "fine-tune",
    "redistribution",
    "download",
    "training",
)
DOWNLOAD_PURPOSES = ("download", "fine-tune", "redistribution", "training")
"""Purposes whose receipt lets the consumer's org pull the weights."""
