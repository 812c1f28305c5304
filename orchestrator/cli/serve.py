"""``vllm serve`` command lines for a pipeline's models, and a launcher that waits for health.

:func:`serve_commands` is pure: it turns each OpenAI-provider model's ``serve:`` settings into
the argument list vLLM needs, with the flags of its role:

* planner: ``--enable-auto-tool-choice --tool-call-parser llama4_pythonic`` (native tool
  calls for Llama 4 Scout) and ``--chat-template`` when one is configured;
* reasoner: ``--reasoning-parser deepseek_r1`` (the ``<think>`` block goes to the
  ``reasoning`` field instead of the content).

:func:`launch` starts the commands and polls ``GET {base_url}/models`` until every server
answers; the process factory, probe, clock and sleep are parameters so tests run without
vLLM and without waiting.

Example:
    >>> cmds = serve_commands(spec)  # doctest: +SKIP
    >>> print(cmds[0].shell())  # doctest: +SKIP
    vllm serve scout --host 127.0.0.1 --port 8000 ... --tool-call-parser llama4_pythonic
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from orchestrator.config.spec import ModelSpec, PipelineSpec, Provider, Role, did_you_mean
from orchestrator.exceptions import ConfigError, ModelConnectionError

__all__ = [
    "DEFAULT_PORTS",
    "PLANNER_TOOL_CALL_PARSER",
    "REASONER_REASONING_PARSER",
    "RunningServer",
    "ServeCommand",
    "build_serve_command",
    "launch",
    "probe_models",
    "serve_commands",
    "wait_healthy",
]

PLANNER_TOOL_CALL_PARSER = "llama4_pythonic"
"""vLLM tool-call parser for the planner (Llama 4 Scout writes pythonic calls)."""
REASONER_REASONING_PARSER = "deepseek_r1"
"""vLLM reasoning parser for the reasoner (R1-style ``<think>`` blocks)."""
_EXAMPLE_WEIGHTS = {
    Role.PLANNER.value: "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    Role.REASONER.value: "deepseek-ai/DeepSeek-R2",
}
DEFAULT_PORTS: Mapping[str, int] = {Role.PLANNER.value: 8000, Role.REASONER.value: 8001}
"""Ports used when neither ``serve.port`` nor a base_url gives one (other roles: 8000)."""
_ANY_HOST = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ServeCommand:
    """One ``vllm serve`` invocation.

    Attributes:
        role: the model's key in ``models``.
        argv: the command line.
        base_url: where the server will answer (``http://host:port/v1``).
        env: extra environment variables for the process (``serve.env``).
        api_key_env: variable whose value becomes the server's ``VLLM_API_KEY``, if any.
    """

    role: str
    argv: tuple[str, ...]
    base_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    api_key_env: str | None = None

    @property
    def models_url(self) -> str:
        """The health endpoint polled after launch."""
        return f"{self.base_url}/models"

    def shell(self) -> str:
        """The command as one shell line (what ``--dry-run`` prints); never shows a key."""
        prefix = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        if self.api_key_env:
            prefix.append(f'VLLM_API_KEY="${self.api_key_env}"')
        return " ".join([*prefix, shlex.join(self.argv)])


def build_serve_command(role: str, model: ModelSpec, *, executable: str = "vllm") -> ServeCommand:
    """The ``vllm serve`` command for one model.

    Raises:
        ConfigError: the model is not served over HTTP (provider ``local``).
    """
    if model.provider is not Provider.OPENAI or not model.model:
        example = _EXAMPLE_WEIGHTS.get(role, "ID")
        raise ConfigError(
            f"models.{role} runs on the embedded model (no base_url), so there is no server "
            f"to start: name the weights with --{role}-model NAME, e.g. "
            f"`bicameral serve FILE --role {role} --{role}-model {example}`"
        )
    serve = model.serve
    port = serve.port or _url_port(model) or DEFAULT_PORTS.get(role, 8000)
    checkpoint = serve.model or model.model
    argv = [executable, "serve", checkpoint, "--host", serve.host, "--port", str(port)]
    if checkpoint != model.model:
        argv += ["--served-model-name", model.model]
    argv += ["--tensor-parallel-size", str(serve.tensor_parallel_size)]
    if serve.pipeline_parallel_size > 1:
        argv += ["--pipeline-parallel-size", str(serve.pipeline_parallel_size)]
    if serve.distributed_executor_backend:
        argv += ["--distributed-executor-backend", serve.distributed_executor_backend]
    if serve.max_model_len is not None:
        argv += ["--max-model-len", str(serve.max_model_len)]
    if serve.gpu_memory_utilization is not None:
        argv += ["--gpu-memory-utilization", f"{serve.gpu_memory_utilization:g}"]
    if serve.max_num_seqs is not None:
        argv += ["--max-num-seqs", str(serve.max_num_seqs)]
    if serve.kv_cache_dtype:
        argv += ["--kv-cache-dtype", serve.kv_cache_dtype]
    if serve.quantization:
        argv += ["--quantization", serve.quantization]
    tool_parser = serve.tool_call_parser or (
        PLANNER_TOOL_CALL_PARSER if role == Role.PLANNER else None
    )
    if tool_parser:
        argv += ["--enable-auto-tool-choice", "--tool-call-parser", tool_parser]
    if serve.chat_template:
        argv += ["--chat-template", serve.chat_template]
    reasoning_parser = serve.reasoning_parser or (
        REASONER_REASONING_PARSER if role == Role.REASONER else None
    )
    if reasoning_parser:
        argv += ["--reasoning-parser", reasoning_parser]
    argv += serve.extra_args
    host = "127.0.0.1" if serve.host in _ANY_HOST else serve.host
    host = f"[{host}]" if ":" in host else host
    return ServeCommand(
        role=role,
        argv=tuple(argv),
        base_url=f"http://{host}:{port}/v1",
        env=dict(serve.env),
        api_key_env=model.api_key_env,
    )


def serve_commands(
    spec: PipelineSpec, roles: Iterable[str] | None = None, *, executable: str = "vllm"
) -> list[ServeCommand]:
    """Commands for ``roles`` (default: every model with provider ``openai``), in file order.

    Raises:
        ConfigError: an unknown role, a local model asked for by name, two servers on one port.
    """
    if roles is None:
        chosen = [r for r, m in spec.models.items() if m.provider is Provider.OPENAI]
    else:
        chosen = list(dict.fromkeys(roles))
        for role in chosen:
            if role not in spec.models:
                hint = did_you_mean(role, spec.models)
                raise ConfigError(f"no model named {role!r} in this pipeline{hint}")
    commands = [build_serve_command(r, spec.models[r], executable=executable) for r in chosen]
    seen: dict[str, str] = {}
    for cmd in commands:
        netloc = urlsplit(cmd.base_url).netloc
        if netloc in seen:
            raise ConfigError(
                f"models.{seen[netloc]} and models.{cmd.role} would both listen on {netloc}; "
                "set serve.port"
            )
        seen[netloc] = cmd.role
    return commands


def _url_port(model: ModelSpec) -> int | None:
    for url in model.base_urls:
        port = urlsplit(url).port
        if port is not None:
            return port
    return None


class Process(Protocol):
    """What :func:`launch` needs of a started process (``subprocess.Popen`` fits)."""

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


@dataclass
class RunningServer:
    """A launched server: its command and process."""

    command: ServeCommand
    process: Process

    def stop(self, timeout_s: float = 30.0) -> None:
        """Terminate the server, killing it if it hasn't exited after ``timeout_s``."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)


def probe_models(url: str, *, api_key: str | None = None, timeout_s: float = 2.0) -> bool:
    """Whether ``GET url`` answers 200 with an OpenAI model list (``{"data": [...]}``)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
        return response.status_code == 200 and isinstance(response.json().get("data"), list)
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def launch(
    commands: Sequence[ServeCommand],
    *,
    timeout_s: float = 1800.0,
    poll_interval_s: float = 2.0,
    env: Mapping[str, str] | None = None,
    popen: Callable[[ServeCommand, dict[str, str]], Process] | None = None,
    probe: Callable[[ServeCommand], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunningServer]:
    """Start every command, then wait until all of them serve ``/v1/models``.

    Args:
        commands: from :func:`serve_commands`.
        timeout_s: how long to wait for all servers (loading large weights takes minutes).
        poll_interval_s: pause between health polls.
        env: base environment of the processes (default ``os.environ``); each command's
            ``env`` is added, and ``VLLM_API_KEY`` from its ``api_key_env`` when set.
        popen: starts one process (default: :class:`subprocess.Popen` with the given env).
        probe: says whether one server is healthy (default: :func:`probe_models`).
        clock, sleep: time source and pause, injectable for tests.

    Returns:
        The running servers; stop them with :meth:`RunningServer.stop`.

    Raises:
        ConfigError: the executable does not exist.
        ModelConnectionError: a server exited, or not all were healthy within ``timeout_s``;
            every server started is stopped first.
    """
    base_env = dict(os.environ if env is None else env)
    start = popen or _popen
    started: list[RunningServer] = []
    try:
        for cmd in commands:
            started.append(RunningServer(cmd, _start(start, cmd, base_env)))
        wait_healthy(
            started,
            timeout_s=timeout_s,
            poll_interval_s=poll_interval_s,
            probe=probe or (lambda c: _default_probe(c, base_env)),
            clock=clock,
            sleep=sleep,
        )
    except BaseException:
        for server in started:
            server.stop()
        raise
    return started


def wait_healthy(
    servers: Sequence[RunningServer],
    *,
    timeout_s: float,
    poll_interval_s: float,
    probe: Callable[[ServeCommand], bool],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll until every server is healthy.

    Raises:
        ModelConnectionError: a process exited, or the deadline passed.
    """
    deadline = clock() + timeout_s
    pending = list(servers)
    while True:
        for server in list(pending):
            code = server.process.poll()
            if code is not None:
                raise ModelConnectionError(
                    f"vLLM for {server.command.role} exited with code {code} before serving",
                    url=server.command.base_url,
                )
            if probe(server.command):
                pending.remove(server)
        if not pending:
            return
        if clock() >= deadline:
            names = ", ".join(s.command.role for s in pending)
            raise ModelConnectionError(
                f"vLLM for {names} not healthy after {timeout_s:g}s",
                url=pending[0].command.models_url,
            )
        sleep(poll_interval_s)


def _start(
    start: Callable[[ServeCommand, dict[str, str]], Process],
    cmd: ServeCommand,
    base_env: Mapping[str, str],
) -> Process:
    env = {**base_env, **cmd.env}
    if cmd.api_key_env and base_env.get(cmd.api_key_env):
        env["VLLM_API_KEY"] = base_env[cmd.api_key_env]
    try:
        return start(cmd, env)
    except FileNotFoundError:
        raise ConfigError(
            f"{cmd.argv[0]!r} not found; install vLLM (pip install 'bicameral[vllm]')"
        ) from None


def _popen(cmd: ServeCommand, env: dict[str, str]) -> Process:
    return subprocess.Popen(cmd.argv, env=env, stdin=subprocess.DEVNULL)


def _default_probe(cmd: ServeCommand, env: Mapping[str, str]) -> bool:
    key = env.get(cmd.api_key_env) if cmd.api_key_env else None
    return probe_models(cmd.models_url, api_key=key)
