"""The README documents what the code registers: every error code and every query path."""

from __future__ import annotations

from pathlib import Path

import app.machine  # noqa: F401  (registers every domain's errors)
from app.core.errors import registered
from app.machine import QUERIES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_registered_error_is_in_the_readme_table() -> None:
    missing = [
        f"{e.codespace}/{e.code} {e.name}"
        for e in registered()
        if f"| {e.codespace} | {e.code} | {e.name} |" not in README
    ]
    assert not missing, f"README's error table lacks {missing}"


def test_every_query_path_is_in_the_readme() -> None:
    missing = [path for path in QUERIES if f"`{path}`" not in README]
    assert not missing, f"README's query table lacks {missing}"
