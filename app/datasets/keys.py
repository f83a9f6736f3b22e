"""Store keys of the datasets domain: prefix 0x0a.

A dataset's records (its ``Model`` with kind "dataset", its versions, digests, holdings) live in
the models domain's keys, so that every rule on ids, digests, licenses, uses and stores covers
datasets as it covers models. This domain keeps the index of which ids are datasets, and which
derivative model each receipt of a fine-tune or training use licensed (app.datasets.lineage).
"""

from __future__ import annotations

PREFIX = b"\x0a"
DATASET = PREFIX + b"d"
LICENSED = PREFIX + b"r"
SEP = b"\x00"


def dataset_key(dataset_id: str) -> bytes:
    """Index entry: ``dataset_id`` is a dataset."""
    return DATASET + dataset_id.encode()


def licensed_key(receipt_id: int) -> bytes:
    """Entry: the derivative model receipt ``receipt_id`` (8-byte big-endian) licensed."""
    return LICENSED + receipt_id.to_bytes(8, "big")
