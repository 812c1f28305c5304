"""Custom-graph specs: steps (an agent or a tool), edges with conditions, the entry.

Private; import these names from :mod:`orchestrator.config.spec`. Checks that need the rest of the
pipeline (do the agents and tools exist) are in :class:`orchestrator.spec.PipelineSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from orchestrator.config._common import IDENTIFIER, JsonSchema, SpecIssue, SpecModel, did_you_mean
from orchestrator.config.expressions import (
    Expression,
    Template,
    compile_expression,
    compile_template,
)
from orchestrator.exceptions import ConfigError

__all__ = [
    "END",
    "GRAPH_STATE_NAMES",
    "Condition",
    "EdgeSpec",
    "GraphSpec",
    "StepSpec",
    "TemplateText",
]

GRAPH_STATE_NAMES = frozenset({"task", "last", "steps"})
"""State keys a custom graph's conditions and templates may read besides the step outputs:
the run's ``task`` text, the number of ``steps`` taken, and the ``last`` step's output."""
END = "end"
"""Edge target that ends the run."""
_RESERVED_STEPS = frozenset({END, "__start__", "__end__", "true", "false", "null", "none"})


def _to_expression(value: Any) -> Expression:
    if isinstance(value, Expression):
        return value
    if isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, str):
        raise SpecIssue(f"a condition must be an expression string, not {type(value).__name__}")
    try:
        return compile_expression(value)
    except ConfigError as exc:
        raise SpecIssue(exc.message) from None


def _to_template(value: Any) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str):
        raise SpecIssue(f"input must be a template string, not {type(value).__name__}")
    try:
        return compile_template(value)
    except ConfigError as exc:
        raise SpecIssue(exc.message) from None


Condition = Annotated[
    Expression,
    PlainValidator(_to_expression),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": ["string", "boolean"], "description": "An expression over the run state."}
    ),
]
"""An edge condition, compiled at load (see :mod:`orchestrator.config.expressions`)."""
TemplateText = Annotated[
    Template,
    PlainValidator(_to_template),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "Text with {{ expression }} placeholders."}),
]
"""Text with ``{{ expression }}`` placeholders, compiled at load."""


class StepSpec(SpecModel):
    """One node of a custom graph: an agent or a tool."""

    agent: str | None = None
    """Agent that runs this step (a key of ``agents``)."""
    tool: str | None = None
    """Tool that runs this step (built-in name or allow-listed ``module:attr``)."""
    input: TemplateText | None = None
    """Agent steps: the message the agent gets, with {{ }} placeholders over the state;
    default: the task for the entry step, else the previous step's output."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Tool steps: the tool's arguments; strings may hold {{ }} placeholders."""
    output_schema: JsonSchema | None = None
    """Agent steps: JSON Schema the result must match (inline or a file path)."""
    output: str = Field(pattern=IDENTIFIER.pattern)
    """State key the result is stored under; default: the step's name."""

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        if (self.agent is None) == (self.tool is None):
            which = "not both" if self.agent is not None else "one of them"
            raise SpecIssue(f"a step runs an agent or a tool: give {which}", at_key=True)
        if self.tool is not None:
            for key in ("input", "output_schema"):
                if key in self.model_fields_set:
                    raise SpecIssue(
                        f"{key} applies to agent steps; tool steps take args", loc=(key,)
                    )
        elif self.args:
            raise SpecIssue("args apply to tool steps; agent steps take input", loc=("args",))
        for loc, text in _strings(self.args, ("args",)):
            try:
                compile_template(text)
            except ConfigError as exc:
                raise SpecIssue(exc.message, loc=loc) from None
        return self

    def template_names(self) -> dict[tuple[str | int, ...], frozenset[str]]:
        """The state keys read by each template of this step, by location."""
        found: dict[tuple[str | int, ...], frozenset[str]] = {}
        if self.input is not None:
            found[("input",)] = self.input.names
        for loc, text in _strings(self.args, ("args",)):
            found[loc] = compile_template(text).names
        return found


def _strings(value: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _strings(v, (*loc, k))]
    if isinstance(value, list | tuple):
        return [s for i, v in enumerate(value) for s in _strings(v, (*loc, i))]
    return []


