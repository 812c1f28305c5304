"""Keep secrets out of the run log: API keys, ``api_key_env`` values, ``Authorization``
headers, whatever key or value looks like a credential."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"^(.*[_-])?(api[_-]?key|authorization|token|secret|password|passwd|cookie|credentials?)$",
    re.I,
)
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|AUTH|CREDENTIAL)", re.I)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.I)
_MIN_SECRET = 6


class Redactor:
    """Replaces secrets in JSON-like data with ``[redacted]``.

    Secret values are the environment's credential-looking variables (``OPENAI_API_KEY``,
    the variables pipelines name in ``api_key_env``) plus any given explicitly.
    """

    def __init__(self, extra: tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        values = {v for k, v in env.items() if _SECRET_ENV.search(k) and len(v) >= _MIN_SECRET}
        values.update(v for v in extra if len(v) >= _MIN_SECRET)
        self._values = sorted(values, key=len, reverse=True)

    def text(self, value: str) -> str:
        """``value`` with secret values and bearer tokens replaced."""
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)

    def data(self, value: Any) -> Any:
        """A copy of ``value`` (dicts, lists, strings) with secrets replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                str(k): REDACTED if _SECRET_KEY.search(str(k)) else self.data(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
