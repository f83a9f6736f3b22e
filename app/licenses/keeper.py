"""The only code that reads and writes licenses and attachments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from app.core.errors import TxError
from app.core.text import quote
from app.licenses import errors, keys
from app.licenses.lang import Limits, Prepared, Program
from app.licenses.programs import compiled, parameters
from app.pb.modelgov.v1 import state_pb2
from app.state import Overlay, Reader


def script_limits(params: state_pb2.Params) -> Limits:
    """The interpreter limits the consortium's parameters set."""
    return Limits(
        max_source_bytes=params.max_license_source_bytes,
        gas_limit=params.license_gas_limit,
        memory_limit=params.license_memory_limit,
    )


def deployed_limits(limits: Limits, source: str) -> Limits:
    """The limits a deployed script runs under: today's, except that the size limit applies
    only when a script is deployed, so lowering it never breaks a license already in use."""
    size = len(source.encode())
    if size <= limits.max_source_bytes:
        return limits
    return replace(limits, max_source_bytes=size)


def license_parameters(found: state_pb2.License) -> Prepared:
    """A license's deploy-time parameters as ``ctx.params`` takes them, decoded and converted
    once per distinct encoding (app.licenses.programs); never change the shared data."""
    return parameters(found.params)


class LicensesReader:
    """Read-only view of licenses and which versions use them."""

    def __init__(self, state: Reader) -> None:
        self.state = state

    def license(self, license_id: str) -> state_pb2.License | None:
        """A deployed license, or None."""
        raw = self.state.get(keys.license_key(license_id))
        return None if raw is None else state_pb2.License.FromString(raw)

    def current(self, model: str, version: str) -> state_pb2.Attachment | None:
        """The attachment in force for a version, or None."""
        raw = self.state.get(keys.current_key(model, version))
        return None if raw is None else state_pb2.Attachment.FromString(raw)

    def attachment(self, model: str, version: str, seq: int) -> state_pb2.Attachment | None:
        """A version's ``seq``-th attachment (in force or not), or None: attachments are
        append-only, so a derivative's pinned terms stay a point read (app.datasets.lineage)."""
        if not 0 <= seq < 1 << 32:
            return None
        raw = self.state.get(keys.attachment_key(model, version, seq))
        return None if raw is None else state_pb2.Attachment.FromString(raw)

    def runnable(
        self, found: state_pb2.License, params: state_pb2.Params, pin: bool = False
    ) -> tuple[Program, Limits]:
        """A deployed license's checked program and the limits it runs under now (``pin``:
        kept cached until the block ends, app.licenses.programs). Raises ScriptError when the
        script no longer passes its check."""
        limits = deployed_limits(script_limits(params), found.source)
        return compiled(found.source, limits, pin), limits

    def history(self, model: str, version: str) -> Iterator[state_pb2.Attachment]:
        """Every attachment of a version, oldest first."""
        for _, raw in self.state.iterate(keys.attachment_prefix(model, version)):
            yield state_pb2.Attachment.FromString(raw)


class LicensesKeeper(LicensesReader):
    """Read-write view for the license handlers."""

    state: Overlay

    def __init__(self, state: Overlay) -> None:
        super().__init__(state)
        self.state = state

    def add_license(self, record: state_pb2.License) -> None:
        """Store a newly deployed license."""
        self.state.set(keys.license_key(record.id), record.SerializeToString(deterministic=True))

    def attach_license(
        self, model: str, version: str, license_id: str, by: str, height: int
    ) -> state_pb2.Attachment:
        """Make a deployed license govern ``model@version`` from ``height`` on (the caller
        checked who may); raises TxError(license_not_found) when it was never deployed."""
        found = self.license(license_id)
        if found is None:
            detail = f"no license {quote(license_id, 80)}; deploy it first"
            raise TxError(errors.LICENSE_NOT_FOUND, detail)
        current = self.current(model, version)
        attachment = state_pb2.Attachment(
            model=model,
            version=version,
            license=license_id,
            code_hash=found.code_hash,
            height=height,
            seq=0 if current is None else current.seq + 1,
            attached_by=by,
        )
        self.attach(attachment)
        return attachment

    def attach(self, attachment: state_pb2.Attachment) -> None:
        """Append to a version's history and make ``attachment`` the one in force."""
        a = attachment
        raw = a.SerializeToString()
        self.state.set(keys.attachment_key(a.model, a.version, a.seq), raw)
        self.state.set(keys.current_key(a.model, a.version), raw)
        self.state.set(keys.used_by_key(a.license, f"{a.model}@{a.version}"), b"\x01")
