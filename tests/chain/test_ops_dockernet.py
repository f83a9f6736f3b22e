"""Choosing the docker testnet's images and engine, without a Docker engine.

tests/integration/test_docker_testnet.py runs all of it for real; here the decisions are checked
where a real engine cannot show them on one machine: with and without registries, as root and
not, with a process testnet still running on the same ports.
"""

from __future__ import annotations

import os
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from chain import testnet as net
from chain.ops import compose as dc
from chain.ops import dockernet

ROOT = Path(__file__).resolve().parents[2]
NO_REGISTRY = 'Get "https://registry-1.docker.io/v2/": no such host'


def _no_local_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> str:
        raise AssertionError("a local base was built although the registry answered")

    for name in ("local_python_base", "local_prometheus"):
        monkeypatch.setattr(dockernet, name, refuse)
    monkeypatch.setattr(dockernet, "local_python_build", lambda base: refuse())
    monkeypatch.setattr(dockernet, "local_go", lambda base: refuse())


def test_where_the_registries_answer_the_default_images_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pulled: list[str] = []

    def obtain(name: str) -> str:
        pulled.append(name)
        return ""

    monkeypatch.setattr(dockernet, "obtain", obtain)
    _no_local_builds(monkeypatch)
    bases = dockernet.choose_bases()
    assert bases.notes == ()
    assert bases.env() == dc.env_defaults()
    assert set(pulled) == {*dc.BASE_IMAGES.values(), dc.PROMETHEUS_IMAGE, dc.GRAFANA_IMAGE}


def test_where_they_do_not_local_bases_are_built_and_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dockernet, "obtain", lambda name: NO_REGISTRY)
    built: list[str] = []

    def local_python_base() -> str:
        built.append("base")
        return "b:1"

    monkeypatch.setattr(dockernet, "local_python_base", local_python_base)
    monkeypatch.setattr(dockernet, "local_python_build", lambda base: f"{base}+wheels")
    monkeypatch.setattr(dockernet, "local_go", lambda base: f"{base}+go")
    monkeypatch.setattr(dockernet, "local_prometheus", lambda: "p:1")
    bases = dockernet.choose_bases()
    assert built == ["base"]  # one debootstrap base under python, build and go
    assert bases.env() == {
        "COMPOSE_PROFILES": "",
        "MODELGOV_GO_IMAGE": "b:1+go",
        "MODELGOV_BUILD_IMAGE": "b:1+wheels",
        "MODELGOV_PYTHON_IMAGE": "b:1",
        "MODELGOV_PROMETHEUS_IMAGE": "p:1",
    }
    assert len(bases.notes) == 4
    said = "\n".join(bases.notes)
    for image in ("python:3.11", "golang:1.23", "prom/prometheus", "grafana/grafana"):
        assert f"{image}" in said and NO_REGISTRY in said, image
    assert "Grafana is not started" in said and "debootstrap" in said


def test_an_answering_engine_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[bool] = []
    monkeypatch.setattr(dockernet, "engine_problem", lambda: "")
    monkeypatch.setattr(dockernet, "install_tools", lambda: installed.append(True))
    monkeypatch.setattr(dockernet, "start_engine", lambda: pytest.fail("started another"))
    assert dockernet.ensure_engine() is None
    assert installed == [True]  # compose and debootstrap may still be missing


def test_without_an_engine_only_root_may_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockernet, "engine_problem", lambda: "Cannot connect to the daemon")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(dockernet, "install_tools", lambda: pytest.fail("installed as a user"))
    with pytest.raises(dockernet.DockerError) as refused:
        dockernet.ensure_engine()
    assert "needs root" in str(refused.value) and "\n" not in str(refused.value)


def test_without_a_client_the_problem_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert dockernet.engine_problem() == "the docker client is not installed"


def test_the_wheel_house_holds_every_requirement_at_this_environments_versions() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = dockernet.requirements()
    for line in data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]:
        assert line in wanted
    assert any(line.startswith("setuptools") for line in wanted)  # the image builds the package
    pins = dockernet.constraints()
    assert f"click=={metadata.version('click')}" in pins
    assert not any(pin.lower().startswith("modelgov==") for pin in pins)
    if sys.version_info[:2] == (3, 11):
        assert dockernet.wheel_python() == Path(sys.executable)


def test_up_refuses_while_the_process_testnet_runs_on_the_same_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    testnet = net.init(tmp_path / "net", 1, base_port=15656)
    monkeypatch.setattr(dockernet, "ensure_engine", lambda: None)
    monkeypatch.setattr(net, "node_processes", lambda directory, node: {"app": 1})
    monkeypatch.setattr(dockernet, "prepare_images", lambda d: pytest.fail("built images"))
    with pytest.raises(dockernet.DockerError) as refused:
        dockernet.up(Path(testnet.directory))
    assert "stop it first" in str(refused.value)
    assert (Path(testnet.directory) / dc.COMPOSE_FILE).exists()  # an old testnet gets the files


def test_cache_keys_name_their_inputs() -> None:
    assert dockernet._key("a", ("b",)) == dockernet._key("a", ("b",))
    assert dockernet._key("a", ("b",)) != dockernet._key("a", ("c",))
    assert dockernet.cache_dir().parts[-2:] == ("modelgov", "docker")
