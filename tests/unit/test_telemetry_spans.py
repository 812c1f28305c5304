"""OpenTelemetry spans of runs, checked with the SDK's in-memory exporter: the span tree and
GenAI attributes of a standard run, parallel delegates, a failed run, a coding-assistant run;
and tracing off imports nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agents.agent import make_agent
from agents.workflows.coding_assistant import coding_assistant_graph
from agents.workflows.custom import custom_graph_builder
from orchestrator import FakeChatModel, FunctionChatModel, Pipeline, Price, RunStatus, telemetry
from orchestrator.config.loading import parse_spec
from orchestrator.exceptions import ModelConnectionError
from orchestrator.telemetry import TelemetrySettings
from tools import ToolContext, build_tools
from tools.base import Toolset

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "coding_assistant" / "sample_repo"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Trace:
    """Finished spans of one test, with tree helpers."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    @property
    def spans(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name.startswith(prefix)]

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        if span.parent is None:
            return None
        return next(s for s in self.spans if s.context.span_id == span.parent.span_id)

    def tree(self) -> list[str]:
        """``"  " * depth + name`` for every span, in start order."""

        def depth(s: ReadableSpan) -> int:
            p = self.parent(s)
            return 0 if p is None else 1 + depth(p)

        return ["  " * depth(s) + s.name for s in self.spans]


def _usage_reply(content: str = "", **kw: Any) -> AIMessage:
    return AIMessage(
        content=content,
        usage_metadata={
            "input_tokens": 11,
            "output_tokens": 7,
            "total_tokens": 18,
            "output_token_details": {"reasoning": 3},
        },
        response_metadata={"model_name": "scout-served"},
        **kw,
    )


def call(name: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": cid}


def test_standard_run_span_tree_and_genai_attributes() -> None:
    trace = Trace()
    planner = FakeChatModel(
        [_usage_reply(tool_calls=[call("add", {"a": 2, "b": 3}, "c1")]), _usage_reply("5")]
    )
    agent = make_agent(
        "planner",
        planner,
        tools=[add],
        model_name="scout",
        price=Price(input_per_million=1.0, output_per_million=2.0),
    )
    pipeline = Pipeline(planner=agent, tracer_provider=trace.provider, name="adder")
    result = pipeline.run("2+3?", thread_id="thread-1")
    assert result.status is RunStatus.COMPLETED
    assert trace.tree() == [
        "invoke_workflow adder",
        "  node plan",
        "    chat scout",
        "  node act",
        "    execute_tool add",
        "  node plan",
        "    chat scout",
    ]
    [run] = trace.named("invoke_workflow")
    assert run.attributes is not None
    assert run.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert run.attributes["gen_ai.conversation.id"] == "thread-1"
    assert run.attributes["bicameral.status"] == "completed"
    assert run.attributes["gen_ai.usage.input_tokens"] == 22
    chat = trace.named("chat")[0].attributes
    assert chat is not None
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.request.model"] == "scout"
    assert chat["gen_ai.response.model"] == "scout-served"
    assert chat["gen_ai.usage.input_tokens"] == 11
    assert chat["gen_ai.usage.output_tokens"] == 7
    assert chat["gen_ai.usage.reasoning.output_tokens"] == 3
    assert chat["gen_ai.conversation.id"] == "thread-1"
    assert chat["bicameral.role"] == "planner"
    assert chat["bicameral.cost_usd"] == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)
    assert "gen_ai.input.messages" not in chat  # content is opt-in
    tool_span = trace.named("execute_tool")[0].attributes
    assert tool_span is not None
    assert tool_span["gen_ai.operation.name"] == "execute_tool"
    assert tool_span["gen_ai.tool.name"] == "add"
    assert tool_span["gen_ai.tool.call.id"] == "c1"  # the model's id, not a made-up one
    assert "gen_ai.tool.call.arguments" not in tool_span


