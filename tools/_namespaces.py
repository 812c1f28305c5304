"""Linux namespace plumbing for the sandbox bootstrap (standard library and ``ctypes`` only).

Imported by ``tools/_child.py`` in a fresh ``python -I -S`` interpreter, never by the package.
What it builds, inside new mount, PID, network, IPC, UTS and cgroup namespaces:

- the whole mount tree read-only and ``nosuid`` (``mount_setattr`` with ``AT_RECURSIVE``),
  so the project's sources, ``/sys/fs/cgroup`` and every other file are out of reach even for
  uid 0;
- fresh ``tmpfs`` on ``/tmp``, ``/var/tmp``, ``/run`` and ``/dev`` (with only ``null``,
  ``zero``, ``full``, ``random``, ``urandom`` and a private ``/dev/shm``), hiding the host's
  sockets, devices and temporary files;
- the writable directories (workspace, scratch) bind-mounted back read-write, except a
  ``.git`` in them (git runs what its config and hooks name), and the paths the command needs
  (interpreter, scripts) bind-mounted back read-only where a mask hid them;
- a read-only ``/proc`` of the new PID namespace, so no host process is visible;
- a network namespace with only a loopback of its own (no route out, and the host's loopback
  is a different interface), unless the caller allowed network access.

When the bootstrap runs as non-root, a user namespace mapping the caller's uid to 0 comes
first, so the same steps work without privileges where the kernel allows user namespaces.
"""

from __future__ import annotations

import _socket  # not socket: that one costs milliseconds of imports per run
import ctypes
import fcntl
import os
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
_KEPT_FLAGS = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC | 1024 | 2048  # + NO(DIR)ATIME
_ST_RELATIME = 4096
_MOUNT_ATTR_RDONLY = 1
_MOUNT_ATTR_NOSUID = 2
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added in Linux 5.12)
_O_PATH = getattr(os, "O_PATH", 0o10000000)
_CAP_VERSION_3 = 0x20080522
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 1

MASKED = ("/tmp", "/var/tmp", "/run", "/dev")
_DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.unshare.argtypes = [ctypes.c_int]


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else os.fsencode(s)

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def unshare(flags: int) -> None:
    """``unshare(2)``; a user namespace maps the caller's uid and gid to 0 inside."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(flags), "unshare")
    if flags & CLONE_NEWUSER:
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"0 {uid} 1"),
            ("gid_map", f"0 {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w", encoding="ascii") as fh:
                fh.write(text)


def _open_path(path: str) -> int:
    return os.open(path, _O_PATH | os.O_CLOEXEC)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def build_filesystem(writable: list[str], readable: list[str], tmpfs_mb: int) -> None:
    """Make the mount tree described in the module docstring (needs ``CAP_SYS_ADMIN``).

    Args:
        writable: real paths of directories to keep writable.
        readable: real paths the command needs that a mask may hide (kept read-only).
        tmpfs_mb: size of each private ``tmpfs``.
    """
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # Descriptors first: once a mask covers them, these paths can only be reached this way.
    held = {path: _open_path(path) for path in [*writable, *readable] if os.path.exists(path)}
    held.update({f"/dev/{name}": _open_path(f"/dev/{name}") for name in _DEVICES})
    attr = _MountAttr(_MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID, 0, 0, 0)
    _check(
        _libc.syscall(
            ctypes.c_long(_SYS_MOUNT_SETATTR),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(b"/"),
            ctypes.c_uint(_AT_RECURSIVE),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        "mount_setattr /",
    )
    size = f"size={tmpfs_mb}m"
    for mask in MASKED:
        if os.path.isdir(mask) and not os.path.islink(mask):
            mode = "mode=0755" if mask in ("/dev", "/run") else "mode=1777"
            _mount(
                "tmpfs",
                mask,
                "tmpfs",
                _MS_NOSUID | (0 if mask == "/dev" else _MS_NODEV),
                f"{size},{mode}",
            )
    for name in _DEVICES:
        _bind(held[f"/dev/{name}"], f"/dev/{name}", writable=None)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"/dev/{name}")
    os.mkdir("/dev/shm", 0o1777)
    _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, f"{size},mode=1777")
    exposed: list[str] = []
    for path in writable:
        if path in held:
            _bind(held[path], path, writable=True)
            exposed.append(path)
    for path in writable:  # git obeys what its metadata says: hooks, fsmonitor
        metadata = os.path.join(path, ".git")
        if path in held and os.path.lexists(metadata) and not os.path.islink(metadata):
            fd = _open_path(metadata)
            _bind(fd, metadata, writable=False)
            os.close(fd)
    for path in readable:
        masked = any(_inside(path, m) for m in MASKED)
        if path in held and masked and not any(_inside(path, e) for e in exposed):
            _bind(held[path], path, writable=False)
            exposed.append(path)
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC | _MS_RDONLY)
    for fd in held.values():
        os.close(fd)


def _bind(fd: int, target: str, *, writable: bool | None) -> None:
    """Bind what ``fd`` names onto ``target`` (created when missing, e.g. inside a mask),
    then make it writable or read-only (``None``: keep the source mount's flags)."""
    if not os.path.lexists(target):
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    _mount(f"/proc/self/fd/{fd}", target, None, _MS_BIND)
    if writable is None:
        return
    # A remount must restate the flags the mount has (in a user namespace they are locked).
    current = os.statvfs(target).f_flag
    flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID | (current & _KEPT_FLAGS)
    flags |= _MS_RELATIME if current & _ST_RELATIME else 0
    flags = (flags & ~_MS_RDONLY) | _MS_NODEV if writable else flags | _MS_RDONLY
    _mount(None, target, None, flags)


def loopback_up() -> None:
    """Bring up the new network namespace's own ``lo`` (it starts down)."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets of this process (``capset``)."""
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
