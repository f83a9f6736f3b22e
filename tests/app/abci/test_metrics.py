"""The app's Prometheus metrics, read from a real ModelgovApp driven block by block.

Every request goes through the ABCI server's dispatch, so the observer sees exactly what a node
reports; each test's ``AppMetrics`` owns its registry, so no test sees another's counters.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from driver import Driver, make_account, publish, register, started

from app import APP_VERSION
from app.abci.application import BaseApplication
from app.abci.metrics import OTHER_MODELS, AppMetrics, error_name, message_kinds, start_exporter
from app.abci.server import AbciServer
from app.core.valuemap import from_data
from app.pb.modelgov.v1 import tx_pb2

MODEL = "uni/base"
PRICED = """
def authorize(ctx):
    if ctx.purpose == "redistribution":
        return deny("not licensed")
    return allow(fee=ctx.quantity * ctx.params["price"])
"""
OBSERVED = ("check_tx", "finalize_block", "commit", "process_proposal", "prepare_proposal")


def observed(driver: Driver) -> AppMetrics:
    """Route the driver's calls through the server's dispatch with the observer attached."""
    metrics = AppMetrics(driver.app)
    originals = SimpleNamespace(**{m: getattr(driver.app, m) for m in OBSERVED})
    server = AbciServer(cast(BaseApplication, originals), "tcp://127.0.0.1:0", metrics.observe)
    for method in OBSERVED:
        setattr(driver.app, method, _through(server, method))
    return metrics


def _through(server: AbciServer, method: str) -> Callable[[Any], Any]:
    def call(request: Any) -> Any:
        response = server._dispatch(method, request)
        assert response is not None
        return getattr(response, method)

    return call


def value(metrics: AppMetrics, name: str, **labels: str) -> float:
    """A sample's value (0 when the series does not exist yet)."""
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def deploy(name: str, source: str, **params: Any) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        deploy_license=tx_pb2.DeployLicense(name=name, source=source, params=from_data(params))
    )


def attach(license_id: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        attach_license=tx_pb2.AttachLicense(model=MODEL, version="1.0", license=license_id)
    )


def use(purpose: str = "inference", quantity: int = 3, max_fee: int = 1000) -> tx_pb2.Msg:
    body = tx_pb2.Use(
        model=MODEL, version="1.0", purpose=purpose, quantity=quantity, max_fee=max_fee
    )
    return tx_pb2.Msg(use=body)


@pytest.fixture
def driven(tmp_path: Path) -> Iterator[tuple[Driver, AppMetrics]]:
    """A started chain with metrics attached, then a market: register, publish, license."""
    driver = started(tmp_path)
    metrics = observed(driver)
    driver.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))
    driver.ok("uni-pub", deploy("ppu", PRICED, price=7))
    driver.ok("uni-pub", attach("uni/ppu"))
    yield driver, metrics
    driver.close()


def test_height_state_size_and_method_timings_follow_commits(
    driven: tuple[Driver, AppMetrics],
) -> None:
    driver, metrics = driven
    assert value(metrics, "modelgov_committed_height") == driver.height == 4
    stats = driver.store.stats()
    assert value(metrics, "modelgov_state_keys") == stats["keys"] > 0
    assert value(metrics, "modelgov_state_tree_nodes") == stats["nodes"] > 0
    for method in ("finalize_block", "commit", "process_proposal"):
        assert value(metrics, "modelgov_abci_method_seconds_count", method=method) == 3
    assert value(metrics, "modelgov_store_commit_seconds_count") == 3
    assert value(metrics, "modelgov_block_transactions_sum") == 3
    assert value(metrics, "modelgov_finalize_block_tx_seconds_count") == 3
    driver.block([])
    assert value(metrics, "modelgov_finalize_block_tx_seconds_count") == 3  # no txs: no per-tx
    assert value(metrics, "modelgov_block_transactions_bucket", le="0.0") == 1
    assert value(metrics, "modelgov_build_info", version="0.1.0", app_version=str(APP_VERSION)) == 1


def test_transactions_are_counted_by_kind_and_registered_error(
    driven: tuple[Driver, AppMetrics],
) -> None:
    driver, metrics = driven
    for kind in ("register_model", "publish_version", "deploy_license", "attach_license"):
        assert value(metrics, "modelgov_transactions_total", kind=kind, codespace="", error="ok")
    driver.run("uni-pub", register("uni", "base"))  # already registered
    driver.block([b"\x00garbage"], check_proposal=False)
    failed = [
        s
        for s in _series(metrics, "modelgov_transactions_total")
        if s["kind"] == "register_model" and s["error"] != "ok"
    ]
    assert len(failed) == 1 and failed[0]["codespace"] == "models"
    assert failed[0]["error"] not in ("unregistered", "ok")
    assert value(
        metrics, "modelgov_transactions_total", kind="none", codespace="tx", error="undecodable"
    )


