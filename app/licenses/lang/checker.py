"""The deploy-time check: parse with ``ast`` and accept only the license language's subset.

The check refuses, with line, column and reason, anything outside the allow-list: imports,
classes, lambdas, while loops, try/with, comprehensions, floats, ``/``, names or attributes that
start with ``_``, attribute access on anything but a name chain (the context), calls of anything
but the script's own functions and the built-ins, keyword arguments (except ``allow(fee=,
note=)``), unknown names, and nesting deeper than ``max_ast_depth``. What passes is a
``Program``: the source, its code hash and the checked tree the evaluator walks.
"""

from __future__ import annotations

import ast
import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.licenses.lang.errors import ScriptError
from app.licenses.lang.limits import DEFAULT_LIMITS, Limits
from app.licenses.lang.stack import ensure_host_frames, frames_to_check

# name -> (fewest, most) positional arguments; None means any number.
BUILTIN_ARITY: dict[str, tuple[int, int | None]] = {
    "len": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "sum": (1, 2),
    "range": (1, 3),
    "sorted": (1, 1),
    "abs": (1, 1),
    "str": (1, 1),
    "int": (1, 1),
    "allow": (0, 2),
    "deny": (1, 1),
}
ALLOW_KEYWORDS = ("fee", "note")
HOOKS = ("derive", "royalty")
"""Functions a script may define besides ``authorize`` that the chain calls: ``derive(ctx)``
when a derivative of a licensed version is published, ``royalty(ctx)`` when a use of a
derivative pays a fee (app/licenses/lang/context.py)."""

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow)
_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_REFUSED_STMT = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.ClassDef: "classes are not allowed",
    ast.While: "while loops are not allowed; use for over a bounded range",
    ast.Try: "try is not allowed",
    ast.With: "with is not allowed",
    ast.AsyncWith: "async is not allowed",
    ast.AsyncFor: "async is not allowed",
    ast.AsyncFunctionDef: "async is not allowed",
    ast.Global: "global is not allowed",
    ast.Nonlocal: "nonlocal is not allowed",
    ast.Delete: "del is not allowed",
    ast.Raise: "raise is not allowed; return deny(reason)",
    ast.Assert: "assert is not allowed; return deny(reason)",
    ast.AnnAssign: "annotations are not allowed",
    ast.Match: "match is not allowed",
}
_REFUSED_EXPR = {
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed; use a for loop",
    ast.SetComp: "comprehensions are not allowed; use a for loop",
    ast.DictComp: "comprehensions are not allowed; use a for loop",
    ast.GeneratorExp: "comprehensions are not allowed; use a for loop",
    ast.Await: "async is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.JoinedStr: "f-strings are not allowed; use + and str()",
    ast.FormattedValue: "f-strings are not allowed; use + and str()",
    ast.Starred: "star arguments are not allowed",
    ast.Tuple: "tuples are not allowed; use a list",
    ast.Set: "sets are not allowed; use a list or a dict",
    ast.NamedExpr: "the walrus operator is not allowed",
    ast.Slice: "a slice is only allowed inside []",
}


@dataclass(frozen=True)
class FunctionInfo:
    """A checked top-level function: parameters, local names and nesting depth of its body."""

    name: str
    params: tuple[str, ...]
    n_defaults: int
    local_names: frozenset[str]
    depth: int
    node: ast.FunctionDef = field(compare=False, repr=False)


@dataclass(frozen=True)
class Program:
    """A checked script: its source, ``sha256:<hex>`` code hash and the tree to evaluate."""

    source: str
    code_hash: str
    module: ast.Module = field(compare=False, repr=False)
    functions: Mapping[str, FunctionInfo] = field(compare=False, repr=False)
    global_names: frozenset[str] = field(compare=False, repr=False)
    depth: int = field(default=0, compare=False, repr=False)
    """The deepest nesting of the tree (statements and expressions counted)."""


def code_hash(source: str) -> str:
    """``sha256:<hex>`` of the UTF-8 source."""
    return "sha256:" + hashlib.sha256(source.encode("utf-8")).hexdigest()


