"""The ``modelgov`` command line: parse, call the library, render.

The command tree is the file tree. ``root.py`` holds the root and its ``tx`` and ``query``
groups; every other module holds one command group with all of its commands, wherever they
hang: its own top-level group, its group (or command) under ``tx``, and its reads under
``query``. A group named X, at the top or under ``tx``, lives in ``X.py``; a read lives with the
group whose records it reads. Each module below holds exactly what its line names (with
everything under a group it names); tests/chain/test_cli_tree.py checks every command against
this table::

    root.py      tx; query
    keys.py      keys
    model.py     model; tx model; query model|models|version|versions|lineage|aliases
    weights.py   weights; query holder|providers|by-digest|digests|manifest|claim|consent
    license.py   license; tx license; query license|licenses|attachment|evaluate
    usage.py     tx use; query receipts|receipt|totals
    credits.py   tx credits; query balance
    gov.py       tx gov; query org|orgs|account|accounts|params|validators|proposal|proposals|votes
    attest.py    tx attest; query attestations
    fl.py        fl; tx fl; query round|rounds|contributors
    market.py    tx market; query listings|offers|leases|lease
    watch.py     watch
    dataset.py   dataset; tx dataset; query datasets|dataset|trained
    node.py      node; query tx|block
    genesis.py   genesis
    testnet.py   testnet
    config.py    config
    signing.py   tx sign|broadcast

``query holder`` is ``weights holder``, one command under two groups. Every query path of the
app has a command (tests/chain/test_cli_queries.py runs each against the app). Beside the
groups: ``options.py`` (the node, signer and list options, shared input parsing), ``output.py``
(how results look, text and JSON), ``main.py`` (the entry point, which imports every group's
module, and its exit codes).
"""
