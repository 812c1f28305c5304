"""Pipeline configuration: the YAML schema (pydantic spec models), loading with line-numbered
errors, ``${VAR}`` interpolation and ``--set`` overrides, the safe expression language of
custom graphs, and the JSON Schema that editors use to check pipeline files.

Nothing here builds models, graphs or tools: ``orchestrator.loader`` turns a spec into a
``Pipeline``. Import the submodules directly (``orchestrator.config.spec``,
``orchestrator.config.loading``); this package imports nothing at start-up.
"""
