"""Reading a text file for a model with bounded memory, whatever the file holds.

The file is read in chunks; a line keeps at most ``max_line_chars`` characters (a 200 MB
line costs a few kilobytes), the output stops at ``max_chars``, every chunk read is checked
for NUL bytes (not only the first 8 KB), and lines are counted over at most
:data:`MAX_SCAN_BYTES` so a sparse multi-gigabyte file costs bounded time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from orchestrator.exceptions import ToolError

__all__ = ["MAX_SCAN_BYTES", "Excerpt", "read_lines"]

MAX_SCAN_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 16


@dataclass
class Excerpt:
    """Lines ``first..`` of a file, rendered ``<number>\\t<text>``.

    Attributes:
        lines: the rendered lines shown.
        total: lines in the file (at least this many when ``complete`` is false).
        complete: the whole file was scanned.
        cut_at: first wanted line left out for the output cap, if any.
        size: the file's size in bytes.
    """

    lines: list[str] = field(default_factory=list)
    total: int = 0
    complete: bool = True
    cut_at: int | None = None
    size: int = 0


def read_lines(
    fd: int,
    first: int,
    last: int | None,
    *,
    display: str,
    max_chars: int,
    max_line_chars: int,
    tool: str,
) -> Excerpt:
    """Read lines ``first..last`` (1-based, inclusive) of the open file ``fd``.

    Raises:
        ToolError: the file holds a NUL byte in the part read (a binary file).
    """
    found = Excerpt(size=os.fstat(fd).st_size)
    line_cap = max(1, min(max_line_chars, max_chars))
    state = _Line(line_cap * 4)  # UTF-8 needs at most four bytes a character
    used = 0
    scanned = 0
    collecting = True

    def finish() -> None:
        nonlocal used, collecting
        found.total += 1
        number = found.total
        if collecting and number >= first and (last is None or number <= last):
            text = state.render(number, line_cap)
            if used + len(text) + 1 > max_chars and found.lines:
                found.cut_at = number
                collecting = False
            else:
                found.lines.append(text)
                used += len(text) + 1
        elif last is not None and number > last:
            collecting = False
        state.reset()

    while True:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            break
        if b"\x00" in chunk:
            offset = scanned + chunk.index(b"\x00")
            raise ToolError(f"{display} is a binary file (NUL byte at offset {offset})", tool=tool)
        scanned += len(chunk)
        if collecting:
            pieces = chunk.split(b"\n")
            for piece in pieces[:-1]:
                state.feed(piece)
                finish()
            state.feed(pieces[-1])
        else:
            found.total += chunk.count(b"\n")
            newline = chunk.rfind(b"\n")
            state.length = len(chunk) - newline - 1 if newline >= 0 else state.length + len(chunk)
        if scanned >= MAX_SCAN_BYTES:
            found.complete = found.size <= scanned and not os.read(fd, 1)
            state.partial = not found.complete
            break
    if state.length:
        if collecting:
            finish()
        else:
            found.total += 1
    return found


class _Line:
    """The line being read: its first bytes (up to a cap) and its full length."""

    def __init__(self, byte_cap: int) -> None:
        self.byte_cap = byte_cap
        self.head = bytearray()
        self.length = 0
        self.partial = False  # the scan stopped inside this line

    def feed(self, piece: bytes) -> None:
        room = self.byte_cap - len(self.head)
        if room > 0:
            self.head += piece[:room]
        self.length += len(piece)

    def reset(self) -> None:
        self.head.clear()
        self.length = 0

    def render(self, number: int, cap: int) -> str:
        text = self.head.decode("utf-8", "replace").rstrip("\r")
        if self.length > len(self.head) or len(text) > cap:
            length = f"at least {self.length}" if self.partial else f"{self.length}"
            text = (
                f"{text[:cap]} [... line cut: {length} bytes long, only the first "
                f"{cap} characters shown]"
            )
        return f"{number}\t{text}"