def _series(metrics: AppMetrics, name: str) -> list[dict[str, str]]:
    return [
        dict(sample.labels)
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == name
    ]


def test_uses_pay_fees_write_receipts_use_gas_and_denials_have_reasons(
    driven: tuple[Driver, AppMetrics],
) -> None:
    driver, metrics = driven
    driver.ok("acme-user", use(quantity=3))
    driver.ok("acme-user", use(quantity=2))
    driver.run("acme-user", use(purpose="redistribution"))
    driver.run("acme-user", use(max_fee=1))
    receipt = {"model": MODEL, "purpose": "inference", "consumer_org": "acme", "licensor": "uni"}
    assert value(metrics, "modelgov_receipts_total", **receipt) == 2
    assert (
        value(metrics, "modelgov_fees_paid_credits_total", licensor="uni", consumer_org="acme")
        == 35
    )
    assert value(metrics, "modelgov_license_gas_count", model=MODEL) == 2
    assert value(metrics, "modelgov_license_gas_sum", model=MODEL) > 0
    assert value(metrics, "modelgov_use_denials_total", reason="denied") == 1
    assert value(metrics, "modelgov_use_denials_total", reason="fee_above_max") == 1
    assert (
        value(metrics, "modelgov_transactions_total", kind="use", codespace="usage", error="denied")
        == 1
    )
    assert value(metrics, "modelgov_models_registered_total", org="uni") == 1
    assert value(metrics, "modelgov_versions_published_total", model=MODEL) == 1
    assert value(metrics, "modelgov_licenses_deployed_total") == 1


def test_credit_transfers_and_check_tx_results(driven: tuple[Driver, AppMetrics]) -> None:
    driver, metrics = driven
    pay = tx_pb2.Msg(transfer_credits=tx_pb2.TransferCredits(to_org="uni", amount=40))
    driver.ok("acme-admin", pay)
    transferred = value(
        metrics, "modelgov_credits_transferred_total", from_org="acme", to_org="uni"
    )
    assert transferred == 40
    assert driver.check(driver.sign("acme-user", [use()])).code == 0
    stranger = make_account("stranger", "acme", "consumer")
    assert driver.check(driver.sign(stranger, [use()])).code != 0
    assert value(metrics, "modelgov_check_tx_total", codespace="", error="ok") == 1
    assert value(metrics, "modelgov_check_tx_total", codespace="tx", error="unknown_sender") == 1
    assert value(metrics, "modelgov_abci_method_seconds_count", method="check_tx") == 2


def test_labels_stay_bounded() -> None:
    assert error_name("usage", 4) == "denied"
    assert error_name("usage", 0) == "ok"
    assert error_name("nowhere", 99) == "unregistered"
    assert message_kinds("publish_version,use") == ["publish_version", "use"]
    assert message_kinds("") == ["none"]
    assert message_kinds("rm -rf /,<script>") == ["none"]


def test_model_labels_stop_at_their_cap(
    driven: tuple[Driver, AppMetrics], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member registering models without end adds no series past the cap: later models share
    one label, the earlier ones keep theirs."""
    driver, metrics = driven
    monkeypatch.setattr(metrics.model_label, "cap", 2)  # uni/base took the first
    for name in ("m1", "m2", "m3"):
        driver.ok("uni-pub", register("uni", name), publish(f"uni/{name}", "1.0"))
    for model in (MODEL, "uni/m1"):
        assert value(metrics, "modelgov_versions_published_total", model=model) == 1
    assert value(metrics, "modelgov_versions_published_total", model="uni/m2") == 0
    assert value(metrics, "modelgov_versions_published_total", model=OTHER_MODELS) == 2
    driver.ok("acme-user", use())
    assert value(metrics, "modelgov_license_gas_count", model=MODEL) == 1


def test_the_exporter_answers_over_http(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    driver = started(tmp_path)
    try:
        metrics = start_exporter(f"127.0.0.1:{port}", driver.app)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                text = reply.read().decode()
        finally:
            metrics.stop()
        assert "modelgov_committed_height 1.0" in text
        assert "modelgov_transactions_total" in text
    finally:
        driver.close()


def test_cpu_seconds_and_requests_split_recheck_from_first_checks(
    driven: tuple[Driver, AppMetrics],
) -> None:
    driver, metrics = driven
    tx = driver.sign("acme-user", [use()])
    assert driver.check(tx).code == 0
    driver.block([])  # the tx stays in the mempool: the engine checks it again after a block
    assert driver.check(tx, recheck=True).code == 0
    driver.block([])
    assert driver.check(tx, recheck=True).code == 0
    assert value(metrics, "modelgov_abci_requests_total", method="check_tx") == 1
    assert value(metrics, "modelgov_abci_requests_total", method="recheck_tx") == 2
    for method in ("check_tx", "recheck_tx", "finalize_block", "commit"):
        assert value(metrics, "modelgov_abci_cpu_seconds_total", method=method) > 0
    assert value(metrics, "modelgov_abci_requests_total", method="commit") == 5
