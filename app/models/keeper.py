"""The only code that reads and writes models, versions and their indexes."""

from __future__ import annotations

from collections.abc import Iterator

from app.core.errors import TxError
from app.models import errors, keys
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader


def version_ref(model_id: str, version: str) -> str:
    """The "model@version" string that names one version everywhere."""
    return f"{model_id}@{version}"


def split_ref(ref: str) -> tuple[str, str]:
    """Split "model@version"; raises ValueError when there is no '@'."""
    model_id, sep, version = ref.rpartition("@")
    if not sep or not model_id or not version:
        raise ValueError(f"{ref!r} is not MODEL@VERSION")
    return model_id, version


class ModelsReader:
    """Read-only view of the registry for queries and other domains."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def model(self, model_id: str) -> state_pb2.Model | None:
        """The model ``model_id``, or None."""
        raw = self.state.get(keys.model_key(model_id))
        return None if raw is None else state_pb2.Model.FromString(raw)

    def owned_by(self, model_id: str, org: str) -> state_pb2.Model:
        """The model if ``org`` owns it; raises TxError(model_not_found | not_owner)."""
        model = self.model(model_id)
        if model is None:
            raise TxError(errors.MODEL_NOT_FOUND, f"no model {model_id!r}")
        if model.owner_org != org:
            raise TxError(errors.NOT_OWNER, f"{model_id} belongs to {model.owner_org!r}")
        return model

    def version(self, model_id: str, version: str) -> state_pb2.Version | None:
        """One version of a model, or None."""
        raw = self.state.get(keys.version_key(model_id, version))
        return None if raw is None else state_pb2.Version.FromString(raw)

    def version_names(self, model_id: str, after: int = -1) -> Iterator[tuple[int, str]]:
        """(index, version) of a model's versions in publication order, after index ``after``."""
        prefix = keys.version_order_prefix(model_id)
        start = keys.version_order_key(model_id, after) if after >= 0 else None
        for key, value in self.state.iterate(prefix, start):
            yield int.from_bytes(key[len(prefix) :], "big"), value.decode()

    def owned_models(self, org_id: str, after: str = "") -> Iterator[str]:
        """Ids of the models ``org_id`` owns, in id order, after ``after``."""
        prefix = keys.owner_prefix(org_id)
        start = keys.owner_key(org_id, after) if after else None
        for key, _ in self.state.iterate(prefix, start):
            yield key[len(prefix) :].decode()

    def all_models(self, after: str = "") -> Iterator[state_pb2.Model]:
        """Every model in id order, after ``after``."""
        start = keys.model_key(after) if after else None
        for _, raw in self.state.iterate(keys.MODEL, start):
            yield state_pb2.Model.FromString(raw)

    def refs_with_digest(self, digest: str) -> Iterator[str]:
        """Refs of the versions whose weights have ``digest``."""
        prefix = keys.digest_prefix(digest)
        for key, _ in self.state.iterate(prefix):
            yield key[len(prefix) :].decode()

    def children(self, parent_ref: str) -> Iterator[str]:
        """Refs of the versions that name ``parent_ref`` as a parent, in ref order."""
        prefix = keys.child_prefix(parent_ref)
        for key, _ in self.state.iterate(prefix):
            yield key[len(prefix) :].decode()


class ModelsKeeper(ModelsReader):
    """Read-write view used by the registry's message handlers."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def set_model(self, model: state_pb2.Model, previous_owner: str = "") -> None:
        """Store a model and keep the by-owner index in step with its owner."""
        if previous_owner and previous_owner != model.owner_org:
            self.state.delete(keys.owner_key(previous_owner, model.id))
        self.state.set(keys.model_key(model.id), model.SerializeToString())
        self.state.set(keys.owner_key(model.owner_org, model.id), b"\x01")

    def add_version(self, version: state_pb2.Version) -> None:
        """Store a new version with its order and lineage index entries."""
        self.state.set(keys.version_key(version.model, version.version), _encode(version))
        self.state.set(
            keys.version_order_key(version.model, version.index), version.version.encode()
        )
        child = version_ref(version.model, version.version)
        for parent in version.parents:
            self.state.set(keys.child_key(parent, child), b"\x01")
        self.state.set(keys.digest_key(version.weights_digest, child), b"\x01")

    def add_provider(self, provider: state_pb2.Provider) -> None:
        """Record (or refresh) a store announced for a digest."""
        key = keys.provider_key(provider.digest, provider.url)
        self.state.set(key, provider.SerializeToString())

    def append_version(self, model: state_pb2.Model, version: state_pb2.Version) -> None:
        """Publish ``version`` as the model's next: its index, its index entries, the count."""
        version.index = model.version_count
        self.add_version(version)
        model.version_count += 1
        self.set_model(model)

    def update_version(self, version: state_pb2.Version) -> None:
        """Rewrite an existing version's record (its status); its indexes stay."""
        self.state.set(keys.version_key(version.model, version.version), _encode(version))


def _encode(version: state_pb2.Version) -> bytes:
    return version.SerializeToString(deterministic=True)
