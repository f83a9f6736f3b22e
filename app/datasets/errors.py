"""Registered errors of the datasets codespace; numbers never change once released."""

from app.core.errors import register

DATASETS = "datasets"
INVALID_FIELD = register(DATASETS, 1, "invalid_field", "a field of the message is not valid")
ID_TAKEN = register(
    DATASETS, 2, "id_taken", "a model or a dataset already has this id (one namespace)"
)
NOT_DATASET = register(DATASETS, 3, "not_dataset", "the id names a model, not a dataset")
ORG_MISMATCH = register(DATASETS, 4, "org_mismatch", "accounts register datasets for their own org")
LINEAGE_TOO_LARGE = register(
    DATASETS,
    5,
    "lineage_too_large",
    "the version's upstream passes the lineage bounds (depth 8, 32 versions)",
)
UPSTREAM_FAILED = register(
    DATASETS, 6, "upstream_failed", "an upstream license failed while asked about a derivative"
)
UPSTREAM_OUT_OF_GAS = register(
    DATASETS, 7, "upstream_out_of_gas", "asking the upstream licenses ran out of the lineage gas"
)
RECEIPT_SPENT = register(
    DATASETS, 8, "receipt_spent", "the receipt already licensed another derivative model"
)
TERMS_CHANGED = register(
    DATASETS,
    9,
    "terms_changed",
    "an input's license is not the one its licensing receipt was taken under",
)
