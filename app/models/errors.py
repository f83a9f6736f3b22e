"""Registered errors of the models codespace; numbers never change once released."""

from app.core.errors import register

MODELS = "models"
INVALID_NAME = register(MODELS, 1, "invalid_name", "the model name is not valid")
INVALID_VERSION = register(MODELS, 2, "invalid_version", "the version string is not valid")
INVALID_DIGEST = register(MODELS, 3, "invalid_digest", "a digest is not sha256:<64 hex>")
INVALID_FIELD = register(MODELS, 4, "invalid_field", "a field of the message is not valid")
MODEL_EXISTS = register(MODELS, 5, "model_exists", "a model with this id already exists")
MODEL_NOT_FOUND = register(MODELS, 6, "model_not_found", "no model with this id")
VERSION_EXISTS = register(MODELS, 7, "version_exists", "versions are immutable once published")
VERSION_NOT_FOUND = register(MODELS, 8, "version_not_found", "no such version of the model")
NOT_OWNER = register(MODELS, 9, "not_owner", "the sender's organisation does not own the model")
PARENT_NOT_FOUND = register(MODELS, 10, "parent_not_found", "a parent version does not exist")
BAD_STATUS = register(MODELS, 11, "bad_status_change", "this status change is not allowed")
UNKNOWN_ORG = register(MODELS, 12, "unknown_org", "no organisation with this id")
ORG_MISMATCH = register(MODELS, 13, "org_mismatch", "accounts register models for their own org")
# 14 was license_unsupported before licenses existed; a code is never reused.
LICENSE_UNSUPPORTED = register(MODELS, 14, "license_unsupported", "retired: licenses now exist")
TOO_MANY = register(MODELS, 15, "too_many", "a list is longer than the consortium allows")
SAME_OWNER = register(MODELS, 16, "same_owner", "the model already belongs to that org")
# Digest holding (publish) and access decisions (/models/read_access, /models/write_access).
DIGEST_HELD = register(
    MODELS, 17, "digest_held", "another organisation holds this digest; name it with its consent"
)
BAD_MANIFEST = register(
    MODELS, 18, "bad_manifest", "the listed files do not make the manifest of the weights digest"
)
BAD_CONSENT = register(
    MODELS, 19, "bad_consent", "a consent receipt is not a redistribution receipt of the holder"
)
NO_ACCOUNT = register(MODELS, 20, "no_account", "the requester is not a consortium account")
NOT_MEMBER = register(MODELS, 21, "not_member", "the requester's organisation is not a member")
NOT_PUBLISHED = register(MODELS, 22, "not_published", "no published version names this digest")
VERSION_REVOKED = register(
    MODELS, 23, "version_revoked", "every version naming this digest is revoked"
)
NOT_GRANTED = register(
    MODELS, 24, "not_granted", "no version naming this digest grants the requester a download"
)
FILE_NOT_LISTED = register(
    MODELS, 25, "file_not_listed", "the chain lists no such file in this directory's manifest"
)
NOT_WRITER = register(
    MODELS, 26, "not_writer", "the requester may not upload weights of this model"
)
COPY_NOT_CONSENTED = register(
    MODELS, 27, "copy_not_consented", "the store's copy was uploaded by an org that may not name it"
)
# Claims (ClaimDigests, PublishVersion.claim_salt) and what a claim's takeover leaves behind.
DISPLACED = register(
    MODELS, 28, "displaced", "the org that named this digest lost it to an earlier claim"
)
INVALID_CLAIM = register(
    MODELS, 29, "invalid_claim", "commitments are 1 to 16 distinct 32-byte values; salts 32 bytes"
)
TOO_MANY_CLAIMS = register(
    MODELS, 30, "too_many_claims", "the organisation has the most open claims allowed"
)
CLAIM_EXISTS = register(
    MODELS, 31, "claim_exists", "the organisation already has an open claim with this commitment"
)
CLAIM_NOT_FOUND = register(
    MODELS, 32, "claim_not_found", "no claim of the sender's organisation matches digest and salt"
)
CLAIM_EXPIRED = register(
    MODELS, 33, "claim_expired", "the claim this salt reveals has expired; claim again"
)
CLAIM_TOO_RECENT = register(
    MODELS, 34, "claim_too_recent", "the claim was made in this block; publish in a later one"
)
# Datasets and derivatives (app/datasets): what a publication owes its inputs' licenses.
IS_DATASET = register(
    MODELS, 35, "is_dataset", "the id names a dataset: publish its versions with publish_dataset"
)
NOT_DATASET = register(
    MODELS, 36, "not_dataset", "trained_on names a version that is not a published dataset's"
)
UNLICENSED_INPUT = register(
    MODELS,
    37,
    "unlicensed_input",
    "another org's parent or dataset needs a receipt of an allowed fine-tune or training use",
)
DERIVE_REFUSED = register(
    MODELS, 38, "derive_refused", "an upstream license's derive(ctx) refused this derivative"
)
# Aliases (SetAlias, /models/resolve).
ALIAS_CONFLICT = register(
    MODELS, 39, "alias_conflict", "an alias and a version of a model cannot share a name"
)
ALIAS_NOT_FOUND = register(MODELS, 40, "alias_not_found", "the model has no alias of this name")
