"""Run pytest recording which functions of the workspace each test calls (for localisation).

Started as ``python -E -s -B -X utf8 _trace_pytest.py OUT -- PYTEST_ARGS...`` with the
workspace as working directory, it puts the working directory first on ``sys.path`` (as
``python -m pytest`` does), profiles each test's call phase (``sys.setprofile``, ``call``
events of code under the working directory, not in a virtualenv) and writes
``{nodeid: [[file, first line], ...]}`` as JSON to ``OUT`` when the session ends. Only the
standard library and pytest are used: it runs with the workspace's own interpreter.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any


class Tracer:
    """A pytest plugin: functions called by each test, by file and first line."""

    def __init__(self, root: str, out: str) -> None:
        self.root = root.rstrip(os.sep) + os.sep
        self.out = out
        self.calls: dict[str, list[tuple[str, int]]] = {}

    def _wrap(self, item: Any) -> Iterator[Any]:
        seen: set[tuple[str, int]] = set()
        root = self.root

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event == "call":
                code = frame.f_code
                name = code.co_filename
                if name.startswith(root) and "site-packages" not in name:
                    seen.add((name[len(root) :], code.co_firstlineno))

        sys.setprofile(profile)
        try:
            yield
        finally:
            sys.setprofile(None)
            self.calls[item.nodeid] = sorted(seen)

    def pytest_sessionfinish(self, session: Any) -> None:
        with open(self.out, "w", encoding="utf-8") as fh:
            json.dump(self.calls, fh)


def main() -> int:
    out, sep, *args = sys.argv[1:]
    assert sep == "--"
    sys.path[0] = os.getcwd()
    import pytest

    tracer = Tracer(os.getcwd(), out)
    hook = pytest.hookimpl(hookwrapper=True)(Tracer._wrap)
    setattr(Tracer, "pytest_runtest_call", hook)  # noqa: B010
    return int(pytest.main(args, plugins=[tracer]))


if __name__ == "__main__":
    sys.exit(main())
