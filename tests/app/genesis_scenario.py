"""A chain that holds every kind of record, for the genesis export tests.

``rich_chain`` runs, through the shared driver, every message kind and every governance action
whose records the recorded blocks (``tests/app/recorded``) do not leave behind: an open and a
revealed claim (a holding taken over), a directory with its manifest, a consent, a removed
organisation and retired keys, a named validator, an open proposal with votes, an open and a
finalized federated round, period counters of a license with its own period, a zero balance.
``KEY_KINDS`` names every kind of key the domains write, so a test can check that the states it
round-trips hold them all.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from driver import Driver, digest, make_account, publish, register, set_status, started

from app import machine
from app.attestations import keys as attestation_keys
from app.core.meta import CHAIN_ID_KEY
from app.core.valuemap import from_data
from app.credits import keys as credit_keys
from app.datasets import keys as dataset_keys
from app.federated import keys as federated_keys
from app.licenses import keys as license_keys
from app.market import keys as market_keys
from app.members import keys as member_keys
from app.models import claims
from app.models import keys as model_keys
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import keys as usage_keys

GOVERNANCE = {"voting_period_blocks": 5, "vote_quorum_percent": 30, "vote_threshold_percent": 50}
YES, NO = tx_pb2.VOTE_OPTION_YES, tx_pb2.VOTE_OPTION_NO
VALIDATOR_KEY = hashlib.sha256(b"genesis-scenario-validator").digest()
PRICED = """
def authorize(ctx):
    return allow(fee=ctx.quantity * ctx.params["price"], note="per unit")
"""
FREE = "def authorize(ctx):\n    return allow(fee=0)\n"
TRANSIENT = {member_keys.TOUCHED}
"""Key kinds no committed state holds: the end of every block clears the votes' marks."""


def _kinds(module: Any) -> set[bytes]:
    prefix = module.PREFIX
    return {
        value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, bytes) and len(value) == 2
        if value.startswith(prefix) and value != prefix + b"\x00"
    }


KEY_KINDS = (
    {CHAIN_ID_KEY[:2]}
    | set().union(
        *map(
            _kinds,
            (
                member_keys,
                model_keys,
                license_keys,
                usage_keys,
                credit_keys,
                attestation_keys,
                federated_keys,
                market_keys,
                dataset_keys,
            ),
        )
    )
) - TRANSIENT
"""The first two bytes of every kind of key the state holds after a committed block."""


def msg(**kind: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(**kind)


def salt(seed: str) -> bytes:
    return hashlib.sha256(b"salt:" + seed.encode()).digest()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(path: str, content: bytes) -> tx_pb2.ManifestFile:
    return tx_pb2.ManifestFile(path=path, size=len(content), digest=sha(content))


FILES = [
    entry("config.json", b"shared bytes"),
    entry("shards/a.bin", b"weights a"),
    entry("shards/b.bin", b"shared bytes"),
]


def manifest_of(files: list[tx_pb2.ManifestFile]) -> str:
    lines = [b"modelgov-manifest-v1\n"]
    lines += [f"{f.digest[7:]} {f.size} {f.path}\n".encode() for f in files]
    return sha(b"".join(lines))


def proposal_ids(driver: Driver) -> list[int]:
    page = state_pb2.Page.FromString(driver.query("/members/proposals", {"limit": 200}).value)
    return [state_pb2.Proposal.FromString(item).id for item in page.items]


def govern(driver: Driver, action: tx_pb2.ProposalAction) -> None:
    """uni proposes, uni and acme vote yes, which carries it under GOVERNANCE."""
    driver.ok("uni-admin", msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title="t")))
    proposal_id = proposal_ids(driver)[-1]
    yes = tx_pb2.CastVote(proposal_id=proposal_id, option=YES)
    driver.block(
        [
            driver.sign("uni-admin", [msg(cast_vote=yes)]),
            driver.sign("acme-admin", [msg(cast_vote=yes)]),
        ]
    )
    found = state_pb2.Proposal.FromString(
        driver.query("/members/proposal", {"id": proposal_id}).value
    )
    assert found.status == state_pb2.PROPOSAL_STATUS_PASSED, found.result


def balance(driver: Driver, org: str) -> int:
    return state_pb2.Balance.FromString(driver.query("/credits/balance", {"org": org}).value).amount


def rich_chain(path: Path) -> Driver:
    """A driver whose committed state holds every kind of record (see the module docstring)."""
    driver = started(path, params=GOVERNANCE)
    _registry(driver)
    _licenses_and_uses(driver)
    _rounds_and_attestations(driver)
    _market(driver)
    _governance(driver)
    everything = tx_pb2.TransferCredits(to_org="openml", amount=balance(driver, "uni"))
    driver.ok("uni-admin", msg(transfer_credits=everything))
    driver.block([])
    return driver


