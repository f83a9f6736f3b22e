"""A seeded generator of a long block sequence that exercises every message kind with hostile
values, written as a JSON file that the replayer runs under each Python.

The generator uses ``random`` (tests may; the app never). It keeps a rough model of the world
(which models, versions, licenses, rounds and proposals it asked for) so that most transactions
reach the state machine's deeper checks, and it draws hostile values (``xpy_values``) into every
text and integer field with some probability. Transactions are stored unsigned: a body is a
``head`` (chain id, sender) and a ``tail`` (messages, memo, sometimes junk) around the nonce,
and the replayer fills in the account's next nonce from its own state and signs. A refused
transaction therefore never shifts the nonces of everything after it, and the signed bytes are
the same under every Python as long as the states agree.

Feature tags name the known ways Pythons can disagree (``TAGS``); the generator emits a tagged
value only when the tag is enabled. ``scenario(tag)`` builds the minimal sequence that shows one
tag's divergence.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driver import app_state, make_account
from xpy_scripts import Script, ScriptMaker
from xpy_values import (
    FEE_OVERFLOW,
    GOV_TEXT,
    IDENTIFIER,
    LIMIT_SHRINK,
    NAMED_ESCAPE,
    RENDER,
    TAGS,
    Hostile,
)

from app.models.claims import commitment
from app.pb.modelgov.v1 import tx_pb2

CHAIN_ID = "modelgov-xpy"
ORG_IDS = ("uni", "acme", "openml")
GENESIS_TIME = 1_700_000_000
ROLES = ("admin", "publisher", "consumer", "auditor")
PARAMS = (
    "max_tx_bytes",
    "max_messages_per_tx",
    "max_description_bytes",
    "max_uris_per_version",
    "max_parents_per_version",
    "max_metrics_per_version",
    "max_datasets_per_version",
    "license_gas_limit",
    "license_memory_limit",
    "max_license_source_bytes",
    "vote_quorum_percent",
    "vote_threshold_percent",
    "voting_period_blocks",
)
DEFAULTS = {
    "max_tx_bytes": 65536,
    "max_messages_per_tx": 16,
    "max_description_bytes": 4096,
    "max_uris_per_version": 16,
    "max_parents_per_version": 16,
    "max_metrics_per_version": 64,
    "max_datasets_per_version": 16,
    "license_gas_limit": 200_000,
    "license_memory_limit": 1_000_000,
    "max_license_source_bytes": 16_384,
    "vote_quorum_percent": 50,
    "vote_threshold_percent": 66,
    "voting_period_blocks": 100,
}
BRICKING = {"max_tx_bytes": (1, 100, 300), "max_messages_per_tx": ()}
"""Values after which no later transaction can pass (only in the sequence's last blocks)."""
PURPOSES = (
    "research",
    "evaluation",
    "inference",
    "commercial-inference",
    "fine-tune",
    "redistribution",
    "download",
)


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def uvarint(value: int) -> bytes:
    """Protobuf's unsigned varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@dataclass
class TxSpec:
    """One transaction to sign at replay time (or raw bytes to send as they are)."""

    label: str
    account: str = ""
    kinds: tuple[str, ...] = ()
    head: bytes = b""
    tail: bytes = b""
    nonce: str = "next"  # next | replay | gap | zero
    signature: str = "good"  # good | high_s | flip | short | none | other_key
    envelope_junk: bytes = b""
    raw: bytes | None = None
    creates: str = ""  # a reference to the proposal or round this tx opens
    patch: tuple[str, str, str] | None = None  # (message kind, id field, reference) to fill in

    def to_json(self) -> dict[str, Any]:
        if self.raw is not None:
            return {"label": self.label, "kinds": [], "raw": self.raw.hex()}
        return {
            "label": self.label,
            "kinds": list(self.kinds),
            "account": self.account,
            "head": self.head.hex(),
            "tail": self.tail.hex(),
            "nonce": self.nonce,
            "signature": self.signature,
            "envelope_junk": self.envelope_junk.hex(),
            "creates": self.creates,
            "patch": list(self.patch) if self.patch else None,
        }


@dataclass
class Block:
    time: int
    txs: list[TxSpec] = field(default_factory=list)
    queries: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class Account:
    name: str
    org: str
    roles: tuple[str, ...]
    private_key: bytes
    pubkey: bytes
    address: str
    in_genesis: bool = True


def account(name: str, org: str, roles: tuple[str, ...], in_genesis: bool = True) -> Account:
    made = make_account(name, org, *roles)
    return Account(name, org, roles, made.private_key, made.pubkey, made.address, in_genesis)


def consortium() -> dict[str, Account]:
    """Five genesis accounts per organisation (one per role, one with every role), and the
    admin of the organisation governance may add."""
    accounts: dict[str, Account] = {}
    for org in ("uni", "acme", "openml"):
        for suffix, roles in (
            ("admin", ("admin",)),
            ("pub", ("publisher",)),
            ("user", ("consumer",)),
            ("audit", ("auditor",)),
            ("all", ROLES),
        ):
            accounts[f"{org}-{suffix}"] = account(f"{org}-{suffix}", org, roles)
    accounts["newco-admin"] = account("newco-admin", "newco", ROLES, in_genesis=False)
    return accounts


class Generator:
    """Builds the block sequence; ``enabled`` holds the feature tags that may appear."""

    def __init__(self, seed: int, enabled: frozenset[str]) -> None:
        self.rng = random.Random(seed)
        self.enabled = enabled
        self.scripts = ScriptMaker(self.rng, enabled)
        self.accounts = consortium()
        self.validators = [hashlib.sha256(f"validator-{i}".encode()).digest() for i in range(2)]
        # what the generator expects to exist (it cannot see results; most expectations hold)
        self.owner: dict[str, str] = {}  # model -> owner org
        self.published: list[tuple[str, str]] = []
        self.attached: list[tuple[str, str]] = []
        self.licenses: dict[str, list[str]] = {"uni": [], "acme": [], "openml": []}
        self.rounds: list[tuple[str, str, list[str]]] = []  # (reference, opener, invited)
        self.submitted: dict[str, list[str]] = {}  # round reference -> orgs sent a plain update
        self.opened = 0
        self.proposals = 0
        self.pending_votes: list[str] = []  # references of proposals to vote for
        self.note: dict[str, Any] = {}  # what the last message maker asks of its tx
        self.doomed = False  # whether the tx being made will get a hostile envelope
        self.restores: list[tuple[int, list[str]]] = []  # (at block, parameter names)
        self.blocks: list[Block] = []
        self.time = GENESIS_TIME
        self.counter = 0
        self.market_rng = random.Random(seed + 14)  # market txs leave the main draws alone
        self.listed: list[str] = []  # models the generator listed for sale (market)
        self.offered: list[tuple[str, str]] = []  # versions it offered for rent (market)

    # --- the sequence ---------------------------------------------------------------------

    def genesis(self) -> dict[str, Any]:
        """InitChain's chain id, time, app_state (with hostile org attributes) and validators."""
        values = Hostile(self.rng, RENDER in self.enabled)
        state = app_state(
            [make_account(a.name, a.org, *a.roles) for a in self.accounts.values() if a.in_genesis],
            credits={"uni": 1_000_000, "acme": 2**62, "openml": 5_000},
        )
        attributes = {"motto": values.text(200), "tier": 2**63 - 1, "rank": -(2**63)}
        for org in state["orgs"]:
            org["attributes"] = dict(org.get("attributes", {}), **attributes)
        return {
            "chain_id": CHAIN_ID,
            "time": GENESIS_TIME,
            "app_state": state,
            "validators": [[v.hex(), 10] for v in self.validators],
        }

    def generate(self, n_blocks: int) -> list[Block]:
        """Setup blocks, then random ones, then the parameters that stop everything."""
        self.setup()
        final = max(2, n_blocks // 40)
        while len(self.blocks) < n_blocks - final:
            self.random_block()
        while len(self.blocks) < n_blocks:
            self.final_block()
        return self.blocks

    def new_block(self, seconds: int = 5) -> Block:
        self.time += seconds
        block = Block(self.time)
        self.blocks.append(block)
        if len(self.blocks) % 10 == 0:
            block.queries = self.queries()
        return block

    def setup(self) -> None:
        """Models, versions, ordinary licenses and attachments for the random blocks to use."""
        block = self.new_block()
        for org in ORG_IDS:
            for i in range(3):
                block.txs.append(self.tx(f"{org}-pub", [self.register(org, f"m{i}")]))
                self.owner[f"{org}/m{i}"] = org
        block.txs += self.claims()
        block = self.new_block()
        for org in ORG_IDS:
            for model in self.models_of(org):
                msgs = [self.publish(model, v) for v in ("1.0", "2.0")]
                block.txs.append(self.tx(f"{org}-pub", msgs))
                self.published += [(model, "1.0"), (model, "2.0")]
        block.txs += self.reveals()
        block = self.new_block()
        for org in ORG_IDS:
            for i in range(2):
                script = self.scripts.flat_fee() if i == 0 else self.scripts.by_purpose()
                block.txs.append(self.tx(f"{org}-pub", [self.deploy(org, script, f"base{i}")]))
        block = self.new_block()
        for org in ORG_IDS:
            for i, model in enumerate(self.models_of(org)):
                msg = self.attach(model, "1.0", self.licenses[org][i % 2])
                block.txs.append(self.tx(f"{org}-pub", [msg]))
                self.attached.append((model, "1.0"))
        self.datasets(block)
        self.round_and_lease()

    def round_and_lease(self) -> None:
        """A federated round that finalizes (round 1: uni opens it on its own base, uni and acme
        submit, uni finalizes), a lease that is sold (acme rents uni/m2@1.0) and one that asks
        for a download the offer does not grant, and a sale (acme/m2 to openml, pinning its
        versions) after a buy that pins an unpublished version, over three blocks that draw no
        randomness, so every kind succeeds somewhere whatever the random blocks do."""
        opened = tx_pb2.OpenRound(
            base_model="uni/m0",
            base_version="1.0",
            target_model="uni/m1",
            target_version="fl-setup",
            invited_orgs=["uni", "acme"],
            min_participants=2,
            deadline_height=len(self.blocks) + 50,
        )
        offer = tx_pb2.OfferLease(
            model="uni/m2", version="1.0", price_per_1000_blocks=1000, purposes=["inference"]
        )
        block = self.new_block()
        block.txs.append(self.tx("uni-pub", [tx_pb2.Msg(open_round=opened)]))
        block.txs.append(self.tx("uni-admin", [tx_pb2.Msg(offer_lease=offer)]))
        listing = tx_pb2.ListModel(model="acme/m2", price=10)
        block.txs.append(self.tx("acme-admin", [tx_pb2.Msg(list_model=listing)]))
        block = self.new_block()
        for org in ("uni", "acme"):
            update = tx_pb2.SubmitUpdate(
                round_id=1, update_digest=digest(f"setup-{org}"), size_bytes=1000, sample_count=10
            )
            block.txs.append(self.tx(f"{org}-pub", [tx_pb2.Msg(submit_update=update)]))
        for org, download in (("openml", True), ("acme", False)):
            lease = tx_pb2.LeaseVersion(
                model="uni/m2",
                version="1.0",
                blocks=100,
                max_price=1000,
                purposes=["inference"],
                download=download,
            )
            block.txs.append(self.tx(f"{org}-admin", [tx_pb2.Msg(lease_version=lease)]))
        for versions in (["1.0", "9.9"], ["1.0", "2.0"]):
            buy = tx_pb2.BuyModel(model="acme/m2", max_price=10, versions=versions)
            block.txs.append(self.tx("openml-admin", [tx_pb2.Msg(buy_model=buy)]))
        self.owner["acme/m2"] = "openml"
        block = self.new_block()
        final = tx_pb2.FinalizeRound(
            round_id=1,
            aggregate_digest=digest("setup-agg"),
            size_bytes=1000,
            included=["uni", "acme"],
        )
        block.txs.append(self.tx("uni-pub", [tx_pb2.Msg(finalize_round=final)]))

    def datasets(self, block: Block) -> None:
        """Each org registers and publishes a dataset under its first license; registering a
        model's id and publishing into a model fail (in the last setup block, drawing no
        randomness, so the random blocks stay as they were)."""
        for org in ORG_IDS:
            register = tx_pb2.RegisterDataset(owner_org=org, name="d0")
            publish = tx_pb2.PublishDataset(
                dataset=f"{org}/d0",
                version="1.0",
                digest=digest(f"{org}/d0@1.0"),
                size_bytes=10_000,
                format="parquet",
                license=f"{org}/base0",
            )
            msgs = [tx_pb2.Msg(register_dataset=register), tx_pb2.Msg(publish_dataset=publish)]
            block.txs.append(self.tx(f"{org}-pub", msgs))
        taken = tx_pb2.RegisterDataset(owner_org="uni", name="m0")
        block.txs.append(self.tx("uni-pub", [tx_pb2.Msg(register_dataset=taken)]))
        into_model = tx_pb2.PublishDataset(
            dataset="uni/m0", version="d", digest=digest("uni/m0@d"), size_bytes=1, format="csv"
        )
        block.txs.append(self.tx("uni-pub", [tx_pb2.Msg(publish_dataset=into_model)]))

    def claims(self) -> list[TxSpec]:
        """Each org claims the digest of "<org>/m0@claimed" (revealed in the next block), and
        one claim is malformed (draws no randomness, so the random blocks stay as they were)."""
        specs = []
        for org in ORG_IDS:
            made = commitment(digest(f"{org}/m0@claimed"), org, self.salt(org))
            specs.append(self.tx(f"{org}-pub", [self.claim([made])]))
        specs.append(self.tx("uni-pub", [self.claim([b"\x01" * 32, b"\x01" * 32])]))
        return specs

    def reveals(self) -> list[TxSpec]:
        """Each org publishes what it claimed; a reveal of another org's salt fails."""
        specs = []
        for org in ORG_IDS:
            msg = self.publish(f"{org}/m0", "claimed", claim_salt=self.salt(org))
            specs.append(self.tx(f"{org}-pub", [msg]))
        stolen = self.publish("acme/m1", "stolen", claim_salt=self.salt("uni"))
        specs.append(self.tx("acme-pub", [stolen]))
        return specs

    def salt(self, org: str) -> bytes:
        return hashlib.sha256(f"xpy-salt-{org}".encode()).digest()

    def claim(self, commitments: list[bytes]) -> tx_pb2.Msg:
        return tx_pb2.Msg(claim_digests=tx_pb2.ClaimDigests(commitments=commitments))

    def random_block(self) -> None:
        """A block of random transactions; sometimes a month passes (usage periods). Extreme
        parameters that passed are voted back a few blocks later."""
        gap = self.rng.choices((5, 1, 600, 30 * 24 * 3600), (80, 5, 10, 5))[0]
        block = self.new_block(gap)
        counts = (3, 6, 8, 8, 8, 8, 6, 5, 4, 3, 2, 2, 2)
        for _ in range(self.rng.choices(range(len(counts)), counts)[0]):
            block.txs.append(self.random_tx())
        block.txs.extend(self.market_txs())
        while self.pending_votes and self.rng.random() < 0.8:
            block.txs.extend(self.votes(self.pending_votes.pop(0)))
        due = [names for at, names in self.restores if at <= len(self.blocks)]
        self.restores = [(at, names) for at, names in self.restores if at > len(self.blocks)]
        for names in due:
            block.txs.append(self.proposal_tx(self.set_params({n: DEFAULTS[n] for n in names})))
            self.pending_votes.insert(0, block.txs[-1].creates)

    def final_block(self) -> None:
        """The last blocks set parameters that refuse every later transaction."""
        block = self.new_block()
        if len(self.blocks) % 2 == 0:
            name = self.rng.choice(list(BRICKING))
            values = BRICKING[name] or (1,)
            block.txs.append(self.proposal_tx(self.set_params({name: self.rng.choice(values)})))
            self.pending_votes.insert(0, block.txs[-1].creates)
        while self.pending_votes:
            block.txs.extend(self.votes(self.pending_votes.pop(0)))
        for _ in range(3):
            block.txs.append(self.random_tx())

    # --- transactions ---------------------------------------------------------------------

    def tx(
        self,
        account: str,
        msgs: Sequence[tx_pb2.Msg],
        label: str = "",
        memo: str = "",
        chain_id: str = CHAIN_ID,
    ) -> TxSpec:
        """An unsigned transaction of ``account`` carrying ``msgs``."""
        acct = self.accounts[account]
        head = tx_pb2.TxBody(chain_id=chain_id, sender=acct.pubkey).SerializeToString()
        tail = tx_pb2.TxBody(messages=list(msgs), memo=memo).SerializeToString()
        kinds = tuple(m.WhichOneof("sum") or "?" for m in msgs)
        return TxSpec(label or f"{account}: {','.join(kinds)}", account, kinds, head, tail)

    def random_tx(self) -> TxSpec:
        """One transaction: a random message kind, sometimes several, sometimes hostile."""
        makers: list[tuple[int, Callable[[], tuple[str, list[tx_pb2.Msg], str]]]] = [
            (4, self.m_register),
            (8, self.m_publish),
            (3, self.m_status),
            (2, self.m_transfer_model),
            (2, self.m_announce),
            (10, self.m_deploy),
            (5, self.m_attach),
            (16, self.m_use),
            (3, self.m_credits),
            (3, self.m_attest),
            (2, self.m_open_round),
            (2, self.m_submit_update),
            (2, self.m_finalize_round),
            (5, self.m_proposal),
            (3, self.m_vote),
            (2, self.m_alias),
            (2, self.m_default_license),
        ]
        maker = self.rng.choices([m for _, m in makers], [w for w, _ in makers])[0]
        self.note = {}
        self.doomed = self.rng.random() < 0.12  # the envelope will be hostile
        account, msgs, label = maker()
        if self.note:  # alone and well-formed: it opens or names a proposal or round
            spec = self.tx(account, msgs, f"{account}: {label}")
            spec.creates, spec.patch = self.note.get("creates", ""), self.note.get("patch")
            return spec
        if self.rng.random() < 0.1:
            more_account, more, more_label = maker()
            if more_account == account:
                msgs, label = msgs + more, label + " + " + more_label
        spec = self.tx(account, msgs, f"{account}: {label}")
        return self.envelope_hostility(spec) if self.doomed else spec

    def envelope_hostility(self, spec: TxSpec) -> TxSpec:
        """A bad nonce, signature, chain id, memo, junk fields, or no body at all."""
        kind = self.rng.choice(
            (
                "replay",
                "gap",
                "zero",
                "high_s",
                "flip",
                "short",
                "none",
                "other_key",
                "chain",
                "memo",
                "junk_body",
                "junk_envelope",
                "garbage",
                "empty",
                "no_msgs",
                "unknown_msg",
                "bad_utf8",
            )
        )
        spec.label += f" [{kind}]"
        values = Hostile(self.rng, True)
        if kind in ("replay", "gap", "zero"):
            spec.nonce = kind
        elif kind in ("high_s", "flip", "short", "none", "other_key"):
            spec.signature = kind
        elif kind == "chain":
            spec.head = tx_pb2.TxBody(
                chain_id=values.text(40), sender=self.accounts[spec.account].pubkey
            ).SerializeToString()
        elif kind == "memo":
            spec.tail += tx_pb2.TxBody(memo=values.text(256)).SerializeToString()
        elif kind == "junk_body":
            spec.tail += bytes([0xA0, 0x06]) + uvarint(3) + b"\x01\x02\x03"  # field 100, bytes
        elif kind == "junk_envelope":
            spec.envelope_junk = bytes([0x18, 0x01])  # field 3 varint 1
        elif kind == "garbage":
            return TxSpec(spec.label, raw=self.rng.randbytes(self.rng.randint(0, 64)))
        elif kind == "empty":
            return TxSpec(spec.label, raw=b"")
        elif kind == "no_msgs":
            spec.tail = b""
        elif kind == "unknown_msg":
            spec.tail = bytes([0x22, 0x03]) + bytes([0xF8, 0x06, 0x01])  # Msg field 111
        else:  # a string field holding bytes that are not UTF-8
            spec.tail += bytes([0x2A, 0x02, 0xC3, 0x28])  # memo = b"\xc3\x28"
        return spec

    def pick(self, role: str, org: str | None = None) -> str:
        """An account with ``role`` (in ``org``), sometimes any account at all."""
        names = [
            n
            for n, a in self.accounts.items()
            if role in a.roles and (org is None or a.org == org) and a.in_genesis
        ]
        if not names or self.rng.random() < 0.05:
            names = list(self.accounts)
        return self.rng.choice(names)

    def proper(self, account: str, role: str, org: str) -> bool:
        """Whether ``account`` is a genesis account of ``org`` holding ``role`` and the tx is
        not doomed by a hostile envelope: what the generator then expects to succeed."""
        acct = self.accounts[account]
        return acct.in_genesis and acct.org == org and role in acct.roles and not self.doomed

    def models_of(self, org: str) -> list[str]:
        return [m for m, o in self.owner.items() if o == org] or [f"{org}/none"]

    def versions_of(self, model: str) -> list[str]:
        return [v for m, v in self.published if m == model] or ["1.0"]

    def org_version(self, org: str) -> tuple[str, str]:
        """A published version of a model ``org`` owns (a made-up one when there is none)."""
        owned = [(m, v) for m, v in self.published if self.owner_of(m) == org]
        return self.rng.choice(owned or [(f"{org}/none", "1.0")])

    def hostile(self, p: float = 0.3) -> bool:
        return self.rng.random() < p

    def values(self) -> Hostile:
        return Hostile(self.rng, True)

    def any_model(self) -> str:
        return self.rng.choice(list(self.owner) or ["uni/none"])

    def any_version(self) -> tuple[str, str]:
        return self.rng.choice(self.published or [("uni/none", "1.0")])

    def owner_of(self, model: str) -> str:
        return self.owner.get(model, model.split("/", 1)[0])

    # --- models ---------------------------------------------------------------------------

    def register(self, org: str, name: str, description: str = "") -> tx_pb2.Msg:
        return tx_pb2.Msg(
            register_model=tx_pb2.RegisterModel(owner_org=org, name=name, description=description)
        )

    def publish(self, model: str, version: str, **overrides: Any) -> tx_pb2.Msg:
        fields: dict[str, Any] = {
            "model": model,
            "version": version,
            "weights_digest": digest(f"{model}@{version}"),
            "size_bytes": 1_000_000,
            "format": "safetensors",
            "framework": "pytorch",
            "storage_uris": [f"https://weights.example.org/{model}/{version}"],
        }
        fields.update(overrides)
        return tx_pb2.Msg(publish_version=tx_pb2.PublishVersion(**fields))

    def m_register(self) -> tuple[str, list[tx_pb2.Msg], str]:
        org = self.rng.choice(ORG_IDS)
        account = self.pick("publisher", org)
        self.counter += 1
        name = f"r{self.counter}"
        description = ""
        hostile = self.hostile()
        if hostile:
            choice = self.rng.choice(("name", "org", "description"))
            values = self.values()
            if choice == "name":
                name = self.rng.choice((values.text(96), "a" * 96, "a" * 97, "-x", "x/y", ""))
            elif choice == "org":
                org = values.text(32)
            else:
                description = values.text(4096)
        elif self.rng.random() < 0.5:
            description = self.values().text(300)
        if not hostile and self.proper(account, "publisher", org):
            self.owner[f"{org}/{name}"] = org
        return account, [self.register(org, name, description)], f"register {name!a}"

    def metrics(self, hostile: bool) -> list[tx_pb2.Metric]:
        values = self.values()
        metrics = [tx_pb2.Metric(name="accuracy", int_value=9012, scale=4)]
        if hostile:
            kind = self.rng.choice(("int", "text", "scale", "name", "dup", "empty"))
            if kind == "int":
                metrics.append(
                    tx_pb2.Metric(name="big", int_value=values.s64(), scale=values.u32())
                )
            elif kind == "text":
                metrics.append(tx_pb2.Metric(name="notes", text_value=values.text(256)))
            elif kind == "scale":
                metrics.append(
                    tx_pb2.Metric(name="s", int_value=1, scale=self.rng.choice((18, 19)))
                )
            elif kind == "name":
                metrics.append(tx_pb2.Metric(name=values.text(64), int_value=1))
            elif kind == "dup":
                metrics.append(tx_pb2.Metric(name="accuracy", int_value=1))
            else:
                metrics.append(tx_pb2.Metric(name="novalue"))
        return metrics

    def m_publish(self) -> tuple[str, list[tx_pb2.Msg], str]:
        org = self.rng.choice(ORG_IDS)
        model = self.rng.choice(self.models_of(org))
        account = self.pick("publisher", org)
        self.counter += 1
        version = f"v{self.counter}"
        overrides: dict[str, Any] = {}
        known = [v for m, v in self.published if m == model]
        if known and self.rng.random() < 0.6:
            parents = self.rng.sample(known, min(len(known), self.rng.randint(1, 3)))
            overrides["parents"] = [f"{model}@{p}" for p in parents]
        if self.rng.random() < 0.4:
            other, other_version = self.any_version()
            if f"{other}@{other_version}" not in overrides.get("parents", []):
                overrides.setdefault("parents", []).append(f"{other}@{other_version}")
        bad_metrics = self.hostile(0.1)
        overrides["metrics"] = self.metrics(bad_metrics)
        if self.rng.random() < 0.3:
            overrides["license"] = f"{org}/base{self.rng.randint(0, 1)}"
        hostile = self.hostile(0.25) or bad_metrics
        if hostile:
            self.publish_hostility(overrides, model)
            version = overrides.pop("version", version)
        if not hostile and self.proper(account, "publisher", org):
            self.published.append((model, version))
            if "license" in overrides:
                self.attached.append((model, version))
        msg = self.publish(model, version, **overrides)
        return account, [msg], f"publish {model}@{version!a}"

    def publish_hostility(self, overrides: dict[str, Any], model: str) -> None:
        """One hostile field of a PublishVersion (``version`` replaces the version)."""
        values = self.values()
        field_name = self.rng.choice(
            (
                "version",
                "digest",
                "size",
                "format",
                "framework",
                "uris",
                "parents",
                "datasets",
                "card",
                "license",
                "many_uris",
            )
        )
        if field_name == "version":
            overrides["version"] = self.rng.choice(
                (values.text(64), "a" * 64, "a" * 65, "1.0\n", "")
            )
        elif field_name == "digest":
            overrides["weights_digest"] = self.rng.choice(
                ("sha256:" + "A" * 64, "sha256:" + "0" * 63, values.text(71), "")
            )
        elif field_name == "size":
            overrides["size_bytes"] = values.u64()
        elif field_name == "format":
            overrides["format"] = values.text(20)
        elif field_name == "framework":
            overrides["framework"] = values.text(32)
        elif field_name == "uris":
            overrides["storage_uris"] = ["https://x/" + values.text(500)]
        elif field_name == "parents":
            overrides["parents"] = [values.text(80), f"{model}@1.0", f"{model}@1.0"]
        elif field_name == "datasets":
            overrides["dataset_digests"] = [digest("d"), values.text(71)]
        elif field_name == "card":
            overrides["model_card_digest"] = values.text(71)
        elif field_name == "license":
            overrides["license"] = values.text(40)
        else:
            overrides["storage_uris"] = [f"https://w/{i}" for i in range(17)]

    def m_status(self) -> tuple[str, list[tx_pb2.Msg], str]:
        model, version = self.any_version()
        account = self.pick("publisher", self.owner_of(model))
        status = self.rng.choice((2, 2, 3, 0, 1, 7))
        reason = self.values().text(self.rng.choice((20, 4096))) or "superseded"
        if self.rng.random() < 0.1:
            reason = ""
        body = tx_pb2.SetVersionStatus(model=model, version=version, reason=reason)
        body.status = status  # type: ignore[assignment]
        msg = tx_pb2.Msg(set_version_status=body)
        return account, [msg], f"status {model}@{version} -> {status}"

    def m_transfer_model(self) -> tuple[str, list[tx_pb2.Msg], str]:
        model = self.any_model()
        owner = self.owner_of(model)
        account = self.pick("admin", owner)
        target = self.rng.choice((*ORG_IDS, "newco", owner))
        hostile = self.hostile(0.2)
        if hostile:
            target = self.values().text(32)
        elif target in ORG_IDS and target != owner and self.proper(account, "admin", owner):
            self.owner[model] = target
        msg = tx_pb2.Msg(transfer_model=tx_pb2.TransferModel(model=model, new_owner_org=target))
        return account, [msg], f"transfer {model} to {target!a}"

    def m_announce(self) -> tuple[str, list[tx_pb2.Msg], str]:
        model, version = self.any_version()
        url = self.rng.choice(("http://127.0.0.1:26662", "https://store.example.org:1/x"))
        value = digest(f"{model}@{version}")
        if self.hostile():
            values = self.values()
            if self.rng.random() < 0.5:
                url = self.rng.choice(
                    ("http://" + values.text(253), "ftp://x", "http://a/" + values.text(200))
                )
            else:
                value = values.text(71)
        msg = tx_pb2.Msg(announce_provider=tx_pb2.AnnounceProvider(digest=value, url=url))
        return self.pick(""), [msg], f"announce {model}@{version}"

    def m_alias(self) -> tuple[str, list[tx_pb2.Msg], str]:
        """Name a version, move a name, remove one; hostile names and versions."""
        model, version = self.any_version()
        name = self.rng.choice(("stable", "prod", "latest", "1.0", "x-1"))
        if self.rng.random() < 0.2:
            version = ""
        if self.hostile(0.2):
            name = self.values().text(40)
        body = tx_pb2.SetAlias(model=model, alias=name, version=version)
        account = self.pick("publisher", self.owner_of(model))
        return account, [tx_pb2.Msg(set_alias=body)], f"alias {model}@{name!a} -> {version!a}"

    def m_default_license(self) -> tuple[str, list[tx_pb2.Msg], str]:
        """Set or clear a model's default license; hostile or undeployed ids."""
        model = self.any_model()
        owner = self.owner_of(model)
        license_id = self.rng.choice([*self.licenses.get(owner, []), "", f"{owner}/none"])
        if self.hostile(0.2):
            license_id = self.values().text(40)
        body = tx_pb2.SetDefaultLicense(model=model, license=license_id)
        account = self.pick("publisher", owner)
        return account, [tx_pb2.Msg(set_default_license=body)], f"default {model} {license_id!a}"

    # --- licenses and usage -----------------------------------------------------------------

    def license_params(self) -> tx_pb2.ValueMap:
        """Parameters: a rate and hostile texts, integers and nesting (canonical or not)."""
        values = Hostile(self.rng, RENDER in self.enabled)
        entries = [
            tx_pb2.ValueEntry(key="label", value=tx_pb2.Value(str_value=values.text(60))),
            tx_pb2.ValueEntry(
                key="list",
                value=tx_pb2.Value(
                    list_value=tx_pb2.ValueList(
                        items=[
                            tx_pb2.Value(int_value=self.rng.choice((0, -1, 2**63 - 1, 1 - 2**63))),
                            tx_pb2.Value(null_value=True),
                            tx_pb2.Value(bool_value=True),
                            tx_pb2.Value(str_value=values.text(20)),
                        ]
                    )
                ),
            ),
            tx_pb2.ValueEntry(
                key="rate", value=tx_pb2.Value(int_value=self.rng.choice((0, 1, 5, 2**40)))
            ),
        ]
        if self.hostile(0.1):
            kind = self.rng.choice(
                ("unsorted", "dup", "deep", "nokind", "bigtext", "null_false", "min_int")
            )
            if kind == "unsorted":
                entries.reverse()
            elif kind == "dup":
                entries.append(entries[-1])
            elif kind == "deep":
                value = tx_pb2.Value(int_value=1)
                for _ in range(self.rng.choice((7, 8, 9, 40))):
                    value = tx_pb2.Value(list_value=tx_pb2.ValueList(items=[value]))
                entries.append(tx_pb2.ValueEntry(key="zz", value=value))
            elif kind == "nokind":
                entries.append(tx_pb2.ValueEntry(key="zz", value=tx_pb2.Value()))
            elif kind == "bigtext":
                entries.append(
                    tx_pb2.ValueEntry(key="zz", value=tx_pb2.Value(str_value=values.sized(4097)))
                )
            elif kind == "min_int":
                entries.append(tx_pb2.ValueEntry(key="zz", value=tx_pb2.Value(int_value=-(2**63))))
            else:
                entries.append(tx_pb2.ValueEntry(key="zz", value=tx_pb2.Value(null_value=False)))
        return tx_pb2.ValueMap(entries=entries)

    def deploy(self, org: str, script: Script, name: str = "") -> tx_pb2.Msg:
        self.counter += 1
        name = name or f"l{self.counter}"
        self.licenses[org].append(f"{org}/{name}")
        return tx_pb2.Msg(
            deploy_license=tx_pb2.DeployLicense(
                name=name,
                source=script.source,
                params=self.license_params(),
                description=script.label,
            )
        )

    def m_deploy(self) -> tuple[str, list[tx_pb2.Msg], str]:
        org = self.rng.choice(ORG_IDS)
        account = self.pick("publisher", org)
        script = self.scripts.draw()
        msg = self.deploy(org, script)
        license_id = self.licenses[org][-1]
        label = f"deploy {license_id} ({script.label})"
        if self.hostile(0.15):
            values = self.values()
            kind = self.rng.choice(("name", "description", "huge"))
            body = msg.deploy_license
            if kind == "name":
                body.name = self.rng.choice((values.text(64), "A", "a" * 65, ""))
            elif kind == "description":
                body.description = values.sized(4097)
            else:
                body.source = "def authorize(ctx):\n    return allow()\n" + "#" * 16_400
        msgs = [msg]
        if self.rng.random() < 0.7:  # attach it right away to one of the org's versions
            model, version = self.org_version(org)
            msgs.append(self.attach(model, version, license_id))
            if self.proper(account, "publisher", org):
                self.attached.append((model, version))
        return account, msgs, label

    def attach(self, model: str, version: str, license_id: str) -> tx_pb2.Msg:
        return tx_pb2.Msg(
            attach_license=tx_pb2.AttachLicense(model=model, version=version, license=license_id)
        )

    def m_attach(self) -> tuple[str, list[tx_pb2.Msg], str]:
        org = self.rng.choice(ORG_IDS)
        model, version = self.org_version(org)
        license_id = self.rng.choice(self.licenses[org] or [f"{org}/none"])
        account = self.pick("publisher", org)
        if self.hostile(0.15):
            license_id = self.rng.choice((self.values().text(40), "other/l1", "uni/"))
        elif self.proper(account, "publisher", org):
            self.attached.append((model, version))
        label = f"attach {license_id!a} to {model}@{version}"
        return account, [self.attach(model, version, license_id)], label

    def m_use(self) -> tuple[str, list[tx_pb2.Msg], str]:
        """A use of a licensed version, mostly one whose license was attached recently."""
        if self.attached and self.rng.random() < 0.85:
            recent = self.attached[-8:] if self.rng.random() < 0.6 else self.attached
            model, version = self.rng.choice(recent)
        else:
            model, version = self.any_version()
        account = self.pick("consumer")
        purpose = self.rng.choice(PURPOSES)
        quantity = self.rng.choice((1, 1, 2, 10, 1000))
        max_fee = self.rng.choice((0, 10, 10**6, 10**6, 2**63 - 1, 2**64 - 1))
        if self.hostile(0.15):
            values = self.values()
            kind = self.rng.choice(("purpose", "quantity", "max_fee", "model", "version"))
            if kind == "purpose":
                purpose = self.rng.choice((values.text(20), "Research", "research\n", ""))
            elif kind == "quantity":
                quantity = values.u64()
            elif kind == "max_fee":
                max_fee = values.u64()
            elif kind == "model":
                model = values.text(40)
            else:
                version = values.text(20)
        msg = tx_pb2.Msg(
            use=tx_pb2.Use(
                model=model, version=version, purpose=purpose, quantity=quantity, max_fee=max_fee
            )
        )
        return account, [msg], f"use {model!a}@{version!a} {purpose!a} x{quantity} max {max_fee}"

    def m_credits(self) -> tuple[str, list[tx_pb2.Msg], str]:
        org = self.rng.choice(ORG_IDS)
        account = self.pick("admin", org)
        to = self.rng.choice(("uni", "acme", "openml", "newco"))
        amount = self.rng.choice((1, 100, 10**6, 2**62, 2**63 - 1))
        if self.hostile(0.25):
            if self.rng.random() < 0.5:
                amount = self.values().u64()
            else:
                to = self.values().text(32)
        msg = tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org=to, amount=amount))
        return account, [msg], f"credits {amount} to {to!a}"

    # --- market ---------------------------------------------------------------------------

    def market_txs(self) -> list[TxSpec]:
        """0 to 2 market transactions drawn from their own generator, so the sequence of the
        other message kinds is the one it was before the market existed."""
        main, self.rng = self.rng, self.market_rng
        try:
            specs = []
            for _ in range(self.rng.choice((0, 0, 1, 2))):
                self.doomed = False
                account, msgs, label = self.m_market()
                specs.append(self.tx(account, msgs, f"{account}: {label}"))
            return specs
        finally:
            self.rng = main

    def m_market(self) -> tuple[str, list[tx_pb2.Msg], str]:
        """One market message: list, delist, buy, offer, withdraw or lease, with hostile prices,
        block counts, purposes and ids."""
        kind = self.rng.choice(("list", "list", "delist", "buy", "offer", "withdraw", "lease"))
        price = self.rng.choice((1, 10, 1000, 2**62, 2**63 - 1))
        if self.hostile(0.25):
            price = self.rng.choice((0, 2**63, 2**64 - 1, self.values().u64()))
        if kind in ("list", "delist", "offer", "withdraw"):
            model, version = self.org_version(self.rng.choice(ORG_IDS))
            if kind == "withdraw" and self.offered and self.rng.random() < 0.7:
                model, version = self.rng.choice(self.offered[-3:])
            if kind == "list":
                model = kept_base(model)
            owner = self.owner_of(model)
            account = self.pick("admin", owner)
            if kind == "list":
                self.listed.append(model)
                msg = tx_pb2.Msg(list_model=tx_pb2.ListModel(model=model, price=price))
            elif kind == "delist":
                msg = tx_pb2.Msg(delist_model=tx_pb2.DelistModel(model=model))
            elif kind == "offer":
                purposes = self.rng.sample(("inference", "download", "research"), 2)
                if self.hostile(0.1):
                    purposes.append(self.rng.choice(("mining", "inference", "")))
                max_blocks = self.rng.choice((0, 1, 10, 2**32, 2**32 + 1))
                if 0 < price < 2**63 and len(purposes) == 2 and max_blocks <= 2**32:
                    self.offered.append((model, version))  # expected to stand
                body = tx_pb2.OfferLease(
                    model=model,
                    version=version,
                    price_per_1000_blocks=price,
                    purposes=purposes,
                    download=self.rng.random() < 0.5,
                    max_blocks=max_blocks,
                )
                msg = tx_pb2.Msg(offer_lease=body)
            else:
                body_w = tx_pb2.WithdrawLeaseOffer(model=model, version=version)
                msg = tx_pb2.Msg(withdraw_lease_offer=body_w)
            return account, [msg], f"market {kind} {model}@{version} {price}"
        buyer = self.rng.choice(ORG_IDS)
        account = self.pick("admin", buyer)
        if kind == "buy":
            model = kept_base(self.rng.choice(self.listed or [self.any_model()]))
            pinned = self.rng.choice(([], ["1.0"], ["1.0", "2.0"], ["9.9"], ["1.0", "1.0"]))
            body_b = tx_pb2.BuyModel(model=model, max_price=price, versions=pinned)
            msg = tx_pb2.Msg(buy_model=body_b)
            return account, [msg], f"market buy {model} max {price}"
        model, version = self.rng.choice(self.offered[-2:] or [self.any_version()])
        blocks = self.rng.choice((1, 2, 1000, 1, 2, 1000, 2**32, 0, 2**64 - 1))
        if self.rng.random() < 0.5:
            price = 2**63 - 1
        purposes = self.rng.choice((["inference"], [], ["mining"], ["inference", "research"]))
        body_l = tx_pb2.LeaseVersion(
            model=model,
            version=version,
            blocks=blocks,
            max_price=price,
            purposes=purposes,
            download=self.rng.random() < 0.5,
        )
        return account, [tx_pb2.Msg(lease_version=body_l)], f"market lease {model}@{version}"

    def m_attest(self) -> tuple[str, list[tx_pb2.Msg], str]:
        model, version = self.any_version()
        account = self.pick("auditor")
        fields: dict[str, Any] = {
            "model": model,
            "version": version,
            "kind": self.rng.choice(("training", "evaluation", "validation")),
            "metrics": self.metrics(self.hostile(0.2)),
            "method": self.values().text(100),
        }
        if self.rng.random() < 0.5:
            fields["dataset_digest"] = digest("ds")
        if self.hostile(0.2):
            values = self.values()
            kind = self.rng.choice(("kind", "dataset", "artifact", "method", "empty"))
            if kind == "kind":
                fields["kind"] = values.text(20)
            elif kind == "dataset":
                fields["dataset_digest"] = values.text(71)
            elif kind == "artifact":
                fields["artifact_digest"] = values.text(71)
            elif kind == "method":
                fields["method"] = values.sized(4097)
            else:
                fields["metrics"], fields["method"] = [], ""
        return account, [tx_pb2.Msg(attest=tx_pb2.Attest(**fields))], f"attest {model}@{version}"

    def m_open_round(self) -> tuple[str, list[tx_pb2.Msg], str]:
        org = self.rng.choice(ORG_IDS)
        account = self.pick("publisher", org)
        base_model, base_version = self.any_version()
        if self.owner_of(base_model) != org:  # another org's base needs a fine-tune receipt
            own = [m for m, v in self.published if v == "1.0" and self.owner_of(m) == org]
            base_model, base_version = (own or [f"{org}/m0"])[0], "1.0"  # no draw
        target = self.rng.choice(self.models_of(org))
        self.counter += 1
        target_version = f"fl{self.counter}"
        invited = self.rng.sample(list(ORG_IDS), self.rng.randint(1, 3))
        fields: dict[str, Any] = {
            "base_model": base_model,
            "base_version": base_version,
            "target_model": target,
            "target_version": target_version,
            "invited_orgs": invited,
            "min_participants": self.rng.randint(1, len(invited)),
            "deadline_height": len(self.blocks) + self.rng.choice((3, 20, 60)),
        }
        hostile = self.hostile(0.25)
        if hostile:
            values = self.values()
            kind = self.rng.choice(("deadline", "min", "invited", "version", "many"))
            if kind == "deadline":
                fields["deadline_height"] = values.u64()
            elif kind == "min":
                fields["min_participants"] = values.u32()
            elif kind == "invited":
                fields["invited_orgs"] = [values.text(32), "uni"]
            elif kind == "version":
                fields["target_version"] = "v" * 60
            else:
                fields["invited_orgs"] = [f"org{i}" for i in range(65)]
        self.opened += 1
        ref = f"r{self.opened}"
        if not hostile and self.proper(account, "publisher", org):
            self.rounds.append((ref, org, invited))
        self.note = {"creates": ref}
        msg = tx_pb2.Msg(open_round=tx_pb2.OpenRound(**fields))
        return account, [msg], f"open round {ref} -> {target}@{target_version}"

    def round_pick(self, kind: str) -> tuple[str, str, list[str]]:
        """A recent round (its id filled in at replay), or sometimes an id that does not exist."""
        if not self.rounds or self.rng.random() < 0.1:
            return str(self.rng.choice((1, 999, 2**64 - 1))), "uni", ["uni"]
        ref, opener, invited = self.rng.choice(self.rounds[-5:])
        self.note = {"patch": (kind, "round_id", ref)}
        return ref, opener, invited

    def m_submit_update(self) -> tuple[str, list[tx_pb2.Msg], str]:
        ref, _, invited = self.round_pick("submit_update")
        round_id = int(ref) if ref.isdecimal() else 1
        org = self.rng.choice(invited)
        account = self.pick("publisher", org)
        fields: dict[str, Any] = {
            "round_id": round_id,
            "update_digest": digest(f"u{round_id}{org}"),
            "size_bytes": 1000,
            "sample_count": self.rng.choice((1, 100, 2**48)),
            "metrics": self.metrics(self.hostile(0.2)),
        }
        if self.hostile(0.2):
            values = self.values()
            kind = self.rng.choice(("round", "samples", "size", "digest"))
            if kind == "round":
                fields["round_id"] = values.u64()
                self.note = {}
            elif kind == "samples":
                fields["sample_count"] = self.rng.choice((0, 2**48 + 1, 2**64 - 1))
            elif kind == "size":
                fields["size_bytes"] = values.u64()
            else:
                fields["update_digest"] = values.text(71)
        else:
            self.submitted.setdefault(ref, []).append(org)
        msg = tx_pb2.Msg(submit_update=tx_pb2.SubmitUpdate(**fields))
        return account, [msg], f"submit update to round {ref}"

    def m_finalize_round(self) -> tuple[str, list[tx_pb2.Msg], str]:
        ref, opener, invited = self.round_pick("finalize_round")
        round_id = int(ref) if ref.isdecimal() else 1
        account = self.pick("publisher", opener)
        sent = sorted(set(self.submitted.get(ref, [])))
        if sent and self.rng.random() < 0.7:  # mostly the orgs that did submit: it can succeed
            included = self.rng.sample(sent, self.rng.randint(1, len(sent)))
        else:
            included = self.rng.sample(invited, self.rng.randint(1, len(invited)))
        fields: dict[str, Any] = {
            "round_id": round_id,
            "aggregate_digest": digest(f"agg{round_id}"),
            "size_bytes": self.rng.choice((1, 2**63)),
            "included": included,
        }
        if self.hostile(0.2):
            values = self.values()
            if self.rng.random() < 0.5:
                fields["size_bytes"] = values.u64()
            else:
                fields["included"] = self.rng.choice(([values.text(32)], [], included * 2))
        msg = tx_pb2.Msg(finalize_round=tx_pb2.FinalizeRound(**fields))
        return account, [msg], f"finalize round {ref}"

    # --- governance -------------------------------------------------------------------------

    def set_params(self, changes: dict[str, int]) -> tx_pb2.ProposalAction:
        return tx_pb2.ProposalAction(
            set_params=tx_pb2.SetParams(
                changes=[tx_pb2.ParamChange(name=k, value=v) for k, v in changes.items()]
            )
        )

    def extreme_param(self) -> tuple[str, int]:
        """A parameter and an extreme value that leaves the chain able to vote it back."""
        name = self.rng.choice(PARAMS)
        if name.endswith("_percent"):
            return name, self.rng.choice((1, 100, 0, 101))
        if name == "max_tx_bytes":
            return name, self.rng.choice((2**32, 2**63, 2**64 - 1, 10**6))
        if name == "max_messages_per_tx":
            return name, self.rng.choice((4, 2**32 - 1))
        if name == "voting_period_blocks":
            return name, self.rng.choice((1, 2, 2**32, 2**63 - 1, 2**64 - 1))
        if name == "max_license_source_bytes" and LIMIT_SHRINK not in self.enabled:
            return name, self.rng.choice((65_536, 2**31, 2**32 - 1, 2**32))
        wide = name.startswith("license_gas") or name.startswith("license_memory")
        high = (2**64 - 1, 2**63) if wide else (2**32 - 1, 2**31)
        return name, self.rng.choice((1, 2, 0, *high))

    def proposal_msg(self, action: tx_pb2.ProposalAction, title: str) -> tx_pb2.Msg:
        """A SubmitProposal; its tx will record the id it gets under reference p<n>."""
        self.proposals += 1
        self.note = {"creates": f"p{self.proposals}"}
        return tx_pb2.Msg(submit_proposal=tx_pb2.SubmitProposal(action=action, title=title))

    def proposal_tx(self, action: tx_pb2.ProposalAction, title: str = "p") -> TxSpec:
        account = self.rng.choice(("uni-admin", "acme-admin", "openml-admin", "uni-all"))
        msg = self.proposal_msg(action, title)
        kind = action.WhichOneof("kind")
        spec = self.tx(account, [msg], f"{account}: proposal p{self.proposals} {kind}")
        spec.creates = f"p{self.proposals}"
        return spec

    def vote_msg(self, ref: str, option: int) -> tx_pb2.Msg:
        """A vote on the proposal that reference ``ref`` opened (filled in at replay)."""
        self.note = {"patch": ("cast_vote", "proposal_id", ref)}
        return tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=0, option=option))  # type: ignore[arg-type]

    def votes(self, ref: str, option: int = 1) -> list[TxSpec]:
        """Every organisation's admin votes (newco's too, in case governance added it)."""
        specs = []
        for org in ("uni", "acme", "openml", "newco"):
            spec = self.tx(
                f"{org}-admin", [self.vote_msg(ref, option)], f"{org}-admin: vote {option} on {ref}"
            )
            spec.patch = ("cast_vote", "proposal_id", ref)
            specs.append(spec)
        return specs

    def m_proposal(self) -> tuple[str, list[tx_pb2.Msg], str]:
        """A proposal of a random action kind; most get the votes to pass."""
        gov_values = Hostile(self.rng, GOV_TEXT in self.enabled)
        values = self.values()
        kind = self.rng.choice(
            (
                "set_params",
                "set_params",
                "set_params",
                "restore",
                "add_org",
                "remove_org",
                "set_roles",
                "add_account",
                "revoke_account",
                "set_validator",
            )
        )
        if kind == "set_params":
            changes = dict(self.extreme_param() for _ in range(self.rng.randint(1, 3)))
            action = self.set_params(changes)
            self.restores.append((len(self.blocks) + self.rng.randint(2, 12), list(changes)))
        elif kind == "restore":
            names = self.rng.sample(PARAMS, 4)
            action = self.set_params({n: DEFAULTS[n] for n in names})
        elif kind == "add_org":
            key = make_account("newco-admin", "newco").pubkey
            org_id = self.rng.choice(("newco", "newco", values.text(32), "uni"))
            attributes = tx_pb2.ValueMap(
                entries=[
                    tx_pb2.ValueEntry(
                        key="motto",
                        value=tx_pb2.Value(
                            str_value=Hostile(self.rng, RENDER in self.enabled).text(100)
                        ),
                    ),
                    tx_pb2.ValueEntry(key="size", value=tx_pb2.Value(int_value=values.s64())),
                ]
            )
            action = tx_pb2.ProposalAction(
                add_org=tx_pb2.AddOrg(
                    id=org_id,
                    name=values.text(40) or "n",
                    kind=self.rng.choice(("commercial", "club")),
                    attributes=attributes,
                    accounts=[
                        tx_pb2.AccountSpec(name="newco-admin", pubkey=key, roles=list(ROLES))
                    ],
                )
            )
        elif kind == "remove_org":
            org = self.rng.choice(("newco", gov_values.text(32), "ghost"))
            action = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org=org))
        elif kind == "set_roles":
            address = self.rng.choice(
                (self.accounts["uni-all"].address, "00" * 20, values.text(40))
            )
            roles = self.rng.choice(
                (["consumer", "publisher"], ["admin"], [], ["root"], ["admin", "admin"])
            )
            action = tx_pb2.ProposalAction(set_roles=tx_pb2.SetRoles(address=address, roles=roles))
        elif kind == "add_account":
            name = self.rng.choice(("extra", values.text(64), "x" * 65))
            key = make_account(f"extra{self.proposals}", "uni").pubkey
            if self.rng.random() < 0.2:
                key = self.rng.choice(
                    (b"", b"\x02" * 33, key[:32], self.accounts["uni-pub"].pubkey)
                )
            org = self.rng.choice(("uni", "ghost", gov_values.text(32)))
            action = tx_pb2.ProposalAction(
                add_account=tx_pb2.AddAccount(
                    org=org, account=tx_pb2.AccountSpec(name=name, pubkey=key, roles=["consumer"])
                )
            )
        elif kind == "revoke_account":
            address = self.rng.choice(
                (make_account("extra1", "uni").address, "ff" * 20, values.text(40))
            )
            action = tx_pb2.ProposalAction(revoke_account=tx_pb2.RevokeAccount(address=address))
        else:
            pubkey = self.rng.choice(
                (*self.validators, hashlib.sha256(b"v-new").digest(), b"\x01" * 31)
            )
            action = tx_pb2.ProposalAction(
                set_validator=tx_pb2.SetValidator(
                    pubkey=pubkey, power=values.i64(), name=values.text(40)
                )
            )
        title = "proposal"
        if self.rng.random() < 0.15:
            title = self.rng.choice((values.text(256), values.sized(257), ""))
        valid = 0 < len(title.encode()) <= 256 and self.plausible(action)
        msg = self.proposal_msg(action, title)
        if valid and self.rng.random() < 0.85:
            self.pending_votes.append(f"p{self.proposals}")
        account = self.rng.choice(("uni-admin", "acme-admin", "openml-admin", "uni-all"))
        return account, [msg], f"proposal p{self.proposals} {kind}"

    def plausible(self, action: tx_pb2.ProposalAction) -> bool:
        """Roughly whether the stateless check accepts ``action`` (so it gets an id)."""
        kind = action.WhichOneof("kind")
        if kind == "set_params":
            return all(
                0
                < c.value
                < (2**64 if c.name in PARAMS[7:9] or c.name == "max_tx_bytes" else 2**32)
                and (not c.name.endswith("_percent") or c.value <= 100)
                for c in action.set_params.changes
            )
        if kind == "set_validator":
            body = action.set_validator
            return len(body.pubkey) == 32 and 0 <= body.power <= 2**50
        if kind == "add_account":
            spec = action.add_account.account
            return spec.name == "extra" and len(spec.pubkey) == 33 and spec.pubkey[0] in (2, 3)
        if kind == "set_roles":
            roles = list(action.set_roles.roles)
            return bool(roles) and len(set(roles)) == len(roles) and set(roles) <= set(ROLES)
        if kind == "add_org":
            return action.add_org.id == "newco" and action.add_org.kind == "commercial"
        return True

    def m_vote(self) -> tuple[str, list[tx_pb2.Msg], str]:
        """A vote of any option on a recent proposal, or on an id that does not exist."""
        option = self.rng.choice((1, 2, 3, 0, 9))
        account = self.pick("admin", self.rng.choice(ORG_IDS))
        if self.proposals and self.rng.random() < 0.7:
            ref = f"p{self.rng.randint(max(1, self.proposals - 5), self.proposals)}"
            return account, [self.vote_msg(ref, option)], f"vote {option} on {ref}"
        proposal_id = self.rng.choice((0, 10**6, 2**63, 2**64 - 1))
        msg = tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=option))  # type: ignore[arg-type]
        return account, [msg], f"vote {option} on {proposal_id}"

    # --- queries ----------------------------------------------------------------------------

    def queries(self) -> list[tuple[str, bytes]]:
        """Queries with ordinary and hostile parameters, answered after the block commits."""
        model, version = self.any_version()
        values = self.values()
        hostile = values.text(40)
        plain: list[tuple[str, dict[str, Any]]] = [
            ("/models/model", {"id": model}),
            (
                "/models/versions",
                {
                    "model": model,
                    "after": self.rng.choice(("0", "\u00b2", "\U00011f50", "\u0663", "-1", "")),
                },
            ),
            ("/models/lineage", {"model": model, "version": version}),
            ("/models/models", {"after": hostile, "limit": self.rng.choice((1, 0, 2**64, -1))}),
            ("/licenses/licenses", {"after": hostile}),
            (
                "/usage/receipts",
                {"model": model, "after": self.rng.choice(("1", "\uff11", "\U00011f51"))},
            ),
            ("/usage/totals", {"org": "acme", "model": model, "version": version}),
            ("/members/proposals", {"after": self.rng.choice(("0", "1", "\U00011f50"))}),
            ("/members/org", {"id": hostile}),
            ("/credits/balances", {}),
            ("/federated/rounds", {}),
            ("/attestations/by_version", {"model": model, "version": version}),
            (
                "/licenses/evaluate",
                {
                    "model": model,
                    "version": version,
                    "purpose": "research",
                    "quantity": 1,
                    "org": "acme",
                },
            ),
            ("/no/such/path" + hostile, {}),
        ]
        out = [(path, json.dumps(params).encode()) for path, params in plain]
        out.append(("/members/params", b"\xff\xfe"))
        out.append(("/store", b"\x00"))
        return out


