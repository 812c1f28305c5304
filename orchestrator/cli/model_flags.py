"""The model flags of ``run``, ``eval`` and ``serve`` (``--planner-url``, ``--planner-model``,
``--reasoner-url``, ``--reasoner-model``) as pipeline overrides.

A URL given without a model name asks the server: ``GET {url}/models`` (what vLLM, llama.cpp's
``llama-server`` and Ollama all answer), and when it serves exactly one model, that one is
used. Otherwise the file's own ``model`` applies, and when it has none the error names the
flag the user typed and the flag to add, with the names the server offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ModelFlags", "served_models"]

Discover = Callable[[str], list[str]]


def served_models(base_url: str, *, timeout_s: float = 5.0) -> list[str]:
    """The model ids ``base_url`` serves (``GET {base_url}/models``).

    Raises:
        OSError: the server cannot be reached or does not answer with a model list.
    """
    import httpx

    try:
        reply = httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout_s)
        reply.raise_for_status()
        data = reply.json().get("data")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise OSError(str(exc) or type(exc).__name__) from None
    if not isinstance(data, list):
        raise OSError("the reply has no `data` list of models")
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


@dataclass
class ModelFlags:
    """The four model flags, turned into ``--set``-style overrides.

    Example:
        >>> flags = ModelFlags(planner_url="http://127.0.0.1:8000/v1", planner_model="scout")
        >>> flags.resolve().overrides  # doctest: +NORMALIZE_WHITESPACE
        ['models.planner.base_url=http://127.0.0.1:8000/v1', 'models.planner.provider=openai',
         'models.planner.model=scout']
    """

    planner_url: str | None = None
    planner_model: str | None = None
    reasoner_url: str | None = None
    reasoner_model: str | None = None
    overrides: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    """How the user wrote each override (``--planner-url URL``), for error messages."""
    notices: list[str] = field(default_factory=list)
    """One line per model name learnt from a server."""

    def resolve(self, discover: Discover | None = None) -> ModelFlags:
        """Fill ``overrides``, ``origins`` and ``notices``; ``discover`` (default
        :func:`served_models`) is asked for the model of a URL given without one."""
        ask = discover or served_models
        for role, url, name in (
            ("planner", self.planner_url, self.planner_model),
            ("reasoner", self.reasoner_url, self.reasoner_model),
        ):
            if name:
                item = f"models.{role}.model={name}"
                self.overrides.append(item)
                self.origins[item] = f"--{role}-model {name}"
            if not url:
                continue
            origin = f"--{role}-url {url}"
            if not name:
                name, why = _only_model(ask, url)
                if name is not None:
                    item = f"models.{role}.model={name}"
                    self.overrides.append(item)
                    self.origins[item] = f"--{role}-url {url} (its only model, {name})"
                    self.notices.append(f"{role}: using {name}, the one model {url} serves")
                else:
                    origin += f" without --{role}-model ({why}; add --{role}-model NAME)"
            for item in (f"models.{role}.base_url={url}", f"models.{role}.provider=openai"):
                self.overrides.append(item)
                self.origins[item] = origin
        return self


def _only_model(ask: Discover, url: str) -> tuple[str | None, str]:
    try:
        names = ask(url)
    except OSError as exc:
        return None, f"asking {url}/models for its model failed: {exc}"
    if len(names) == 1:
        return names[0], ""
    if not names:
        return None, f"{url}/models lists no model"
    return None, f"{url} serves {len(names)} models: {', '.join(names[:8])}"
