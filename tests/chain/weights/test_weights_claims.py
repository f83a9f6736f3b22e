"""Claim before publishing, on the client: push claims a digest nobody holds (one block), reveals
the salt in its publication, and keeps the salt on disk only until the version is published, so a
rerun after an interruption reveals the same, older claim."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.models import claims as rules
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.client import ClientError, TxOutcome
from chain.keys import Key
from chain.weights.claims import SaltFile, claim_for_publish, default_state_dir
from chain.weights.client import _publish

DIGEST = "sha256:" + hashlib.sha256(b"fresh weights").hexdigest()
KEY = Key("uni-pub", hashlib.sha256(b"claims test key").digest())


@dataclass
class FakeNode:
    """A node whose holders and claims the test sets; sending a claim records it at the next
    height, sending a publication consumes the claim it reveals (or fails when told to)."""

    chain_id: str = "test-chain"
    at: int = 10
    holders: dict[str, str] = field(default_factory=dict)
    stored: dict[tuple[str, bytes], state_pb2.DigestClaim] = field(default_factory=dict)
    sent: list[tx_pb2.Msg] = field(default_factory=list)
    fail_publish: bool = False

    def height(self) -> int:
        return self.at

    def holder(self, digest: str) -> state_pb2.DigestHolder | None:
        org = self.holders.get(digest)
        return None if org is None else state_pb2.DigestHolder(digest=digest, org=org)

    def claim(self, org: str, commitment: bytes) -> state_pb2.DigestClaim | None:
        return self.stored.get((org, commitment))

    def send(self, key: Key, msgs: list[tx_pb2.Msg], memo: str = "") -> TxOutcome:
        self.at += 1
        self.sent.extend(msgs)
        for msg in msgs:
            if msg.WhichOneof("sum") == "claim_digests":
                for made in msg.claim_digests.commitments:
                    expires = self.at + rules.TTL_BLOCKS
                    self.stored[("uni", made)] = state_pb2.DigestClaim(
                        org="uni", commitment=made, height=self.at, expires_height=expires
                    )
            elif self.fail_publish:
                raise ClientError("tx failed in block: digest_held", 17, "models")
        return TxOutcome("00", self.at, 0, "", "", [])


def publish_msg() -> tx_pb2.Msg:
    body = tx_pb2.PublishVersion(model="uni/base", version="2.0", weights_digest=DIGEST)
    return tx_pb2.Msg(publish_version=body)


def kinds(node: FakeNode) -> list[str]:
    return [str(m.WhichOneof("sum")) for m in node.sent]


def test_a_digest_nobody_holds_is_claimed_in_its_own_block_first(tmp_path: Path) -> None:
    node, steps = FakeNode(), list[str]()
    saved = SaltFile(tmp_path, node.chain_id, "uni", DIGEST)
    salt = claim_for_publish(node, KEY, "uni", DIGEST, saved, steps.append)
    assert len(salt) == rules.SALT_BYTES and kinds(node) == ["claim_digests"]
    assert list(node.sent[0].claim_digests.commitments) == [rules.commitment(DIGEST, "uni", salt)]
    assert saved.load() == salt
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    assert steps == [f"claiming {DIGEST} (one block)...", "claimed at height 11"]


def test_each_claim_draws_a_new_salt() -> None:
    first = claim_for_publish(FakeNode(), KEY, "uni", DIGEST)
    second = claim_for_publish(FakeNode(), KEY, "uni", DIGEST)
    assert first != second


@pytest.mark.parametrize(("holder", "says"), [("uni", ""), ("acme", "held by acme")])
def test_a_held_digest_needs_no_claim(tmp_path: Path, holder: str, says: str) -> None:
    node, steps = FakeNode(holders={DIGEST: holder}), list[str]()
    saved = SaltFile(tmp_path, node.chain_id, "uni", DIGEST)
    saved.save(b"\x01" * 32)  # a stale salt whose claim is gone
    assert claim_for_publish(node, KEY, "uni", DIGEST, saved, steps.append) == b""
    assert node.sent == [] and not saved.path.exists()
    assert says in " ".join(steps) and (says or not steps)


def test_a_rerun_reveals_the_saved_open_claim_even_after_a_front_run(tmp_path: Path) -> None:
    node = FakeNode()
    saved = SaltFile(tmp_path, node.chain_id, "uni", DIGEST)
    salt = claim_for_publish(node, KEY, "uni", DIGEST, saved)
    node.holders[DIGEST] = "acme"  # the publication was seen, front-run, and never committed
    again = FakeNode(holders=node.holders, stored=node.stored, at=node.at + 5)
    assert claim_for_publish(again, KEY, "uni", DIGEST, saved) == salt
    assert again.sent == []


def test_an_expired_saved_claim_is_replaced(tmp_path: Path) -> None:
    node = FakeNode()
    saved = SaltFile(tmp_path, node.chain_id, "uni", DIGEST)
    old = claim_for_publish(node, KEY, "uni", DIGEST, saved)
    node.at += rules.TTL_BLOCKS
    new = claim_for_publish(node, KEY, "uni", DIGEST, saved)
    assert new != old and saved.load() == new and kinds(node) == ["claim_digests"] * 2


def test_without_a_state_dir_the_salt_stays_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELGOV_HOME", str(tmp_path))
    node = FakeNode()
    msg = publish_msg()
    _publish(node, KEY, [msg], "uni", None, None)
    assert kinds(node) == ["claim_digests", "publish_version"]
    assert len(node.sent[1].publish_version.claim_salt) == rules.SALT_BYTES
    assert list(tmp_path.iterdir()) == []
    assert default_state_dir() == tmp_path / "claims"


def test_a_published_version_forgets_its_salt_and_a_failed_one_keeps_it(tmp_path: Path) -> None:
    node = FakeNode(fail_publish=True)
    saved = SaltFile(tmp_path, node.chain_id, "uni", DIGEST)
    with pytest.raises(ClientError, match="run push again") as failed:
        _publish(node, KEY, [publish_msg()], "uni", tmp_path, None)
    assert (failed.value.codespace, failed.value.code) == ("models", 17)
    kept = saved.load()
    assert kept is not None
    node.fail_publish = False
    steps: list[str] = []
    _publish(node, KEY, [publish_msg()], "uni", tmp_path, steps.append)
    assert node.sent[-1].publish_version.claim_salt == kept  # the same claim, revealed
    assert not saved.path.exists()
    assert steps[-2:] == [
        "publishing uni/base@2.0 (publish_version: one transaction)...",
        f"published at height {node.at}  tx 00",
    ]


@pytest.mark.parametrize("content", ["", "zz", "01" * 31, "01" * 33, "\x00"])
def test_a_damaged_salt_file_is_no_salt(tmp_path: Path, content: str) -> None:
    saved = SaltFile(tmp_path, "c", "uni", DIGEST)
    saved.path.parent.mkdir(parents=True)
    saved.path.write_text(content)
    assert saved.load() is None


def test_salt_file_names_stay_in_the_state_dir(tmp_path: Path) -> None:
    saved = SaltFile(tmp_path, "../../etc", "../uni", DIGEST)
    assert saved.path.parent.parent == tmp_path
    assert ".." not in saved.path.relative_to(tmp_path).parts
