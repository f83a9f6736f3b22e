"""``modelgov genesis export``: a chain's records as the genesis.json of a new chain, read from a
stopped node's state.db (``--home``) or through a node (``--node``, the /genesis/records pages;
here a node whose RPC is answered in-process by an app over the same store).

The state is the one the recorded blocks leave (``tests/app/recorded``: 200 blocks of every
message kind). The exported file must pass ``genesis validate``, and InitChain of its
``app_state`` (with its validators and initial height) must give the exported app hash.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app import machine
from app.abci.modelgov_app import ModelgovApp
from app.core.genesis import GenesisError
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import keys_pb2
from app.store import MerkleStore
from chain.cli.main import cli
from chain.genesis import Records, check_genesis_file
from chain.rpc import RpcClient

ROOT = Path(__file__).resolve().parents[2]
APP_TESTS = ROOT / "tests" / "app"
BASE = {
    "genesis_time": "2024-01-01T00:00:00Z",
    "chain_id": "test-chain-x",
    "initial_height": "1",
    "consensus_params": {"block": {"max_bytes": "22020096", "max_gas": "-1"}},
    "app_hash": "",
}
VALIDATOR_PUBKEY = base64.b64encode(b"\x05" * 32).decode()
PRIV_VALIDATOR_KEY = {
    "address": "A" * 40,
    "pub_key": {"type": "tendermint/PubKeyEd25519", "value": VALIDATOR_PUBKEY},
    "priv_key": {"type": "tendermint/PrivKeyEd25519", "value": ""},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app home (``state.db``) holding the state the recorded blocks leave."""
    work = tmp_path_factory.mktemp("recorded")
    sequence = work / "blocks.json"
    sequence.write_bytes(gzip.decompress((APP_TESTS / "recorded" / "blocks.json.gz").read_bytes()))
    paths = [str(ROOT), str(APP_TESTS), str(APP_TESTS / "crosspython")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONHASHSEED": "0"}
    replay = APP_TESTS / "crosspython" / "xpy_replay.py"
    command = [sys.executable, str(replay), str(sequence), str(work / "out"), str(work / "app")]
    subprocess.run(command, env=env, check=True, timeout=600)
    return work / "app"


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(BASE))
    return path


def committed(home: Path) -> tuple[int, bytes]:
    with MerkleStore(home / "state.db") as store:
        return store.height, store.root


def started_from(doc: dict[str, Any], path: Path) -> bytes:
    """The genesis app hash of a fresh app started from a genesis document."""
    path.mkdir()
    with MerkleStore(path / "state.db") as store:
        response = ModelgovApp(store).init_chain(
            abci.RequestInitChain(
                chain_id=doc["chain_id"],
                app_state_bytes=json.dumps(doc["app_state"]).encode(),
                initial_height=int(doc["initial_height"]),
                validators=[
                    abci.ValidatorUpdate(
                        pub_key=keys_pb2.PublicKey(ed25519=base64.b64decode(v["pub_key"]["value"])),
                        power=int(v["power"]),
                    )
                    for v in doc["validators"]
                ],
            )
        )
    return response.app_hash


