"""Store keys of the models domain: prefix 0x02, then one byte per record kind.

Ids never contain NUL (validation refuses it), so NUL separates the parts of compound keys and
keeps prefix scans exact.
"""

from __future__ import annotations

PREFIX = b"\x02"
MODEL = PREFIX + b"m"
VERSION = PREFIX + b"v"
VERSION_ORDER = PREFIX + b"n"
BY_OWNER = PREFIX + b"o"
CHILD = PREFIX + b"c"
BY_DIGEST = PREFIX + b"d"
PROVIDER = PREFIX + b"p"
HOLDER = PREFIX + b"H"
MANIFEST = PREFIX + b"F"
MANIFEST_FILE = PREFIX + b"f"
CONTAINS = PREFIX + b"i"
CONSENT = PREFIX + b"k"
CLAIM = PREFIX + b"C"
CLAIM_EXPIRY = PREFIX + b"E"
CLAIM_COUNT = PREFIX + b"Q"
TRAINED = PREFIX + b"t"
ALIAS = PREFIX + b"A"
SEP = b"\x00"


def model_key(model_id: str) -> bytes:
    """Key of a model record."""
    return MODEL + model_id.encode()


def version_key(model_id: str, version: str) -> bytes:
    """Key of a version record."""
    return VERSION + model_id.encode() + SEP + version.encode()


def version_order_prefix(model_id: str) -> bytes:
    """Prefix of a model's versions in publication order."""
    return VERSION_ORDER + model_id.encode() + SEP


def version_order_key(model_id: str, index: int) -> bytes:
    """Index entry: the ``index``-th published version of a model (big-endian, so it sorts)."""
    return version_order_prefix(model_id) + index.to_bytes(4, "big")


def owner_prefix(org_id: str) -> bytes:
    """Prefix of the models an organisation owns."""
    return BY_OWNER + org_id.encode() + SEP


def owner_key(org_id: str, model_id: str) -> bytes:
    """Index entry: ``org_id`` owns ``model_id``."""
    return owner_prefix(org_id) + model_id.encode()


def child_prefix(parent_ref: str) -> bytes:
    """Prefix of the versions that name ``parent_ref`` ("model@version") as a parent."""
    return CHILD + parent_ref.encode() + SEP


def child_key(parent_ref: str, child_ref: str) -> bytes:
    """Index entry: ``child_ref`` derives from ``parent_ref``."""
    return child_prefix(parent_ref) + child_ref.encode()


def digest_prefix(digest: str) -> bytes:
    """Prefix of the versions whose weights have ``digest``."""
    return BY_DIGEST + digest.encode() + SEP


def digest_key(digest: str, ref: str) -> bytes:
    """Index entry: version ``ref`` has weights ``digest``."""
    return digest_prefix(digest) + ref.encode()


def provider_prefix(digest: str) -> bytes:
    """Prefix of the stores announced for ``digest``."""
    return PROVIDER + digest.encode() + SEP


def provider_key(digest: str, url: str) -> bytes:
    """Key of one announced store of ``digest``."""
    return provider_prefix(digest) + url.encode()


def holder_key(digest: str) -> bytes:
    """Key of the organisation that holds a blob digest (first to publish it)."""
    return HOLDER + digest.encode()


def manifest_key(digest: str) -> bytes:
    """Key of a directory manifest whose files the chain knows."""
    return MANIFEST + digest.encode()


def file_prefix(manifest: str) -> bytes:
    """Prefix of the files of a manifest, in path order."""
    return MANIFEST_FILE + manifest.encode() + SEP


def file_key(manifest: str, path: str) -> bytes:
    """Key of one file of a manifest, by its path."""
    return file_prefix(manifest) + path.encode()


def contains_key(manifest: str, file_digest: str) -> bytes:
    """Index entry: the manifest lists a file with ``file_digest``."""
    return CONTAINS + manifest.encode() + SEP + file_digest.encode()


def consent_key(digest: str, org: str) -> bytes:
    """Index entry: ``org`` named a digest it does not hold, with its holder's consent; the
    value is the consenting holder's org id (the consent counts while that org holds it)."""
    return CONSENT + digest.encode() + SEP + org.encode()


def claim_key(org: str, commitment: bytes) -> bytes:
    """Key of an organisation's open claim (a DigestClaim) by its 32-byte commitment."""
    return CLAIM + org.encode() + SEP + commitment


def claim_expiry_prefix(org: str) -> bytes:
    """Prefix of an organisation's claims in expiry order."""
    return CLAIM_EXPIRY + org.encode() + SEP


def claim_expiry_key(org: str, expires: int, commitment: bytes) -> bytes:
    """Index entry: the claim ``commitment`` expires at height ``expires`` (8 bytes big-endian,
    so the oldest come first and pruning stops at the first open one)."""
    return claim_expiry_prefix(org) + expires.to_bytes(8, "big") + commitment


def claim_count_key(org: str) -> bytes:
    """How many claims of the organisation are stored (open, or expired and not yet pruned)."""
    return CLAIM_COUNT + org.encode()


def trained_prefix(dataset_ref: str) -> bytes:
    """Prefix of the versions trained on the dataset version ``dataset_ref`` (app/datasets)."""
    return TRAINED + dataset_ref.encode() + SEP


def trained_key(dataset_ref: str, model_ref: str) -> bytes:
    """Index entry: ``model_ref`` was trained on ``dataset_ref``."""
    return trained_prefix(dataset_ref) + model_ref.encode()


def alias_prefix(model_id: str) -> bytes:
    """Prefix of a model's aliases, in name order."""
    return ALIAS + model_id.encode() + SEP


def alias_key(model_id: str, alias: str) -> bytes:
    """Key of one alias of a model (an Alias record)."""
    return alias_prefix(model_id) + alias.encode()
