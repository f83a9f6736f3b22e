"""Prometheus scrape configuration and Grafana dashboards with their provisioning, for a testnet.

``write_monitoring`` puts under ``DIR/monitoring/``:

    prometheus.yml                               scrapes every engine (job cometbft) and app
                                                 (job modelgov-app) of the testnet, label node
    grafana/dashboards/chain-health.json         height, block interval, rounds, validators...
    grafana/dashboards/consortium-activity.json  uses per model, fees, denials, receipts, gas
    grafana/provisioning/datasources/prometheus.yml, grafana/provisioning/dashboards/modelgov.yml

The YAML files are written as JSON, which every YAML parser reads. The docker compose testnet
gets its own copies with container hostnames (``chain.ops.compose``); the dashboards are shared.

Every node executes every block, so each app reports the same ledger counters: the dashboards
take ``max without (instance, node)`` before summing, so a consortium total is not counted once
per node.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chain.plan import NodeSpec, Testnet

ENGINE_JOB, APP_JOB, WEIGHTS_JOB = "cometbft", "modelgov-app", "modelgov-weights"
DATASOURCE_UID = "prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
PROMETHEUS_PORT, GRAFANA_PORT = 9090, 3000
ONE = "max without (instance, node)"  # one value per ledger series, whichever node reports it

Panel = tuple[str, str, str, list[tuple[str, str]]]  # (kind, title, unit, [(expr, legend)])

CHAIN_HEALTH: list[Panel] = [
    ("stat", "Height", "none", [("max(cometbft_consensus_height)", "height")]),
    (
        "timeseries",
        "Height per node",
        "none",
        [
            ("cometbft_consensus_height", "{{node}} engine"),
            ("modelgov_committed_height", "{{node}} app"),
        ],
    ),
    (
        "timeseries",
        "Block interval",
        "s",
        [
            (
                "rate(cometbft_consensus_block_interval_seconds_sum[1m])"
                " / rate(cometbft_consensus_block_interval_seconds_count[1m])",
                "{{node}}",
            )
        ],
    ),
    ("timeseries", "Consensus rounds", "none", [("cometbft_consensus_rounds", "{{node}}")]),
    (
        "timeseries",
        "Validators",
        "none",
        [
            ("cometbft_consensus_validators", "{{node}} validators"),
            ("cometbft_consensus_validators_power", "{{node}} power"),
        ],
    ),
    (
        "timeseries",
        "Missing and byzantine validators",
        "none",
        [
            ("cometbft_consensus_missing_validators", "{{node}} missing"),
            ("cometbft_consensus_byzantine_validators", "{{node}} byzantine"),
        ],
    ),
    ("timeseries", "Mempool size", "none", [("cometbft_mempool_size", "{{node}}")]),
    ("timeseries", "Peers", "none", [("cometbft_p2p_peers", "{{node}}")]),
    (
        "timeseries",
        "Transactions per block",
        "none",
        [("cometbft_consensus_num_txs", "{{node}}")],
    ),
    (
        "timeseries",
        "ABCI method time p99 (engine side)",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (le, method) "
                "(rate(cometbft_abci_connection_method_timing_seconds_bucket[1m])))",
                "{{method}}",
            )
        ],
    ),
    (
        "timeseries",
        "ABCI method time p99 (app side)",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (le, method) "
                "(rate(modelgov_abci_method_seconds_bucket[1m])))",
                "{{method}}",
            )
        ],
    ),
    (
        "timeseries",
        "Store commit time p99 and per-tx FinalizeBlock time p99",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (le, node) "
                "(rate(modelgov_store_commit_seconds_bucket[1m])))",
                "{{node}} commit",
            ),
            (
                "histogram_quantile(0.99, sum by (le, node) "
                "(rate(modelgov_finalize_block_tx_seconds_bucket[5m])))",
                "{{node}} per tx",
            ),
        ],
    ),
    (
        "timeseries",
        "State size",
        "none",
        [
            ("modelgov_state_keys", "{{node}} keys"),
            ("modelgov_state_tree_nodes", "{{node}} tree nodes"),
        ],
    ),
    ("stat", "Targets up", "none", [("sum by (job) (up)", "{{job}}")]),
]

CONSORTIUM_ACTIVITY: list[Panel] = [
    (
        "timeseries",
        "Uses per model (per second)",
        "none",
        [(f"sum by (model) ({ONE} (rate(modelgov_receipts_total[5m])))", "{{model}}")],
    ),
    (
        "bargauge",
        "Uses per model (last hour)",
        "none",
        [(f"sum by (model) ({ONE} (increase(modelgov_receipts_total[1h])))", "{{model}}")],
    ),
    (
        "stat",
        "Receipts (last hour)",
        "none",
        [(f"sum({ONE} (increase(modelgov_receipts_total[1h])))", "receipts")],
    ),
    (
        "timeseries",
        "Fees paid by licensor (credits, last hour)",
        "none",
        [
            (
                f"sum by (licensor) ({ONE} (increase(modelgov_fees_paid_credits_total[1h])))",
                "{{licensor}}",
            )
        ],
    ),
    (
        "timeseries",
        "Denials by reason (last hour)",
        "none",
        [(f"sum by (reason) ({ONE} (increase(modelgov_use_denials_total[1h])))", "{{reason}}")],
    ),
    (
        "bargauge",
        "Top consumers (uses, last hour)",
        "none",
        [
            (
                f"topk(10, sum by (consumer_org) ({ONE} (increase(modelgov_receipts_total[1h]))))",
                "{{consumer_org}}",
            )
        ],
    ),
    (
        "timeseries",
        "License gas per allowed use",
        "none",
        [
            (
                "histogram_quantile(0.9, sum by (le) "
                f"({ONE} (rate(modelgov_license_gas_bucket[5m]))))",
                "p90",
            ),
            (
                f"sum({ONE} (rate(modelgov_license_gas_sum[5m])))"
                f" / sum({ONE} (rate(modelgov_license_gas_count[5m])))",
                "mean",
            ),
        ],
    ),
    (
        "timeseries",
        "Transactions by kind and result (per second)",
        "none",
        [
            (
                f"sum by (kind, error) ({ONE} (rate(modelgov_transactions_total[5m])))",
                "{{kind}} {{error}}",
            )
        ],
    ),
    (
        "stat",
        "Models registered, versions published, licenses deployed (since the apps started)",
        "none",
        [
            (f"sum({ONE} (modelgov_models_registered_total))", "models"),
            (f"sum({ONE} (modelgov_versions_published_total))", "versions"),
            (f"sum({ONE} (modelgov_licenses_deployed_total))", "licenses"),
        ],
    ),
]

DASHBOARDS = {
    "chain-health": ("modelgov: chain health", CHAIN_HEALTH),
    "consortium-activity": ("modelgov: consortium activity", CONSORTIUM_ACTIVITY),
}


def dashboard(uid: str, title: str, panels: list[Panel]) -> dict[str, Any]:
    """A Grafana dashboard (schema 39): panels two per row, every target on the datasource."""
    return {
        "uid": f"modelgov-{uid}",
        "title": title,
        "tags": ["modelgov", "cometbft"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "templating": {"list": []},
        "panels": [_panel(i, *p) for i, p in enumerate(panels)],
    }


def _panel(index: int, kind: str, title: str, unit: str, queries: list[tuple[str, str]]) -> Any:
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": e, "legendFormat": lg}
            for n, (e, lg) in enumerate(queries)
        ],
    }


def expressions(board: dict[str, Any]) -> Iterator[str]:
    """Every PromQL expression of a dashboard's panels."""
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield target["expr"]


