"""The ``modelgov`` command line: parse, call the library, render.

The command tree is the file tree. ``root.py`` holds the root and its ``tx`` and ``query``
groups; every other module holds one command group with all of its commands, wherever they
hang: its own top-level group, its group (or command) under ``tx``, and its reads under
``query``. A group named X, at the top or under ``tx``, lives in ``X.py``; a read lives with the
group whose records it reads. ``TABLE`` below says which module holds what (with everything
under a group it names); the root and its ``tx`` and ``query`` groups import a command's module
when the command is first asked for (root.py), so a query loads its own module and not every
command's; tests/chain/test_cli_tree.py checks every command against the table.

``query holder`` is ``weights holder``, one command under two groups. Every query path of the
app has a command (tests/chain/test_cli_queries.py runs each against the app). Beside the
groups: ``options.py`` (the node, signer and list options, shared input parsing), ``output.py``
(how results look, text and JSON), ``main.py`` (the entry point and its exit codes).
"""

from __future__ import annotations

from functools import cache

TABLE: tuple[tuple[str, str], ...] = (
    ("root", "tx; query"),
    ("keys", "keys"),
    ("model", "model; tx model; query model|models|version|versions|lineage|aliases"),
    ("weights", "weights; query holder|providers|by-digest|digests|manifest|claim|consent"),
    ("license", "license; tx license; query license|licenses|attachment|evaluate"),
    ("usage", "tx use; query receipts|receipt|totals"),
    ("credits", "tx credits; query balance"),
    (
        "gov",
        "tx gov; query org|orgs|account|accounts|params|validators|proposal|proposals|votes",
    ),
    ("attest", "tx attest; query attestations"),
    ("fl", "fl; tx fl; query round|rounds|contributors"),
    ("market", "tx market; query listings|offers|leases|lease"),
    ("watch", "watch"),
    ("dataset", "dataset; tx dataset; query datasets|dataset|trained"),
    ("node", "node; query tx|block"),
    ("genesis", "genesis"),
    ("testnet", "testnet"),
    ("config", "config"),
    ("signing", "tx sign|broadcast"),
)
"""Module (chain/cli/<module>.py) -> the commands it holds: ``;`` between entries, each a path
whose last word may name several commands with ``|``."""

Path = tuple[str, ...]


@cache
def layout() -> dict[Path, str]:
    """The table as command path -> the module that holds it (and its subtree)."""
    found: dict[Path, str] = {}
    for module, entries in TABLE:
        for entry in entries.split(";"):
            *parent, names = entry.split()
            for name in names.split("|"):
                path = (*parent, name)
                if path in found:
                    raise ValueError(f"{' '.join(path)} is in chain.cli.TABLE twice")
                found[path] = module
    return found


def owner(path: Path) -> str | None:
    """The module that holds ``path``: its own entry's, or the nearest group's."""
    table = layout()
    for end in range(len(path), 0, -1):
        if path[:end] in table:
            return table[path[:end]]
    return None


def children(group: Path) -> list[tuple[str, str]]:
    """(name, module) of every command the table hangs directly under ``group``."""
    return [(p[-1], module) for p, module in layout().items() if p[:-1] == group]
