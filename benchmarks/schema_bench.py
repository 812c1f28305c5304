"""Schema enforcement: recovery, false accepts, speed, and re-asks saved.

Builds a seeded corpus of schema-valid instances of five realistic schemas (math answer,
code answer, action-mode union, tool arguments, nested records) and renders each the ways
reasoning models write JSON: think block first, prose before/after, code fences, single
quotes, Python literals, trailing commas, comments, a missing final bracket, numbers as
strings, and random combinations. Then it measures

* recovery: ``coerce`` returns exactly the original instance (target >= 99.5 %), including
  what real servers added (:mod:`benchmarks.schema_failure_classes`): double-encoded values
  and reasoning-only replies;
* truncated outputs (cut by ``max_tokens``, no repair allowed): accepted (target 0), and
  truncated tool calls, as text and native, JSON and streamed: executed (target 0);
* false accepts: the same renderings of truly invalid instances (missing field, wrong
  type, value out of range, unknown property, unknown enum value) are all refused (target 0);
* ``coerce`` median time on a 2 KB answer after a 20 KB think block (target < 1 ms);
* cached validation throughput on a typical tool-argument schema (target >= 5,000 docs/s);
* model round trips saved: outputs that would need a re-ask with instructor-style handling
  alone (take the fenced block or the first ``{`` to the last ``}``, ``json.loads``,
  validate; no repair, no scalar coercion) versus with ``coerce``.

Usage: ``python -m benchmarks.schema_bench [--per-class N] [--seed S]`` from the repo root.
Prints a table; writes ``benchmarks/results/schema.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.schema_failure_classes import (
    NEW_CLASSES,
    render_double_encoded,
    render_reasoning_only,
    truncated_refusals,
    truncated_tool_calls,
)
from orchestrator.exceptions import SchemaValidationError
from orchestrator.schema import parse_output, validator_for

RESULTS = Path(__file__).parent / "results" / "schema.json"

MATH = {
    "title": "math",
    "type": "object",
    "properties": {
        "answer": {"type": "integer"},
        "steps": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "exact": {"type": "boolean"},
    },
    "required": ["answer", "steps"],
    "additionalProperties": False,
}
CODE = {
    "title": "code",
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "explanation": {"type": "string"},
        "tests": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["code", "explanation", "tests"],
    "additionalProperties": False,
}
TOOL_ARGS = {
    "title": "read_file",
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "start_line": {"type": "integer", "minimum": 1},
        "max_lines": {"type": "integer", "minimum": 1, "maximum": 2000},
        "encoding": {"enum": ["utf-8", "latin-1"]},
    },
    "required": ["path"],
    "additionalProperties": False,
}
ACTION = {
    "title": "action",
    "oneOf": [
        {
            "type": "object",
            "properties": {"action": {"const": "read_file"}, "arguments": TOOL_ARGS},
            "required": ["action", "arguments"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"action": {"const": "final"}, "result": MATH},
            "required": ["action", "result"],
            "additionalProperties": False,
        },
    ],
}
RECORDS = {
    "title": "records",
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "minimum": 0},
                    "score": {"type": "number"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "parent": {"type": ["integer", "null"]},
                },
                "required": ["id", "score", "tags", "parent"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["items"],
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "math": MATH,
    "code": CODE,
    "tool_args": TOOL_ARGS,
    "action": ACTION,
    "records": RECORDS,
}
# prose words, some with brackets and apostrophes that a scanner could mistake for structure
WORDS = [
    *("the", "of", "sum", "is", "we", "so", "then", "product", "value", "each"),
    *("it's", "(see", "above)", "{x}", "[1]", "a:b"),
]
CLASSES = [
    "think+json",
    "prose-before",
    "prose-after",
    "fence",
    "single-quotes",
    "python-literals",
    "trailing-commas",
    "comments",
    "missing-final-bracket",
    "numbers-as-strings",
    "combo",
]
_CODE_LINES = [
    "def add(a, b):",
    '    """Add two numbers; see {docs}."""',
    "    return a + b",
    "print(f'{add(1, 2)} is \"three\"')",
    "xs = [x ** 2 for x in range(10)]  # squares",
    "    if not xs: raise ValueError('empty: [] or {}')",
]


# What real servers added (issue 13): part of the targets.
ALL_CLASSES = CLASSES + NEW_CLASSES
# Beyond the repairable classes the targets are about: left to json-repair, reported apart.
EXTRA_CLASSES = ["unquoted-keys", "missing-commas"]


# --- instances --------------------------------------------------------------------------


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _instance(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "math":
        value: dict[str, Any] = {
            "answer": rng.randint(-(10**6), 10**6),
            "steps": [_text(rng, rng.randint(2, 8)) for _ in range(rng.randint(1, 4))],
        }
        if rng.random() < 0.5:
            value["exact"] = rng.random() < 0.5
        return value
    if kind == "code":
        return {
            "code": "\n".join(rng.choice(_CODE_LINES) for _ in range(rng.randint(1, 6))),
            "explanation": _text(rng, rng.randint(3, 12)),
            "tests": [f"assert add({i}, 1) == {i + 1}" for i in range(rng.randint(0, 3))],
        }
    if kind == "tool_args":
        value = {"path": f"src/pkg/mod_{rng.randint(0, 99)}.py"}
        if rng.random() < 0.6:
            value["start_line"] = rng.randint(1, 500)
        if rng.random() < 0.6:
            value["max_lines"] = rng.randint(1, 2000)
        if rng.random() < 0.3:
            value["encoding"] = rng.choice(["utf-8", "latin-1"])
        return value
    if kind == "action":
        if rng.random() < 0.5:
            return {"action": "read_file", "arguments": _instance("tool_args", rng)}
        return {"action": "final", "result": _instance("math", rng)}
    return {
        "items": [
            {
                "id": rng.randint(0, 10**4),
                "score": rng.choice([rng.randint(-5, 5), round(rng.uniform(-100, 100), 3), 0.5]),
                "tags": [rng.choice(["a", "b b", "c'd", 'e"f', "", "{g}"]) for _ in range(3)][
                    : rng.randint(0, 3)
                ],
                "parent": rng.choice([None, rng.randint(0, 99)]),
            }
            for _ in range(rng.randint(0, 4))
        ]
    }


def _violate(kind: str, value: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of ``value`` that breaks the schema in a way no lossless fix can undo."""
    bad = json.loads(json.dumps(value))
    target = bad
    if kind == "action":
        if rng.random() < 0.25:
            bad["action"] = "delete_everything"
            return bad
        target = bad["arguments"] if bad["action"] == "read_file" else bad["result"]
        kind = "tool_args" if bad["action"] == "read_file" else "math"
    choice = rng.randrange(4)
    if kind == "math":
        [
            lambda: target.pop("answer"),
            lambda: target.__setitem__("answer", rng.choice(["forty-two", 1.5, "1.5", None])),
            lambda: target.__setitem__("steps", []),
            lambda: target.__setitem__("confidence", 0.9),
        ][choice]()
    elif kind == "code":
        [
            lambda: target.pop("code"),
            lambda: target.__setitem__("tests", "assert True"),
            lambda: target.__setitem__("code", ["print(1)"]),
            lambda: target.__setitem__("language", "python"),
        ][choice]()
    elif kind == "tool_args":
        [
            lambda: target.pop("path"),
            lambda: target.__setitem__("max_lines", rng.choice([0, 5000, "many", 2.5])),
            lambda: target.__setitem__("encoding", "ascii"),
            lambda: target.__setitem__("mode", "w"),
        ][choice]()
    else:
        item = {"id": -1, "score": "high", "tags": "a", "parent": "none"}
        key = ["id", "score", "tags", "parent"][choice]
        record = {"id": 1, "score": 0.5, "tags": [], "parent": None, key: item[key]}
        bad["items"] = [*bad["items"], record]
    return bad


