"""`bicameral run --apply-to-branch`: the coding assistant works on a copy of the workspace and
its change lands as a commit on a new branch; the current branch, index and files stay as they
were. Real CLI subprocess, real git, loopback fake model server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fake_openai_server import ChatReply, FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "coding_assistant" / "sample_repo"
FIX = {
    "explanation": "add, not subtract",
    "edits": [{"path": "calc.py", "search": "return a - b", "replace": "return a + b"}],
}


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": os.environ["PATH"]}
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_fix_is_committed_on_a_new_branch_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    with FakeOpenAIServer() as server:
        pipeline = tmp_path / "pipeline.yaml"
        pipeline.write_text(
            "name: fix\nworkflow: coding_assistant\nmax_attempts: 1\n"
            "models:\n"
            f"  planner: {{base_url: '{server.base_url}', model: fake, max_retries: 0}}\n"
            f"  reasoner: {{base_url: '{server.base_url}', model: fake-r1, max_retries: 0}}\n"
            "tools: {builtin: [localise, apply_edit, write_file]}\n"
        )
        server.enqueue(ChatReply(json.dumps(FIX)))
        args = ["run", str(pipeline), "--task", "fix", "--workspace", str(repo), "--json"]
        proc = _cli(*args, "--apply-to-branch", "fix/add", cwd=tmp_path)
        again = _cli(*args, "--apply-to-branch", "fix/add", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    assert "on new branch 'fix/add'" in proc.stderr
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert _git(repo, "status", "--porcelain") == ""  # the user's files and index untouched
    assert "return a - b" in (repo / "calc.py").read_text()
    assert "return a + b" in _git(repo, "show", "fix/add:calc.py")
    assert _git(repo, "diff", "--stat", "main", "fix/add").strip().startswith("calc.py")
    assert again.returncode == 2 and "already exists" in again.stderr
