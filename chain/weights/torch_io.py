"""Safe loading of weights: check before pushing, verify the digest before loading.

Weights are read with safetensors or with ``torch.load(weights_only=True)``, whose unpickler
refuses every global outside torch's allowlist, so a pickle that would run code when loaded is
refused instead of run. Nothing here ever unpickles with ``weights_only=False``.

torch and safetensors are imported inside the functions: ``chain`` imports without torch (it is
the optional ``modelgov[torch]`` extra), and checking a safetensors file needs only safetensors.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chain.weights.digest import WeightsError, check_digest, hash_path, list_files

if TYPE_CHECKING:
    import torch

SUFFIX_FORMATS = {
    ".safetensors": "safetensors",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".bin": "pytorch",
    ".onnx": "onnx",
    ".gguf": "gguf",
}
LOADABLE_FORMATS = ("safetensors", "pytorch")
GGUF_MAGIC = b"GGUF"
RESAVE_HINT = (
    "re-save it with torch.save(model.state_dict(), PATH) from a trusted environment, "
    "or convert it to safetensors"
)


class UnsafeWeightsError(WeightsError):
    """A pickle that would run code when loaded, or a file that is not weights."""


def detect_format(path: Path) -> str:
    """The weights format of a file by its suffix, or of a directory by its weight files.

    A file is ``safetensors`` (``.safetensors``), ``pytorch`` (``.pt``, ``.pth``, ``.bin``),
    ``onnx``, ``gguf`` or ``other``. A directory has the format of its weight files when they
    all share one, else ``other``; files of no weights format (configs, tokenizers) are ignored.

    Raises
    ------
    WeightsError
        For a directory that ``list_files`` refuses (links, special files, no file).
    """
    path = Path(path)
    if not path.is_dir():
        return _file_format(path)
    formats = {_file_format(file) for _, file in list_files(path)} - {"other"}
    return formats.pop() if len(formats) == 1 else "other"


def check_loadable(path: Path) -> str:
    """Check that weights can be loaded safely before they are pushed; their format.

    safetensors headers must parse (``safe_open``); torch files must load with
    ``torch.load(weights_only=True, map_location="cpu")`` into a state dict of tensors; a GGUF
    file must start with its magic. ONNX files are not parsed (no ONNX parser is a dependency).

    Raises
    ------
    UnsafeWeightsError
        For a pickle that references globals ``weights_only`` forbids (code that loading would
        run), a file that does not parse, a torch file that is not a state dict, or a path of no
        single weights format.
    WeightsError
        When a torch file is checked without torch installed.
    """
    fmt = _loadable_format(path, allowed=(*LOADABLE_FORMATS, "gguf", "onnx"))
    for file in _weight_files(Path(path), fmt):
        if fmt == "safetensors":
            _check_safetensors(file)
        elif fmt == "pytorch":
            _load_torch(file)
        elif fmt == "gguf":
            _check_gguf(file)
    return fmt


def load_state_dict(path: Path, expected_digest: str | None = None) -> dict[str, torch.Tensor]:
    """Verify the weights' digest, then load them as one state dict on the CPU.

    The digest is checked before any byte is parsed. A directory merges the state dicts of its
    weight files. Even a file swapped after hashing is only read by safetensors or
    ``torch.load(weights_only=True)``, so it still cannot run code.

    Raises
    ------
    WeightsError
        When ``expected_digest`` is malformed or differs from the weights' digest (both are
        named), when two files of a directory hold the same tensor name, or without torch.
    UnsafeWeightsError
        As ``check_loadable`` does, for safetensors and torch files; other formats are refused.
    """
    path = Path(path)
    if expected_digest is not None:
        verify_digest(path, expected_digest)
    fmt = _loadable_format(path, allowed=LOADABLE_FORMATS)
    merged: dict[str, torch.Tensor] = {}
    origin: dict[str, Path] = {}
    for file in _weight_files(path, fmt):
        part = _load_safetensors(file) if fmt == "safetensors" else _load_torch(file)
        for name, tensor in part.items():
            if name in merged:
                raise WeightsError(f"tensor {name!r} is in both {origin[name]} and {file}")
            merged[name] = tensor
            origin[name] = file
    return merged


def save_state_dict(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Write a state dict as a safetensors file, atomically (a temporary file, then a rename).

    Tensors are moved to the CPU and made contiguous; tensors that share memory (tied weights)
    are copied, since safetensors stores each tensor on its own.

    Raises
    ------
    WeightsError
        When a name is not a string or a value not a tensor, or without torch.
    """
    th = _import_torch()
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, th.Tensor):
            raise WeightsError(f"a state dict maps names to tensors, not {name!r} to {value!r}")
        tensor = value.detach().cpu().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen:
            tensor = tensor.clone()
        seen.add(pointer)
        tensors[name] = tensor
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        save_file(tensors, str(partial), metadata={"format": "pt"})
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def verify_digest(path: Path, expected_digest: str) -> None:
    """Refuse weights whose digest is not ``expected_digest``.

    Raises
    ------
    WeightsError
        When ``expected_digest`` is malformed or the weights hash to something else.
    """
    check_digest(expected_digest)
    actual = hash_path(path).digest
    if actual != expected_digest:
        raise WeightsError(
            f"{path} hashes to {actual}, not the expected {expected_digest}: refusing to load it"
        )


