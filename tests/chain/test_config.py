"""The user's client settings: stored per user in the XDG config directory, read by every
command that was not told otherwise, refused when unknown or malformed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain import config
from chain.cli.main import cli
from chain.keys import default_keyring
from chain.rpc import DEFAULT_NODE, default_node


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MODELGOV_NODE", raising=False)
    monkeypatch.delenv("MODELGOV_HOME", raising=False)
    return tmp_path


def test_set_node_is_used_by_later_commands_and_the_environment_wins(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_node() == DEFAULT_NODE
    done = CliRunner().invoke(cli, ["config", "set", "node", "http://10.0.0.5:26657"])
    assert done.exit_code == 0, done.output
    path = home / "xdg" / "modelgov" / "config.json"
    assert json.loads(path.read_text()) == {"node": "http://10.0.0.5:26657"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert default_node() == "http://10.0.0.5:26657"
    monkeypatch.setenv("MODELGOV_NODE", "http://127.0.0.1:1")
    assert default_node() == "http://127.0.0.1:1"
    shown = CliRunner().invoke(cli, ["config", "show", "-o", "json"])
    assert json.loads(shown.output)["settings"] == {"node": "http://10.0.0.5:26657"}
    CliRunner().invoke(cli, ["config", "set", "node", ""])
    assert config.load() == {}


def test_keyring_and_output_settings(home: Path) -> None:
    config.set_value("keyring", str(home / "ring"))
    assert default_keyring() == home / "ring"
    config.set_value("output", "json")
    assert CliRunner().invoke(cli, ["config", "get", "output"]).output.strip() == "json"


REFUSED = [
    ("colour", "red", 2),
    ("output", "yaml", 2),
    ("node", "localhost:26657", 2),
    ("keyring-backend", "os", 2),
]


@pytest.mark.parametrize(("name", "value", "code"), REFUSED)
def test_unknown_settings_and_bad_values_are_refused(name: str, value: str, code: int) -> None:
    done = CliRunner().invoke(cli, ["config", "set", name, value])
    assert done.exit_code == code, done.output
    assert config.load() == {}


def test_a_broken_file_is_reported_not_fatal(home: Path) -> None:
    path = home / "xdg" / "modelgov" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("[1, 2")
    assert config.get("node") == "" and default_node() == DEFAULT_NODE
    with pytest.raises(config.ConfigError, match="unreadable"):
        config.load()
