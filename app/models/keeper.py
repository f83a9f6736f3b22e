"""The only code that reads and writes models, versions and their indexes.

Digest holding. Whoever publishes a blob first holds it: the organisation of the account whose
transaction first names a digest, as a version's weights or as a file listed in a directory
version's manifest, holds that digest. A version of any other organisation that names a held
digest (its weights, or any file of its manifest) is refused with ``digest_held`` unless it
carries the holder's consent: a receipt of an allowed use with purpose ``redistribution`` that
the sender's organisation obtained from the holder, for a version whose weights are that digest
or list it as a file. So every version naming a digest exists with its holder's consent, and the
read rule (``app.models.access``) can trust any of them. A model transfer hands over its
versions, not the holding of the bytes, and a removed holder's digests stay held (nobody can
consent for it).

Claims (``app.models.claims``). A holding has a priority: the height of the claim its holder
revealed, else the height of its first version. A publication revealing a claim made in an
earlier block takes the holding over (``taken_from`` says from whom), for its weights digest and
every file it lists. What the displaced organisation named stays on chain (versions are
immutable) but grants nothing of that digest: a version grants its weights only while its
publishing organisation may name them (``carries``), a directory grants a file only while the
organisation that listed its files may name that file (``lists_now``), and a consent counts
only while the holder that gave it still holds the digest (the consent record stores its org).
The displaced organisation's copies are refused by every store (it may not name the blob), and
its redistribution receipts and parent versions no longer consent for anyone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from app.core.errors import TxError
from app.core.text import quote
from app.members.keeper import MembersReader
from app.models import errors, keys
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay, Reader
from app.usage.keeper import UsageReader

REDISTRIBUTION = "redistribution"
MAX_CONSENTS = 16
DATASET = "dataset"
"""``Model.kind`` of a dataset (app/datasets): datasets share the id namespace, records and
indexes of models, so every rule on digests, licenses, uses and stores covers them."""
LATEST = "latest"
"""The reference that names a model's newest active version (reserved: no alias takes it)."""
MAX_LATEST_SCAN = 256
"""Most versions ``latest`` looks back over (newest first) for an active one."""
MAX_ALIASES = 64
"""Most aliases one model carries."""


def version_ref(model_id: str, version: str) -> str:
    """The "model@version" string that names one version everywhere."""
    return f"{model_id}@{version}"


def split_ref(ref: str) -> tuple[str, str]:
    """Split "model@version"; raises ValueError when there is no '@'."""
    model_id, sep, version = ref.rpartition("@")
    if not sep or not model_id or not version:
        raise ValueError(f"{quote(ref, 80)} is not MODEL@VERSION")
    return model_id, version


