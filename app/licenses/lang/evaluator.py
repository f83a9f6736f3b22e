"""The tree-walking evaluator: runs a checked Program's ``authorize(ctx)`` under gas and memory.

It walks the ``ast`` nodes the checker accepted, never handing user code to ``exec``, ``eval``
or ``compile``. Each node costs gas before it runs; a failure anywhere becomes a
ScriptRuntimeError (OutOfGas, MemoryExceeded) carrying the line and column of the innermost node
being evaluated and the gas used so far. The evaluator's own recursion is bounded: expressions
nest at most ``max_ast_depth`` deep (checked), script calls at most ``max_call_depth`` deep, and
the sum of the nesting depths of the active calls at most ``max_eval_depth``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.licenses.lang.builtins import Builtins
from app.licenses.lang.checker import FunctionInfo, Program
from app.licenses.lang.errors import (
    Fault,
    GasFault,
    MemoryExceeded,
    MemoryFault,
    OutOfGas,
    ScriptRuntimeError,
)
from app.licenses.lang.gas import BUILTIN, CALL, ITER, NODE, Meter
from app.licenses.lang.limits import DEFAULT_LIMITS, Limits
from app.licenses.lang.values import (
    DecisionV,
    Key,
    Value,
    new_dict,
    to_value,
    truth,
)


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
    Raises ScriptRuntimeError (OutOfGas, MemoryExceeded) when the script fails or returns
    anything but ``allow(...)`` / ``deny(...)``; TypeError / ValueError when the host's context
    cannot be converted (a float, an oversize value).
    """
    record = to_value(ctx, limits, "ctx")
    machine = Machine(program, limits, limits.gas_limit if gas_limit is None else gas_limit)
    decision = machine.run(record)
    return Outcome(
        Decision(decision.allowed, decision.fee, decision.note, decision.reason),
        machine.meter.gas,
    )


class _Return:
    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value


_BREAK = object()
_CONTINUE = object()
_MISSING = object()
Signal = object | None


@dataclass(frozen=True)
class _Function:
    info: FunctionInfo
    defaults: tuple[Value, ...]