def test_figures_the_server_did_not_report_are_left_out_not_zeroed() -> None:
    trace = Trace()
    tracing = telemetry.tracing_for(
        None, tracer_provider=trace.provider, model_names={"planner": "scout"}
    )
    with telemetry.run(tracing, pipeline="p", thread_id="t", task="x"):
        telemetry.model_call("planner", AIMessage("hi"), 0.01)
        telemetry.model_call(
            "planner",
            AIMessage(
                "hi", usage_metadata={"input_tokens": 4, "output_tokens": 1, "total_tokens": 5}
            ),
            0.01,
        )
    bare, counted = (s.attributes for s in trace.named("chat"))
    assert bare is not None and counted is not None
    assert bare["gen_ai.request.model"] == "scout"
    for name in ("gen_ai.response.model", "gen_ai.usage.input_tokens"):
        assert name not in bare  # a guess (the request's model, a 0) would read as reported
    assert counted["gen_ai.usage.input_tokens"] == 4
    assert "gen_ai.usage.reasoning.output_tokens" not in counted
    assert "bicameral.usage.estimated" not in counted


def test_estimated_counts_say_so() -> None:
    """llama.cpp's server streams no usage, and vLLM's R1 parser counts an unclosed think
    block as 0 reasoning tokens: the client estimates them and labels the estimate."""
    trace = Trace()
    tracing = telemetry.tracing_for(None, tracer_provider=trace.provider)
    reply = AIMessage(
        "x",
        usage_metadata={
            "input_tokens": 40,
            "output_tokens": 9,
            "total_tokens": 49,
            "output_token_details": {"reasoning": 7},
        },
        response_metadata={"usage_estimated": ["reasoning_tokens"]},
    )
    with telemetry.run(tracing, pipeline="p", thread_id="t", task="x"):
        telemetry.model_call("reasoner", reply, 0.01)
    [chat] = trace.named("chat")
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.usage.reasoning.output_tokens"] == 7
    assert tuple(chat.attributes["bicameral.usage.estimated"]) == ("reasoning_tokens",)  # type: ignore[arg-type]


def test_content_is_recorded_only_when_asked() -> None:
    trace = Trace()
    pipeline = Pipeline(
        planner=FakeChatModel(["Paris"]),
        tracer_provider=trace.provider,
        telemetry=TelemetrySettings(capture_content=True),
    )
    pipeline.run("Capital of France?")
    chat = trace.named("chat")[0].attributes
    assert chat is not None
    assert "Capital of France?" in str(chat["gen_ai.input.messages"])
    assert json.loads(str(chat["gen_ai.output.messages"]))[0]["content"] == "Paris"


def test_parallel_delegates_are_sibling_spans_that_overlap() -> None:
    trace = Trace()
    both_started = asyncio.Event()
    started: list[str] = []

    async def reasoner_fn(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        started.append(str(messages[-1].content))
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), timeout=10)
        return '{"answer": "4", "steps": ["add"]}'

    planner = FakeChatModel(
        [
            AIMessage(
                content="",
                tool_calls=[
                    call("delegate", {"kind": "math", "task": "2+2"}, "d1"),
                    call("delegate", {"kind": "math", "task": "2*2"}, "d2"),
                ],
            ),
            "4 and 4",
        ]
    )
    pipeline = Pipeline(
        planner=planner, reasoner=FunctionChatModel(reasoner_fn), tracer_provider=trace.provider
    )
    assert pipeline.run("sums").status is RunStatus.COMPLETED
    [run] = trace.named("invoke_workflow")
    reason_nodes = trace.named("node reason")
    assert len(reason_nodes) == 2
    assert all(trace.parent(n) is run for n in reason_nodes)
    first, second = reason_nodes
    assert second.start_time is not None and first.end_time is not None
    assert second.start_time < first.end_time  # side by side, not one after the other
    for node in reason_nodes:
        [attempt] = [s for s in trace.spans if trace.parent(s) is node]
        assert attempt.name == "enforce delegate_math"
        assert attempt.attributes is not None
        assert attempt.attributes["bicameral.enforcement.outcome"] == "accepted"
        [chat] = [s for s in trace.spans if trace.parent(s) is attempt]
        assert chat.attributes is not None and chat.attributes["bicameral.role"] == "reasoner"


