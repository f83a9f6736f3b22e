"""The user's side on a real two-node testnet: the Python API pushes in one transaction, resolves
aliases and latest, pulls through the digest cache (the second pull downloads nothing), loads
tensors, uses a version and gets its receipt; the CLI pulls by alias, refuses without leaving an
empty directory, loads MODEL@VERSION; the notebook-style example runs start to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nets import running

import modelgov
from app.pb.modelgov.v1 import tx_pb2
from chain import testnet as net

pytestmark = pytest.mark.integration
BASE_PORT = int(os.environ.get("MODELGOV_USERSIDE_TEST_PORT", "14656"))
ROOT = Path(__file__).resolve().parents[2]
OPEN = ROOT / "genesis" / "licenses" / "open.lic"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[net.Testnet]:
    with running(tmp_path_factory.mktemp("userside"), 2, BASE_PORT) as testnet:
        yield testnet


def api(network: net.Testnet, key: str, cache: Path, node: int = 0) -> modelgov.Client:
    url = network.nodes[node].rpc_url
    return modelgov.Client(url, key, keyring=network.keyring.directory, cache_dir=cache)


def cli(network: net.Testnet, *args: str, env: dict[str, str] | None = None) -> Any:
    run = [sys.executable, "-c", "from chain.cli.main import main; main()", *args]
    full = {**os.environ, **(env or {})}
    return subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=ROOT, env=full)


def folder(tmp: Path, seed: int = 3) -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    tmp.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    save_file({"w": rng.standard_normal((32, 32)).astype("float32")}, str(tmp / "m.safetensors"))
    (tmp / "README.md").write_text("# card\n")
    return tmp


@pytest.fixture(scope="module")
def published(network: net.Testnet, tmp_path_factory: pytest.TempPathFactory) -> modelgov.Version:
    tmp = tmp_path_factory.mktemp("api")
    owner = api(network, "northwind-researcher", tmp / "cache")
    license_id = owner.deploy_license("open", OPEN)
    version = owner.push(
        folder(tmp / "w"), "apimlp", "1.0", license=license_id, metrics={"acc": "0.75"}
    )
    alias = tx_pb2.SetAlias(model=version.model, alias="stable", version="1.0")
    owner.node.send(owner.key, [tx_pb2.Msg(set_alias=alias)])
    return version


def test_push_published_a_complete_version_in_one_transaction(
    network: net.Testnet, published: modelgov.Version, tmp_path: Path
) -> None:
    owner = api(network, "northwind-researcher", tmp_path)
    assert published.model == "northwind-uni/apimlp" and published.metrics == {"acc": "0.75"}
    assert published.card_digest.startswith("sha256:") and published.license
    found = owner.node.rpc.tx(bytes.fromhex(published.pb.tx_hash.hex()))
    assert found is not None
    kinds = [e["type"] for e in found["tx_result"]["events"]]
    assert "model.registered" in kinds and "model.provider" in kinds, kinds
    assert owner.store_url() == network.nodes[0].weights_url


def test_pull_through_the_cache_load_and_use(
    network: net.Testnet, published: modelgov.Version, tmp_path: Path
) -> None:
    user = api(network, "acme-ml", tmp_path / "cache", node=1)
    user.node.wait_for_height(api(network, "acme-ml", tmp_path, 0).node.height())
    receipt = user.use("northwind-uni/apimlp@stable", "research")
    assert receipt.ref == published.ref and receipt.id >= 1 and receipt.consumer_org == "acme-ai"
    first = user.fetch("northwind-uni/apimlp@latest")
    assert not first.cached and first.digest == published.digest and first.provider
    again = user.fetch("northwind-uni/apimlp@stable")
    assert again.cached and again.path == first.path
    tensors = user.load("northwind-uni/apimlp@1.0")
    assert list(tensors) == ["w"] and tuple(tensors["w"].shape) == (32, 32)
    copied = user.pull("northwind-uni/apimlp@1.0", to=tmp_path / "copy")
    assert (copied / "README.md").read_text() == "# card\n"


def test_the_cli_pulls_by_alias_and_leaves_nothing_when_refused(
    network: net.Testnet, published: modelgov.Version, tmp_path: Path
) -> None:
    node = ["--node", network.nodes[0].rpc_url, "--keyring", str(network.keyring.directory)]
    owner = api(network, "northwind-researcher", tmp_path)
    with pytest.warns(UserWarning, match="will have no license"):
        owner.push(folder(tmp_path / "w2", seed=4), "apimlp", "2.0")
    refused = cli(
        network,
        "model",
        "pull",
        "northwind-uni/apimlp@2.0",
        "--to",
        str(tmp_path / "no"),
        *node,
        "--from",
        "acme-ml",
    )
    assert refused.returncode == 1, refused.stderr
    assert not (tmp_path / "no").exists(), "a refused pull leaves no empty directory"
    env = {"MODELGOV_CACHE": str(tmp_path / "clicache")}
    pulled = cli(
        network,
        "model",
        "pull",
        "northwind-uni/apimlp@stable",
        *node,
        "--from",
        "acme-ml",
        "-o",
        "json",
        env=env,
    )
    assert pulled.returncode == 0, pulled.stderr
    report = json.loads(pulled.stdout)
    assert report["ref"] == published.ref and report["cached"] is False
    loaded = cli(
        network,
        "model",
        "load",
        "northwind-uni/apimlp@stable",
        *node,
        "--from",
        "acme-ml",
        "-o",
        "json",
        env=env,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["digest"] == published.digest


def test_a_deprecated_version_warns_when_pulled(
    network: net.Testnet, published: modelgov.Version, tmp_path: Path
) -> None:
    owner = api(network, "northwind-researcher", tmp_path / "c")
    status = tx_pb2.SetVersionStatus(
        model=published.model,
        version="1.0",
        status=tx_pb2.VERSION_STATUS_DEPRECATED,
        reason="use 2.0",
    )
    owner.node.send(owner.key, [tx_pb2.Msg(set_version_status=status)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        owner.pull(f"{published.model}@1.0")
    assert any("deprecated: use 2.0" in str(w.message) for w in caught)


def test_the_example_notebook_runs(network: net.Testnet, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MODELGOV_NODE": network.nodes[0].rpc_url,
        "MODELGOV_KEYRING": str(network.keyring.directory),
        "MODELGOV_CACHE": str(tmp_path / "cache"),
        "MODELGOV_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "examples/quickstart.py"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "True" in done.stdout and "layer.weight" in done.stdout


def test_honest_health_and_per_node_stop_and_start(network: net.Testnet) -> None:
    """Last in this module: it halts the chain for a while (two validators, one stopped)."""
    import time

    directory = network.directory
    healthy = cli(network, "testnet", "status", "--dir", directory, "-o", "json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert json.loads(healthy.stdout)["healthy"] is True
    app_log = Path(network.nodes[1].home) / "logs" / "app.log"
    assert "committed height" in app_log.read_text()
    stopped = cli(network, "testnet", "stop", "--dir", directory, "--node", network.nodes[1].name)
    assert stopped.returncode == 0 and "stopped 3 processes" in stopped.stdout, stopped.stdout
    assert "shutting down at height" in app_log.read_text()
    down = cli(network, "testnet", "status", "--dir", directory, "--max-age", "2")
    assert down.returncode == 3 and "not running" in down.stdout, down.stdout
    time.sleep(4)  # node0 alone has half the power: no new block
    stalled = cli(network, "node", "status", "--node", network.nodes[0].rpc_url, "--max-age", "2")
    assert stalled.returncode == 5 and "no new block" in stalled.stdout, stalled.stdout
    started = cli(network, "testnet", "start", "--dir", directory, "--node", network.nodes[1].name)
    assert started.returncode == 0, started.stdout + started.stderr
    again = cli(network, "testnet", "status", "--dir", directory)
    assert again.returncode == 0, again.stdout
