"""What compiled code runs against: the operators and built-ins, the scopes, and the few steps
only the machine knows how to take (locating a failure, defining and calling script functions,
comparisons, iteration, dicts). The compiler builds closures over this interface and the
evaluator's ``Machine`` implements it, so neither module imports the other's insides."""

from __future__ import annotations

from collections.abc import Iterable

from app.licenses.lang.builtins import Builtins
from app.licenses.lang.errors import Fault, ScriptRuntimeError
from app.licenses.lang.values import Key, Value


class Runtime(Builtins):
    """One evaluation as compiled code sees it."""

    globals: dict[str, Value]
    scope: dict[str, Value]

    def located(self, fault: Fault, line: int, col: int) -> ScriptRuntimeError:
        """The fault as a ScriptRuntimeError at (line, column)."""
        raise NotImplementedError

    def define(self, name: str, defaults: tuple[Value, ...]) -> None:
        """A ``def`` ran: the function exists from now on, with its defaults."""
        raise NotImplementedError

    def call(self, name: str, args: list[Value]) -> Value:
        """Call a script function; raises Fault past the depth limits."""
        raise NotImplementedError

    def compare(self, kind: type, left: Value, right: Value) -> bool:
        """One comparison of a (possibly chained) Compare."""
        raise NotImplementedError

    def iterate(self, value: Value, what: str) -> Iterable[Value]:
        """What a for loop walks, lazily."""
        raise NotImplementedError

    def key_of(self, key: Value) -> Key:
        """A dict key; raises Fault otherwise."""
        raise NotImplementedError

    def make_dict(self, items: dict[Key, Value]) -> Value:
        """A new dict, paid for."""
        raise NotImplementedError
