"""Compile a checked Program into closures, once, so that evaluating it is a chain of calls.

Every node of the checked tree becomes one closure taking the running machine (a
``runtime.Runtime``): expressions return a value, statements return a control signal (None,
BREAK, CONTINUE or a ``Return``).
Each closure first pays its node's price from ``gas.node_cost`` and, when a value helper
fails, turns the ``Fault`` into a ScriptRuntimeError located at its own line and column (the
innermost node wins, since a located error is no longer a Fault). Nothing here is evaluated:
the compiled code is a pure function of the program, shared by every run of it.

Python frames per nesting level are bounded (one per expression level, two per statement
level, a few per script call), which the machine's depth accounting relies on.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.licenses.lang.builtins import Builtins
from app.licenses.lang.checker import FunctionInfo, Program
from app.licenses.lang.errors import Fault
from app.licenses.lang.gas import ITER, node_cost
from app.licenses.lang.ops import Ops
from app.licenses.lang.runtime import Runtime
from app.licenses.lang.values import Key, Value, truth

Expr = Callable[[Runtime], Value]
Signal = object | None
Stmt = Callable[[Runtime], Signal]


class Return:
    """A ``return`` unwinding to its call, carrying the value."""

    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value


BREAK = object()
CONTINUE = object()
MISSING = object()

_BINOPS: dict[type, Callable[[Runtime, Value, Value], Value]] = {
    ast.Add: Ops.add,
    ast.Sub: Ops.sub,
    ast.Mult: Ops.mul,
    ast.FloorDiv: Ops.floordiv,
    ast.Mod: Ops.mod,
    ast.Pow: Ops.power,
}


@dataclass(frozen=True)
class CompiledFunction:
    """A script function: its checked info and its compiled body."""

    info: FunctionInfo
    body: Stmt


@dataclass(frozen=True)
class Code:
    """A whole compiled program: the module body and each function's body."""

    module: Stmt
    functions: dict[str, CompiledFunction]


def compile_program(program: Program) -> Code:
    """Closures for the module body and every top-level function of ``program``."""
    functions = {
        name: CompiledFunction(info, _Compiler(program, info).block(info.node.body))
        for name, info in program.functions.items()
    }
    return Code(_Compiler(program, None).block(program.module.body), functions)


