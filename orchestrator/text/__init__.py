"""Text helpers every layer shares, written once: the think-tag splitter, the quote-aware
bracket scanner, tool-call ids and did-you-mean hints. No I/O; imports nothing above
``orchestrator.exceptions``/``orchestrator.types``, so ``models``, ``schema``, ``config`` and
``tools`` all build on it without import circles."""
