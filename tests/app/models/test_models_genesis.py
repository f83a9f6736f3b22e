"""The models section of genesis: every malformed kind of registry record refused, naming its
field (models, versions, holdings, manifests and their files, consents, stores, claims)."""

from __future__ import annotations

from typing import Any

import pytest
from genesis_scenario import DROP, changed, doubled

from app.core.genesis import GenesisError
from app.machine import parse_genesis

D = "sha256:" + "ab" * 32
M = "models.models"
V = "models.versions"

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("section-not-object", changed("models", []), "models"),
    ("unknown-field", changed("models.bogus", []), "models.bogus"),
    ("models-not-list", changed(M, {}), M),
    ("model-not-object", changed(f"{M}[0]", "x"), f"{M}[0]"),
    ("model-unknown-field", changed(f"{M}[0].bogus", 1), f"{M}[0]"),
    ("model-height-negative", changed(f"{M}[0].created_height", "-1"), f"{M}[0]"),
    ("model-id-org", changed(f"{M}[0].id", "Acme/copy"), f"{M}[0].id"),
    ("model-id-name", changed(f"{M}[0].id", "acme/co\x00py"), f"{M}[0].id"),
    ("model-id-no-slash", changed(f"{M}[0].id", "acme"), f"{M}[0].id"),
    ("model-name", changed(f"{M}[0].name", "other"), f"{M}[0].name"),
    ("model-owner", changed(f"{M}[0].owner_org", "nobody"), f"{M}[0].owner_org"),
    ("model-twice", doubled(M), f"{M}[5].id"),
    ("model-kind", changed(f"{M}[0].kind", "weights"), f"{M}[0].kind"),
    ("model-count", changed(f"{M}[0].version_count", 2), V),
    ("version-model", changed(f"{V}[0].model", "acme/none"), f"{V}[0].model"),
    ("version-nul", changed(f"{V}[0].version", "a\x00b"), f"{V}[0].version"),
    ("version-empty", changed(f"{V}[0].version", ""), f"{V}[0].version"),
    ("version-long", changed(f"{V}[0].version", "v" * 1025), f"{V}[0].version"),
    ("version-twice", doubled(V), f"{V}[11].version"),
    (
        "version-trained-on",
        changed(f"{V}[4].trained_on", ["uni/corpus@9"]),
        f"{V}[4].trained_on[0]",
    ),
    ("version-index", changed(f"{V}[0].index", 1), f"{V}[0].index"),
    ("version-index-taken", changed(f"{V}[5].index", 0), f"{V}[5].index"),
    ("version-digest", changed(f"{V}[0].weights_digest", "sha256:AB"), f"{V}[0].weights_digest"),
    ("version-parent", changed(f"{V}[4].parents", ["uni/base@9"]), f"{V}[4].parents[0]"),
    ("version-publisher-org", changed(f"{V}[0].publisher_org", "x"), f"{V}[0].publisher_org"),
    ("version-status-name", changed(f"{V}[0].status", "LIVE"), f"{V}[0]"),
    ("version-missing", changed(f"{V}[0]", DROP), V),
    ("version-status-surrogate", changed(f"{V}[0].status", "\ud800"), f"{V}[0]"),
    ("version-surrogate-field", changed(f"{V}[0].\udfff", 1), f"{V}[0]"),
    ("version-surrogate-uri", changed(f"{V}[0].storage_uris", ["a\ud800"]), f"{V}[0]"),
    ("version-deep", changed(f"{V}[0].metrics", [[[[[]]]]] * 3), f"{V}[0]"),
    ("holder-digest", changed("models.holders[0].digest", "x"), "models.holders[0].digest"),
    ("holder-org", changed("models.holders[0].org", "x"), "models.holders[0].org"),
    ("holder-twice", doubled("models.holders"), "models.holders[11].digest"),
    (
        "manifest-digest",
        changed("models.manifests[0].digest", D),
        "models.manifest_files[0].manifest",
    ),
    (
        "manifest-bad-digest",
        changed("models.manifests[0].digest", "d"),
        "models.manifests[0].digest",
    ),
    ("manifest-org", changed("models.manifests[0].org", "x"), "models.manifests[0].org"),
    ("manifest-twice", doubled("models.manifests"), "models.manifests[1].digest"),
    ("manifest-count", changed("models.manifests[0].files", 4), "models.manifest_files"),
    ("manifest-size", changed("models.manifests[0].size", "34"), "models.manifest_files"),
    ("file-missing", changed("models.manifest_files[2]", DROP), "models.manifest_files"),
    (
        "file-manifest",
        changed("models.manifest_files[0].manifest", D),
        "models.manifest_files[0].manifest",
    ),
    (
        "file-manifest-type",
        changed("models.manifest_files[0].manifest", 1),
        "models.manifest_files[0].manifest",
    ),
    (
        "file-path-empty",
        changed("models.manifest_files[0].path", ""),
        "models.manifest_files[0].path",
    ),
    (
        "file-path-nul",
        changed("models.manifest_files[0].path", "a\x00"),
        "models.manifest_files[0].path",
    ),
    ("file-twice", doubled("models.manifest_files"), "models.manifest_files[3].path"),
    (
        "file-digest",
        changed("models.manifest_files[0].digest", "x"),
        "models.manifest_files[0].digest",
    ),
    ("consent-digest", changed("models.consents[0].digest", "x"), "models.consents[0].digest"),
    ("consent-org", changed("models.consents[0].org", "x"), "models.consents[0].org"),
    ("consent-holder", changed("models.consents[0].holder", 3), "models.consents[0].holder"),
    ("consent-field", changed("models.consents[0].since", 3), "models.consents[0].since"),
    ("consent-twice", doubled("models.consents"), "models.consents[1]"),
    ("provider-url", changed("models.providers[0].url", "http://a\x00"), "models.providers[0].url"),
    ("provider-digest", changed("models.providers[0].digest", "x"), "models.providers[0].digest"),
    ("provider-org", changed("models.providers[0].org", "x"), "models.providers[0].org"),
    ("provider-twice", doubled("models.providers"), "models.providers[1]"),
    (
        "claim-commitment",
        changed("models.claims[0].commitment", "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA=="),
        "models.claims[0].commitment",
    ),
    ("claim-org", changed("models.claims[0].org", "x"), "models.claims[0].org"),
    ("claim-twice", doubled("models.claims"), "models.claims[1]"),
    ("claim-height", changed("models.claims[0].height", "2**64"), "models.claims[0]"),
]


@pytest.mark.parametrize(("state", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_models_section_is_refused(state: dict[str, Any], field: str) -> None:
    with pytest.raises(GenesisError) as refused:
        parse_genesis(state)
    assert refused.value.field == field
    assert refused.value.reason
