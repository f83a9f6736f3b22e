"""A fixed sequence of blocks (registrations, publications, failures) and its app hashes.

Run as a script (``PYTHONPATH=.:tests/app python tests/app/determinism_run.py DIR``), it prints
a JSON object with the app hash of every height and every tx's (codespace, code); the
determinism test runs it in fresh processes under different PYTHONHASHSEED values and compares
the outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from driver import Driver, digest, publish, register, set_status, transfer

from app.pb.modelgov.v1 import tx_pb2


def _blocks(d: Driver) -> list[list[bytes]]:
    """The blocks, signed in order (each call to ``d.sign`` takes the next nonce)."""
    metrics = [
        tx_pb2.Metric(name="accuracy", int_value=9012, scale=4),
        tx_pb2.Metric(name="notes", text_value="fine-tuned"),
    ]
    blocks: list[list[bytes]] = []
    blocks.append(
        [
            d.sign("uni-pub", [register("uni", "base", "foundation")]),
            d.sign("acme-pub", [register("acme", "vision")]),
            d.sign("openml-pub", [register("openml", "merge"), register("openml", "tiny")]),
            d.sign("acme-user", [register("acme", "nope")]),  # missing role
        ]
    )
    blocks.append(
        [
            d.sign("uni-pub", [publish("uni/base", "1.0", metrics=metrics)]),
            d.sign("uni-pub", [publish("uni/base", "1.1", parents=["uni/base@1.0"])]),
            d.sign("acme-pub", [publish("acme/vision", "a", dataset_digests=[digest("imgs")])]),
            d.sign("acme-pub", [publish("uni/base", "x")]),  # not owner, nonce consumed
            b"\x00garbage",
        ]
    )
    blocks.append(
        [
            d.sign(
                "openml-pub",
                [publish("openml/merge", "1", parents=["uni/base@1.1", "acme/vision@a"])],
            ),
            d.sign("uni-pub", [publish("uni/base", "1.0")]),  # immutable
            d.sign("uni-pub", [register("uni", "b2")], nonce=0),  # replayed
            d.sign("acme-pub", [register("acme", "later")], nonce=99),  # gap
        ]
    )
    blocks.append([])
    blocks.append(
        [
            d.sign("uni-pub", [set_status("uni/base", "1.0", tx_pb2.VERSION_STATUS_DEPRECATED)]),
            d.sign("uni-admin", [transfer("uni/base", "openml")]),
            d.sign("openml-pub", [publish("uni/base", "2.0", parents=["uni/base@1.1"])]),
            d.sign("uni-pub", [publish("uni/base", "3.0")]),  # no longer owner
        ]
    )
    blocks.append(
        [
            d.sign("openml-pub", [set_status("uni/base", "1.0", tx_pb2.VERSION_STATUS_REVOKED)]),
            d.sign("openml-pub", [set_status("uni/base", "1.0", tx_pb2.VERSION_STATUS_DEPRECATED)]),
            d.sign("acme-pub", [register("acme", f"m{i}") for i in range(5)]),
            d.sign("acme-pub", [publish(f"acme/m{i}", "1") for i in range(5)]),
        ]
    )
    blocks.append(
        [
            d.sign("openml-pub", [publish("openml/tiny", f"{i}") for i in range(6)]),
            # Refused before its nonce is checked: the next tx reuses that nonce.
            d.sign("uni-pub", [register("uni", "c")], nonce=d["uni-pub"].nonce, chain_id="other"),
            d.sign("uni-pub", [register("uni", "d"), publish("uni/d", "1", license="x")]),
        ]
    )
    return blocks


def run_blocks(path: Path) -> dict[str, Any]:
    """Run the sequence on a fresh store under ``path``; hashes and result codes per height."""
    d = Driver(path)
    try:
        hashes = [d.init_chain().app_hash.hex()]
        codes: list[list[tuple[str, int]]] = []
        for txs in _blocks(d):
            response = d.block(txs, check_proposal=False)
            hashes.append(response.app_hash.hex())
            codes.append([(r.codespace, r.code) for r in response.tx_results])
        return {"hashes": hashes, "codes": codes}
    finally:
        d.close()


if __name__ == "__main__":
    print(json.dumps(run_blocks(Path(sys.argv[1]))))
