"""Replay a generated block sequence on a fresh store and write what every block produced.

Run by ``xpy_compare`` in a fresh process per (Python, PYTHONHASHSEED), with the source tree
under test first on ``PYTHONPATH``::

    PYTHONPATH=TREE:tests/app:tests/app/crosspython python xpy_replay.py SEQUENCE.json OUT.jsonl DIR

The first line of OUT is the interpreter's description; then one JSON line per block of the
sequence (``block``, its index; ``height``, the height it was offered at) with the app hash,
ProcessProposal's answer, every tx result's consensus fields (code, codespace, gas_wanted,
gas_used, data), the validator updates, and apart from those the CheckTx codes, logs, infos,
events and query answers. A FinalizeBlock that raises is recorded as the block's ``crash``;
the app is then reopened on its committed state, as a restarted node would be, and the replay
goes on with the next block (the crashed block is dropped). Each transaction is signed here,
with the sender's next nonce read from the committed state, so a refused transaction never
shifts the nonces of the ones after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import traceback
import unicodedata
from pathlib import Path
from typing import Any, TextIO

from google.protobuf.timestamp_pb2 import Timestamp

from app.abci.modelgov_app import ModelgovApp
from app.core import crypto
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci
from app.pb.tendermint.crypto import keys_pb2
from app.store import MerkleStore

PROPOSER = b"\x01" * 20
OTHER_KEY = hashlib.sha256(b"not the sender's key").digest()


def describe() -> dict[str, Any]:
    """What this process runs: interpreter, Unicode database, libraries, hash seed, app path."""
    from importlib import metadata

    from google.protobuf.internal import api_implementation

    import app

    libraries = {}
    for name in ("protobuf", "plyvel", "coincurve"):
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libraries[name] = "?"
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "unicode": unicodedata.unidata_version,
        "hash_seed": os.environ.get("PYTHONHASHSEED", ""),
        "protobuf_api": api_implementation.Type(),
        "libraries": libraries,
        "app": str(Path(app.__file__).parent),
    }


def uvarint(value: int) -> bytes:
    """Protobuf's unsigned varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def signature_of(mode: str, private_key: bytes, body: bytes) -> bytes:
    """The envelope's signature under one of the generator's signature modes."""
    if mode == "other_key":
        return crypto.sign(OTHER_KEY, body)
    good = crypto.sign(private_key, body)
    if mode == "high_s":
        s = int.from_bytes(good[32:], "big")
        return good[:32] + (crypto.SECP256K1_ORDER - s).to_bytes(32, "big")
    if mode == "flip":
        return good[:10] + bytes([good[10] ^ 1]) + good[11:]
    if mode == "short":
        return good[:63]
    if mode == "none":
        return b""
    return good


