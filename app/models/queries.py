"""Queries of the registry: models, versions, lineage, models by owner."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from app.core import names
from app.core.errors import BAD_QUERY, NOT_FOUND, TxError
from app.core.pause import pause_point
from app.core.query import (
    Handler,
    QueryAnswer,
    decimal,
    int_param,
    limit_param,
    named_records,
    page,
    record,
    text_param,
)
from app.core.text import quote
from app.models import access, keys
from app.models.access import Clock
from app.models.expected import LeaseBook, LicenseOracle
from app.models.keeper import ModelsReader, split_ref, version_ref
from app.pb.modelgov.v1 import state_pb2
from app.state import Reader

MAX_LINEAGE = 1000
MAX_LINEAGE_STEPS = 5000
"""Most edges one lineage walk follows (a version may have any number of children)."""
DEFAULT_DEPTH = 16
MAX_DEPTH = 64
MAX_INDEX = 2**32 - 1  # version indexes are 4-byte keys
MAX_U64 = 2**64 - 1
MAX_I64 = 2**63 - 1
COMMITMENT_HEX = re.compile(r"\A[0-9a-f]{64}\Z")


def model(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/model {"id"}: one model."""
    model_id = text_param(params, "id")
    return record(state, keys.model_key(model_id), f"model {quote(model_id, 80)}")


