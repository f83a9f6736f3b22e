"""License scripts for the randomized sequence: ordinary ones and hostile ones, with tags.

Each maker draws one script from a seeded generator and says which feature tags it exercises.
A tag names a way a script can make validators on different Pythons disagree (see
``xpy_blocks.TAGS``); a maker only emits a tagged variant when the tag is enabled, so a known
divergence can be left out of the main sequence while it is being fixed.

The hostile kinds: ``str()`` of containers and decisions holding non-ASCII, non-printable,
unassigned and newer-Unicode text (rendered with ``repr`` rules inside containers);
``\\N{...}`` escapes with names that only newer Unicode versions know, or no version;
non-ASCII identifiers (NFKC-folded ones, and characters that became identifier characters in
Unicode 15.0 / 15.1); deep recursion, deep expression and value nesting; big loops and string
building against the gas and memory limits; huge integers and fees; conversions of odd digit
strings; scripts the deploy check must refuse, and odd but valid source layouts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from xpy_values import (
    FEE_OVERFLOW,
    IDENTIFIER,
    MISSING_NAMES,
    NAMED_ESCAPE,
    NEW_CHARS,
    NEW_NAMES,
    RENDER,
    STABLE_NAMES,
    Hostile,
)


@dataclass(frozen=True)
class Script:
    """A script source, the tags it exercises and a short label for reports."""

    source: str
    label: str
    tags: frozenset[str] = frozenset()


class ScriptMaker:
    """Draws scripts; ``enabled`` is the set of tags that may appear."""

    def __init__(self, rng: random.Random, enabled: frozenset[str]) -> None:
        self.rng = rng
        self.enabled = enabled
        self.makers: tuple[tuple[int, Callable[[], Script]], ...] = (
            (6, self.flat_fee),
            (4, self.by_purpose),
            (3, self.quota),
            (3, self.params_rate),
            (6, self.render_container),
            (3, self.render_context),
            (2, self.render_decision),
            (4, self.named_escape),
            (4, self.identifier),
            (2, self.recursion),
            (2, self.mutual_recursion),
            (3, self.deep_expression),
            (2, self.deep_value),
            (3, self.big_loop),
            (2, self.string_building),
            (2, self.sorting),
            (3, self.int_conversion),
            (2, self.big_int),
            (2, self.not_a_decision),
            (4, self.refused),
            (2, self.layout),
            (2, self.slicing),
        )

    def draw(self) -> Script:
        """One script, kinds weighted."""
        weights = [w for w, _ in self.makers]
        maker = self.rng.choices([m for _, m in self.makers], weights)[0]
        return maker()

    # helpers

    def hostile(self, tag: str) -> Hostile:
        """Hostile values, with newer-Unicode characters only when ``tag`` is enabled."""
        return Hostile(self.rng, tag in self.enabled)

    def literal(self, text: str) -> str:
        """A Python string literal for ``text``: escaped by code point (never by this Python's
        Unicode database), some characters left raw in the source."""
        out = ['"']
        for ch in text:
            code = ord(ch)
            raw_ok = (0x20 <= code < 0x7F and ch not in '"\\') or (
                code >= 0xA0 and ch not in "\u2028\u2029\x85" and not 0xD800 <= code < 0xE000
            )
            if raw_ok and (code < 0x7F or self.rng.random() < 0.5):
                out.append(ch)
            elif code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        out.append('"')
        return "".join(out)

    def fee(self) -> int:
        """A fee; near 2^64 only where FEE_OVERFLOW is enabled (2^64 itself is refused)."""
        huge: tuple[int, ...] = (2**63 - 1, 2**63, 2**64 - 1)
        pool = (
            0,
            1,
            7,
            100,
            12_345,
            10**6,
            2**50,
            2**64,
            *(huge if FEE_OVERFLOW in self.enabled else ()),
        )
        fee: int = self.rng.choice(pool)
        return fee

    # ordinary scripts

    def flat_fee(self) -> Script:
        fee = self.fee()
        source = f'def authorize(ctx):\n    return allow(fee={fee}, note="flat")\n'
        return Script(source, f"flat fee {fee}")

    def by_purpose(self) -> Script:
        a, b = self.rng.randint(0, 50), self.rng.randint(0, 5000)
        source = (
            'FEES = {"research": ' + str(a) + ', "inference": ' + str(b) + ",\n"
            '        "commercial-inference": ' + str(b * 3) + ', "evaluation": 0}\n'
            "def authorize(ctx):\n"
            "    if ctx.purpose not in FEES:\n"
            '        return deny("purpose " + ctx.purpose + " is not licensed")\n'
            '    if ctx.caller.org_kind == "academic" and ctx.purpose == "research":\n'
            '        return allow(note="academic research is free")\n'
            "    return allow(fee=FEES[ctx.purpose] * ctx.quantity)\n"
        )
        return Script(source, "fee by purpose")

    def quota(self) -> Script:
        cap = self.rng.choice((1, 3, 10, 1000))
        source = (
            "def authorize(ctx):\n"
            f"    if ctx.usage.version_period + ctx.quantity > {cap}:\n"
            '        return deny("quota of ' + str(cap) + ' per period used")\n'
            "    used = ctx.usage.model_total\n"
            "    return allow(fee=used * 2 + ctx.quantity, note=str(used))\n"
        )
        return Script(source, f"quota {cap}")

    def params_rate(self) -> Script:
        source = (
            "def authorize(ctx):\n"
            '    rate = ctx.params["rate"] if "rate" in ctx.params else 1\n'
            "    if rate is None or rate < 0:\n"
            '        return deny("no rate")\n'
            "    return allow(fee=rate * ctx.quantity)\n"
        )
        return Script(source, "rate from params")

    # rendering: str() of containers writes strings in repr form

    def render_container(self) -> Script:
        values = self.hostile(RENDER)
        texts = [values.text(40) for _ in range(self.rng.randint(1, 3))]
        items = ", ".join(self.literal(t) for t in texts)
        key = self.literal(texts[0])
        source = (
            "def authorize(ctx):\n"
            f"    s = str([{items}, ctx.caller.roles, {{{key}: [1, None, True]}}])\n"
            "    return allow(fee=len(s), note=s[:500])\n"
        )
        tags = frozenset({RENDER}) if any(c in NEW_CHARS for t in texts for c in t) else frozenset()
        return Script(source, "str() of a list of texts", tags)

    def render_context(self) -> Script:
        part = self.rng.choice(
            ("ctx.params", "ctx.caller", "ctx.usage", "ctx", "ctx.caller.attributes")
        )
        source = (
            "def authorize(ctx):\n"
            f"    s = str({part})\n"
            "    return allow(fee=len(s), note=s[-500:])\n"
        )
        # what it renders (params, attributes) is drawn by the generator under the same tag
        return Script(source, f"str({part})")

    def render_decision(self) -> Script:
        values = self.hostile(RENDER)
        note, reason = values.text(30), values.text(30) or "no"
        source = (
            "def authorize(ctx):\n"
            f"    d = [allow(fee=1, note={self.literal(note)}), deny({self.literal(reason)})]\n"
            "    s = str(d)\n"
            "    return allow(fee=len(s), note=s)\n"
        )
        tags = frozenset({RENDER}) if any(c in NEW_CHARS for c in note + reason) else frozenset()
        return Script(source, "str() of decisions", tags)

    # Unicode in the source

    def named_escape(self) -> Script:
        pools = [STABLE_NAMES, MISSING_NAMES]
        if NAMED_ESCAPE in self.enabled:
            pools.append(NEW_NAMES)
        name = self.rng.choice(self.rng.choice(pools))
        where = self.rng.choice(("module", "function"))
        literal = '"x\\N{' + name + '}y"'
        if where == "module":
            source = f"X = {literal}\ndef authorize(ctx):\n    return allow(fee=len(X), note=X)\n"
        else:
            source = (
                f"def authorize(ctx):\n    x = {literal}\n    return allow(fee=len(x), note=x)\n"
            )
        tags = frozenset({NAMED_ESCAPE}) if name in NEW_NAMES else frozenset()
        return Script(source, f"\\N{{{name}}} at {where} level", tags)

    def identifier(self) -> Script:
        stable = (
            "\u00e9",
            "na\u00efve",
            "\u65e5\u672c",
            "\ufb01x",
            "x\u00b7y",
            "\u01c5x",
            "\u03a9mega",
            "\uff46\uff55\uff4c\uff4c",
        )
        new = ("\U0001e030", "a\u200db", "a\u200cb", "\U0002ebf0", "k\U00011f00", "v\U00011f50")
        pool = stable + (new if IDENTIFIER in self.enabled else ())
        name = self.rng.choice(pool)
        other = "fix" if name == "\ufb01x" else "plain"
        source = (
            f"{name} = 3\n"
            f"{other} = 4\n"
            "def authorize(ctx):\n"
            f"    return allow(fee={name} * 10 + {other})\n"
        )
        tags = frozenset({IDENTIFIER}) if name in new else frozenset()
        return Script(source, f"identifier {name!a}", tags)

    # depth, loops and sizes

    def recursion(self) -> Script:
        kind = self.rng.choice(("unbounded", "bounded"))
        depth = self.rng.choice((5, 31, 32, 33, 1000))
        if kind == "unbounded":
            body = "def f(n):\n    return f(n + 1)\n"
        else:
            body = f"def f(n):\n    if n >= {depth}:\n        return n\n    return f(n + 1) + 0\n"
        source = body + "def authorize(ctx):\n    return allow(fee=f(0))\n"
        return Script(source, f"recursion {kind} {depth}")

    def mutual_recursion(self) -> Script:
        depth = self.rng.choice((10, 40, 60, 62))
        nested = "(" * depth + "n" + " + 1)" * depth
        source = (
            "def a(n):\n"
            f"    return b({nested})\n"
            "def b(n):\n"
            f"    if n > {depth * 40}:\n"
            "        return n\n"
            "    return a(n)\n"
            "def authorize(ctx):\n"
            "    return allow(fee=a(0))\n"
        )
        return Script(source, f"mutual recursion, expressions {depth} deep")

    def deep_expression(self) -> Script:
        depth = self.rng.choice((10, 60, 61, 62, 63, 64, 65, 100, 199, 201, 1000, 3000))
        shape = self.rng.choice(("parens", "unary", "list", "not"))
        if shape == "parens":
            expr = "(" * depth + "1" + " + 1)" * depth
        elif shape == "unary":
            expr = "-" * depth + "1"
        elif shape == "list":
            expr = "len(" + "[" * depth + "]" * depth + ")"
        else:
            expr = "1 if " + "not " * depth + "False else 0"
        source = f"def authorize(ctx):\n    x = {expr}\n    return allow(fee=abs(x))\n"
        return Script(source, f"{shape} nested {depth}")

    def deep_value(self) -> Script:
        depth = self.rng.choice((5, 31, 32, 33, 100))
        source = (
            "def authorize(ctx):\n"
            "    x = []\n"
            f"    for i in range({depth}):\n"
            '        x = [x, {"k": x}]\n'
            "    return allow(fee=len(str(x)) % 1000)\n"
        )
        return Script(source, f"value nested {depth}")

    def big_loop(self) -> Script:
        n = self.rng.choice((10, 1000, 50_000, 100_000, 100_001))
        if self.rng.random() < 0.5:
            source = (
                "def authorize(ctx):\n"
                "    total = 0\n"
                f"    for i in range({n}):\n"
                "        total = total + i % 7\n"
                "    return allow(fee=total)\n"
            )
            return Script(source, f"loop {n}")
        m = self.rng.choice((10, 300, 500))
        source = (
            "def authorize(ctx):\n"
            "    total = 0\n"
            f"    for i in range({m}):\n"
            f"        for j in range({m}):\n"
            "            total += 1\n"
            "    return allow(fee=total)\n"
        )
        return Script(source, f"nested loops {m}x{m}")

    def string_building(self) -> Script:
        values = self.hostile(RENDER)
        seed = values.text(8) or "ab"
        rounds = self.rng.choice((3, 12, 20, 40))
        how = self.rng.choice(("s + s", "s * 2", "s + str(len(s))"))
        source = (
            "def authorize(ctx):\n"
            f"    s = {self.literal(seed)}\n"
            f"    for i in range({rounds}):\n"
            f"        s = {how}\n"
            "    return allow(fee=len(s), note=s[:100])\n"
        )
        return Script(source, f"string building {how} x{rounds}")

    def sorting(self) -> Script:
        values = self.hostile(RENDER)
        texts = [self.literal(values.text(10)) for _ in range(4)]
        case = self.rng.choice(("texts", "mixed", "lists", "empty-min", "dict"))
        expr = {
            "texts": f"sorted([{', '.join(texts)}])",
            "mixed": f"sorted([3, {texts[0]}])",
            "lists": f"sorted([[2, {texts[0]}], [1], [2, {texts[1]}], []])",
            "empty-min": "[min([])]",
            "dict": f"sorted({{{texts[0]}: 1, {texts[1]}: 2}})",
        }[case]
        source = (
            "def authorize(ctx):\n"
            f"    xs = {expr}\n"
            "    return allow(fee=len(xs), note=str(len(xs)))\n"
        )
        return Script(source, f"sorted {case}")

    def int_conversion(self) -> Script:
        text = self.rng.choice(
            (
                "42",
                " -7\n",
                "+0",
                "\u0663",
                "\uff11\uff12",
                "\U00011f50",
                "1_000",
                "0x10",
                "9" * 80,
                "",
                "-",
                "\u00b2",
            )
        )
        source = f"def authorize(ctx):\n    return allow(fee=abs(int({self.literal(text)})))\n"
        return Script(source, f"int({text!a})")

    def big_int(self) -> Script:
        expr = self.rng.choice(
            (
                "2 ** 255 * 2",
                "2 ** 256",
                "10 ** 77",
                "-(2 ** 255) - 2 ** 255",
                "7 // 0",
                "7 % 0",
                "2 ** 64",
                "(2 ** 128) * (2 ** 127)",
                "3 ** 200",
                "2 ** -1",
                "-(2 ** 40)",
                *(("2 ** 64 - 1", "2 ** 63") if FEE_OVERFLOW in self.enabled else ()),
            )
        )
        source = f"def authorize(ctx):\n    x = {expr}\n    return allow(fee=abs(x))\n"
        return Script(source, f"integer {expr}")

    def not_a_decision(self) -> Script:
        value = self.rng.choice(("1", "None", '"allow"', "[allow()]", "ctx"))
        source = f"def authorize(ctx):\n    return {value}\n"
        return Script(source, f"returns {value}")

    def refused(self) -> Script:
        values = self.hostile(RENDER)
        body = self.rng.choice(
            (
                "    x = 1if True else 2\n    return allow(fee=x)\n",
                '    x = "\\d"\n    return allow()\n',
                '    x = f"{ctx.purpose}"\n    return allow()\n',
                "    import os\n    return allow()\n",
                "    x = lambda y: y\n    return allow()\n",
                "    x = 1.5\n    return allow()\n",
                "    x = 7 / 2\n    return allow()\n",
                "    x = ctx.__class__\n    return allow()\n",
                "    while True:\n        pass\n    return allow()\n",
                "\treturn allow()\n",
                "  return allow()\n    ",
                "    return allow(fee=1, fee=2)\n",
                "    return allow(\n",
                '    return "\\N{' + self.rng.choice(MISSING_NAMES) + '}"\n',
                "    x = " + self.literal(values.text(20)) + "\x00\n    return allow()\n",
                '    x = "' + "a" * 8193 + '"\n    return allow()\n',
            )
        )
        return Script("def authorize(ctx):\n" + body, "refused at deploy")

    def layout(self) -> Script:
        values = self.hostile(RENDER)
        comment = values.text(30).replace("\n", " ").replace("\r", " ").replace("\x00", "")
        variant = self.rng.choice(("crlf", "cr", "formfeed", "continuation", "bom", "comment"))
        base = "def authorize(ctx):\n    x = 1 + \\\n        2\n    return allow(fee=x)\n"
        if variant == "crlf":
            source = base.replace("\n", "\r\n")
        elif variant == "cr":
            source = base.replace("\n", "\r")
        elif variant == "formfeed":
            source = "\x0c" + base.replace("    return", "\x0c    return")
        elif variant == "bom":
            source = "\ufeff" + base
        elif variant == "comment":
            source = "# " + comment + "\n" + base.replace("2\n", "2  # " + comment + "\n")
        else:
            source = base
        return Script(source, f"layout {variant}")

    def slicing(self) -> Script:
        values = self.hostile(RENDER)
        text = self.literal(values.text(30))
        source = (
            "def authorize(ctx):\n"
            f"    s = {text}\n"
            "    parts = [s[-3:], s[1:2], s[:-1], s[5:1], s[-100:100]]\n"
            "    n = 0\n"
            "    for p in parts:\n"
            "        n = n + len(p)\n"
            "    for ch in s:\n"
            '        if ch in "aeiou":\n'
            "            n += 1\n"
            "    return allow(fee=n, note=s[-5:])\n"
        )
        return Script(source, "slicing and iteration of text")
