"""Check Bicameral's client against live servers, and record their replies as test fixtures.

Run it against real servers (vLLM with ``--enable-auto-tool-choice --tool-call-parser hermes``
for the planner, vLLM with ``--reasoning-parser deepseek_r1`` for the reasoner, and
llama.cpp's OpenAI-compatible server, e.g. ``python -m llama_cpp.server``)::

    python scripts/real_server_check.py --planner-url http://127.0.0.1:8011/v1 \\
        --reasoner-url http://127.0.0.1:8012/v1 --llamacpp-url http://127.0.0.1:8013/v1

Each check prints ``ok`` or ``FAIL`` with what the server did; the exit status is 1 if any
failed. What is checked:

* every schema Bicameral sends for constrained decoding (the coding assistant's file choice
  and edits, the planner's and reasoner's action unions, the default delegate output
  schemas, the user schemas of the example and test pipelines) is accepted by the server,
  streaming and not, in the form the client sends it (cut to what the backend implements);
* the full file-choice schema, sent as it is, is what vLLM rejects (``uniqueItems``);
* a reply cut off by ``max_tokens`` in the middle of a tool call yields no valid call;
* a reasoning model that never closes its think block: the value is still found;
* llama.cpp's server: what it does with ``json_schema``, ``json_object`` with a schema, and
  streams with and without ``stream_options.include_usage``; the client falls back and
  labels estimated usage.

With ``--record DIR`` the requests and raw replies are written as JSON fixtures (the format
of ``tests/fixtures/vllm/``: ``request``, ``status``, ``response`` or ``sse``) under
``DIR/vllm/`` and ``DIR/llamacpp_server/``; the replay tests read them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.action_mode import action_schema  # noqa: E402
from agents.planner import planner_tool_schemas  # noqa: E402
from agents.schemas import CODE_SCHEMA, MATH_SCHEMA  # noqa: E402
from agents.workflows.coding_assistant import editable_paths, edits_schema, files_schema  # noqa: E402
from orchestrator.exceptions import BicameralError, SchemaValidationError  # noqa: E402
from orchestrator.models.constrained import GrammarBackend  # noqa: E402
from orchestrator.models.openai_compat import OpenAICompatChatModel, RetryPolicy  # noqa: E402
from orchestrator.schema import parse_output, response_format_for  # noqa: E402

WRITE_NOTE = {
    "type": "function",
    "function": {
        "name": "write_note",
        "description": "Write a note to a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
}


def bicameral_schemas() -> dict[str, dict[str, Any]]:
    """Every schema Bicameral sends for constrained decoding, by fixture name."""
    from orchestrator.loader import load_pipeline

    sample = ["calc.py", "tests/test_calc.py"]
    math = load_pipeline(
        ROOT / "examples" / "math_solver.yaml",
        overrides=[
            "models.planner.base_url=http://127.0.0.1:9/v1",
            "models.planner.model=smol",
            "models.reasoner.base_url=http://127.0.0.1:9/v1",
            "models.reasoner.model=smol",
        ],
        notice=None,
    ).context
    answer = {"type": "string", "minLength": 1, "maxLength": 4000}
    out: dict[str, dict[str, Any]] = {
        "choose_files": files_schema(sample),
        "code_edits": edits_schema(editable_paths(sample)),
        "planner_action": action_schema(planner_tool_schemas(math), answer),
        "reasoner_action_math": action_schema(
            list(math.reasoner.toolset.schemas()) if math.reasoner else [], MATH_SCHEMA
        ),
        "delegate_math": MATH_SCHEMA,
        "delegate_code": CODE_SCHEMA,
    }
    for path in sorted(
        [*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("tests/fixtures/good_pipelines/*.yaml")]
    ):
        for i, schema in enumerate(_user_schemas(path)):
            out[f"user_{path.stem}_{i}"] = schema
    return out


def _user_schemas(path: Path) -> Iterator[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "output_schema" and isinstance(value, dict):
                    yield value
                elif key == "output_schema" and isinstance(value, str):
                    file = path.parent / value
                    if file.is_file():
                        yield json.loads(file.read_text())
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


class Recorder(httpx.BaseTransport):
    """An httpx transport that reads each reply whole and keeps request and reply."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        sent = json.loads(request.content)
        record: dict[str, Any] = {"request": sent, "status": response.status_code}
        if sent.get("stream") and response.status_code == 200:
            record["sse"] = body.decode()
        else:
            record["response"] = json.loads(body) if body else None
        self.exchanges.append(record)
        headers = {"content-type": response.headers.get("content-type", "application/json")}
        return httpx.Response(response.status_code, headers=headers, content=body)


