"""Safe loading: malicious pickles never run, digests are checked before any byte is parsed."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chain.weights.digest import WeightsError, digest_of_bytes, hash_path
from chain.weights.torch_io import (
    UnsafeWeightsError,
    check_loadable,
    detect_format,
    load_state_dict,
    save_state_dict,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


class SystemPayload:
    """Unpickling this runs ``touch MARKER`` through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch '{self.marker}'",)


class ExecPayload:
    """Unpickling this runs Python that writes MARKER through builtins.exec."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


PAYLOADS: dict[str, type[SystemPayload | ExecPayload]] = {
    "os.system": SystemPayload,
    "builtins.exec": ExecPayload,
}


def write_malicious(torch: Any, path: Path, payload: object, how: str) -> None:
    """Save ``payload`` next to a real tensor, the way an attacker would ship it."""
    obj = {"weight": torch.zeros(2), "bias": payload}
    if how == "torch.save":
        torch.save(obj, path)
    else:
        protocol = int(how.removeprefix("pickle-p"))
        path.write_bytes(pickle.dumps(obj, protocol=protocol))


@pytest.mark.parametrize("payload_name", sorted(PAYLOADS))
def test_the_payloads_are_live(tmp_path: Path, payload_name: str) -> None:
    """Control: calling what __reduce__ returns does create the marker, so its absence below
    means the payload never ran (and not that it was harmless)."""
    marker = tmp_path / "control-marker"
    function, args = PAYLOADS[payload_name](marker).__reduce__()
    function(*args)
    assert marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("how", ["torch.save", "pickle-p2", "pickle-p5"])
@pytest.mark.parametrize("payload_name", sorted(PAYLOADS))
def test_a_malicious_pickle_is_refused_and_never_runs(
    torch: Any, tmp_path: Path, payload_name: str, how: str
) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "model.pt"
    write_malicious(torch, path, PAYLOADS[payload_name](marker), how)
    with pytest.raises(UnsafeWeightsError, match=r"re-save it with torch\.save") as refused:
        check_loadable(path)
    if how != "pickle-p5":  # protocol 5 is refused at its first opcode, before any GLOBAL
        assert "references code that loading would run" in str(refused.value)
    with pytest.raises(UnsafeWeightsError):
        load_state_dict(path, hash_path(path).digest)  # the right digest does not make it safe
    with pytest.raises(UnsafeWeightsError):
        load_state_dict(path)
    assert not marker.exists()


def test_a_digest_mismatch_is_refused_before_loading(
    torch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "model.pt"
    write_malicious(torch, path, SystemPayload(marker), "torch.save")
    actual = hash_path(path).digest
    wrong = digest_of_bytes(b"something else")

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load was called before the digest was checked")

    monkeypatch.setattr(torch, "load", no_load)
    with pytest.raises(WeightsError) as refused:
        load_state_dict(path, wrong)
    assert not isinstance(refused.value, UnsafeWeightsError)
    assert actual in str(refused.value) and wrong in str(refused.value)
    with pytest.raises(WeightsError, match="not a weights digest"):
        load_state_dict(path, "sha256:nothex")
    assert not marker.exists()


def test_a_plain_state_dict_saved_with_torch_save_loads(torch: Any, tmp_path: Path) -> None:
    state = {"layer.weight": torch.randn(3, 4), "layer.bias": torch.arange(3)}
    path = tmp_path / "model.pth"
    torch.save(state, path)
    assert check_loadable(path) == "pytorch"
    loaded = load_state_dict(path, hash_path(path).digest)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[name], state[name]) for name in state)


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(lambda t: [t.zeros(2)], id="list"),
        pytest.param(lambda t: {"model": {"w": t.zeros(2)}, "epoch": 3}, id="checkpoint"),
        pytest.param(lambda t: t.zeros(2), id="tensor"),
        pytest.param(lambda t: {1: t.zeros(2)}, id="int-key"),
    ],
)
def test_a_torch_file_that_is_not_a_state_dict_is_refused(
    torch: Any, tmp_path: Path, obj: Any
) -> None:
    path = tmp_path / "model.pt"
    torch.save(obj(torch), path)
    with pytest.raises(UnsafeWeightsError, match="not a state dict"):
        check_loadable(path)


@pytest.mark.parametrize("data", [b"", os.urandom(4096), b"PK\x03\x04 truncated zip"])
def test_a_torch_file_that_is_garbage_is_refused(torch: Any, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    with pytest.raises(UnsafeWeightsError, match="re-save"):
        check_loadable(path)


def test_safetensors_round_trip(torch: Any, tmp_path: Path) -> None:
    shared = torch.randn(4, 4)
    state = {
        "embed.weight": shared,
        "head.weight": shared,  # tied weights share memory
        "view": torch.arange(12.0).reshape(3, 4).t(),  # not contiguous
        "half": torch.ones(2, dtype=torch.bfloat16),
    }
    path = tmp_path / "model.safetensors"
    save_state_dict(state, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    assert check_loadable(path) == "safetensors"
    loaded = load_state_dict(path, hash_path(path).digest)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[name], state[name]) for name in state)
    assert loaded["half"].dtype == torch.bfloat16


def test_save_refuses_what_is_not_a_tensor(torch: Any, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="names to tensors"):
        save_state_dict({"w": [1, 2]}, tmp_path / "m.safetensors")  # type: ignore[dict-item]


def test_a_directory_of_shards_merges(torch: Any, tmp_path: Path) -> None:
    root = tmp_path / "model"
    (root / "shards").mkdir(parents=True)
    save_state_dict({"a": torch.ones(2)}, root / "shards" / "model-00001.safetensors")
    save_state_dict({"b": torch.zeros(3)}, root / "shards" / "model-00002.safetensors")
    (root / "config.json").write_text('{"hidden": 2}')
    assert detect_format(root) == "safetensors"
    assert check_loadable(root) == "safetensors"
    loaded = load_state_dict(root, hash_path(root).digest)
    assert sorted(loaded) == ["a", "b"]
    assert torch.equal(loaded["b"], torch.zeros(3))


def test_a_directory_with_a_tensor_twice_is_refused(torch: Any, tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    save_state_dict({"a": torch.ones(2), "b": torch.ones(1)}, root / "one.safetensors")
    save_state_dict({"a": torch.zeros(2)}, root / "two.safetensors")
    with pytest.raises(WeightsError, match="'a' is in both"):
        load_state_dict(root)


def test_a_directory_of_mixed_formats_is_refused(torch: Any, tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    save_state_dict({"a": torch.ones(2)}, root / "one.safetensors")
    torch.save({"b": torch.ones(2)}, root / "two.pt")
    assert detect_format(root) == "other"
    with pytest.raises(UnsafeWeightsError, match="single format"):
        load_state_dict(root)
    with pytest.raises(UnsafeWeightsError, match="single format"):
        check_loadable(root)


def test_a_directory_with_one_malicious_shard_is_refused(torch: Any, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    root = tmp_path / "model"
    root.mkdir()
    torch.save({"a": torch.ones(2)}, root / "good.pt")
    write_malicious(torch, root / "evil.pt", ExecPayload(marker), "torch.save")
    with pytest.raises(UnsafeWeightsError, match="references code"):
        check_loadable(root)
    with pytest.raises(UnsafeWeightsError, match="references code"):
        load_state_dict(root, hash_path(root).digest)
    assert not marker.exists()


# ------------------------------------------------------------------------------ without torch


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("m.safetensors", "safetensors"),
        ("m.SafeTensors", "safetensors"),
        ("m.pt", "pytorch"),
        ("m.pth", "pytorch"),
        ("pytorch_model.bin", "pytorch"),
        ("m.onnx", "onnx"),
        ("m.gguf", "gguf"),
        ("m.json", "other"),
        ("safetensors", "other"),
    ],
)
def test_detect_format_of_a_file(tmp_path: Path, name: str, fmt: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    assert detect_format(tmp_path / name) == fmt


def test_detect_format_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.gguf").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.gguf").write_bytes(b"x")
    (tmp_path / "README.md").write_bytes(b"x")
    assert detect_format(tmp_path) == "gguf"
    (tmp_path / "c.onnx").write_bytes(b"x")
    assert detect_format(tmp_path) == "other"


def test_a_directory_without_weight_files_is_other(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_bytes(b"x")
    assert detect_format(tmp_path) == "other"
    with pytest.raises(UnsafeWeightsError, match="not weights"):
        check_loadable(tmp_path)


def test_safetensors_check_needs_no_torch_and_refuses_garbage(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    good = tmp_path / "good.safetensors"
    save_file({"w": np.ones((2, 2), dtype=np.float32)}, str(good))
    assert check_loadable(good) == "safetensors"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(good.read_bytes()[:-3])  # truncated: the header promises more bytes
    with pytest.raises(UnsafeWeightsError, match="not a valid safetensors file"):
        check_loadable(bad)
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(UnsafeWeightsError, match="not a valid safetensors file"):
        check_loadable(bad)


def test_gguf_needs_its_magic(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert check_loadable(path) == "gguf"
    path.write_bytes(b"\x80\x04pickle")
    with pytest.raises(UnsafeWeightsError, match="GGUF magic"):
        check_loadable(path)


def test_a_file_of_no_weights_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(UnsafeWeightsError, match="not weights"):
        check_loadable(path)


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, chain.weights.torch_io; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
