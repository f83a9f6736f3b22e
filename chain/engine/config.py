"""Edit the engine's config.toml in place, keeping its comments and every key we do not set.

``cometbft init`` writes a complete, commented config; a node's settings are a handful of keys
in known sections, so we rewrite those lines rather than re-serialising the whole file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

SECTION = re.compile(r"^\s*\[([A-Za-z0-9_.]+)\]\s*$")
ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z0-9_-]+)\s*=")

Value = str | int | bool


def toml_literal(value: Value) -> str:
    """A TOML literal for a string, integer or boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_values(path: Path, values: Mapping[str, Value]) -> None:
    """Set ``section.key`` (or top-level ``key``) assignments; raises KeyError for a key the
    file does not have, so a typo or an engine upgrade that renamed a key is caught."""
    lines = path.read_text().splitlines(keepends=True)
    section = ""
    remaining = dict(values)
    for i, line in enumerate(lines):
        header = SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        assignment = ASSIGNMENT.match(line)
        if not assignment:
            continue
        name = f"{section}.{assignment.group(2)}" if section else assignment.group(2)
        if name in remaining:
            literal = toml_literal(remaining.pop(name))
            lines[i] = f"{assignment.group(1)}{assignment.group(2)} = {literal}\n"
    if remaining:
        raise KeyError(f"{path} has no setting {', '.join(sorted(remaining))}")
    path.write_text("".join(lines))


# sun_path of a Linux AF_UNIX address holds 108 bytes including the terminating NUL.
UNIX_PATH_MAX = 107


class SocketPathError(ValueError):
    """A unix socket path is longer than the kernel accepts."""


def unix_address(path: Path) -> str:
    """``unix://PATH`` for the engine's ``proxy_app`` and the app's ``--address``; raises
    SocketPathError when PATH is over UNIX_PATH_MAX bytes, which neither the app nor the engine
    could bind or dial (they would fail later with a less helpful message)."""
    size = len(os.fsencode(path))
    if size > UNIX_PATH_MAX:
        raise SocketPathError(
            f"unix socket path {path} is {size} bytes; the limit is {UNIX_PATH_MAX} bytes"
        )
    return f"unix://{path}"
