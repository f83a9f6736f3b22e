"""The engine's install checks and config editing."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.engine.config import set_values, toml_literal
from chain.engine.install import (
    ABCI_CLI_PACKAGE,
    BUILT_FROM,
    EngineError,
    find_cometbft,
    install_abci_cli,
)
from chain.engine.version import COMETBFT_MODULE, COMETBFT_VERSION

CONFIG = """# top comment
proxy_app = "tcp://127.0.0.1:26658"
moniker = "vm"

[rpc]
# the RPC address
laddr = "tcp://127.0.0.1:26657"

[p2p]
laddr = "tcp://0.0.0.0:26656"
persistent_peers = ""
addr_book_strict = true
"""


def test_set_values_rewrites_only_the_named_keys_in_their_sections(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    set_values(
        path, {"moniker": "node0", "rpc.laddr": "tcp://127.0.0.1:1", "p2p.addr_book_strict": False}
    )
    text = path.read_text()
    assert 'moniker = "node0"' in text
    assert 'laddr = "tcp://127.0.0.1:1"' in text
    assert 'laddr = "tcp://0.0.0.0:26656"' in text
    assert "addr_book_strict = false" in text
    assert "# the RPC address" in text


def test_set_values_refuses_a_key_the_file_lacks(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    with pytest.raises(KeyError, match=r"rpc\.nope"):
        set_values(path, {"rpc.nope": 1})
    assert path.read_text() == CONFIG


def test_toml_literals() -> None:
    assert toml_literal(True) == "true"
    assert toml_literal(7) == "7"
    assert toml_literal('a"b\\c') == '"a\\"b\\\\c"'


def test_a_missing_engine_says_what_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELGOV_COMETBFT", str(tmp_path / "cometbft"))
    with pytest.raises(EngineError, match="make setup"):
        find_cometbft()


def test_a_wrong_engine_version_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "cometbft"
    fake.write_text("#!/bin/sh\necho 0.37.4\n")
    fake.chmod(0o755)
    monkeypatch.setenv("MODELGOV_COMETBFT", str(fake))
    with pytest.raises(EngineError, match=f"0.37.4, modelgov needs {COMETBFT_VERSION}"):
        find_cometbft()


def test_the_installed_engine_is_the_pinned_one() -> None:
    assert find_cometbft().exists()


def test_abci_cli_built_from_the_pinned_module_is_reused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-go"))  # a rebuild would fail: no Go
    folder = tmp_path / "modelgov" / "abci-cli" / COMETBFT_VERSION
    folder.mkdir(parents=True)
    (folder / "abci-cli").write_text("")
    target = f"{COMETBFT_MODULE}/{ABCI_CLI_PACKAGE}@{COMETBFT_VERSION}"
    (folder / BUILT_FROM).write_text(target + "\n")
    assert install_abci_cli() == folder / "abci-cli"


@pytest.mark.parametrize("marker", [None, "github.com/other/module@v0.0.1"])
def test_abci_cli_of_another_build_is_rebuilt_and_needs_go(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, marker: str | None
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-go"))
    folder = tmp_path / "modelgov" / "abci-cli" / COMETBFT_VERSION
    folder.mkdir(parents=True)
    (folder / "abci-cli").write_text("")
    if marker is not None:
        (folder / BUILT_FROM).write_text(marker + "\n")
    with pytest.raises(EngineError, match="Go is not installed"):
        install_abci_cli()
