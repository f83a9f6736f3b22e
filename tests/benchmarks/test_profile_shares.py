"""benchmarks/profile_shares.py: shares of one method's samples by function, each function
counted once per stack (a recursive interpreter's frames would otherwise pass 100%)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from profile_shares import METHODS, function_of, shares, table

RAW = [
    "main (bench.py:1);finalize_block (/w/app/machine.py:9);use (/w/app/usage/handlers.py:3) 6\n",
    "main (bench.py:1);finalize_block (/w/app/machine.py:9);"
    "call (/w/ev.py:5);call (/w/ev.py:7);run (/w/ev.py:2) 3\n",
    "main (bench.py:1);check_tx (/w/app/machine.py:4) 5\n",
    "garbage\n",
]


def test_a_stack_counts_for_each_function_on_it_once() -> None:
    found = shares(RAW, METHODS["finalize_block"])
    assert found.samples == 9
    assert found.inclusive["call (ev.py)"] == 3  # twice on one stack, counted once
    assert found.inclusive["finalize_block (machine.py)"] == 9
    assert found.own == {"use (handlers.py)": 6, "run (ev.py)": 3}
    assert "check_tx (machine.py)" not in found.inclusive


def test_the_table_gives_percentages_of_the_methods_samples() -> None:
    rows = table(shares(RAW, METHODS["finalize_block"]), top=3).splitlines()
    assert rows[2] == "| `main (bench.py)` | 100.0 | 0.0 |"
    assert "| `use (handlers.py)` | 66.7 | 66.7 |" in rows


def test_a_frame_names_its_function_and_file() -> None:
    assert function_of("run (/work/main/app/ev.py:12)") == "run (ev.py)"
    assert function_of("<module>") == "<module>"
