"""Client overhead of OpenAICompatChatModel against a bare httpx POST + json.loads.

Runs the fake vLLM server (tests/fake_openai_server.py) in its own process with zero added
latency, then times, side by side and interleaved in one run, the same chat request sent

* bare: ``httpx`` POST of pre-serialised bytes + ``json.loads`` (the floor), and
* client: ``OpenAICompatChatModel.invoke`` / ``ainvoke`` (message building, serialisation,
  retries wrapper, parsing into an ``AIMessage``, langchain callbacks),

and reports the median of each and their ratio (target: <= 1.5x). Then it fires 200
concurrent ``ainvoke`` calls through one client (target: all succeed).

Usage: ``python -m benchmarks.client_overhead [--calls N] [--concurrency N]`` from the repo
root. Prints a table; writes ``benchmarks/results/client_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from orchestrator.models.openai_compat import OpenAICompatChatModel
from tests.fake_openai_server import ChatReply, serve_in_subprocess

RESULTS = Path(__file__).parent / "results" / "client_overhead.json"
MESSAGES = [
    SystemMessage("You are a careful planner."),
    HumanMessage("What is 2 + 2? Answer with one number."),
]
BODY = json.dumps(
    {
        "model": "bench",
        "messages": [
            {"role": "system", "content": MESSAGES[0].text},
            {"role": "user", "content": MESSAGES[1].text},
        ],
    }
).encode()
TARGET_RATIO = 1.5


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _interleave(
    bare: Callable[[], Any], client: Callable[[], Any], calls: int
) -> tuple[list[float], list[float]]:
    """Alternate the two so drift (CPU frequency, other load) hits both equally."""
    t_bare: list[float] = []
    t_client: list[float] = []
    for _ in range(calls):
        for fn, out in ((bare, t_bare), (client, t_client)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return t_bare, t_client


async def _ainterleave(
    bare: Callable[[], Awaitable[Any]], client: Callable[[], Awaitable[Any]], calls: int
) -> tuple[list[float], list[float]]:
    t_bare: list[float] = []
    t_client: list[float] = []
    for _ in range(calls):
        for fn, out in ((bare, t_bare), (client, t_client)):
            start = time.perf_counter()
            await fn()
            out.append(time.perf_counter() - start)
    return t_bare, t_client


def bench_sync(url: str, calls: int) -> dict[str, float]:
    model = OpenAICompatChatModel(base_urls=[url], model="bench")
    with httpx.Client(trust_env=False) as http:

        def bare() -> Any:
            response = http.post(
                url + "/chat/completions",
                content=BODY,
                headers={"content-type": "application/json"},
            )
            return json.loads(response.content)

        def client() -> Any:
            return model.invoke(MESSAGES)

        _interleave(bare, client, 50)  # warm up pools, imports, caches
        t_bare, t_client = _interleave(bare, client, calls)
    model.close()
    return _row(t_bare, t_client)


async def bench_async(url: str, calls: int) -> dict[str, float]:
    model = OpenAICompatChatModel(base_urls=[url], model="bench")
    async with httpx.AsyncClient(trust_env=False) as http:

        async def bare() -> Any:
            response = await http.post(
                url + "/chat/completions",
                content=BODY,
                headers={"content-type": "application/json"},
            )
            return json.loads(response.content)

        async def client() -> Any:
            return await model.ainvoke(MESSAGES)

        await _ainterleave(bare, client, 50)
        t_bare, t_client = await _ainterleave(bare, client, calls)
    await model.aclose()
    return _row(t_bare, t_client)


def bench_breakdown(calls: int) -> dict[str, float]:
    """Where the overhead goes, without I/O: langchain's own ``invoke`` bookkeeping (measured on
    its FakeListChatModel, which every langchain chat model pays) and this client's request
    building + reply parsing."""
    fake = FakeListChatModel(responses=["4"])
    model = OpenAICompatChatModel(base_urls=["http://unused/v1"], model="bench")
    raw = json.dumps(ChatReply("4").render_json({"model": "bench", "messages": []})).encode()

    def ours() -> Any:
        request = model._prepare(MESSAGES, None, {}, stream=False)
        return request.result(raw, "http://unused/v1", 0.0)

    out = {}
    for name, fn in (
        ("langchain_invoke_floor_ms", lambda: fake.invoke(MESSAGES)),
        ("client_build_parse_ms", ours),
    ):
        samples = []
        for _ in range(calls):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        out[name] = round(_median_ms(samples), 4)
    return out


def _row(t_bare: list[float], t_client: list[float]) -> dict[str, float]:
    bare, client = _median_ms(t_bare), _median_ms(t_client)
    return {
        "bare_median_ms": round(bare, 4),
        "client_median_ms": round(client, 4),
        "overhead_ms": round(client - bare, 4),
        "ratio": round(client / bare, 3),
    }


async def bench_concurrency(url: str, n: int) -> dict[str, Any]:
    model = OpenAICompatChatModel(base_urls=[url], model="bench", max_connections=n)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(model.ainvoke(MESSAGES) for _ in range(n)), return_exceptions=True
    )
    wall = time.perf_counter() - start
    await model.aclose()
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    ok = sum(1 for r in results if not isinstance(r, BaseException) and r.content == "4")
    return {"calls": n, "succeeded": ok, "errors": errors[:3], "wall_s": round(wall, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="client overhead vs bare httpx")
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with serve_in_subprocess(latency_ms=0.0, content="4") as url:
        sync_row = bench_sync(url, args.calls)
        async_row = asyncio.run(bench_async(url, args.calls))
        conc = asyncio.run(bench_concurrency(url, args.concurrency))
    breakdown = bench_breakdown(args.calls)
    report: dict[str, Any] = {
        "benchmark": "client_overhead",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "calls_per_side": args.calls,
        "target_ratio": TARGET_RATIO,
        "sync": sync_row,
        "async": async_row,
        "concurrency": conc,
        "breakdown_without_io": breakdown,
        "passed": (
            sync_row["ratio"] <= TARGET_RATIO
            and async_row["ratio"] <= TARGET_RATIO
            and conc["succeeded"] == conc["calls"]
        ),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(f"{'mode':<6} {'bare ms':>9} {'client ms':>10} {'overhead ms':>12} {'ratio':>6}")
    for mode, row in (("sync", sync_row), ("async", async_row)):
        print(
            f"{mode:<6} {row['bare_median_ms']:>9.3f} {row['client_median_ms']:>10.3f} "
            f"{row['overhead_ms']:>12.3f} {row['ratio']:>5.2f}x"
        )
    print(
        f"concurrent ainvoke: {conc['succeeded']}/{conc['calls']} succeeded "
        f"in {conc['wall_s']:.2f} s"
    )
    floor, ours = breakdown["langchain_invoke_floor_ms"], breakdown["client_build_parse_ms"]
    print(
        f"without I/O: langchain invoke bookkeeping {floor:.3f} ms (any BaseChatModel), "
        f"this client's request building + reply parsing {ours:.3f} ms"
    )
    print(f"target ratio <= {TARGET_RATIO}x: {'PASS' if report['passed'] else 'FAIL'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
