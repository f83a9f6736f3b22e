"""What the Python API returns: small frozen dataclasses that print readably (the rendering
rules of ``chain.render``: short enum names, RFC 3339 times, exact decimal metrics, lowercase
hex), each keeping the chain's own protobuf record as ``pb`` for everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.pb.modelgov.v1 import state_pb2
from chain.render import enum_name, metric, plain, rfc3339


def _lines(data: dict[str, Any]) -> str:
    """Aligned ``key: value`` lines, empty values left out."""
    shown = {k: v for k, v in data.items() if v not in ("", [], {}, (), None)}
    width = max((len(k) for k in shown), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {_value(v)}" for k, v in shown.items())


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Version:
    """One published version of a model."""

    model: str
    version: str
    digest: str
    size_bytes: int
    format: str
    status: str
    license: str
    parents: tuple[str, ...]
    metrics: dict[str, str]
    description: str
    card_digest: str
    publisher_org: str
    height: int
    time: str | int
    pb: state_pb2.Version = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        """MODEL@VERSION."""
        return f"{self.model}@{self.version}"

    @classmethod
    def of(cls, pb: state_pb2.Version) -> Version:
        """The dataclass of a chain record."""
        return cls(
            model=pb.model,
            version=pb.version,
            digest=pb.weights_digest,
            size_bytes=pb.size_bytes,
            format=pb.format,
            status=enum_name(pb.DESCRIPTOR.fields_by_name["status"].enum_type, pb.status),
            license=pb.license,
            parents=tuple(pb.parents),
            metrics={m["name"]: m["value"] for m in (metric(x) for x in pb.metrics)},
            description=pb.description,
            card_digest=pb.model_card_digest,
            publisher_org=pb.publisher_org,
            height=pb.height,
            time=rfc3339(pb.time),
            pb=pb,
        )

    def __str__(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if k != "pb"}
        return _lines({"ref": self.ref, **data})


@dataclass(frozen=True)
class Model:
    """A registered model."""

    id: str
    owner_org: str
    description: str
    version_count: int
    default_license: str
    created_time: str | int
    pb: state_pb2.Model = field(repr=False, compare=False)

    @classmethod
    def of(cls, pb: state_pb2.Model) -> Model:
        """The dataclass of a chain record."""
        return cls(
            id=pb.id,
            owner_org=pb.owner_org,
            description=pb.description,
            version_count=pb.version_count,
            default_license=pb.default_license,
            created_time=rfc3339(pb.created_time),
            pb=pb,
        )

    def __str__(self) -> str:
        return _lines({k: v for k, v in self.__dict__.items() if k != "pb"})


@dataclass(frozen=True)
class Receipt:
    """The record a use leaves: who used which version, for what, at which fee."""

    id: int
    ref: str
    consumer_org: str
    licensor_org: str
    purpose: str
    quantity: int
    fee: int
    license: str
    note: str
    height: int
    time: str | int
    tx_hash: str
    pb: state_pb2.Receipt = field(repr=False, compare=False)

    @classmethod
    def of(cls, pb: state_pb2.Receipt) -> Receipt:
        """The dataclass of a chain record."""
        data = plain(pb)
        return cls(
            id=pb.id,
            ref=f"{pb.model}@{pb.version}",
            consumer_org=pb.consumer_org,
            licensor_org=pb.licensor_org,
            purpose=pb.purpose,
            quantity=pb.quantity,
            fee=pb.fee,
            license=pb.license,
            note=pb.note,
            height=pb.height,
            time=data["time"],
            tx_hash=data["tx_hash"],
            pb=pb,
        )

    def __str__(self) -> str:
        return _lines({k: v for k, v in self.__dict__.items() if k != "pb"})


@dataclass(frozen=True)
class Pulled:
    """Weights on this machine: where, which digest (verified), from which store."""

    path: Path
    digest: str
    ref: str
    provider: str
    cached: bool

    def __str__(self) -> str:
        source = "cache" if self.cached else self.provider
        return f"{self.path}: {self.ref} {self.digest} verified (from {source})"
