"""Schema enforcement: make model outputs and tool calls valid against JSON Schema.

The pure core (no I/O) splits reasoning from content, finds the candidate answers, parses
strictly then repairs, converts quoted scalars losslessly, and validates with cached
Draft 2020-12 validators. One retry loop, shared by :func:`enforce` and :func:`aenforce`,
re-asks the model with the exact errors within a budget and counts every outcome.

Example:
    >>> coerce('<think>...</think>```json\\n{"answer": "4",}\\n```',
    ...        {"type": "object", "properties": {"answer": {"type": "integer"}}})
    {'answer': 4}
"""

from orchestrator.schema.formats import response_format_for
from orchestrator.schema.loop import EnforceResult, aenforce, enforce
from orchestrator.schema.parse import ParsedOutput, coerce, parse_output
from orchestrator.schema.reasoning import message_parts, split_reasoning
from orchestrator.schema.stats import EnforcementStats, EnforceOutcome
from orchestrator.schema.toolcalls import ArgumentCheck, check_arguments, parse_tool_calls
from orchestrator.schema.validate import SchemaLike, Validator, check_schema, validator_for

__all__ = [
    "ArgumentCheck",
    "EnforceOutcome",
    "EnforceResult",
    "EnforcementStats",
    "ParsedOutput",
    "SchemaLike",
    "Validator",
    "aenforce",
    "check_arguments",
    "check_schema",
    "coerce",
    "enforce",
    "message_parts",
    "parse_output",
    "parse_tool_calls",
    "response_format_for",
    "split_reasoning",
    "validator_for",
]
