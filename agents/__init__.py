"""Bicameral's agents: the ``Agent`` value, the node functions, and the workflows.

Import names ``agents`` and ``tools`` are Bicameral's companion packages of ``orchestrator``;
``orchestrator._companions`` checks the marker below so that a user's own package of the same
name is reported in one line instead of failing deep inside an import.
"""

__bicameral_package__ = True
