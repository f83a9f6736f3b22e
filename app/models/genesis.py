"""The models domain's genesis: ``models``, the registry's records.

``models`` lists models, versions, digest holdings, known manifests and their files, consents,
announced stores and open claims, each as its record's protobuf JSON (a manifest file with the
``manifest`` it belongs to, a consent as digest, org and the consenting holder). Indexes (by
owner, publication order, lineage, by digest, a manifest's files by digest, claims by expiry and
their counts) are not listed: the keeper derives them from the records when it writes them.

What is checked: ids and names that become key parts, a model's versions against its count and
their publication indexes, parents that are published versions, organisations of the
consortium, manifests whose files add up, each record once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.genesis import (
    GenesisContext,
    GenesisError,
    check_pattern,
    key_part,
    listed,
    no_unknown,
    obj,
    record,
    section,
    text,
    to_json,
)
from app.core.names import DIGEST, LICENSE_ID, MODEL_NAME, ORG_ID
from app.core.text import quote
from app.models import keys
from app.models.claims import COMMITMENT_BYTES, ClaimsKeeper
from app.models.keeper import DATASET, ModelsKeeper, version_ref
from app.models.validation import ALIAS, RESERVED_ALIASES
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay, Reader

SECTIONS: tuple[str, ...] = ("models",)
FIELDS = (
    "models",
    "versions",
    "holders",
    "manifests",
    "manifest_files",
    "consents",
    "providers",
    "claims",
    "aliases",
)
A_DIGEST = "sha256:<64 lowercase hex>"


@dataclass(frozen=True)
class Registry:
    """The validated registry, in the order its records are written."""

    models: tuple[state_pb2.Model, ...] = ()
    versions: tuple[state_pb2.Version, ...] = ()
    holders: tuple[state_pb2.DigestHolder, ...] = ()
    manifests: tuple[tuple[state_pb2.Manifest, tuple[tx_pb2.ManifestFile, ...]], ...] = ()
    consents: tuple[tuple[str, str, str], ...] = ()
    """(digest, org that named it, the holder that consented)."""
    providers: tuple[state_pb2.Provider, ...] = ()
    claims: tuple[state_pb2.DigestClaim, ...] = ()
    aliases: tuple[state_pb2.Alias, ...] = ()


def default() -> dict[str, Any]:
    """A registry without records."""
    return {"models": {name: [] for name in FIELDS}}


def validate(part: Mapping[str, Any], context: GenesisContext) -> Registry:
    """The registry's records, checked; its models and versions join ``context``. Raises
    GenesisError naming the first bad field."""
    found = section(part, "models", FIELDS)
    models = _models(listed(found, "models", "models"), context)
    context.models.update(models)
    context.owners.update((m, models[m].owner_org) for m in sorted(models))
    versions = _versions(listed(found, "versions", "models"), models, context)
    context.versions.update(version_ref(v.model, v.version) for v in versions)
    context.revoked.update(
        version_ref(v.model, v.version)
        for v in versions
        if v.status == tx_pb2.VERSION_STATUS_REVOKED
    )
    context.unleasable.update(
        version_ref(v.model, v.version) for v in versions if v.parents or v.trained_on
    )
    return Registry(
        models=tuple(models[m] for m in sorted(models)),
        versions=versions,
        holders=_holders(listed(found, "holders", "models"), context),
        manifests=_manifests(found, context),
        consents=_consents(listed(found, "consents", "models"), context),
        providers=_providers(listed(found, "providers", "models"), context),
        claims=_claims(listed(found, "claims", "models"), context),
        aliases=_aliases(listed(found, "aliases", "models"), versions),
    )


def init(state: Overlay, parsed: Registry) -> None:
    """Write the registry through its keepers, with the indexes they derive."""
    keeper = ModelsKeeper(state)
    for model in parsed.models:
        keeper.set_model(model)
    for version in parsed.versions:
        keeper.add_version(version)
    for holder in parsed.holders:
        keeper.restore_holder(holder)
    for manifest, files in parsed.manifests:
        keeper.restore_manifest(manifest, files)
    for digest, org, holder_org in parsed.consents:
        keeper.restore_consent(digest, org, holder_org)
    for provider in parsed.providers:
        keeper.add_provider(provider)
    claims = ClaimsKeeper(state)
    for claim in parsed.claims:
        claims.restore(claim)
    for alias in parsed.aliases:
        keeper.set_alias(alias)


def export(state: Reader) -> dict[str, Any]:
    """Every record of the registry, in store-key order."""
    return {
        "models": {
            "models": _records(state, keys.MODEL, state_pb2.Model),
            "versions": _records(state, keys.VERSION, state_pb2.Version),
            "holders": _records(state, keys.HOLDER, state_pb2.DigestHolder),
            "manifests": _records(state, keys.MANIFEST, state_pb2.Manifest),
            "manifest_files": [
                {"manifest": k[len(keys.MANIFEST_FILE) :].split(keys.SEP, 1)[0].decode()}
                | to_json(tx_pb2.ManifestFile.FromString(v))
                for k, v in state.iterate(keys.MANIFEST_FILE)
            ],
            "consents": [_consent_json(k, v) for k, v in state.iterate(keys.CONSENT)],
            "providers": _records(state, keys.PROVIDER, state_pb2.Provider),
            "claims": _records(state, keys.CLAIM, state_pb2.DigestClaim),
            "aliases": _records(state, keys.ALIAS, state_pb2.Alias),
        }
    }


def _records(state: Reader, prefix: bytes, kind: Any) -> list[dict[str, Any]]:
    return [to_json(kind.FromString(value)) for _, value in state.iterate(prefix)]


def _consent_json(key: bytes, value: bytes) -> dict[str, Any]:
    digest, org = key[len(keys.CONSENT) :].split(keys.SEP, 1)
    return {"digest": digest.decode(), "org": org.decode(), "holder": value.decode()}


# --- models and versions ------------------------------------------------------------------------


def _models(items: list[Any], context: GenesisContext) -> dict[str, state_pb2.Model]:
    models: dict[str, state_pb2.Model] = {}
    for i, item in enumerate(items):
        where = f"models.models[{i}]"
        model, _ = record(item, state_pb2.Model, where)
        org, _, name = model.id.partition("/")
        check_pattern(org, ORG_ID, f"{where}.id", "ORG/NAME with an organisation id")
        check_pattern(name, MODEL_NAME, f"{where}.id", "ORG/NAME with a model name")
        if model.name != name:
            raise GenesisError(f"{where}.name", f"the model {quote(model.id, 80)} is named {name}")
        context.check_org(model.owner_org, f"{where}.owner_org")
        if model.kind not in ("", DATASET):
            raise GenesisError(f"{where}.kind", f"{quote(model.kind, 40)}: '' or 'dataset'")
        if model.default_license:
            check_pattern(model.default_license, LICENSE_ID, f"{where}.default_license", "ORG/NAME")
        if model.id in models:
            raise GenesisError(f"{where}.id", f"model {model.id} appears twice")
        models[model.id] = model
    return models


def _versions(
    items: list[Any], models: dict[str, state_pb2.Model], context: GenesisContext
) -> tuple[state_pb2.Version, ...]:
    """Versions of listed models, each model's numbered 0 to its version_count - 1 in
    publication order, every parent a listed version."""
    versions: dict[str, state_pb2.Version] = {}
    indexes: dict[str, set[int]] = {model: set() for model in models}
    for i, item in enumerate(items):
        where = f"models.versions[{i}]"
        version, _ = record(item, state_pb2.Version, where)
        model = models.get(version.model)
        if model is None:
            raise GenesisError(f"{where}.model", f"no model {quote(version.model, 80)}")
        ref = version_ref(version.model, key_part(version.version, f"{where}.version"))
        if ref in versions:
            raise GenesisError(f"{where}.version", f"{quote(ref, 160)} appears twice")
        if version.index >= model.version_count or version.index in indexes[model.id]:
            raise GenesisError(f"{where}.index", f"not a free index below {model.version_count}")
        indexes[model.id].add(version.index)
        check_pattern(version.weights_digest, DIGEST, f"{where}.weights_digest", A_DIGEST)
        if version.publisher_org:
            context.check_org(version.publisher_org, f"{where}.publisher_org")
        versions[ref] = version
    _check_lineage(list(versions.values()), versions)
    for model_id, model in models.items():
        if len(indexes[model_id]) != model.version_count:
            raise GenesisError("models.versions", f"{model_id} has {model.version_count} versions")
    return tuple(versions[ref] for ref in sorted(versions))


def _check_lineage(versions: list[state_pb2.Version], known: Mapping[str, Any]) -> None:
    for i, version in enumerate(versions):
        for j, parent in enumerate(version.parents):
            if parent not in known:
                where = f"models.versions[{i}].parents[{j}]"
                raise GenesisError(where, f"no version {quote(parent, 160)}")
        for j, dataset in enumerate(version.trained_on):
            if dataset not in known:
                where = f"models.versions[{i}].trained_on[{j}]"
                raise GenesisError(where, f"no version {quote(dataset, 160)}")


# --- holdings, manifests, consents, stores, claims ----------------------------------------------


def _holders(items: list[Any], context: GenesisContext) -> tuple[state_pb2.DigestHolder, ...]:
    holders: dict[str, state_pb2.DigestHolder] = {}
    for i, item in enumerate(items):
        where = f"models.holders[{i}]"
        holder, _ = record(item, state_pb2.DigestHolder, where)
        check_pattern(holder.digest, DIGEST, f"{where}.digest", A_DIGEST)
        if holder.digest in holders:
            raise GenesisError(f"{where}.digest", f"{holder.digest} is held twice")
        context.check_org(holder.org, f"{where}.org")
        holders[holder.digest] = holder
    return tuple(holders[d] for d in sorted(holders))


def _manifests(
    found: Mapping[str, Any], context: GenesisContext
) -> tuple[tuple[state_pb2.Manifest, tuple[tx_pb2.ManifestFile, ...]], ...]:
    """Known manifests, each with exactly the files and total size its record counts."""
    manifests: dict[str, state_pb2.Manifest] = {}
    for i, item in enumerate(listed(found, "manifests", "models")):
        where = f"models.manifests[{i}]"
        manifest, _ = record(item, state_pb2.Manifest, where)
        check_pattern(manifest.digest, DIGEST, f"{where}.digest", A_DIGEST)
        if manifest.digest in manifests:
            raise GenesisError(f"{where}.digest", f"manifest {manifest.digest} appears twice")
        if manifest.org:
            context.check_org(manifest.org, f"{where}.org")
        manifests[manifest.digest] = manifest
    files = _files(listed(found, "manifest_files", "models"), manifests)
    for digest, manifest in manifests.items():
        listed_files = files.get(digest, {})
        size = sum(f.size for f in listed_files.values())
        if len(listed_files) != manifest.files or size != manifest.size:
            raise GenesisError("models.manifest_files", f"{digest} lists other files")
    return tuple(
        (manifests[d], tuple(files[d][p] for p in sorted(files.get(d, {}))))
        for d in sorted(manifests)
    )


def _files(
    items: list[Any], manifests: Mapping[str, state_pb2.Manifest]
) -> dict[str, dict[bytes, tx_pb2.ManifestFile]]:
    """Files by manifest, then by the UTF-8 bytes of their path (the order they are listed)."""
    files: dict[str, dict[bytes, tx_pb2.ManifestFile]] = {}
    for i, item in enumerate(items):
        where = f"models.manifest_files[{i}]"
        entry, extra = record(item, tx_pb2.ManifestFile, where, ("manifest",))
        manifest = extra.get("manifest")
        if not isinstance(manifest, str) or manifest not in manifests:
            raise GenesisError(f"{where}.manifest", "not a listed manifest")
        path = key_part(entry.path, f"{where}.path").encode()
        check_pattern(entry.digest, DIGEST, f"{where}.digest", A_DIGEST)
        if path in files.setdefault(manifest, {}):
            raise GenesisError(f"{where}.path", f"{quote(entry.path, 80)} is listed twice")
        files[manifest][path] = entry
    return files


def _consents(items: list[Any], context: GenesisContext) -> tuple[tuple[str, str, str], ...]:
    consents: dict[tuple[str, str], str] = {}
    for i, item in enumerate(items):
        where = f"models.consents[{i}]"
        entry = obj(item, where)
        no_unknown(entry, ("digest", "org", "holder"), where)
        digest = check_pattern(text(entry, "digest", where), DIGEST, f"{where}.digest", A_DIGEST)
        org = context.check_org(entry.get("org"), f"{where}.org")
        if (digest, org) in consents:
            raise GenesisError(where, f"{org}'s consent to name {digest} appears twice")
        consents[(digest, org)] = context.check_org(entry.get("holder"), f"{where}.holder")
    return tuple((d, o, h) for (d, o), h in sorted(consents.items()))


def _providers(items: list[Any], context: GenesisContext) -> tuple[state_pb2.Provider, ...]:
    providers: dict[tuple[str, str], state_pb2.Provider] = {}
    for i, item in enumerate(items):
        where = f"models.providers[{i}]"
        provider, _ = record(item, state_pb2.Provider, where)
        check_pattern(provider.digest, DIGEST, f"{where}.digest", A_DIGEST)
        key_part(provider.url, f"{where}.url")
        context.check_org(provider.org, f"{where}.org")
        if (provider.digest, provider.url) in providers:
            raise GenesisError(where, f"the store {quote(provider.url, 80)} appears twice")
        providers[(provider.digest, provider.url)] = provider
    return tuple(providers[k] for k in sorted(providers))


def _claims(items: Sequence[Any], context: GenesisContext) -> tuple[state_pb2.DigestClaim, ...]:
    claims: dict[tuple[str, bytes], state_pb2.DigestClaim] = {}
    for i, item in enumerate(items):
        where = f"models.claims[{i}]"
        claim, _ = record(item, state_pb2.DigestClaim, where)
        context.check_org(claim.org, f"{where}.org")
        if len(claim.commitment) != COMMITMENT_BYTES:
            raise GenesisError(f"{where}.commitment", f"a commitment is {COMMITMENT_BYTES} bytes")
        if (claim.org, claim.commitment) in claims:
            raise GenesisError(where, f"{claim.org}'s claim appears twice")
        claims[(claim.org, claim.commitment)] = claim
    return tuple(claims[k] for k in sorted(claims))


def _aliases(
    items: Sequence[Any], versions: Sequence[state_pb2.Version]
) -> tuple[state_pb2.Alias, ...]:
    """Aliases of listed models, each a valid name that is no version's and points at a listed
    version, each once."""
    known = {version_ref(v.model, v.version) for v in versions}
    found: dict[tuple[str, str], state_pb2.Alias] = {}
    for i, item in enumerate(items):
        where = f"models.aliases[{i}]"
        alias, _ = record(item, state_pb2.Alias, where)
        check_pattern(alias.alias, ALIAS, f"{where}.alias", "a lowercase alias")
        if alias.alias in RESERVED_ALIASES or version_ref(alias.model, alias.alias) in known:
            raise GenesisError(f"{where}.alias", f"{alias.alias} is reserved or a version")
        if version_ref(alias.model, key_part(alias.version, f"{where}.version")) not in known:
            raise GenesisError(f"{where}.version", f"no version {quote(alias.version, 80)}")
        if (alias.model, alias.alias) in found:
            raise GenesisError(where, f"alias {alias.model}@{alias.alias} appears twice")
        found[(alias.model, alias.alias)] = alias
    return tuple(found[k] for k in sorted(found))
