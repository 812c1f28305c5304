"""Check that ``agents`` and ``tools`` are Bicameral's own packages, not a user's.

Bicameral installs three top-level import names, ``orchestrator``, ``agents`` and ``tools``
(the repository layout). A project with its own ``tools`` or ``agents`` package (or module)
earlier on ``sys.path`` shadows ours, and the import would fail somewhere deep with a
misleading message. Importing this module (``orchestrator`` does it before it first imports
``agents`` or ``tools``) turns that into one ImportError line naming the clashing file.
"""

from __future__ import annotations

import importlib
import importlib.util

__all__ = ["check_companions"]

_COMPANIONS = ("agents", "tools")


def check_companions() -> None:
    """Raise ``ImportError`` when ``agents`` or ``tools`` resolves to a module that is not
    Bicameral's (it lacks ``__bicameral_package__``)."""
    for name in _COMPANIONS:
        spec = importlib.util.find_spec(name)
        where = (spec.origin or "a namespace package") if spec else "nowhere"
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"Bicameral's {name!r} package cannot be imported ({exc}); the name resolves "
                f"to {where}. Reinstall bicameral, or rename your own {name!r} package."
            ) from exc
        if not getattr(module, "__bicameral_package__", False):
            raise ImportError(
                f"the module {name!r} at {where} is not Bicameral's {name!r} package: a package "
                f"or module of yours named {name!r} shadows it. Rename yours (or move it off "
                f"sys.path, e.g. run from another directory)."
            )


check_companions()