def _market(driver: Driver) -> None:
    """A listing, a lease offer, and a lease of it."""
    offer = tx_pb2.OfferLease(
        model="uni/base", version="1.0", price_per_1000_blocks=10, purposes=["inference"]
    )
    listing = tx_pb2.ListModel(model="uni/base", price=123)
    driver.ok("uni-admin", msg(list_model=listing), msg(offer_lease=offer))
    rent = tx_pb2.LeaseVersion(
        model="uni/base", version="1.0", blocks=100, max_price=1, purposes=["inference"]
    )
    driver.ok("acme-admin", msg(lease_version=rent))


def _registry(driver: Driver) -> None:
    """Models, versions, a directory, a takeover by an older claim, an open claim, a store."""
    driver.ok("uni-pub", register("uni", "base", "the base"), publish("uni/base", "1.0"))
    driver.ok("acme-pub", register("acme", "copy"))
    stolen = digest("uni's next weights")
    driver.ok(
        "uni-pub",
        msg(
            claim_digests=tx_pb2.ClaimDigests(
                commitments=[
                    claims.commitment(stolen, "uni", salt("s")),
                    claims.commitment(digest("never published"), "uni", salt("t")),
                ]
            )
        ),
    )
    driver.ok("acme-pub", publish("acme/copy", "front", weights_digest=stolen))
    driver.ok(
        "uni-pub",
        publish(
            "uni/base", "2.0", weights_digest=stolen, claim_salt=salt("s"), parents=["uni/base@1.0"]
        ),
    )
    files = {"weights_digest": manifest_of(FILES), "size_bytes": sum(f.size for f in FILES)}
    driver.ok("uni-pub", publish("uni/base", "dir", files=FILES, **files))
    announce = tx_pb2.AnnounceProvider(digest=digest("uni/base@1.0"), url="http://127.0.0.1:9")
    driver.ok("uni-pub", msg(announce_provider=announce))
    driver.ok("uni-pub", set_status("uni/base", "dir", tx_pb2.VERSION_STATUS_DEPRECATED))
    driver.ok(
        "uni-pub", msg(set_alias=tx_pb2.SetAlias(model="uni/base", alias="stable", version="1.0"))
    )
    driver.ok(
        "acme-admin",
        msg(transfer_model=tx_pb2.TransferModel(model="acme/copy", new_owner_org="openml")),
    )
    _datasets(driver)


def _datasets(driver: Driver) -> None:
    """A dataset with a version, and a model version trained on it (issue 13)."""
    register_data = tx_pb2.RegisterDataset(owner_org="uni", name="corpus")
    publish_data = tx_pb2.PublishDataset(
        dataset="uni/corpus", version="1", digest=digest("corpus"), size_bytes=9, format="csv"
    )
    driver.ok("uni-pub", msg(register_dataset=register_data), msg(publish_dataset=publish_data))
    driver.ok("uni-pub", publish("uni/base", "trained", trained_on=["uni/corpus@1"]))


def _licenses_and_uses(driver: Driver) -> None:
    """Two licenses attached in turn, uses with a period of their own, and a consent."""
    for name, source, params in (
        ("free", FREE, {}),
        ("priced", PRICED, {"price": 2, "period_seconds": 3600}),
    ):
        deploy = tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
        driver.ok("uni-pub", msg(deploy_license=deploy))
    default = tx_pb2.SetDefaultLicense(model="uni/base", license="uni/free")
    driver.ok("uni-pub", msg(set_default_license=default))
    for license_id in ("uni/free", "uni/priced"):
        attach = tx_pb2.AttachLicense(model="uni/base", version="1.0", license=license_id)
        driver.ok("uni-pub", msg(attach_license=attach))
    for quantity in (3, 5):
        use = tx_pb2.Use(
            model="uni/base", version="1.0", purpose="inference", quantity=quantity, max_fee=100
        )
        driver.ok("acme-user", msg(use=use))
    redistribute = tx_pb2.Use(
        model="uni/base", version="1.0", purpose="redistribution", quantity=1, max_fee=100
    )
    driver.ok("acme-user", msg(use=redistribute))
    page = state_pb2.Page.FromString(
        driver.query("/usage/receipts", {"consumer_org": "acme"}).value
    )
    receipt = state_pb2.Receipt.FromString(page.items[-1]).id
    driver.ok("acme-pub", register("acme", "mirror"))
    mirror = publish(
        "acme/mirror", "1", weights_digest=digest("uni/base@1.0"), consent_receipts=[receipt]
    )
    driver.ok("acme-pub", mirror)
    fine_tune = tx_pb2.Use(
        model="uni/base", version="1.0", purpose="fine-tune", quantity=1, max_fee=100
    )
    tuning = driver.ok("acme-user", msg(use=fine_tune))
    [event] = [e for e in tuning.events if e.type == "usage.receipt"]
    licensed = int(next(a.value for a in event.attributes if a.key == "id"))
    tuned = publish("acme/mirror", "2", parents=["uni/base@1.0"], license_receipts=[licensed])
    driver.ok("acme-pub", tuned)  # pins uni/priced; binds the receipt to acme/mirror


