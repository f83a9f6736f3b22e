"""Claims against front-running: a publication that reveals a claim made in an earlier block takes
back a digest someone published first after reading it in a mempool; the front-runner's versions,
consents and copies then grant nothing of it. Hostile cases by kind: claim spam, replayed
commitments and salts, same-block claims, two claimants, expiry, revocation, removal and
re-admission, malformed commitments and salts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, make_account, publish, register, set_status, started

from app.core.errors import MISSING_ROLE, UNKNOWN_SENDER, ErrorCode
from app.core.valuemap import from_data
from app.models import claims, errors, keys
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.store import Proof, verify_proof

STOLEN = digest("uni's next weights")
MODEL = "uni/base"
YES = tx_pb2.VOTE_OPTION_YES
GOVERNANCE = {"voting_period_blocks": 5, "vote_quorum_percent": 30, "vote_threshold_percent": 50}
REDISTRIBUTE = "def authorize(ctx):\n    return allow(fee=0)\n"


def salt(seed: str) -> bytes:
    return hashlib.sha256(b"salt:" + seed.encode()).digest()


def claim(*commitments: bytes) -> tx_pb2.Msg:
    return tx_pb2.Msg(claim_digests=tx_pb2.ClaimDigests(commitments=list(commitments)))


def claim_of(weights: str, org: str, seed: str = "s") -> tx_pb2.Msg:
    return claim(claims.commitment(weights, org, salt(seed)))


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def holder(driver: Driver, weights: str) -> state_pb2.DigestHolder:
    answer = driver.query("/models/holder", {"digest": weights})
    assert answer.code == 0, answer.log
    return state_pb2.DigestHolder.FromString(answer.value)


def read(driver: Driver, who: str, weights: str, path: str = "", uploader: str = "") -> Any:
    params: dict[str, Any] = {"address": driver[who].address, "digest": weights}
    params.update(height=driver.height + 1, time=driver.time)
    if path:
        params["path"] = path
    if uploader:
        params["uploader"] = uploader
    answer = driver.query("/models/read_access", params)
    assert answer.code == 0, answer.log
    return state_pb2.AccessDecision.FromString(answer.value)


def assert_proven(driver: Driver, decision: Any) -> None:
    """Every key the decision names is proven (present or absent) against the app hash."""
    for key in decision.keys:
        answer = driver.query("/store", data=key, prove=True)
        proof = Proof.decode(answer.proof_ops.ops[0].data)
        assert verify_proof(driver.store.root, key, answer.value or None, proof)


def front_run(driver: Driver, weights: str = STOLEN, model: str = "acme/copy") -> None:
    """acme publishes ``weights`` (read from uni's pending publication) before uni does."""
    driver.ok("acme-pub", publish(model, "front", weights_digest=weights))


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path, params=GOVERNANCE)
    driver.ok("uni-pub", register("uni", "base"))
    driver.ok("acme-pub", register("acme", "copy"))
    driver.ok("openml-pub", register("openml", "copy"))
    yield driver
    driver.close()


# --- the attack and its remedy --------------------------------------------------------------


