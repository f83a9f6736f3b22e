"""A static upper bound on the gas of ``authorize``, where one can be computed.

An abstract evaluation of the checked tree with the evaluator's price list: every value is
abstracted to its kind (int, str or unknown), an upper bound on its size (None: unknown) and,
for ints, its constant value when known. Both branches of an ``if`` are counted (the dearer
one) and their names joined; a ``for`` over a constant ``range`` or a literal is unrolled until
the names stop growing, after which each remaining iteration costs what the last one did.

There is no bound (``None``) when the script recurses, loops over something whose length is not
a constant, calls a function that has no bound, or does size-dependent work on a value of
unknown size. The context is bounded by ``Limits.max_context_size``, so work on context values
has a (coarse) bound.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from app.licenses.lang.checker import BUILTIN_ARITY, Program
from app.licenses.lang.context import FIELDS
from app.licenses.lang.gas import CALL, ITER, int_op_cost, node_cost, sort_cost
from app.licenses.lang.limits import DEFAULT_LIMITS, Limits

_MAX_UNROLLED = 20_000
_KINDS = {"str": "str", "int": "int", "dict": "dict", "list[str]": "list"}
_SCHEMA = {name: _KINDS[kind] for name, kind in FIELDS if kind in _KINDS}
"""Documented ctx fields of one known kind (``derivative``, a dict or None, is left unknown)."""
for _name in list(_SCHEMA):
    while "." in _name:
        _name = _name.rsplit(".", 1)[0]
        _SCHEMA[_name] = "dict"


class _Unbounded(Exception):
    """The analysis cannot bound the gas."""


@dataclass(frozen=True)
class _Abs:
    """An abstract value: kind ('int', 'str' or None), size bound, constant int value."""

    kind: str | None
    size: int | None
    const: int | None = None
    path: str | None = None


_UNKNOWN = _Abs(None, None)
_INT = _Abs("int", 1)


def _join(a: _Abs, b: _Abs) -> _Abs:
    kind = a.kind if a.kind == b.kind else None
    size = None if a.size is None or b.size is None else max(a.size, b.size)
    const = a.const if a.const == b.const else None
    return _Abs(kind, size, const, a.path if a.path == b.path else None)


Env = dict[str, _Abs]


def _join_env(a: Env, b: Env) -> Env:
    joined = dict(a)
    for name, value in b.items():
        joined[name] = _join(a[name], value) if name in a else value
    return joined


def worst_case_gas(program: Program, limits: Limits = DEFAULT_LIMITS) -> int | None:
    """An upper bound on the gas of ``run_authorize`` for any context, or None if unbounded."""
    try:
        return _Bound(program, limits).total()
    except _Unbounded:
        return None


class _Bound:
    """The abstract evaluation (recursion bounded like the checker's, by the ast depth)."""

    def __init__(self, program: Program, limits: Limits) -> None:
        self.program = program
        self.limits = limits
        self.globals: Env = {}
        self.costs: dict[tuple[str, tuple[_Abs, ...]], tuple[int, _Abs]] = {}
        self.active: set[str] = set()
        self.returns: list[_Abs | None] = []
        self.unrolled = 0

    def total(self) -> int:
        cost, self.globals = self.block(self.program.module.body, {}, top=True)
        info = self.program.functions["authorize"]
        ctx = _Abs("dict", self.limits.max_context_size, None, "")
        body, _ = self.call(info.name, [ctx])
        context = self.limits.max_context_size  # converting ctx costs its size
        return context + cost + CALL + len(info.params) + body

    def call(self, name: str, args: list[_Abs]) -> tuple[int, _Abs]:
        """Gas and result of a call's body for these abstract arguments (memoized)."""
        info = self.program.functions[name]
        if len(args) < len(info.params):
            args = args + [_UNKNOWN] * (len(info.params) - len(args))
        key = (name, tuple(args))
        if key in self.costs:
            return self.costs[key]
        if name in self.active:
            raise _Unbounded
        self.active.add(name)
        self.returns.append(None)
        cost, _ = self.block(info.node.body, dict(zip(info.params, args, strict=True)))
        returned = self.returns.pop()
        self.active.discard(name)
        self.costs[key] = cost, (returned if returned is not None else _Abs(None, 1))
        return self.costs[key]

    # statements: each returns (cost, environment after)

    def block(self, body: list[ast.stmt], env: Env, top: bool = False) -> tuple[int, Env]:
        total = 0
        for stmt in body:
            cost, env = self.stmt(stmt, env, top)
            total += node_cost(stmt) + cost
        return total, env

    def stmt(self, node: ast.stmt, env: Env, top: bool) -> tuple[int, Env]:
        if isinstance(node, ast.Assign):
            cost, value = self.expr(node.value, env)
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            return cost, self.bind(env, names, value, top)
        if isinstance(node, ast.AugAssign):
            assert isinstance(node.target, ast.Name)
            current = self.lookup(node.target.id, env)
            cost, right = self.expr(node.value, env)
            extra, value = self.binop(node.op, current, right)
            return cost + extra, self.bind(env, [node.target.id], value, top)
        if isinstance(node, ast.If):
            test, _ = self.expr(node.test, env)
            then_cost, then_env = self.block(node.body, dict(env))
            else_cost, else_env = self.block(node.orelse, dict(env))
            return test + max(then_cost, else_cost), _join_env(then_env, else_env)
        if isinstance(node, ast.For):
            return self.loop(node, env)
        if isinstance(node, ast.Return):
            cost, value = self.expr(node.value, env) if node.value else (0, _Abs(None, 1))
            last = self.returns[-1]
            self.returns[-1] = value if last is None else _join(last, value)
            return cost, env
        if isinstance(node, ast.Expr):
            return self.expr(node.value, env)[0], env
        if isinstance(node, ast.FunctionDef):
            return sum(self.expr(d, env)[0] for d in node.args.defaults), env
        return 0, env

    def bind(self, env: Env, names: list[str], value: _Abs, top: bool) -> Env:
        updated = dict(env)
        for name in names:
            updated[name] = value
        if top:
            self.globals = updated
            self.costs.clear()
        return updated

    def loop(self, node: ast.For, env: Env) -> tuple[int, Env]:
        cost, count, item = self.loop_source(node.iter, env)
        assert isinstance(node.target, ast.Name)
        name = node.target.id
        for done in range(count):
            self.unrolled += 1
            if self.unrolled > _MAX_UNROLLED:
                raise _Unbounded
            before = {**env, name: item}
            body, after = self.block(node.body, before)
            cost += ITER + body
            env = _join_env(before, after)
            if env == before:
                return cost + (count - done - 1) * (ITER + body), env
        return cost, env

    def loop_source(self, node: ast.expr, env: Env) -> tuple[int, int, _Abs]:
        """(gas to evaluate the iterable, constant iteration count, abstract item)."""
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "range":
            costs, args = zip(*(self.expr(arg, env) for arg in node.args), strict=True)
            consts = [a.const for a in args]
            if any(c is None for c in consts):
                raise _Unbounded
            span = range(*[c for c in consts if c is not None])
            if len(span) > self.limits.max_loop_range:
                return node_cost(node) + sum(costs), 0, _INT  # the evaluator refuses it
            return node_cost(node) + sum(costs), len(span), _INT
        if isinstance(node, ast.List):
            cost, value = self.expr(node, env)
            return cost, len(node.elts), _Abs(None, value.size)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node_cost(node), len(node.value), _Abs("str", 1)
        raise _Unbounded

    def lookup(self, name: str, env: Env) -> _Abs:
        if name in env:
            return env[name]
        return self.globals.get(name, _UNKNOWN)

    # expressions: each returns (cost including the node's own price, abstract value)

    def expr(self, node: ast.expr, env: Env) -> tuple[int, _Abs]:
        method = getattr(self, "e_" + type(node).__name__)
        cost, value = method(node, env)
        return node_cost(node) + cost, value

    def e_Constant(self, node: ast.Constant, env: Env) -> tuple[int, _Abs]:
        value = node.value
        if isinstance(value, str):
            return 0, _Abs("str", len(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return 0, _Abs("int", 1, value)
        return 0, _Abs(None, 1)

    def e_Name(self, node: ast.Name, env: Env) -> tuple[int, _Abs]:
        return 0, self.lookup(node.id, env)

    def e_BinOp(self, node: ast.BinOp, env: Env) -> tuple[int, _Abs]:
        left_cost, left = self.expr(node.left, env)
        right_cost, right = self.expr(node.right, env)
        extra, value = self.binop(node.op, left, right)
        return left_cost + right_cost + extra, value

    def binop(self, op: ast.operator, a: _Abs, b: _Abs) -> tuple[int, _Abs]:
        """(extra gas, result) of one operator, as ops.Ops charges it."""
        big = int_op_cost(2 * self.limits.max_int_bits, self.limits.max_int_bits)
        if a.kind == "int" and b.kind == "int":
            const = _fold(op, a.const, b.const, self.limits.max_int_bits)
            return (0 if isinstance(op, ast.Add | ast.Sub) else big), _Abs("int", 1, const)
        if isinstance(op, ast.Sub | ast.FloorDiv | ast.Mod | ast.Pow):
            return big, _INT
        strings = a.kind == "str" or b.kind == "str"
        if isinstance(op, ast.Mult) and strings:
            return 2 * self.limits.max_str_len, _Abs("str", self.limits.max_str_len)
        if isinstance(op, ast.Add) and a.size is not None and b.size is not None:
            if strings:
                size = min(a.size + b.size, self.limits.max_str_len)
                return size + 1, _Abs("str", size)
            return 2 * (a.size + b.size) + 1, _Abs(None, a.size + b.size)
        if isinstance(op, ast.Add) and strings:
            return self.limits.max_str_len + 1, _Abs("str", self.limits.max_str_len)
        if isinstance(op, ast.Add) and "int" in (a.kind, b.kind):
            return 0, _INT
        raise _Unbounded

    def e_UnaryOp(self, node: ast.UnaryOp, env: Env) -> tuple[int, _Abs]:
        cost, value = self.expr(node.operand, env)
        if isinstance(node.op, ast.USub) and value.const is not None:
            return cost, _Abs("int", 1, -value.const)
        return cost, (_Abs(None, 1) if isinstance(node.op, ast.Not) else _INT)

    def e_BoolOp(self, node: ast.BoolOp, env: Env) -> tuple[int, _Abs]:
        results = [self.expr(value, env) for value in node.values]
        joined = results[0][1]
        for _, value in results[1:]:
            joined = _join(joined, value)
        return sum(cost for cost, _ in results), joined

    def e_Compare(self, node: ast.Compare, env: Env) -> tuple[int, _Abs]:
        cost, left = self.expr(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right_cost, right = self.expr(comparator, env)
            cost += right_cost + self.compare_cost(op, left, right)
            left = right
        return cost, _Abs(None, 1)

    def compare_cost(self, op: ast.cmpop, left: _Abs, right: _Abs) -> int:
        if isinstance(op, ast.Is | ast.IsNot):
            return 0
        if isinstance(op, ast.In | ast.NotIn):
            key = left.size if left.size is not None else self.limits.max_str_len
            if right.kind == "dict":
                return key
            if right.kind == "list" and right.size is not None:
                return 2 * right.size
            if right.size is None:
                raise _Unbounded
            return 2 * right.size + key + 1
        sizes = [s for s in (left.size, right.size) if s is not None]
        if not sizes:
            raise _Unbounded
        return min(sizes)

    def e_IfExp(self, node: ast.IfExp, env: Env) -> tuple[int, _Abs]:
        test, _ = self.expr(node.test, env)
        body_cost, body = self.expr(node.body, env)
        else_cost, orelse = self.expr(node.orelse, env)
        return test + max(body_cost, else_cost), _join(body, orelse)

    def e_Call(self, node: ast.Call, env: Env) -> tuple[int, _Abs]:
        name = node.func.id  # type: ignore[attr-defined]
        results = [self.expr(arg, env) for arg in [*node.args, *(k.value for k in node.keywords)]]
        cost = sum(c for c, _ in results)
        args = [value for _, value in results]
        if name in self.program.functions:
            body, value = self.call(name, args)
            return cost + CALL + len(self.program.functions[name].params) + body, value
        assert name in BUILTIN_ARITY
        extra, value = self.builtin(name, args)
        return cost + extra, value

    def builtin(self, name: str, args: list[_Abs]) -> tuple[int, _Abs]:
        """(extra gas, result) of a built-in, as builtins.Builtins charges it."""
        limits = self.limits
        if name in ("len", "abs"):
            return 0, _INT
        if name in ("allow", "deny"):
            return limits.max_note_len, _Abs(None, 1)
        if name == "int":
            return limits.max_str_len + 1, _INT
        if name == "range":
            return 2 * limits.max_loop_range + 1, _Abs(None, limits.max_loop_range + 1)
        sizes = [a.size for a in args]
        if any(s is None for s in sizes):
            raise _Unbounded
        total = sum(s for s in sizes if s is not None)
        if name == "str" and args[0].kind == "int":
            digits = len(str(-(2**limits.max_int_bits)))
            return 1 + digits, _Abs("str", digits)
        if name == "str":
            rendering = limits.max_value_depth + 1 + 2 * limits.max_str_len
            return rendering, _Abs("str", limits.max_str_len)
        if name == "sorted":
            return sort_cost(total, total, python_compare=True) + 3 * total + 1, _Abs(None, total)
        kind = "int" if name == "sum" else None
        big = int_op_cost(limits.max_int_bits, limits.max_int_bits)
        return total * (4 + big), _Abs(kind, total if kind is None else 1)

    def e_Subscript(self, node: ast.Subscript, env: Env) -> tuple[int, _Abs]:
        cost, container = self.expr(node.value, env)
        index = node.slice
        if isinstance(index, ast.Slice):
            for bound in (index.lower, index.upper):
                if bound is not None:
                    cost += self.expr(bound, env)[0]
            if container.size is None:
                raise _Unbounded
            return cost + 2 * container.size + 1, container
        index_cost, key = self.expr(index, env)
        key_size = key.size if key.size is not None else self.limits.max_str_len
        return cost + index_cost + key_size, self.field(container, None)

    def e_Attribute(self, node: ast.Attribute, env: Env) -> tuple[int, _Abs]:
        cost, record = self.expr(node.value, env)
        return cost, self.field(record, node.attr)

    def field(self, record: _Abs, name: str | None) -> _Abs:
        """A part of a value: no bigger than it; its kind known for a documented ctx field."""
        if record.path is None or name is None:
            return _Abs(None, record.size)
        path = f"{record.path}.{name}" if record.path else name
        kind = _SCHEMA.get(path)
        if kind is None:
            return _Abs(None, record.size)
        size = {"int": 1, "str": min(record.size or 0, self.limits.max_str_len)}
        return _Abs(kind, size.get(kind, record.size), None, path)

    def e_List(self, node: ast.List, env: Env) -> tuple[int, _Abs]:
        results = [self.expr(element, env) for element in node.elts]
        sizes = [value.size for _, value in results]
        size = None if None in sizes else 1 + sum(s for s in sizes if s is not None)
        return sum(c for c, _ in results) + len(results) + 1, _Abs("list", size)

    def e_Dict(self, node: ast.Dict, env: Env) -> tuple[int, _Abs]:
        results = [self.expr(n, env) for n in [*node.keys, *node.values] if n is not None]
        sizes = [value.size for _, value in results]
        size = None if None in sizes else 1 + sum(s for s in sizes if s is not None)
        keys = [
            self.limits.max_str_len if v.size is None else v.size
            for _, v in results[: len(node.keys)]
        ]
        return sum(c for c, _ in results) + len(node.keys) + sum(keys), _Abs(None, size)


def _fold(op: ast.operator, a: int | None, b: int | None, max_bits: int) -> int | None:
    """The constant result of + - * // % on constant ints, when it stays in range."""
    if a is None or b is None:
        return None
    if isinstance(op, ast.Add):
        result = a + b
    elif isinstance(op, ast.Sub):
        result = a - b
    elif isinstance(op, ast.Mult):
        result = a * b
    elif isinstance(op, ast.FloorDiv | ast.Mod) and b != 0:
        result = a // b if isinstance(op, ast.FloorDiv) else a % b
    else:
        return None
    return result if result.bit_length() <= max_bits else None