class EdgeSpec(SpecModel):
    """A transition; a step's edges are tried in order and the first whose condition holds
    is taken. A step without outgoing edges ends the run."""

    from_: str = Field(alias="from")
    """Source step."""
    to: str
    """Target step, or ``end``."""
    when: Condition | None = None
    """Condition over the state (see the expression language); default: always."""


class GraphSpec(SpecModel):
    """A custom graph of named steps; replaces the standard planner/reasoner graph."""

    entry: str
    """First step; default: the first step listed."""
    steps: dict[str, StepSpec] = Field(min_length=1)
    """Steps by name (names are identifiers)."""
    edges: tuple[EdgeSpec, ...] = ()
    """Transitions between steps."""

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("steps"), Mapping):
            return data
        steps = {
            name: {"output": name, **step}
            if isinstance(step, Mapping) and "output" not in step
            else step
            for name, step in data["steps"].items()
        }
        entry = data.get("entry", next(iter(steps), None))
        return {**data, "steps": steps, "entry": entry}

    @model_validator(mode="after")
    def _check_graph(self) -> GraphSpec:
        seen: dict[str, str] = {}
        for name, step in self.steps.items():
            if not IDENTIFIER.fullmatch(name) or name in _RESERVED_STEPS:
                raise SpecIssue(
                    f"step name {name!r} must be an identifier and not one of "
                    f"{', '.join(sorted(_RESERVED_STEPS))}",
                    loc=("steps", name),
                    at_key=True,
                )
            if step.output in GRAPH_STATE_NAMES or step.output in seen:
                other = seen.get(step.output, "the run state")
                raise SpecIssue(
                    f"step {name!r} stores its output under {step.output!r}, "
                    f"already used by {other}",
                    loc=("steps", name, "output")
                    if "output" in step.model_fields_set
                    else ("steps", name),
                    at_key="output" not in step.model_fields_set,
                )
            seen[step.output] = f"step {name!r}"
        if self.entry not in self.steps:
            raise SpecIssue(
                f"entry {self.entry!r} is not a step{did_you_mean(self.entry, self.steps)}",
                loc=("entry",),
            )
        self._check_edges()
        self._check_reachable()
        self._check_names()
        return self

    def _check_edges(self) -> None:
        unconditional: dict[str, int] = {}
        for i, edge in enumerate(self.edges):
            for key, target in (("from", edge.from_), ("to", edge.to)):
                if target not in self.steps and not (key == "to" and target == END):
                    known = [*self.steps, END] if key == "to" else list(self.steps)
                    raise SpecIssue(
                        f"edge {key} unknown step {target!r}{did_you_mean(target, known)}",
                        loc=("edges", i, key),
                    )
            if edge.from_ in unconditional:
                raise SpecIssue(
                    f"this edge from {edge.from_!r} is never taken: edge "
                    f"{unconditional[edge.from_]} from the same step has no condition",
                    loc=("edges", i),
                )
            if edge.when is None:
                unconditional[edge.from_] = i

    def _check_reachable(self) -> None:
        reached, todo = {self.entry}, [self.entry]
        while todo:
            current = todo.pop()
            for edge in self.edges:
                if edge.from_ == current and edge.to in self.steps and edge.to not in reached:
                    reached.add(edge.to)
                    todo.append(edge.to)
        for name in self.steps:
            if name not in reached:
                raise SpecIssue(
                    f"step {name!r} is unreachable from entry {self.entry!r}",
                    loc=("steps", name),
                    at_key=True,
                )

    def _check_names(self) -> None:
        known = {step.output for step in self.steps.values()} | GRAPH_STATE_NAMES
        reads: list[tuple[tuple[str | int, ...], frozenset[str]]] = [
            (("edges", i, "when"), edge.when.names)
            for i, edge in enumerate(self.edges)
            if edge.when is not None
        ]
        for name, step in self.steps.items():
            reads += [
                (("steps", name, *loc), names) for loc, names in step.template_names().items()
            ]
        for loc, names in reads:
            for unknown in sorted(names - known):
                raise SpecIssue(
                    f"{unknown!r} is not a state key (step outputs, task, steps, last)"
                    f"{did_you_mean(unknown, known)}",
                    loc=loc,
                )