# --- renderings -------------------------------------------------------------------------


def _dump(value: Any, *, single: bool, python: bool, quote_numbers: bool, indent: str = "") -> str:
    inner = indent + "  "

    def dump(v: Any) -> str:
        return _dump(v, single=single, python=python, quote_numbers=quote_numbers, indent=inner)

    if isinstance(value, dict):
        if not value:
            return "{}"
        members = [f"{inner}{_string(k, single)}: {dump(v)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + dump(v) for v in value) + "\n" + indent + "]"
    if isinstance(value, str):
        return _string(value, single)
    if isinstance(value, bool) or value is None:
        names = {True: ("True", "true"), False: ("False", "false"), None: ("None", "null")}
        return names[value][0 if python else 1]
    return _string(json.dumps(value), single) if quote_numbers else json.dumps(value)


def _string(s: str, single: bool) -> str:
    if not single:
        return json.dumps(s)
    escaped = s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped + "'"


def _corrupt_lines(text: str, rng: random.Random, *, commas: bool, comments: bool) -> str:
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if commas and nxt[:1] in ("}", "]") and not line.endswith(("{", "[")):
            line += ","
        if comments and line.endswith((",", "{", "[")) and rng.random() < 0.5:
            line += rng.choice(["  // checked", "  /* from step 2 */", "  # it's right"])
        out.append(line)
    return "\n".join(out)