def _rounds_and_attestations(driver: Driver) -> None:
    """An attestation, a finalized round with its contributors, an open round."""
    attest = tx_pb2.Attest(
        model="uni/base",
        version="1.0",
        kind="evaluation",
        metrics=[tx_pb2.Metric(name="acc", int_value=9012, scale=4)],
        method="held-out set",
    )
    driver.ok("openml-audit", msg(attest=attest))
    for target, deadline in (("3.0", driver.height + 50), ("4.0", 10_000)):
        round_ = tx_pb2.OpenRound(
            base_model="uni/base",
            base_version="1.0",
            target_model="uni/base",
            target_version=target,
            invited_orgs=["acme", "openml"],
            min_participants=1,
            deadline_height=deadline,
        )
        driver.ok("uni-pub", msg(open_round=round_))
    update = tx_pb2.SubmitUpdate(
        round_id=1,
        update_digest=digest("update"),
        size_bytes=10,
        sample_count=300,
        metrics=[tx_pb2.Metric(name="loss", int_value=5, scale=1)],
    )
    driver.ok("acme-pub", msg(submit_update=update))
    final = tx_pb2.FinalizeRound(
        round_id=1, aggregate_digest=digest("aggregate"), size_bytes=10, included=["acme"]
    )
    driver.ok("uni-pub", msg(finalize_round=final))


def _governance(driver: Driver) -> None:
    """A removed organisation, revoked and re-admitted keys, a named validator, new
    parameters, and a proposal still open with a vote on it."""
    newco = make_account("newco-admin", "newco", "admin", "publisher")
    driver.accounts[newco.name] = newco
    spec = tx_pb2.AccountSpec(name=newco.name, pubkey=newco.pubkey, roles=list(newco.roles))
    add = tx_pb2.AddOrg(
        id="newco",
        name="New Co",
        kind="government",
        accounts=[spec],
        attributes=from_data({"tier": 3, "motto": ""}),
    )
    govern(driver, tx_pb2.ProposalAction(add_org=add))
    driver.ok("newco-admin", register("newco", "gone"), publish("newco/gone", "1"))
    govern(driver, tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="newco")))
    auditor = driver["openml-audit"].address
    govern(driver, tx_pb2.ProposalAction(revoke_account=tx_pb2.RevokeAccount(address=auditor)))
    validator = tx_pb2.SetValidator(pubkey=VALIDATOR_KEY, power=5, name="val-a")
    govern(driver, tx_pb2.ProposalAction(set_validator=validator))
    change = tx_pb2.ParamChange(name="max_uris_per_version", value=10)
    govern(driver, tx_pb2.ProposalAction(set_params=tx_pb2.SetParams(changes=[change])))
    open_ = tx_pb2.SubmitProposal(
        action=tx_pb2.ProposalAction(set_params=tx_pb2.SetParams(changes=[change])), title="o"
    )
    driver.ok("acme-admin", msg(submit_proposal=open_))
    vote = tx_pb2.CastVote(proposal_id=proposal_ids(driver)[-1], option=NO)
    driver.ok("acme-admin", msg(cast_vote=vote))


# --- an exported state to break, for the tests of each domain's validation ---------------------

DROP = object()
"""A value for ``changed``: remove the field or list item instead."""


@functools.cache
def _exported() -> str:
    with tempfile.TemporaryDirectory() as work:
        driver = rich_chain(Path(work))
        try:
            return json.dumps(machine.export_genesis(driver.store))
        finally:
            driver.close()


def exported() -> dict[str, Any]:
    """A fresh copy of the scenario's exported ``app_state`` (the chain is built once)."""
    found: dict[str, Any] = json.loads(_exported())
    return found


def changed(path: str, value: Any) -> dict[str, Any]:
    """The exported state with ``path`` (``models.versions[0].index``) set to ``value`` (or
    removed, with DROP)."""
    state = exported()
    *parents, last = _split(path)
    target: Any = state
    for part in parents:
        target = target[part]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return state


def doubled(path: str, index: int = 0) -> dict[str, Any]:
    """The exported state with the list at ``path`` holding its item ``index`` twice."""
    state = exported()
    target: Any = state
    for part in _split(path):
        target = target[part]
    target.append(copy.deepcopy(target[index]))
    return state


def _split(path: str) -> list[Any]:
    return [
        int(piece) if piece.isdigit() else piece
        for piece in path.replace("]", "").replace("[", ".").split(".")
    ]
