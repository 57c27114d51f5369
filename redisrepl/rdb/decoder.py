"""The streaming RDB decoder: bytes in, records out. Sans-IO.

Theory of operation: ``feed(chunk)`` appends to a buffer and decodes as
many whole records (an aux field, a SELECTDB, a key with its value...) as
the buffer holds, returning them as events. A record cut by the end of the
buffer raises ``Incomplete`` inside; the decoder rewinds to the record's
start and waits. So that a record bigger than one chunk is not re-parsed
for every chunk (quadratic time), it then waits until the buffered bytes
have doubled before trying again; ``close()`` makes the last attempt on
whatever is left, so it returns events too. Bytes already decoded are
dropped (after they are run through the CRC), so memory holds one record,
not the file.

A bad record raises ``RdbError`` naming its offset in the input. The
caller decides what a partial load means; the server never keeps one.
"""

from typing import NamedTuple

from redisrepl.rdb import constants as C
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.errors import Incomplete, RdbError, Truncated
from redisrepl.rdb.primitives import Cursor
from redisrepl.rdb.values import DEFAULT_LIMITS, decode_value


class Aux(NamedTuple):
    name: bytes
    value: bytes


class SelectDb(NamedTuple):
    db: int


class ResizeDb(NamedTuple):
    db_size: int
    expires_size: int


_new_tuple = tuple.__new__


class Entry(NamedTuple):
    """A key. ``value`` is None for an empty collection (to be skipped);
    ``expire_ms`` is absolute, or None; ``idle`` (seconds) and ``freq``
    are the LRU/LFU hints, or None."""

    db: int
    key: bytes
    value: object
    expire_ms: object
    idle: object
    freq: object


class Function(NamedTuple):
    code: bytes


class End(NamedTuple):
    """The EOF opcode and the checksum (0 when the writer skipped it)."""

    checksum: int


_HEADER, _BODY, _CHECKSUM, _DONE = range(4)


class RdbDecoder:
    def __init__(self, limits=None, verify_checksum=True):
        self.limits = limits or DEFAULT_LIMITS
        self.verify_checksum = verify_checksum
        self.version = None
        self.db = 0
        self._state = _HEADER
        self._chunks = []           # unparsed input, joined when retrying
        self._buffered = 0
        self._retry_at = 0
        self._base = 0              # offset of the buffer's first byte
        self._crc = 0               # CRC of everything before the buffer
        self._expire = None
        self._idle = None
        self._freq = None
        self.trailing = b""         # bytes after the checksum, if any

    @property
    def done(self):
        return self._state == _DONE

    def offset(self):
        """Bytes of input consumed so far (decoded records)."""
        return self._base

    def feed(self, data):
        """Decode what ``data`` completes; return the events, in order."""
        if self._state == _DONE:
            self.trailing += bytes(data)
            return []
        if not data:
            return []
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered < self._retry_at:
            return []
        return self._parse()

    def _parse(self):
        # Always bytes: keys and values must be hashable and immutable,
        # whatever buffer type the caller feeds.
        buf = bytes(self._chunks[0]) if len(self._chunks) == 1 else \
            b"".join(self._chunks)
        cur = Cursor(buf, 0, self._base)
        events = []
        mark = 0
        try:
            while self._state != _DONE:
                self._step(cur, events)
                mark = cur.pos
        except Incomplete:
            self._retry_at = 2 * (len(buf) - mark)
        else:
            self._retry_at = 0
        if mark:
            if self._state not in (_CHECKSUM, _DONE):
                self._crc = crc64(memoryview(buf)[:mark], self._crc)
            self._base += mark
            rest = buf[mark:]
            if self._state == _DONE:
                self.trailing = bytes(rest)
                rest = b""
        else:
            rest = buf
        self._chunks = [rest] if rest else []
        self._buffered = len(rest)
        return events

    def close(self):
        """The input has ended: return the events still held back (a record
        that arrived in pieces waits for ``close()`` or enough further
        input), and raise unless the whole file was read."""
        events = self._parse() if self._chunks and self._state != _DONE else []
        if self._state != _DONE:
            raise Truncated("Unexpected end of file: the RDB is truncated",
                           self._base + self._buffered)
        return events

    # -- one record -------------------------------------------------------------

    def _step(self, cur, events):
        if self._state == _HEADER:
            self._header(cur)
        elif self._state == _BODY:
            self._record(cur, events)
        else:
            self._checksum(cur, events)

    def _header(self, cur):
        head = cur.take(9)
        if head[:5] != C.MAGIC:
            raise RdbError("Wrong signature trying to load DB from file", 0)
        digits = head[5:]
        if not digits.isdigit():
            raise RdbError("Wrong signature trying to load DB from file", 0)
        version = int(digits)
        if version < 1 or version > C.RDB_VERSION:
            raise RdbError(f"Can't handle RDB format version {version}", 5)
        self.version = version
        self._state = _BODY

    def _record(self, cur, events):
        start = cur.pos
        op = cur.byte()
        if op in C.VALUE_TYPES:
            key = cur.string()
            value = decode_value(op, cur, self.limits)
            # tuple.__new__: a NamedTuple's own constructor is a Python
            # function, a measurable share of a 1M-key load.
            events.append(_new_tuple(Entry, (self.db, key, value, self._expire,
                                             self._idle, self._freq)))
            self._expire = self._idle = self._freq = None
        elif op == C.OPCODE_EXPIRETIME_MS:
            self._expire = cur.i64_le()
        elif op == C.OPCODE_EXPIRETIME:
            self._expire = cur.i32_le() * 1000
        elif op == C.OPCODE_SELECTDB:
            self.db = cur.length()
            events.append(SelectDb(self.db))
        elif op == C.OPCODE_RESIZEDB:
            events.append(ResizeDb(cur.length(), cur.length()))
        elif op == C.OPCODE_AUX:
            events.append(Aux(cur.string(), cur.string()))
        elif op == C.OPCODE_IDLE:
            self._idle = cur.length()
        elif op == C.OPCODE_FREQ:
            self._freq = cur.byte()
        elif op == C.OPCODE_FUNCTION2:
            events.append(Function(cur.string()))
        elif op == C.OPCODE_FUNCTION_PRE_GA:
            cur.pos = start
            raise cur.error("Pre-release function format not supported")
        elif op == C.OPCODE_MODULE_AUX:
            module_id = cur.length()
            raise RdbError(
                f"The RDB file contains AUX module data I can't load: no "
                f"matching module '{C.module_name(module_id)}'",
                cur.base + start)
        elif op == C.OPCODE_EOF:
            if self.version >= 5:
                self._crc = crc64(memoryview(cur.data)[:cur.pos], self._crc)
                self._state = _CHECKSUM
            else:
                self._state = _DONE
                events.append(End(0))
        else:
            cur.pos = start
            raise cur.error(f"Unknown RDB encoding type {op}")

    def _checksum(self, cur, events):
        start = cur.offset()
        expected = cur.u64_le()
        if expected and self.verify_checksum and expected != self._crc:
            raise RdbError("Wrong RDB checksum. Aborting now.", start)
        self._state = _DONE
        events.append(End(expected))
