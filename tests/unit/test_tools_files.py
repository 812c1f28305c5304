"""File tools: reading with line numbers, writing, globbing, and exact-once search/replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.exceptions import ToolError, WorkspaceEscapeError
from tools.files import apply_edit, apply_edits, list_files, read_file, write_file

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "util.py").write_text("X = 1\n")
    (root / "README.md").write_text("# demo\n")
    for ignored in (".git", ".venv", "__pycache__", "pkg/__pycache__"):
        (root / ignored).mkdir(parents=True, exist_ok=True)
        (root / ignored / "junk.py").write_text("junk\n")
    return root


def test_read_file_numbers_lines(ws: Path) -> None:
    out = read_file(ws, "calc.py")
    lines = out.splitlines()
    assert lines[0] == "calc.py (lines 1-6 of 6)"
    assert lines[1] == "1\tdef add(a, b):"
    assert lines[2] == "2\t    return a - b"


def test_read_file_line_range(ws: Path) -> None:
    out = read_file(ws, "calc.py", 5, 6)
    assert out.splitlines() == [
        "calc.py (lines 5-6 of 6)",
        "5\tdef mul(a, b):",
        "6\t    return a * b",
    ]
    assert "past the end" in read_file(ws, "calc.py", 40)
    with pytest.raises(ToolError, match="before start_line"):
        read_file(ws, "calc.py", 5, 2)


def test_read_file_truncates_at_a_line_boundary(ws: Path) -> None:
    (ws / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    out = read_file(ws, "long.txt", max_chars=200)
    assert "[output truncated at 200 characters" in out
    assert "read them with start_line=" in out
    assert len(out) < 400


def test_read_file_refuses_binaries_directories_and_missing(ws: Path) -> None:
    (ws / "blob.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="binary"):
        read_file(ws, "blob.bin")
    with pytest.raises(ToolError, match="is a directory"):
        read_file(ws, "pkg")
    with pytest.raises(ToolError, match=r"no such file: nope\.py"):
        read_file(ws, "nope.py")


def test_read_file_accepts_absolute_paths_inside(ws: Path) -> None:
    assert read_file(ws, str(ws / "pkg" / "util.py")).startswith("pkg/util.py (lines 1-1 of 1)")


def test_write_file_creates_parents(ws: Path) -> None:
    msg = write_file(ws, "new/deep/file.py", "a = 1\nb = 2\n")
    assert msg == "wrote new/deep/file.py (2 lines, 12 bytes)"
    assert (ws / "new" / "deep" / "file.py").read_text() == "a = 1\nb = 2\n"


def test_write_file_respects_the_size_limit_and_git(ws: Path) -> None:
    with pytest.raises(ToolError, match="limit is 4"):
        write_file(ws, "big.txt", "12345", max_bytes=4)
    with pytest.raises(ToolError, match=r"inside \.git"):
        write_file(ws, ".git/hooks/post-commit", "#!/bin/sh\n")
    assert not (ws / ".git" / "hooks").exists()


def test_list_files_skips_ignored_directories(ws: Path) -> None:
    assert list_files(ws) == ["README.md", "calc.py", "pkg/__init__.py", "pkg/util.py"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.py", ["calc.py", "pkg/__init__.py", "pkg/util.py"]),
        ("pkg/*.py", ["pkg/__init__.py", "pkg/util.py"]),
        ("**/util.py", ["pkg/util.py"]),
        ("pkg", ["pkg/__init__.py", "pkg/util.py"]),
        ("./pkg/u*", ["pkg/util.py"]),
        (".", ["README.md", "calc.py", "pkg/__init__.py", "pkg/util.py"]),
        ("*.rs", []),
        ("[cR]*", ["README.md", "calc.py"]),
    ],
)
def test_list_files_patterns(ws: Path, pattern: str, expected: list[str]) -> None:
    assert list_files(ws, pattern) == expected


def test_list_files_caps_the_listing(ws: Path) -> None:
    for i in range(30):
        (ws / f"f{i:02}.txt").write_text("")
    assert len(list_files(ws, "*.txt", max_entries=10)) == 11  # one more says "there is more"


def test_apply_edit_replaces_the_single_match(ws: Path) -> None:
    msg = apply_edit(ws, "calc.py", "    return a - b\n", "    return a + b\n")
    assert msg == "edited calc.py: replaced lines 2-3 (2 lines) with 2 lines"
    assert (ws / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_apply_edit_counts_multiple_matches(ws: Path) -> None:
    with pytest.raises(ToolError, match=r"matches 2 times in calc.py \(at lines 1, 5\)"):
        apply_edit(ws, "calc.py", "(a, b):", "(x, y):")
    assert (ws / "calc.py").read_text() == CALC


def test_apply_edit_shows_near_matches_with_line_numbers(ws: Path) -> None:
    with pytest.raises(ToolError) as info:
        apply_edit(ws, "calc.py", "def mul(a, b):\n    return a / b\n", "x")
    msg = str(info.value)
    assert "search text not found in calc.py" in msg
    assert "lines 5-6 (similarity" in msg
    assert "    5| def mul(a, b):" in msg
    assert "    6|     return a * b" in msg
    assert info.value.tool == "apply_edit"


def test_apply_edit_hints_at_whitespace(ws: Path) -> None:
    with pytest.raises(ToolError, match="matches if whitespace is ignored"):
        apply_edit(ws, "calc.py", "return  a - b", "return a + b")


def test_apply_edit_refuses_empty_search(ws: Path) -> None:
    with pytest.raises(ToolError, match="use write_file"):
        apply_edit(ws, "calc.py", "", "x")


def test_apply_edit_overlapping_matches_are_counted(ws: Path) -> None:
    (ws / "a.txt").write_text("aaa")
    with pytest.raises(ToolError, match="matches 2 times"):
        apply_edit(ws, "a.txt", "aa", "b")


def test_apply_edit_matches_lf_search_in_crlf_file(ws: Path) -> None:
    (ws / "win.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    apply_edit(ws, "win.py", "x = 1\ny = 2", "x = 10\ny = 20")
    assert (ws / "win.py").read_bytes() == b"x = 10\r\ny = 20\r\n"


def test_apply_edits_batch_and_changed_paths(ws: Path) -> None:
    changed = apply_edits(
        ws,
        [
            {"path": "calc.py", "search": "a - b", "replace": "a + b"},
            {"path": "calc.py", "search": "a * b", "replace": "b * a"},
            {"path": "src/new.py", "content": "NEW = True\n"},
            {"path": "pkg/util.py", "content": "X = 1\n"},  # unchanged content
        ],
    )
    assert changed == ["calc.py", "src/new.py"]
    assert "a + b" in (ws / "calc.py").read_text() and "b * a" in (ws / "calc.py").read_text()
    assert (ws / "src" / "new.py").read_text() == "NEW = True\n"


def test_apply_edits_is_all_or_nothing(ws: Path) -> None:
    with pytest.raises(ToolError, match=r"edit 1 \(calc.py\): search text not found"):
        apply_edits(
            ws,
            [
                {"path": "other.py", "content": "created?\n"},
                {"path": "calc.py", "search": "nothing like this", "replace": ""},
            ],
        )
    assert not (ws / "other.py").exists()
    assert (ws / "calc.py").read_text() == CALC


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"content": "x"}, "'path' must be a string"),
        ({"path": "calc.py"}, "'search' must be a string"),
        ({"path": "missing.py", "search": "a", "replace": "b"}, "no such file: missing.py"),
        ({"path": "../x.py", "content": "x"}, "outside|above"),
        ({"path": ".git/config", "content": "x"}, r"inside \.git"),
    ],
)
def test_apply_edits_reports_bad_edits(ws: Path, edit: dict[str, str], message: str) -> None:
    with pytest.raises(ToolError, match=message):
        apply_edits(ws, [edit])


def test_apply_edits_escape_is_a_workspace_error(ws: Path) -> None:
    with pytest.raises(WorkspaceEscapeError, match="edit 0: path '/etc/hosts' is outside"):
        apply_edits(str(ws), [{"path": "/etc/hosts", "content": "x"}])


def test_list_files_leaves_out_what_git_ignores(tmp_path: Path) -> None:
    from tools.files import list_files

    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.py").write_text("x = 1\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "run.log").write_text("log\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("generated.py\n")
    (tmp_path / "pkg" / "generated.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "core.py").write_text("x = 1\n")
    assert list_files(tmp_path, "*.py") == ["app.py", "pkg/core.py"]
    assert list_files(tmp_path) == [".gitignore", "app.py", "pkg/.gitignore", "pkg/core.py"]