def test_without_a_claim_a_front_run_still_wins_the_name(chain: Driver) -> None:
    front_run(chain)
    expect(chain.run("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN)), errors.DIGEST_HELD)


def test_a_revealed_older_claim_takes_a_front_run_digest_back(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    claimed_at = chain.height
    front_run(chain)
    assert holder(chain, STOLEN).org == "acme"
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    found = holder(chain, STOLEN)
    assert (found.org, found.ref, found.claim_height, found.taken_from) == (
        "uni",
        f"{MODEL}@2.0",
        claimed_at,
        "acme",
    )
    assert read(chain, "uni-pub", STOLEN).rule == "owner"
    expect(
        chain.run("acme-pub", publish("acme/copy", "again", weights_digest=STOLEN)),
        errors.DIGEST_HELD,
    )


def test_the_front_runners_version_grants_nothing_afterwards(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    front_run(chain)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    for who in ("acme-pub", "acme-user"):
        refused = read(chain, who, STOLEN)
        assert (refused.allowed, refused.rule) == (False, "not_granted"), refused.reason


def test_the_owner_rule_no_longer_covers_the_displaced_version(chain: Driver) -> None:
    """acme owns acme/copy, whose version names the digest: the owner rule would grant acme,
    and uni's store (whose copy uni, the holder, uploaded) would serve it."""
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    front_run(chain)
    assert read(chain, "acme-pub", STOLEN).rule == "owner"
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    decision = read(chain, "acme-pub", STOLEN, uploader="uni")
    assert not decision.allowed and decision.rule == "not_granted"
    copy = read(chain, "uni-pub", STOLEN, uploader="acme")
    assert (copy.allowed, copy.rule) == (False, "copy_not_consented")


@pytest.mark.parametrize("order", ["front-runner-first", "owner-first"])
def test_both_publications_in_one_block(chain: Driver, order: str) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    owner = chain.sign(
        "uni-pub", [publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s"))]
    )
    thief = chain.sign("acme-pub", [publish("acme/copy", "front", weights_digest=STOLEN)])
    txs = [thief, owner] if order == "front-runner-first" else [owner, thief]
    results = chain.block(txs).tx_results
    by_tx = dict(zip(txs, results, strict=True))
    assert by_tx[owner].code == 0, by_tx[owner].log
    if order == "owner-first":
        expect(by_tx[thief], errors.DIGEST_HELD)
    assert holder(chain, STOLEN).org == "uni"


def test_a_front_runner_who_claims_after_seeing_the_digest_is_too_late(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.ok("acme-pub", claim_of(STOLEN, "acme"))
    chain.ok("acme-pub", publish("acme/copy", "front", weights_digest=STOLEN, claim_salt=salt("s")))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    assert holder(chain, STOLEN).org == "uni"


# --- claims in the same block, expired, spent ----------------------------------------------


def test_a_claim_in_the_publications_own_transaction_is_too_recent(chain: Driver) -> None:
    both = chain.run(
        "uni-pub",
        claim_of(STOLEN, "uni"),
        publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")),
    )
    expect(both, errors.CLAIM_TOO_RECENT)


def test_a_claim_in_the_publications_block_is_too_recent(chain: Driver) -> None:
    first = chain.sign("uni-pub", [claim_of(STOLEN, "uni")])
    then = chain.sign(
        "uni-pub", [publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s"))]
    )
    results = chain.block([first, then]).tx_results
    assert results[0].code == 0
    expect(results[1], errors.CLAIM_TOO_RECENT)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))


def test_an_expired_claim_cannot_be_revealed(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "TTL_BLOCKS", 3)
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.block([])
    chain.block([])
    expect(
        chain.run("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s"))),
        errors.CLAIM_EXPIRED,
    )
    chain.ok("uni-pub", claim_of(digest("another"), "uni"))  # prunes the expired one
    expect(
        chain.run("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s"))),
        errors.CLAIM_NOT_FOUND,
    )


def test_the_last_block_of_a_claims_life_still_reveals_it(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "TTL_BLOCKS", 3)
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.block([])
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))


def test_a_claim_reveals_once(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    again = publish(MODEL, "2.1", weights_digest=STOLEN, claim_salt=salt("s"))
    expect(chain.run("uni-pub", again), errors.CLAIM_NOT_FOUND)
    chain.ok("uni-pub", publish(MODEL, "2.1", weights_digest=STOLEN))  # uni holds it now


def test_a_failed_publication_keeps_its_claim(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    broken = publish(
        MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s"), parents=["uni/base@none"]
    )
    expect(chain.run("uni-pub", broken), errors.PARENT_NOT_FOUND)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))


# --- replays: a commitment and a salt bind one organisation ---------------------------------


