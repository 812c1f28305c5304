"""The repository tools: listing (.gitignore), search (ripgrep), symbols, repo map, git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.exceptions import ToolError, WorkspaceEscapeError
from tools import ToolContext, Toolset, build_tools
from tools.git_tools import branch_problem, commit_to_branch, git_diff
from tools.listing import is_test_path, repo_files
from tools.repo_map import estimate_tokens, repo_map
from tools.search import search
from tools.symbols import file_symbols

CALC = '''"""Calculator."""


def add(a: int, b: int) -> int:
    return a - b


class Calc:
    def mul(self, x: int, y: int) -> int:
        return x * y

    async def div(self, x, y):
        return x / y
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text(CALC)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(
        "from calc import add, Calc\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text("def add(): pass\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("*.tmp\n!keep.tmp\n")
    (tmp_path / "pkg" / "a.tmp").write_text("add\n")
    (tmp_path / "pkg" / "keep.tmp").write_text("add\n")
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "run.log").write_text("add\n")
    (tmp_path / "blob.bin").write_bytes(b"add\x00\x01\x02" * 10)
    return tmp_path


def test_listing_respects_nested_gitignore_files(repo: Path) -> None:
    files = repo_files(repo)
    assert "calc.py" in files and "tests/test_calc.py" in files and "pkg/keep.tmp" in files
    assert not {"build/gen.py", "run.log", "pkg/a.tmp"} & set(files)
    assert repo_files(repo, pattern="**/*.py") == ["calc.py", "tests/test_calc.py"]
    assert is_test_path("tests/test_calc.py") and not is_test_path("calc.py")


def test_search_regex_literal_context_and_cap(repo: Path) -> None:
    found = search(repo, r"def \w+\(self", context=1)
    assert [(h.path, h.line) for h in found.matches] == [("calc.py", 9), ("calc.py", 12)]
    assert found.matches[0].before == ((8, "class Calc:"),)
    text = found.to_text()
    assert "calc.py:9:    def mul(self, x: int, y: int) -> int:" in text
    assert "calc.py-10-        return x * y" in text
    literal = search(repo, "x * y", literal=True)
    assert [h.line for h in literal.matches] == [10]
    capped = search(repo, "add", max_results=2)
    assert len(capped.matches) == 2 and capped.truncated
    assert "narrow the search" in capped.to_text()


def test_search_skips_ignored_and_binary_files(repo: Path) -> None:
    paths = {h.path for h in search(repo, "add", max_results=100).matches}
    assert paths == {"calc.py", "tests/test_calc.py", "pkg/keep.tmp"}
    assert search(repo, "add", glob="*.py", path="tests").matches[0].path == "tests/test_calc.py"


def test_search_bad_input_is_a_clear_error(repo: Path) -> None:
    with pytest.raises(ToolError, match=r"search failed: .*unclosed"):
        search(repo, "(")
    with pytest.raises(WorkspaceEscapeError):
        search(repo, "x", path="../..")
    with pytest.raises(ToolError, match="no such file"):
        search(repo, "x", path="missing")
    assert search(repo, "nothing-like-this").to_text() == "no matches"


def test_python_symbols_have_signatures_and_spans() -> None:
    defs, refs = file_symbols("calc.py", CALC)
    assert [(d.qualname, d.kind, d.start_line, d.end_line) for d in defs] == [
        ("add", "function", 4, 5),
        ("Calc", "class", 8, 13),
        ("Calc.mul", "method", 9, 10),
        ("Calc.div", "method", 12, 13),
    ]
    assert defs[0].signature == "def add(a: int, b: int) -> int"
    assert defs[3].signature == "async def div(self, x, y)"
    assert refs["a"] == 1


def test_javascript_go_and_rust_symbols_come_from_tree_sitter() -> None:
    js, _ = file_symbols("a.js", "function add(a, b) { return a + b }\nclass A { m(x) { } }\n")
    assert [(d.qualname, d.signature) for d in js] == [
        ("add", "function add(a, b)"),
        ("A", "class A"),
        ("A.m", "m(x)"),
    ]
    go, _ = file_symbols("a.go", "package a\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n")
    assert [(d.name, d.signature, d.end_line) for d in go] == [("Add", "func Add(a, b int) int", 5)]
    rs, _ = file_symbols("a.rs", "fn add(a: i32) -> i32 { a }\n")
    assert rs[0].signature == "fn add(a: i32) -> i32"
    assert file_symbols("a.py", "def broken(:\n") == ([], {})


def test_repo_map_ranks_and_fits_the_budget(repo: Path) -> None:
    full = repo_map(repo, max_tokens=2000)
    assert "calc.py:" in full.text and "def add(a: int, b: int) -> int" in full.text
    assert "build/gen.py" not in full.text
    small = repo_map(repo, max_tokens=20, mentions=["add"])
    assert small.tokens <= 20 + 5
    assert [d.name for d in small.definitions] == ["add"]
    assert estimate_tokens("x" * 30) == 10


def test_repo_tools_are_built_in_and_confined(repo: Path) -> None:
    toolset = Toolset(build_tools(["search", "repo_map", "git_diff"], ToolContext(repo)))
    assert "calc.py:4:def add" in toolset.call("search", {"pattern": "def add"})
    assert "Calc" in toolset.call("repo_map", {"max_tokens": 500})
    with pytest.raises(ToolError, match="not a git repository"):
        toolset.call("git_diff", {})


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def test_git_diff_shows_changes_and_new_files_without_touching_the_index(repo: Path) -> None:
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    assert git_diff(repo) == "no changes"
    (repo / "calc.py").write_text(CALC.replace("a - b", "a + b"))
    (repo / "new.py").write_text("x = 1\n")
    diff = git_diff(repo)
    assert "-    return a - b\n+    return a + b" in diff and "+++ b/new.py" in diff
    assert _git(repo, "status", "--porcelain") == " M calc.py\n?? new.py\n"


def test_commit_to_branch_leaves_head_index_and_tree_alone(repo: Path, tmp_path: Path) -> None:
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    copy = tmp_path.parent / (tmp_path.name + "-copy")
    subprocess.run(["cp", "-a", str(repo), str(copy)], check=True)
    (copy / "calc.py").write_text(CALC.replace("a - b", "a + b"))
    commit = commit_to_branch(repo, copy, "fix/add", "Fix add")
    assert _git(repo, "rev-parse", "fix/add").strip() == commit
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert _git(repo, "status", "--porcelain") == ""
    assert "a + b" in _git(repo, "show", "fix/add:calc.py")
    with pytest.raises(ToolError, match="already exists"):
        commit_to_branch(repo, copy, "fix/add", "again")
    with pytest.raises(ToolError, match="check-ref-format"):
        commit_to_branch(repo, copy, "bad..name", "x")


def test_branch_problems_are_one_line(repo: Path) -> None:
    assert "not a git repository" in (branch_problem(repo, "fix") or "")
    _git(repo, "init", "-q", "-b", "main")
    assert "no commit yet" in (branch_problem(repo, "fix") or "")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    assert branch_problem(repo, "fix") is None
    assert "not a valid branch name" in (branch_problem(repo, "a..b") or "")
    assert "already exists" in (branch_problem(repo, "main") or "")