class ModelsReader:
    """Read-only view of the registry for queries and other domains."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def model(self, model_id: str) -> state_pb2.Model | None:
        """The model ``model_id``, or None."""
        raw = self.state.get(keys.model_key(model_id))
        return None if raw is None else state_pb2.Model.FromString(raw)

    def owned_by(self, model_id: str, org: str) -> state_pb2.Model:
        """The model if ``org`` owns it; raises TxError(model_not_found | not_owner)."""
        model = self.model(model_id)
        if model is None:
            raise TxError(errors.MODEL_NOT_FOUND, f"no model {quote(model_id, 80)}")
        if model.owner_org != org:
            raise TxError(errors.NOT_OWNER, f"{model_id} belongs to {quote(model.owner_org, 80)}")
        return model

    def version(self, model_id: str, version: str) -> state_pb2.Version | None:
        """One version of a model, or None."""
        raw = self.state.get(keys.version_key(model_id, version))
        return None if raw is None else state_pb2.Version.FromString(raw)

    def version_names(self, model_id: str, after: int = -1) -> Iterator[tuple[int, str]]:
        """(index, version) of a model's versions in publication order, after index ``after``."""
        prefix = keys.version_order_prefix(model_id)
        start = keys.version_order_key(model_id, after) if after >= 0 else None
        for key, value in self.state.iterate(prefix, start):
            yield int.from_bytes(key[len(prefix) :], "big"), value.decode()

    def owned_models(self, org_id: str, after: str = "") -> Iterator[str]:
        """Ids of the models ``org_id`` owns, in id order, after ``after``."""
        prefix = keys.owner_prefix(org_id)
        start = keys.owner_key(org_id, after) if after else None
        for key, _ in self.state.iterate(prefix, start):
            yield key[len(prefix) :].decode()

    def all_models(self, after: str = "") -> Iterator[state_pb2.Model]:
        """Every model in id order, after ``after``."""
        start = keys.model_key(after) if after else None
        for _, raw in self.state.iterate(keys.MODEL, start):
            yield state_pb2.Model.FromString(raw)

    def refs_with_digest(self, digest: str) -> Iterator[str]:
        """Refs of the versions whose weights have ``digest``."""
        prefix = keys.digest_prefix(digest)
        for key, _ in self.state.iterate(prefix):
            yield key[len(prefix) :].decode()

    def holder(self, digest: str) -> state_pb2.DigestHolder | None:
        """Who holds a blob digest (see the module docstring), or None if nobody named it."""
        raw = self.state.get(keys.holder_key(digest))
        return None if raw is None else state_pb2.DigestHolder.FromString(raw)

    def manifest(self, digest: str) -> state_pb2.Manifest | None:
        """The directory manifest ``digest`` if a version listed its files, else None."""
        raw = self.state.get(keys.manifest_key(digest))
        return None if raw is None else state_pb2.Manifest.FromString(raw)

    def manifest_file(self, digest: str, path: str) -> tx_pb2.ManifestFile | None:
        """One file of a known manifest, by its path, or None."""
        raw = self.state.get(keys.file_key(digest, path))
        return None if raw is None else tx_pb2.ManifestFile.FromString(raw)

    def may_name(self, digest: str, org: str) -> bool:
        """Whether ``org`` holds ``digest`` or named it with its current holder's consent (a
        consent given by a holder that a claim displaced has lapsed)."""
        held = self.holder(digest)
        if held is None:
            return False
        if held.org == org:
            return True
        return self.state.get(keys.consent_key(digest, org)) == held.org.encode()

    def carries(self, version: state_pb2.Version) -> bool:
        """Whether the version's publishing organisation may still name its weights digest
        (false once a claim took the digest over from it, or from the holder that consented).

        A version without ``publisher_org`` was recorded before claims existed; every holding
        of that time predates every claim, so none can have been taken over.
        """
        org = version.publisher_org
        return not org or self.may_name(version.weights_digest, org)

    def lists_now(self, manifest: str, file_digest: str) -> bool:
        """Whether the known manifest still grants the file: the organisation that listed the
        directory's files may still name it."""
        known = self.manifest(manifest)
        if known is None or not self.lists_file(manifest, file_digest):
            return False
        return not known.org or self.may_name(file_digest, known.org)

    def lists_file(self, manifest: str, file_digest: str) -> bool:
        """Whether the known manifest ``manifest`` lists a file with ``file_digest``."""
        return self.state.get(keys.contains_key(manifest, file_digest)) is not None

    def trained_on_dataset(self, dataset_ref: str, after: str = "") -> Iterator[str]:
        """Refs of the versions trained on the dataset version ``dataset_ref``, in ref order,
        after ``after``."""
        prefix = keys.trained_prefix(dataset_ref)
        start = keys.trained_key(dataset_ref, after) if after else None
        for key, _ in self.state.iterate(prefix, start):
            yield key[len(prefix) :].decode()

    def alias(self, model_id: str, name: str) -> state_pb2.Alias | None:
        """The alias ``name`` of a model, or None."""
        raw = self.state.get(keys.alias_key(model_id, name))
        return None if raw is None else state_pb2.Alias.FromString(raw)

    def aliases(self, model_id: str, after: str = "") -> Iterator[state_pb2.Alias]:
        """A model's aliases in name order, after ``after``."""
        start = keys.alias_key(model_id, after) if after else None
        for _, raw in self.state.iterate(keys.alias_prefix(model_id), start):
            yield state_pb2.Alias.FromString(raw)

    def latest(self, model_id: str) -> state_pb2.Version | None:
        """The newest active (neither deprecated nor revoked) version among the model's last
        MAX_LATEST_SCAN, or None: what MODEL@latest names."""
        model = self.model(model_id)
        count = 0 if model is None else model.version_count
        for index in range(count - 1, max(count - 1 - MAX_LATEST_SCAN, -1), -1):
            name = self.state.get(keys.version_order_key(model_id, index))
            found = None if name is None else self.version(model_id, name.decode())
            if found is not None and found.status == tx_pb2.VERSION_STATUS_ACTIVE:
                return found
        return None

    def resolve(self, model_id: str, ref: str) -> state_pb2.Version | None:
        """The version ``ref`` names in a model: a version of that name, else the version an
        alias of that name points at, else (for "latest") the newest active one; or None."""
        found = self.version(model_id, ref)
        if found is not None:
            return found
        alias = self.alias(model_id, ref)
        if alias is not None:
            return self.version(model_id, alias.version)
        return self.latest(model_id) if ref == LATEST else None

    def children(self, parent_ref: str) -> Iterator[str]:
        """Refs of the versions that name ``parent_ref`` as a parent, in ref order."""
        prefix = keys.child_prefix(parent_ref)
        for key, _ in self.state.iterate(prefix):
            yield key[len(prefix) :].decode()