def test_a_claim_is_the_organisations_not_the_accounts(chain: Driver) -> None:
    chain.ok("uni-admin", claim_of(STOLEN, "uni"))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))


def test_another_orgs_salt_reveals_nothing(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    replay = publish("acme/copy", "front", weights_digest=STOLEN, claim_salt=salt("s"))
    expect(chain.run("acme-pub", replay), errors.CLAIM_NOT_FOUND)


def test_a_copied_commitment_is_the_copiers_own_useless_claim(chain: Driver) -> None:
    uni_commitment = claims.commitment(STOLEN, "uni", salt("s"))
    chain.ok("acme-pub", claim(uni_commitment))  # copied from uni's pending ClaimDigests, first
    chain.ok("uni-pub", claim(uni_commitment))
    replay = publish("acme/copy", "front", weights_digest=STOLEN, claim_salt=salt("s"))
    expect(chain.run("acme-pub", replay), errors.CLAIM_NOT_FOUND)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))


def test_a_salt_reveals_only_the_digest_it_was_claimed_for(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    other = publish(MODEL, "2.0", weights_digest=digest("other"), claim_salt=salt("s"))
    expect(chain.run("uni-pub", other), errors.CLAIM_NOT_FOUND)


# --- two claimants ---------------------------------------------------------------------------


def test_the_older_of_two_claims_wins_whoever_publishes_first(chain: Driver) -> None:
    chain.ok("openml-pub", claim_of(STOLEN, "openml"))
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    older = publish("openml/copy", "1", weights_digest=STOLEN, claim_salt=salt("s"))
    chain.ok("openml-pub", older)
    assert (holder(chain, STOLEN).org, holder(chain, STOLEN).taken_from) == ("openml", "uni")
    assert read(chain, "uni-pub", STOLEN).rule == "not_granted"


def test_a_younger_claim_does_not_take_an_older_holding(chain: Driver) -> None:
    chain.ok("openml-pub", claim_of(STOLEN, "openml"))
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.ok("openml-pub", publish("openml/copy", "1", weights_digest=STOLEN, claim_salt=salt("s")))
    younger = chain.run(
        "uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s"))
    )
    expect(younger, errors.DIGEST_HELD)
    assert "is not older" in younger.log


def test_claims_of_one_block_tie_and_the_first_publication_holds(chain: Driver) -> None:
    both = [
        chain.sign("openml-pub", [claim_of(STOLEN, "openml")]),
        chain.sign("uni-pub", [claim_of(STOLEN, "uni")]),
    ]
    assert all(r.code == 0 for r in chain.block(both).tx_results)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    tie = publish("openml/copy", "1", weights_digest=STOLEN, claim_salt=salt("s"))
    expect(chain.run("openml-pub", tie), errors.DIGEST_HELD)


def test_a_holder_revealing_an_older_claim_raises_its_priority(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.ok("openml-pub", claim_of(STOLEN, "openml"))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN))  # no salt: priority now
    chain.ok("uni-pub", publish(MODEL, "2.1", weights_digest=STOLEN, claim_salt=salt("s")))
    late = publish("openml/copy", "1", weights_digest=STOLEN, claim_salt=salt("s"))
    expect(chain.run("openml-pub", late), errors.DIGEST_HELD)


# --- what the displaced organisation named --------------------------------------------------


def _uni_consents_to_acme(driver: Driver) -> int:
    """uni front-runs openml's digest; acme obtains a redistribution receipt of uni's version and
    republishes the digest with that consent. Returns the receipt's id."""
    driver.ok("uni-pub", publish(MODEL, "front", weights_digest=STOLEN))
    deploy = tx_pb2.DeployLicense(name="open", source=REDISTRIBUTE, params=from_data({}))
    driver.ok("uni-pub", tx_pb2.Msg(deploy_license=deploy))
    attach = tx_pb2.AttachLicense(model=MODEL, version="front", license="uni/open")
    driver.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
    use = tx_pb2.Use(model=MODEL, version="front", purpose="redistribution", quantity=1)
    driver.ok("acme-user", tx_pb2.Msg(use=use))
    page = state_pb2.Page.FromString(
        driver.query("/usage/receipts", {"consumer_org": "acme"}).value
    )
    receipt = state_pb2.Receipt.FromString(page.items[-1]).id
    mirror = publish("acme/copy", "mirror", weights_digest=STOLEN, consent_receipts=[receipt])
    driver.ok("acme-pub", mirror)
    return receipt


