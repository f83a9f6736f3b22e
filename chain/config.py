"""The user's client settings (``modelgov config set node URL``), one JSON file per user.

``$XDG_CONFIG_HOME/modelgov/config.json`` (default ``~/.config/modelgov/config.json``), mode
0600, holding any of ``node``, ``keyring``, ``chain-id``, ``output`` and ``keyring-backend``.
What a command is told wins over the environment (``$MODELGOV_NODE``), which wins over this
file, which wins over the built-in defaults: a shell that sets nothing still reaches the node
the user configured once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

KEYS = ("node", "keyring", "chain-id", "output", "keyring-backend")
CHOICES = {"output": ("text", "json"), "keyring-backend": ("file", "test")}


class ConfigError(Exception):
    """A setting that does not exist, a value it cannot take, or an unreadable file."""


def config_path() -> Path:
    """Where the settings live: the XDG config directory of this user."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "modelgov" / "config.json"


def load() -> dict[str, str]:
    """Every setting in the file ({} when there is none); raises ConfigError when unreadable."""
    path = config_path()
    if not path.exists():
        return {}
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items() if k in KEYS}


def get(name: str, default: str = "") -> str:
    """One setting, or ``default``; an unreadable file reads as empty here (a command must
    still run), ``modelgov config show`` says why."""
    try:
        return load().get(name, default)
    except ConfigError:
        return default


def set_value(name: str, value: str) -> Path:
    """Store one setting (an empty value removes it); returns the file written."""
    check(name, value)
    data = load()
    if value:
        data[name] = value
    else:
        data.pop(name, None)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    temporary.replace(path)
    return path


def check(name: str, value: str) -> None:
    """Raises ConfigError for an unknown setting or a value outside its choices."""
    if name not in KEYS:
        raise ConfigError(f"no setting {name!r}; settings: {', '.join(KEYS)}")
    choices = CHOICES.get(name)
    if value and choices and value not in choices:
        raise ConfigError(f"{name} is one of {', '.join(choices)}, not {value!r}")
    if name == "node" and value and not value.startswith(("http://", "https://", "tcp://")):
        raise ConfigError(f"node {value!r} is not a URL (http://HOST:PORT)")
