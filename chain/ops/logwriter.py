"""A process's log, rotated: ``python -m chain.ops.logwriter FILE`` (or $MODELGOV_LOG_PATH)
copies its standard input into FILE and, when FILE would pass ``--max-bytes``, renames it FILE.1
(FILE.1 to FILE.2, ..., keeping ``--keep``) and starts a new FILE. The testnet pipes every node
process's output through one (chain/testnet.py), so app.log and engine.log never grow without
bound. It exits when its input closes, that is when the process it logs has exited."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import BinaryIO

LOG_PATH_ENV = "MODELGOV_LOG_PATH"
"""Where the file goes when no path argument is given (the testnet passes it this way)."""
MAX_BYTES = 64 * 1024 * 1024
KEEP = 3


def rotate(path: Path, keep: int) -> None:
    """FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1 (the oldest is dropped)."""
    for index in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{index + 1}"))
    if path.exists():
        path.replace(path.with_name(f"{path.name}.1"))


def copy(source: BinaryIO, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
    """Copy ``source`` line by line into ``path``, rotating past ``max_bytes``."""
    out = path.open("ab")
    size = out.tell()
    try:
        for line in source:
            if size and size + len(line) > max_bytes:
                out.close()
                rotate(path, keep)
                out, size = path.open("ab"), 0
            out.write(line)
            out.flush()
            size += len(line)
    finally:
        out.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: copy standard input into the rotated file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, nargs="?", default=None)
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    parser.add_argument("--keep", type=int, default=KEEP)
    args = parser.parse_args(argv)
    path = args.path or Path(os.environ.get(LOG_PATH_ENV, ""))
    if not str(path) or str(path) == ".":
        parser.error(f"give FILE or ${LOG_PATH_ENV}")
    copy(sys.stdin.buffer, path, max(args.max_bytes, 1024), max(args.keep, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