def test_consents_the_displaced_holder_gave_lapse(chain: Driver) -> None:
    chain.ok("openml-pub", claim_of(STOLEN, "openml"))
    receipt = _uni_consents_to_acme(chain)
    assert read(chain, "acme-pub", STOLEN).rule == "owner"
    chain.ok("openml-pub", publish("openml/copy", "1", weights_digest=STOLEN, claim_salt=salt("s")))
    consent = chain.query("/models/consent", {"digest": STOLEN, "org": "acme"})
    assert consent.value == b"uni"  # given by uni, which no longer holds the digest
    for who in ("acme-pub", "uni-pub"):
        assert read(chain, who, STOLEN).rule == "not_granted"
    again = publish("acme/copy", "again", weights_digest=STOLEN, consent_receipts=[receipt])
    expect(chain.run("acme-pub", again), errors.DIGEST_HELD)
    assert not read(chain, "openml-pub", STOLEN, uploader="acme").allowed


def test_every_version_naming_a_lost_digest_is_displaced(chain: Driver) -> None:
    chain.ok("openml-pub", claim_of(STOLEN, "openml"))
    _uni_consents_to_acme(chain)
    chain.ok("openml-pub", publish("openml/copy", "1", weights_digest=STOLEN, claim_salt=salt("s")))
    chain.ok("openml-pub", set_status("openml/copy", "1", tx_pb2.VERSION_STATUS_REVOKED))
    refused = read(chain, "acme-pub", STOLEN)
    assert refused.rule == "not_granted"  # one revoked, two displaced: no single reason
    assert "acme/copy@mirror was published by acme" in refused.reason
    assert f"{MODEL}@front was published by uni" in refused.reason


