"""The monitoring files init writes: scrape targets, dashboards, provisioning, valid PromQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chain import testnet as net
from chain.ops.monitoring import DATASOURCE_UID, expressions, read_yaml, write_yaml

BASE_PORT = 19656


@pytest.fixture(scope="module")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> net.Testnet:
    return net.init(tmp_path_factory.mktemp("monitoring") / "net", 3, base_port=BASE_PORT)


def boards(testnet: net.Testnet) -> dict[str, Any]:
    folder = Path(testnet.directory) / "monitoring" / "grafana" / "dashboards"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_prometheus_scrapes_every_engine_app_and_weights_server_by_node(
    testnet: net.Testnet,
) -> None:
    config = read_yaml(Path(testnet.directory) / "monitoring" / "prometheus.yml")
    jobs = {j["job_name"]: j["static_configs"] for j in config["scrape_configs"]}
    assert set(jobs) == {"cometbft", "modelgov-app", "modelgov-weights"}
    ports = (("cometbft", "engine_metrics"), ("modelgov-app", "app_metrics"))
    for job, port in (*ports, ("modelgov-weights", "weights")):
        found = {(c["labels"]["node"], c["targets"][0]) for c in jobs[job]}
        wanted = {(n.name, f"127.0.0.1:{getattr(n.ports, port)}") for n in testnet.nodes}
        assert found == wanted


def test_dashboards_are_grafana_json_on_the_provisioned_datasource(testnet: net.Testnet) -> None:
    found = boards(testnet)
    assert set(found) == {"chain-health", "consortium-activity"}
    for board in found.values():
        assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == DATASOURCE_UID
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(refs) == len(set(refs))
    health = " ".join(expressions(found["chain-health"]))
    for metric in (
        "cometbft_consensus_height",
        "cometbft_consensus_block_interval_seconds",
        "cometbft_consensus_rounds",
        "cometbft_consensus_validators",
        "cometbft_consensus_missing_validators",
        "cometbft_mempool_size",
        "cometbft_p2p_peers",
        "cometbft_abci_connection_method_timing_seconds",
    ):
        assert metric in health, metric
    activity = " ".join(expressions(found["consortium-activity"]))
    for metric in ("receipts_total", "fees_paid", "use_denials", "consumer_org", "license_gas"):
        assert metric in activity, metric
    provisioning = Path(testnet.directory) / "monitoring" / "grafana" / "provisioning"
    source = read_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"][0]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, "prometheus")
    provider = read_yaml(provisioning / "dashboards" / "modelgov.yml")["providers"][0]
    assert Path(provider["options"]["path"]).glob("*.json")


def test_every_dashboard_expression_parses_as_promql(testnet: net.Testnet, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is missing: run scripts/install-prometheus")
    exprs = [e for b in boards(testnet).values() for e in expressions(b)]
    rules = [{"record": f"modelgov:check_{i}", "expr": e} for i, e in enumerate(exprs)]
    write_yaml(tmp_path / "rules.yml", {"groups": [{"name": "dashboards", "rules": rules}]}, "t")
    checked = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
