"""Names for versions and the license new versions inherit: aliases (SetAlias), ``latest``,
``/models/resolve``, a model's default license (RegisterModel.default_license,
SetDefaultLicense), the ``registrant`` upload rule, and CheckTx refusing a use no license
governs. Every refusal table-driven with its registered code."""

from __future__ import annotations

from typing import Any

import pytest
from driver import Driver, publish, register, set_status

from app.core import errors as core_errors
from app.core.errors import ErrorCode
from app.licenses import errors as license_errors
from app.machine import export_genesis, parse_genesis
from app.models import errors
from app.models.keeper import MAX_ALIASES
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.usage import errors as usage_errors

MODEL = "uni/base"
OPEN = "def authorize(ctx):\n    return allow(fee=0, note='open')\n"


def alias(name: str, version: str = "1.0", model: str = MODEL) -> tx_pb2.Msg:
    return tx_pb2.Msg(set_alias=tx_pb2.SetAlias(model=model, alias=name, version=version))


def default_license(license_id: str, model: str = MODEL) -> tx_pb2.Msg:
    return tx_pb2.Msg(set_default_license=tx_pb2.SetDefaultLicense(model=model, license=license_id))


def deploy(name: str) -> tx_pb2.Msg:
    return tx_pb2.Msg(deploy_license=tx_pb2.DeployLicense(name=name, source=OPEN))


def use(version: str = "1.0", model: str = MODEL) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        use=tx_pb2.Use(model=model, version=version, purpose="research", quantity=1, max_fee=0)
    )


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log
    assert result.log.startswith(error.name + ": ")


def resolve(d: Driver, ref: str, model: str = MODEL) -> Any:
    return d.query("/models/resolve", {"model": model, "ref": ref})


def resolved(d: Driver, ref: str) -> str:
    answer = resolve(d, ref)
    assert answer.code == 0, answer.log
    return state_pb2.Version.FromString(answer.value).version


@pytest.fixture
def registry(chain: Driver) -> Driver:
    """uni/base with versions 1.0 and 1.1, and acme/other with 1.0."""
    chain.ok("uni-pub", register("uni", "base"))
    chain.ok("uni-pub", publish(MODEL, "1.0"), publish(MODEL, "1.1"))
    chain.ok("acme-pub", register("acme", "other"), publish("acme/other", "1.0"))
    return chain


# --- aliases and latest -------------------------------------------------------------------------


def test_an_alias_names_a_version_and_moves(registry: Driver) -> None:
    result = registry.ok("uni-pub", alias("stable", "1.0"))
    assert [(a.key, a.value) for a in result.events[0].attributes] == [
        ("model", MODEL),
        ("alias", "stable"),
        ("version", "1.0"),
    ]
    assert resolved(registry, "stable") == "1.0"
    registry.ok("uni-pub", alias("stable", "1.1"))
    assert resolved(registry, "stable") == "1.1"
    listed = registry.query("/models/aliases", {"model": MODEL})
    page = state_pb2.Page.FromString(listed.value)
    assert [state_pb2.Alias.FromString(i).version for i in page.items] == ["1.1"]
    registry.ok("uni-pub", alias("stable", ""))
    assert resolve(registry, "stable").code == core_errors.NOT_FOUND.code


def test_latest_is_the_newest_active_version(registry: Driver) -> None:
    assert resolved(registry, "latest") == "1.1"
    assert resolved(registry, "1.0") == "1.0", "a version name resolves to itself"
    registry.ok("uni-pub", set_status(MODEL, "1.1", tx_pb2.VERSION_STATUS_DEPRECATED))
    assert resolved(registry, "latest") == "1.0"
    registry.ok("uni-pub", set_status(MODEL, "1.0", tx_pb2.VERSION_STATUS_REVOKED))
    assert resolve(registry, "latest").code == core_errors.NOT_FOUND.code
    assert resolve(registry, "latest", "uni/none").code == core_errors.NOT_FOUND.code


def test_a_version_named_like_an_alias_is_refused(registry: Driver) -> None:
    registry.ok("uni-pub", alias("stable", "1.0"))
    expect(registry.run("uni-pub", publish(MODEL, "stable")), errors.ALIAS_CONFLICT)