def scenario(tag: str) -> tuple[Generator, list[Block]]:
    """The smallest sequence that shows ``tag``'s divergence (all tags enabled)."""
    gen = Generator(0, frozenset(TAGS))
    gen.setup()
    block = gen.new_block()
    if tag == RENDER:
        script = Script(
            "def authorize(ctx):\n"
            '    s = str(["\\U0001fae8", "\\U0002ebf0"])\n'
            "    return allow(fee=len(s), note=s)\n",
            "str() of a list holding U+1FAE8 (Unicode 15.0) and U+2EBF0 (15.1)",
            frozenset({RENDER}),
        )
    elif tag == NAMED_ESCAPE:
        script = Script(
            "def authorize(ctx):\n"
            '    x = "\\N{SHAKING FACE}\\N{CJK UNIFIED IDEOGRAPH-2EBF0}"\n'
            "    return allow(fee=len(x))\n",
            "\\N{SHAKING FACE} (15.0) and \\N{CJK UNIFIED IDEOGRAPH-2EBF0} (15.1)",
            frozenset({NAMED_ESCAPE}),
        )
    elif tag == IDENTIFIER:
        script = Script(
            "\U0001e030 = 1\na\u200db = 2\n"
            "def authorize(ctx):\n    return allow(fee=\U0001e030 + a\u200db)\n",
            "identifiers U+1E030 (15.0) and a U+200D b (ID_Continue since 15.1)",
            frozenset({IDENTIFIER}),
        )
    elif tag == GOV_TEXT:
        action = tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org="ghost\U0001fae8\U0002ebf0"))
        block.txs.append(gen.proposal_tx(action))
        gen.new_block().txs.extend(gen.votes(block.txs[-1].creates))
        return gen, gen.blocks
    elif tag == LIMIT_SHRINK:
        block.txs.append(gen.proposal_tx(gen.set_params({"max_license_source_bytes": 2})))
        gen.new_block().txs.extend(gen.votes(block.txs[-1].creates))
        use = tx_pb2.Msg(
            use=tx_pb2.Use(
                model="acme/m0", version="1.0", purpose="research", quantity=1, max_fee=10**6
            )
        )
        gen.new_block().txs.append(gen.tx("uni-user", [use], "uni-user: use acme/m0@1.0"))
        return gen, gen.blocks
    elif tag == FEE_OVERFLOW:
        script = Script(
            "def authorize(ctx):\n    return allow(fee=2 ** 64 - 1)\n",
            "a fee of 2^64-1, used twice by the owner's own consumer",
            frozenset({FEE_OVERFLOW}),
        )
        deploy = [gen.deploy("acme", script, "probe"), gen.attach("acme/m0", "1.0", "acme/probe")]
        block.txs.append(gen.tx("acme-pub", deploy, f"acme-pub: deploy {script.label}"))
        use = tx_pb2.Msg(
            use=tx_pb2.Use(
                model="acme/m0", version="1.0", purpose="research", quantity=1, max_fee=2**64 - 1
            )
        )
        for _ in range(2):
            gen.new_block().txs.append(gen.tx("acme-all", [use], "acme-all: use acme/m0@1.0"))
        return gen, gen.blocks
    else:
        raise KeyError(f"no scenario for {tag!r}; tags: {', '.join(TAGS)}")
    block.txs.append(
        gen.tx(
            "acme-pub",
            [gen.deploy("acme", script, "probe"), gen.attach("acme/m0", "1.0", "acme/probe")],
            f"acme-pub: deploy {script.label}",
        )
    )
    use = tx_pb2.Msg(
        use=tx_pb2.Use(
            model="acme/m0", version="1.0", purpose="research", quantity=1, max_fee=10**6
        )
    )
    gen.new_block().txs.append(gen.tx("uni-user", [use], "uni-user: use acme/m0@1.0"))
    return gen, gen.blocks