def test_a_displaced_parent_is_no_consent(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    front_run(chain)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    child = publish("acme/copy", "child", weights_digest=STOLEN, parents=["acme/copy@front"])
    expect(chain.run("acme-pub", child), errors.DIGEST_HELD)


def test_revoking_the_front_run_version_changes_nothing(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    front_run(chain)
    chain.ok("acme-pub", set_status("acme/copy", "front", tx_pb2.VERSION_STATUS_REVOKED))
    expect(chain.run("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN)), errors.DIGEST_HELD)
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    assert holder(chain, STOLEN).org == "uni"


def test_revoking_a_claimed_version_keeps_the_holding(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    chain.ok("uni-pub", set_status(MODEL, "2.0", tx_pb2.VERSION_STATUS_REVOKED))
    expect(
        chain.run("acme-pub", publish("acme/copy", "1", weights_digest=STOLEN)), errors.DIGEST_HELD
    )


# --- directories: a manifest's digest commits to its files ---------------------------------


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(path: str, content: bytes) -> tx_pb2.ManifestFile:
    return tx_pb2.ManifestFile(path=path, size=len(content), digest=sha(content))


def manifest_of(files: list[tx_pb2.ManifestFile]) -> str:
    lines = [b"modelgov-manifest-v1\n"]
    lines += [f"{f.digest[7:]} {f.size} {f.path}\n".encode() for f in files]
    return sha(b"".join(lines))


def directory(model: str, version: str, files: list[tx_pb2.ManifestFile], **extra: Any) -> Any:
    fields: dict[str, Any] = {
        "weights_digest": manifest_of(files),
        "size_bytes": sum(f.size for f in files),
        "files": files,
    }
    fields.update(extra)
    return publish(model, version, **fields)


FILES = [entry("config.json", b"uni config 7"), entry("shards/a.bin", b"uni secret weights")]
DIRECTORY = manifest_of(FILES)
ACME_FILES = [entry("mine.bin", b"acme's own"), entry("z/stolen.bin", b"uni secret weights")]


def front_run_directory(driver: Driver, how: str) -> None:
    """acme front-runs uni's directory publication (which lists FILES) in one of three ways."""
    if how == "the-directory":
        driver.ok("acme-pub", directory("acme/copy", "front", FILES))
    elif how == "one-file":
        size = FILES[1].size
        driver.ok(
            "acme-pub",
            publish("acme/copy", "front", weights_digest=FILES[1].digest, size_bytes=size),
        )
    elif how == "its-own-manifest":
        driver.ok("acme-pub", directory("acme/copy", "front", ACME_FILES))


@pytest.mark.parametrize("how", ["the-directory", "one-file", "its-own-manifest"])
def test_a_directory_claim_takes_back_its_files(chain: Driver, how: str) -> None:
    chain.ok("uni-pub", claim_of(DIRECTORY, "uni"))
    front_run_directory(chain, how)
    expect(chain.run("uni-pub", directory(MODEL, "2.0", FILES)), errors.DIGEST_HELD)
    chain.ok("uni-pub", directory(MODEL, "2.0", FILES, claim_salt=salt("s")))
    for blob in (DIRECTORY, *(f.digest for f in FILES)):
        assert holder(chain, blob).org == "uni", blob
    known = state_pb2.Manifest.FromString(
        chain.query("/models/manifest", {"digest": DIRECTORY}).value
    )
    assert (known.org, known.ref) == ("uni", f"{MODEL}@2.0")
    granted = read(chain, "uni-pub", DIRECTORY, "shards/a.bin", uploader="uni")
    assert granted.allowed and granted.blob_holder == "uni"
    if how == "the-directory":
        assert read(chain, "acme-pub", DIRECTORY, "shards/a.bin").rule == "not_granted"
    elif how == "one-file":
        displaced = read(chain, "acme-pub", FILES[1].digest)  # no other version names the file
        assert (displaced.allowed, displaced.rule) == (False, "displaced")
        error = (displaced.codespace, displaced.code)
        assert error == (errors.DISPLACED.codespace, errors.DISPLACED.code)
        assert "acme/copy@front was published by acme" in displaced.reason
        assert keys.holder_key(FILES[1].digest) in displaced.keys
        assert keys.consent_key(FILES[1].digest, "acme") in displaced.keys
        assert_proven(chain, displaced)
    else:
        theirs = manifest_of(ACME_FILES)
        refused = read(chain, "acme-pub", theirs, "z/stolen.bin")
        assert (refused.allowed, refused.rule) == (False, "displaced"), refused.reason
        assert "acme listed 'z/stolen.bin'" in refused.reason
        assert_proven(chain, refused)
        assert read(chain, "acme-pub", theirs, "mine.bin").allowed  # its own file stays its own


def test_a_file_held_before_the_claim_is_not_taken(chain: Driver) -> None:
    chain.ok(
        "acme-pub",
        publish("acme/copy", "1", weights_digest=FILES[0].digest, size_bytes=FILES[0].size),
    )
    chain.ok("uni-pub", claim_of(DIRECTORY, "uni"))
    published = chain.run("uni-pub", directory(MODEL, "2.0", FILES, claim_salt=salt("s")))
    expect(published, errors.DIGEST_HELD)
    assert FILES[0].digest in published.log and holder(chain, FILES[0].digest).org == "acme"


# --- stateless kinds: commitments and salts --------------------------------------------------

SIZES = {
    "empty": b"",
    "one-byte": b"\x01",
    "31-bytes": b"\x02" * 31,
    "33-bytes": b"\x03" * 33,
    "huge": b"\x04" * 4096,
}


@pytest.mark.parametrize(
    "commitments",
    [
        pytest.param([], id="none"),
        pytest.param([bytes([i]) * 32 for i in range(claims.MAX_PER_MESSAGE + 1)], id="too-many"),
        pytest.param([b"\x05" * 32, b"\x05" * 32], id="duplicate"),
        *(pytest.param([b"\x06" * 32, raw], id=kind) for kind, raw in SIZES.items()),
    ],
)
def test_malformed_claims_are_refused(chain: Driver, commitments: list[bytes]) -> None:
    expect(chain.run("uni-pub", claim(*commitments)), errors.INVALID_CLAIM)
    assert chain.query("/store", data=keys.claim_count_key("uni")).value == b""


@pytest.mark.parametrize("size", [1, 16, 31, 33, 64, 4096])
def test_salts_that_are_not_32_bytes_are_refused(chain: Driver, size: int) -> None:
    bad = publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=b"\x07" * size)
    expect(chain.run("uni-pub", bad), errors.INVALID_CLAIM)


def test_a_full_message_of_claims_is_accepted_and_pays_per_claim(chain: Driver) -> None:
    one = chain.ok("uni-pub", claim(b"\xff" * 32)).gas_used
    full = [bytes([i]) * 32 for i in range(claims.MAX_PER_MESSAGE)]
    many = chain.ok("uni-pub", claim(*full)).gas_used
    assert many - one == (claims.MAX_PER_MESSAGE - 1) * claims.GAS_PER_CLAIM
    assert claims.ClaimsReader(chain.store).count("uni") == claims.MAX_PER_MESSAGE + 1


# --- spam: bounded per organisation ----------------------------------------------------------


def test_open_claims_are_bounded_per_organisation(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "MAX_OPEN", 4)
    chain.ok("acme-pub", claim(*(bytes([i]) * 32 for i in range(3))))
    spam = chain.run("acme-pub", claim(b"\x10" * 32, b"\x11" * 32))
    expect(spam, errors.TOO_MANY_CLAIMS)
    chain.ok("uni-pub", claim(*(bytes([i]) * 32 for i in range(4))))  # another org's own budget
    chain.ok("acme-pub", claim_of(STOLEN, "acme"))
    expect(chain.run("acme-pub", claim(b"\x12" * 32)), errors.TOO_MANY_CLAIMS)
    chain.ok("acme-pub", publish("acme/copy", "1", weights_digest=STOLEN, claim_salt=salt("s")))
    chain.ok("acme-pub", claim(b"\x12" * 32))  # a revealed claim frees its place


def test_expired_claims_are_pruned_and_free_their_place(
    chain: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "MAX_OPEN", 4)
    monkeypatch.setattr(claims, "TTL_BLOCKS", 3)
    chain.ok("acme-pub", claim(*(bytes([i]) * 32 for i in range(4))))
    chain.block([])
    chain.block([])
    chain.ok("acme-pub", claim(*(bytes([i]) * 32 for i in range(4))))  # the same ones, again
    assert claims.ClaimsReader(chain.store).count("acme") == 4
    stored = list(chain.store.iterate(keys.claim_expiry_prefix("acme")))
    assert len(stored) == 4


def test_the_same_commitment_twice_is_refused(chain: Driver) -> None:
    chain.ok("uni-pub", claim(b"\x20" * 32))
    expect(chain.run("uni-pub", claim(b"\x20" * 32)), errors.CLAIM_EXISTS)
    expect(chain.run("uni-pub", claim(b"\x21" * 32), claim(b"\x21" * 32)), errors.CLAIM_EXISTS)


def test_only_publishers_claim(chain: Driver) -> None:
    expect(chain.run("acme-user", claim(b"\x22" * 32)), MISSING_ROLE)


# --- membership ------------------------------------------------------------------------------


def govern(driver: Driver, action: tx_pb2.ProposalAction) -> None:
    """uni proposes and votes yes; the proposal passes when its period ends."""
    submit = tx_pb2.SubmitProposal(action=action, title="t")
    driver.ok("uni-admin", tx_pb2.Msg(submit_proposal=submit))
    page = state_pb2.Page.FromString(driver.query("/members/proposals", {"limit": 200}).value)
    proposal_id = state_pb2.Proposal.FromString(page.items[-1]).id
    driver.ok(
        "uni-admin", tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=YES))
    )
    for _ in range(8):
        found = state_pb2.Proposal.FromString(
            driver.query("/members/proposal", {"id": proposal_id}).value
        )
        if found.status != state_pb2.PROPOSAL_STATUS_VOTING:
            break
        driver.block([])
    assert found.status == state_pb2.PROPOSAL_STATUS_PASSED, found.result


def test_a_removed_front_runners_holding_is_taken_back(chain: Driver) -> None:
    chain.ok("uni-pub", claim_of(STOLEN, "uni"))
    front_run(chain)
    govern(chain, tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="acme")))
    chain.ok("uni-pub", publish(MODEL, "2.0", weights_digest=STOLEN, claim_salt=salt("s")))
    assert holder(chain, STOLEN).taken_from == "acme"