def render(value: Any, cls: str, rng: random.Random) -> str:
    """``value`` written the way class ``cls`` of model outputs writes it."""
    if cls == "double-encoded":
        return render_double_encoded(value, rng, _text(rng, 20))
    if cls == "reasoning-only":
        return render_reasoning_only(value, rng, _text(rng, 30))
    picks = set(rng.sample(CLASSES[:-1], rng.randint(2, 4))) if cls == "combo" else {cls}
    text = _dump(
        value,
        single="single-quotes" in picks,
        python="python-literals" in picks,
        quote_numbers="numbers-as-strings" in picks,
    )
    text = _corrupt_lines(
        text, rng, commas="trailing-commas" in picks, comments="comments" in picks
    )
    if "unquoted-keys" in picks:
        text = re.sub(r'^(\s*)"(\w+)":', r"\1\2:", text, flags=re.MULTILINE)
    if "missing-commas" in picks:
        text = re.sub(r",\n", "\n", text, count=max(1, text.count(",\n") // 2))
    fenced = "fence" in picks
    if "missing-final-bracket" in picks and (fenced or "prose-after" not in picks):
        text = text[:-1]
    if fenced:
        text = "```json\n" + text + "\n```"
    if "prose-before" in picks:
        text = f"Let me write it out ({_text(rng, 3)}):\n\n" + text
    if "prose-after" in picks:
        text += f"\n\nThat's the answer; {_text(rng, 4)}."
    if "think+json" in picks or rng.random() < 0.5:
        draft = json.dumps({"draft": True, "answer": 0})
        text = f"<think>\nLet me think. {_text(rng, 30)}\nDraft: {draft}\n</think>\n\n" + text
    return text


# --- instructor-style baseline ----------------------------------------------------------

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def baseline_accepts(raw: str, schema: dict[str, Any]) -> bool:
    """Re-asking alone: fenced block or first ``{`` to last ``}``, json.loads, validate."""
    content = raw.split("</think>")[-1]
    m = _FENCE.search(content)
    if m:
        content = m.group(1)
    else:
        start, end = content.find("{"), content.rfind("}")
        content = content[start : end + 1] if 0 <= start < end else content
    try:
        value = json.loads(content)
    except ValueError:
        return False
    return bool(validator_for(schema).is_valid(value))


# --- measurements -----------------------------------------------------------------------


def _corpus(
    per_class: int, seed: int, *, invalid: bool, classes: list[str] = CLASSES
) -> list[tuple[str, str, str, Any]]:
    rng = random.Random(seed + (1 if invalid else 0))
    out = []
    kinds = list(SCHEMAS)
    for cls in classes:
        for i in range(per_class):
            kind = kinds[i % len(kinds)]
            value = _instance(kind, rng)
            if invalid:
                value = _violate(kind, value, rng)
                assert not validator_for(SCHEMAS[kind]).is_valid(value), value
            out.append((cls, kind, render(value, cls, rng), value))
    return out


def measure_recovery(corpus: list[tuple[str, str, str, Any]]) -> dict[str, Any]:
    per_class: dict[str, Counter[str]] = {c: Counter() for c, *_ in corpus}
    how: Counter[str] = Counter()
    failures = []
    for cls, kind, text, value in corpus:
        per_class[cls]["total"] += 1
        try:
            parsed = parse_output(text, SCHEMAS[kind])
        except SchemaValidationError:
            failures.append((cls, kind, text))
            continue
        if parsed.value == value and json.dumps(parsed.value) == json.dumps(value):
            per_class[cls]["recovered"] += 1
            how["repaired" if parsed.repaired else "coerced" if parsed.coerced else "strict"] += 1
        else:
            failures.append((cls, kind, text))
    total = len(corpus)
    recovered = sum(c["recovered"] for c in per_class.values())
    return {
        "total": total,
        "recovered": recovered,
        "rate": recovered / total,
        "by_class": {c: dict(v) for c, v in per_class.items()},
        "how": dict(how),
        "failure_examples": [
            {"class": c, "schema": k, "text": t[-400:]} for c, k, t in failures[:5]
        ],
    }


def measure_false_accepts(corpus: list[tuple[str, str, str, Any]]) -> dict[str, Any]:
    accepted = []
    for cls, kind, text, _ in corpus:
        try:
            value = parse_output(text, SCHEMAS[kind]).value
        except SchemaValidationError:
            continue
        accepted.append({"class": cls, "schema": kind, "text": text[-400:], "value": value})
    return {"total": len(corpus), "false_accepts": len(accepted), "examples": accepted[:5]}


def measure_reasks(corpus: list[tuple[str, str, str, Any]]) -> dict[str, Any]:
    baseline = ours = 0
    for _, kind, text, _ in corpus:
        baseline += not baseline_accepts(text, SCHEMAS[kind])
        try:
            parse_output(text, SCHEMAS[kind])
        except SchemaValidationError:
            ours += 1
    return {
        "outputs": len(corpus),
        "reasks_instructor_style": baseline,
        "reasks_with_repair": ours,
        "round_trips_saved": baseline - ours,
    }


def _median_us(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: build the cached validator
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def measure_latency(runs: int) -> dict[str, Any]:
    rng = random.Random(3)
    think = "<think>\n" + "\n".join(_text(rng, 12) for _ in range(400))[:20_000] + "\n</think>\n"
    value = {
        "code": "\n".join(rng.choice(_CODE_LINES) for _ in range(30)),
        "explanation": _text(rng, 120),
        "tests": [f"assert add({i}, 1) == {i + 1}" for i in range(12)],
    }
    body = json.dumps(value, indent=2)
    while len(body) < 2000:
        value["tests"].append("assert add(0, 0) == 0")
        body = json.dumps(value, indent=2)
    fenced = "Here is the solution.\n\n```json\n" + body + "\n```\n"
    messy = "Here is the solution.\n\n```json\n" + body.replace('"', "'", 2)[:-1] + "\n```\n"
    cases = {"bare": think + body, "fenced": think + fenced, "repaired": think + messy}
    out: dict[str, Any] = {"think_chars": len(think), "answer_chars": len(body)}
    for name, text in cases.items():
        assert parse_output(text, CODE).value == value, name
        out[f"median_us_{name}"] = _median_us(lambda t=text: parse_output(t, CODE), runs)
    return out


def measure_validation(seconds: float) -> dict[str, Any]:
    rng = random.Random(5)
    docs = [_instance("tool_args", rng) for _ in range(1000)]
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for doc in docs:
            validator_for(TOOL_ARGS).is_valid(doc)  # the cache lookup is part of the cost
        n += len(docs)
    elapsed = time.perf_counter() - start
    return {"docs": n, "seconds": elapsed, "docs_per_s": n / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100, help="renderings per class")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--runs", type=int, default=300, help="timing runs for coerce")
    args = parser.parse_args()

    valid = _corpus(args.per_class, args.seed, invalid=False, classes=ALL_CLASSES)
    invalid = _corpus(args.per_class, args.seed, invalid=True, classes=ALL_CLASSES)
    extra = _corpus(args.per_class // 2, args.seed + 7, invalid=False, classes=EXTRA_CLASSES)
    t0 = time.perf_counter()
    recovery = measure_recovery(valid)
    extra_recovery = measure_recovery(extra)
    false_accepts = measure_false_accepts(invalid)
    reasks = measure_reasks(valid)
    plain = [(kind, SCHEMAS[kind], value) for cls, kind, _, value in valid if cls == "fence"]
    truncated = truncated_refusals(plain, random.Random(args.seed + 11))
    cut_calls = truncated_tool_calls(plain, random.Random(args.seed + 13))
    latency = measure_latency(args.runs)
    validation = measure_validation(2.0)
    results = {
        "recovery": recovery,
        "recovery_beyond_targets": extra_recovery,
        "false_accepts": false_accepts,
        "reasks": reasks,
        "truncated_outputs": truncated,
        "truncated_tool_calls": cut_calls,
        "coerce_latency": latency,
        "validation": validation,
        "targets": {
            "recovery_rate": 0.995,
            "false_accepts": 0,
            "coerce_median_us": 1000,
            "validation_docs_per_s": 5000,
        },
        "platform": {"python": platform.python_version(), "machine": platform.machine()},
        "elapsed_s": time.perf_counter() - t0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")

    rows = [
        (
            "recovery (corrupted valid outputs)",
            f"{recovery['recovered']}/{recovery['total']}",
            f"{recovery['rate']:.2%}",
            ">= 99.5%",
            recovery["rate"] >= 0.995,
        ),
        (
            "truncated outputs accepted",
            f"{truncated['total']} outputs",
            str(truncated["accepted"]),
            "0",
            truncated["accepted"] == 0,
        ),
        (
            "truncated tool calls executed",
            f"{cut_calls['total']} calls",
            str(cut_calls["executed"]),
            "0",
            cut_calls["executed"] == 0,
        ),
        (
            "false accepts (invalid outputs)",
            f"{false_accepts['false_accepts']}/{false_accepts['total']}",
            str(false_accepts["false_accepts"]),
            "0",
            false_accepts["false_accepts"] == 0,
        ),
        (
            "coerce median, 2 KB JSON + 20 KB think",
            "",
            f"{latency['median_us_bare']:.0f} us",
            "< 1000 us",
            latency["median_us_bare"] < 1000,
        ),
        (
            "coerce median, same in prose + fence",
            "",
            f"{latency['median_us_fenced']:.0f} us",
            "< 1000 us",
            latency["median_us_fenced"] < 1000,
        ),
        (
            "coerce median, same needing repair",
            "",
            f"{latency['median_us_repaired']:.0f} us",
            "-",
            True,
        ),
        (
            "cached validation, tool arguments",
            f"{validation['docs']} docs",
            f"{validation['docs_per_s']:,.0f}/s",
            ">= 5,000/s",
            validation["docs_per_s"] >= 5000,
        ),
        (
            "re-asks: instructor-style only",
            f"{reasks['outputs']} outputs",
            str(reasks["reasks_instructor_style"]),
            "-",
            True,
        ),
        (
            "re-asks: with repair + coercion",
            f"{reasks['outputs']} outputs",
            str(reasks["reasks_with_repair"]),
            "-",
            True,
        ),
        ("model round trips saved", "", str(reasks["round_trips_saved"]), "-", True),
    ]
    print(f"{'measure':<40} {'n':>16} {'result':>12} {'target':>11}  ok")
    for name, n, result, target, ok in rows:
        print(f"{name:<40} {n:>16} {result:>12} {target:>11}  {'yes' if ok else 'NO'}")
    print("\nrecovery by class:")
    for cls, counts in [*recovery["by_class"].items(), *extra_recovery["by_class"].items()]:
        note = "  (beyond the targeted classes)" if cls in EXTRA_CLASSES else ""
        print(f"  {cls:<24} {counts.get('recovered', 0):>4}/{counts['total']}{note}")
    print(f"\nwrote {RESULTS} in {results['elapsed_s']:.1f} s")


if __name__ == "__main__":
    main()
