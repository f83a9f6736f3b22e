"""Text the state machine writes about user input, the same on every Python.

``repr`` escapes a character or not depending on the interpreter's Unicode database
(``str.isprintable``), which changes between Python minor versions; a message built with
``!r`` can therefore differ between validators. ``quote`` escapes by code point alone: printable
ASCII stays, everything else becomes ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``. Anything that is
stored, hashed or counted (a failed proposal's result, a script's ``str()``) uses it, and so do
the logs, so one message reads the same everywhere.
"""

from __future__ import annotations

_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("\\"), ord("'")}
_NAMED = {ord("\\"): "\\\\", ord("'"): "\\'", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def escape_char(code: int) -> str:
    """One code point as it appears inside ``quote``'s quotes."""
    if code in _PLAIN:
        return chr(code)
    named = _NAMED.get(code)
    if named is not None:
        return named
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(text: str, limit: int | None = None) -> str:
    """``text`` in single quotes with every non-printable-ASCII character escaped.

    With ``limit``, at most that many characters of ``text`` are shown, followed by ``...``
    when some were left out, so a message about a huge input stays small.
    """
    shown = text if limit is None or len(text) <= limit else text[:limit]
    body = "".join(escape_char(ord(c)) for c in shown)
    return "'" + body + ("...'" if len(shown) < len(text) else "'")