def test_a_removed_org_cannot_claim_and_its_id_keeps_its_claims(chain: Driver) -> None:
    chain.ok("acme-pub", claim_of(STOLEN, "acme"))
    govern(chain, tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="acme")))
    expect(chain.run("acme-pub", claim(b"\x30" * 32)), UNKNOWN_SENDER)  # its accounts are gone
    returning = make_account("acme-back", "acme", "publisher")
    chain.accounts["acme-back"] = returning
    spec = tx_pb2.AccountSpec(name="acme-back", pubkey=returning.pubkey, roles=["publisher"])
    add = tx_pb2.AddOrg(id="acme", name="Acme Corp", kind="commercial", accounts=[spec])
    govern(chain, tx_pb2.ProposalAction(add_org=add))
    chain.ok("acme-back", publish("acme/copy", "1", weights_digest=STOLEN, claim_salt=salt("s")))
    assert holder(chain, STOLEN).claim_height > 0


# --- the claim query -------------------------------------------------------------------------


def test_a_claim_can_be_read_and_proven(chain: Driver) -> None:
    made = claims.commitment(STOLEN, "uni", salt("s"))
    chain.ok("uni-pub", claim(made))
    answer = chain.query("/models/claim", {"org": "uni", "commitment": made.hex()}, prove=True)
    found = state_pb2.DigestClaim.FromString(answer.value)
    assert (found.org, found.commitment, found.height) == ("uni", made, chain.height)
    assert found.expires_height == chain.height + claims.TTL_BLOCKS
    proof = Proof.decode(answer.proof_ops.ops[0].data)
    assert verify_proof(chain.store.root, keys.claim_key("uni", made), answer.value, proof)
    assert chain.query("/models/claim", {"org": "acme", "commitment": made.hex()}).code != 0
    for bad in (made.hex().upper(), made.hex()[:-1], made.hex() + "0", "zz" * 32):
        assert chain.query("/models/claim", {"org": "uni", "commitment": bad}).code != 0


def test_the_commitment_binds_digest_org_and_salt() -> None:
    base = claims.commitment(STOLEN, "uni", salt("s"))
    assert len(base) == 32
    expected = hashlib.sha256(
        b"modelgov/claim/v1\x00" + STOLEN.encode() + b"\x00uni\x00" + salt("s")
    ).digest()
    assert base == expected
    others = [
        claims.commitment(digest("x"), "uni", salt("s")),
        claims.commitment(STOLEN, "acme", salt("s")),
        claims.commitment(STOLEN, "uni", salt("t")),
    ]
    assert base not in others
