"""Every message kind's events, pinned: their types and attributes are what clients and indexers
subscribe to, so moving code between modules must not change one of them.

One chain walks through every message kind in turn (and the end-of-block decisions); each step
names the events its transaction (or block) must emit, in order, attribute by attribute.
``ANY`` stands for a value the step cannot know in advance (a code hash, a gas count).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from driver import Driver, digest, publish, register, set_status, started, transfer

from app.core.valuemap import from_data
from app.machine import message_kinds
from app.models import claims
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci

ANY = object()
"""An attribute whose value the test does not pin (its key and place still are)."""
MODEL = "uni/base"
PRICED = """
def authorize(ctx):
    return allow(fee=ctx.quantity * ctx.params["price"], note="paid per unit")
"""
SALT = b"\x05" * claims.SALT_BYTES
Shape = list[tuple[str, list[tuple[str, Any]]]]


def shape(events: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """(type, [(key, value)]) of ABCI events, in order."""
    return [(e.type, [(a.key, a.value) for a in e.attributes]) for e in events]


def matches(events: Any, expected: Shape) -> bool:
    """Whether ``events`` have exactly the expected types, keys and (unless ANY) values."""
    got = shape(events)
    if [(t, [k for k, _ in attrs]) for t, attrs in got] != [
        (t, [k for k, _ in attrs]) for t, attrs in expected
    ]:
        return False
    pairs = [
        (value, want)
        for (_, attrs), (_, wanted) in zip(got, expected, strict=True)
        for (_, value), (_, want) in zip(attrs, wanted, strict=True)
    ]
    return all(want is ANY or value == want for value, want in pairs)


def msg(**kind: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(**kind)


def published(version: str, ref_digest: str) -> tuple[str, list[tuple[str, Any]]]:
    return (
        "model.version_published",
        [
            ("model", MODEL),
            ("version", version),
            ("ref", f"{MODEL}@{version}"),
            ("digest", ref_digest),
        ],
    )


def attached(version: str) -> tuple[str, list[tuple[str, Any]]]:
    return ("license.attached", [("model", MODEL), ("version", version), ("license", "uni/ppu")])


STEPS: list[tuple[str, str, tx_pb2.Msg, Shape]] = [
    (
        "register_model",
        "uni-pub",
        register("uni", "base"),
        [("model.registered", [("model", MODEL), ("owner", "uni")])],
    ),
    (
        "publish_version",
        "uni-pub",
        publish(MODEL, "1.0"),
        [published("1.0", digest(f"{MODEL}@1.0"))],
    ),
    (
        "deploy_license",
        "uni-pub",
        msg(
            deploy_license=tx_pb2.DeployLicense(
                name="ppu", source=PRICED, params=from_data({"price": 7})
            )
        ),
        [("license.deployed", [("license", "uni/ppu"), ("code_hash", ANY)])],
    ),
    (
        "attach_license",
        "uni-pub",
        msg(attach_license=tx_pb2.AttachLicense(model=MODEL, version="1.0", license="uni/ppu")),
        [attached("1.0")],
    ),
    (
        "publish_version-with-license",
        "uni-pub",
        publish(MODEL, "1.1", license="uni/ppu"),
        [published("1.1", digest(f"{MODEL}@1.1")), attached("1.1")],
    ),
    (
        "set_alias",
        "uni-pub",
        msg(set_alias=tx_pb2.SetAlias(model=MODEL, alias="stable", version="1.0")),
        [("model.alias", [("model", MODEL), ("alias", "stable"), ("version", "1.0")])],
    ),
    (
        "set_default_license",
        "uni-pub",
        msg(set_default_license=tx_pb2.SetDefaultLicense(model=MODEL, license="uni/ppu")),
        [("model.default_license", [("model", MODEL), ("license", "uni/ppu")])],
    ),
    (
        "transfer_credits",
        "acme-admin",
        msg(transfer_credits=tx_pb2.TransferCredits(to_org="uni", amount=5)),
        [("credits.transfer", [("from", "acme"), ("to", "uni"), ("amount", "5")])],
    ),
    (
        "use",
        "acme-user",
        msg(use=tx_pb2.Use(model=MODEL, version="1.0", purpose="research", quantity=3, max_fee=21)),
        [
            (
                "usage.receipt",
                [
                    ("id", "1"),
                    ("model", MODEL),
                    ("version", "1.0"),
                    ("purpose", "research"),
                    ("fee", "21"),
                    ("licensor", "uni"),
                    ("consumer_org", "acme"),
                    ("gas", ANY),
                    ("paid", "uni:21"),
                ],
            ),
            (
                "credits.transfer",
                [("from", "acme"), ("to", "uni"), ("amount", "21"), ("reason", "use")],
            ),
        ],
    ),
    (
        "attest",
        "openml-audit",
        msg(attest=tx_pb2.Attest(model=MODEL, version="1.0", kind="evaluation", method="holdout")),
        [
            (
                "attestation.recorded",
                [
                    ("id", "1"),
                    ("model", MODEL),
                    ("version", "1.0"),
                    ("kind", "evaluation"),
                    ("org", "openml"),
                ],
            )
        ],
    ),
    (
        "claim_digests",
        "uni-pub",
        msg(
            claim_digests=tx_pb2.ClaimDigests(
                commitments=[claims.commitment(digest("claimed"), "uni", SALT)]
            )
        ),
        [("model.digests_claimed", [("org", "uni"), ("count", "1"), ("expires_height", ANY)])],
    ),
    (
        "announce_provider",
        "openml-audit",
        msg(
            announce_provider=tx_pb2.AnnounceProvider(
                digest=digest(f"{MODEL}@1.0"), url="http://127.0.0.1:26662"
            )
        ),
        [
            (
                "model.provider",
                [("digest", digest(f"{MODEL}@1.0")), ("url", "http://127.0.0.1:26662")],
            )
        ],
    ),
    (
        "set_version_status",
        "uni-pub",
        set_status(MODEL, "1.1", tx_pb2.VERSION_STATUS_DEPRECATED),
        [
            (
                "model.version_status",
                [("model", MODEL), ("version", "1.1"), ("status", "deprecated")],
            )
        ],
    ),
    (
        "open_round",
        "uni-pub",
        msg(
            open_round=tx_pb2.OpenRound(
                base_model=MODEL,
                base_version="1.0",
                target_model=MODEL,
                target_version="2.0",
                invited_orgs=["acme", "uni"],
                min_participants=1,
                deadline_height=1000,
            )
        ),
        [("federated.round_opened", [("id", "1"), ("base", f"{MODEL}@1.0")])],
    ),
    (
        "submit_update",
        "acme-pub",
        msg(
            submit_update=tx_pb2.SubmitUpdate(
                round_id=1, update_digest=digest("update"), size_bytes=10, sample_count=5
            )
        ),
        [("federated.update_submitted", [("round", "1"), ("ref", f"{MODEL}@2.0-update-acme")])],
    ),
    (
        "finalize_round",
        "uni-pub",
        msg(
            finalize_round=tx_pb2.FinalizeRound(
                round_id=1, aggregate_digest=digest("aggregate"), size_bytes=10, included=["acme"]
            )
        ),
        [("federated.round_finalized", [("id", "1"), ("ref", f"{MODEL}@2.0")])],
    ),
    (
        "submit_proposal",
        "uni-admin",
        msg(
            submit_proposal=tx_pb2.SubmitProposal(
                title="longer votes",
                action=tx_pb2.ProposalAction(
                    set_params=tx_pb2.SetParams(
                        changes=[tx_pb2.ParamChange(name="voting_period_blocks", value=50)]
                    )
                ),
            )
        ),
        [("gov.proposal", [("id", "1"), ("action", "set_params")])],
    ),
    (
        "cast_vote",
        "uni-admin",
        msg(cast_vote=tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES)),
        [("gov.vote", [("id", "1"), ("org", "uni"), ("option", "yes")])],
    ),
    (
        "list_model",
        "uni-admin",
        msg(list_model=tx_pb2.ListModel(model=MODEL, price=50)),
        [("market.listed", [("model", MODEL), ("seller", "uni"), ("price", "50")])],
    ),
    (
        "delist_model",
        "uni-admin",
        msg(delist_model=tx_pb2.DelistModel(model=MODEL)),
        [("market.delisted", [("model", MODEL), ("reason", "withdrawn")])],
    ),
    (
        "offer_lease",
        "uni-admin",
        msg(
            offer_lease=tx_pb2.OfferLease(
                model=MODEL,
                version="1.0",
                price_per_1000_blocks=1500,
                purposes=["inference", "research"],
                download=True,
            )
        ),
        [
            (
                "market.lease_offered",
                [
                    ("model", MODEL),
                    ("ref", f"{MODEL}@1.0"),
                    ("price_per_1000_blocks", "1500"),
                    ("purposes", "inference,research"),
                    ("download", "true"),
                ],
            )
        ],
    ),
    (
        "lease_version",
        "acme-admin",
        msg(
            lease_version=tx_pb2.LeaseVersion(
                model=MODEL, version="1.0", blocks=3, max_price=5, purposes=["inference"]
            )
        ),
        [
            (
                "market.leased",
                [
                    ("id", "1"),
                    ("model", MODEL),
                    ("ref", f"{MODEL}@1.0"),
                    ("renter", "acme"),
                    ("lessor", "uni"),
                    ("end_height", ANY),
                    ("paid", "5"),
                ],
            ),
            (
                "credits.transfer",
                [("from", "acme"), ("to", "uni"), ("amount", "5"), ("reason", "lease")],
            ),
        ],
    ),
    (
        "withdraw_lease_offer",
        "uni-admin",
        msg(withdraw_lease_offer=tx_pb2.WithdrawLeaseOffer(model=MODEL, version="1.0")),
        [
            (
                "market.lease_withdrawn",
                [("model", MODEL), ("ref", f"{MODEL}@1.0"), ("reason", "withdrawn")],
            )
        ],
    ),
    (
        "register_dataset",
        "uni-pub",
        msg(register_dataset=tx_pb2.RegisterDataset(owner_org="uni", name="data")),
        [("dataset.registered", [("dataset", "uni/data"), ("owner", "uni")])],
    ),
    (
        "publish_dataset",
        "uni-pub",
        msg(
            publish_dataset=tx_pb2.PublishDataset(
                dataset="uni/data",
                version="1",
                digest=digest("uni/data@1"),
                size_bytes=5,
                format="csv",
            )
        ),
        [
            (
                "dataset.version_published",
                [
                    ("dataset", "uni/data"),
                    ("version", "1"),
                    ("ref", "uni/data@1"),
                    ("digest", digest("uni/data@1")),
                ],
            )
        ],
    ),
    (
        "transfer_model",
        "uni-admin",
        transfer(MODEL, "acme"),
        [("model.transferred", [("model", MODEL), ("from", "uni"), ("to", "acme")])],
    ),
    (
        "list_model-by-new-owner",
        "acme-admin",
        msg(list_model=tx_pb2.ListModel(model=MODEL, price=40)),
        [("market.listed", [("model", MODEL), ("seller", "acme"), ("price", "40")])],
    ),
    (
        "buy_model",
        "uni-admin",
        msg(buy_model=tx_pb2.BuyModel(model=MODEL, max_price=40)),
        [
            (
                "market.sold",
                [("model", MODEL), ("seller", "acme"), ("buyer", "uni"), ("price", "40")],
            ),
            (
                "credits.transfer",
                [("from", "uni"), ("to", "acme"), ("amount", "40"), ("reason", "sale")],
            ),
            ("model.transferred", [("model", MODEL), ("from", "acme"), ("to", "uni")]),
            ("market.delisted", [("model", MODEL), ("reason", "owner changed")]),
        ],
    ),
    (
        "transfer_model-after-the-sale",
        "uni-admin",
        transfer(MODEL, "acme"),
        [("model.transferred", [("model", MODEL), ("from", "uni"), ("to", "acme")])],
    ),
]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Driver, dict[str, Any]]]:
    """The chain after every step, with each step's events (and the blocks' own)."""
    driver = started(tmp_path_factory.mktemp("events"))
    seen: dict[str, Any] = {}
    for name, account, message, _ in STEPS:
        seen[name] = driver.ok(account, message).events
    yield driver, seen
    driver.close()


@pytest.mark.parametrize(
    ("name", "expected"), [(s[0], s[3]) for s in STEPS], ids=[s[0] for s in STEPS]
)
def test_each_message_emits_its_events(
    walk: tuple[Driver, dict[str, Any]], name: str, expected: Shape
) -> None:
    _, seen = walk
    assert matches(seen[name], expected), shape(seen[name])


def test_every_routed_message_kind_is_walked() -> None:
    walked = {name.split("-")[0] for name, *_ in STEPS}
    assert walked == set(message_kinds())


def test_the_end_of_a_block_emits_decisions_and_expiries(
    walk: tuple[Driver, dict[str, Any]],
) -> None:
    driver, _ = walk
    vote = msg(cast_vote=tx_pb2.CastVote(proposal_id=1, option=tx_pb2.VOTE_OPTION_YES))
    decided: abci.ResponseFinalizeBlock = driver.block([driver.sign("acme-admin", [vote])])
    assert decided.tx_results[0].code == 0, decided.tx_results[0].log
    assert shape(decided.events) == [("gov.decided", [("id", "1"), ("status", "passed")])]
    deadline = driver.height + 2
    round_two = msg(
        open_round=tx_pb2.OpenRound(
            base_model=MODEL,
            base_version="1.0",
            target_model=MODEL,
            target_version="3.0",
            invited_orgs=["uni"],
            min_participants=1,
            deadline_height=deadline,
        )
    )
    driver.ok("acme-pub", round_two)  # acme owns uni/base since transfer_model
    expired = driver.block([])
    assert driver.height == deadline
    assert shape(expired.events) == [("federated.round_expired", [("id", "2")])]


def test_the_matcher_refuses_what_differs() -> None:
    event = abci.Event(type="t", attributes=[abci.EventAttribute(key="k", value="v")])
    assert matches([event], [("t", [("k", "v")])])
    assert matches([event], [("t", [("k", ANY)])])
    assert not matches([event], [("t", [("k", "w")])])
    assert not matches([event], [("u", [("k", "v")])])
    assert not matches([event], [("t", [("j", "v")])])
    assert not matches([event], [("t", [("k", "v"), ("l", "w")])])
    assert not matches([event, event], [("t", [("k", "v")])])
