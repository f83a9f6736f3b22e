"""The license-script language: a checked Python subset evaluated under gas and memory bounds.

``check_script`` parses and checks a script at deploy time; ``run_authorize`` evaluates its
``authorize(ctx)`` for one use; ``worst_case_gas`` bounds its gas statically where it can. See
``context`` for the fields of ``ctx`` and the DESIGN section "License scripts".
"""

from app.licenses.lang.bound import worst_case_gas
from app.licenses.lang.checker import FunctionInfo, Program, check_script, code_hash
from app.licenses.lang.errors import MemoryExceeded, OutOfGas, ScriptError, ScriptRuntimeError
from app.licenses.lang.evaluator import (
    MAX_BASIS_POINTS,
    Decision,
    Outcome,
    run_authorize,
    run_decision,
    run_royalty,
)
from app.licenses.lang.limits import Limits
from app.licenses.lang.values import Prepared, to_value

__all__ = [
    "MAX_BASIS_POINTS",
    "Decision",
    "FunctionInfo",
    "Limits",
    "MemoryExceeded",
    "OutOfGas",
    "Outcome",
    "Prepared",
    "Program",
    "ScriptError",
    "ScriptRuntimeError",
    "check_script",
    "code_hash",
    "run_authorize",
    "run_decision",
    "run_royalty",
    "to_value",
    "worst_case_gas",
]
