"""The run log: every event of a run, stored next to its checkpoint (same SQLite file or
PostgreSQL database), keyed by thread id, for ``bicameral runs`` and ``bicameral ui``.

Example:
    >>> from orchestrator.runlog import RunLogStore  # doctest: +SKIP
    >>> with RunLogStore.open("sqlite:///.bicameral/checkpoints.sqlite") as store:  # doctest: +SKIP
    ...     print([run.thread_id for run in store.list_runs()])
"""

from orchestrator.runlog.recorder import RunRecorder, open_recorder
from orchestrator.runlog.redact import Redactor
from orchestrator.runlog.store import RunEvent, RunLogStore, RunSummary

__all__ = ["Redactor", "RunEvent", "RunLogStore", "RunRecorder", "RunSummary", "open_recorder"]
