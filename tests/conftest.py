"""Suite-wide guards: no test reaches the network beyond loopback, and no test reads the
``shared/`` folder some development machines keep beside the repository (users do not have
it: tests use the fixtures under ``tests/fixtures/``)."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
OUTSIDE = (Path(__file__).resolve().parents[1].parent / "shared").as_posix()
"""A folder beside the repository that no test may read."""


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # unix sockets and the like are local
    host = address[0]
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConnectionRefusedError(f"tests may not use the network: connect to {address!r}")


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _refuse_network() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _connect)
        patch.setattr(socket.socket, "connect_ex", _connect_ex)
        yield


def outside_repository(path: object) -> bool:
    """Whether ``path`` (as given to ``open`` or ``os.listdir``) lies in the forbidden folder."""
    if isinstance(path, int) or path is None:
        return False
    try:
        text = os.path.abspath(os.fsdecode(path))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return text == OUTSIDE or text.startswith(OUTSIDE + os.sep)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in ("open", "os.listdir", "os.scandir") and args and outside_repository(args[0]):
        raise PermissionError(
            f"tests may not read outside the repository: {args[0]!r} (use tests/fixtures/)"
        )


sys.addaudithook(_audit)  # audit hooks cannot be removed; it stays for the whole session
