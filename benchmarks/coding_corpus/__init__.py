"""A corpus of injected-bug tasks on real open-source Python projects (see ``fetch.py``)."""
