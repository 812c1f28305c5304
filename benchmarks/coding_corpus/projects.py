"""The projects the coding corpus mutates: small, pure-Python, permissively licensed, and
shipping their tests in their source distributions."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROJECTS", "Project"]


@dataclass(frozen=True)
class Project:
    """One project: its sdist, where its code and tests live, and how many tasks to keep.

    Attributes:
        name: the PyPI name.
        version: the pinned version (the sdist fetched).
        licence: the licence, as its sdist states it.
        sources: files or directories (relative to the sdist root) whose functions are mutated.
        exclude: path fragments never mutated (tests, version files, vendored code).
        tests: the test path given to pytest.
        tasks: how many tasks to keep.
        focus: for a source file, the test file to try first when filtering mutations (a
            failure there already shows one of the project's tests fails).
    """

    name: str
    version: str
    licence: str
    sources: tuple[str, ...]
    exclude: tuple[str, ...]
    tests: str
    tasks: int
    focus: tuple[tuple[str, str], ...] = ()

    def focused_tests(self, path: str) -> str:
        """The test path that exercises ``path`` most directly (all tests by default)."""
        return dict(self.focus).get(path, self.tests)

    @property
    def dirname(self) -> str:
        """The directory the sdist unpacks to."""
        return f"{self.name}-{self.version}"


PROJECTS: tuple[Project, ...] = (
    Project(
        "toolz", "1.0.0", "BSD-3-Clause", ("toolz",),
        ("tests/", "_version.py", "compatibility.py", "curried/", "_signatures.py"),
        "toolz/tests", 35,
        tuple((f"toolz/{m}.py", f"toolz/tests/test_{m}.py")
              for m in ("itertoolz", "functoolz", "dicttoolz", "recipes", "utils")),
    ),
    Project("inflection", "0.5.1", "MIT", ("inflection",), ("tests/",), "test_inflection.py", 13),
    Project("tabulate", "0.9.0", "MIT", ("tabulate",), ("version.py",), "test", 30),
    Project(
        "more-itertools", "10.5.0", "MIT", ("more_itertools",), ("tests/",), "tests", 28,
        (("more_itertools/more.py", "tests/test_more.py"),
         ("more_itertools/recipes.py", "tests/test_recipes.py")),
    ),
)  # fmt: skip
