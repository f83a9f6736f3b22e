"""Store keys of the datasets domain: prefix 0x0a.

A dataset's records (its ``Model`` with kind "dataset", its versions, digests, holdings) live in
the models domain's keys, so that every rule on ids, digests, licenses, uses and stores covers
datasets as it covers models. This domain keeps only the index of which ids are datasets.
"""

from __future__ import annotations

PREFIX = b"\x0a"
DATASET = PREFIX + b"d"
SEP = b"\x00"


def dataset_key(dataset_id: str) -> bytes:
    """Index entry: ``dataset_id`` is a dataset."""
    return DATASET + dataset_id.encode()
