"""Framework overhead per model call: Bicameral against LangGraph's ReAct agent and PydanticAI.

The same two-step tool workflow (the model calls ``add(a=2, b=3)``, sees the result, answers
``5``) runs through each framework against the same loopback fake vLLM server (its own
process, zero added latency, scripted by ``benchmarks._common.ToolThenAnswer``):

* ``bicameral``: ``Pipeline(planner=OpenAICompatChatModel(...), tools=[add]).arun(task)``
  (its defaults: in-memory checkpoints, limits, usage, argument validation, ``RunResult``);
* ``langgraph-react``: LangGraph's prebuilt ReAct agent with ``langchain-openai``'s
  ``ChatOpenAI``. LangGraph 1.x deprecates ``langgraph.prebuilt.create_react_agent`` in
  favour of ``langchain.agents.create_agent`` (package ``langchain``); the script uses
  ``create_agent`` when ``langchain`` is installed and the prebuilt otherwise, without a
  checkpointer (its default); ``+memory`` is the same with an ``InMemorySaver`` (Bicameral's
  default), for a like-for-like row;
* ``pydantic-ai``: ``Agent(OpenAIChatModel(..., provider=OpenAIProvider(base_url=...)),
  tools=[add])``.

``floor`` is the same two requests as raw ``httpx`` POSTs of pre-serialised bodies plus
``json.loads``: the server and transport time of one run. Framework overhead per model call
is (median run time - median floor) / 2; the ratio column divides each framework's overhead
by Bicameral's (above 1: slower than Bicameral). All sides alternate in rotating order over
the repetitions after a warm-up. A peer that is not installed or fails prints as
"unavailable (reason)".

Usage: ``python -m benchmarks.peers [--reps N]`` from the repo root (peers come with the
``bench`` extra). Prints a table; writes ``benchmarks/results/peers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from langchain_core.messages import HumanMessage

from benchmarks._common import (
    ADD_ARGS,
    ANSWER,
    TASK,
    add,
    add_fn,
    median_ms,
    platform_info,
    serve_workflow,
    write_results,
)
from orchestrator import Pipeline
from orchestrator.models.openai_compat import OpenAICompatChatModel

CALLS_PER_RUN = 2
Run = Callable[[], Awaitable[str | None]]
Closer = Callable[[], Awaitable[None]]
API_KEY = "bench-not-a-key"  # the fake server ignores it; the SDKs insist on one
NOTES: dict[str, str] = {}  # how each peer was built, for the report


class Unavailable(Exception):
    """A peer that cannot run here; the message says why."""


# -- the sides --------------------------------------------------------------------------------


def bicameral(url: str) -> tuple[Run, Closer]:
    model = OpenAICompatChatModel(base_urls=[url], model="bench")
    pipeline = Pipeline(planner=model, tools=[add])

    async def run() -> str | None:
        return (await pipeline.arun(TASK)).answer

    return run, model.aclose


def langgraph_react(url: str, *, memory: bool = False) -> tuple[Run, Closer]:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise Unavailable(f"langchain-openai not installed: {exc}") from exc
    from langgraph.checkpoint.memory import InMemorySaver

    model = ChatOpenAI(model="bench", base_url=url, api_key=API_KEY, max_retries=0)
    checkpointer = InMemorySaver() if memory else None
    try:
        from langchain.agents import create_agent  # the current name (package langchain)

        agent: Any = create_agent(model, tools=[add], checkpointer=checkpointer)
        NOTES["langgraph-react"] = "langchain.agents.create_agent + ChatOpenAI"
    except ImportError:
        with warnings.catch_warnings():  # deprecated since LangGraph 1.0, still shipped
            warnings.simplefilter("ignore")
            from langgraph.prebuilt import create_react_agent

            agent = create_react_agent(model, tools=[add], checkpointer=checkpointer)
        NOTES["langgraph-react"] = (
            "langgraph.prebuilt.create_react_agent + ChatOpenAI (package langchain, which has "
            "its successor create_agent, is not installed)"
        )
    counter = iter(range(10**9))

    async def run() -> str | None:
        config = {"configurable": {"thread_id": f"t{next(counter)}"}}
        state = await agent.ainvoke({"messages": [HumanMessage(TASK)]}, config)
        return str(state["messages"][-1].content)

    async def close() -> None:
        client = getattr(model, "root_async_client", None)
        if client is not None:
            await client.close()

    return run, close


def pydantic_ai(url: str) -> tuple[Run, Closer]:
    try:
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider
    except ImportError as exc:
        raise Unavailable(f"pydantic-ai-slim[openai] not installed: {exc}") from exc
    provider = OpenAIProvider(base_url=url, api_key=API_KEY)
    agent = Agent(OpenAIChatModel("bench", provider=provider), tools=[add_fn])

    async def run() -> str | None:
        return str((await agent.run(TASK)).output)

    async def close() -> None:
        await provider.client.close()

    return run, close


def floor(url: str) -> tuple[Run, Closer]:
    client = httpx.AsyncClient(base_url=url, trust_env=False)
    call = {
        "id": "call_add",
        "type": "function",
        "function": {"name": "add", "arguments": json.dumps(ADD_ARGS)},
    }
    first = [{"role": "user", "content": TASK}]
    second = [
        *first,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_add", "content": "5"},
    ]
    bodies = [json.dumps({"model": "bench", "messages": m}).encode() for m in (first, second)]
    headers = {"content-type": "application/json"}

    async def run() -> str | None:
        for body in bodies:
            response = await client.post("/chat/completions", content=body, headers=headers)
            reply = json.loads(response.content)
        return str(reply["choices"][0]["message"]["content"])

    return run, client.aclose


SIDES: dict[str, Callable[[str], tuple[Run, Closer]]] = {
    "floor": floor,
    "bicameral": bicameral,
    "langgraph-react": langgraph_react,
    "langgraph-react+memory": lambda url: langgraph_react(url, memory=True),
    "pydantic-ai": pydantic_ai,
}


# -- measuring --------------------------------------------------------------------------------


async def measure(
    url: str, reps: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, str]]:
    runs: dict[str, Run] = {}
    closers: list[Closer] = []
    unavailable: dict[str, str] = {}
    for name, make in SIDES.items():
        try:
            run, close = make(url)
            closers.append(close)
            answer = await run()
            if answer != ANSWER:
                raise Unavailable(f"answered {answer!r}, expected {ANSWER!r}")
            runs[name] = run
        except Exception as exc:
            unavailable[name] = f"{type(exc).__name__}: {exc}"[:200]
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    try:
        for rep in range(warmup + reps):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                answer = await runs[name]()
                elapsed = time.perf_counter() - start
                if answer != ANSWER:
                    raise RuntimeError(f"{name} answered {answer!r}, expected {ANSWER!r}")
                if rep >= warmup:
                    samples[name].append(elapsed)
    finally:
        for close in closers:
            await close()
    return samples, unavailable


def summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
    floor_ms = median_ms(samples["floor"])
    rows: dict[str, Any] = {}
    for name, values in samples.items():
        run_ms = median_ms(values)
        rows[name] = {
            "run_ms": round(run_ms, 3),
            "overhead_per_call_ms": round((run_ms - floor_ms) / CALLS_PER_RUN, 3),
        }
    base = rows.get("bicameral")
    for row in rows.values():
        if base:
            row["run_ratio"] = round(row["run_ms"] / base["run_ms"], 3)
            row["overhead_ratio"] = round(
                row["overhead_per_call_ms"] / base["overhead_per_call_ms"], 3
            )
    return rows


def _print(rows: dict[str, Any], unavailable: dict[str, str], reps: int) -> None:
    print(
        "Two-step tool workflow (2 model calls + 1 tool call) against the loopback fake server,"
        f" zero latency; medians of {reps} runs each"
    )
    print(
        f"{'framework':<24}{'run ms':>9}{'vs bicameral':>14}"
        f"{'overhead/call ms':>18}{'vs bicameral':>14}"
    )
    for name in SIDES:
        if name in unavailable:
            print(f"{name:<24}unavailable ({unavailable[name]})")
            continue
        if name not in rows:
            continue
        r = rows[name]
        if name == "floor":
            print(f"{'floor (raw httpx)':<24}{r['run_ms']:>9.3f}{r.get('run_ratio', 0):>13.2f}x")
            continue
        print(
            f"{name:<24}{r['run_ms']:>9.3f}{r.get('run_ratio', 0):>13.2f}x"
            f"{r['overhead_per_call_ms']:>18.3f}{r.get('overhead_ratio', 0):>13.2f}x"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="timed runs per framework")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with serve_workflow(latency_ms=0.0) as url:
        samples, unavailable = asyncio.run(measure(url, args.reps, args.warmup))
    rows = summarise(samples) if "floor" in samples else {}
    report: dict[str, Any] = {
        "benchmark": "peers",
        "platform": platform_info(),
        "reps": args.reps,
        "calls_per_run": CALLS_PER_RUN,
        "frameworks": rows,
        "unavailable": unavailable,
        "notes": NOTES,
        "headline": {
            name: row.get("overhead_ratio")
            for name, row in rows.items()
            if name not in ("floor", "bicameral")
        },
        "elapsed_s": 0.0,
    }
    _print(rows, unavailable, args.reps)
    for name, note in NOTES.items():
        print(f"{name}: {note}")
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    path = write_results("peers", report)
    print(f"wrote {path} in {report['elapsed_s']:.1f} s")
    return report


if __name__ == "__main__":
    main()