ALIAS_REFUSALS: list[tuple[str, str, tx_pb2.Msg, ErrorCode]] = [
    ("uppercase", "uni-pub", alias("Stable"), errors.INVALID_FIELD),
    ("starts with a digit", "uni-pub", alias("1x"), errors.INVALID_FIELD),
    ("has a dot", "uni-pub", alias("v1.0"), errors.INVALID_FIELD),
    ("empty", "uni-pub", alias(""), errors.INVALID_FIELD),
    ("too long", "uni-pub", alias("a" * 33), errors.INVALID_FIELD),
    ("non-ascii", "uni-pub", alias("stäble"), errors.INVALID_FIELD),
    ("reserved latest", "uni-pub", alias("latest"), errors.INVALID_FIELD),
    ("bad version", "uni-pub", alias("stable", "1.0\n"), errors.INVALID_VERSION),
    ("bad model", "uni-pub", alias("stable", model="base"), errors.INVALID_NAME),
    ("unknown version", "uni-pub", alias("stable", "9.9"), errors.VERSION_NOT_FOUND),
    ("unknown model", "uni-pub", alias("stable", model="uni/none"), errors.MODEL_NOT_FOUND),
    ("another org's model", "acme-pub", alias("stable"), errors.NOT_OWNER),
    ("removing what is not there", "uni-pub", alias("stable", ""), errors.ALIAS_NOT_FOUND),
    ("consumer role", "acme-user", alias("stable"), core_errors.MISSING_ROLE),
]


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [case[1:] for case in ALIAS_REFUSALS],
    ids=[case[0] for case in ALIAS_REFUSALS],
)
def test_alias_refusals(registry: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode) -> None:
    expect(registry.run(sender, msg), error)


def test_an_alias_may_not_be_a_version_name(registry: Driver) -> None:
    registry.ok("uni-pub", publish(MODEL, "stable"))
    expect(registry.run("uni-pub", alias("stable", "1.0")), errors.ALIAS_CONFLICT)


def test_a_model_carries_a_bounded_number_of_aliases(registry: Driver) -> None:
    names = [f"a{i}" for i in range(MAX_ALIASES)]
    for start in range(0, len(names), 8):
        registry.ok("uni-pub", *[alias(n) for n in names[start : start + 8]])
    expect(registry.run("uni-pub", alias("one-more")), errors.TOO_MANY)
    registry.ok("uni-pub", alias("a0", "1.1"))  # moving an existing one is no new alias


# --- the default license ------------------------------------------------------------------------


def test_new_versions_inherit_the_default_license(chain: Driver) -> None:
    chain.ok("uni-pub", deploy("open"), deploy("other"))
    registered = tx_pb2.RegisterModel(owner_org="uni", name="base", default_license="uni/open")
    chain.ok("uni-pub", tx_pb2.Msg(register_model=registered))
    result = chain.ok("uni-pub", publish(MODEL, "1.0"))
    assert "license.attached" in [e.type for e in result.events]
    assert _version(chain, "1.0").license == "uni/open"
    chain.ok("uni-pub", publish(MODEL, "1.1", license="uni/other"))
    assert _version(chain, "1.1").license == "uni/other", "a named license wins"
    chain.ok("uni-pub", default_license(""))
    chain.ok("uni-pub", publish(MODEL, "1.2"))
    assert _version(chain, "1.2").license == ""
    assert chain.query("/licenses/attachment", {"model": MODEL, "version": "1.2"}).code != 0
    chain.ok("uni-pub", default_license("uni/other"))
    assert _model(chain).default_license == "uni/other"
    chain.ok("uni-pub", publish(MODEL, "1.3"))
    assert _version(chain, "1.3").license == "uni/other"


DEFAULT_REFUSALS: list[tuple[str, str, tx_pb2.Msg, ErrorCode]] = [
    ("not deployed", "uni-pub", default_license("uni/none"), license_errors.LICENSE_NOT_FOUND),
    ("not a license id", "uni-pub", default_license("open"), errors.INVALID_FIELD),
    ("another org's model", "acme-pub", default_license("uni/open"), errors.NOT_OWNER),
    ("unknown model", "uni-pub", default_license("uni/open", "uni/x"), errors.MODEL_NOT_FOUND),
    (
        "register naming no license",
        "uni-pub",
        tx_pb2.Msg(
            register_model=tx_pb2.RegisterModel(
                owner_org="uni", name="m", default_license="uni/none"
            )
        ),
        license_errors.LICENSE_NOT_FOUND,
    ),
    (
        "register naming a bad id",
        "uni-pub",
        tx_pb2.Msg(
            register_model=tx_pb2.RegisterModel(owner_org="uni", name="m", default_license="A B")
        ),
        errors.INVALID_FIELD,
    ),
]


