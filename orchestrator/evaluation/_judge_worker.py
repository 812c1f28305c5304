"""The math judge's sandboxed worker: compare two normalised answers with sympy.

Run by :func:`tools.math.run_math_worker` (``python -I`` under the sandbox's limits, the same
protocol as the math tools' worker): the limits bound a pathological comparison, so nothing
in the judging process needs a timer, a signal or an abandoned thread. It loads
``_latex.py`` and ``_equivalence.py`` from its own directory as a private package (they use
the standard library and sympy only), not the ``orchestrator`` package.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path
from typing import Any

_PACKAGE = "_bicameral_judge"


def same_answer(predicted: str, reference: str) -> dict[str, Any]:
    """``{"equal": bool}`` for two answers already normalised by the judge."""
    package = types.ModuleType(_PACKAGE)
    package.__path__ = [str(Path(__file__).resolve().parent)]
    sys.modules[_PACKAGE] = package
    equivalence = importlib.import_module(f"{_PACKAGE}._equivalence")
    left = equivalence.parse_structure(predicted)
    right = equivalence.parse_structure(reference)
    return {"equal": bool(equivalence.values_equal(left, right))}


def main() -> None:
    request = json.loads(sys.argv[1])
    try:
        reply: dict[str, Any] = {"ok": True, "result": same_answer(**request["args"])}
    except (ArithmeticError, TypeError, ValueError, RecursionError, AttributeError) as exc:
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