class Check:
    """Runs checks, prints outcomes, writes fixtures."""

    def __init__(self, record: Path | None) -> None:
        self.record = record
        self.failed = 0

    def client(self, url: str, recorder: Recorder, **fields: Any) -> OpenAICompatChatModel:
        fields.setdefault("max_tokens", 160)
        return OpenAICompatChatModel(
            base_urls=[url],
            model=fields.pop("model", "smol"),
            temperature=0.0,
            extra_body={"seed": 0},
            transport=recorder,
            retry_policy=RetryPolicy(max_retries=0),
            timeout=600.0,
            **fields,
        )

    def report(self, name: str, ok: bool, detail: str) -> None:
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    def save(self, folder: str, name: str, recorder: Recorder, index: int = -1) -> None:
        if self.record is None or not recorder.exchanges:
            return
        target = self.record / folder / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(recorder.exchanges[index], indent=1, sort_keys=True) + "\n")

    def call(
        self, model: Any, messages: Sequence[BaseMessage], stream: bool, **kw: Any
    ) -> AIMessage | BicameralError:
        try:
            if stream:
                chunks = list(model.stream(messages, **kw))
                merged = chunks[0]
                for chunk in chunks[1:]:
                    merged += chunk
                reply = AIMessage(
                    content=merged.content,
                    additional_kwargs=merged.additional_kwargs,
                    tool_calls=merged.tool_calls,
                    invalid_tool_calls=merged.invalid_tool_calls,
                    usage_metadata=merged.usage_metadata,
                    response_metadata=merged.response_metadata,
                )
                return reply
            reply = model.invoke(messages, **kw)
            assert isinstance(reply, AIMessage)
            return reply
        except BicameralError as err:
            return err


def check_schemas(check: Check, url: str) -> None:
    """Every schema Bicameral sends is taken by the server, as the client sends it."""
    for name, schema in bicameral_schemas().items():
        for stream in (False, True):
            recorder = Recorder()
            model = check.client(url, recorder)
            prompt = f"Reply with JSON matching this schema: {json.dumps(schema)}"
            fmt = response_format_for(schema, name)
            reply = check.call(model, [HumanMessage(prompt)], stream, response_format=fmt)
            label = f"schema {name}{' (stream)' if stream else ''}"
            if isinstance(reply, BicameralError):
                check.report(label, False, f"rejected: {reply}")
            else:
                try:
                    parse_output(reply.text, schema)
                    verdict = "valid"
                except SchemaValidationError as err:
                    verdict = f"invalid ({err.errors[0]})"
                finish = reply.response_metadata.get("finish_reason")
                check.report(label, True, f"accepted; finish {finish}; output {verdict}")
            check.save("vllm/schemas", f"{name}{'_stream' if stream else ''}", recorder)


def check_unique_items(check: Check, url: str) -> None:
    """The full file-choice schema, sent as is, is rejected: the reason for the subset."""
    schema = files_schema(["calc.py", "tests/test_calc.py"])
    for stream in (False, True):
        body: dict[str, Any] = {
            "model": "smol",
            "messages": [{"role": "user", "content": "Which files should be read?"}],
            "max_tokens": 40,
            "temperature": 0.0,
            "response_format": response_format_for(schema, "choose_files"),
        }
        if stream:
            body["stream"] = True
        response = httpx.post(f"{url}/chat/completions", json=body, timeout=600)
        record: dict[str, Any] = {"request": body, "status": response.status_code}
        if stream and response.status_code == 200:
            record["sse"] = response.text
        else:
            record["response"] = response.json()
        rejected = "uniqueItems" in response.text
        check.report(
            f"full schema with uniqueItems{' (stream)' if stream else ''}",
            rejected,
            f"HTTP {response.status_code}: {response.text[:120]!r}",
        )
        if check.record is not None:
            target = (
                check.record
                / "vllm"
                / "failures"
                / f"unique_items_rejected{'_stream' if stream else ''}.json"
            )
            target.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def check_truncated_call(check: Check, url: str) -> None:
    """A hermes call cut by max_tokens never comes back as a valid call."""
    messages: list[BaseMessage] = [
        HumanMessage("Write a note to notes/today.md saying that the build is green and ship it.")
    ]
    for max_tokens in (20, 40):
        for stream in (False, True):
            recorder = Recorder()
            model = check.client(url, recorder, max_tokens=max_tokens, strict_tools=False)
            # "required": vLLM 0.32 constrains the reply to the hermes markup (a structural
            # tag) and, cut off, leaves it unparsed in content
            bound = model.bind_tools([WRITE_NOTE], tool_choice="required")
            reply = check.call(bound, messages, stream)
            label = f"tool call cut at {max_tokens} tokens{' (stream)' if stream else ''}"
            if isinstance(reply, BicameralError):
                check.report(label, False, str(reply))
                continue
            finish = reply.response_metadata.get("finish_reason")
            ok = finish != "length" or not reply.tool_calls
            check.report(
                label,
                ok,
                f"finish {finish}; valid calls {len(reply.tool_calls)}, "
                f"invalid {len(reply.invalid_tool_calls)}; content {reply.text[:60]!r}",
            )
            suffix = "_stream" if stream else ""
            check.save("vllm/failures", f"length_tool_call_{max_tokens}{suffix}", recorder)


