"""The graph kit: run state, routing, checkpointers and node instrumentation.

Workflows live in ``agents/workflows``; this package holds what every workflow shares and
imports nothing from ``agents``.
"""

from __future__ import annotations

from orchestrator.graph.kit import Graph, NodeFn, inline_route, instrumented

__all__ = ["Graph", "NodeFn", "inline_route", "instrumented"]
