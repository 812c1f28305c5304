"""Bounded capture of a child's output: the parent never holds more than a few times the cap."""

from __future__ import annotations

__all__ = ["CappedBuffer"]

_HEAD_SHARE = 2 / 3  # tracebacks and summaries sit at the end, so the tail keeps a third


class CappedBuffer:
    """Keeps the first and last bytes of a stream, counts what falls in between.

    Example:
        >>> buf = CappedBuffer(max_chars=100)
        >>> buf.feed(b"x" * 1000)
        >>> text, cut = buf.text()
        >>> cut, len(text) < 200
        (True, True)
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._byte_cap = max_chars * 4  # UTF-8 needs at most four bytes a character
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0

    def feed(self, chunk: bytes) -> None:
        """Append a chunk, dropping the middle once both ends are full."""
        self.total_bytes += len(chunk)
        room = self._byte_cap - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > self._byte_cap:
                del self._tail[: len(self._tail) - self._byte_cap]

    def text(self) -> tuple[str, bool]:
        """The decoded output, cut to ``max_chars`` plus a note; and whether it was cut."""
        kept = len(self._head) + len(self._tail)
        head = self._head.decode("utf-8", "replace")
        tail = self._tail.decode("utf-8", "replace")
        if kept == self.total_bytes and len(head) + len(tail) <= self.max_chars:
            return head + tail, False
        if kept == self.total_bytes:
            head, tail = head + tail, head + tail
        keep_head = int(self.max_chars * _HEAD_SHARE)
        keep_tail = self.max_chars - keep_head
        note = (
            f"\n[... output truncated: {self.total_bytes} bytes in all, only the first "
            f"{keep_head} and last {keep_tail} characters are shown ...]\n"
        )
        return head[:keep_head] + note + tail[-keep_tail:], True