def test_reask_attempts_carry_error_paths() -> None:
    trace = Trace()
    planner = FakeChatModel(
        [
            AIMessage(
                content="", tool_calls=[call("delegate", {"kind": "math", "task": "1"}, "d")]
            ),
            "1",
        ]
    )
    reasoner = FakeChatModel(['{"answer": 1}', '{"answer": "1", "steps": []}'])
    Pipeline(planner=planner, reasoner=reasoner, tracer_provider=trace.provider).run("one")
    first, second = trace.named("enforce")
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["bicameral.enforcement.outcome"] == "reasked"
    assert "$.answer" in tuple(first.attributes["bicameral.enforcement.error_paths"])  # type: ignore[arg-type]
    assert second.attributes["bicameral.enforcement.outcome"] == "accepted"


def test_failed_run_marks_the_run_span_as_error() -> None:
    trace = Trace()

    def broken(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        raise ModelConnectionError("planner server down")

    result = Pipeline(planner=FunctionChatModel(broken), tracer_provider=trace.provider).run("x")
    assert result.status is RunStatus.FAILED
    [run] = trace.named("invoke_workflow")
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes is not None
    assert run.attributes["error.type"] == "ModelConnectionError"
    assert run.attributes["bicameral.status"] == "failed"
    [node] = trace.named("node plan")
    assert node.status.status_code is StatusCode.ERROR
    [chat] = trace.named("chat")  # the call that failed, with how long it took to fail
    assert trace.parent(chat) is node
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes is not None
    assert chat.attributes["error.type"] == "ModelConnectionError"
    assert "gen_ai.usage.input_tokens" not in chat.attributes


def test_a_failed_enforced_call_is_a_failed_chat_under_its_attempt() -> None:
    trace = Trace()

    def down(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        raise ModelConnectionError("reasoner server down")

    planner = FakeChatModel(
        [AIMessage(content="", tool_calls=[call("delegate", {"kind": "math", "task": "1"}, "d")])]
    )
    result = Pipeline(
        planner=planner, reasoner=FunctionChatModel(down), tracer_provider=trace.provider
    ).run("one")
    assert result.status is RunStatus.FAILED
    [attempt] = trace.named("enforce")
    [chat] = [s for s in trace.spans if trace.parent(s) is attempt]
    assert chat.attributes is not None
    assert chat.attributes["bicameral.role"] == "reasoner"
    assert chat.attributes["error.type"] == "ModelConnectionError"


def test_native_tool_turns_of_a_custom_agent_are_chat_spans(tmp_path: Path) -> None:
    """The native tool loop traced no model call at all (its final reply's attempt said it
    had been traced where it was received)."""
    trace = Trace()
    spec = parse_spec(
        "models: {planner: {}}\nagents: {calc: {model: planner}}\n"
        "graph: {steps: {work: {agent: calc}}}\n",
        base_dir=tmp_path,
    )
    assert spec.graph is not None
    evaluate = {"name": "evaluate", "args": {"expression": "6*7"}, "id": "e1"}
    model = FakeChatModel([AIMessage("", tool_calls=[evaluate]), '"42"'])
    tools = build_tools(["evaluate"], ToolContext(tmp_path))
    calc = make_agent("calc", model, prompt="Compute.", tools=tools, tool_mode="native")
    result = Pipeline(
        planner=model,
        agents=[calc],
        graph_builder=custom_graph_builder(spec.graph, Toolset()),
        tracer_provider=trace.provider,
    ).run("6*7?")
    assert result.status is RunStatus.COMPLETED, result.error
    chats = trace.named("chat")
    assert len(chats) == 2  # the tool turn and the final reply
    assert all(c.attributes and c.attributes["bicameral.role"] == "calc" for c in chats)
    [tool_span] = trace.named("execute_tool")
    assert tool_span.attributes is not None
    assert tool_span.attributes["gen_ai.tool.call.id"] == "e1"


def test_coding_assistant_run_traces_tools_and_enforced_edits(tmp_path: Path) -> None:
    trace = Trace()
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    edit = json.dumps(
        {
            "explanation": "fix add",
            "edits": [{"path": "calc.py", "search": "return a - b", "replace": "return a + b"}],
        }
    )
    pipeline = Pipeline(
        planner=FakeChatModel([]),
        reasoner=FakeChatModel([edit]),
        tools=build_tools(["localise", "write_file", "apply_edit", "run_tests"], ToolContext(repo)),
        graph_builder=lambda ctx: coding_assistant_graph(ctx, max_attempts=3, workspace=repo),
        tracer_provider=trace.provider,
    )
    result = pipeline.run("Fix the failing test")
    assert result.status is RunStatus.COMPLETED, result.error
    tools = [s.attributes["gen_ai.tool.name"] for s in trace.named("execute_tool") if s.attributes]
    assert {"localise", "apply_edit"} <= set(tools)  # localise runs the tests itself
    [run] = trace.named("invoke_workflow")
    for span in trace.spans:
        if span is not run:
            assert span.context.trace_id == run.context.trace_id
    for attempt in trace.named("enforce"):
        parent = trace.parent(attempt)
        assert parent is not None and parent.name.startswith("node ")


def test_tracing_off_imports_nothing_of_ours() -> None:
    # langsmith (a langchain-core dependency) imports the OpenTelemetry SDK by itself when it
    # is installed; Bicameral's span code and the OTLP exporter stay unloaded.
    code = (
        "import sys\n"
        "from orchestrator import Pipeline, FakeChatModel\n"
        "assert Pipeline(planner=FakeChatModel(['hi'])).run('x').answer == 'hi'\n"
        "print(sorted(m for m in sys.modules if m.startswith(('orchestrator.telemetry._',"
        " 'opentelemetry.exporter'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['orchestrator.telemetry._hooks']"


def test_a_subclass_of_the_vllm_client_is_still_named_vllm() -> None:
    from orchestrator.models.openai_compat import OpenAICompatChatModel

    class Tuned(OpenAICompatChatModel):
        """A user's own subclass (forcing tool_choice, say): still vLLM behind it."""

    model = Tuned(base_urls=["http://127.0.0.1:9/v1"], model="m")
    pipeline = Pipeline(planner=model, tracer_provider=Trace().provider)
    assert pipeline.tracing is not None
    assert pipeline.tracing.provider_names["planner"] == "vllm"  # was "openai-compat"


def test_sync_enforce_traces_each_attempt_like_the_async_loop() -> None:
    """``enforce`` (used directly from Python, inside a traced run) made no spans at all."""
    from langchain_core.messages import HumanMessage

    from orchestrator.schema import enforce

    trace = Trace()
    tracing = telemetry.tracing_for(None, tracer_provider=trace.provider)
    model = FakeChatModel(['{"n": "x"}', '{"n": 3}'])
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with (
        telemetry.run(tracing, pipeline="p", thread_id="t", task="x"),
        telemetry.role("reasoner"),
    ):
        result = enforce(model, [HumanMessage("n?")], schema, schema_name="count")
    assert result.value == {"n": 3}
    first, second = trace.named("enforce count")
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["bicameral.enforcement.outcome"] == "reasked"
    assert second.attributes["bicameral.enforcement.outcome"] == "accepted"
    for attempt in (first, second):
        [chat] = [s for s in trace.spans if trace.parent(s) is attempt]
        assert chat.attributes is not None and chat.attributes["bicameral.role"] == "reasoner"