def _file_format(path: Path) -> str:
    """The format of one file by its suffix (case-insensitive)."""
    return SUFFIX_FORMATS.get(path.suffix.lower(), "other")


def _loadable_format(path: Path, allowed: tuple[str, ...]) -> str:
    """The format of ``path`` when it is one of ``allowed``; refuse it otherwise."""
    fmt = detect_format(path)
    if fmt not in allowed:
        kinds = ", ".join(allowed)
        raise UnsafeWeightsError(
            f"{path} is not weights of one format this can load ({kinds}); "
            "a directory must hold weight files of a single format"
        )
    return fmt


def _weight_files(path: Path, fmt: str) -> list[Path]:
    """The files of format ``fmt`` that make up ``path``, in manifest order."""
    if not path.is_dir():
        return [path]
    return [file for _, file in list_files(path) if _file_format(file) == fmt]


def _import_torch() -> Any:
    """The torch module, or a WeightsError saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise WeightsError("torch weights need torch: pip install 'modelgov[torch]'") from exc
    return torch


def _check_safetensors(file: Path) -> None:
    """Parse a safetensors header (offsets, dtypes, shapes) without loading any tensor."""
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="numpy") as handle:
            handle.keys()
    except Exception as exc:  # safetensors raises its own error type for every malformed file
        raise UnsafeWeightsError(f"{file} is not a valid safetensors file: {exc}") from exc


def _load_safetensors(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU."""
    _import_torch()
    from safetensors.torch import load_file

    try:
        return load_file(str(file), device="cpu")
    except Exception as exc:  # safetensors raises its own error type for every malformed file
        raise UnsafeWeightsError(f"{file} is not a valid safetensors file: {exc}") from exc


def _load_torch(file: Path) -> dict[str, torch.Tensor]:
    """A torch state dict, loaded with ``weights_only=True``; refuse anything else."""
    th = _import_torch()
    try:
        loaded = th.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _refusal_reason(str(exc))
        if "GLOBAL" in reason:
            raise UnsafeWeightsError(
                f"{file} is refused: its pickle references code that loading would run "
                f"({reason}); {RESAVE_HINT}"
            ) from None
        raise UnsafeWeightsError(
            f"{file} is refused by torch.load(weights_only=True) ({reason}); {RESAVE_HINT}"
        ) from None
    except Exception as exc:  # a truncated or foreign file fails in many ways
        raise UnsafeWeightsError(
            f"{file} is not a loadable torch file ({exc!r}); {RESAVE_HINT}"
        ) from exc
    return _as_state_dict(loaded, file)


def _as_state_dict(loaded: object, file: Path) -> dict[str, torch.Tensor]:
    """``loaded`` as a state dict, when it is a mapping of names to tensors."""
    th = _import_torch()
    if not isinstance(loaded, Mapping) or not all(
        isinstance(name, str) and isinstance(value, th.Tensor) for name, value in loaded.items()
    ):
        raise UnsafeWeightsError(
            f"{file} holds a {type(loaded).__name__} that is not a state dict of tensors "
            f"(a checkpoint with optimizer state or a whole model?); {RESAVE_HINT}"
        )
    return dict(loaded)


def _refusal_reason(message: str) -> str:
    """The line of torch's weights-only refusal that says what was refused."""
    for line in message.splitlines():
        if "Unsupported" in line or "GLOBAL" in line:
            return line.strip()
    return message.splitlines()[0].strip() if message else "no reason given"


def _check_gguf(file: Path) -> None:
    """Refuse a .gguf file without the GGUF magic."""
    with open(file, "rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise UnsafeWeightsError(f"{file} does not start with the GGUF magic")