def check_script(source: str, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse and check a license script; raises ScriptError with line, column and reason."""
    ensure_host_frames(frames_to_check(limits.max_ast_depth))
    module = _parse(source, limits)
    depths = _check_depth(module, limits)
    return _Checker(module, limits, depths).program(source)


def _refuse(node: ast.AST, reason: str) -> ScriptError:
    return ScriptError(getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1, reason)


def _parse(source: str, limits: Limits) -> ast.Module:
    """``ast.parse`` of plain-ASCII source with every warning an error; any failure becomes a
    ScriptError."""
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise ScriptError(1, 1, f"source is not valid UTF-8 text: {err.reason}") from None
    if size > limits.max_source_bytes:
        raise ScriptError(1, 1, f"source is {size} bytes, the limit is {limits.max_source_bytes}")
    _require_plain_ascii(source)
    _check_string_escapes(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return ast.parse(source, filename="<license>", mode="exec")
    except SyntaxError as err:
        raise ScriptError(err.lineno or 1, err.offset or 1, f"syntax error: {err.msg}") from None
    except (RecursionError, MemoryError):
        # Some Pythons' parsers give up on deep nesting that another parses: the refusal reads
        # as _check_depth's, so the log is the same on every Python.
        raise _too_deep(limits) from None
    except (ValueError, Warning) as err:
        raise ScriptError(1, 1, f"cannot parse: {type(err).__name__}: {err}") from None


def _too_deep(limits: Limits) -> ScriptError:
    """The refusal of a script nested deeper than ``max_ast_depth``. It names no position: a
    parser that stopped early (a host recursion limit) knows none, and the text must not depend
    on which Python refused."""
    return ScriptError(1, 1, f"nesting too deep: more than {limits.max_ast_depth} levels")


_ALLOWED_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\n"}


def _require_plain_ascii(source: str) -> None:
    """Refuse any character but printable ASCII and newlines.

    What Python makes of other characters depends on its version: identifiers are normalised
    and classified by the interpreter's Unicode database, the tokenizer's handling of tabs,
    form feeds and carriage returns changed in 3.12. Text beyond ASCII is still written with
    ``\\x``, ``\\u`` and ``\\U`` escapes in string literals.
    """
    if source.isascii() and all(c in _ALLOWED_CHARS for c in source):
        return
    for line_no, line in enumerate(source.split("\n"), 1):
        for col, char in enumerate(line, 1):
            if char not in _ALLOWED_CHARS:
                what = "a tab" if char == "\t" else f"character U+{ord(char):04X}"
                raise ScriptError(
                    line_no,
                    col,
                    f"{what}: scripts are printable ASCII with spaces and \\n line ends; "
                    "write other characters as \\uXXXX escapes inside strings",
                )


_ESCAPES = frozenset("\\'\"abfnrtv01234567xuU\n")
_PREFIXES = frozenset({"", "r", "u", "b", "f", "br", "rb", "fr", "rf"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _check_string_escapes(source: str) -> None:
    """Refuse escapes in string literals whose meaning depends on the Python: ``\\N{name}``
    (names come from the Unicode database) and unknown escapes (a warning whose kind changed
    between versions). Runs on the source, before the parser, so every Python gives the
    same refusal."""
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "#":
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif char in "'\"":
            i = _string_end(source, i)
        else:
            i += 2 if char == "\\" else 1


def _string_end(source: str, start: int) -> int:
    """Check the escapes of the literal opening at ``start``; the index after it."""
    prefix_start = start
    while prefix_start > 0 and source[prefix_start - 1] in _NAME_CHARS:
        prefix_start -= 1
    prefix = source[prefix_start:start].lower()
    raw = prefix in _PREFIXES and "r" in prefix
    quote = source[start] * 3 if source.startswith(source[start] * 3, start) else source[start]
    i = start + len(quote)
    while i < len(source) and not source.startswith(quote, i):
        if source[i] == "\n" and len(quote) == 1:
            return i  # unterminated: the parser says so
        if source[i] == "\\":
            escape = source[i + 1 : i + 2]
            if not raw:
                _check_escape(source, i, escape)
            i += 2
        else:
            i += 1
    return i + len(quote)


def _check_escape(source: str, at: int, escape: str) -> None:
    if escape in _ESCAPES:
        return
    line = source.count("\n", 0, at) + 1
    col = at - (source.rfind("\n", 0, at) + 1) + 1
    if escape == "N":
        reason = "\\N{...} escapes are not allowed; write \\uXXXX or \\UXXXXXXXX"
    else:
        reason = f"unknown escape \\{escape} in a string literal"
    raise ScriptError(line, col, reason)


def _is_counted(node: ast.AST) -> bool:
    return isinstance(node, ast.stmt | ast.expr)


def _check_depth(module: ast.Module, limits: Limits) -> dict[int, int]:
    """Refuse statements and expressions nested deeper than ``max_ast_depth``, in one iterative
    walk that also measures each top-level statement's counted depth (itself included), by
    ``id`` of the statement."""
    depths: dict[int, int] = {}
    stack: list[tuple[ast.AST, int, int]] = [(stmt, 1, id(stmt)) for stmt in module.body]
    while stack:
        node, depth, top = stack.pop()
        if depth > limits.max_ast_depth:
            raise _too_deep(limits)
        if depth > depths.get(top, 0):
            depths[top] = depth
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1 if _is_counted(child) else depth, top))
    return depths


@dataclass
class _Scope:
    """Where a node sits: inside which function (None: module level) and inside a loop."""

    function: FunctionInfo | None
    in_loop: bool = False


class _Checker:
    """One pass over the module; recursion is bounded by the depth check that ran first."""

    def __init__(self, module: ast.Module, limits: Limits, depths: dict[int, int]) -> None:
        self.module = module
        self.limits = limits
        self.depths = depths
        self.defs: dict[str, ast.FunctionDef] = {}
        self.global_names: set[str] = set()
        self.functions: dict[str, FunctionInfo] = {}

    def program(self, source: str) -> Program:
        """Collect the module's names, check every statement, then require ``authorize(ctx)``."""
        self._collect_module_names()
        for name, node in self.defs.items():
            self.functions[name] = self._function_info(node)
        top = _Scope(None)
        for stmt in self.module.body:
            self._module_stmt(stmt, top)
        self._require_authorize()
        self._check_hooks()
        return Program(
            source,
            code_hash(source),
            self.module,
            dict(self.functions),
            frozenset(self.global_names),
            1 + max(self.depths.values(), default=0),
        )

    def _collect_module_names(self) -> None:
        for stmt in self.module.body:
            if isinstance(stmt, ast.FunctionDef):
                self._new_name(stmt, stmt.name)
                if stmt.name in self.defs or stmt.name in self.global_names:
                    raise _refuse(stmt, f"name '{stmt.name}' is defined twice")
                self.defs[stmt.name] = stmt
            for target in _assigned_names(stmt, nested=False):
                self._new_name(target, target.id)
                self.global_names.add(target.id)
        for name, node in self.defs.items():
            if name in self.global_names:
                raise _refuse(node, f"name '{name}' is both a function and a variable")

    def _new_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("_"):
            raise _refuse(node, f"names starting with '_' are not allowed: '{name}'")
        if name in BUILTIN_ARITY:
            raise _refuse(node, f"'{name}' is a built-in and cannot be redefined")

    def _function_info(self, node: ast.FunctionDef) -> FunctionInfo:
        params = self._params(node)
        local_names = set(params)
        for stmt in node.body:
            for target in _assigned_names(stmt, nested=True):
                self._new_name(target, target.id)
                if target.id in self.defs:
                    raise _refuse(target, f"'{target.id}' is a function and cannot be assigned")
                local_names.add(target.id)
        return FunctionInfo(
            node.name,
            params,
            len(node.args.defaults),
            frozenset(local_names),
            self.depths[id(node)],
            node,
        )

    def _params(self, node: ast.FunctionDef) -> tuple[str, ...]:
        args = node.args
        if node.decorator_list:
            raise _refuse(node.decorator_list[0], "decorators are not allowed")
        if node.returns is not None:
            raise _refuse(node.returns, "annotations are not allowed")
        if args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg:
            raise _refuse(node, "only plain positional parameters are allowed")
        if getattr(node, "type_params", None):
            raise _refuse(node, "type parameters are not allowed")
        names: list[str] = []
        for arg in args.args:
            if arg.annotation is not None:
                raise _refuse(arg.annotation, "annotations are not allowed")
            self._new_name(arg, arg.arg)
            if arg.arg in names or arg.arg in self.defs:
                raise _refuse(arg, f"parameter '{arg.arg}' repeats another name")
            names.append(arg.arg)
        return tuple(names)

    def _require_authorize(self) -> None:
        info = self.functions.get("authorize")
        if info is None:
            raise ScriptError(1, 1, "the script must define authorize(ctx)")
        if len(info.params) != 1 or info.n_defaults:
            raise _refuse(info.node, "authorize must take exactly one parameter: authorize(ctx)")

    def _check_hooks(self) -> None:
        """The optional lineage hooks (``derive``, ``royalty``) take exactly ``ctx`` too, so
        a script that defines one wrongly never reaches a block."""
        for name in HOOKS:
            info = self.functions.get(name)
            if info is not None and (len(info.params) != 1 or info.n_defaults):
                raise _refuse(info.node, f"{name} must take exactly one parameter: {name}(ctx)")

    # statements

    def _module_stmt(self, stmt: ast.stmt, scope: _Scope) -> None:
        if isinstance(stmt, ast.FunctionDef):
            for default in stmt.args.defaults:
                self._expr(default, scope)
            inner = _Scope(self.functions[stmt.name])
            for body_stmt in stmt.body:
                self._stmt(body_stmt, inner)
        elif isinstance(stmt, ast.Assign | ast.AugAssign | ast.Pass):
            self._stmt(stmt, scope)
        elif isinstance(stmt, ast.Expr) and _is_docstring(stmt):
            return
        elif type(stmt) in _REFUSED_STMT:
            raise _refuse(stmt, _REFUSED_STMT[type(stmt)])
        else:
            raise _refuse(stmt, "only constants and function definitions are allowed at top level")

    def _stmt(self, stmt: ast.stmt, scope: _Scope) -> None:
        if type(stmt) in _REFUSED_STMT:
            raise _refuse(stmt, _REFUSED_STMT[type(stmt)])
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _require_name_target(target)
            self._expr(stmt.value, scope)
        elif isinstance(stmt, ast.AugAssign):
            _require_name_target(stmt.target)
            self._binop(stmt, stmt.op)
            self._expr(stmt.value, scope)
        elif isinstance(stmt, ast.If):
            self._expr(stmt.test, scope)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif isinstance(stmt, ast.For):
            self._for(stmt, scope)
        else:
            self._simple_stmt(stmt, scope)

    def _simple_stmt(self, stmt: ast.stmt, scope: _Scope) -> None:
        if isinstance(stmt, ast.Break | ast.Continue):
            if not scope.in_loop:
                raise _refuse(stmt, "break and continue are only allowed inside a loop")
        elif isinstance(stmt, ast.Return):
            if scope.function is None:
                raise _refuse(stmt, "return is only allowed inside a function")
            if stmt.value is not None:
                self._expr(stmt.value, scope)
        elif isinstance(stmt, ast.Expr):
            self._expr(stmt.value, scope)
        elif isinstance(stmt, ast.FunctionDef):
            raise _refuse(stmt, "functions are only allowed at top level")
        elif not isinstance(stmt, ast.Pass):
            raise _refuse(stmt, f"{type(stmt).__name__} statements are not allowed")

    def _block(self, body: list[ast.stmt], scope: _Scope) -> None:
        for stmt in body:
            self._stmt(stmt, scope)

    def _for(self, stmt: ast.For, scope: _Scope) -> None:
        if scope.function is None:
            raise _refuse(stmt, "loops are only allowed inside a function")
        _require_name_target(stmt.target)
        if stmt.orelse:
            raise _refuse(stmt.orelse[0], "for ... else is not allowed")
        self._expr(stmt.iter, scope)
        self._block(stmt.body, _Scope(scope.function, in_loop=True))

    # expressions

    def _expr(self, node: ast.expr, scope: _Scope) -> None:
        if type(node) in _REFUSED_EXPR:
            raise _refuse(node, _REFUSED_EXPR[type(node)])
        method = getattr(self, "_e_" + type(node).__name__, None)
        if method is None:
            raise _refuse(node, f"{type(node).__name__} expressions are not allowed")
        method(node, scope)

    def _e_Constant(self, node: ast.Constant, scope: _Scope) -> None:
        value = node.value
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, int):
            if value.bit_length() > self.limits.max_int_bits:
                raise _refuse(node, f"integer literal beyond {self.limits.max_int_bits} bits")
        elif isinstance(value, str):
            if len(value) > self.limits.max_str_len:
                raise _refuse(node, f"string literal longer than {self.limits.max_str_len}")
            if any("\ud800" <= c <= "\udfff" for c in value):
                raise _refuse(node, "a lone surrogate (\\ud800-\\udfff) is not text")
        elif isinstance(value, float):
            raise _refuse(node, "float literals are not allowed; use integers (e.g. basis points)")
        else:
            raise _refuse(node, f"{type(value).__name__} literals are not allowed")

    def _e_Name(self, node: ast.Name, scope: _Scope) -> None:
        name = node.id
        if name.startswith("_"):
            raise _refuse(node, f"names starting with '_' are not allowed: '{name}'")
        if scope.function is not None and name in scope.function.local_names:
            return
        if name in self.global_names:
            return
        if name in self.defs:
            raise _refuse(node, f"function '{name}' can only be called, not used as a value")
        if name in BUILTIN_ARITY:
            raise _refuse(node, f"built-in '{name}' can only be called, not used as a value")
        raise _refuse(node, f"unknown name '{name}'")

    def _e_List(self, node: ast.List, scope: _Scope) -> None:
        for element in node.elts:
            self._expr(element, scope)

    def _e_Dict(self, node: ast.Dict, scope: _Scope) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise _refuse(value, "** unpacking is not allowed")
            self._expr(key, scope)
            self._expr(value, scope)

    def _binop(self, node: ast.AST, op: ast.operator) -> None:
        if isinstance(op, ast.Div):
            raise _refuse(node, "'/' is not allowed; use '//' (integer division)")
        if not isinstance(op, _BINOPS):
            raise _refuse(node, f"operator {type(op).__name__} is not allowed")

    def _e_BinOp(self, node: ast.BinOp, scope: _Scope) -> None:
        self._binop(node, node.op)
        self._expr(node.left, scope)
        self._expr(node.right, scope)

    def _e_UnaryOp(self, node: ast.UnaryOp, scope: _Scope) -> None:
        if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            raise _refuse(node, f"operator {type(node.op).__name__} is not allowed")
        self._expr(node.operand, scope)

    def _e_BoolOp(self, node: ast.BoolOp, scope: _Scope) -> None:
        for value in node.values:
            self._expr(value, scope)

    def _e_Compare(self, node: ast.Compare, scope: _Scope) -> None:
        self._expr(node.left, scope)
        for op, right in zip(node.ops, node.comparators, strict=True):
            is_none = isinstance(right, ast.Constant) and right.value is None
            if isinstance(op, ast.Is | ast.IsNot) and not is_none:
                raise _refuse(node, "'is' is only allowed as 'is None' / 'is not None'")
            if not isinstance(op, (*_CMPOPS, ast.Is, ast.IsNot)):
                raise _refuse(node, f"comparison {type(op).__name__} is not allowed")
            self._expr(right, scope)

    def _e_IfExp(self, node: ast.IfExp, scope: _Scope) -> None:
        self._expr(node.test, scope)
        self._expr(node.body, scope)
        self._expr(node.orelse, scope)

    def _e_Subscript(self, node: ast.Subscript, scope: _Scope) -> None:
        self._expr(node.value, scope)
        index = node.slice
        if isinstance(index, ast.Slice):
            if index.step is not None:
                raise _refuse(index, "slices with a step are not allowed")
            for bound in (index.lower, index.upper):
                if bound is not None:
                    self._expr(bound, scope)
        else:
            self._expr(index, scope)

    def _e_Attribute(self, node: ast.Attribute, scope: _Scope) -> None:
        if node.attr.startswith("_"):
            raise _refuse(node, f"attributes starting with '_' are not allowed: '{node.attr}'")
        if not isinstance(node.value, ast.Name | ast.Attribute | ast.Subscript):
            raise _refuse(node, "attribute access is only allowed on context records")
        self._expr(node.value, scope)

    def _e_Call(self, node: ast.Call, scope: _Scope) -> None:
        func = node.func
        if not isinstance(func, ast.Name):
            what = "methods" if isinstance(func, ast.Attribute) else "computed functions"
            raise _refuse(node, f"{what} cannot be called; only named functions and built-ins")
        name = func.id
        if name.startswith("_"):
            raise _refuse(func, f"names starting with '_' are not allowed: '{name}'")
        self._keywords(node, name, scope)
        for arg in node.args:
            self._expr(arg, scope)
        low, high = self._arity(node, name, scope)
        count = len(node.args) + len(node.keywords)
        if count < low or (high is not None and count > high):
            expected = str(low) if low == high else f"{low} to {high if high is not None else 'n'}"
            raise _refuse(node, f"{name}() takes {expected} arguments, {count} given")

    def _arity(self, node: ast.Call, name: str, scope: _Scope) -> tuple[int, int | None]:
        if name in self.functions:
            info = self.functions[name]
            return len(info.params) - info.n_defaults, len(info.params)
        if name in BUILTIN_ARITY:
            return BUILTIN_ARITY[name]
        local = scope.function is not None and name in scope.function.local_names
        if local or name in self.global_names:
            raise _refuse(node, f"'{name}' is a value, not a function")
        raise _refuse(node, f"call to unknown function '{name}'")

    def _keywords(self, node: ast.Call, name: str, scope: _Scope) -> None:
        seen: set[str] = set()
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _refuse(keyword.value, "** arguments are not allowed")
            if name != "allow" or keyword.arg not in ALLOW_KEYWORDS:
                reason = "keyword arguments are only allowed as allow(fee=, note=)"
                raise _refuse(keyword.value, reason)
            if keyword.arg in seen:
                raise _refuse(keyword.value, f"keyword '{keyword.arg}' given twice")
            seen.add(keyword.arg)
            self._expr(keyword.value, scope)
        positional = ALLOW_KEYWORDS[: len(node.args)]
        if name == "allow" and seen & set(positional):
            raise _refuse(node, "allow() got a keyword argument that is also given by position")


def _is_docstring(stmt: ast.Expr) -> bool:
    return isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _require_name_target(target: ast.expr) -> None:
    if not isinstance(target, ast.Name):
        reason = "only a plain name can be assigned (no subscripts, attributes or tuples)"
        raise _refuse(target, reason)


def _assigned_names(stmt: ast.stmt, nested: bool) -> list[ast.Name]:
    """Names a statement binds (assignments, for targets); ``nested`` looks inside if/for."""
    found: list[ast.Name] = []
    todo: list[ast.stmt] = [stmt]
    while todo:
        current = todo.pop()
        targets: list[ast.expr] = []
        if isinstance(current, ast.Assign):
            targets = list(current.targets)
        elif isinstance(current, ast.AugAssign | ast.For):
            targets = [current.target]
        found.extend(t for t in targets if isinstance(t, ast.Name))
        if nested and isinstance(current, ast.If | ast.For):
            todo.extend(current.body)
            todo.extend(current.orelse)
    return found
