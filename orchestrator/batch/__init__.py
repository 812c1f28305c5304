"""Run many tasks through one pipeline across processes or a Ray cluster.

:func:`run_batch` is the Python API (``bicameral batch`` is the CLI door onto it): task rows
go to worker processes (or Ray actors), each with its own event loop and pipeline, and
result rows come back as they finish. See ``docs/scaling.md``.
"""

from orchestrator.batch.results import ResultsFile
from orchestrator.batch.runner import Batch, BatchItem, run_batch
from orchestrator.batch.tasks import TaskRow, read_tasks

__all__ = ["Batch", "BatchItem", "ResultsFile", "TaskRow", "read_tasks", "run_batch"]
