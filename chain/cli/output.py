"""The one place that decides how results look: text for people, stable JSON for programs.

JSON output is a single object per command (``sort_keys``), protobuf records under their proto
field names, values under the rules of ``chain.render`` (enums by short lowercase name, times in
RFC 3339, metrics as exact decimals, bytes and hashes as lowercase hex). A list command's
object holds its items under one key and ``next``: the cursor to pass as ``--after`` for the
rest ("" when it listed all). Its text is a table, and a last line naming that cursor when more
remain.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

import click
from google.protobuf.message import Message

from chain.render import plain

OUTPUT_CHOICE = click.Choice(["text", "json"])


def record(msg: Message) -> dict[str, Any]:
    """A protobuf record as plain data, under the rendering rules of ``chain.render`` (enum
    short names, RFC 3339 times, decimal metrics, lowercase hex)."""
    return plain(msg)


def emit(output: str, data: Any, text: Callable[[Any], str] | None = None) -> None:
    """Print ``data`` as JSON, or as ``text(data)`` (default: aligned key: value lines)."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(text(data) if text else lines(data))


def lines(data: Any, indent: int = 0) -> str:
    """A readable rendering of nested dicts and lists."""
    pad = " " * indent
    if isinstance(data, dict):
        width = max((len(str(k)) for k in data), default=0)
        parts = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                parts.append(f"{pad}{key}:\n{lines(value, indent + 2)}")
            else:
                shown = "" if value in ([], {}) else value
                parts.append(f"{pad}{str(key) + ':':<{width + 1}} {shown}")
        return "\n".join(parts)
    if isinstance(data, list):
        return "\n".join(
            f"{pad}-\n{lines(item, indent + 2)}" if isinstance(item, dict) else f"{pad}- {item}"
            for item in data
        )
    return f"{pad}{data}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as an aligned table with a header."""
    rows = [{c: _cell(r.get(c, "")) for c in columns} for r in rows]
    widths = [max([len(c)] + [len(r[c]) for r in rows]) for c in columns]
    head = "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))
    body = [
        "  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
        for r in rows
    ]
    return "\n".join([head, *body]).rstrip()


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def emit_list(
    output: str,
    name: str,
    rows: list[dict[str, Any]],
    nxt: str,
    columns: list[str],
    **extra: Any,
) -> None:
    """A list command's answer: ``rows`` under ``name``, ``next`` and ``extra`` fields in JSON;
    a table of ``columns`` and how to go on in text."""
    data = {**extra, name: rows, "next": nxt}
    emit(output, data, lambda d: with_next(table(d[name], columns), d["next"]))


def with_next(text: str, nxt: str) -> str:
    """``text``, and when a list stopped at its limit, how to list the rest."""
    return f"{text}\nmore: run again with --after {shlex.quote(nxt)}" if nxt else text
