"""The rules every domain shares for names and values, written once.

An org id, a model id, a version, a digest, a license id, a metric: several domains receive them
in messages and must refuse the same strings. The checks take the caller's registered error, so
each domain refuses in its own codespace with its own code.

Every pattern is anchored with ``\\A`` and ``\\Z`` and built from explicit ASCII classes: ``$``
would accept a trailing newline ("acme/model\\n" was once a valid model id), and ``\\s``, ``\\d``,
``\\w`` in a str pattern follow the interpreter's Unicode database. Messages quote user input
with ``quote`` so that they read the same on every Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.core.errors import ErrorCode, TxError
from app.core.text import quote
from app.pb.modelgov.v1 import tx_pb2

ORG_ID = re.compile(r"\A[a-z0-9][a-z0-9-]{1,31}\Z")
MODEL_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,95}\Z")
VERSION = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\Z")
DIGEST = re.compile(r"\Asha256:[0-9a-f]{64}\Z")
LICENSE_ID = re.compile(r"\A[a-z0-9][a-z0-9-]{1,31}/[a-z0-9][a-z0-9._-]{0,63}\Z")
METRIC_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,63}\Z")
MAX_METRIC_TEXT = 256
MAX_SCALE = 18


def check_org_id(org_id: str, error: ErrorCode, field: str = "organisation") -> None:
    """An org id: lowercase letters, digits and '-', 2-32 characters."""
    if not ORG_ID.fullmatch(org_id):
        raise TxError(error, f"{field} {quote(org_id, 64)} is not an organisation id")


def check_model_id(model_id: str, error: ErrorCode) -> None:
    """A model id is "<org>/<name>"."""
    org, sep, name = model_id.partition("/")
    if not sep or not ORG_ID.fullmatch(org) or not MODEL_NAME.fullmatch(name):
        raise TxError(error, f"{quote(model_id, 64)} is not ORG/NAME")


def check_version(version: str, error: ErrorCode) -> None:
    """Versions are short tokens like 1.0.0 or 2024-06-rc1."""
    if not VERSION.fullmatch(version):
        raise TxError(error, f"{quote(version, 64)}: letters, digits, '.', '_', '+', '-'")


def check_digest(digest: str, error: ErrorCode, field: str = "digest") -> None:
    """A digest is sha256:<64 lowercase hex>."""
    if not DIGEST.fullmatch(digest):
        raise TxError(error, f"{field} {quote(digest, 80)} is not sha256:<64 lowercase hex>")


def check_license_id(license_id: str, error: ErrorCode) -> None:
    """A license id is "<org>/<name>"."""
    if not LICENSE_ID.fullmatch(license_id):
        raise TxError(error, f"{quote(license_id, 80)} is not ORG/NAME")


def check_metrics(metrics: Sequence[tx_pb2.Metric], error: ErrorCode) -> None:
    """Metrics have unique valid names, and each an int with a decimal scale of 0 to 18 or a
    text of at most 256 bytes (callers bound how many)."""
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise TxError(error, "a metric name is listed twice")
    for metric in metrics:  # the name is quoted only for a refusal: quoting costs
        if not METRIC_NAME.fullmatch(metric.name):
            raise TxError(error, f"metric name {quote(metric.name, 64)} is not valid")
        kind = metric.WhichOneof("value")
        if kind is None:
            raise TxError(error, f"metric {quote(metric.name, 64)} has no value")
        if metric.scale > MAX_SCALE or (kind == "text_value" and metric.scale):
            raise TxError(error, f"metric {quote(metric.name, 64)}: scale 0-18, ints only")
        if kind == "text_value" and len(metric.text_value.encode()) > MAX_METRIC_TEXT:
            shown = quote(metric.name, 64)
            raise TxError(error, f"metric {shown} text over {MAX_METRIC_TEXT} bytes")
