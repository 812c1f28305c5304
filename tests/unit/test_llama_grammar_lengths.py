"""Long string bounds must not blow up the llama.cpp grammar (regression: the coding
assistant's edit schema, with maxLength 2000-20000, made a grammar llama.cpp rejected, so
generation fell back to unconstrained JSON)."""

from __future__ import annotations

import pytest

from agents.schemas import CODE_SCHEMA, MATH_SCHEMA
from agents.workflows.coding_assistant import edits_schema
from orchestrator.models._llama_grammar import gbnf_for_schema, unenforced_keywords

llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")


@pytest.mark.parametrize(
    "schema", [edits_schema(["calc.py", "tests/test_calc.py"]), CODE_SCHEMA, MATH_SCHEMA]
)
def test_long_length_bounds_give_a_small_grammar_llama_cpp_accepts(schema: dict) -> None:
    gbnf = gbnf_for_schema(schema)
    assert len(gbnf) < 5000
    assert llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False) is not None
    assert "maxLength" in unenforced_keywords(schema)


def test_short_length_bounds_stay_in_the_grammar() -> None:
    schema = {"type": "string", "maxLength": 5}
    assert unenforced_keywords(schema) == []
    assert "char" in gbnf_for_schema(schema)
