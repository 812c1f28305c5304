"""Attacks on ``run_python`` from issue 20, item 1: each must be contained.

These run as root in CI, as on the development machines: that is where a sandbox without
isolation leaks most (a root child can write its cgroup files and the project's sources).
Where the machine refuses namespaces the sandbox says so (``Isolation.LIMITS_ONLY``) and the
tests that need isolation are skipped with that reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tools.sandbox
from tests.security.conftest import survivors
from tools import SandboxLimits
from tools.sandbox import Isolation, run_python, sandbox_isolation

ROOT = Path(__file__).resolve().parents[2]
PORT = 8301

pytestmark = pytest.mark.skipif(
    sandbox_isolation() is not Isolation.NAMESPACES, reason=Isolation.LIMITS_ONLY.describe()
)


def _run(code: str, **kwargs: object) -> str:
    result = run_python(textwrap.dedent(code), **kwargs)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.to_text()
    assert result.isolation is Isolation.NAMESPACES
    return result.stdout


def test_cgroup_limits_cannot_be_raised_or_left() -> None:
    # Only this run's own cgroup is targeted, so the attack harms nothing where it works.
    out = _run(
        """
        import glob, os
        mine = [os.path.dirname(p) for p in glob.glob("/sys/fs/cgroup/pids/*/cgroup.procs")
                if str(os.getpid()) in open(p).read().split()]
        own = [l.split(":", 2)[2] for l in open("/proc/self/cgroup") if ":pids:" in l]
        mine += ["/sys/fs/cgroup/pids" + own[0].rstrip("/")] if own else []
        print("own cgroups", len(mine))
        for path in [d + "/pids.max" for d in mine] + ["/sys/fs/cgroup/pids/cgroup.procs"]:
            try:
                with open(path, "w") as fh:
                    fh.write("max" if path.endswith("pids.max") else "0")
                print("WROTE", path)
            except OSError as exc:
                print("refused", exc.errno)
        """
    )
    assert "WROTE" not in out and "refused" in out


def test_setsid_double_fork_does_not_outlive_the_call() -> None:
    marker = f"daemon-{secrets.token_hex(6)}"
    out = _run(
        f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c",
                         "import time; time.sleep(120)", "{marker}"])
            os._exit(0)
        os.wait()
        print("daemonized")
        """
    )
    assert "daemonized" in out
    assert survivors(marker) == []


