"""Who may download a blob, or upload weights of a model, now: one rule, decided on chain.

The weights stores ask ``/models/read_access`` and ``/models/write_access`` once per request and
enforce the answer; they never assemble it. An answer names the rule that decided it and the
store keys whose values (or absence) justify it, so a client can prove it against an app hash.

Download of digest D (optionally one ``path`` of the directory D) by account A of org O:

1. A is an account (a revoked account, or one of a removed org, is deleted) and O a member;
2. some version names D (a file of a directory is read through its manifest, never by its own
   digest); a revoked version grants nothing, and neither does a version of a model whose owner
   is not a member (a removed member's weights leave no store), nor a displaced one: a version
   whose publishing org may no longer name D because a claim took D over (``displaced``);
3. then, among the live versions naming D, the first rule that holds grants, in this order:
   ``owner`` O owns the model; ``holder`` O holds D (it published those bytes first);
   ``round`` the version is the aggregate, or an update, of a finalized federated round that O
   opened or was invited to; ``receipt`` O holds a receipt of an allowed use of the version
   with a download purpose that no lease covered; ``lease`` O rents the version with download,
   and the lease runs at the given height (the market's lease book, wired in by the machine);
   ``license`` the version's license allows O a download for free at the given height and time;
4. with a path, the chain must list that file in D's manifest, and the org that listed D's files
   may still name the file (a claim may have taken it over: ``displaced``); the answer
   names its digest, which is the blob the store serves;
5. the answer names the holder of the served blob. A store serves its copy only if the org that
   uploaded it is that holder; otherwise it asks again with ``uploader``, and the copy is served
   only if that org may name the blob (it named it with the holder's consent) or, for a file,
   the directory. So publishing first a digest one never held (front-running the owner's
   publication seen in a mempool) yields no byte from the owner's stores, and a publication
   revealing the owner's older claim (``app.models.claims``) takes the digest back.

Every version naming D exists with D's holder's consent (``app.models.keeper``), so naming a
digest grants nothing. Upload into model M by A: A is a publisher of a member org that owns M,
or that is invited to an open federated round into M, or (rule ``registrant``) M is not
registered yet and its id is "<A's org>/<name>", which A's publication will register. Scans are
bounded (versions per digest, receipts, license runs, open rounds); past a bound the answer is a
refusal that says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from app.core.errors import ErrorCode, TxError
from app.core.names import MODEL_NAME
from app.core.text import quote
from app.federated import keys as federated_keys
from app.federated.keeper import FederatedReader
from app.licenses import keys as license_keys
from app.members import keys as member_keys
from app.members.keeper import MembersReader
from app.members.roles import PUBLISHER
from app.models import errors, keys
from app.models.expected import LeaseBook, LicenseOracle
from app.models.keeper import ModelsReader, split_ref
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Reader
from app.usage import keys as usage_keys
from app.usage.keeper import UsageReader
from app.usage.purposes import DOWNLOAD_PURPOSES

MAX_VERSIONS = 256
MAX_RECEIPT_SCAN = 4096
MAX_EVALUATIONS = 8
MAX_OPEN_ROUNDS = 1024
UPDATE_MARK = "-update-"
REVOKED = tx_pb2.VERSION_STATUS_REVOKED


@dataclass(frozen=True)
class Clock:
    """The height and time of the block a license would decide in (the next one)."""

    height: int
    time: int


@dataclass
class _Case:
    """One decision being built: who asks, about what, and the keys read so far."""

    account: state_pb2.Account
    digest: str
    oracle: LicenseOracle | None
    keys: list[bytes] = field(default_factory=list)
    leases: LeaseBook | None = None


@dataclass(frozen=True)
class _Live:
    """A version naming the digest that may grant: not revoked, owner still a member."""

    ref: str
    version: state_pb2.Version
    model: state_pb2.Model


class _Refused(Exception):
    """A decision that is a refusal, raised from deep in the rules."""

    def __init__(self, decision: state_pb2.AccessDecision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


# --- read ---------------------------------------------------------------------------------------


def read_access(
    state: Reader,
    oracle: LicenseOracle,
    address: str,
    digest: str,
    path: str = "",
    clock: Clock | None = None,
    uploader: str = "",
    leases: LeaseBook | None = None,
) -> state_pb2.AccessDecision:
    """May ``address`` download the blob ``digest`` (or the file ``path`` of it) now, from a
    store whose copy ``uploader`` (an org id) uploaded, if given? ``oracle`` asks a license
    and ``leases`` the market (the machine wires the usage and market domains in)."""
    try:
        case = _requester(state, oracle, address, digest)
        case.leases = leases
        live = _live_versions(state, case)
        decision = _grant(state, case, live, clock)
        if path:
            decision = _with_file(state, case, decision, path)
        return _from_copy(state, decision, digest, uploader) if decision.allowed else decision
    except _Refused as refused:
        return refused.decision


def _from_copy(
    state: Reader, decision: state_pb2.AccessDecision, digest: str, uploader: str
) -> state_pb2.AccessDecision:
    """Name the served blob's holder; with ``uploader``, refuse a copy that the uploading org
    may not name (it is not the holder and has no consent, for the blob or, for a file, for
    the directory). So a digest published first by someone who never held the bytes (a front
    run of the real owner's publication) yields nothing from the real owner's stores."""
    models = ModelsReader(state)
    blob = decision.file_digest or digest
    held = models.holder(blob)
    decision.blob_holder = held.org if held is not None else ""
    if not uploader or uploader == decision.blob_holder:
        return decision
    proof = [keys.holder_key(blob), keys.consent_key(blob, uploader)]
    if blob != digest:
        proof += [keys.holder_key(digest), keys.consent_key(digest, uploader)]
    decision.keys.extend(key for key in proof if key not in decision.keys)
    whole = blob != digest and models.may_name(digest, uploader)
    if models.may_name(blob, uploader) or whole:
        return decision
    reason = (
        f"this store's copy of {blob} was uploaded by {quote(uploader, 64)}, which neither holds "
        f"it ({decision.blob_holder} does) nor named it with the holder's consent"
    )
    hint = "try another provider (modelgov query providers)"
    refusal = _refusal(errors.COPY_NOT_CONSENTED, reason, list(decision.keys), hint, decision.org)
    refusal.blob_holder = decision.blob_holder
    return refusal


def _requester(state: Reader, oracle: LicenseOracle | None, address: str, digest: str) -> _Case:
    """The case of an existing account of a member org; refuses anyone else."""
    members = MembersReader(state)
    account = members.account(address)
    account_keys = [member_keys.account_key(address)]
    if account is None:
        account_keys.append(member_keys.retired_key(address))
        gone = members.retired_nonce(address) is not None
        why = "was revoked or its organisation removed" if gone else "is not a consortium account"
        raise _Refused(_refusal(errors.NO_ACCOUNT, f"account {address} {why}", account_keys))
    account_keys.append(member_keys.org_key(account.org))
    if members.org(account.org) is None:
        reason = f"organisation {account.org} is no longer a member"
        raise _Refused(_refusal(errors.NOT_MEMBER, reason, account_keys, org=account.org))
    return _Case(account, digest, oracle, account_keys)


def _live_versions(state: Reader, case: _Case) -> list[_Live]:
    """The versions naming the digest that may grant; refuses when there are none."""
    models = ModelsReader(state)
    members = MembersReader(state)
    refs = list(islice(models.refs_with_digest(case.digest), MAX_VERSIONS))
    if not refs:
        _not_published(models, case)
    live: list[_Live] = []
    gone: list[tuple[ErrorCode, str]] = []
    for ref in refs:
        version = models.version(*split_ref(ref))
        model = models.model(version.model) if version is not None else None
        if version is None or model is None:
            raise RuntimeError(f"the digest index names {ref}, which has no record")
        case.keys += [keys.digest_key(case.digest, ref), keys.version_key(*split_ref(ref))]
        if version.status == REVOKED:
            gone.append((errors.VERSION_REVOKED, f"{ref} is revoked"))
        elif members.org(model.owner_org) is None:
            case.keys += [keys.model_key(model.id), member_keys.org_key(model.owner_org)]
            gone.append(
                (errors.NOT_GRANTED, f"{ref} belongs to {model.owner_org}, no longer a member")
            )
        elif not _carried(models, case, version):
            gone.append((errors.DISPLACED, _displaced(models, ref, version)))
        else:
            live.append(_Live(ref, version, model))
    if not live:
        kinds = {error.code: error for error, _ in gone}
        error = kinds.popitem()[1] if len(kinds) == 1 else errors.NOT_GRANTED
        reason = "; ".join(text for _, text in gone[:4])
        raise _Refused(_refusal(error, reason, case.keys, org=case.account.org))
    return live


def _carried(models: ModelsReader, case: _Case, version: state_pb2.Version) -> bool:
    """Whether the version's publishing org may still name the digest; records the keys that
    decide it (the holder, and the org's consent when it is not the holder)."""
    org = version.publisher_org
    if not org:
        return True
    case.keys.append(keys.holder_key(case.digest))
    held = models.holder(case.digest)
    if held is None or held.org != org:
        case.keys.append(keys.consent_key(case.digest, org))
    return models.carries(version)


def _displaced(models: ModelsReader, ref: str, version: state_pb2.Version) -> str:
    """Why a version no longer grants its weights."""
    held = models.holder(version.weights_digest)
    holder = held.org if held is not None else "nobody"
    return (
        f"{ref} was published by {version.publisher_org}, which may no longer name "
        f"{version.weights_digest} ({holder} holds it by an older claim)"
    )


def _not_published(models: ModelsReader, case: _Case) -> None:
    """Refuse a digest no version names, saying how to read it if it is a directory's file."""
    case.keys.append(keys.holder_key(case.digest))
    held = models.holder(case.digest)
    hint = ""
    if held is not None and held.manifest:
        hint = f"a file of a directory is read as /v1/blobs/{held.manifest}/<path>"
    reason = f"no published version has weights {case.digest}"
    raise _Refused(_refusal(errors.NOT_PUBLISHED, reason, case.keys, hint, case.account.org))


def _grant(
    state: Reader, case: _Case, live: list[_Live], clock: Clock | None
) -> state_pb2.AccessDecision:
    """The first rule that grants, in the documented order; else the most useful refusal."""
    org = case.account.org
    for item in live:
        if item.model.owner_org == org:
            return _granted(case, "owner", f"{org} owns {item.model.id}", item, [_mk(item)])
    held = ModelsReader(state).holder(case.digest)
    if held is not None and held.org == org:
        reason = f"{org} published these weights first ({held.ref})"
        return _granted(case, "holder", reason, live[0], [keys.holder_key(case.digest)])
    for item in live:
        granted = _round_grant(state, case, item)
        if granted is not None:
            return granted
    budget = [MAX_RECEIPT_SCAN]
    for item in live:
        found = _download_receipt(UsageReader(state), org, item, budget)
        if found:
            reason = f"{org} holds receipt {found} of a download use of {item.ref}"
            return _granted(case, "receipt", reason, item, [usage_keys.receipt_key(found)])
    if budget[0] <= 0:
        reason = f"more than {MAX_RECEIPT_SCAN} receipts to look through; no download receipt seen"
        raise _Refused(_refusal(errors.NOT_GRANTED, reason, case.keys, org=org))
    leased = _lease_grant(state, case, live, clock)
    return leased if leased is not None else _license_grant(state, case, live, clock)


def _lease_grant(
    state: Reader, case: _Case, live: list[_Live], clock: Clock | None
) -> state_pb2.AccessDecision | None:
    """Grant if the requester's org rents a live version with download from its current owner
    and the lease runs at the clock's height (no clock: no lease is asked, as no license is)."""
    if case.leases is None or clock is None:
        return None
    org = case.account.org
    for item in live:
        model, version = item.version.model, item.version.version
        lease = case.leases(state, org, model, version, clock.height)
        if lease is not None and lease.download and lease.lessor_org == item.model.owner_org:
            reason = f"{org} rents {item.ref} with download to height {lease.end_height}"
            proof = case.leases.proof(org, model, version, lease.id)
            return _granted(case, "lease", reason, item, proof)
    return None


def _mk(item: _Live) -> bytes:
    return keys.model_key(item.model.id)


def _round_grant(state: Reader, case: _Case, item: _Live) -> state_pb2.AccessDecision | None:
    """Grant if the version is the aggregate or an update of a finalized round the requester's
    org opened or was invited to (each participant may verify the aggregate)."""
    federated = FederatedReader(state)
    for target in _round_targets(item.version.version):
        contributors = federated.contributors(item.model.id, target)
        record = federated.round(contributors.round_id) if contributors is not None else None
        if record is None or contributors is None:
            continue
        names = [s.version for s in record.submissions]
        in_round = target == item.version.version or item.version.version in names
        participants = [record.opener_org, *record.invited_orgs]
        if in_round and case.account.org in participants:
            proof = [
                federated_keys.contributors_key(item.model.id, target),
                federated_keys.round_key(contributors.round_id),
            ]
            reason = f"{case.account.org} took part in round {record.id}, which made {item.ref}"
            return _granted(case, "round", reason, item, proof)
    return None


def _round_targets(version: str) -> Iterator[str]:
    """The round target versions a version could belong to: itself (an aggregate), then every
    prefix before "-update-" (an update "<target>-update-<org>"; org ids may contain it too)."""
    yield version
    cut = version.find(UPDATE_MARK)
    while cut > 0:
        yield version[:cut]
        cut = version.find(UPDATE_MARK, cut + 1)


def _download_receipt(usage: UsageReader, org: str, item: _Live, budget: list[int]) -> int:
    """A receipt id of ``org``'s download use of the version, or 0.

    The version's receipts and the org's receipts are read in turn; a matching receipt is in
    both, so once either list ends without one there is none. ``budget`` bounds the reads.
    """
    model, version = item.version.model, item.version.version
    of_version = usage_keys.index_prefix(usage_keys.BY_VERSION, model, version)
    by_version = usage.receipt_ids(of_version, 0)
    by_org = usage.receipt_ids(usage_keys.index_prefix(usage_keys.BY_CONSUMER_ORG, org), 0)
    while budget[0] > 0:
        for ids in (by_version, by_org):
            receipt_id = next(ids, None)
            if receipt_id is None:
                return 0
            budget[0] -= 1
            found = usage.receipt(receipt_id)
            if found is not None and _downloads(found, org, model, version):
                return receipt_id
    return 0


def _downloads(receipt: state_pb2.Receipt, org: str, model: str, version: str) -> bool:
    """Whether the receipt is ``org``'s allowed use of the version with a download purpose,
    paid for as such: a use a lease covered (``lease_id``) reads only through its lease (with
    download, while it runs), else a lease without download, or one that ended, would yield
    the weights for good."""
    return (
        receipt.consumer_org == org
        and receipt.model == model
        and receipt.version == version
        and receipt.purpose in DOWNLOAD_PURPOSES
        and not receipt.lease_id
    )


def _license_grant(
    state: Reader, case: _Case, live: list[_Live], clock: Clock | None
) -> state_pb2.AccessDecision:
    """Grant if a live version's license allows the requester a free download; else refuse
    with the first license's answer and what to do about it."""
    org = case.account.org
    if clock is None:
        reason = f"no version naming {case.digest} grants {org} without asking its license"
        hint = "ask again with the next block's height and time"
        raise _Refused(_refusal(errors.NOT_GRANTED, reason, case.keys, hint, org))
    first: tuple[str, str, str] | None = None
    for item in live[:MAX_EVALUATIONS]:
        answer = _ask_license(state, case, item, clock)
        if answer is None:
            reason = f"{item.ref}: its license allows {org} a free download"
            return _granted(case, "license", reason, item, [])
        first = first or answer
    ref, reason, hint = first or (live[0].ref, "no license was asked", "")
    raise _Refused(_refusal(errors.NOT_GRANTED, reason, case.keys, hint, org, ref))


def _ask_license(
    state: Reader, case: _Case, item: _Live, clock: Clock
) -> tuple[str, str, str] | None:
    """None if the license allows a free download; else (ref, reason, hint)."""
    model, version = item.version.model, item.version.version
    case.keys.append(license_keys.current_key(model, version))
    use = tx_pb2.Use(model=model, version=version, purpose="download", quantity=1)
    try:
        assert case.oracle is not None, "a read decision always has its oracle"
        found = case.oracle(state, case.account, use, clock.height, clock.time)
    except TxError as err:
        return item.ref, f"{item.ref}: {err.log}", "ask the owner to attach a license"
    case.keys.append(license_keys.license_key(found.license.id))
    decision = found.decision
    if decision.allowed and decision.fee == 0:
        return None
    if decision.allowed:
        how = f"modelgov tx use {item.ref} --purpose download --max-fee {decision.fee} --from KEY"
        reason = (
            f"{item.ref}: license {found.license.id} asks {decision.fee} credits for a download"
        )
        return item.ref, reason, f"obtain a receipt first: {how}"
    reason = f"{item.ref}: license {found.license.id} denies a download: {decision.reason}"
    return item.ref, reason, "ask the owner for terms that allow it"


def _with_file(
    state: Reader, case: _Case, decision: state_pb2.AccessDecision, path: str
) -> state_pb2.AccessDecision:
    """Narrow a grant of a directory to one of its files listed on chain."""
    if not decision.allowed:
        return decision
    decision.keys.append(keys.file_key(case.digest, path))
    entry = ModelsReader(state).manifest_file(case.digest, path)
    if entry is None:
        reason = f"the chain lists no file {quote(path, 200)} in {case.digest}"
        hint = "the version's files are on chain only if it was published with them"
        return _refusal(errors.FILE_NOT_LISTED, reason, list(decision.keys), hint, decision.org)
    models = ModelsReader(state)
    known = models.manifest(case.digest)
    if known is not None and known.org:
        decision.keys.extend(
            [
                keys.manifest_key(case.digest),
                keys.holder_key(entry.digest),
                keys.consent_key(entry.digest, known.org),
            ]
        )
    if not models.lists_now(case.digest, entry.digest):
        held = models.holder(entry.digest)
        holder = held.org if held is not None else "nobody"
        lister = known.org if known is not None else "nobody"
        reason = (
            f"{lister} listed {quote(path, 200)} ({entry.digest}) in {case.digest} but may no "
            f"longer name that file ({holder} holds it by an older claim)"
        )
        return _refusal(errors.DISPLACED, reason, list(decision.keys), org=decision.org)
    decision.file_digest = entry.digest
    decision.file_size = entry.size
    return decision


# --- write --------------------------------------------------------------------------------------


def write_access(state: Reader, address: str, model_id: str) -> state_pb2.AccessDecision:
    """May ``address`` upload weights of ``model_id`` to a store now?"""
    try:
        case = _requester(state, None, address, "")
    except _Refused as refused:
        return refused.decision
    org = case.account.org
    if PUBLISHER not in case.account.roles:
        reason = f"{case.account.name or address} is not a publisher of {org}"
        return _refusal(errors.NOT_WRITER, reason, case.keys, org=org)
    case.keys.append(keys.model_key(model_id))
    model = ModelsReader(state).model(model_id)
    if model is None and _registrable_by(model_id, org):
        reason = f"{model_id} is not registered yet; {org} registers it when it publishes"
        return _decision(True, "registrant", reason, case.keys, org)
    if model is None:
        hint = "register it first (modelgov tx model register)"
        return _refusal(errors.NOT_WRITER, f"no model {quote(model_id, 200)}", case.keys, hint, org)
    if model.owner_org == org:
        return _decision(True, "owner", f"{org} owns {model_id}", case.keys, org)
    case.keys.append(member_keys.org_key(model.owner_org))
    if MembersReader(state).org(model.owner_org) is None:
        reason = f"{model_id} belongs to {model.owner_org}, no longer a member"
        return _refusal(errors.NOT_WRITER, reason, case.keys, org=org)
    invited = _open_round_inviting(state, model_id, org)
    if invited is not None:
        case.keys.append(federated_keys.round_key(invited))
        reason = f"{org} is invited to open round {invited} into {model_id}"
        return _decision(True, "round", reason, case.keys, org)
    reason = (
        f"only publishers of {model.owner_org}, or of an org invited to an open round of "
        f"{model_id}, upload weights of {model_id}"
    )
    return _refusal(errors.NOT_WRITER, reason, case.keys, org=org)


def _open_round_inviting(state: Reader, model_id: str, org: str) -> int | None:
    """The id of an open round into ``model_id`` that invites ``org`` (bounded scan)."""
    federated = FederatedReader(state)
    for round_id in islice(federated.due(2**64 - 1), MAX_OPEN_ROUNDS):
        record = federated.round(round_id)
        if record is not None and record.target_model == model_id and org in record.invited_orgs:
            return round_id
    return None


# --- answers ------------------------------------------------------------------------------------


def _granted(
    case: _Case, rule: str, reason: str, item: _Live, proof: list[bytes]
) -> state_pb2.AccessDecision:
    decision = _decision(True, rule, reason, [*case.keys, *proof], case.account.org)
    decision.ref = item.ref
    return decision


def _refusal(
    error: ErrorCode, reason: str, proof: list[bytes], hint: str = "", org: str = "", ref: str = ""
) -> state_pb2.AccessDecision:
    decision = _decision(False, error.name, reason, proof, org)
    decision.hint, decision.ref = hint, ref
    decision.codespace, decision.code = error.codespace, error.code
    return decision


def _decision(
    allowed: bool, rule: str, reason: str, proof: list[bytes], org: str
) -> state_pb2.AccessDecision:
    unique = list(dict.fromkeys(proof))
    return state_pb2.AccessDecision(allowed=allowed, rule=rule, reason=reason, org=org, keys=unique)


def _registrable_by(model_id: str, org: str) -> bool:
    """Whether ``model_id`` is a valid "<org>/<name>" that ``org``'s publishers may register:
    weights can then reach a store before the one transaction that registers the model and
    publishes the version (modelgov model push)."""
    owner, sep, name = model_id.partition("/")
    return bool(sep) and owner == org and MODEL_NAME.fullmatch(name) is not None
