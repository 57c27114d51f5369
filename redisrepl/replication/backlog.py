"""The replication backlog: the last ``size`` bytes of the replication
stream, so a replica that lost its link can resume from where it was
(PSYNC ... +CONTINUE). Sans-IO.

Offsets are stream offsets as Redis counts them: the stream's first byte
is offset 1, and ``master_repl_offset`` is the offset of the last byte
written. The backlog holds the bytes from ``first_byte_offset`` to
``master_repl_offset`` inclusive (``histlen`` of them).

A bytearray trimmed from the front: CPython deletes a bytearray's prefix
by moving its start pointer, so appending and trimming are amortised O(n)
in the bytes written, like Redis's ring buffer.
"""


class Backlog:
    def __init__(self, size, master_repl_offset):
        self.size = size
        self._data = bytearray()
        # The offset the next byte will have, minus the bytes kept.
        self.first_byte_offset = master_repl_offset + 1

    @property
    def histlen(self):
        return len(self._data)

    def append(self, data):
        buf = self._data
        buf += data
        excess = len(buf) - self.size
        if excess > 0:
            del buf[:excess]
            self.first_byte_offset += excess

    def covers(self, offset):
        """True if a replica that has everything before ``offset`` (PSYNC's
        offset: the first byte it wants) can be served from here."""
        return self.first_byte_offset <= offset <= self.first_byte_offset + len(self._data)

    def read_from(self, offset):
        """The bytes from stream offset ``offset`` to the end (``covers``
        must hold)."""
        return bytes(self._data[offset - self.first_byte_offset:])

    def resize(self, size):
        """CONFIG SET repl-backlog-size: keep the newest bytes that fit."""
        self.size = size
        excess = len(self._data) - size
        if excess > 0:
            del self._data[:excess]
            self.first_byte_offset += excess
