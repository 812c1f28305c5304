"""The run log: every event of a run, stored next to its checkpoint (same SQLite file or
PostgreSQL database), keyed by thread id, for ``bicameral runs`` and ``bicameral ui``.

``store`` reads and writes the tables; ``recorder`` turns a run's event stream into rows
(``Pipeline`` does this for runs checkpointed to a URL); ``redact`` keeps secrets out.
Import from the submodules: this package imports nothing, so the CLI stays fast.

Example:
    >>> from orchestrator.runlog.store import RunLogStore  # doctest: +SKIP
    >>> with RunLogStore.open("sqlite:///.bicameral/checkpoints.sqlite") as store:  # doctest: +SKIP
    ...     print([run.thread_id for run in store.list_runs()])
"""
