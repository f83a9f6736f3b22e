"""State -> export -> genesis -> InitChain of a new chain gives back the same records, key for key.

Two rich states are exported: the one the recorded blocks leave (``recorded/``, 200 blocks of
every message kind with hostile values) and ``genesis_scenario``'s (the record kinds those
blocks do not leave: claims, manifests, consents, removals, retired keys, a named validator,
open rounds and proposals). Each export goes through JSON text into a fresh app's InitChain,
with the exported validators as the engine's and the next height as ``initial_height``. Every
key and value under every prefix must be the same: with the same chain id the new genesis app
hash is the old chain's app hash, and blocks after it compute the same app hashes on both
chains; with another chain id only the meta key (the chain id) differs.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driver import Driver, register, started, timestamp
from genesis_scenario import KEY_KINDS, exported, rich_chain

from app import machine
from app.abci.modelgov_app import ModelgovApp
from app.core import query
from app.core.env import BlockEnv
from app.core.errors import BAD_QUERY
from app.core.genesis import GenesisError
from app.core.meta import CHAIN_ID_KEY
from app.core.valuemap import from_data
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import keys_pb2
from app.state import Overlay, Reader
from app.store import MerkleStore

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "recorded" / "blocks.json.gz"
REPLAY = HERE / "crosspython" / "xpy_replay.py"


def records(state: Reader, prefix: bytes = b"") -> dict[bytes, bytes]:
    return dict(state.iterate(prefix))


def engine_validators(app_state: dict[str, Any]) -> list[abci.ValidatorUpdate]:
    """The genesis validators an export names, as the engine would send them."""
    return [
        abci.ValidatorUpdate(
            pub_key=keys_pb2.PublicKey(ed25519=base64.b64decode(v["pubkey"])),
            power=int(v["power"]),
        )
        for v in app_state["members"]["validators"]
    ]


def start_from(
    path: Path, app_state: dict[str, Any], chain_id: str, height: int
) -> tuple[ModelgovApp, abci.ResponseInitChain]:
    """A new app over a fresh store after InitChain of ``app_state`` (through JSON text)."""
    app = ModelgovApp(MerkleStore(path / "state.db"))
    response = app.init_chain(
        abci.RequestInitChain(
            chain_id=chain_id,
            app_state_bytes=json.dumps(app_state).encode(),
            validators=engine_validators(app_state),
            initial_height=height + 1,
            time=timestamp(0),
        )
    )
    return app, response


def assert_same_records(old: Reader, new: Reader, skip: tuple[bytes, ...] = ()) -> None:
    """Every key and value under every domain prefix, compared prefix by prefix."""
    for name, prefix in machine.PREFIXES.items():
        before = {k: v for k, v in records(old, prefix).items() if k not in skip}
        after = {k: v for k, v in records(new, prefix).items() if k not in skip}
        missing = sorted(set(before) - set(after))[:5]
        extra = sorted(set(after) - set(before))[:5]
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])[:5]
        assert not (missing or extra or changed), f"{name}: {missing=} {extra=} {changed=}"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MerkleStore]:
    """The store the recorded blocks leave, replayed in a fresh process."""
    work = tmp_path_factory.mktemp("recorded")
    sequence = work / "blocks.json"
    sequence.write_bytes(gzip.decompress(RECORDED.read_bytes()))
    paths = [str(HERE.parents[1]), str(HERE), str(HERE / "crosspython")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONHASHSEED": "0"}
    command = [sys.executable, str(REPLAY), str(sequence), str(work / "out"), str(work / "store")]
    subprocess.run(command, env=env, check=True, timeout=600)
    store = MerkleStore(work / "store" / "state.db")
    yield store
    store.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    driver = rich_chain(tmp_path_factory.mktemp("scenario"))
    yield driver
    driver.close()


def test_the_states_hold_every_kind_of_record(recorded: MerkleStore, scenario: Driver) -> None:
    kinds = {k[:2] for k in records(recorded)} | {k[:2] for k in records(scenario.store)}
    assert kinds == KEY_KINDS


def test_the_export_is_json_in_genesis_order_and_the_same_twice(recorded: MerkleStore) -> None:
    exported = machine.export_genesis(recorded)
    assert tuple(exported) == machine.GENESIS_SECTIONS
    assert json.loads(json.dumps(exported)) == exported
    assert machine.export_genesis(recorded) == exported
    machine.parse_genesis(exported)


@pytest.mark.parametrize("which", ["recorded", "scenario"])
def test_a_new_chain_from_an_export_has_the_same_app_hash(
    which: str, recorded: MerkleStore, scenario: Driver, tmp_path: Path
) -> None:
    old = recorded if which == "recorded" else scenario.store
    chain_id = machine.chain_id(old)
    app, response = start_from(tmp_path, machine.export_genesis(old), chain_id, old.height)
    assert_same_records(old, app.pending)
    assert response.app_hash == old.root
    app.store.close()


def test_another_chain_id_changes_only_the_meta_key(scenario: Driver, tmp_path: Path) -> None:
    old = scenario.store
    app, response = start_from(tmp_path, machine.export_genesis(old), "modelgov-next", old.height)
    assert_same_records(old, app.pending, skip=(CHAIN_ID_KEY,))
    assert app.pending.get(CHAIN_ID_KEY) == b"modelgov-next"
    assert response.app_hash != old.root
    app.store.close()


def test_the_new_chain_continues_as_the_old_one(tmp_path: Path) -> None:
    """Blocks after the export (a proposal's period ends, a transaction, a round's deadline
    nears) compute the same app hashes on the old chain and on the chain started from it."""
    old = rich_chain(tmp_path / "old")
    new = Driver(tmp_path / "new", accounts=old.accounts)
    try:
        exported = json.loads(json.dumps(machine.export_genesis(old.store)))
        new.app.init_chain(
            abci.RequestInitChain(
                chain_id=old.chain_id,
                app_state_bytes=json.dumps(exported).encode(),
                validators=engine_validators(exported),
                initial_height=old.height + 1,
            )
        )
        new.height, new.time = old.height, old.time
        for txs in ([], [old.sign("uni-pub", [register("uni", "after")])], [], [], [], []):
            assert new.block(txs).app_hash == old.block(txs).app_hash
        assert old.height == new.height
    finally:
        old.close()
        new.close()


def test_validator_records_must_be_the_engines(scenario: Driver, tmp_path: Path) -> None:
    exported = machine.export_genesis(scenario.store)
    app = ModelgovApp(MerkleStore(tmp_path / "state.db"))
    with pytest.raises(GenesisError) as refused:
        app.init_chain(
            abci.RequestInitChain(
                chain_id="c",
                app_state_bytes=json.dumps(exported).encode(),
                validators=[
                    abci.ValidatorUpdate(pub_key=keys_pb2.PublicKey(ed25519=b"\x07" * 32), power=5)
                ],
            )
        )
    assert refused.value.field == "members.validators"
    app.store.close()


def test_the_default_genesis_is_every_section_empty() -> None:
    default = machine.default_genesis()
    assert tuple(default) == machine.GENESIS_SECTIONS
    with pytest.raises(GenesisError) as refused:
        machine.parse_genesis(default)
    assert refused.value.field == "orgs"  # a consortium needs an organisation
    default["orgs"] = [{"id": "ab", "name": "A B", "kind": "academic"}]
    parsed = machine.parse_genesis(default)
    assert [o.id for o in parsed.orgs] == ["ab"]


def test_app_state_that_is_not_json_is_a_genesis_error(tmp_path: Path) -> None:
    app = ModelgovApp(MerkleStore(tmp_path / "state.db"))
    with pytest.raises(GenesisError) as refused:
        app.init_chain(abci.RequestInitChain(chain_id="c", app_state_bytes=b"{"))
    assert refused.value.field == "app_state"
    app.store.close()


# --- /genesis/records: a domain's raw records, page by page ------------------------------------


def paged(driver: Driver, domain: str, limit: int) -> tuple[dict[bytes, bytes], int]:
    """Every record of ``domain`` read through /genesis/records; and how many pages it took."""
    found: dict[bytes, bytes] = {}
    after, pages = "", 0
    while True:
        answer = driver.query(
            "/genesis/records", {"domain": domain, "after": after, "limit": limit}
        )
        assert answer.code == 0, answer.log
        page = state_pb2.Page.FromString(answer.value)
        pages += 1
        for item in page.items:
            entry = state_pb2.StoreEntry.FromString(item)
            found[entry.key] = entry.value
        if not page.next:
            return found, pages
        after = page.next


@pytest.mark.parametrize("limit", [1, 7, 200])
def test_paging_through_every_domain_reads_every_record(scenario: Driver, limit: int) -> None:
    for domain, prefix in machine.PREFIXES.items():
        found, pages = paged(scenario, domain, limit)
        assert found == records(scenario.store, prefix), domain
        assert pages == max(1, -(-len(found) // limit))


def test_a_page_stops_at_its_byte_bound(tmp_path: Path) -> None:
    driver = started(tmp_path)
    try:
        source = "def authorize(ctx):\n    return allow(fee=0)\n" + "#" * 15_000 + "\n"
        for i in range(80):
            deploy = tx_pb2.DeployLicense(name=f"big{i}", source=source, params=from_data({}))
            driver.ok("uni-pub", tx_pb2.Msg(deploy_license=deploy))
        answer = driver.query("/genesis/records", {"domain": "licenses", "limit": 200})
        page = state_pb2.Page.FromString(answer.value)
        size = sum(len(item) for item in page.items)
        assert page.next and query.MAX_PAGE_BYTES <= size < query.MAX_PAGE_BYTES + 20_000
        assert paged(driver, "licenses", 200)[0] == records(driver.store, b"\x03")
    finally:
        driver.close()


BAD_RECORDS_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("no-domain", {}),
    ("unknown-domain", {"domain": "weights"}),
    ("domain-not-text", {"domain": 3}),
    ("after-not-hex", {"domain": "models", "after": "zz"}),
    ("after-odd-length", {"domain": "models", "after": "020"}),
    ("after-upper-case", {"domain": "models", "after": "026D"}),
    ("after-not-text", {"domain": "models", "after": 2}),
    ("after-other-domain", {"domain": "models", "after": "0161"}),
    ("after-too-long", {"domain": "models", "after": "02" * (machine.MAX_CURSOR_KEY_BYTES + 1)}),
    ("after-non-ascii-digits", {"domain": "models", "after": "02\u0661\u0662"}),
    ("limit-zero", {"domain": "models", "limit": 0}),
]


@pytest.mark.parametrize(
    "params", [p for _, p in BAD_RECORDS_QUERIES], ids=[n for n, _ in BAD_RECORDS_QUERIES]
)
def test_bad_records_queries_are_refused(chain: Driver, params: dict[str, Any]) -> None:
    answer = chain.query("/genesis/records", params)
    assert (answer.codespace, answer.code) == (BAD_QUERY.codespace, BAD_QUERY.code), answer.log


# --- whatever a genesis holds: refused naming a field, or written and run --------------------

ODD_VALUES: list[Any] = [
    None,
    [],
    {},
    "x",
    "",
    -1,
    0,
    2**64,
    True,
    1.5,
    "\ud800",
    "a\x00b",
    {"a": 1},
    [1],
    "-1",
    "18446744073709551616",
    "AAAA",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        yield from _paths(inner, (*prefix, key))


def test_a_mutated_export_is_refused_with_a_field_or_runs(tmp_path: Path) -> None:
    """Seeded mutations of an export (a value of another type or range anywhere, an entry
    gone): parsing raises nothing but GenesisError, and what passes is written and runs blocks
    (proposals' and rounds' ends) without an exception."""
    base = exported()
    paths = list(_paths(base))
    rng = random.Random(11)
    with MerkleStore(tmp_path / "state.db") as empty:
        for _ in range(400):
            state = copy.deepcopy(base)
            *parents, last = rng.choice(paths)
            target: Any = state
            for part in parents:
                target = target[part]
            if rng.random() < 0.1:
                del target[last]
            else:
                target[last] = rng.choice(ODD_VALUES)
            try:
                parsed = machine.parse_genesis(state)
            except GenesisError:
                continue
            written = Overlay(empty)
            for name, domain in machine.GENESIS:
                domain.init(written, parsed.parts[name])
            for height in (1, 45, 20_000):
                machine.finalize_block(Overlay(written), BlockEnv("c", height, 1_800_000_000), [])
