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


IDS: dict[tuple[str, str], str] = {
    ("usage.receipt", "id"): "receipt_id",
    ("usage.receipt", "fee"): "fee",
    ("license.deployed", "license"): "license_id",
    ("gov.proposal", "id"): "proposal_id",
    ("federated.round_opened", "id"): "round_id",
    ("model.version_published", "ref"): "version",
    ("model.registered", "model"): "model",
    ("credits.transfer", "amount"): "amount",
}
"""The ids and amounts a next command needs, lifted out of a transaction's events."""


def tx_report(tx_hash: str, height: int, code: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What every ``tx`` command prints: height, lowercase hash, the ids and amounts its events
    carry (``receipt_id``, ``fee``, ``license_id``, ``proposal_id``, ``round_id``, ...) and
    every event with its attributes."""
    shown = [
        {"type": e.get("type", ""), **{a["key"]: a["value"] for a in e.get("attributes", [])}}
        for e in events
        if e.get("type")
    ]
    data: dict[str, Any] = {"hash": tx_hash.lower(), "height": height, "code": code}
    for event in shown:
        for key, value in event.items():
            name = IDS.get((event["type"], key))
            if name is not None:
                data.setdefault(name, int(value) if value.isdigit() else value)
    data["events"] = shown
    return data


def tx_text(data: dict[str, Any]) -> str:
    """The text of a tx report: height and hash, then the ids (``receipt_id: 7  fee: 21``)."""
    head = f"committed at height {data['height']}  tx {data['hash']}"
    ids = [f"{k}: {v}" for k, v in data.items() if k in IDS.values()]
    return head + ("\n" + "  ".join(ids) if ids else "")
