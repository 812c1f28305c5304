"""``Pipeline``: the Python API. Build a two-model pipeline, run it, stream it, resume it.

Example:
    >>> from orchestrator import Pipeline, Limits
    >>> from orchestrator.models.testing import FakeChatModel
    >>> planner = FakeChatModel(responses=["42"])
    >>> result = Pipeline(planner=planner, limits=Limits(max_steps=5)).run("What is 6*7?")
    >>> result.status.value, result.answer
    ('completed', '42')

The async core (``astream``) does the work; ``arun``, ``run``, ``stream`` and ``resume`` are
doors onto it, never copies of it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

import orchestrator._companions  # noqa: F401  (agents/tools are ours: checked before use)

# isort: split
from agents.agent import Agent, AgentContext, make_agent
from agents.workflows.standard import build_graph
from orchestrator import telemetry
from orchestrator._deadline import until_deadline
from orchestrator._sync import iterate_in_thread, run_sync
from orchestrator.events import Event, FinalEvent
from orchestrator.exceptions import ConfigError
from orchestrator.graph.checkpoint import open_checkpointer, sync_checkpointer
from orchestrator.graph.kit import Graph
from orchestrator.graph.resume import ResumeCommand
from orchestrator.graph.state import RunState
from orchestrator.limits import Limits
from orchestrator.result import RunResult, result_from_state
from orchestrator.run_stream import RunOutcome, final_result, stream_modes
from orchestrator.runlog.recorder import open_recorder
from orchestrator.types import Role, RunStatus
from orchestrator.usage import Price
from tools.sandbox import sandbox_isolation

__all__ = ["GraphBuilder", "Pipeline", "RunResource"]

GraphBuilder = Callable[[AgentContext], Graph]

RUN_RESOURCE_KEY = "bicameral_run_resource"
"""Tool metadata key naming a run-scoped resource the tool needs (MCP tools set it)."""


class RunResource(Protocol):
    """Something every run opens at its start and closes at its end (e.g. MCP sessions)."""

    def session(self) -> AbstractAsyncContextManager[Any]:
        """The run-scoped context: entered before the first step, left after the last."""
        ...


Checkpointer = str | BaseCheckpointSaver[Any] | None
CompiledGraph = CompiledStateGraph[RunState, None, RunState, RunState]


class Pipeline:
    """A planner (and optionally a reasoner) with tools, limits and a checkpointer.

    Args:
        planner: a chat model (any langchain-core ``BaseChatModel``: it becomes the planner
            agent with the defaults of :func:`agents.agent.make_agent`) or an ``Agent``.
        reasoner: a chat model or an ``Agent`` for delegated math/code subtasks (``None``:
            the planner works alone).
        tools: tools the planner may call (with a bare planner model).
        reasoner_tools: tools the reasoner may use (with a bare reasoner model).
        agents: further agents by name (custom graphs), as ``Agent`` values.
        limits: step, token, wall-time and cost budgets.
        checkpointer: ``"memory"`` (default), ``"sqlite:///file"``, ``"postgres://..."`` or a
            LangGraph checkpointer.
        max_enforce_retries: re-asks the schema layer may spend on one output.
        graph_builder: builds a custom graph from the agent context instead of the standard one.
        resources: what each run opens at its start and closes at its end, whatever the
            ending (e.g. the sessions of MCP tool servers, ``McpServers``).
        tracer_provider: an OpenTelemetry tracer provider: each run becomes a trace (extra
            ``otel``); ``None`` with no ``telemetry`` settings: no tracing, at no cost.
        telemetry: tracing settings (OTLP endpoint, content capture, provider names).

    Runs checkpointed to a SQLite or PostgreSQL URL also keep a run log there (every event,
    secrets removed), which ``bicameral runs`` and ``bicameral ui`` read.

    Raises:
        ConfigError: tools given next to an ``Agent`` (give them to the agent), or two agents
            with one name.

    Example:
        >>> from agents.agent import make_agent
        >>> planner = make_agent("planner", model, tools=[add], tool_mode="action")
        >>> Pipeline(planner=planner, reasoner=reasoner_model)  # doctest: +SKIP
    """

    def __init__(
        self,
        planner: BaseChatModel | Agent,
        reasoner: BaseChatModel | Agent | None = None,
        tools: Sequence[BaseTool] = (),
        *,
        reasoner_tools: Sequence[BaseTool] = (),
        agents: Sequence[Agent] = (),
        limits: Limits | None = None,
        checkpointer: Checkpointer = None,
        max_enforce_retries: int = 2,
        graph_builder: GraphBuilder | None = None,
        name: str = "pipeline",
        clock: Callable[[], float] = time.time,
        resources: Sequence[RunResource] = (),
        tracer_provider: Any = None,
        telemetry: telemetry.TelemetrySettings | None = None,
    ) -> None:
        self.name = name
        self.launch: dict[str, Any] = {}
        """How to rebuild this pipeline (file, overrides, workspace), kept in the run log so
        ``bicameral ui`` can resume its runs; set by ``load_pipeline``."""
        self.limits = limits or Limits()
        by_name: dict[str, Agent] = {}
        for agent in (
            _as_agent(Role.PLANNER.value, planner, tools),
            _as_agent(Role.REASONER.value, reasoner, reasoner_tools),
            *agents,
        ):
            if agent is None:
                continue
            if agent.name in by_name:
                raise ConfigError(f"two agents are named {agent.name!r}")
            by_name[agent.name] = agent
        self.context = AgentContext(
            agents=by_name, limits=self.limits, max_enforce_retries=max_enforce_retries
        )
        self.prices: dict[str, Price] = dict(self.context.prices)
        self._checkpointer = checkpointer
        self._memory = InMemorySaver()
        self.tracing = _tracing(
            self.context, telemetry_settings=telemetry, tracer_provider=tracer_provider
        )
        self._graph_builder = graph_builder
        self._clock = clock
        every_tool = [t for a in by_name.values() for t in a.toolset.tools]
        self.resources = _with_tool_resources(resources, every_tool)
        # Runs reuse one compiled graph per checkpointer and context (see _app).
        self._compiled: tuple[BaseCheckpointSaver[Any], AgentContext, CompiledGraph] | None = None

    # -- building -----------------------------------------------------------------------------

    def build(self) -> Graph:
        """The uncompiled LangGraph ``StateGraph``."""
        if self._graph_builder is not None:
            return self._graph_builder(self.context)
        return build_graph(self.context, clock=self._clock)

    def compile(self, checkpointer: Checkpointer = None) -> CompiledGraph:
        """The compiled LangGraph graph (memory or sqlite checkpointer), for LangGraph tooling."""
        saver = sync_checkpointer(checkpointer or self._checkpointer, memory=self._memory)
        return self.build().compile(checkpointer=saver)

    def _app(self, saver: BaseCheckpointSaver[Any]) -> CompiledGraph:
        """The graph compiled for ``saver``, reused while the saver and the context are the same.

        Building and compiling take longer (~2.5 ms) than a whole run's orchestration, and a
        compiled LangGraph graph is stateless, so concurrent runs share it. The in-memory (the
        default) or a given checkpointer is the same object every run; a sqlite or postgres URL
        opens a saver for one run, and then the graph is compiled for that run alone.
        """
        if saver is not self._memory and saver is not self._checkpointer:
            return self.build().compile(checkpointer=saver)
        cached = self._compiled
        if cached is not None and cached[0] is saver and cached[1] is self.context:
            return cached[2]
        app = self.build().compile(checkpointer=saver)
        self._compiled = (saver, self.context, app)
        return app

    # -- the async core -----------------------------------------------------------------------

    def initial_input(self, task: str) -> dict[str, Any]:
        """The state a run of ``task`` starts from."""
        return {
            "task": task,
            "messages": [HumanMessage(task)],
            "status": RunStatus.RUNNING.value,
            "started_at": self._clock(),
            "answer": None,
            "error": None,
        }

    def _config(self, thread_id: str) -> RunnableConfig:
        # Budgets end runs long before LangGraph's recursion limit would.
        return {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": 4 * self.limits.max_steps + 20,
        }

    async def _drive(
        self,
        graph_input: Any,
        thread_id: str,
        *,
        tokens: bool,
        events: bool = True,
        task: str | None = None,
    ) -> AsyncIterator[Event]:
        """The run, traced and logged (when configured) around ``_events``."""
        recorder = open_recorder(
            self._checkpointer, thread_id, pipeline=self.name, task=task, launch=self.launch
        )
        with telemetry.run(
            self.tracing, pipeline=self.name, thread_id=thread_id, task=task
        ) as span:
            run = self._events(
                graph_input, thread_id, tokens=tokens, events=events or recorder is not None
            )
            try:
                # aclosing: on Ctrl-C or an abandoned stream the run (and its checkpointer,
                # whose SQLite connection may hold the write lock) is closed before the run
                # log writes its last rows to the same file.
                async with aclosing(run) as stream:
                    async for event in stream:
                        if recorder is not None:
                            await recorder.arecord(event)
                        if isinstance(event, FinalEvent):
                            span.finish(event.result)
                        yield event
            finally:
                if recorder is not None:
                    await recorder.aclose()

    async def _events(
        self, graph_input: Any, thread_id: str, *, tokens: bool, events: bool
    ) -> AsyncGenerator[Event, None]:
        start = time.perf_counter()
        config = self._config(thread_id)
        modes = stream_modes(tokens=tokens, events=events)
        outcome = RunOutcome()
        async with open_checkpointer(self._checkpointer, memory=self._memory) as saver:
            app = self._app(saver)
            if isinstance(graph_input, ResumeCommand):
                graph_input = await graph_input.command(app, config, time.time())
            try:
                # A persistent checkpoint is written before the next step starts, so a run
                # killed at any point (SIGKILL included) resumes without repeating finished
                # model or tool calls (LangGraph's default writes it in the background). An
                # in-memory one dies with the process anyway: it is written once, when the
                # run stops (completed, failed or interrupted), which is all resume needs.
                durable = saver is not self._memory
                async with AsyncExitStack() as opened:
                    for resource in self.resources:
                        await opened.enter_async_context(resource.session())
                    stream: AsyncIterator[Any] = app.astream(
                        graph_input,
                        config,
                        stream_mode=modes,
                        durability="sync" if durable else "exit",
                    )
                    # the budget also interrupts a model or tool call in flight
                    async for mode, chunk in until_deadline(stream, self.limits.max_wall_time_s):
                        for event in outcome.take(mode, chunk):
                            yield event
            except Exception as exc:  # a budget or a failure ends the run; nothing is lost
                outcome.ended_by(exc)
            values = await outcome.final_values(app, config)
        result = result_from_state(
            values,
            thread_id=thread_id,
            prices=self.prices,
            elapsed_s=time.perf_counter() - start,
            status=outcome.status,
            error=outcome.error,
            pending_approval=outcome.pending,
            sandbox=sandbox_isolation().describe(),
        )
        yield FinalEvent(result=result)

    async def astream(
        self, task: str, *, thread_id: str | None = None, tokens: bool = True
    ) -> AsyncIterator[Event]:
        """Run ``task``, yielding typed events; the last one is ``FinalEvent`` with the result."""
        async for event in self._drive(
            self.initial_input(task), thread_id or uuid.uuid4().hex, tokens=tokens, task=task
        ):
            yield event

    async def astream_resume(
        self, thread_id: str, *, approve: bool | None = None, tokens: bool = True
    ) -> AsyncIterator[Event]:
        """Continue a stopped, failed or interrupted run from its checkpoint."""
        async for event in self._drive(ResumeCommand(approve), thread_id, tokens=tokens):
            yield event

    async def arun(self, task: str, *, thread_id: str | None = None) -> RunResult:
        """Run ``task`` to the end (or to an approval interrupt) and return the result."""
        events = self._drive(
            self.initial_input(task),
            thread_id or uuid.uuid4().hex,
            tokens=False,
            events=False,
            task=task,
        )
        return await final_result(events)

    async def arun_or_resume(self, task: str, *, thread_id: str) -> RunResult:
        """Run ``task`` on ``thread_id``, or continue it when a persistent checkpoint already
        holds a run there (a batch rerun after a crash: finished steps are not repeated)."""
        if self._checkpointer is not None and self._checkpointer != "memory":
            async with open_checkpointer(self._checkpointer, memory=self._memory) as saver:
                state = await self._app(saver).aget_state(self._config(thread_id))
            if state.values:
                return await self.aresume(thread_id)
        return await self.arun(task, thread_id=thread_id)

    async def aresume(self, thread_id: str, *, approve: bool | None = None) -> RunResult:
        """Resume ``thread_id``; ``approve`` answers a pending approval (``False`` denies)."""
        events = self._drive(ResumeCommand(approve), thread_id, tokens=False, events=False)
        return await final_result(events)

    # -- sync doors ---------------------------------------------------------------------------

    def run(self, task: str, *, thread_id: str | None = None) -> RunResult:
        """Synchronous ``arun``."""
        return run_sync(self.arun(task, thread_id=thread_id))

    def resume(self, thread_id: str, *, approve: bool | None = None) -> RunResult:
        """Synchronous ``aresume``."""
        return run_sync(self.aresume(thread_id, approve=approve))

    def stream(self, task: str, *, thread_id: str | None = None) -> Iterator[Event]:
        """Synchronous ``astream``."""
        return iterate_in_thread(lambda: self.astream(task, thread_id=thread_id))

    def stream_resume(self, thread_id: str, *, approve: bool | None = None) -> Iterator[Event]:
        """Synchronous ``astream_resume``."""
        return iterate_in_thread(lambda: self.astream_resume(thread_id, approve=approve))


def _tracing(
    ctx: AgentContext,
    *,
    telemetry_settings: telemetry.TelemetrySettings | None,
    tracer_provider: Any,
) -> telemetry.Tracing | None:
    if tracer_provider is None and (telemetry_settings is None or not telemetry_settings.endpoint):
        return None
    return telemetry.tracing_for(
        telemetry_settings,
        tracer_provider=tracer_provider,
        provider_names={name: _provider_name(a.model) for name, a in ctx.agents.items()},
        model_names={name: a.model_name for name, a in ctx.agents.items()},
        prices=dict(ctx.prices),
    )


def _provider_name(model: BaseChatModel) -> str:
    """``gen_ai.provider.name`` by client: vLLM behind the OpenAI-compatible client,
    llama.cpp for the embedded model, the LangChain type otherwise."""
    for cls in type(model).__mro__:  # a subclass of our clients is still served the same way
        if cls.__module__.endswith("models.openai_compat"):
            return "vllm"
        if cls.__module__.endswith("models.local"):
            return "llama.cpp"
    return str(getattr(model, "_llm_type", type(model).__name__))


def _as_agent(
    role: str, given: BaseChatModel | Agent | None, tools: Sequence[BaseTool]
) -> Agent | None:
    if given is None:
        return None
    if isinstance(given, Agent):
        if tools:
            raise ConfigError(f"give the {role}'s tools to its Agent, not to Pipeline")
        if given.name != role:
            raise ConfigError(f"the {role} agent is named {given.name!r}; name it {role!r}")
        return given
    return make_agent(role, given, tools=tools)


def _with_tool_resources(
    given: Sequence[RunResource], tools: Sequence[BaseTool]
) -> tuple[RunResource, ...]:
    """``given`` plus the resources tools name in their metadata (MCP servers' sessions)."""
    found: list[RunResource] = list(given)
    for tool in tools:
        resource = (tool.metadata or {}).get(RUN_RESOURCE_KEY)
        if resource is not None and not any(resource is r for r in found):
            found.append(resource)
    return tuple(found)
