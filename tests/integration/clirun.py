"""Running the installed ``modelgov`` command as a user would, for the integration tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def modelgov(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI from this virtual environment; never raises on a non-zero exit."""
    binary = Path(sys.executable).parent / "modelgov"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