class ModelsKeeper(ModelsReader):
    """Read-write view used by the registry's message handlers."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def set_model(self, model: state_pb2.Model, previous_owner: str = "") -> None:
        """Store a model and keep the by-owner index in step with its owner."""
        if previous_owner and previous_owner != model.owner_org:
            self.state.delete(keys.owner_key(previous_owner, model.id))
        self.state.set(keys.model_key(model.id), model.SerializeToString())
        self.state.set(keys.owner_key(model.owner_org, model.id), b"\x01")

    def add_version(self, version: state_pb2.Version) -> None:
        """Store a new version with its order and lineage index entries."""
        self.state.set(keys.version_key(version.model, version.version), _encode(version))
        self.state.set(
            keys.version_order_key(version.model, version.index), version.version.encode()
        )
        child = version_ref(version.model, version.version)
        for parent in version.parents:
            self.state.set(keys.child_key(parent, child), b"\x01")
        for dataset in version.trained_on:
            self.state.set(keys.trained_key(dataset, child), b"\x01")
        self.state.set(keys.digest_key(version.weights_digest, child), b"\x01")

    def add_provider(self, provider: state_pb2.Provider) -> None:
        """Record (or refresh) a store announced for a digest."""
        key = keys.provider_key(provider.digest, provider.url)
        self.state.set(key, provider.SerializeToString())

    def publish(
        self,
        model: state_pb2.Model,
        msg: tx_pb2.PublishVersion,
        publisher: str,
        height: int,
        time: int,
        tx_hash: bytes,
        claimed: int = 0,
        input_terms: Sequence[state_pb2.InputTerms] = (),
    ) -> state_pb2.Version:
        """Publish the version a PublishVersion describes (the one way a version is built, for
        a publication as for a federated round's update or aggregate), by the account
        ``publisher`` in the block at ``height``/``time``, with the terms its inputs carry
        into it (app.datasets.lineage); see ``append_version``."""
        version = state_pb2.Version(
            model=msg.model,
            version=msg.version,
            weights_digest=msg.weights_digest,
            size_bytes=msg.size_bytes,
            format=msg.format,
            framework=msg.framework,
            storage_uris=msg.storage_uris,
            parents=msg.parents,
            metrics=msg.metrics,
            dataset_digests=msg.dataset_digests,
            model_card_digest=msg.model_card_digest,
            description=msg.description,
            license=msg.license,
            trained_on=msg.trained_on,
            input_terms=input_terms,
            status=tx_pb2.VERSION_STATUS_ACTIVE,
            publisher=publisher,
            height=height,
            time=time,
            tx_hash=tx_hash,
        )
        self.append_version(model, version, msg.files, msg.consent_receipts, claimed)
        return version

    def append_version(
        self,
        model: state_pb2.Model,
        version: state_pb2.Version,
        files: Sequence[tx_pb2.ManifestFile] = (),
        consents: Sequence[int] = (),
        claimed: int = 0,
    ) -> None:
        """Publish ``version`` as the model's next: its index, its index entries, the count.

        Its publisher's organisation claims the weights digest and, for a directory that lists
        its ``files`` (already checked by ``app.models.manifest``), every file; ``consents``
        are receipt ids that show a holder's consent; ``claimed`` is the height of the claim
        the publication revealed (0: none). A revealing publication lists a known manifest's
        files again when another organisation listed them, taking over what its claim
        predates. Raises TxError(digest_held, bad_consent).
        """
        publisher = MembersReader(self.state).account(version.publisher)
        if publisher is None:
            raise RuntimeError(f"version publisher {version.publisher} has no account")
        if self.alias(version.model, version.version) is not None:
            raise TxError(
                errors.ALIAS_CONFLICT,
                f"{version.model}@{quote(version.version, 64)} is an alias: remove it "
                "(tx model alias remove) or publish under another version name",
            )
        ref = version_ref(version.model, version.version)
        claim = _Claim(publisher.org, ref, version.height, claimed=claimed)
        claim.consents = self._consents(publisher.org, consents)
        claim.parents = version.parents
        version.publisher_org = publisher.org
        self.claim(version.weights_digest, claim)
        known = self.manifest(version.weights_digest)
        if files and (known is None or (claimed and known.org != publisher.org)):
            self._record_manifest(version.weights_digest, files, claim)
        version.index = model.version_count
        self.add_version(version)
        model.version_count += 1
        self.set_model(model)

    def claim(self, digest: str, claim: _Claim, manifest: str = "") -> None:
        """Hold ``digest`` for the claiming org if nobody does, or if its revealed claim is
        older than the holding's priority; else the holder must be that org or have
        consented. Raises TxError(digest_held)."""
        held = self.holder(digest)
        if held is None:
            self._hold(digest, claim, manifest)
            return
        if held.org == claim.org:
            if claim.claimed and claim.claimed < priority(held):
                held.claim_height = claim.claimed
                self.state.set(keys.holder_key(digest), held.SerializeToString(deterministic=True))
            return
        if claim.claimed and claim.claimed < priority(held):
            self._hold(digest, claim, manifest, taken_from=held.org)
            return
        if self._consented(held, digest, claim):
            self.state.set(keys.consent_key(digest, claim.org), held.org.encode())
            return
        what = f"file {digest} of the listed manifest" if manifest else digest
        since = f"its holding dates from height {priority(held)}"
        if claim.claimed:
            since += f", your claim from height {claim.claimed} is not older"
        raise TxError(
            errors.DIGEST_HELD,
            f"{what} is held by {held.org} (first named by {held.ref}; {since}); name it only "
            f"with a redistribution receipt of theirs (consent_receipts)",
        )

    def _hold(self, digest: str, claim: _Claim, manifest: str, taken_from: str = "") -> None:
        """Make the claiming org the digest's holder (from nobody, or from ``taken_from``)."""
        record = state_pb2.DigestHolder(
            digest=digest,
            org=claim.org,
            ref=claim.ref,
            height=claim.height,
            manifest=manifest,
            claim_height=claim.claimed,
            taken_from=taken_from,
        )
        self.state.set(keys.holder_key(digest), record.SerializeToString(deterministic=True))

    def _record_manifest(
        self, digest: str, files: Sequence[tx_pb2.ManifestFile], claim: _Claim
    ) -> None:
        """Learn a manifest's files: claim each, index it by path and by digest."""
        for entry in files:
            self.claim(entry.digest, claim, manifest=digest)
            self.state.set(keys.file_key(digest, entry.path), entry.SerializeToString())
            self.state.set(keys.contains_key(digest, entry.digest), entry.path.encode())
        record = state_pb2.Manifest(
            digest=digest,
            files=len(files),
            size=sum(f.size for f in files),
            ref=claim.ref,
            org=claim.org,
        )
        self.state.set(keys.manifest_key(digest), record.SerializeToString(deterministic=True))

    def _consents(self, org: str, receipt_ids: Sequence[int]) -> list[tuple[str, str]]:
        """(holder org, weights digest of the version) of each consent receipt; raises
        TxError(bad_consent) for a receipt that is not the sender's org's redistribution of a
        live version, or whose fee a lease waived: a publication naming the digest lasts, a
        lease's rights end with it (as its receipts grant no download, app.models.access)."""
        if len(receipt_ids) > MAX_CONSENTS:
            raise TxError(errors.BAD_CONSENT, f"at most {MAX_CONSENTS} consent receipts")
        usage = UsageReader(self.state)
        found = []
        for receipt_id in receipt_ids:
            receipt = usage.receipt(receipt_id)
            if receipt is None or receipt.consumer_org != org or receipt.purpose != REDISTRIBUTION:
                raise TxError(
                    errors.BAD_CONSENT,
                    f"receipt {receipt_id} is not a redistribution receipt of {org}",
                )
            if receipt.lease_id:
                raise TxError(
                    errors.BAD_CONSENT,
                    f"receipt {receipt_id} is a use lease {receipt.lease_id} covered: a lease "
                    "consents to nothing past its last block",
                )
            version = self.version(receipt.model, receipt.version)
            if version is None or version.status == tx_pb2.VERSION_STATUS_REVOKED:
                raise TxError(errors.BAD_CONSENT, f"receipt {receipt_id}: its version is revoked")
            found.append((receipt.licensor_org, version.weights_digest))
        return found

    def _consented(self, held: state_pb2.DigestHolder, digest: str, claim: _Claim) -> bool:
        """Whether the holder, still a member, consented to the claimant naming ``digest``:
        by a consent receipt whose version covers it (its weights, or a file of them), or by a
        live parent version in a model the claimant owns that covers it (a federated update in
        the opener's model: submitting to a round lets its opener publish those bytes again,
        as the aggregate of a single update is), unless a claim displaced that parent."""
        if MembersReader(self.state).org(held.org) is None:
            return False
        if any(
            licensor == held.org and self._covers(weights, digest)
            for licensor, weights in claim.consents
        ):
            return True
        for parent in claim.parents[:MAX_CONSENTS]:
            found = self.version(*split_ref(parent))
            model = self.model(found.model) if found is not None else None
            if (
                found is not None
                and model is not None
                and model.owner_org == claim.org
                and found.status != tx_pb2.VERSION_STATUS_REVOKED
                and self.carries(found)
                and (found.weights_digest == digest or self.lists_now(found.weights_digest, digest))
            ):
                return True
        return False

    def _covers(self, weights: str, digest: str) -> bool:
        """Whether weights ``weights`` are ``digest`` or a directory listing it."""
        return weights == digest or self.lists_file(weights, digest)

    def transfer(self, model: state_pb2.Model, new_owner: str) -> str:
        """Hand ``model`` to ``new_owner`` (its versions go with it, the holdings of their
        digests do not); returns the previous owner."""
        previous = model.owner_org
        model.owner_org = new_owner
        self.set_model(model, previous_owner=previous)
        return previous

    def set_status(
        self, version: state_pb2.Version, status: tx_pb2.VersionStatus.ValueType, reason: str
    ) -> None:
        """Deprecate or revoke a published version: its status and the reason are all that
        ever changes in a version's record."""
        version.status = status
        version.status_reason = reason
        self.update_version(version)

    # --- genesis: records as an export read them, with the indexes derived from them ----------

    def restore_holder(self, holder: state_pb2.DigestHolder) -> None:
        """Write who holds a digest (genesis)."""
        self.state.set(keys.holder_key(holder.digest), holder.SerializeToString(deterministic=True))

    def restore_consent(self, digest: str, org: str, holder_org: str) -> None:
        """Write that ``org`` named ``digest`` with ``holder_org``'s consent (genesis)."""
        self.state.set(keys.consent_key(digest, org), holder_org.encode())

    def restore_manifest(
        self, manifest: state_pb2.Manifest, files: Sequence[tx_pb2.ManifestFile]
    ) -> None:
        """Write a known manifest and its files, indexed by path and by digest (genesis; the
        files in path order, as a publication lists them)."""
        for entry in files:
            self.state.set(keys.file_key(manifest.digest, entry.path), entry.SerializeToString())
            self.state.set(keys.contains_key(manifest.digest, entry.digest), entry.path.encode())
        encoded = manifest.SerializeToString(deterministic=True)
        self.state.set(keys.manifest_key(manifest.digest), encoded)

    def set_alias(self, alias: state_pb2.Alias) -> None:
        """Point (or move) an alias at a version (the caller checked both)."""
        key = keys.alias_key(alias.model, alias.alias)
        self.state.set(key, alias.SerializeToString(deterministic=True))

    def remove_alias(self, model_id: str, name: str) -> None:
        """Forget an alias (the caller checked it exists)."""
        self.state.delete(keys.alias_key(model_id, name))

    def update_version(self, version: state_pb2.Version) -> None:
        """Rewrite an existing version's record (its status); its indexes stay."""
        self.state.set(keys.version_key(version.model, version.version), _encode(version))


@dataclass
class _Claim:
    """Who names digests, for which version, the consents the version carries as (holder org,
    weights digest of the consented version), and the claim it revealed."""

    org: str
    ref: str
    height: int
    consents: list[tuple[str, str]] = field(default_factory=list)
    parents: Sequence[str] = ()
    claimed: int = 0
    """The height of the claim the publication revealed; 0 when it revealed none."""


def priority(held: state_pb2.DigestHolder) -> int:
    """The height a claim must be older than to take a holding over: the holder's own claim,
    else its first version."""
    return held.claim_height or held.height


def _encode(version: state_pb2.Version) -> bytes:
    return version.SerializeToString(deterministic=True)