def version(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/version {"model", "version"}: one version."""
    model_id, name = text_param(params, "model"), text_param(params, "version")
    return record(state, keys.version_key(model_id, name), f"version {model_id}@{name}")


def versions(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/versions {"model", "after", "limit"}: versions in publication order."""
    model_id = text_param(params, "model")
    reader = ModelsReader(state)
    if reader.model(model_id) is None:
        raise TxError(NOT_FOUND, f"model {quote(model_id, 80)} not found")
    after = text_param(params, "after", required=False)
    start = _index_cursor(after)

    def items() -> Iterator[tuple[str, bytes]]:
        for index, name in reader.version_names(model_id, start):
            raw = state.get(keys.version_key(model_id, name))
            if raw is not None:
                yield str(index), raw

    return page(items(), limit_param(params))


def models(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/models {"owner", "after", "limit"}: models in id order, of one owner if given."""
    owner = text_param(params, "owner", required=False)
    after = text_param(params, "after", required=False)
    reader = ModelsReader(state)
    limit = limit_param(params)
    if not owner:
        return page(((m.id, m.SerializeToString()) for m in reader.all_models(after)), limit)

    def items() -> Iterator[tuple[str, bytes]]:
        for model_id in reader.owned_models(owner, after):
            raw = state.get(keys.model_key(model_id))
            if raw is not None:
                yield model_id, raw

    return page(items(), limit)


def lineage(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/lineage {"model", "version", "depth"}: ancestors and descendants, nearest first."""
    model_id, name = text_param(params, "model"), text_param(params, "version")
    depth = int_param(params, "depth", DEFAULT_DEPTH, MAX_DEPTH)
    reader = ModelsReader(state)
    if reader.version(model_id, name) is None:
        raise TxError(NOT_FOUND, f"version {model_id}@{name} not found")
    start = version_ref(model_id, name)
    ancestors = _walk(start, depth, lambda ref: _parents(reader, ref))
    descendants = _walk(start, depth, reader.children)
    datasets = _datasets(reader, [start, *ancestors])
    answer = state_pb2.Lineage(ancestors=ancestors, descendants=descendants, datasets=datasets)
    return QueryAnswer(answer.SerializeToString())


def _datasets(reader: ModelsReader, refs: list[str]) -> list[str]:
    """The dataset versions the versions ``refs`` were trained on, each once, in their order
    (at most MAX_LINEAGE; ``refs`` is itself a bounded walk)."""
    seen: set[str] = set()
    out: list[str] = []
    for ref in refs:
        found = reader.version(*split_ref(ref))
        for dataset in found.trained_on if found is not None else ():
            pause_point()
            if dataset not in seen and len(out) < MAX_LINEAGE:
                seen.add(dataset)
                out.append(dataset)
    return out


def _parents(reader: ModelsReader, ref: str) -> Iterator[str]:
    found = reader.version(*split_ref(ref))
    return iter(found.parents if found is not None else ())


def _walk(start: str, depth: int, step: Any) -> list[str]:
    """Breadth-first refs reachable from ``start`` within ``depth`` steps, each once; stops at
    MAX_LINEAGE refs or after following MAX_LINEAGE_STEPS edges, whichever comes first."""
    seen = {start}
    frontier = [start]
    out: list[str] = []
    steps = 0
    for _ in range(depth):
        following = []
        for ref in frontier:
            for nxt in step(ref):
                pause_point()
                steps += 1
                if len(out) == MAX_LINEAGE or steps > MAX_LINEAGE_STEPS:
                    return out
                if nxt not in seen:
                    seen.add(nxt)
                    out.append(nxt)
                    following.append(nxt)
        frontier = following
    return out


def _index_cursor(after: str) -> int:
    """The "after" of /models/versions: a version index, -1 for the first page."""
    if not after:
        return -1
    index = decimal(after, "after")
    if index > MAX_INDEX:
        raise TxError(BAD_QUERY, "'after' of /models/versions is the 'next' of the previous page")
    return index


def by_digest(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/by_digest {"digest", "after", "limit"}: the versions whose weights have this
    digest, in ref order; the cursor is the ref."""
    digest = text_param(params, "digest")
    after = text_param(params, "after", required=False)
    prefix = keys.digest_prefix(digest)
    start = keys.digest_key(digest, after) if after else None

    def items() -> Iterator[tuple[str, bytes]]:
        for key, _ in state.iterate(prefix, start):
            ref = key[len(prefix) :].decode()
            raw = state.get(keys.version_key(*split_ref(ref)))
            if raw is not None:
                yield ref, raw

    return page(items(), limit_param(params))


def digests(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/digests {"after", "limit"}: every weights digest a version references, once.

    The index holds one key per (digest, version): after each digest the scan seeks past all
    of its keys, so a digest shared by many versions costs one seek, not one step each.
    """
    after = text_param(params, "after", required=False)

    def items() -> Iterator[tuple[str, bytes]]:
        start = keys.digest_prefix(after) + b"\xff" if after else None
        while True:
            key = next((k for k, _ in state.iterate(keys.BY_DIGEST, start)), None)
            if key is None:
                return
            digest = key[len(keys.BY_DIGEST) :].split(keys.SEP, 1)[0].decode()
            yield digest, digest.encode()
            start = keys.digest_prefix(digest) + b"\xff"

    return page(items(), limit_param(params))


def providers(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/providers {"digest", "after", "limit"}: the stores announced for a digest, in
    URL order; the cursor is the URL."""
    digest = text_param(params, "digest")
    after = text_param(params, "after", required=False)
    prefix = keys.provider_prefix(digest)
    start = keys.provider_key(digest, after) if after else None
    items = ((k[len(prefix) :].decode(), v) for k, v in state.iterate(prefix, start))
    return page(items, limit_param(params))


def holder(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/holder {"digest"}: the organisation that holds a blob digest (provable)."""
    digest = text_param(params, "digest")
    return record(state, keys.holder_key(digest), f"a holder of {digest}")


def manifest(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/manifest {"digest"}: a directory manifest whose files the chain knows."""
    digest = text_param(params, "digest")
    return record(state, keys.manifest_key(digest), f"the files of {digest}")


def files(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/files {"digest", "after", "limit"}: a known manifest's files in path order
    (``after`` is the last path of the previous page)."""
    return named_records(state, keys.file_prefix(text_param(params, "digest")), params)


def read_access(
    state: Reader,
    params: Mapping[str, Any],
    oracle: LicenseOracle,
    leases: LeaseBook | None = None,
) -> QueryAnswer:
    """/models/read_access {"address", "digest", "path", "height", "time", "uploader"}: may this
    account download the blob (or the file ``path`` of the directory) now? ``height`` and
    ``time`` are the next block's, for the license rule (without them no license is asked);
    ``uploader`` is the org whose upload brought the store's copy in."""
    address, digest = text_param(params, "address"), text_param(params, "digest")
    if not names.DIGEST.fullmatch(digest):
        raise TxError(BAD_QUERY, "'digest' is sha256:<64 lowercase hex>")
    path = text_param(params, "path", required=False)
    clock = None
    if "height" in params or "time" in params:
        clock = Clock(
            int_param(params, "height", 0, MAX_U64), int_param(params, "time", 0, MAX_I64)
        )
    uploader = text_param(params, "uploader", required=False)
    decision = access.read_access(state, oracle, address, digest, path, clock, uploader, leases)
    return QueryAnswer(decision.SerializeToString(deterministic=True))


def write_access(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/write_access {"address", "model"}: may this account upload weights of the model
    to a store now?"""
    address, model_id = text_param(params, "address"), text_param(params, "model")
    decision = access.write_access(state, address, model_id)
    return QueryAnswer(decision.SerializeToString(deterministic=True))


def consent(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/consent {"digest", "org"}: present if the org named a digest it does not hold
    with its holder's consent (provable, like its absence); the value is the consenting
    holder's org id, and the consent counts only while that org holds the digest."""
    digest, org = text_param(params, "digest"), text_param(params, "org")
    return record(state, keys.consent_key(digest, org), f"a consent for {org} to name {digest}")


def claim(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/claim {"org", "commitment"}: an organisation's stored claim (a DigestClaim) by
    its commitment in lowercase hex (provable, like its absence). An expired claim stays stored
    until its organisation claims again; ``expires_height`` says whether it is open."""
    org, hexed = text_param(params, "org"), text_param(params, "commitment")
    if not COMMITMENT_HEX.fullmatch(hexed):
        raise TxError(BAD_QUERY, "'commitment' is 64 lowercase hex digits")
    key = keys.claim_key(org, bytes.fromhex(hexed))
    return record(state, key, f"a claim {hexed} of {quote(org, 80)}")


def resolve(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/resolve {"model", "ref"}: the version ``ref`` names: a version of that name, the
    version an alias of that name points at, or for "latest" the newest active version. The
    answer's key is the version's record, so a proof covers the version (not the alias)."""
    model_id, ref = text_param(params, "model"), text_param(params, "ref")
    found = ModelsReader(state).resolve(model_id, ref)
    if found is None:
        raise TxError(NOT_FOUND, f"no version, alias or latest version {model_id}@{quote(ref, 80)}")
    return record(state, keys.version_key(found.model, found.version), f"{model_id}@{ref}")


def aliases(state: Reader, params: Mapping[str, Any]) -> QueryAnswer:
    """/models/aliases {"model", "after", "limit"}: a model's aliases (Alias) in name order."""
    return named_records(state, keys.alias_prefix(text_param(params, "model")), params)


def queries(oracle: LicenseOracle, leases: LeaseBook | None = None) -> dict[str, Handler]:
    """Every query path of the registry; ``oracle`` asks licenses and ``leases`` the market
    for ``/models/read_access`` (the machine wires the usage and market domains in)."""
    answer = functools.partial(read_access, oracle=oracle, leases=leases)
    return {**QUERIES, "/models/read_access": answer}


QUERIES: dict[str, Handler] = {
    "/models/claim": claim,
    "/models/consent": consent,
    "/models/write_access": write_access,
    "/models/holder": holder,
    "/models/manifest": manifest,
    "/models/files": files,
    "/models/by_digest": by_digest,
    "/models/digests": digests,
    "/models/providers": providers,
    "/models/model": model,
    "/models/version": version,
    "/models/versions": versions,
    "/models/models": models,
    "/models/lineage": lineage,
    "/models/resolve": resolve,
    "/models/aliases": aliases,
}
