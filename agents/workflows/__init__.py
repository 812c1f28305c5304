"""Workflows: each assembles node functions from ``agents`` into a LangGraph ``StateGraph``.

- ``standard``: planner -> (tools | reasoner subtasks) -> planner, until an answer.
- ``custom``: a graph written in the pipeline file (named steps, conditional edges).
- ``coding_assistant``: explore -> test -> edit -> apply -> test, on a workspace.
"""