def test_nothing_survives_a_sigkilled_orchestrator(tmp_path: Path) -> None:
    marker = f"orphan-{secrets.token_hex(6)}"
    ready = tmp_path / "ready"
    sandboxed = textwrap.dedent(
        f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c",
                    "import time; open({str(ready)!r}, 'w').close(); time.sleep(120)", "{marker}"])
            os._exit(0)
        time.sleep(120)
        """
    )
    orchestrator = (
        "import sys\nfrom pathlib import Path\nfrom tools.sandbox import run_python\n"
        f"run_python({sandboxed!r}, workspace=Path({str(tmp_path)!r}),"
        " limits=__import__('tools').SandboxLimits(wall_timeout_s=120, cpu_seconds=120))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", orchestrator], env=env)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), "the sandboxed daemon never started"
        assert survivors(marker, within_s=0) != []
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert survivors(marker) == []


def test_project_sources_cannot_be_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("original\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    target = Path(tools.sandbox.__file__)
    before = target.read_bytes()
    out = _run(
        f"""
        import os
        for path in [{str(target)!r}, {str(ROOT / "NEW_FILE.py")!r}, {str(outside)!r}]:
            try:
                with open(path, "a") as fh:
                    fh.write("# planted\\n")
                print("WROTE", path)
            except OSError as exc:
                print("refused", exc.errno)
        with open(os.path.join({str(ws)!r}, "ok.txt"), "w") as fh:
            fh.write("workspace is writable")
        """,
        workspace=ws,
    )
    assert target.read_bytes() == before
    assert not (ROOT / "NEW_FILE.py").exists()
    assert outside.read_text() == "original\n"  # the sandbox's /tmp is its own
    assert (ws / "ok.txt").read_text() == "workspace is writable"
    assert f"WROTE {target}" not in out


def test_git_metadata_in_the_workspace_is_read_only(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    out = _run(
        f"""
        import os
        for path in [".git/config", ".git/hooks/pre-commit", "vendor/x.py"]:
            full = os.path.join({str(ws)!r}, path)
            try:
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "a") as fh:
                    fh.write("[core]\\n\\tfsmonitor = touch /tmp/pwned\\n")
                print("WROTE", path)
            except OSError as exc:
                print("refused", path, exc.errno)
        """,
        workspace=ws,
    )
    assert "WROTE .git" not in out and "WROTE vendor/x.py" in out
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()


def test_user_namespace_cannot_remount_the_tree_writable() -> None:
    out = _run(
        f"""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS
        for target in [b"/", {str(ROOT).encode()!r}]:
            print("remount", libc.mount(None, target, None, 32 | 4096, None))  # REMOUNT|BIND
        try:
            open({str(ROOT / "PLANTED")!r}, "w")
            print("WROTE")
        except OSError as exc:
            print("refused", exc.errno)
        """
    )
    # A checkout under /tmp is behind the sandbox's private /tmp: a write there lands in that
    # tmpfs (and vanishes with the call), never in the real tree.
    assert "remount 0" not in out
    assert "WROTE" not in out or str(ROOT).startswith(("/tmp/", "/var/tmp/"))
    assert not (ROOT / "PLANTED").exists()


def test_kernel_settings_are_read_only() -> None:
    out = _run(
        """
        path = "/proc/sys/kernel/core_pattern"
        same = open(path).read()
        try:
            with open(path, "w") as fh:
                fh.write(same)  # the same value: harmless even where it is not refused
            print("WROTE")
        except OSError as exc:
            print("refused", exc.errno)
        """
    )
    assert "WROTE" not in out


def test_host_processes_are_invisible_and_unsignalled() -> None:
    out = _run(
        f"""
        import os
        try:
            os.kill({os.getpid()}, 0)
            print("SIGNALLED")
        except OSError as exc:
            print("refused", exc.errno)
        print("pids", len([p for p in os.listdir("/proc") if p.isdigit()]))
        """
    )
    assert "SIGNALLED" not in out
    assert int(out.split("pids")[1]) <= 3  # init, the program, nothing of the host


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on the host's loopback that never accepts by itself."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", PORT))
        server.listen(8)
        server.setblocking(False)
        yield server


CONNECT = f"""
import errno, socket
for host, port in [("127.0.0.1", {PORT}), ("192.0.2.1", 80), ("1.1.1.1", 53)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("CONNECTED", host)
    except OSError as exc:
        print("refused", host, errno.errorcode.get(exc.errno, exc))
print("interfaces", sorted(line.split(":")[0].strip() for line in open("/proc/net/dev")
                           if ":" in line))
"""


def test_no_connection_leaves_by_default(listener: socket.socket) -> None:
    out = _run(CONNECT)
    assert "CONNECTED" not in out
    assert "interfaces ['lo']" in out
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing reached the host's loopback


def test_network_when_the_pipeline_allows_it(listener: socket.socket) -> None:
    out = _run(CONNECT, limits=SandboxLimits(network=True))
    assert "CONNECTED 127.0.0.1" in out
    listener.accept()[0].close()


def test_private_loopback_works_inside() -> None:
    out = _run(
        """
        import socket
        server = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        client.sendall(b"ping")
        print(conn.recv(4).decode())
        """
    )
    assert out.strip() == "ping"


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not SYSTEM_PYTHON.exists(),
    reason="needs root, setpriv and a system python3 to become an unprivileged user",
)
def test_an_unprivileged_user_gets_the_same_isolation() -> None:
    """As non-root the bootstrap adds a user namespace (uid mapped to 0 inside)."""
    with tempfile.TemporaryDirectory(prefix="bicameral-nobody-") as tmp:
        Path(tmp).chmod(0o777)  # pytest's tmp_path is private to root
        _as_nobody(Path(tmp))


def _world_readable(path: Path) -> bool:
    """Whether an unprivileged user can read ``path`` (every folder above it searchable)."""
    if not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def _as_nobody(tmp_path: Path) -> None:
    config = {
        "cgroup_procs": None, "cpu_seconds": 10, "memory_bytes": 1 << 30,
        "file_size_bytes": 1 << 24, "max_processes": 32, "parent_pid": 0, "isolate": True,
        "network": False, "cwd": str(tmp_path), "writable": [str(tmp_path)],
        "readable": [], "tmpfs_mb": 64,
    }  # fmt: skip
    code = (
        "import os\n"
        "print(len([p for p in os.listdir('/proc') if p.isdigit()]), "
        "sum(':' in l for l in open('/proc/net/dev')))\n"
        "open('out', 'w').write('ok')\n"
        f"try:\n    open({str(ROOT / 'PLANTED')!r}, 'w')\nexcept OSError as e:\n"
        "    print('refused', e.errno)\n"
    )
    runner = (
        "import json, os, subprocess, sys\n"
        "config = json.loads(sys.argv[1]); config['parent_pid'] = os.getpid()\n"
        f"argv = [{str(SYSTEM_PYTHON)!r}, '-S', '-c', sys.argv[2]]\n"
        "subprocess.run([sys.executable, '-I', '-S', sys.argv[3], json.dumps(config), '--',"
        " *argv], check=True)\n"
    )
    bootstrap = str(Path(tools.sandbox.__file__).with_name("_child.py"))
    if not _world_readable(Path(bootstrap)):
        pytest.skip(f"this checkout is not readable by other users ({bootstrap})")
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON),
         "-c", runner, json.dumps(config), code, bootstrap],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    if "unshare" in done.stderr and "Operation not permitted" in done.stderr:
        pytest.skip("this kernel refuses user namespaces to unprivileged users")
    assert done.returncode == 0, done.stderr
    processes, interfaces = map(int, done.stdout.split()[:2])
    assert processes <= 3 and interfaces == 1  # own PID namespace; only its own loopback
    assert "refused 30" in done.stdout  # EROFS
    assert (tmp_path / "out").read_text() == "ok"
    assert not (ROOT / "PLANTED").exists()
