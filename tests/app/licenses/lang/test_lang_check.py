"""The deploy-time check refuses everything outside the language, with line, column and reason."""

from __future__ import annotations

import pytest

from app.licenses.lang import Limits, ScriptError, check_script

OK = "def authorize(ctx):\n    return allow()\n"


def refused(source: str, limits: Limits | None = None) -> ScriptError:
    with pytest.raises(ScriptError) as caught:
        check_script(source, limits or Limits())
    return caught.value


# (source, reason fragment, line, column); authorize is appended where the case lacks it.
REFUSED = [
    ("import os", "imports are not allowed", 1, 1),
    ("from os import path", "imports are not allowed", 1, 1),
    ("class A:\n    pass", "classes are not allowed", 1, 1),
    ("F = lambda x: x", "lambda is not allowed", 1, 5),
    ("def f():\n    while True:\n        pass", "while loops are not allowed", 2, 5),
    (
        "def f():\n    try:\n        pass\n    except Exception:\n        pass",
        "try is not allowed",
        2,
        5,
    ),
    ("def f():\n    with x:\n        pass", "with is not allowed", 2, 5),
    ("def f():\n    global X", "global is not allowed", 2, 5),
    ("def f():\n    nonlocal X", "nonlocal is not allowed", 2, 5),
    ("X = 1\ndef f():\n    del X", "del is not allowed", 3, 5),
    ("def f():\n    yield 1", "yield is not allowed", 2, 5),
    ("async def f():\n    pass", "async is not allowed", 1, 1),
    ("X = f'{1}'", "f-strings are not allowed", 1, 5),
    ("X = 1.5", "float literals are not allowed", 1, 5),
    ("X = 1j", "complex literals are not allowed", 1, 5),
    ("X = b'x'", "bytes literals are not allowed", 1, 5),
    ("X = 4 / 2", "'/' is not allowed", 1, 5),
    ("X = 1\nX /= 2", "'/' is not allowed", 2, 1),
    ("X = 1 << 3", "operator LShift is not allowed", 1, 5),
    ("X = ~1", "operator Invert is not allowed", 1, 5),
    ("X = 1 is 1", "'is' is only allowed as 'is None'", 1, 5),
    ("_x = 1", "names starting with '_'", 1, 1),
    ("__class__ = 1", "names starting with '_'", 1, 1),
    ("def f(ctx):\n    return ctx._secret", "attributes starting with '_'", 2, 12),
    ("def f(ctx):\n    return ctx.__class__", "attributes starting with '_'", 2, 12),
    ("X = ().__class__.__bases__", "attributes starting with '_'", 1, 5),
    ("X = [].__class__", "attributes starting with '_'", 1, 5),
    ("X = 'a'.upper", "only allowed on context records", 1, 5),
    ("X = 'a'.upper()", "methods cannot be called", 1, 5),
    ("def f(ctx):\n    return ctx.caller.roles.append(1)", "methods cannot be called", 2, 12),
    ("X = exec('1')", "unknown function 'exec'", 1, 5),
    ("X = eval('1')", "unknown function 'eval'", 1, 5),
    ("X = open('f')", "unknown function 'open'", 1, 5),
    ("X = getattr(1, 'x')", "unknown function 'getattr'", 1, 5),
    ("X = __import__('os')", "names starting with '_'", 1, 5),
    ("X = compile('1', 'f', 'eval')", "unknown function 'compile'", 1, 5),
    ("X = globals()", "unknown function 'globals'", 1, 5),
    ("X = vars()", "unknown function 'vars'", 1, 5),
    ("X = type(1)", "unknown function 'type'", 1, 5),
    ("X = print", "unknown name 'print'", 1, 5),
    ("X = len", "built-in 'len' can only be called", 1, 5),
    ("def f():\n    pass\nX = f", "function 'f' can only be called", 3, 5),
    ("X = 1\nY = X()", "'X' is a value, not a function", 2, 5),
    ("X = sorted([1], reverse=True)", "keyword arguments are only allowed as allow", 1, 25),
    ("X = allow(fee=1, fee=2)", "keyword 'fee' given twice", 1, 22),
    ("X = allow(fee=1, price=2)", "keyword arguments are only allowed as allow", 1, 24),
    ("X = max(*[1, 2])", "star arguments are not allowed", 1, 9),
    ("X = allow(**{})", "** arguments are not allowed", 1, 13),
    ("X = [*[1]]", "star arguments are not allowed", 1, 6),
    ("X = {**{}}", "** unpacking is not allowed", 1, 8),
    ("def deco(f):\n    return f\n@deco\ndef g():\n    pass", "decorators are not allowed", 3, 2),
    ("X = (1, 2)", "tuples are not allowed", 1, 5),
    ("X = {1, 2}", "sets are not allowed", 1, 5),
    ("X = [i for i in range(3)]", "comprehensions are not allowed", 1, 5),
    ("X = (y := 1)", "walrus", 1, 6),
    ("X = 1\nX[0] = 1", "only a plain name can be assigned", 2, 1),
    ("def f():\n    a, b = 1, 2", "only a plain name can be assigned", 2, 5),
    ("X: int = 1", "annotations are not allowed", 1, 1),
    ("def f(x: int):\n    pass", "annotations are not allowed", 1, 10),
    ("def f(*args):\n    pass", "only plain positional parameters", 1, 1),
    ("def f(x, *, y):\n    pass", "only plain positional parameters", 1, 1),
    ("def f(**kw):\n    pass", "only plain positional parameters", 1, 1),
    ("def f():\n    def g():\n        pass", "functions are only allowed at top level", 2, 5),
    ("for i in range(3):\n    pass", "only constants and function definitions", 1, 1),
    ("if True:\n    pass", "only constants and function definitions", 1, 1),
    ("len([1])", "only constants and function definitions", 1, 1),
    ("return 1", "only constants and function definitions", 1, 1),
    ("def f():\n    break", "only allowed inside a loop", 2, 5),
    ("def f():\n    for i in [1]:\n        pass\n    else:\n        pass", "for ... else", 5, 9),
    ("def f():\n    raise ValueError", "raise is not allowed", 2, 5),
    ("def f():\n    assert 1", "assert is not allowed", 2, 5),
    ("X = undefined_name", "unknown name 'undefined_name'", 1, 5),
    ("X = 2 ** 300", "", 1, 1),  # fine at check time; overflow is a runtime error
    ("X = 1\ndef X():\n    pass", "defined twice", 2, 1),
    ("len = 3", "'len' is a built-in", 1, 1),
    ("def range(n):\n    pass", "'range' is a built-in", 1, 1),
    ("def f(a, a):\n    pass", "repeats another name", 1, 10),
    ("X = f(1)\ndef f(a, b):\n    pass", "f() takes 2 arguments, 1 given", 1, 5),
    ("X = len(1, 2)", "len() takes 1 arguments, 2 given", 1, 5),
    ("X = '\\d'", "unknown escape", 1, 6),
    ("X = (", "syntax error", 1, 5),
    ("X = 123456789" + "0" * 80, "integer literal beyond 256 bits", 1, 5),
]


