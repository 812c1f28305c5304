"""``python -m orchestrator.cli`` runs the ``bicameral`` command line."""

from orchestrator.cli import main

main()
