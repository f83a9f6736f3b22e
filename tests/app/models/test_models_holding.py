"""Digest holding: the first organisation to publish a blob holds it; naming it in another
organisation's version needs a redistribution receipt of the holder; a directory's listed files
are rebuilt into its manifest on chain and held file by file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, digest, licensed, publish, register, set_status, started

from app.core.errors import ErrorCode, TxError
from app.core.valuemap import from_data
from app.models import errors
from app.models.manifest import MAX_FILES, MAX_PATH_BYTES, check_files
from app.pb.modelgov.v1 import state_pb2, tx_pb2

REDISTRIBUTE = """
def authorize(ctx):
    if ctx.purpose == "redistribution":
        return allow(fee=3, note="redistribution under our terms")
    return deny("only redistribution is licensed")
"""


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(path: str, content: bytes) -> tx_pb2.ManifestFile:
    return tx_pb2.ManifestFile(path=path, size=len(content), digest=sha(content))


def manifest_of(files: list[tx_pb2.ManifestFile]) -> bytes:
    lines = [b"modelgov-manifest-v1\n"]
    lines += [f"{f.digest[7:]} {f.size} {f.path}\n".encode() for f in files]
    return b"".join(lines)


def directory(model: str, version: str, files: list[tx_pb2.ManifestFile], **extra: Any) -> Any:
    """A PublishVersion of a directory listing ``files`` (digest and size made to match)."""
    fields: dict[str, Any] = {
        "weights_digest": sha(manifest_of(files)),
        "size_bytes": sum(f.size for f in files),
        "files": files,
    }
    fields.update(extra)
    return publish(model, version, **fields)


def holder(driver: Driver, weights: str) -> state_pb2.DigestHolder:
    answer = driver.query("/models/holder", {"digest": weights})
    assert answer.code == 0, answer.log
    return state_pb2.DigestHolder.FromString(answer.value)


UNI_FILES = [entry("config.json", b"{}"), entry("shards/a.safetensors", b"uni weights A")]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Driver]:
    driver = started(tmp_path)
    driver.ok("uni-pub", register("uni", "base"), publish("uni/base", "1.0"))
    driver.ok("uni-pub", directory("uni/base", "2.0", UNI_FILES))
    driver.ok("acme-pub", register("acme", "copy"))
    yield driver
    driver.close()


def test_the_first_publisher_holds_the_digest(chain: Driver) -> None:
    found = holder(chain, digest("uni/base@1.0"))
    assert (found.org, found.ref, found.manifest) == ("uni", "uni/base@1.0", "")
    chain.ok("uni-pub", publish("uni/base", "1.1", weights_digest=digest("uni/base@1.0")))
    assert holder(chain, digest("uni/base@1.0")).ref == "uni/base@1.0"


def test_another_org_naming_a_held_digest_is_refused(chain: Driver) -> None:
    squat = publish("acme/copy", "1", weights_digest=digest("uni/base@1.0"))
    result = chain.run("acme-pub", squat)
    expect(result, errors.DIGEST_HELD)
    assert "held by uni" in result.log
    assert chain.query("/models/version", {"model": "acme/copy", "version": "1"}).code != 0


RENAMED = tx_pb2.ManifestFile(path="z/renamed", size=13, digest=UNI_FILES[1].digest)


@pytest.mark.parametrize(
    "files",
    [
        pytest.param([UNI_FILES[1]], id="a-file-of-a-held-manifest"),
        pytest.param([entry("mine.bin", b"acme"), RENAMED], id="the-same-file-renamed"),
    ],
)
def test_a_manifest_listing_a_held_file_is_refused(
    chain: Driver, files: list[tx_pb2.ManifestFile]
) -> None:
    result = chain.run("acme-pub", directory("acme/copy", "1", files))
    expect(result, errors.DIGEST_HELD)
    assert UNI_FILES[1].digest in result.log


def test_a_single_file_version_naming_a_held_file_is_refused(chain: Driver) -> None:
    squat = publish("acme/copy", "1", weights_digest=UNI_FILES[1].digest, size_bytes=13)
    expect(chain.run("acme-pub", squat), errors.DIGEST_HELD)
    assert holder(chain, UNI_FILES[1].digest).manifest == sha(manifest_of(UNI_FILES))


def test_a_held_manifest_named_without_files_is_refused_too(chain: Driver) -> None:
    squat = publish("acme/copy", "1", weights_digest=sha(manifest_of(UNI_FILES)))
    expect(chain.run("acme-pub", squat), errors.DIGEST_HELD)


def test_the_chain_learns_a_directorys_files(chain: Driver) -> None:
    weights = sha(manifest_of(UNI_FILES))
    known = state_pb2.Manifest.FromString(
        chain.query("/models/manifest", {"digest": weights}).value
    )
    assert (known.files, known.size, known.ref) == (2, 15, "uni/base@2.0")
    page = state_pb2.Page.FromString(
        chain.query("/models/files", {"digest": weights, "limit": 1}).value
    )
    first = tx_pb2.ManifestFile.FromString(page.items[0])
    rest = state_pb2.Page.FromString(
        chain.query("/models/files", {"digest": weights, "after": page.next}).value
    )
    listed = [first, *map(tx_pb2.ManifestFile.FromString, rest.items)]
    assert listed == UNI_FILES


def _redistribution_receipt(chain: Driver, version: str = "2.0") -> int:
    deploy = tx_pb2.DeployLicense(name="redistribute", source=REDISTRIBUTE, params=from_data({}))
    chain.ok("uni-pub", tx_pb2.Msg(deploy_license=deploy))
    attach = tx_pb2.AttachLicense(model="uni/base", version=version, license="uni/redistribute")
    chain.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
    use = tx_pb2.Use(
        model="uni/base", version=version, purpose="redistribution", quantity=1, max_fee=3
    )
    chain.ok("acme-user", tx_pb2.Msg(use=use))
    page = state_pb2.Page.FromString(chain.query("/usage/receipts", {"consumer_org": "acme"}).value)
    return state_pb2.Receipt.FromString(page.items[-1]).id


def test_a_holders_redistribution_receipt_is_its_consent(chain: Driver) -> None:
    receipt = _redistribution_receipt(chain)
    with_files = directory("acme/copy", "1", UNI_FILES, consent_receipts=[receipt])
    chain.ok("acme-pub", with_files)
    one_file = [UNI_FILES[1]]
    chain.ok("acme-pub", directory("acme/copy", "2", one_file, consent_receipts=[receipt]))
    assert holder(chain, UNI_FILES[1].digest).org == "uni"  # consent never moves the holding


@pytest.mark.parametrize(
    "case",
    ["unknown-receipt", "another-orgs-receipt", "not-redistribution", "another-digest", "revoked"],
)
def test_consent_that_does_not_cover_the_digest_is_refused(chain: Driver, case: str) -> None:
    receipt = _redistribution_receipt(chain)
    weights = sha(manifest_of(UNI_FILES))
    error = errors.BAD_CONSENT
    if case == "unknown-receipt":
        receipt += 100
    elif case == "another-orgs-receipt":
        chain.ok("openml-pub", register("openml", "copy"))
        result = chain.run(
            "openml-pub",
            publish("openml/copy", "1", weights_digest=weights, consent_receipts=[receipt]),
        )
        expect(result, error)
        return
    elif case == "not-redistribution":
        free = tx_pb2.DeployLicense(
            name="free", source="def authorize(ctx):\n    return allow(fee=0)\n"
        )
        chain.ok("uni-pub", tx_pb2.Msg(deploy_license=free))
        attach = tx_pb2.AttachLicense(model="uni/base", version="1.0", license="uni/free")
        chain.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
        use = tx_pb2.Use(model="uni/base", version="1.0", purpose="download", quantity=1)
        chain.ok("acme-user", tx_pb2.Msg(use=use))
        receipt += 1
    elif case == "another-digest":
        weights = digest("uni/base@1.0")  # the receipt is for 2.0's weights
        error = errors.DIGEST_HELD
    elif case == "revoked":
        chain.ok("uni-pub", set_status("uni/base", "2.0", tx_pb2.VERSION_STATUS_REVOKED))
    result = chain.run(
        "acme-pub", publish("acme/copy", "1", weights_digest=weights, consent_receipts=[receipt])
    )
    expect(result, error)


def test_too_many_consent_receipts_are_refused(chain: Driver) -> None:
    flood = publish("acme/copy", "1", consent_receipts=list(range(1, 18)))
    expect(chain.run("acme-pub", flood), errors.BAD_CONSENT)


def test_a_round_update_naming_a_held_digest_is_refused(chain: Driver) -> None:
    open_round = tx_pb2.OpenRound(
        base_model="uni/base",
        base_version="1.0",
        target_model="uni/base",
        target_version="3.0",
        invited_orgs=["acme", "uni"],
        min_participants=1,
        deadline_height=100,
    )
    chain.ok("uni-pub", tx_pb2.Msg(open_round=open_round))
    submit = tx_pb2.SubmitUpdate(
        round_id=1, update_digest=digest("uni/base@1.0"), size_bytes=10, sample_count=5
    )
    expect(chain.run("acme-pub", tx_pb2.Msg(submit_update=submit)), errors.DIGEST_HELD)
    submit.update_digest = digest("acme's own update")
    chain.ok("acme-pub", tx_pb2.Msg(submit_update=submit))
    assert holder(chain, digest("acme's own update")).org == "acme"


GOOD = [entry("a", b"1"), entry("b/c", b"2")]


def _bad(kind: str) -> tuple[list[tx_pb2.ManifestFile], dict[str, Any]]:
    """Files and PublishVersion overrides that are wrong in one way."""
    files = [tx_pb2.ManifestFile(path=f.path, size=f.size, digest=f.digest) for f in GOOD]
    extra: dict[str, Any] = {}
    if kind == "out-of-order":
        files.reverse()
    elif kind == "twice":
        files = [files[0], files[0]]
    elif kind == "file-under-file":
        files = [entry("b", b"x"), entry("b/c", b"2")]
    elif kind in PATHS:
        files = [entry(PATHS[kind], b"1")]
    elif kind == "bad-file-digest":
        files[0].digest = "sha256:" + "0" * 63
    elif kind == "size-mismatch":
        extra["size_bytes"] = 3
    elif kind == "wrong-digest":
        extra["weights_digest"] = digest("not the manifest")
    elif kind == "huge-file":
        files[0].size = 2**63
    return files, extra


PATHS = {
    "empty-path": "",
    "absolute": "/etc/passwd",
    "dot": "./a",
    "dotdot": "a/../b",
    "empty-part": "a//b",
    "trailing-slash": "a/",
    "backslash": "a\\b",
    "nul": "a\x00b",
    "newline": "a\nb",
    "carriage-return": "a\rb",
    "too-long": "x" * (MAX_PATH_BYTES + 1),
}
KINDS = [
    "out-of-order",
    "twice",
    "file-under-file",
    *PATHS,
    "bad-file-digest",
    "size-mismatch",
    "wrong-digest",
    "huge-file",
]


@pytest.mark.parametrize("kind", KINDS)
def test_files_that_do_not_make_the_manifest_are_refused(chain: Driver, kind: str) -> None:
    files, extra = _bad(kind)
    fields: dict[str, Any] = {
        "weights_digest": sha(manifest_of(files)),
        "size_bytes": max(1, sum(f.size for f in files)),
        "files": files,
        **extra,
    }
    expect(chain.run("acme-pub", publish("acme/copy", "1", **fields)), errors.BAD_MANIFEST)


def test_more_than_max_files_is_refused_before_any_hashing() -> None:
    files = [entry(f"f{i:05d}", b"") for i in range(MAX_FILES + 1)]
    with pytest.raises(TxError) as refused:
        check_files(files, sha(manifest_of(files)), 0)
    assert refused.value.error == errors.BAD_MANIFEST and "at most" in refused.value.detail
    check_files(files[:MAX_FILES], sha(manifest_of(files[:MAX_FILES])), 0)


def test_non_ascii_paths_are_ordered_by_their_utf8_bytes(chain: Driver) -> None:
    files = [entry("z.bin", b"1"), entry("\u00e9.bin", b"2"), entry("\U0001f600.bin", b"3")]
    chain.ok("acme-pub", directory("acme/copy", "1", files))
    expect(
        chain.run("acme-pub", directory("acme/copy", "2", [files[1], files[0]])),
        errors.BAD_MANIFEST,
    )


def _round_with_one_update(chain: Driver) -> None:
    """uni opens round 1 into uni/base@3.0; acme submits an update."""
    opened = tx_pb2.OpenRound(
        base_model="uni/base",
        base_version="1.0",
        target_model="uni/base",
        target_version="3.0",
        invited_orgs=["acme"],
        min_participants=1,
        deadline_height=100,
    )
    chain.ok("uni-pub", tx_pb2.Msg(open_round=opened))
    submit = tx_pb2.SubmitUpdate(
        round_id=1, update_digest=digest("acme update"), size_bytes=10, sample_count=5
    )
    chain.ok("acme-pub", tx_pb2.Msg(submit_update=submit))


def test_the_aggregate_of_a_single_update_may_repeat_its_bytes(chain: Driver) -> None:
    _round_with_one_update(chain)
    final = tx_pb2.FinalizeRound(
        round_id=1, aggregate_digest=digest("acme update"), size_bytes=10, included=["acme"]
    )
    chain.ok("uni-pub", tx_pb2.Msg(finalize_round=final))
    assert holder(chain, digest("acme update")).org == "acme"
    consent = chain.query("/models/consent", {"digest": digest("acme update"), "org": "uni"})
    assert consent.code == 0  # uni may serve its copy of the aggregate


def test_a_parent_in_another_orgs_model_is_no_consent(chain: Driver) -> None:
    """Not even with the fine-tune receipt that deriving from it needs (issue 13)."""
    receipts = licensed(chain, "uni-pub", "acme-user", ["uni/base@1.0"])
    squat = publish(
        "acme/copy",
        "1",
        weights_digest=digest("uni/base@1.0"),
        parents=["uni/base@1.0"],
        license_receipts=receipts,
    )
    expect(chain.run("acme-pub", squat), errors.DIGEST_HELD)


def test_a_removed_holders_old_consent_no_longer_counts(chain: Driver) -> None:
    receipt = _redistribution_receipt(chain)
    remove = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="uni"))
    chain.ok(
        "acme-admin", tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=remove, title="t"))
    )
    for admin in ("acme-admin", "uni-admin"):
        vote = tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES)
        chain.ok(admin, tx_pb2.Msg(cast_vote=vote))
    assert chain.query("/members/org", {"id": "uni"}).code != 0
    again = directory("acme/copy", "1", UNI_FILES, consent_receipts=[receipt])
    expect(chain.run("acme-pub", again), errors.DIGEST_HELD)


def test_the_largest_file_list_is_checked_in_linear_time() -> None:
    """4096 paths of ~1000 bytes with ~500 slashes each: the directory checks cost the list's
    length once (a prefix lookup per slash would cost its square)."""
    import time

    deep = "d/" * 495
    files = [entry(f"{deep}f{i:05d}", b"") for i in range(MAX_FILES)]
    began = time.perf_counter()
    check_files(files, sha(manifest_of(files)), 0)
    assert time.perf_counter() - began < 3