def prometheus_config(
    nodes: tuple[NodeSpec, ...],
    host: Callable[[NodeSpec], str],
    scrape_interval: str = "5s",
) -> dict[str, Any]:
    """Scrape every engine (job cometbft), app (job modelgov-app) and weights server (job
    modelgov-weights), labelled node=<name>."""

    def job(name: str, port: Callable[[NodeSpec], int]) -> dict[str, Any]:
        targets = [{"targets": [f"{host(n)}:{port(n)}"], "labels": {"node": n.name}} for n in nodes]
        return {"job_name": name, "static_configs": targets}

    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [
            job(ENGINE_JOB, lambda n: n.ports.engine_metrics),
            job(APP_JOB, lambda n: n.ports.app_metrics),
            job(WEIGHTS_JOB, lambda n: n.ports.weights),
        ],
    }


def datasource_provisioning(prometheus_url: str) -> dict[str, Any]:
    """Grafana's datasource provisioning: Prometheus, the default, under a fixed uid."""
    source = {
        "name": "Prometheus",
        "type": "prometheus",
        "uid": DATASOURCE_UID,
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": True,
        "editable": False,
    }
    return {"apiVersion": 1, "datasources": [source]}


def dashboard_provisioning(path: str) -> dict[str, Any]:
    """Grafana's dashboard provider: load every JSON file under ``path`` into folder modelgov."""
    provider = {
        "name": "modelgov",
        "folder": "modelgov",
        "type": "file",
        "disableDeletion": False,
        "updateIntervalSeconds": 30,
        "options": {"path": path},
    }
    return {"apiVersion": 1, "providers": [provider]}


def write_yaml(path: Path, data: Any, what: str) -> None:
    """Write ``data`` as YAML (JSON text, which YAML parsers read) under a one-line header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# {what}; written by `modelgov testnet init` (YAML as JSON).\n"
    path.write_text(header + json.dumps(data, indent=2) + "\n")


def read_yaml(path: Path) -> Any:
    """Read a file ``write_yaml`` wrote (its header comment lines are skipped)."""
    text = "".join(ln for ln in path.read_text().splitlines(True) if not ln.startswith("#"))
    return json.loads(text)


def write_monitoring(testnet: Testnet, scrape_interval: str = "5s") -> Path:
    """Write prometheus.yml, the dashboards and Grafana's provisioning; returns the folder."""
    folder = Path(testnet.directory) / "monitoring"
    write_yaml(
        folder / "prometheus.yml",
        prometheus_config(testnet.nodes, lambda n: "127.0.0.1", scrape_interval),
        f"Prometheus for testnet {testnet.chain_id}",
    )
    boards = folder / "grafana" / "dashboards"
    boards.mkdir(parents=True, exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        text = json.dumps(dashboard(uid, title, panels), indent=2)
        (boards / f"{uid}.json").write_text(text + "\n")
    write_provisioning(
        folder / "grafana" / "provisioning",
        f"http://127.0.0.1:{PROMETHEUS_PORT}",
        str(boards),
    )
    return folder


def write_provisioning(folder: Path, prometheus_url: str, dashboards_path: str) -> None:
    """Grafana's provisioning files: the datasource and the dashboard provider."""
    write_yaml(
        folder / "datasources" / "prometheus.yml",
        datasource_provisioning(prometheus_url),
        "Grafana datasource",
    )
    write_yaml(
        folder / "dashboards" / "modelgov.yml",
        dashboard_provisioning(dashboards_path),
        "Grafana dashboard provider",
    )