class Replayer:
    """One app over one store, fed the sequence's blocks as the engine would."""

    def __init__(self, sequence: dict[str, Any], path: Path) -> None:
        self.sequence = sequence
        self.path = path
        self.keys = {name: bytes.fromhex(k) for name, k in sequence["keys"].items()}
        self.pubkeys = {name: crypto.public_key_of(k) for name, k in self.keys.items()}
        self.height = 0
        self.refs: dict[str, int] = {}  # proposal and round references -> the ids they got
        path.mkdir(parents=True, exist_ok=True)
        self.store = MerkleStore(path / "state.db")
        self.app = ModelgovApp(self.store)

    def reopen(self) -> None:
        """After a crash: a new app on the committed state, as a restarted node."""
        self.store.close()
        self.store = MerkleStore(self.path / "state.db")
        self.app = ModelgovApp(self.store)

    def init_chain(self) -> str:
        genesis = self.sequence["genesis"]
        response = self.app.init_chain(
            abci.RequestInitChain(
                chain_id=genesis["chain_id"],
                time=Timestamp(seconds=genesis["time"]),
                app_state_bytes=json.dumps(genesis["app_state"]).encode(),
                initial_height=1,
                validators=[
                    abci.ValidatorUpdate(
                        pub_key=keys_pb2.PublicKey(ed25519=bytes.fromhex(key)), power=power
                    )
                    for key, power in genesis["validators"]
                ],
            )
        )
        return response.app_hash.hex()

    def committed_nonce(self, account: str) -> int:
        """The sender's next nonce in the committed state (0 for an unknown account)."""
        address = crypto.address_of(self.pubkeys[account])
        response = self.app.query(
            abci.RequestQuery(
                path="/members/account", data=json.dumps({"address": address}).encode()
            )
        )
        if response.code != 0:
            return 0
        return state_pb2.Account.FromString(response.value).nonce

    def build(self, specs: list[dict[str, Any]]) -> tuple[list[bytes], list[list[Any]]]:
        """Sign the block's transactions as a client would: with the sender's next nonce, which
        advances only when CheckTx admits the transaction; the txs and their CheckTx answers."""
        base: dict[str, int] = {}
        used: dict[str, int] = {}
        txs, checks = [], []
        for spec in specs:
            if "raw" in spec:
                txs.append(bytes.fromhex(spec["raw"]))
                checks.append(self.check(txs[-1]))
                continue
            name = spec["account"]
            if name not in base:
                base[name] = self.committed_nonce(name)
            txs.append(self.sign(spec, base[name] + used.get(name, 0)))
            checks.append(self.check(txs[-1]))
            if checks[-1][0] == 0:
                used[name] = used.get(name, 0) + 1
        return txs, checks

    def sign(self, spec: dict[str, Any], nonce: int) -> bytes:
        """The envelope of ``spec``'s body with ``nonce`` (or the nonce fault it asks for)."""
        name, mode = spec["account"], spec["nonce"]
        if mode == "replay":
            nonce = nonce - 1 if nonce > 0 else nonce + 5
        elif mode == "gap":
            nonce += 1
        elif mode == "zero":
            nonce = 0
        field = bytes([0x18]) + uvarint(nonce) if nonce else b""
        body = bytes.fromhex(spec["head"]) + field + self.tail(spec)
        signature = signature_of(spec["signature"], self.keys[name], body)
        envelope = bytes([0x0A]) + uvarint(len(body)) + body
        if signature:
            envelope += bytes([0x12]) + uvarint(len(signature)) + signature
        return envelope + bytes.fromhex(spec["envelope_junk"])

    def tail(self, spec: dict[str, Any]) -> bytes:
        """The body after the nonce, with a referenced proposal or round id filled in."""
        tail = bytes.fromhex(spec["tail"])
        if not spec.get("patch"):
            return tail
        kind, field, ref = spec["patch"]
        body = tx_pb2.TxBody.FromString(tail)
        for msg in body.messages:
            if msg.WhichOneof("sum") == kind:
                setattr(getattr(msg, kind), field, self.refs.get(ref, 0))
        return body.SerializeToString()

    def remember(self, specs: list[dict[str, Any]], response: abci.ResponseFinalizeBlock) -> None:
        """The ids that this block's successful proposals and rounds got, by reference."""
        for spec, result in zip(specs, response.tx_results, strict=False):
            if not spec.get("creates") or result.code != 0:
                continue
            for event in result.events:
                if event.type in ("gov.proposal", "federated.round_opened"):
                    ids = [a.value for a in event.attributes if a.key == "id"]
                    if ids:
                        self.refs[spec["creates"]] = int(ids[0])

    def block(self, data: dict[str, Any]) -> dict[str, Any]:
        """CheckTx of each tx, ProcessProposal, FinalizeBlock, Commit and the block's queries."""
        txs, checks = self.build(data["txs"])
        record: dict[str, Any] = {"height": self.height + 1, "crash": None, "check": checks}
        time = Timestamp(seconds=data["time"])
        accepted = self.app.process_proposal(
            abci.RequestProcessProposal(txs=txs, height=self.height + 1, time=time)
        )
        record["accept"] = accepted.status == abci.ResponseProcessProposal.ACCEPT
        try:
            response = self.app.finalize_block(
                abci.RequestFinalizeBlock(
                    txs=txs, height=self.height + 1, time=time, proposer_address=PROPOSER
                )
            )
            self.app.commit(abci.RequestCommit())
        except Exception as exc:  # a node would stop here; record it and restart the app
            record["crash"] = f"{type(exc).__name__}: {str(exc)[:300]} [{where(exc)}]"
            self.reopen()
            return record
        self.height += 1
        self.remember(data["txs"], response)
        record.update(results(response))
        record["queries"] = [self.query(path, bytes.fromhex(raw)) for path, raw in data["queries"]]
        return record

    def check(self, tx: bytes) -> list[Any]:
        try:
            response = self.app.check_tx(abci.RequestCheckTx(tx=tx, type=abci.NEW))
        except Exception as exc:
            return ["raised", f"{type(exc).__name__}: {str(exc)[:200]}"]
        return [response.code, response.codespace]

    def query(self, path: str, data: bytes) -> list[Any]:
        try:
            response = self.app.query(abci.RequestQuery(path=path, data=data))
        except Exception as exc:
            return ["raised", f"{type(exc).__name__}: {str(exc)[:200]}"]
        value = hashlib.sha256(response.value).hexdigest()[:16]
        return [response.code, response.codespace, value, response.log]


def where(exc: BaseException) -> str:
    """The innermost frames of the app in a traceback, as file:line function."""
    frames = [
        f"{Path(f.filename).name}:{f.lineno} {f.name}"
        for f in traceback.extract_tb(exc.__traceback__)
        if "/app/" in f.filename
    ]
    return " < ".join(reversed(frames[-4:]))


def results(response: abci.ResponseFinalizeBlock) -> dict[str, Any]:
    """The block's answer: consensus fields and, apart, what people read."""
    return {
        "app_hash": response.app_hash.hex(),
        "txs": [
            [r.code, r.codespace, r.gas_wanted, r.gas_used, r.data.hex()]
            for r in response.tx_results
        ],
        "validators": [[v.pub_key.ed25519.hex(), v.power] for v in response.validator_updates],
        "logs": [r.log for r in response.tx_results],
        "infos": [r.info for r in response.tx_results],
        "events": [events(r.events) for r in response.tx_results],
        "block_events": events(response.events),
    }


def events(items: Any) -> list[Any]:
    return [[e.type, [[a.key, a.value, a.index] for a in e.attributes]] for e in items]


def replay(sequence_path: Path, out: TextIO, path: Path) -> None:
    """Write the description, the genesis hash and one line per block to ``out``."""
    sequence = json.loads(sequence_path.read_text())
    out.write(json.dumps(describe()) + "\n")
    replayer = Replayer(sequence, path)
    try:
        out.write(json.dumps({"height": 0, "app_hash": replayer.init_chain()}) + "\n")
        for index, data in enumerate(sequence["blocks"]):
            out.write(json.dumps({"block": index, **replayer.block(data)}) + "\n")
            out.flush()
    finally:
        replayer.store.close()


if __name__ == "__main__":
    with open(sys.argv[2], "w") as handle:
        replay(Path(sys.argv[1]), handle, Path(sys.argv[3]))
