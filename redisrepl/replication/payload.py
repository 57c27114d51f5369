"""The replica's reader of a full-sync payload. Sans-IO: no sockets, no
reactor, no logging; bytes in, events out.

Theory of operation. After ``+FULLRESYNC <replid> <offset>`` a master sends
(Redis 7.0 replication.c, readSyncBulkPayload on the replica):

1. any number of ``\\n`` keepalives (the master pings this way while its
   background save runs); a line is read as syncReadLine reads it: up to a
   newline, at most 1023 bytes, one trailing ``\\r`` dropped, and as a C
   string (a NUL ends it, so a line starting with NUL is a keepalive too);
2. one header line, either
   - ``$<len>``: disk-based sync, exactly ``len`` RDB bytes follow; or
   - ``$EOF:<mark>``: diskless sync, the RDB streamed, then the same
     40-byte ``mark``; the master does not know the length in advance;
   - or ``-<error>``: the master gave up (Redis logs "MASTER aborted
     replication with an error: ...");
3. after the payload: the replication stream, which is not ours to read.

``PayloadReceiver.feed(data)`` takes whatever the socket delivered (starting
with the bytes right after the ``+FULLRESYNC`` line) and returns a list of
events, in order:

- ``Started(size, mark)`` once the header is read: ``size`` for ``$<len>``
  (``mark`` None), ``mark`` for ``$EOF:`` (``size`` None);
- ``Chunk(data)``: RDB bytes, in order, never empty. In EOF mode no chunk
  ever holds a byte of the final mark: the last 39 bytes seen are held back
  until the next feed shows whether they begin the mark (39 are enough: 40
  bytes that were the mark would have been found). Nothing else is buffered,
  so a payload of any size streams in constant memory;
- ``Finished(rest)``: the payload is complete; ``rest`` is every byte the
  feed held after it (the start of the replication stream), untouched. The
  caller applies it after the load. Feeding a finished receiver is a bug
  (RuntimeError): later bytes belong to the stream.

A bad header raises ``PayloadError`` with the text a Redis replica logs; the
receiver is then dead (further feeds raise RuntimeError). Only the header
can be bad: the payload itself is opaque here, the RDB decoder judges it.
A wrong ``$EOF`` mark never matches, so the payload never finishes and the
caller's repl-timeout ends it, as in Redis (memory stays bounded: the
chunks keep flowing out).

The mark is looked for anywhere in the stream, not only at the end of a
read as Redis does (it compares the last 40 bytes of each read). A real
master sends nothing after the mark before the replica's first ACK
(repl_start_cmd_stream_on_ack), so both agree on what it sends; this one
also copes with a master whose stream follows the mark in the same read.

Counters for INFO (``progress()``) and the stats: ``read_bytes`` (payload
bytes read, the mark included: repl_transfer_read), ``rdb_bytes`` (RDB
bytes handed out in chunks), ``total_bytes`` (the announced length; None in
EOF mode or before the header), ``keepalives``, ``received_bytes`` (every
byte this receiver consumed, header and keepalives included; not ``rest``).
"""

import re
from enum import Enum
from typing import NamedTuple

# RDB_EOF_MARK_SIZE: the diskless framing's mark (the master's rdbpipe.py
# writes it, this module reads it).
EOF_MARK_SIZE = 40
# syncReadLine(fd, buf, 1024, ...) keeps at most 1023 bytes of a line.
MAX_LINE = 1023
# strtol's range: a longer announced size is nonsense.
MAX_SIZE = (1 << 63) - 1

_DIGITS = re.compile(rb"[0-9]+")


class Started(NamedTuple):
    """The header is read: ``size`` bytes follow (disk-based sync), or the
    RDB is streamed up to ``mark`` (diskless sync)."""

    size: int | None
    mark: bytes | None


class Chunk(NamedTuple):
    """RDB bytes, in order (never empty, never part of the EOF mark)."""

    data: bytes


class Finished(NamedTuple):
    """The payload is complete; ``rest`` is what followed it in the input
    (the replication stream), exactly as received."""

    rest: bytes


class PayloadError(Exception):
    """The master sent something that is not a payload header. ``message``
    is the line a Redis replica logs; ``master_error`` the master's own
    error text when it answered ``-...`` (else None)."""

    def __init__(self, message, master_error=None):
        super().__init__(message)
        self.message = message
        self.master_error = master_error


class SyncProgress(NamedTuple):
    """INFO's master_sync_total_bytes / read_bytes / left_bytes / perc, with
    Redis's values: total is -1 before the header and 0 in EOF mode."""

    total_bytes: int
    read_bytes: int
    left_bytes: int
    perc: float


class _State(Enum):
    # Reading lines: keepalives, then the header (repl_transfer_size == -1).
    HEADER = "header"
    # ``$<len>``: counting down the announced RDB bytes.
    SIZED = "sized"
    # ``$EOF:<mark>``: streaming RDB bytes until the mark shows up.
    MARKED = "marked"
    # Finished was returned; later bytes are the replication stream.
    DONE = "done"
    # PayloadError was raised; the link is to be dropped.
    FAILED = "failed"


def _text(data):
    """Bytes as a log shows them."""
    return data.decode("utf-8", "backslashreplace")