def check_reasoner(check: Check, url: str) -> None:
    """R1 parser, think never closed: content null; the value is looked for in reasoning."""
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    text = 'Repeat exactly: {"answer": 84}'
    for stream in (False, True):
        recorder = Recorder()
        model = check.client(url, recorder, max_tokens=48)
        reply = check.call(model, [HumanMessage(text)], stream)
        label = f"reasoning-only reply{' (stream)' if stream else ''}"
        if isinstance(reply, BicameralError):
            check.report(label, False, str(reply))
            continue
        reasoning = reply.additional_kwargs.get("reasoning") or ""
        try:
            value = parse_output(reply.text, schema, reasoning=reasoning).value
        except SchemaValidationError as err:
            value = f"none ({err.errors[0]})"
        usage: dict[str, Any] = dict(reply.usage_metadata or {})
        check.report(
            label,
            not reply.text.strip() and bool(reasoning),
            f"content {reply.text[:40]!r}; reasoning {reasoning[:60]!r}; value {value}; "
            f"usage {usage.get('output_token_details')} "
            f"{reply.response_metadata.get('usage_estimated')}",
        )
        check.save("vllm/failures", f"r1_reasoning_json{'_stream' if stream else ''}", recorder)


def check_llamacpp(check: Check, url: str) -> None:
    """llama.cpp's server: format support, fallback, usage in streams."""
    schema = MATH_SCHEMA
    fmt = response_format_for(schema, "delegate_math")
    prompt = [HumanMessage("What is 12 * 7? Reply in JSON with answer and steps.")]
    raw_cases: list[tuple[str, dict[str, Any]]] = [
        ("json_schema", {"response_format": fmt}),
        ("json_schema_stream", {"response_format": fmt, "stream": True}),
        ("json_object_schema", {"response_format": {"type": "json_object", "schema": schema}}),
        ("stream_no_usage", {"stream": True}),
        ("stream_include_usage", {"stream": True, "stream_options": {"include_usage": True}}),
    ]
    for name, extra in raw_cases:
        body = {
            "model": "smol",
            "messages": [{"role": "user", "content": prompt[0].text}],
            "max_tokens": 48,
            "temperature": 0.0,
            "seed": 0,
            **extra,
        }
        response = httpx.post(f"{url}/chat/completions", json=body, timeout=600)
        record: dict[str, Any] = {"request": body, "status": response.status_code}
        if body.get("stream") and response.status_code == 200:
            record["sse"] = response.text
        else:
            record["response"] = response.json()
        usage_in_stream = '"usage": {' in response.text or '"usage":{' in response.text
        check.report(
            f"llama.cpp {name}",
            True,
            f"HTTP {response.status_code}; usage in body: {usage_in_stream}; "
            f"{response.text[:100]!r}",
        )
        if check.record is not None:
            target = check.record / "llamacpp_server" / f"{name}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    for stream in (False, True):
        recorder = Recorder()
        model = check.client(url, recorder, max_tokens=48)
        reply = check.call(model, prompt, stream, response_format=fmt)
        label = f"llama.cpp client fallback{' (stream)' if stream else ''}"
        if isinstance(reply, BicameralError):
            check.report(label, False, str(reply))
            continue
        meta = reply.response_metadata
        check.report(
            label,
            True,
            f"{len(recorder.exchanges)} request(s); fallback {meta.get('grammar_fallback')}; "
            f"usage {reply.usage_metadata} estimated {meta.get('usage_estimated')}",
        )
    recorder = Recorder()
    model = check.client(url, recorder, max_tokens=48, grammar_backend=GrammarBackend.LLAMA_CPP)
    reply = check.call(model, prompt, False, response_format=fmt)
    check.report(
        "llama.cpp with grammar_backend=llama_cpp",
        not isinstance(reply, BicameralError),
        str(reply)[:160] if isinstance(reply, BicameralError) else f"{reply.text[:80]!r}",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner-url", help="vLLM with --tool-call-parser hermes")
    parser.add_argument("--reasoner-url", help="vLLM with --reasoning-parser deepseek_r1")
    parser.add_argument("--llamacpp-url", help="llama.cpp's OpenAI-compatible server")
    parser.add_argument("--record", type=Path, help="write fixtures under this directory")
    parser.add_argument(
        "--only", default="", help="comma-separated: schemas,unique,truncated,reasoner,llamacpp"
    )
    args = parser.parse_args(argv)
    check = Check(args.record)
    only = {s for s in args.only.split(",") if s}
    steps: list[tuple[str, str | None, Callable[[Check, str], None]]] = [
        ("unique", args.planner_url, check_unique_items),
        ("schemas", args.planner_url, check_schemas),
        ("truncated", args.planner_url, check_truncated_call),
        ("reasoner", args.reasoner_url, check_reasoner),
        ("llamacpp", args.llamacpp_url, check_llamacpp),
    ]
    for key, url, step in steps:
        if url and (not only or key in only):
            step(check, url.rstrip("/"))
    print(f"{check.failed} check(s) failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