def _locate(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


class _Compiler:
    """Compiles the statements of one function (or of the module, ``info`` None)."""

    def __init__(self, program: Program, info: FunctionInfo | None) -> None:
        self.program = program
        self.locals = info.local_names if info is not None else frozenset()
        self.in_function = info is not None

    # statements

    def block(self, body: list[ast.stmt]) -> Stmt:
        """Run statements in order until one signals."""
        steps = tuple(self.stmt(s) for s in body)
        if len(steps) == 1:
            return steps[0]

        def run_block(m: Runtime) -> Signal:
            for step in steps:
                signal = step(m)
                if signal is not None:
                    return signal
            return None

        return run_block

    def stmt(self, node: ast.stmt) -> Stmt:
        """The closure of one statement."""
        method: Callable[[ast.stmt, int, int, int], Stmt] = getattr(
            self, "s_" + type(node).__name__
        )
        line, col = _locate(node)
        return method(node, node_cost(node), line, col)

    def s_Assign(self, node: ast.Assign, cost: int, line: int, col: int) -> Stmt:
        value = self.expr(node.value)
        names = tuple(t.id for t in node.targets if isinstance(t, ast.Name))
        in_function = self.in_function

        def run_assign(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            result = value(m)
            scope = m.scope if in_function else m.globals
            for name in names:
                scope[name] = result
            return None

        return run_assign

    def s_AugAssign(self, node: ast.AugAssign, cost: int, line: int, col: int) -> Stmt:
        assert isinstance(node.target, ast.Name)
        current = self.name(node.target.id, line, col)
        value = self.expr(node.value)
        op = _BINOPS[type(node.op)]
        name, in_function = node.target.id, self.in_function

        def run_augassign(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                scope = m.scope if in_function else m.globals
                scope[name] = op(m, current(m), value(m))
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return None

        return run_augassign

    def s_If(self, node: ast.If, cost: int, line: int, col: int) -> Stmt:
        test, body, orelse = self.expr(node.test), self.block(node.body), self.block(node.orelse)

        def run_if(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                decided = truth(test(m))
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return body(m) if decided else orelse(m)

        return run_if

    def s_For(self, node: ast.For, cost: int, line: int, col: int) -> Stmt:
        assert isinstance(node.target, ast.Name)
        name, body = node.target.id, self.block(node.body)
        source = self.loop_source(node.iter)

        def run_for(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                items = source(m)
            except Fault as fault:
                raise m.located(fault, line, col) from None
            scope = m.scope
            for item in items:
                try:
                    g = m.meter
                    g.gas += ITER
                    if g.gas > g.stop:
                        g.slow_path()
                except Fault as fault:
                    raise m.located(fault, line, col) from None
                scope[name] = item
                signal = body(m)
                if signal is not None:
                    if signal is BREAK:
                        break
                    if signal is not CONTINUE:
                        return signal
            return None

        return run_for

    def loop_source(self, node: ast.expr) -> Callable[[Runtime], Iterable[Value]]:
        """What a for loop iterates, lazily: a range for ``range(...)``, else the value's
        items (list elements, dict keys, string characters) without copying them."""
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "range":
            args = tuple(self.expr(arg) for arg in node.args)
            cost = node_cost(node)
            line, col = _locate(node)

            def range_source(m: Runtime) -> Iterable[Value]:
                try:
                    g = m.meter
                    g.gas += cost
                    if g.gas > g.stop:
                        g.slow_path()
                    return m.range_of([arg(m) for arg in args])
                except Fault as fault:
                    raise m.located(fault, line, col) from None

            return range_source
        value = self.expr(node)
        return lambda m: m.iterate(value(m), "for")

    def s_Return(self, node: ast.Return, cost: int, line: int, col: int) -> Stmt:
        value = self.expr(node.value) if node.value is not None else None

        def run_return(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return Return(None if value is None else value(m))

        return run_return

    def s_Expr(self, node: ast.Expr, cost: int, line: int, col: int) -> Stmt:
        value = self.expr(node.value)

        def run_expr(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            value(m)
            return None

        return run_expr

    def _signal(self, signal: Signal, cost: int, line: int, col: int) -> Stmt:
        def run_simple(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return signal

        return run_simple

    def s_Pass(self, node: ast.Pass, cost: int, line: int, col: int) -> Stmt:
        return self._signal(None, cost, line, col)

    def s_Break(self, node: ast.Break, cost: int, line: int, col: int) -> Stmt:
        return self._signal(BREAK, cost, line, col)

    def s_Continue(self, node: ast.Continue, cost: int, line: int, col: int) -> Stmt:
        return self._signal(CONTINUE, cost, line, col)

    def s_FunctionDef(self, node: ast.FunctionDef, cost: int, line: int, col: int) -> Stmt:
        defaults = tuple(self.expr(d) for d in node.args.defaults)
        name = node.name

        def run_def(m: Runtime) -> Signal:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            m.define(name, tuple(default(m) for default in defaults))
            return None

        return run_def

    # expressions

    def expr(self, node: ast.expr) -> Expr:
        """The closure of one expression."""
        method: Callable[[ast.expr, int, int, int], Expr] = getattr(
            self, "e_" + type(node).__name__
        )
        line, col = _locate(node)
        return method(node, node_cost(node), line, col)

    def e_Constant(self, node: ast.Constant, cost: int, line: int, col: int) -> Expr:
        constant: Value = node.value  # type: ignore[assignment]  # checked: int, str, bool, None

        def run_constant(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return constant

        return run_constant

    def e_Name(self, node: ast.Name, cost: int, line: int, col: int) -> Expr:
        lookup = self.name(node.id, line, col)

        def run_name(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return lookup(m)

        return run_name

    def name(self, name: str, line: int, col: int) -> Expr:
        """A read of ``name``: a local of the function (compile-time known), else a global."""
        if name in self.locals:

            def read_local(m: Runtime) -> Value:
                value = m.scope.get(name, MISSING)
                if value is MISSING:
                    fault = Fault(f"local name '{name}' is used before it is assigned")
                    raise m.located(fault, line, col)
                return value  # type: ignore[return-value]

            return read_local

        def read_global(m: Runtime) -> Value:
            value = m.globals.get(name, MISSING)
            if value is MISSING:
                raise m.located(Fault(f"name '{name}' is not assigned yet"), line, col)
            return value  # type: ignore[return-value]

        return read_global

    def e_BinOp(self, node: ast.BinOp, cost: int, line: int, col: int) -> Expr:
        left, right, op = self.expr(node.left), self.expr(node.right), _BINOPS[type(node.op)]

        def run_binop(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                a = left(m)
                return op(m, a, right(m))
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_binop

    def e_UnaryOp(self, node: ast.UnaryOp, cost: int, line: int, col: int) -> Expr:
        operand, kind = self.expr(node.operand), type(node.op)

        def run_unary(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                value = operand(m)
                if kind is ast.Not:
                    return not truth(value)
                if kind is ast.USub:
                    return m.negate(value)
                if type(value) is not int:
                    raise Fault("bad operand type for unary +: only int")
                return value
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_unary

    def e_BoolOp(self, node: ast.BoolOp, cost: int, line: int, col: int) -> Expr:
        operands = tuple(self.expr(v) for v in node.values)
        is_and = isinstance(node.op, ast.And)

        def run_boolop(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                value: Value = None
                for operand in operands:
                    value = operand(m)
                    if truth(value) != is_and:
                        return value
                return value
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_boolop

    def e_Compare(self, node: ast.Compare, cost: int, line: int, col: int) -> Expr:
        left = self.expr(node.left)
        steps = tuple(
            (type(op), self.expr(right))
            for op, right in zip(node.ops, node.comparators, strict=True)
        )

        def run_compare(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                a = left(m)
                for kind, right in steps:
                    b = right(m)
                    if not m.compare(kind, a, b):
                        return False
                    a = b
                return True
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_compare

    def e_IfExp(self, node: ast.IfExp, cost: int, line: int, col: int) -> Expr:
        test, body, orelse = self.expr(node.test), self.expr(node.body), self.expr(node.orelse)

        def run_ifexp(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                decided = truth(test(m))
            except Fault as fault:
                raise m.located(fault, line, col) from None
            return body(m) if decided else orelse(m)

        return run_ifexp

    def e_Call(self, node: ast.Call, cost: int, line: int, col: int) -> Expr:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = tuple(self.expr(arg) for arg in node.args)
        if name in self.program.functions:
            return self.script_call(name, args, cost, line, col)
        builtin = getattr(Builtins, "b_" + name)
        keywords = tuple((kw.arg, self.expr(kw.value)) for kw in node.keywords if kw.arg)

        def run_builtin(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                values = [arg(m) for arg in args]
                named = {key: value(m) for key, value in keywords}
                result: Value = builtin(m, values, named)
                return result
            except Fault as fault:
                raise m.located(fault, line, col) from None

        if keywords or len(args) != 1:
            return run_builtin
        only = args[0]

        def run_builtin_of_one(m: Runtime) -> Value:
            """The same for the most common call, one positional argument (len, str, ...),
            without building a list and a dict in comprehensions."""
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                result: Value = builtin(m, [only(m)], {})
                return result
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_builtin_of_one

    def script_call(
        self, name: str, args: tuple[Expr, ...], cost: int, line: int, col: int
    ) -> Expr:
        """A call of one of the script's own functions (arity was checked statically)."""

        def run_call(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                values = [arg(m) for arg in args]
                return m.call(name, values)
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_call

    def e_Subscript(self, node: ast.Subscript, cost: int, line: int, col: int) -> Expr:
        container = self.expr(node.value)
        index = node.slice
        if isinstance(index, ast.Slice):
            lower = self.expr(index.lower) if index.lower is not None else None
            upper = self.expr(index.upper) if index.upper is not None else None

            def run_slice(m: Runtime) -> Value:
                try:
                    g = m.meter
                    g.gas += cost
                    if g.gas > g.stop:
                        g.slow_path()
                    seq = container(m)
                    lo = None if lower is None else lower(m)
                    hi = None if upper is None else upper(m)
                    return m.slice(seq, lo, hi)
                except Fault as fault:
                    raise m.located(fault, line, col) from None

            return run_slice
        key = self.expr(index)

        def run_index(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                seq = container(m)
                return m.index(seq, key(m))
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_index

    def e_Attribute(self, node: ast.Attribute, cost: int, line: int, col: int) -> Expr:
        record, attr = self.expr(node.value), node.attr

        def run_attribute(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                return m.attribute(record(m), attr)
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_attribute

    def e_List(self, node: ast.List, cost: int, line: int, col: int) -> Expr:
        elements = tuple(self.expr(e) for e in node.elts)

        def run_list(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                return m.make_list(tuple([element(m) for element in elements]))
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_list

    def e_Dict(self, node: ast.Dict, cost: int, line: int, col: int) -> Expr:
        pairs = tuple(
            (self.expr(k), self.expr(v)) for k, v in zip(node.keys, node.values, strict=True) if k
        )

        def run_dict(m: Runtime) -> Value:
            try:
                g = m.meter
                g.gas += cost
                if g.gas > g.stop:
                    g.slow_path()
                items: dict[Key, Value] = {}
                for key, value in pairs:
                    k = m.key_of(key(m))
                    items[k] = value(m)
                return m.make_dict(items)
            except Fault as fault:
                raise m.located(fault, line, col) from None

        return run_dict