class Machine(Builtins):
    """One evaluation: a meter, the module's globals and the current call's locals."""

    def __init__(self, program: Program, limits: Limits, gas_limit: int) -> None:
        super().__init__(Meter(gas_limit, limits.memory_limit), limits)
        self.program = program
        self.globals: dict[str, Value] = {}
        self.functions: dict[str, _Function] = {}
        self.scope = self.globals
        self.local_names: frozenset[str] = frozenset()
        self.calls = 0
        self.units = 0
        self.builtins = self.builtin_table()
        self.expr: dict[type, Callable[[Any], Value]] = {
            ast.Constant: self.e_constant,
            ast.Name: self.e_name,
            ast.BinOp: self.e_binop,
            ast.UnaryOp: self.e_unaryop,
            ast.BoolOp: self.e_boolop,
            ast.Compare: self.e_compare,
            ast.IfExp: self.e_ifexp,
            ast.Call: self.e_call,
            ast.Subscript: self.e_subscript,
            ast.Attribute: self.e_attribute,
            ast.List: self.e_list,
            ast.Dict: self.e_dict,
        }
        self.stmt: dict[type, Callable[[Any], Signal]] = {
            ast.Assign: self.s_assign,
            ast.AugAssign: self.s_augassign,
            ast.If: self.s_if,
            ast.For: self.s_for,
            ast.Return: self.s_return,
            ast.Expr: self.s_expr,
            ast.Pass: self.s_pass,
            ast.Break: self.s_break,
            ast.Continue: self.s_continue,
            ast.FunctionDef: self.s_def,
        }
        self.binops: dict[type, Callable[[Value, Value], Value]] = {
            ast.Add: self.add,
            ast.Sub: self.sub,
            ast.Mult: self.mul,
            ast.FloorDiv: self.floordiv,
            ast.Mod: self.mod,
            ast.Pow: self.power,
        }

    def run(self, ctx: Value) -> DecisionV:
        """Run the module body, then authorize(ctx); raises ScriptRuntimeError on failure."""
        self.block(self.program.module.body)
        authorize = self.functions["authorize"]
        node = authorize.info.node
        try:
            result = self.call(authorize, [ctx])
        except Fault as fault:
            raise self.located(fault, node) from None
        if type(result) is not DecisionV:
            raise ScriptRuntimeError(
                node.lineno,
                node.col_offset + 1,
                "authorize must return allow(...) or deny(...)",
                self.meter.gas,
            )
        return result

    def located(self, fault: Fault, node: ast.AST) -> ScriptRuntimeError:
        """The fault as a ScriptRuntimeError at ``node``'s line and (1-based) column."""
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
        if isinstance(fault, GasFault):
            return OutOfGas(line, col, fault.reason, min(self.meter.gas, self.meter.gas_limit))
        kind = MemoryExceeded if isinstance(fault, MemoryFault) else ScriptRuntimeError
        return kind(line, col, fault.reason, self.meter.gas)

    # evaluation

    def ev(self, node: ast.expr) -> Value:
        """Evaluate an expression, one NODE of gas first."""
        try:
            meter = self.meter
            meter.gas += NODE
            if meter.gas > meter.gas_limit:
                meter.charge(0)
            return self.expr[type(node)](node)
        except Fault as fault:
            raise self.located(fault, node) from None

    def block(self, body: list[ast.stmt]) -> Signal:
        """Run statements until one returns a signal (break, continue, return)."""
        meter = self.meter
        for stmt in body:
            try:
                meter.gas += NODE
                if meter.gas > meter.gas_limit:
                    meter.charge(0)
                signal = self.stmt[type(stmt)](stmt)
            except Fault as fault:
                raise self.located(fault, stmt) from None
            if signal is not None:
                return signal
        return None

    def call(self, function: _Function, args: list[Value]) -> Value:
        """Call a script function with positional arguments (arity was checked statically)."""
        info = function.info
        if self.calls >= self.limits.max_call_depth:
            raise Fault(
                f"call depth limit {self.limits.max_call_depth} exceeded in "
                f"'{info.name}' (recursion too deep)"
            )
        if self.units + info.depth > self.limits.max_eval_depth:
            raise Fault(
                f"evaluation depth limit {self.limits.max_eval_depth} exceeded in "
                f"'{info.name}' (nested calls too deep)"
            )
        self.meter.charge(CALL)
        frame: dict[str, Value] = dict(zip(info.params, args, strict=False))
        missing = len(info.params) - len(args)
        if missing > 0:
            defaults = function.defaults[len(function.defaults) - missing :]
            frame.update(zip(info.params[len(args) :], defaults, strict=True))
        saved = self.scope, self.local_names
        self.scope, self.local_names = frame, info.local_names
        self.calls += 1
        self.units += info.depth
        signal = self.block(info.node.body)
        self.calls -= 1
        self.units -= info.depth
        self.scope, self.local_names = saved
        return signal.value if isinstance(signal, _Return) else None

    # expressions

    def e_constant(self, node: ast.Constant) -> Value:
        return node.value  # type: ignore[return-value]

    def e_name(self, node: ast.Name) -> Value:
        name = node.id
        value = self.scope.get(name, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        if name in self.local_names:
            raise Fault(f"local name '{name}' is used before it is assigned")
        value = self.globals.get(name, _MISSING)
        if value is _MISSING:
            raise Fault(f"name '{name}' is not assigned yet")
        return value  # type: ignore[return-value]

    def e_binop(self, node: ast.BinOp) -> Value:
        left = self.ev(node.left)
        return self.binops[type(node.op)](left, self.ev(node.right))

    def e_unaryop(self, node: ast.UnaryOp) -> Value:
        operand = self.ev(node.operand)
        if isinstance(node.op, ast.Not):
            return not truth(operand)
        if isinstance(node.op, ast.USub):
            return self.negate(operand)
        if type(operand) is not int:
            raise Fault("bad operand type for unary +: only int")
        return operand

    def e_boolop(self, node: ast.BoolOp) -> Value:
        is_and = isinstance(node.op, ast.And)
        value: Value = None
        for operand in node.values:
            value = self.ev(operand)
            if truth(value) != is_and:
                return value
        return value

    def e_compare(self, node: ast.Compare) -> Value:
        left = self.ev(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.ev(comparator)
            if not self.compare(op, left, right):
                return False
            left = right
        return True

    def compare(self, op: ast.cmpop, left: Value, right: Value) -> bool:
        """One comparison of a (possibly chained) Compare."""
        kind = type(op)
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

    def e_ifexp(self, node: ast.IfExp) -> Value:
        return self.ev(node.body) if truth(self.ev(node.test)) else self.ev(node.orelse)

    def e_call(self, node: ast.Call) -> Value:
        name = node.func.id  # type: ignore[attr-defined]
        args = [self.ev(arg) for arg in node.args]
        function = self.functions.get(name)
        if function is not None:
            return self.call(function, args)
        builtin = self.builtins.get(name)
        if builtin is None:
            raise Fault(f"function '{name}' is not defined yet")
        self.meter.charge(BUILTIN)
        kwargs = {kw.arg: self.ev(kw.value) for kw in node.keywords if kw.arg is not None}
        return builtin(args, kwargs)

    def e_subscript(self, node: ast.Subscript) -> Value:
        container = self.ev(node.value)
        index = node.slice
        if isinstance(index, ast.Slice):
            lower = None if index.lower is None else self.ev(index.lower)
            upper = None if index.upper is None else self.ev(index.upper)
            return self.slice(container, lower, upper)
        return self.index(container, self.ev(index))

    def e_attribute(self, node: ast.Attribute) -> Value:
        return self.attribute(self.ev(node.value), node.attr)

    def e_list(self, node: ast.List) -> Value:
        return self.make_list(tuple(self.ev(element) for element in node.elts))

    def e_dict(self, node: ast.Dict) -> Value:
        items: dict[Key, Value] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            assert key_node is not None
            key = self._key(self.ev(key_node))
            items[key] = self.ev(value_node)
        self.meter.charge(len(items))
        self.meter.allocate(2 * len(items) + 1)
        return new_dict(items, self.limits)

    # statements

    def s_assign(self, node: ast.Assign) -> Signal:
        value = self.ev(node.value)
        for target in node.targets:
            self.scope[target.id] = value  # type: ignore[attr-defined]
        return None

    def s_augassign(self, node: ast.AugAssign) -> Signal:
        target: ast.Name = node.target  # type: ignore[assignment]
        current = self.e_name(target)
        self.scope[target.id] = self.binops[type(node.op)](current, self.ev(node.value))
        return None

    def s_if(self, node: ast.If) -> Signal:
        if truth(self.ev(node.test)):
            return self.block(node.body)
        return self.block(node.orelse)

    def s_for(self, node: ast.For) -> Signal:
        name: str = node.target.id  # type: ignore[attr-defined]
        scope, meter, body = self.scope, self.meter, node.body
        for item in self.loop_items(node.iter):
            meter.charge(ITER)
            scope[name] = item
            signal = self.block(body)
            if signal is not None:
                if signal is _BREAK:
                    break
                if signal is not _CONTINUE:
                    return signal
        return None

    def loop_items(self, node: ast.expr) -> Iterable[Value]:
        """What a for loop iterates: a lazy range for ``range(...)``, else the value's items."""
        is_range = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "range"
        if not is_range or "range" in self.functions:
            return self.elements(self.ev(node), "for")
        assert isinstance(node, ast.Call)
        try:
            self.meter.charge(NODE + BUILTIN)
            return self.range_of([self.ev(arg) for arg in node.args])
        except Fault as fault:
            raise self.located(fault, node) from None

    def s_return(self, node: ast.Return) -> Signal:
        return _Return(None if node.value is None else self.ev(node.value))

    def s_expr(self, node: ast.Expr) -> Signal:
        self.ev(node.value)
        return None

    def s_pass(self, node: ast.Pass) -> Signal:
        return None

    def s_break(self, node: ast.Break) -> Signal:
        return _BREAK

    def s_continue(self, node: ast.Continue) -> Signal:
        return _CONTINUE

    def s_def(self, node: ast.FunctionDef) -> Signal:
        defaults = tuple(self.ev(default) for default in node.args.defaults)
        self.functions[node.name] = _Function(self.program.functions[node.name], defaults)
        return None