def sequence(seed: int, n_blocks: int, enabled: frozenset[str], only: str = "") -> dict[str, Any]:
    """The whole sequence as JSON-able data: genesis, accounts, blocks and labels."""
    if only:
        gen, blocks = scenario(only)
    else:
        gen = Generator(seed, enabled)
        blocks = gen.generate(n_blocks)
    return {
        "seed": seed,
        "enabled": sorted(gen.enabled),
        "only": only,
        "genesis": gen.genesis(),
        "keys": {name: a.private_key.hex() for name, a in gen.accounts.items()},
        "blocks": [
            {
                "time": b.time,
                "txs": [t.to_json() for t in b.txs],
                "queries": [[path, data.hex()] for path, data in b.queries],
            }
            for b in blocks
        ],
    }


def kept_base(model: str) -> str:
    """The model a market list or buy names instead of an org's "m0": each org keeps its m0,
    the base its federated rounds open on without a fine-tune receipt (m_open_round)."""
    org, _, name = model.partition("/")
    return f"{org}/m1" if name == "m0" else model


def main(argv: Sequence[str]) -> int:
    """``xpy_blocks.py SEED BLOCKS OUT [TAG,...|-] [ONLY]``: write the sequence as JSON."""
    seed, n_blocks, out = int(argv[0]), int(argv[1]), Path(argv[2])
    tags = frozenset(t for t in (argv[3] if len(argv) > 3 else "").split(",") if t and t != "-")
    only = argv[4] if len(argv) > 4 else ""
    unknown = tags - set(TAGS)
    if unknown:
        print(f"unknown tags {sorted(unknown)}; known: {sorted(TAGS)}", file=sys.stderr)
        return 2
    out.write_text(json.dumps(sequence(seed, n_blocks, tags, only)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
