"""The machine that runs a checked Program's ``authorize(ctx)`` under gas, memory and depth.

The program is compiled once into closures (``compiler``), never handed to ``exec``, ``eval`` or
``compile``; a run walks them with one ``Machine``: its meter, the module's globals, the current
call's locals. A failure anywhere becomes a ScriptRuntimeError (OutOfGas, MemoryExceeded)
carrying the line and column of the innermost node being evaluated and the gas used so far.

Depth is the interpreter's own count, never the host's stack: script calls nest at most
``max_call_depth`` deep and the nesting depths of the active calls' bodies add up to at most
``max_eval_depth``. Each level of nesting costs the host a bounded number of Python frames, so
``stack.frames_to_run`` bounds the whole run, and ``run_authorize`` makes sure the host's
recursion limit is above that before it starts: the script's own limits are always the ones
that stop it, at the same step on every validator.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.licenses.lang.checker import Program
from app.licenses.lang.compiler import Code, CompiledFunction, Return, compile_program
from app.licenses.lang.errors import (
    Fault,
    GasFault,
    MemoryExceeded,
    MemoryFault,
    OutOfGas,
    ScriptRuntimeError,
)
from app.licenses.lang.gas import CALL, Meter
from app.licenses.lang.limits import DEFAULT_LIMITS, Limits
from app.licenses.lang.runtime import Runtime
from app.licenses.lang.stack import ensure_host_frames, frames_to_check, frames_to_run
from app.licenses.lang.values import DecisionV, Key, Value, new_dict, size_of, to_value


@dataclass(frozen=True)
class Decision:
    """The answer of a license: allowed with a fee and a note, or denied with a reason."""

    allowed: bool
    fee: int
    note: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """A decision and the gas the evaluation used."""

    decision: Decision
    gas_used: int


def run_authorize(
    program: Program,
    ctx: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    gas_limit: int | None = None,
) -> Outcome:
    """Evaluate the module's constants, then ``authorize(ctx)``.

    ``gas_limit`` overrides ``limits.gas_limit`` (e.g. a smaller limit chosen by the caller).
    Converting the context costs gas too, one unit per unit of its size. Raises ScriptRuntimeError
    (OutOfGas, MemoryExceeded) when the script fails or returns anything but ``allow(...)`` /
    ``deny(...)``; TypeError / ValueError when the host's context cannot be converted (a float,
    an oversize value).
    """
    return run_decision(program, "authorize", ctx, limits, gas_limit)


def run_decision(
    program: Program,
    name: str,
    ctx: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    gas_limit: int | None = None,
) -> Outcome:
    """Like ``run_authorize`` for the function ``name`` (``authorize`` or ``derive``), which
    must return ``allow(...)`` or ``deny(...)``; raises as ``run_authorize`` does."""
    machine, result = _run(program, name, ctx, limits, gas_limit)
    if type(result) is not DecisionV:
        node = program.functions[name].node
        raise ScriptRuntimeError(
            node.lineno,
            node.col_offset + 1,
            f"{name} must return allow(...) or deny(...)",
            machine.meter.gas,
        )
    return Outcome(
        Decision(result.allowed, result.fee, result.note, result.reason), machine.meter.gas
    )


MAX_BASIS_POINTS = 10_000


def run_royalty(
    program: Program,
    ctx: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    gas_limit: int | None = None,
) -> tuple[int, int]:
    """Evaluate ``royalty(ctx)``: (basis points 0..10,000, gas used). Raises ScriptRuntimeError
    when the script fails or answers anything but an integer in that range, and as
    ``run_authorize`` for the context."""
    machine, result = _run(program, "royalty", ctx, limits, gas_limit)
    if type(result) is not int or not 0 <= result <= MAX_BASIS_POINTS:
        node = program.functions["royalty"].node
        raise ScriptRuntimeError(
            node.lineno,
            node.col_offset + 1,
            "royalty must return an integer number of basis points, 0 to 10000",
            machine.meter.gas,
        )
    return result, machine.meter.gas


def _run(
    program: Program,
    name: str,
    ctx: Mapping[str, Any],
    limits: Limits,
    gas_limit: int | None,
) -> tuple[Machine, Value]:
    """Run the module body, then ``name(ctx)``, on a fresh machine."""
    ensure_host_frames(frames_to_run(limits))
    record = to_value(ctx, limits, "ctx")
    machine = Machine(program, limits, limits.gas_limit if gas_limit is None else gas_limit)
    return machine, machine.run(record, name)


_CODE_ATTRIBUTE = "_compiled_code"


def compiled_code(program: Program) -> Code:
    """The program's compiled code, made on first use and kept with the (immutable) program,
    so a cached program is compiled once however often it runs."""
    code = program.__dict__.get(_CODE_ATTRIBUTE)
    if not isinstance(code, Code):
        ensure_host_frames(frames_to_check(program.depth))
        code = compile_program(program)
        object.__setattr__(program, _CODE_ATTRIBUTE, code)
    return code


class Machine(Runtime):
    """One evaluation: a meter, the module's globals and the current call's locals."""

    def __init__(self, program: Program, limits: Limits, gas_limit: int) -> None:
        super().__init__(Meter(gas_limit, limits.memory_limit), limits)
        self.program = program
        self.code = compiled_code(program)
        self.spend = self.meter.charge
        self.globals: dict[str, Value] = {}
        self.scope: dict[str, Value] = self.globals
        self.functions: dict[str, tuple[CompiledFunction, tuple[Value, ...]]] = {}
        self.calls = 0
        self.units = 0

    def run(self, ctx: Value, name: str = "authorize") -> Value:
        """Run the module body, then ``name(ctx)`` (authorize, or a lineage hook); raises
        ScriptRuntimeError on failure."""
        node = self.program.functions[name].node
        line, col = node.lineno, node.col_offset + 1
        try:
            self.spend(size_of(ctx))  # converting the context: one unit per value and char
        except Fault as fault:
            raise self.located(fault, line, col) from None
        self.code.module(self)
        try:
            return self.call(name, [ctx])
        except Fault as fault:
            raise self.located(fault, line, col) from None

    def located(self, fault: Fault, line: int, col: int) -> ScriptRuntimeError:
        """The fault as a ScriptRuntimeError at (line, 1-based column)."""
        if isinstance(fault, GasFault):
            return OutOfGas(line, col, fault.reason, min(self.meter.gas, self.meter.gas_limit))
        kind = MemoryExceeded if isinstance(fault, MemoryFault) else ScriptRuntimeError
        return kind(line, col, fault.reason, self.meter.gas)

    def define(self, name: str, defaults: tuple[Value, ...]) -> None:
        """A ``def`` ran: the function exists from now on, with its defaults evaluated."""
        self.functions[name] = (self.code.functions[name], defaults)

    def call(self, name: str, args: list[Value]) -> Value:
        """Call a script function with positional arguments (arity was checked statically).

        A call costs CALL plus one per parameter (the frame it fills), and is refused past the
        call-depth and evaluation-depth limits.
        """
        found = self.functions.get(name)
        if found is None:
            raise Fault(f"function '{name}' is not defined yet")
        function, defaults = found
        info = function.info
        if self.calls >= self.limits.max_call_depth:
            raise Fault(
                f"call depth limit {self.limits.max_call_depth} exceeded in "
                f"'{name}' (recursion too deep)"
            )
        if self.units + info.depth > self.limits.max_eval_depth:
            raise Fault(
                f"evaluation depth limit {self.limits.max_eval_depth} exceeded in "
                f"'{name}' (nested calls too deep)"
            )
        self.spend(CALL + len(info.params))
        frame: dict[str, Value] = dict(zip(info.params, args, strict=False))
        missing = len(info.params) - len(args)
        if missing > 0:
            given = len(args)
            frame.update(zip(info.params[given:], defaults[len(defaults) - missing :], strict=True))
        saved = self.scope
        self.scope = frame
        self.calls += 1
        self.units += info.depth
        signal = function.body(self)
        self.calls -= 1
        self.units -= info.depth
        self.scope = saved
        return signal.value if isinstance(signal, Return) else None

    def compare(self, kind: type, left: Value, right: Value) -> bool:
        """One comparison of a (possibly chained) Compare."""
        if kind is ast.Eq:
            return self.eq(left, right)
        if kind is ast.NotEq:
            return not self.eq(left, right)
        if kind is ast.In:
            return self.contains(right, left)
        if kind is ast.NotIn:
            return not self.contains(right, left)
        if kind is ast.Is:
            return left is None
        if kind is ast.IsNot:
            return left is not None
        sign = self.cmp(left, right)
        if kind is ast.Lt:
            return sign < 0
        if kind is ast.LtE:
            return sign <= 0
        if kind is ast.Gt:
            return sign > 0
        return sign >= 0

    def key_of(self, key: Value) -> Key:
        """A dict key (str or int); raises Fault otherwise."""
        return self._key(key)

    def make_dict(self, items: dict[Key, Value]) -> Value:
        """A new dict: each entry costs its key's hashing and two units of memory."""
        self.meter.charge(len(items) + sum(_key_size(k) for k in items))
        self.meter.allocate(2 * len(items) + 1)
        return new_dict(items, self.limits)

    def iterate(self, value: Value, what: str) -> Iterable[Value]:
        """What a for loop walks: list items, dict keys or string characters, lazily."""
        return self.lazy_elements(value, what)


def _key_size(key: Key) -> int:
    return len(key) if type(key) is str else 1
