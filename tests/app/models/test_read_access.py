"""The access policy table: /models/read_access and /models/write_access decide, on chain, who
gets which bytes from a store; every row of the table is a case here, with its proof keys."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, make_account, publish, register, set_status, started

from app.core.valuemap import from_data
from app.models import access, errors
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.store import Proof, verify_proof

PAID = "def authorize(ctx):\n    return allow(fee=5 * ctx.quantity, note='5 a unit')\n"
FREE = "def authorize(ctx):\n    return allow(fee=0)\n"
DENY = "def authorize(ctx):\n    return deny('downloads are not licensed')\n"
MODEL = "uni/base"
FILES = [
    tx_pb2.ManifestFile(
        path="config.json", size=2, digest="sha256:" + hashlib.sha256(b"{}").hexdigest()
    ),
    tx_pb2.ManifestFile(
        path="shards/a.bin", size=1, digest="sha256:" + hashlib.sha256(b"a").hexdigest()
    ),
]
MANIFEST = b"modelgov-manifest-v1\n" + b"".join(
    f"{f.digest[7:]} {f.size} {f.path}\n".encode() for f in FILES
)
DIRECTORY = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
YES = tx_pb2.VOTE_OPTION_YES


def deploy(name: str, source: str) -> tx_pb2.Msg:
    body = tx_pb2.DeployLicense(name=name, source=source, params=from_data({}))
    return tx_pb2.Msg(deploy_license=body)


def use(version: str, purpose: str = "download", fee: int = 5) -> tx_pb2.Msg:
    body = tx_pb2.Use(model=MODEL, version=version, purpose=purpose, quantity=1, max_fee=fee)
    return tx_pb2.Msg(use=body)


def weights(version: str) -> str:
    return DIRECTORY if version == "dir" else digest(f"{MODEL}@{version}")


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    """uni publishes uni/base: 1.0 (paid download), free (free license), denied (a license that
    denies downloads), dir (a directory listing its files, paid)."""
    params = {"voting_period_blocks": 5, "vote_quorum_percent": 30, "vote_threshold_percent": 50}
    driver = started(tmp_path, params=params)
    driver.ok("uni-pub", register("uni", "base"), deploy("paid", PAID), deploy("free", FREE))
    driver.ok("uni-pub", deploy("deny", DENY))
    driver.ok(
        "uni-pub",
        publish(MODEL, "1.0", license="uni/paid"),
        publish(MODEL, "free", license="uni/free"),
        publish(MODEL, "denied", license="uni/deny"),
        publish(
            MODEL, "dir", weights_digest=DIRECTORY, size_bytes=3, files=FILES, license="uni/paid"
        ),
    )
    yield driver
    driver.close()


def read(driver: Driver, who: str, digest_: str, path: str = "", clock: bool = True) -> Any:
    params: dict[str, Any] = {"address": address(driver, who), "digest": digest_}
    if path:
        params["path"] = path
    if clock:
        params.update(height=driver.height + 1, time=driver.time)
    answer = driver.query("/models/read_access", params)
    assert answer.code == 0, answer.log
    return state_pb2.AccessDecision.FromString(answer.value)


def write(driver: Driver, who: str, model: str) -> Any:
    answer = driver.query("/models/write_access", {"address": address(driver, who), "model": model})
    assert answer.code == 0, answer.log
    return state_pb2.AccessDecision.FromString(answer.value)


def address(driver: Driver, who: str) -> str:
    return driver[who].address if who in driver.accounts else who


def govern(driver: Driver, action: tx_pb2.ProposalAction) -> None:
    """uni proposes and votes yes; the proposal passes when its period ends."""
    driver.ok(
        "uni-admin", tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title="t"))
    )
    page = state_pb2.Page.FromString(driver.query("/members/proposals", {"limit": 200}).value)
    proposal_id = state_pb2.Proposal.FromString(page.items[-1]).id
    driver.ok(
        "uni-admin", tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=YES))
    )
    for _ in range(8):
        found = driver.query("/members/proposal", {"id": proposal_id}).value
        decided = state_pb2.Proposal.FromString(found)
        if decided.status != state_pb2.PROPOSAL_STATUS_VOTING:
            break
        driver.block([])
    assert decided.status == state_pb2.PROPOSAL_STATUS_PASSED, decided.result


def remove(org: str) -> tx_pb2.ProposalAction:
    return tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org=org))


def round_versions(driver: Driver, finalize: bool) -> None:
    """uni opens round 1 into uni/base@3.0 inviting acme and openml; both submit; uni may
    finalize."""
    opened = tx_pb2.OpenRound(
        base_model=MODEL,
        base_version="1.0",
        target_model=MODEL,
        target_version="3.0",
        invited_orgs=["acme", "openml"],
        min_participants=1,
        deadline_height=100,
    )
    driver.ok("uni-pub", tx_pb2.Msg(open_round=opened))
    for org in ("acme", "openml"):
        update = tx_pb2.SubmitUpdate(
            round_id=1, update_digest=digest(f"update-{org}"), size_bytes=5, sample_count=10
        )
        driver.ok(f"{org}-pub", tx_pb2.Msg(submit_update=update))
    if finalize:
        final = tx_pb2.FinalizeRound(
            round_id=1, aggregate_digest=digest("aggregate"), size_bytes=5, included=["acme"]
        )
        driver.ok("uni-pub", tx_pb2.Msg(finalize_round=final))


Setup = Callable[[Driver], None]


def nothing(driver: Driver) -> None:
    """No change to the fixture."""


def receipt(version: str, purpose: str = "download") -> Setup:
    def setup(driver: Driver) -> None:
        fee = 0 if version == "free" else 5
        driver.ok("acme-user", use(version, purpose, fee))

    return setup


def then(*steps: Setup) -> Setup:
    def setup(driver: Driver) -> None:
        for step in steps:
            step(driver)

    return setup


def revoke(version: str) -> Setup:
    def setup(driver: Driver) -> None:
        driver.ok("uni-pub", set_status(MODEL, version, tx_pb2.VERSION_STATUS_REVOKED))

    return setup


def removed(org: str) -> Setup:
    def setup(driver: Driver) -> None:
        govern(driver, remove(org))

    return setup


def revoked_account(name: str) -> Setup:
    def setup(driver: Driver) -> None:
        target = driver[name].address
        govern(driver, tx_pb2.ProposalAction(revoke_account=tx_pb2.RevokeAccount(address=target)))

    return setup


def admitted(org: str) -> Setup:
    def setup(driver: Driver) -> None:
        driver.accounts[f"{org}-pub"] = make_account(f"{org}-pub", org, "publisher")
        spec = tx_pb2.AccountSpec(
            name=f"{org}-pub", pubkey=driver[f"{org}-pub"].pubkey, roles=["publisher"]
        )
        add = tx_pb2.AddOrg(id=org, name=org, kind="commercial", accounts=[spec])
        govern(driver, tx_pb2.ProposalAction(add_org=add))

    return setup


def squat(driver: Driver) -> None:
    driver.ok("acme-pub", register("acme", "copy"))
    refused = driver.run("acme-pub", publish("acme/copy", "1", weights_digest=weights("1.0")))
    assert refused.code == errors.DIGEST_HELD.code


def in_round(finalize: bool) -> Setup:
    def setup(driver: Driver) -> None:
        round_versions(driver, finalize)

    return setup


STRANGER = make_account("stranger", "none").address
ALLOWED, REFUSED = True, False
# (case, setup, requester, digest, path, allowed, rule or refusal name, text in the reason)
TABLE: list[tuple[str, Setup, str, str, str, bool, str, str]] = [
    ("owner", nothing, "uni-pub", weights("1.0"), "", ALLOWED, "owner", "uni owns uni/base"),
    ("owner-any-role", nothing, "uni-admin", weights("1.0"), "", ALLOWED, "owner", ""),
    ("no-receipt", nothing, "acme-user", weights("1.0"), "", REFUSED, "not_granted", "asks 5"),
    ("download-receipt", receipt("1.0"), "acme-user", weights("1.0"), "", ALLOWED, "receipt", ""),
    (
        "any-account-of-the-org",
        receipt("1.0"),
        "acme-pub",
        weights("1.0"),
        "",
        ALLOWED,
        "receipt",
        "",
    ),
    (
        "fine-tune-receipt",
        receipt("1.0", "fine-tune"),
        "acme-pub",
        weights("1.0"),
        "",
        ALLOWED,
        "receipt",
        "",
    ),
    (
        "inference-receipt",
        receipt("1.0", "inference"),
        "acme-user",
        weights("1.0"),
        "",
        REFUSED,
        "not_granted",
        "",
    ),
    (
        "another-orgs-receipt",
        receipt("1.0"),
        "openml-pub",
        weights("1.0"),
        "",
        REFUSED,
        "not_granted",
        "",
    ),
    ("free-license", nothing, "acme-user", weights("free"), "", ALLOWED, "license", "free"),
    (
        "denying-license",
        nothing,
        "acme-user",
        weights("denied"),
        "",
        REFUSED,
        "not_granted",
        "not licensed",
    ),
    (
        "unknown-account",
        nothing,
        STRANGER,
        weights("1.0"),
        "",
        REFUSED,
        "no_account",
        "not a consortium",
    ),
    (
        "removed-org",
        then(receipt("1.0"), removed("acme")),
        "acme-user",
        weights("1.0"),
        "",
        REFUSED,
        "no_account",
        "removed",
    ),
    (
        "removed-owner",
        then(receipt("1.0"), removed("uni")),
        "acme-user",
        weights("1.0"),
        "",
        REFUSED,
        "not_granted",
        "no longer a member",
    ),
    (
        "revoked-account",
        then(receipt("1.0"), revoked_account("acme-user")),
        "acme-user",
        weights("1.0"),
        "",
        REFUSED,
        "no_account",
        "revoked",
    ),
    (
        "revoked-version",
        then(receipt("1.0"), revoke("1.0")),
        "acme-user",
        weights("1.0"),
        "",
        REFUSED,
        "version_revoked",
        "revoked",
    ),
    (
        "revoked-version-owner",
        revoke("1.0"),
        "uni-pub",
        weights("1.0"),
        "",
        REFUSED,
        "version_revoked",
        "",
    ),
    ("unknown-digest", nothing, "uni-pub", digest("nobody"), "", REFUSED, "not_published", ""),
    ("squatted-digest", squat, "acme-pub", weights("1.0"), "", REFUSED, "not_granted", ""),
    (
        "manifest-file",
        receipt("dir"),
        "acme-user",
        DIRECTORY,
        "shards/a.bin",
        ALLOWED,
        "receipt",
        "",
    ),
    (
        "manifest-unlisted",
        receipt("dir"),
        "acme-user",
        DIRECTORY,
        "shards/b.bin",
        REFUSED,
        "file_not_listed",
        "",
    ),
    (
        "manifest-no-grant",
        nothing,
        "acme-user",
        DIRECTORY,
        "shards/a.bin",
        REFUSED,
        "not_granted",
        "",
    ),
    (
        "file-by-its-digest",
        receipt("dir"),
        "acme-user",
        FILES[1].digest,
        "",
        REFUSED,
        "not_published",
        "",
    ),
    (
        "open-round-update-own",
        in_round(False),
        "acme-pub",
        digest("update-acme"),
        "",
        ALLOWED,
        "holder",
        "",
    ),
    (
        "open-round-update-other",
        in_round(False),
        "openml-pub",
        digest("update-acme"),
        "",
        REFUSED,
        "not_granted",
        "",
    ),
    (
        "open-round-update-opener",
        in_round(False),
        "uni-pub",
        digest("update-acme"),
        "",
        ALLOWED,
        "owner",
        "",
    ),
    (
        "round-aggregate",
        in_round(True),
        "openml-pub",
        digest("aggregate"),
        "",
        ALLOWED,
        "round",
        "round 1",
    ),
    ("round-update", in_round(True), "openml-pub", digest("update-acme"), "", ALLOWED, "round", ""),
    (
        "round-uninvited",
        then(in_round(True), admitted("beta")),
        "beta-pub",
        digest("aggregate"),
        "",
        REFUSED,
        "not_granted",
        "",
    ),
]


@pytest.mark.parametrize(
    ("setup", "who", "digest_", "path", "allowed", "rule", "text"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_the_policy_table(
    chain: Driver,
    setup: Setup,
    who: str,
    digest_: str,
    path: str,
    allowed: bool,
    rule: str,
    text: str,
) -> None:
    setup(chain)
    decision = read(chain, who, digest_, path)
    assert (decision.allowed, decision.rule) == (allowed, rule), decision.reason
    assert text in decision.reason
    if not allowed:
        error = getattr(errors, rule.upper())
        assert (decision.codespace, decision.code) == (error.codespace, error.code)
    assert_proven(chain, decision)


def test_a_file_grant_names_the_blob_to_serve(chain: Driver) -> None:
    chain.ok("acme-user", use("dir"))
    decision = read(chain, "acme-user", DIRECTORY, "shards/a.bin")
    assert (decision.file_digest, decision.file_size) == (FILES[1].digest, 1)
    assert read(chain, "acme-user", DIRECTORY).file_digest == ""


def test_without_a_clock_no_license_is_asked(chain: Driver) -> None:
    decision = read(chain, "acme-user", weights("free"), clock=False)
    assert not decision.allowed and "next block" in decision.hint


def test_the_receipt_scan_is_bounded(chain: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        chain.ok("acme-user", use("1.0", "inference"))
    chain.ok("acme-user", use("1.0"))
    monkeypatch.setattr(access, "MAX_RECEIPT_SCAN", 4)
    refused = read(chain, "acme-user", weights("1.0"))
    assert not refused.allowed and "more than 4 receipts" in refused.reason
    monkeypatch.setattr(access, "MAX_RECEIPT_SCAN", 8)
    assert read(chain, "acme-user", weights("1.0")).rule == "receipt"


def test_a_short_receipt_list_ends_the_scan_early(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(6):
        chain.ok("acme-user", use("1.0", "inference"))
    monkeypatch.setattr(access, "MAX_RECEIPT_SCAN", 3)
    refused = read(chain, "openml-pub", weights("1.0"))  # openml has no receipt at all
    assert not refused.allowed and "more than" not in refused.reason


def test_bad_queries_are_refused(chain: Driver) -> None:
    for params in (
        {"address": "x"},
        {"digest": weights("1.0")},
        {"address": "x", "digest": "sha256:zz"},
        {"address": "x", "digest": weights("1.0"), "height": -1, "time": 0},
        {"address": "x", "digest": weights("1.0"), "path": 7},
    ):
        assert chain.query("/models/read_access", params).code != 0, params


WRITES = [
    ("owner-publisher", nothing, "uni-pub", MODEL, ALLOWED, "owner"),
    ("owner-admin-without-publisher", nothing, "acme-admin", "acme/m", REFUSED, "not_writer"),
    ("other-org", nothing, "acme-pub", MODEL, REFUSED, "not_writer"),
    ("not-a-publisher", nothing, "acme-user", MODEL, REFUSED, "not_writer"),
    ("unknown-model-of-own-org", nothing, "uni-pub", "uni/none", ALLOWED, "registrant"),
    ("unknown-model-of-other-org", nothing, "uni-pub", "acme/none", REFUSED, "not_writer"),
    ("unknown-model-bad-name", nothing, "uni-pub", "uni/bad name", REFUSED, "not_writer"),
    ("invited-to-open-round", in_round(False), "openml-pub", MODEL, ALLOWED, "round"),
    ("round-closed", in_round(True), "openml-pub", MODEL, REFUSED, "not_writer"),
    ("removed-org", removed("uni"), "uni-pub", MODEL, REFUSED, "no_account"),
    (
        "round-into-removed-owner",
        then(in_round(False), removed("uni")),
        "openml-pub",
        MODEL,
        REFUSED,
        "not_writer",
    ),
    ("unknown-account", nothing, STRANGER, MODEL, REFUSED, "no_account"),
]


@pytest.mark.parametrize(
    ("setup", "who", "model", "allowed", "rule"),
    [pytest.param(*row[1:], id=row[0]) for row in WRITES],
)
def test_the_upload_table(
    chain: Driver, setup: Setup, who: str, model: str, allowed: bool, rule: str
) -> None:
    setup(chain)
    decision = write(chain, who, model)
    assert (decision.allowed, decision.rule) == (allowed, rule), decision.reason
    assert_proven(chain, decision)


def assert_proven(driver: Driver, decision: Any) -> None:
    """Every key the decision names is proven (present or absent) against the app hash."""
    assert decision.keys, "a decision names the keys that justify it"
    root = driver.store.root
    for key in decision.keys:
        answer = driver.query("/store", data=key, prove=True)
        proof = Proof.decode(answer.proof_ops.ops[0].data)
        assert verify_proof(root, key, answer.value or None, proof)


def test_the_justifying_keys_of_a_grant_and_a_refusal(chain: Driver) -> None:
    from app.members import keys as member_keys
    from app.models import keys

    granted = read(chain, "uni-pub", weights("1.0"))
    ref = f"{MODEL}@1.0"
    assert member_keys.account_key(chain["uni-pub"].address) in granted.keys
    assert member_keys.org_key("uni") in granted.keys
    assert keys.digest_key(weights("1.0"), ref) in granted.keys
    assert keys.model_key(MODEL) in granted.keys
    stranger = read(chain, STRANGER, weights("1.0"))
    assert chain.query("/store", data=stranger.keys[0]).value == b""  # proof of absence


def read_copy(driver: Driver, who: str, digest_: str, uploader: str, path: str = "") -> Any:
    params: dict[str, Any] = {"address": address(driver, who), "digest": digest_}
    params.update(uploader=uploader, height=driver.height + 1, time=driver.time)
    if path:
        params["path"] = path
    answer = driver.query("/models/read_access", params)
    assert answer.code == 0, answer.log
    return state_pb2.AccessDecision.FromString(answer.value)


REDISTRIBUTE = "def authorize(ctx):\n    return allow(fee=0)\n"


def test_a_copy_is_served_only_if_its_uploader_may_name_it(chain: Driver) -> None:
    assert read(chain, "uni-pub", weights("1.0")).blob_holder == "uni"
    assert read_copy(chain, "uni-pub", weights("1.0"), "uni").allowed
    refused = read_copy(chain, "uni-pub", weights("1.0"), "acme")
    assert (refused.allowed, refused.rule) == (False, "copy_not_consented")
    assert "uploaded by 'acme'" in refused.reason
    assert_proven(chain, refused)
    chain.ok("uni-pub", deploy("open", REDISTRIBUTE))
    attach = tx_pb2.AttachLicense(model=MODEL, version="dir", license="uni/open")
    chain.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
    chain.ok("acme-user", use("dir", "redistribution", 0))
    chain.ok("acme-pub", register("acme", "mirror"))
    again = publish(
        "acme/mirror",
        "1",
        weights_digest=DIRECTORY,
        size_bytes=3,
        files=FILES,
        consent_receipts=[1],
    )
    chain.ok("acme-pub", again)  # acme republishes uni's directory with uni's consent
    assert read_copy(chain, "acme-user", DIRECTORY, "acme", "shards/a.bin").allowed
    assert not read_copy(chain, "acme-user", DIRECTORY, "openml", "shards/a.bin").allowed


def test_publishing_first_what_one_never_held_yields_nothing_from_the_owners_store(
    chain: Driver,
) -> None:
    """uni uploaded bytes to its store; acme saw the digest (say, in uni's PublishVersion in a
    mempool) and published it first. acme holds the digest and owns the version, but uni's
    store's copy was uploaded by uni, which acme's holding does not cover."""
    stolen = digest("uni's next weights")
    chain.ok(
        "acme-pub", register("acme", "front"), publish("acme/front", "1", weights_digest=stolen)
    )
    refused = chain.run("uni-pub", publish(MODEL, "2.0", weights_digest=stolen))
    assert refused.code == errors.DIGEST_HELD.code and "held by acme" in refused.log
    granted = read(chain, "acme-pub", stolen)
    assert granted.allowed and granted.blob_holder == "acme"
    from_uni = read_copy(chain, "acme-pub", stolen, "uni")
    assert (from_uni.allowed, from_uni.rule) == (False, "copy_not_consented")
