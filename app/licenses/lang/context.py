"""The context a license script sees as ``ctx``: its documented fields, and an example.

The host builds ``ctx`` from a plain nested dict with exactly these fields; the evaluator turns
every dict in it into a read-only record (fields readable as ``ctx.caller.org`` and as
``ctx["caller"]["org"]``, keys in sorted order). ``ctx.params`` and ``ctx.caller.attributes``
are records too, so ``len``, ``in``, iteration and ``[...]`` work on them as on dicts.

Fields (all integers are whole numbers; times are unix seconds from the block header):

- ``caller.address`` (str): the account that sent the ``use`` transaction.
- ``caller.org`` (str): the account's organisation id.
- ``caller.org_kind`` (str): one of ``app.members.roles.ORG_KINDS``.
- ``caller.roles`` (list of str): the account's roles in its organisation.
- ``caller.attributes`` (dict): the organisation's attributes from genesis, e.g.
  ``"monthly_active_users"`` (int) and ``"country"`` (str).
- ``asset`` (str): ``"model"`` or ``"dataset"``: what ``model`` names (datasets share the
  ``org/name`` namespace and are licensed by the same scripts).
- ``model`` (str, ``"org/name"``), ``version`` (str), ``owner`` (str: the owner org id).
- ``purpose`` (str): one of ``app.usage.purposes.PURPOSES``.
- ``quantity`` (int >= 1): units asked for by this use.
- ``height`` (int), ``time`` (int): the block's height and header time.
- ``usage.version_total``, ``usage.model_total`` (int): quantity the caller's org used so far on
  this version / on any version of this model.
- ``usage.version_period``, ``usage.model_period`` (int): the same within the current period;
  ``usage.period_seconds`` (int) is the period's length, ``usage.period_start`` (int) its start.
- ``params`` (dict): the license's deploy-time parameters (str keys; int, str, bool, None, list
  or dict values).
- ``lease`` (dict, present only while the caller's organisation rents the version from the
  market; test with ``"lease" in ctx``): ``id`` (int), ``lessor`` (str), ``purposes`` (list of
  str), ``start_height`` and ``end_height`` (int, the lease's first and last block), ``paid``
  (int). An allowed use for one of ``lease.purposes`` pays no fee; a deny still denies.
- ``derivative`` (None or dict): None for a use of the licensed version itself. When the
  license is asked on behalf of a derivative (app/datasets/lineage.py): ``derivative.model``,
  ``.version``, ``.owner``, ``.asset``, ``.license`` (the derivative's license id, "" if none),
  ``.relation`` (``"parent"`` or ``"trained_on"``: how the nearest descendant names the
  licensed version) and ``.depth`` (1 for a direct derivative). ``authorize(ctx)`` is asked so
  for every use of a derivative (its fee is ignored), ``derive(ctx)`` when a direct derivative
  is published or a license is attached to it later (``purpose`` is ``"fine-tune"`` for a
  parent, ``"training"`` for a dataset; ``.license`` the license it would carry), and
  ``royalty(ctx)`` (an int, basis points 0 to 10,000 of the derivative's fee) after an allow.
"""

from __future__ import annotations

import copy
from typing import Any

# (dotted field, type) for every documented field; the host provides exactly these.
FIELDS: tuple[tuple[str, str], ...] = (
    ("caller.address", "str"),
    ("caller.org", "str"),
    ("caller.org_kind", "str"),
    ("caller.roles", "list[str]"),
    ("caller.attributes", "dict"),
    ("asset", "str"),
    ("model", "str"),
    ("version", "str"),
    ("owner", "str"),
    ("purpose", "str"),
    ("quantity", "int"),
    ("height", "int"),
    ("time", "int"),
    ("usage.version_total", "int"),
    ("usage.model_total", "int"),
    ("usage.version_period", "int"),
    ("usage.model_period", "int"),
    ("usage.period_seconds", "int"),
    ("usage.period_start", "int"),
    ("params", "dict"),
    ("derivative", "dict or None"),
)

_EXAMPLE: dict[str, Any] = {
    "caller": {
        "address": "mg1qexampleconsumer0000000000000000000000",
        "org": "uni",
        "org_kind": "academic",
        "roles": ["consumer"],
        "attributes": {"monthly_active_users": 1_000, "country": "NL"},
    },
    "asset": "model",
    "model": "acme/vision",
    "version": "1.0",
    "owner": "acme",
    "purpose": "research",
    "quantity": 1,
    "height": 100,
    "time": 1_700_000_000,
    "usage": {
        "version_total": 0,
        "model_total": 0,
        "version_period": 0,
        "model_period": 0,
        "period_seconds": 2_592_000,
        "period_start": 1_699_000_000,
    },
    "params": {},
    "derivative": None,
}


def example_context(**overrides: Any) -> dict[str, Any]:
    """A complete context for tests and simulations, with top-level fields overridden.

    ``caller``, ``usage`` and ``params`` overrides are merged into the example's dicts (so
    ``caller={"org_kind": "commercial"}`` keeps the other caller fields); other overrides
    replace the field. Raises KeyError for a field that is not documented.
    """
    ctx = copy.deepcopy(_EXAMPLE)
    for name, value in overrides.items():
        if name not in ctx:
            raise KeyError(f"ctx has no field {name!r}")
        if name in ("caller", "usage", "params") and isinstance(value, dict):
            ctx[name].update(copy.deepcopy(value))
        else:
            ctx[name] = copy.deepcopy(value)
    return ctx
