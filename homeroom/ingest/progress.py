"""How far reading the input files has got, in bytes, for a progress display.

The readers take an optional `ReadProgress`: they open the files they stream through
`open_counted`, whose reads are counted as they happen, and read each file inside
`file(path)`, which counts what of the file was not read that way when it ends (a file
skipped, stopped early, or read whole by a library). So the count ends each file at its
size and the whole read at the files' total, and never goes past it.
"""

import contextlib
import io
from collections.abc import Buffer, Callable, Iterator
from pathlib import Path


class ReadProgress:
    """Bytes of the input files read so far, passed to `advance` as they are read."""

    def __init__(self, advance: Callable[[int], None] | None = None) -> None:
        self._advance = advance
        self._left = 0  # bytes of the file being read not counted yet

    @contextlib.contextmanager
    def file(self, path: Path) -> Iterator[None]:
        """Read one file inside: on leaving, what of it was not counted counts as read."""
        try:
            self._left = path.stat().st_size if path.is_file() else 0
        except OSError:  # the reader reports an unreadable file; there is nothing to count
            self._left = 0
        try:
            yield
        finally:
            self.count(self._left)
            self._left = 0

    def count(self, size: int) -> None:
        """Count `size` bytes of the current file as read (never more than it holds)."""
        size = min(size, self._left)
        if size > 0 and self._advance is not None:
            self._left -= size
            self._advance(size)

    def open_counted(self, path: Path) -> io.BufferedReader:
        """The file opened for binary reading, its reads counted (plain when nobody watches)."""
        if self._advance is None:
            return path.open("rb")
        return io.BufferedReader(CountingReader(io.FileIO(path, "r"), self.count))


class CountingReader(io.RawIOBase):
    """A raw binary stream that tells `on_read` how many bytes each read returned."""

    def __init__(self, raw: io.RawIOBase, on_read: Callable[[int], None]) -> None:
        super().__init__()
        self._raw, self._on_read = raw, on_read

    def readable(self) -> bool:
        """Always: the stream is for reading."""
        return True

    def readinto(self, buffer: Buffer) -> int | None:
        """Read into `buffer` from the underlying stream, counting what came."""
        size = self._raw.readinto(buffer)
        if size:
            self._on_read(size)
        return size

    def close(self) -> None:
        """Close the underlying stream too."""
        try:
            self._raw.close()
        finally:
            super().close()