def export(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["genesis", "export", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def test_export_from_a_stopped_nodes_home(home: Path, base_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    result = export("--home", str(home), "--base", str(base_file), "-o", str(out))
    height, root = committed(home)
    assert f"at height {height}" in result.stderr and root.hex().upper() in result.stderr
    doc = check_genesis_file(out)
    assert doc["chain_id"] == "modelgov-xpy" and doc["initial_height"] == str(height + 1)
    assert doc["consensus_params"] == BASE["consensus_params"]
    assert len(doc["validators"]) == len(doc["app_state"]["members"]["validators"]) == 2
    assert started_from(doc, tmp_path / "new") == root
    validated = CliRunner().invoke(cli, ["genesis", "validate", str(out)])
    assert validated.exit_code == 0, validated.output


def test_another_chain_id_keeps_every_record_but_the_id(
    home: Path, base_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "genesis.json"
    export("--home", str(home), "--base", str(base_file), "--chain-id", "next-1", "-o", str(out))
    doc = json.loads(out.read_text())
    assert doc["chain_id"] == "next-1"
    assert started_from(doc, tmp_path / "new") != committed(home)[1]


class FakeNode:
    """The RPC of a node whose app runs in-process over ``home``'s store; ``moving`` makes
    each abci_info report another app hash (a chain committing blocks)."""

    def __init__(self, home: Path, moving: bool = False) -> None:
        self.store = MerkleStore(home / "state.db")
        self.app = ModelgovApp(self.store)
        self.moving = moving
        self.infos = 0
        self.pages = 0

    def call(self, method: str, **params: Any) -> Any:
        if method == "abci_info":
            self.infos += 1
            info = self.app.info(abci.RequestInfo())
            app_hash = info.last_block_app_hash + (bytes([self.infos]) if self.moving else b"")
            return {
                "response": {
                    "last_block_height": str(info.last_block_height),
                    "last_block_app_hash": base64.b64encode(app_hash).decode(),
                }
            }
        if method == "abci_query":
            self.pages += 1
            request = abci.RequestQuery(
                path=params["path"], data=bytes.fromhex(params["data"]), height=0
            )
            answer = self.app.query(request)
            return {
                "response": {
                    "code": answer.code,
                    "log": answer.log,
                    "codespace": answer.codespace,
                    "value": base64.b64encode(answer.value).decode(),
                    "key": base64.b64encode(answer.key).decode(),
                    "height": str(answer.height),
                }
            }
        if method == "genesis":
            return {"genesis": BASE}
        raise AssertionError(f"unexpected RPC {method}")


@pytest.fixture
def node(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNode]:
    fake = FakeNode(home)
    monkeypatch.setattr(
        RpcClient, "call", lambda _self, method, **params: fake.call(method, **params)
    )
    yield fake
    fake.store.close()


def test_export_through_a_node(node: FakeNode, tmp_path: Path) -> None:
    through = tmp_path / "node.json"
    export("--node", "http://127.0.0.1:1", "-o", str(through))
    doc = check_genesis_file(through)
    assert node.pages > len(machine.PREFIXES)  # more than one page for some domain
    assert doc["app_state"] == json.loads(json.dumps(machine.export_genesis(node.store)))
    assert doc["initial_height"] == str(node.store.height + 1)
    assert doc["consensus_params"] == BASE["consensus_params"]  # the node's /genesis
    assert started_from(doc, tmp_path / "new") == node.store.root


def test_export_to_standard_output(node: FakeNode) -> None:
    result = export("--node", "http://127.0.0.1:1")
    assert json.loads(result.stdout)["app_state"]["orgs"]


def test_a_state_that_keeps_changing_is_not_exported(node: FakeNode, base_file: Path) -> None:
    node.moving = True
    with pytest.raises(GenesisError) as refused:
        export("--node", "http://127.0.0.1:1", "--base", str(base_file))
    assert refused.value.field == "--node"
    assert node.infos == 6  # three reads, each between two looks at the app hash


def test_a_running_nodes_state_is_not_opened(home: Path, base_file: Path) -> None:
    with MerkleStore(home / "state.db"), pytest.raises(GenesisError, match="node stopped"):
        export("--home", str(home), "--base", str(base_file))


def test_a_home_without_state_or_base_is_refused(tmp_path: Path, home: Path) -> None:
    with pytest.raises(GenesisError, match=r"no state\.db"):
        export("--home", str(tmp_path))
    with pytest.raises(GenesisError) as refused:
        export("--home", str(home))
    assert refused.value.field == "--base"


def test_an_export_is_a_consortium_for_genesis_build(
    home: Path, base_file: Path, tmp_path: Path
) -> None:
    """genesis build keeps an export's sections, chain id and initial height, and names its own
    validators: the records of the new set replace the exported ones."""
    exported = tmp_path / "exported.json"
    export("--home", str(home), "--base", str(base_file), "-o", str(exported))
    key = tmp_path / "priv_validator_key.json"
    key.write_text(json.dumps(PRIV_VALIDATOR_KEY))
    built = tmp_path / "built.json"
    arguments = ["--consortium", str(exported), "--base", str(base_file)]
    arguments += ["--validator-key", str(key), "--out", str(built)]
    result = CliRunner().invoke(cli, ["genesis", "build", *arguments])
    assert result.exit_code == 0, result.output
    doc = check_genesis_file(built)
    before = json.loads(exported.read_text())
    assert doc["initial_height"] == before["initial_height"]
    assert doc["chain_id"] == before["chain_id"]
    records = doc["app_state"]["members"]["validators"]
    assert records == [{"pubkey": VALIDATOR_PUBKEY, "power": "10", "name": "validator0"}]
    assert {k: v for k, v in doc["app_state"].items() if k != "members"} == {
        k: v for k, v in before["app_state"].items() if k != "members"
    }


def test_validator_records_that_are_not_the_validators_are_refused(
    home: Path, base_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "genesis.json"
    export("--home", str(home), "--base", str(base_file), "-o", str(out))
    doc = json.loads(out.read_text())
    doc["validators"] = doc["validators"][:1]
    out.write_text(json.dumps(doc))
    with pytest.raises(GenesisError) as refused:
        check_genesis_file(out)
    assert refused.value.field == "members.validators"


def test_records_in_memory_iterate_like_the_store(home: Path) -> None:
    with MerkleStore(home / "state.db") as store:
        records = Records(dict(store.iterate(b"")))
        for prefix, after in [
            (b"\x02", None),
            (b"\x02v", b"\x02v"),
            (b"\x02v", b"\x01"),
            (b"\x02", b"\x02m~"),
            (b"\x09", None),
            (b"", b"\x04"),
        ]:
            assert list(records.iterate(prefix, after)) == list(store.iterate(prefix, after))