@pytest.mark.parametrize(
    ("sender", "msg", "error"),
    [case[1:] for case in DEFAULT_REFUSALS],
    ids=[case[0] for case in DEFAULT_REFUSALS],
)
def test_default_license_refusals(
    registry: Driver, sender: str, msg: tx_pb2.Msg, error: ErrorCode
) -> None:
    registry.ok("uni-pub", deploy("open"))
    expect(registry.run(sender, msg), error)


# --- CheckTx, uploads, genesis ------------------------------------------------------------------


def test_check_tx_refuses_a_use_no_license_governs(registry: Driver) -> None:
    nonce = registry.committed_nonce("acme-user")
    refused = registry.check(registry.sign("acme-user", [use()]))
    assert (refused.codespace, refused.code) == (
        usage_errors.NO_LICENSE.codespace,
        usage_errors.NO_LICENSE.code,
    ), refused.log
    registry.accounts["acme-user"].nonce = nonce  # the refused tx took no nonce
    missing = registry.check(registry.sign("acme-user", [use("9.9")]))
    assert missing.code == usage_errors.VERSION_NOT_FOUND.code
    registry.accounts["acme-user"].nonce = nonce
    registry.ok("uni-pub", deploy("open"))
    attach = tx_pb2.AttachLicense(model=MODEL, version="1.0", license="uni/open")
    registry.ok("uni-pub", tx_pb2.Msg(attach_license=attach))
    admitted = registry.check(registry.sign("acme-user", [use()]))
    assert admitted.code == 0, admitted.log


def test_uploads_into_a_model_not_yet_registered_are_its_registrants(registry: Driver) -> None:
    def decide(address: str, model: str) -> state_pb2.AccessDecision:
        answer = registry.query("/models/write_access", {"address": address, "model": model})
        return state_pb2.AccessDecision.FromString(answer.value)

    publisher = registry.accounts["uni-pub"].address
    assert decide(publisher, "uni/new-model").rule == "registrant"
    assert decide(publisher, "uni/new-model").allowed
    assert not decide(publisher, "acme/new-model").allowed, "only one's own org's names"
    assert not decide(publisher, "uni/bad name").allowed
    assert not decide(registry.accounts["acme-user"].address, "acme/new-model").allowed


def test_aliases_and_default_licenses_survive_genesis_export(registry: Driver) -> None:
    registry.ok("uni-pub", deploy("open"), default_license("uni/open"), alias("stable"))
    state = export_genesis(registry.store)
    assert [a["alias"] for a in state["models"]["aliases"]] == ["stable"]
    parsed = parse_genesis(state).parts["models"]
    assert [a.alias for a in parsed.aliases] == ["stable"]
    assert [m.default_license for m in parsed.models if m.id == MODEL] == ["uni/open"]
    broken = {**state, "models": {**state["models"], "aliases": [{"model": MODEL, "alias": "1.0",
                                                                  "version": "1.1"}]}}  # fmt: skip
    with pytest.raises(Exception, match=r"models.aliases\[0\].alias"):
        parse_genesis(broken)


def _version(d: Driver, version: str) -> state_pb2.Version:
    answer = d.query("/models/version", {"model": MODEL, "version": version})
    assert answer.code == 0, answer.log
    return state_pb2.Version.FromString(answer.value)


def _model(d: Driver) -> state_pb2.Model:
    return state_pb2.Model.FromString(d.query("/models/model", {"id": MODEL}).value)


def test_a_version_keeps_its_description_within_the_bound(registry: Driver) -> None:
    described = publish(MODEL, "2.0")
    described.publish_version.description = "fine-tuned on more data"
    registry.ok("uni-pub", described)
    assert _version(registry, "2.0").description == "fine-tuned on more data"
    params = registry.query("/members/params", {})
    limit = state_pb2.Params.FromString(params.value).max_description_bytes
    too_long = publish(MODEL, "2.1")
    too_long.publish_version.description = "é" * (limit // 2 + 1)
    expect(registry.run("uni-pub", too_long), errors.TOO_MANY)