class PayloadReceiver:
    """One full-sync payload, read from what the socket delivers."""

    def __init__(self):
        self._state = _State.HEADER
        self._line = bytearray()       # a header line still waiting for its newline
        self._tail = b""               # EOF mode: held-back bytes that may start the mark
        self.mark = None
        self.total_bytes = None
        self.read_bytes = 0
        self.rdb_bytes = 0
        self.keepalives = 0
        self.received_bytes = 0

    # -- state ---------------------------------------------------------------------

    @property
    def started(self):
        """True once the header has been read."""
        return self._state in (_State.SIZED, _State.MARKED, _State.DONE)

    @property
    def finished(self):
        return self._state is _State.DONE

    def progress(self):
        """The master_sync_* numbers INFO shows (SyncProgress)."""
        if self.mark is not None:
            total = 0
        elif self.total_bytes is not None:
            total = self.total_bytes
        else:
            total = -1                      # the header is not read yet
        read = self.read_bytes
        perc = (read / total) * 100 if total else 0.0
        return SyncProgress(total, read, total - read, perc)

    # -- input ---------------------------------------------------------------------

    def feed(self, data):
        """Consume ``data`` (bytes-like); return the events it completes.
        Raises PayloadError on a bad header."""
        state = self._state
        if state is _State.DONE:
            raise RuntimeError("feed() after the payload finished: that is stream data")
        if state is _State.FAILED:
            raise RuntimeError("feed() after a PayloadError")
        if type(data) is not bytes:
            data = bytes(data)
        events = []
        pos = 0
        try:
            while self._state is _State.HEADER and pos < len(data):
                pos = self._read_line(data, pos, events)
        except PayloadError:
            self._state = _State.FAILED
            raise
        self.received_bytes += pos
        if self._state is _State.SIZED:
            self._read_sized(data, pos, events)
        elif self._state is _State.MARKED:
            self._read_marked(data, pos, events)
        return events

    def _read_line(self, data, pos, events):
        """Take one header line (or the part of it ``data`` holds) from
        ``pos``; return the position after what was taken."""
        room = MAX_LINE - len(self._line)
        newline = data.find(b"\n", pos, pos + room)
        if newline < 0:
            taken = data[pos:pos + room]
            self._line += taken
            end = pos + len(taken)
            if len(self._line) < MAX_LINE:
                return end                  # wait for the rest of the line
            line = bytes(self._line)        # cut at 1023 bytes, as syncReadLine does
        else:
            self._line += data[pos:newline]
            end = newline + 1
            line = bytes(self._line)
            if line.endswith(b"\r"):
                line = line[:-1]
        self._line.clear()
        self._header(line.split(b"\0", 1)[0], events)
        return end

    def _header(self, line, events):
        """What one complete line (as a C string) means."""
        if not line:
            # At this stage just a newline works as a PING (Redis's words).
            self.keepalives += 1
            return
        first = line[:1]
        if first == b"-":
            text = _text(line[1:])
            raise PayloadError(f"MASTER aborted replication with an error: {text}", text)
        if first != b"$":
            raise PayloadError(
                f"Bad protocol from MASTER, the first byte is not '$' (we received "
                f"'{_text(line)}'), are you sure the host and port are right?")
        if line[1:5] == b"EOF:" and len(line) - 5 >= EOF_MARK_SIZE:
            self.mark = line[5:5 + EOF_MARK_SIZE]
            self._state = _State.MARKED
            events.append(Started(None, self.mark))
            return
        length = line[1:]
        if not _DIGITS.fullmatch(length) or int(length) > MAX_SIZE:
            raise PayloadError(
                f"Bad protocol from MASTER, invalid bulk length (we received "
                f"'{_text(line)}'), are you sure the host and port are right?")
        self.total_bytes = int(length)
        self._state = _State.SIZED
        events.append(Started(self.total_bytes, None))

    def _read_sized(self, data, pos, events):
        left = self.total_bytes - self.read_bytes
        end = min(len(data), pos + left)
        if end > pos:
            events.append(Chunk(data[pos:end] if pos or end < len(data) else data))
            self.read_bytes += end - pos
            self.rdb_bytes += end - pos
        self.received_bytes += end - pos
        if self.read_bytes == self.total_bytes:
            self._finish(data[end:], events)

    def _read_marked(self, data, pos, events):
        tail = self._tail
        window = tail + data[pos:] if pos else tail + data
        found = window.find(self.mark)
        if found >= 0:
            end = found + EOF_MARK_SIZE
            if found:
                events.append(Chunk(window[:found]))
                self.rdb_bytes += found
            used = end - len(tail)          # bytes of ``data`` from ``pos``
            self.read_bytes += used
            self.received_bytes += used
            self._tail = b""
            self._finish(window[end:], events)
            return
        keep = min(len(window), EOF_MARK_SIZE - 1)
        cut = len(window) - keep
        if cut:
            events.append(Chunk(window[:cut]))
            self.rdb_bytes += cut
        self._tail = window[cut:]
        self.read_bytes += len(data) - pos
        self.received_bytes += len(data) - pos

    def _finish(self, rest, events):
        self._state = _State.DONE
        events.append(Finished(rest))