@pytest.mark.parametrize(("source", "reason", "line", "col"), REFUSED, ids=[s for s, *_ in REFUSED])
def test_refused_with_line_column_and_reason(source: str, reason: str, line: int, col: int) -> None:
    if not reason:
        check_script(source + "\n" + OK)
        return
    error = refused(source + "\n\n" + OK)
    assert reason in error.reason
    assert (error.line, error.col) == (line, col), error
    assert str(error).startswith(f"line {line}, col {col}: ")


def test_authorize_is_required_with_exactly_one_parameter() -> None:
    assert "must define authorize(ctx)" in refused("X = 1\n").reason
    assert "exactly one parameter" in refused("def authorize(ctx, extra):\n    pass\n").reason
    assert "exactly one parameter" in refused("def authorize(ctx=1):\n    pass\n").reason
    assert "exactly one parameter" in refused("def authorize():\n    pass\n").reason


def test_source_size_and_nesting_are_bounded() -> None:
    oversize = OK + "#" * 20_000
    assert "bytes, the limit is 16384" in refused(oversize).reason
    deep = "X = " + "-" * 70 + "1\n" + OK
    error = refused(deep)
    assert "nesting too deep" in error.reason
    assert error.line == 1
    nested_ifs = "def authorize(ctx):\n" + "".join(
        "    " * (i + 1) + "if True:\n" for i in range(70)
    )
    nested_ifs += "    " * 71 + "pass\n"
    assert "nesting too deep" in refused(nested_ifs).reason


def test_pathological_parse_input_is_a_script_error() -> None:
    assert refused("X = " + "(" * 5000 + "1" + ")" * 5000 + "\n" + OK).reason
    assert refused("X = 1\x00\n" + OK).reason


def test_program_carries_source_and_code_hash() -> None:
    program = check_script(OK)
    assert program.source == OK
    assert program.code_hash.startswith("sha256:") and len(program.code_hash) == 71
    assert check_script(OK) == program


@pytest.mark.parametrize("levels", [70, 1_000, 3_000])
def test_too_deep_reads_the_same_whether_the_parser_or_the_checker_stops(levels: int) -> None:
    """A nesting some Pythons' parsers give up on (a host recursion limit) and one every parser
    reads are refused with one text, so the log is the same on 3.11, 3.12 and 3.13."""
    source = "def authorize(ctx):\n    x = 1 if " + "not " * levels + "False else 0\n" + OK
    error = refused(source)
    assert str(error) == "line 1, col 1: nesting too deep: more than 64 levels"
